"""The patient's pages: Today, Checklist, Plan, Diary, Photos."""

from app.patient import export as _export  # noqa: F401 - "Download my data" (issue 20)
from app.patient import outcomes as _outcomes  # noqa: F401 - rating a session (issue 19)
from app.patient import photos as _photos  # noqa: F401 - registers the photo routes on bp
from app.patient.routes import bp

__all__ = ["bp"]
