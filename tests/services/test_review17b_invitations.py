"""Review of sign-in links (issue 17 point 6): two tabs (or two phones) accepting one
link at the same moment, each with its own database connection: exactly one sets the
password and is signed in, the other is told the link was used."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from app.extensions import db
from app.models import AuthSession
from app.models import User
from app.security import verify_password
from app.services import accounts
from app.services.errors import InvitationUnusable
from tests.conftest import NOW


def test_two_tabs_accepting_one_link_at_once(app, world, in_app):
    def invite() -> str:
        user = db.session.scalar(sa.select(User).where(User.email == "bob@patients.example"))
        token = accounts.issue_invitation(user, None, NOW)
        db.session.commit()
        return token

    token = in_app(invite)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept(password: str) -> None:
        with app.app_context():
            barrier.wait()
            try:
                accounts.accept_invitation(token, password, password, NOW)
            except InvitationUnusable as exc:
                outcomes.append(f"refused: {exc.reason}")
            else:
                outcomes.append(f"signed in: {password}")
            finally:
                db.session.remove()

    words = ("first tab passphrase 1", "second tab passphrase 2")
    threads = [threading.Thread(target=accept, args=(w,)) for w in words]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 2 and "refused: used" in outcomes, outcomes
    winner = next(o for o in outcomes if o.startswith("signed in")).removeprefix("signed in: ")

    def sessions() -> int:
        return db.session.scalar(
            sa.select(sa.func.count(AuthSession.id))
            .join(User)
            .where(User.email == "bob@patients.example", AuthSession.revoked_at.is_(None))
        )

    assert in_app(sessions) == 1
    # The password that was set is the winner's.
    stored = in_app(
        lambda: db.session.scalar(
            sa.select(User.password_hash).where(User.email == "bob@patients.example")
        )
    )
    assert in_app(verify_password, stored, winner)
