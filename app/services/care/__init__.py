"""Care: a patient's course of sessions, and the Today, Checklist and Plan pages built from it.

* ``course``: the patient's sessions (recovering from, next booked) and their protocols.
* ``recovery``: the Today, Checklist and Plan pages, and ticking things off.
* ``messages``: the clinic's comments and acknowledgements not seen yet (Today's card),
  and recording that the patient has seen them.
* ``followup``: each patient's follow-up state, read by the clinician dashboard.
"""
