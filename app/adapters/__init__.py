"""I/O adapters behind small interfaces: the push transport, photo storage and imaging.

Services call these; nothing here imports a service or a model.
"""
