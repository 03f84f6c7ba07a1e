"""Every write by staff is on the audit trail (issue 18 point 1).

The list of routes comes from ``app.url_map``: every POST rule of the clinician
blueprint (and of any admin blueprint) must have a recipe here, a request that succeeds
as a clinician or admin of clinic 1 on the world's objects. Each recipe is run: the
route must answer 200/302/303, the change must have happened (so a recipe cannot pass
by failing), and the audit table must have gained a row by that member of staff whose
action (and, for the generic "change", its detail) names the operation. A new POST
route with no recipe fails ``test_every_staff_post_route_has_a_recipe``, so a new
route cannot forget its audit event.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AccountClosure
from app.models import Alert
from app.models import AuditEvent
from app.models import AuthSession
from app.models import CheckIn
from app.models import ClearanceScore
from app.models import Clinic
from app.models import Comment
from app.models import Invitation
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import Photo
from app.models import ProtocolVersion
from app.models import PushSubscription
from app.models import Role
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.services import protocols
from tests.conftest import NOW
from tests.conftest import PROTOCOL_DIR
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import version_id
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web.test_checkin import form as checkin_form
from tests.web.test_clinic_settings import settings_form
from tests.web.test_free_text import KEYS
from tests.web.test_outcomes import old_session_with_photos
from tests.web.test_patient_edit import details

ADMIN = "admin@north.example"
CLINICIAN = "doc1@north.example"
# The blueprints whose POST routes are staff writes.
STAFF_BLUEPRINTS = ("clinician", "admin")
PUSH = "https://fcm.googleapis.com/fcm/send/audit-every-write-"


@dataclass
class Ctx:
    """What a recipe works with: the app, the world's ids, signed-in clients, and
    whatever its ``setup`` found (``found``)."""

    app: object
    world: object
    in_app: Callable
    clients: dict = field(default_factory=dict)
    found: dict = field(default_factory=dict)

    def staff(self, who: str):  # noqa: ANN201 - a test client
        """The signed-in client of clinic 1's clinician or admin."""
        if who not in self.clients:
            client = self.app.test_client()
            assert login(client, ADMIN if who == "admin" else CLINICIAN).status_code == 302
            self.clients[who] = client
        return self.clients[who]

    def patient(self, email: str = "alice@patients.example"):  # noqa: ANN201
        client = self.app.test_client()
        assert login(client, email).status_code == 302
        return client

    def one(self, query):  # noqa: ANN001, ANN201 - a SQL select of one value
        return self.in_app(lambda: db.session.scalar(query))


@dataclass(frozen=True)
class Recipe:
    """A successful request to one route, and how to tell it did its work."""

    who: str  # "clinician" or "admin" of clinic 1
    path: Callable[[Ctx], str]
    post: Callable[[object, str, Ctx], object]  # (client, path, ctx) -> response
    changed: Callable[[Ctx], bool]
    # Matched against "action: detail" of the actor's new audit rows.
    names: str
    setup: Callable[[Ctx], None] | None = None


def _form(data: dict | Callable[[Ctx], dict]) -> Callable:
    return lambda client, path, ctx: client.post(path, data=data(ctx) if callable(data) else data)


def _json(data: dict | Callable[[Ctx], dict]) -> Callable:
    return lambda client, path, ctx: client.post(path, json=data(ctx) if callable(data) else data)


# ------------------------------------------------------------------ setups


def _checkin(ctx: Ctx, yes: tuple[str, ...] = ()) -> None:
    r = ctx.patient().post("/patient/checkin", data=checkin_form(yes=set(yes)))
    assert r.status_code in (200, 302, 303), r.status_code
    ctx.found["checkin"] = ctx.one(sa.select(CheckIn.id).order_by(CheckIn.id.desc()))
    ctx.found["alert"] = ctx.one(sa.select(Alert.id).order_by(Alert.id.desc()))


def _alert(ctx: Ctx) -> None:
    _checkin(ctx, yes=("calf-pain-swelling",))
    assert ctx.found["alert"] is not None, "the check-in raised no alert"


def _photo(ctx: Ctx) -> None:
    assert upload(ctx.patient(), phone_jpeg((400, 300))).status_code == 303
    ctx.found["photo"] = ctx.one(sa.select(Photo.id).order_by(Photo.id.desc()))
    ctx.found["taken_on"] = ctx.one(sa.select(Photo.taken_on).order_by(Photo.id.desc()))


def _b_session(ctx: Ctx) -> None:
    """Patient B's booked session (tomorrow 10:00, London)."""
    ctx.found["session"] = ctx.one(
        sa.select(Treatment.id).where(Treatment.patient_id == ctx.world.patient_b)
    )


def _discharged(ctx: Ctx) -> None:
    r = ctx.staff("clinician").post(
        f"/clinic/patients/{ctx.world.patient_a}/discharge",
        data={"confirm": "yes", "reason": "Course complete"},
    )
    assert r.status_code == 303


def _device(ctx: Ctx) -> None:
    endpoint = PUSH + "device"
    r = ctx.staff("clinician").post(
        "/clinic/reminders/subscribe", json={"subscription": {"endpoint": endpoint, "keys": KEYS}}
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    ctx.found["endpoint"] = endpoint
    ctx.found["device"] = ctx.one(
        sa.select(PushSubscription.id).where(PushSubscription.endpoint == endpoint)
    )


def _unsigned_version(ctx: Ctx) -> None:
    """Version 2 of compression-72h in clinic 1, not signed off yet."""
    text = Path(f"{PROTOCOL_DIR}/compression-72h.toml").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as folder:
        edited = Path(folder) / "compression-72h.toml"
        edited.write_text(
            text.replace("interval_weeks_min = 4", "interval_weeks_min = 6"), encoding="utf-8"
        )
        ctx.in_app(lambda: protocols.load(str(edited), "north", NOW))
    ctx.found["version"] = ctx.one(
        sa.select(ProtocolVersion.id).where(
            ProtocolVersion.clinic_id == ctx.world.clinic1, ProtocolVersion.signed_off_at.is_(None)
        )
    )
    assert ctx.found["version"] is not None


def _closure_asked(ctx: Ctx) -> None:
    """Patient A (no open alert) asked to close their account (issue 20 point 4)."""
    r = ctx.patient().post("/patient/account/close", data={"confirm": "yes"})
    assert r.status_code == 303
    # The dispatcher sent the "what is kept" email: completing waits for it.
    ctx.in_app(
        lambda: (
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.kind == "closure")
                .values(state=OutboxState.SENT)
            ),
            db.session.commit(),
        )
    )
    ctx.found["closure"] = ctx.one(
        sa.select(AccountClosure.id).where(AccountClosure.patient_id == ctx.world.patient_a)
    )


def _deactivated(ctx: Ctx) -> None:
    r = ctx.staff("admin").post(f"/clinic/staff/{ctx.world.clinician1}/deactivate")
    assert r.status_code == 303


# ------------------------------------------------------------------ the recipes


def _version(ctx: Ctx) -> str:
    """Clinic 1's compression-72h version, as the form posts it."""
    return str(ctx.in_app(lambda: version_id(db.session.get(Clinic, ctx.world.clinic1))))


def _patient_a(ctx: Ctx) -> tuple:
    def load() -> tuple:
        p = db.session.get(Patient, ctx.world.patient_a)
        return p.user.name, p.phone, p.discharged_at

    return ctx.in_app(load)


def _session_b(ctx: Ctx) -> Treatment:
    def load() -> Treatment:
        t = db.session.get(Treatment, ctx.found["session"])
        db.session.expunge(t)
        return t

    return ctx.in_app(load)


def _staff_user(ctx: Ctx, user_id: int) -> User:
    def load() -> User:
        u = db.session.get(User, user_id)
        db.session.expunge(u)
        return u

    return ctx.in_app(load)


RECIPES: dict[str, Recipe] = {
    "clinician.new_patient": Recipe(
        "clinician",
        lambda ctx: "/clinic/patients/new",
        _form(
            lambda ctx: {
                "name": "Dana New",
                "email": "dana@patients.example",
                "timezone": "Europe/London",
                "date": "2026-11-27",
                "time": "14:30",
                "protocol": _version(ctx),
            }
        ),
        lambda ctx: (
            ctx.one(sa.select(User.id).where(User.email == "dana@patients.example")) is not None
        ),
        r"^create patient: patient #\d+, session #\d+ on 2026-11-27 14:30",
    ),
    "clinician.edit_patient": Recipe(
        "clinician",
        lambda ctx: f"/clinic/patients/{ctx.world.patient_a}/edit",
        _form(details()),
        lambda ctx: _patient_a(ctx)[0] == "Alice Newname",
        r"^change: .*Alice Newname",
    ),
    "clinician.set_phone": Recipe(
        "clinician",
        lambda ctx: f"/clinic/patients/{ctx.world.patient_a}/phone",
        _form({"phone": "01632 960 222"}),
        lambda ctx: _patient_a(ctx)[1] == "01632 960 222",
        r"^change: phone number",
    ),
    "clinician.book_session": Recipe(
        "clinician",
        lambda ctx: f"/clinic/patients/{ctx.world.patient_a}/sessions",
        _form(
            lambda ctx: {
                "date": "2026-12-18",
                "time": "09:30",
                "protocol": _version(ctx),
            }
        ),
        lambda ctx: (
            ctx.one(
                sa.select(sa.func.count())
                .select_from(Treatment)
                .where(Treatment.patient_id == ctx.world.patient_a)
            )
            == 2
        ),
        r"^book session: session #\d+ on 2026-12-18 09:30",
    ),
    "clinician.reschedule": Recipe(
        "clinician",
        lambda ctx: f"/clinic/sessions/{ctx.found['session']}/reschedule",
        _form({"date": "2026-11-27", "time": "10:00"}),
        lambda ctx: _session_b(ctx).appointment_at.day == 27,
        r"^move session: moved session #\d+ from 2026-11-21 10:00 to 2026-11-27 10:00$",
        setup=_b_session,
    ),
    "clinician.cancel": Recipe(
        "clinician",
        lambda ctx: f"/clinic/sessions/{ctx.found['session']}/cancel",
        _form({"confirm": "yes"}),
        lambda ctx: _session_b(ctx).status == TreatmentStatus.CANCELLED,
        r"^cancel session: session #\d+ booked for 2026-11-21 10:00",
        setup=_b_session,
    ),
    "clinician.record": Recipe(
        "clinician",
        lambda ctx: f"/clinic/sessions/{ctx.found['session']}/record",
        _form(
            {
                "date": "2026-11-20",
                "time": "11:00",
                "sclerosant": "Polidocanol",
                "form": "foam",
                "concentration": "1%",
                "areas": "left calf",
                "compression": "class 2",
                "checks_done": "y",
            }
        ),
        lambda ctx: _session_b(ctx).status == TreatmentStatus.DONE,
        r"^record treatment: session #\d+ treated 2026-11-20 11:00",
        setup=_b_session,
    ),
    "clinician.new_invitation": Recipe(
        "admin",  # patient A has a password: a clinic admin's act (point 2)
        lambda ctx: f"/clinic/patients/{ctx.world.patient_a}/invitation",
        _form({}),
        lambda ctx: (
            ctx.one(
                sa.select(sa.func.count())
                .select_from(Invitation)
                .join(Patient, Patient.user_id == Invitation.user_id)
                .where(Patient.id == ctx.world.patient_a)
            )
            == 1
        ),
        r"^sign-in link: new sign-in link",
    ),
    "clinician.acknowledge": Recipe(
        "clinician",
        lambda ctx: f"/clinic/alerts/{ctx.found['alert']}/acknowledge",
        _form({"note": "Called the patient."}),
        lambda ctx: (
            ctx.one(sa.select(Alert.acknowledged_at).where(Alert.id == ctx.found["alert"]))
            is not None
        ),
        r"^acknowledge: alert #\d+",
        setup=_alert,
    ),
    "clinician.mark_reviewed": Recipe(
        "clinician",
        lambda ctx: f"/clinic/checkins/{ctx.found['checkin']}/review",
        _form({}),
        lambda ctx: (
            ctx.one(sa.select(CheckIn.reviewed_at).where(CheckIn.id == ctx.found["checkin"]))
            is not None
        ),
        r"^review: day \d+",
        setup=_checkin,
    ),
    "clinician.review_photo": Recipe(
        "clinician",
        lambda ctx: f"/clinic/photos/{ctx.found['photo']}/review",
        _form({}),
        lambda ctx: (
            ctx.one(sa.select(Photo.reviewed_at).where(Photo.id == ctx.found["photo"])) is not None
        ),
        r"^review: photo #\d+",
        setup=_photo,
    ),
    "clinician.review_day_photos": Recipe(
        "clinician",
        lambda ctx: f"/clinic/patients/{ctx.world.patient_a}/photos/review",
        _form(lambda ctx: {"on": ctx.found["taken_on"].isoformat()}),
        lambda ctx: (
            ctx.one(sa.select(Photo.reviewed_at).where(Photo.id == ctx.found["photo"])) is not None
        ),
        r"^review: photos of \d{4}-\d\d-\d\d",
        setup=_photo,
    ),
    "clinician.save_clearance": Recipe(
        "clinician",
        lambda ctx: f"/clinic/sessions/{ctx.found['session']}/clearance",
        _form({"site": "left-calf-inner", "score": "3"}),
        lambda ctx: ctx.one(sa.select(sa.func.count()).select_from(ClearanceScore)) == 1,
        r"^score: clearance 3 for session #\d+",
        setup=lambda ctx: ctx.found.update(
            session=ctx.in_app(old_session_with_photos, ctx.world.patient_a)
        ),
    ),
    "clinician.comment": Recipe(
        "clinician",
        lambda ctx: f"/clinic/patients/{ctx.world.patient_a}/comments",
        _form({"body": "Keep walking every day."}),
        lambda ctx: ctx.one(sa.select(sa.func.count()).select_from(Comment)) == 1,
        r"^comment",
    ),
    "clinician.discharge": Recipe(
        "clinician",
        lambda ctx: f"/clinic/patients/{ctx.world.patient_a}/discharge",
        _form({"confirm": "yes", "reason": "Course complete"}),
        lambda ctx: _patient_a(ctx)[2] is not None,
        r"^discharge",
    ),
    "clinician.reopen": Recipe(
        "clinician",
        lambda ctx: f"/clinic/patients/{ctx.world.patient_a}/reopen",
        _form({}),
        lambda ctx: _patient_a(ctx)[2] is None,
        r"^re-open",
        setup=_discharged,
    ),
    "clinician.clinic_settings": Recipe(
        "admin",
        lambda ctx: "/clinic/settings",
        _form(settings_form(name="North Vein Clinic")),
        lambda ctx: (
            ctx.one(sa.select(Clinic.name).where(Clinic.id == ctx.world.clinic1))
            == "North Vein Clinic"
        ),
        r"^change: clinic settings, .*North Vein Clinic",
    ),
    "clinician.invite_staff": Recipe(
        "admin",
        lambda ctx: "/clinic/staff",
        _form({"name": "Nina Nurse", "email": "nina@north.example", "role": "clinician"}),
        lambda ctx: (
            ctx.one(sa.select(User.id).where(User.email == "nina@north.example")) is not None
        ),
        r"^invite staff: nina@north\.example",
    ),
    "clinician.staff_role": Recipe(
        "admin",
        lambda ctx: f"/clinic/staff/{ctx.world.clinician1}/role",
        _form({"role": "clinic_admin"}),
        lambda ctx: _staff_user(ctx, ctx.world.clinician1).role == Role.CLINIC_ADMIN,
        r"^change: role of doc1@north\.example",
    ),
    "clinician.staff_deactivate": Recipe(
        "admin",
        lambda ctx: f"/clinic/staff/{ctx.world.clinician1}/deactivate",
        _form({}),
        lambda ctx: not _staff_user(ctx, ctx.world.clinician1).is_active,
        r"^change: doc1@north\.example: active -> deactivated",
    ),
    "clinician.staff_reactivate": Recipe(
        "admin",
        lambda ctx: f"/clinic/staff/{ctx.world.clinician1}/reactivate",
        _form({}),
        lambda ctx: _staff_user(ctx, ctx.world.clinician1).is_active,
        r"^change: doc1@north\.example: deactivated -> active",
        setup=_deactivated,
    ),
    "clinician.staff_link": Recipe(
        "admin",
        lambda ctx: f"/clinic/staff/{ctx.world.clinician1}/link",
        _form({}),
        lambda ctx: (
            ctx.one(
                sa.select(sa.func.count())
                .select_from(Invitation)
                .where(Invitation.user_id == ctx.world.clinician1)
            )
            == 1
        ),
        r"^staff link: new signin link for doc1@north\.example",
    ),
    "clinician.staff_mfa_reset": Recipe(
        "admin",
        lambda ctx: f"/clinic/staff/{ctx.world.clinician1}/second-factor/reset",
        _form({}),
        lambda ctx: (
            ctx.one(
                sa.select(sa.func.count())
                .select_from(AuthSession)
                .where(
                    AuthSession.user_id == ctx.world.clinician1, AuthSession.revoked_at.is_(None)
                )
            )
            == 0
        ),
        r"^staff_mfa_reset: Doc1 \(#\d+\)",
        setup=lambda ctx: ctx.staff("clinician") and None,  # a session for the reset to end
    ),
    "clinician.sign_off_protocol": Recipe(
        "admin",
        lambda ctx: f"/clinic/protocols/versions/{ctx.found['version']}/sign-off",
        _form({"confirm": "yes"}),
        lambda ctx: (
            ctx.one(
                sa.select(ProtocolVersion.signed_off_at).where(
                    ProtocolVersion.id == ctx.found["version"]
                )
            )
            is not None
        ),
        r"^sign off: ",
        setup=_unsigned_version,
    ),
    "clinician.subscribe": Recipe(
        "clinician",
        lambda ctx: "/clinic/reminders/subscribe",
        _json({"subscription": {"endpoint": PUSH + "new", "keys": KEYS}}),
        lambda ctx: (
            ctx.one(
                sa.select(PushSubscription.user_id).where(PushSubscription.endpoint == PUSH + "new")
            )
            == ctx.world.clinician1
        ),
        r"^push subscribe: alerts on for ",
    ),
    "clinician.unsubscribe": Recipe(
        "clinician",
        lambda ctx: "/clinic/reminders/unsubscribe",
        _json(lambda ctx: {"endpoint": ctx.found["endpoint"]}),
        lambda ctx: ctx.one(sa.select(sa.func.count()).select_from(PushSubscription)) == 0,
        r"^push unsubscribe: alerts off for ",
        setup=_device,
    ),
    "clinician.delete_device": Recipe(
        "clinician",
        lambda ctx: f"/clinic/reminders/devices/{ctx.found['device']}/delete",
        _form({}),
        lambda ctx: ctx.one(sa.select(sa.func.count()).select_from(PushSubscription)) == 0,
        r"^push device removed: device #\d+",
        setup=_device,
    ),
    # Issue 20 point 4: completing an account closure, and the retention policy.
    "clinician.complete_closure": Recipe(
        "admin",
        lambda ctx: f"/clinic/closures/{ctx.found['closure']}/complete",
        _form({"confirm": "yes"}),
        lambda ctx: (
            ctx.one(
                sa.select(AccountClosure.completed_at).where(
                    AccountClosure.id == ctx.found["closure"]
                )
            )
            is not None
        ),
        r"^close account: removed: password, .*record kept 8 years",
        setup=_closure_asked,
    ),
    "clinician.record_closure_request": Recipe(
        "admin",
        lambda ctx: f"/clinic/patients/{ctx.world.patient_a}/closure-request",
        _form({"confirm": "yes"}),
        lambda ctx: (
            ctx.one(
                sa.select(AccountClosure.id).where(AccountClosure.patient_id == ctx.world.patient_a)
            )
            is not None
        ),
        r"^close request: recorded the patient's request to close",
    ),
    "clinician.withdraw_closure": Recipe(
        "admin",
        lambda ctx: f"/clinic/closures/{ctx.found['closure']}/withdraw",
        _form({}),
        lambda ctx: ctx.one(sa.select(sa.func.count()).select_from(AccountClosure)) == 0,
        r"^close request: withdrawn: the patient changed their mind",
        setup=_closure_asked,
    ),
    "clinician.closure_policy": Recipe(
        "admin",
        lambda ctx: "/clinic/closures/policy",
        _form({"years": "10", "photos": "delete"}),
        lambda ctx: (
            ctx.one(sa.select(Clinic.retention_years).where(Clinic.id == ctx.world.clinic1)) == 10
        ),
        r"^change: retention years: 8 -> 10",
    ),
}

# POST routes that write nothing, each with the reason; ``test_routes_that_write_nothing``
# checks that a successful request there really leaves the database as it was.
NO_WRITE: dict[str, tuple[str, str]] = {
    # The old opening-hours page: the hours are rows on the settings page now, and a
    # POST here only sends the admin there.
    "clinician.clinic_hours": ("admin", "/clinic/settings/hours"),
}


def _staff_post_rules(app) -> dict[str, str]:  # noqa: ANN001
    """Every POST rule of the staff blueprints: endpoint -> rule."""
    return {
        rule.endpoint: rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and rule.endpoint.split(".", 1)[0] in STAFF_BLUEPRINTS
    }


def test_every_staff_post_route_has_a_recipe(app):
    routes = _staff_post_rules(app)
    assert len(routes) >= 25, "the clinician blueprint's routes were not found"
    missing = [
        f"new POST route {endpoint} ({rule}) has no audit recipe"
        for endpoint, rule in sorted(routes.items())
        if endpoint not in RECIPES and endpoint not in NO_WRITE
    ]
    assert not missing, "\n".join(missing)
    # And no recipe for a route that is gone (a renamed route would otherwise escape).
    stale = (set(RECIPES) | set(NO_WRITE)) - set(routes)
    assert not stale, f"recipes for routes that no longer exist: {sorted(stale)}"


def _admin(in_app, world) -> int:  # noqa: ANN001
    return in_app(
        lambda: make_staff(db.session.get(Clinic, world.clinic1), ADMIN, Role.CLINIC_ADMIN).id
    )


def _new_events(in_app, after: int, actor_id: int) -> list[str]:  # noqa: ANN001
    return in_app(
        lambda: [
            f"{e.action}: {e.detail}"
            for e in db.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.id > after, AuditEvent.actor_id == actor_id)
                .order_by(AuditEvent.id)
            )
        ]
    )


def _last_event(in_app) -> int:  # noqa: ANN001
    return in_app(lambda: db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0)


@pytest.mark.parametrize("endpoint", sorted(RECIPES))
def test_each_staff_write_succeeds_and_is_audited(endpoint, app, world, in_app):
    recipe = RECIPES[endpoint]
    admin_id = _admin(in_app, world)
    ctx = Ctx(app, world, in_app)
    if recipe.setup is not None:
        recipe.setup(ctx)
    path = recipe.path(ctx)
    # The recipe really targets its route (not another one that happens to succeed).
    matched, _ = app.url_map.bind("localhost").match(path, method="POST")
    assert matched == endpoint, f"{path} is {matched}, not {endpoint}"
    actor = admin_id if recipe.who == "admin" else world.clinician1
    before = _last_event(in_app)

    response = recipe.post(ctx.staff(recipe.who), path, ctx)

    assert response.status_code in (200, 302, 303), (
        f"{endpoint} answered {response.status_code}: {response.get_data(as_text=True)[:300]}"
    )
    assert recipe.changed(ctx), f"{endpoint} answered {response.status_code} but changed nothing"
    events = _new_events(in_app, before, actor)
    assert any(re.search(recipe.names, e) for e in events), (
        f"{endpoint} wrote no audit event naming it ({recipe.names!r}); got {events}"
    )


@pytest.mark.parametrize("endpoint", sorted(NO_WRITE))
def test_routes_that_write_nothing(endpoint, app, world, in_app):
    who, path = NO_WRITE[endpoint]
    _admin(in_app, world)
    ctx = Ctx(app, world, in_app)
    matched, _ = app.url_map.bind("localhost").match(path, method="POST")
    assert matched == endpoint
    client = ctx.staff(who)
    before = _last_event(in_app)
    settings = ctx.one(sa.select(Clinic.hours).where(Clinic.id == world.clinic1))
    response = client.post(path, data={"hours": "Mon 10:00-11:00"})
    assert response.status_code == 303
    assert ctx.one(sa.select(Clinic.hours).where(Clinic.id == world.clinic1)) == settings
    assert _last_event(in_app) == before


def test_correcting_a_treatment_names_what_changed_but_not_the_clinical_text(app, world, in_app):
    """Recording again corrects the details: the audit row says which (by name) and the
    time before and after, never the typed areas or notes (clinical free text)."""
    ctx = Ctx(app, world, in_app)
    session = ctx.one(sa.select(Treatment.id).where(Treatment.patient_id == world.patient_a))
    before = _last_event(in_app)
    r = ctx.staff("clinician").post(
        f"/clinic/sessions/{session}/record",
        data={
            "date": "2026-11-17",
            "time": "11:30",
            "sclerosant": "Polidocanol",
            "form": "liquid",
            "areas": "left calf and a secret-marker ankle",
            "checks_done": "y",
        },
    )
    assert r.status_code == 303
    events = [e for e in _new_events(in_app, before, world.clinician1) if "treatment" in e]
    assert events == [
        f"correct treatment: session #{session}: treated time 2026-11-17 10:00 -> "
        "2026-11-17 11:30; areas treated"
    ]
    assert "secret-marker" not in " ".join(_new_events(in_app, 0, world.clinician1))
