"""What a patient sees: the pre-treatment checklist, "Today" after treatment, the plan.

Only a face: every name is defined in the module that says what it holds (``windows``,
``checklist``, ``today_view``, ``today``, ``phrases``, ``resolved_plan``, ``timeline``,
``stockings``);
importing them from here keeps working.
"""

from app.domain.recovery.checklist import ChecklistEntry as ChecklistEntry
from app.domain.recovery.checklist import ChecklistView as ChecklistView
from app.domain.recovery.checklist import ItemState as ItemState
from app.domain.recovery.checklist import build_checklist as build_checklist
from app.domain.recovery.phrases import milestone_heading as milestone_heading
from app.domain.recovery.phrases import timing as timing
from app.domain.recovery.resolved_plan import ResolvedPlan as ResolvedPlan
from app.domain.recovery.resolved_plan import next_session_window as next_session_window
from app.domain.recovery.resolved_plan import resolve_plan as resolve_plan
from app.domain.recovery.stockings import has_stockings as has_stockings
from app.domain.recovery.stockings import stockings_on as stockings_on
from app.domain.recovery.stockings import stockings_until as stockings_until
from app.domain.recovery.timeline import PlanEvent as PlanEvent
from app.domain.recovery.timeline import PlanView as PlanView
from app.domain.recovery.timeline import build_plan as build_plan
from app.domain.recovery.today import FOLLOW_UP_DAYS as FOLLOW_UP_DAYS
from app.domain.recovery.today import LOOKAHEAD as LOOKAHEAD
from app.domain.recovery.today import build_today as build_today
from app.domain.recovery.today_view import NoteToday as NoteToday
from app.domain.recovery.today_view import RestrictionToday as RestrictionToday
from app.domain.recovery.today_view import TaskToday as TaskToday
from app.domain.recovery.today_view import TimeState as TimeState
from app.domain.recovery.today_view import TodayView as TodayView
from app.domain.recovery.windows import Window as Window
from app.domain.recovery.windows import window as window
