"""Notifications: what goes into the outbox, how dispatchers send it, and patients' devices."""
