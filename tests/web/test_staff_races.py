"""Two clinic admins acting on each other at the same moment (issue 17 point 2): the
clinic must keep at least one active admin whatever the interleaving.

Real concurrency as in test_concurrent_edits.py: each admin is their own test client in
their own thread, released together by a barrier, against the suite's database (SQLite
file, or PostgreSQL with TEST_DATABASE_URL). Without the clinic's write lock both
demotions can pass the "another admin remains" check and the clinic is left with none.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import Role
from app.models import User
from tests.conftest import login
from tests.conftest import make_staff

BOUND_S = 60
ROUNDS = 4


def _active_admins(in_app, clinic_id: int) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count(User.id)).where(
                User.clinic_id == clinic_id,
                User.role == Role.CLINIC_ADMIN,
                User.is_active.is_(True),
            )
        )
    )


def _at_once(work) -> list[int]:  # noqa: ANN001
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            statuses.append(work(i))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND_S)
    assert not any(t.is_alive() for t in threads), "still busy"
    assert not failures, failures
    return statuses


def _reset(in_app, ids: list[int]) -> None:
    def run():
        for user_id in ids:
            user = db.session.get(User, user_id)
            user.role, user.is_active = Role.CLINIC_ADMIN, True
        db.session.commit()

    in_app(run)


@pytest.mark.parametrize("action", ["role", "deactivate"])
def test_two_admins_removing_each_other_leave_one(app, world, in_app, action):
    clinic = lambda: db.session.get(Clinic, world.clinic1)  # noqa: E731
    ids = [
        in_app(lambda: make_staff(clinic(), "a1@north.example", Role.CLINIC_ADMIN).id),
        in_app(lambda: make_staff(clinic(), "a2@north.example", Role.CLINIC_ADMIN).id),
    ]
    for _ in range(ROUNDS):
        _reset(in_app, ids)
        # Fresh sign-ins each round: a deactivated admin's sessions were revoked.
        clients = []
        for email in ("a1@north.example", "a2@north.example"):
            client = app.test_client()
            assert login(client, email).status_code == 302
            clients.append(client)

        def work(i: int, clients=clients) -> int:
            other = ids[1 - i]
            url = f"/clinic/staff/{other}/{action}"
            return clients[i].post(url, data={"role": "clinician"}).status_code

        statuses = _at_once(work)
        assert all(s < 500 for s in statuses), statuses
        # One went through (303); the other was refused: the last admin (400), or no
        # longer an admin or signed in by the time it was read (404, 302 to sign in).
        assert statuses.count(303) == 1, statuses
        assert _active_admins(in_app, world.clinic1) == 1
