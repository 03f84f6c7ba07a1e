"""The patient's pages: Today, Checklist, Plan, Diary, Photos, and the calendar."""

from app.patient import calendar as _calendar  # noqa: F401 - the calendar (issue 20)
from app.patient import closure as _closure  # noqa: F401 - closing the account (issue 20)
from app.patient import export as _export  # noqa: F401 - "Download my data" (issue 20)
from app.patient import outcomes as _outcomes  # noqa: F401 - rating a session (issue 19)
from app.patient import photos as _photos  # noqa: F401 - registers the photo routes on bp
from app.patient.routes import bp

__all__ = ["bp"]
