"""A clinic's aftercare protocol: the data model and its validating TOML reader.

Only a face: every name is defined in the module that says what it holds (``model``,
``requirements``, ``problems``, ``reader``, ``parse``, ``legacy``); importing them from
here keeps working.
"""

from app.domain.protocol.legacy import LEGACY_CHECKIN as LEGACY_CHECKIN
from app.domain.protocol.model import DOERS as DOERS
from app.domain.protocol.model import TIERS as TIERS
from app.domain.protocol.model import AnswerRule as AnswerRule
from app.domain.protocol.model import ChecklistItem as ChecklistItem
from app.domain.protocol.model import Course as Course
from app.domain.protocol.model import DailyTask as DailyTask
from app.domain.protocol.model import Doer as Doer
from app.domain.protocol.model import Milestone as Milestone
from app.domain.protocol.model import NormalNote as NormalNote
from app.domain.protocol.model import Protocol as Protocol
from app.domain.protocol.model import Question as Question
from app.domain.protocol.model import RedFlag as RedFlag
from app.domain.protocol.model import Restriction as Restriction
from app.domain.protocol.model import Tier as Tier
from app.domain.protocol.parse import parse_protocol as parse_protocol
from app.domain.protocol.problems import Problem as Problem
from app.domain.protocol.problems import ProtocolError as ProtocolError
from app.domain.protocol.reader import MAX_TEXT as MAX_TEXT
from app.domain.protocol.reader import OPEN_VALUE as OPEN_VALUE
from app.domain.protocol.requirements import BRUISING_CHOICES as BRUISING_CHOICES
from app.domain.protocol.requirements import KINDS as KINDS
from app.domain.protocol.requirements import QUESTIONS as QUESTIONS
from app.domain.protocol.requirements import REQUIRED_FLAGS as REQUIRED_FLAGS
from app.domain.protocol.requirements import REQUIRED_QUESTIONS as REQUIRED_QUESTIONS
from app.domain.protocol.requirements import SKIN_CHOICES as SKIN_CHOICES
from app.domain.protocol.requirements import RequiredFlag as RequiredFlag
