"""Care: a patient's course of sessions, and the Today, Checklist and Plan pages built from it."""
