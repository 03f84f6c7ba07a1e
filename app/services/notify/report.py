"""What one dispatch pass did (``DispatchReport``), and the clock type it runs on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

Clock = Callable[[], datetime]


@dataclass
class DispatchReport:
    """What one pass did, for logs, the CLI and tests."""

    claimed: int = 0
    sent: int = 0
    no_device: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    later: int = 0
    lost: int = 0
    deliveries: int = 0
    gone_subscriptions: int = 0
    digested: int = 0  # patient reminders folded into the day's email digest
    merged: int = 0  # due at the same instant as one sent of its kind: sent with it
    emails: int = 0  # messages handed to the SMTP server (sent, refused or not)
    smtp_connections: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, other: DispatchReport) -> None:
        for name in (
            "claimed",
            "sent",
            "no_device",
            "retried",
            "failed",
            "dropped",
            "later",
            "lost",
            "deliveries",
            "gone_subscriptions",
            "digested",
            "merged",
            "emails",
            "smtp_connections",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, n in other.statuses.items():
            self.statuses[key] = self.statuses.get(key, 0) + n
