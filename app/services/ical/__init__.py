"""The patient's calendar (issue 20 point 3): an .ics download and a private
subscription link.

* ``links``: the subscription link: make a new one (the old one stops), stop it, find
  the patient behind a link (404 for an unknown, stopped, discharged or closed one).
* ``feed``: the course's events with their revisions (stored when they change), as an
  iCalendar file, for the signed-in patient or for a link.
* ``render``: the events as iCalendar text (``icalendar``), times in the patient's zone.
"""

from app.services.ical.feed import calendar_for_link
from app.services.ical.feed import calendar_for_patient
from app.services.ical.links import CalendarStatus
from app.services.ical.links import calendar_status
from app.services.ical.links import is_current_link
from app.services.ical.links import new_link
from app.services.ical.links import patient_for_token
from app.services.ical.links import stop_link

__all__ = [
    "CalendarStatus",
    "calendar_for_link",
    "calendar_for_patient",
    "calendar_status",
    "is_current_link",
    "new_link",
    "patient_for_token",
    "stop_link",
]
