"""Exports of a patient's record (issue 20): ``fhir`` builds the FHIR R4 Bundle
(``patient_bundle``, and ``clinic_bundle`` for the clinic's download and the
``$everything`` endpoint); ``fhir_resources`` and ``fhir_events`` map rows to resources.
"""
