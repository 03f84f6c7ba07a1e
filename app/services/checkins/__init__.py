"""Patient use-cases for the diary: the daily check-in with triage, and reading the diary.

Only a face: each name lives in the module that says what it holds, and importing it
from here keeps working (``checkins.submit_checkin(...)``):

- ``form``: the check-in form (``CheckInForm``, ``checkin_form``, ``LATE_DAYS``);
- ``submit``: sending a check-in (``submit_checkin``, ``AttachedPhoto``, ``AnswersRefused``);
- ``alerts``: the clinic's alert raised (or raised higher) by a check-in;
- ``history``: the patient's own diary page (``diary``, ``DiaryView``, ``Viewer``, and
  ``diary_page``/``DiaryPage``, which add the latest photos).
"""

from app.services.checkins.alerts import SEVERITY as SEVERITY
from app.services.checkins.form import LATE_DAYS as LATE_DAYS
from app.services.checkins.form import CheckInForm as CheckInForm
from app.services.checkins.form import checkin_form as checkin_form
from app.services.checkins.history import DiaryPage as DiaryPage
from app.services.checkins.history import DiaryView as DiaryView
from app.services.checkins.history import Viewer as Viewer
from app.services.checkins.history import diary as diary
from app.services.checkins.history import diary_page as diary_page
from app.services.checkins.submit import AnswersRefused as AnswersRefused
from app.services.checkins.submit import AttachedPhoto as AttachedPhoto
from app.services.checkins.submit import CheckInResult as CheckInResult
from app.services.checkins.submit import submit_checkin as submit_checkin
