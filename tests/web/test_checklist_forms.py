"""Security checklist cases C11, D1-D4 and G5 that no earlier test checked in full.

D1 is a crawl: every POST route of the URL map, sent without a CSRF token, with a wrong
one and with another session's, is refused and changes no row of any table; and no GET
route changes anything but the audit trail and the session's last-seen time. D4 and G5
read the source: they fail when a new template or module adds an unsafe path.
"""

from __future__ import annotations

import ast
import json
import pathlib
import re

import itsdangerous
import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import CheckIn
from app.models import Photo
from app.models import Treatment
from app.services import photos
from config import Config
from tests.conftest import login
from tests.conftest import text_of
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web.test_access_matrix import _add_clinic_admins
from tests.web.test_access_matrix import _alices_closure
from tests.web.test_access_matrix import _alices_objects
from tests.web.test_access_matrix import _url
from tests.web.test_auth import CsrfConfig
from tests.web.test_checkin import form
from tests.web.test_request_path import META
from tests.web.test_request_path import _sign_in_with_csrf

ROOT = pathlib.Path(__file__).resolve().parents[2]
ALICE, BOB, ADMIN1 = "alice@patients.example", "bob@patients.example", "admin1@north.example"
DOC1 = "doc1@north.example"

# POST routes that take no CSRF token on purpose, each with its reason.
CSRF_EXEMPT = {
    # RFC 8058 one-click unsubscribe: the mail client posts with no page and no
    # session; the signed token in the URL is the check, and it only stops emails.
    "auth.unsubscribe": "one-click unsubscribe (RFC 8058), signed token",
}


def _snapshot(skip: tuple[str, ...] = (), pending_mfa: bool = True) -> dict[str, list[str]]:
    """Every row of every table, as sorted text: a change anywhere shows.

    ``pending_mfa=False`` leaves out second-factor secrets not yet confirmed: the
    enrolment page (a GET) must make one to show its QR code, and an unconfirmed secret
    signs nobody in. A confirmed one still shows.
    """
    out = {}
    for table in db.metadata.sorted_tables:
        if table.name in skip:
            continue
        query = sa.select(table)
        if not pending_mfa and table.name == "mfa_secrets":
            query = query.where(table.c.confirmed_at.is_not(None))
        rows = db.session.execute(query).all()
        out[table.name] = sorted(repr(tuple(row)) for row in rows)
    db.session.rollback()
    return out


def _actor(endpoint: str, rule: str) -> str | None:
    if rule.startswith("/clinic/"):
        return ADMIN1
    if rule.startswith(("/patient/", "/push/")) or endpoint == "auth.logout":
        return ALICE
    return None


def _token_of(client) -> str:
    page = client.get("/login" if client.get_cookie("session") is None else "/patient/today")
    found = META.search(page.get_data(as_text=True)) or re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)
    )
    return found.group(1)


@pytest.fixture
def csrf_app(database_url, _schema, world, tmp_path):
    app = create_app(
        CsrfConfig, SQLALCHEMY_DATABASE_URI=database_url, PHOTO_STORAGE_DIR=str(tmp_path)
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_d1_every_post_needs_its_own_sessions_csrf_token_and_changes_nothing(
    csrf_app, world, in_app
):
    """D1: each POST route (forms and JSON), as the person who may use it, with no token,
    a wrong token and a token of another person's session: 400 every time, and not one
    row of any table changes."""
    app = csrf_app
    in_app(_add_clinic_admins, world)
    ids = in_app(_alices_objects, world.patient_a)
    ids["closure"] = in_app(_alices_closure, world.patient_a)  # the closure routes' object
    treatment = in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )
    bob = _sign_in_with_csrf(app, BOB)
    foreign = META.search(bob.get("/patient/today").get_data(as_text=True)).group(1)
    clients = {ALICE: _sign_in_with_csrf(app, ALICE), ADMIN1: _sign_in_with_csrf(app, ADMIN1)}
    clients[None] = app.test_client()
    before = in_app(_snapshot)
    posts = sorted(
        (rule.endpoint, rule.rule)
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and rule.endpoint not in CSRF_EXEMPT
    )
    assert len(posts) > 40  # the crawl really walks the app
    for endpoint, rule in posts:
        url = _url(rule, world, treatment, ids)
        client = clients[_actor(endpoint, rule)]
        for token in (None, "not-a-token", foreign):
            form_data = {"confirm": "yes", "done": "1", "body": "x", "note": "x"}
            if token is not None:
                form_data["csrf_token"] = token
            headers = {"X-CSRFToken": token} if token else {}
            for kwargs in ({"data": form_data}, {"json": {"endpoint": "x"}, "headers": headers}):
                r = client.post(url, **kwargs)
                assert r.status_code == 400, (endpoint, url, token, r.status_code)
    assert in_app(_snapshot) == before


def test_d1_no_get_route_changes_data(app, world, in_app):
    """D1: every GET route, as anonymous, a patient and a clinic admin, changes no row
    (apart from the audit trail of what was viewed, a session's last-seen time and an
    unconfirmed second-factor secret made to show the enrolment QR code)."""
    in_app(_add_clinic_admins, world)
    ids = in_app(_alices_objects, world.patient_a)
    ids["closure"] = in_app(_alices_closure, world.patient_a)  # the closure routes' object
    treatment = in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )
    # Views are audited (the trail and its chain head move); sessions note last use; a
    # calendar download numbers the events it served (SEQUENCE, so a calendar app sees
    # a moved session as an update: app/services/ical/feed.py), bookkeeping of what was
    # shown, like the audit trail.
    skip = ("audit_events", "audit_chain_head", "auth_sessions", "calendar_event_revisions")
    clients = [app.test_client() for _ in range(3)]
    login(clients[1], ALICE)
    login(clients[2], ADMIN1)
    before = in_app(_snapshot, skip, False)
    gets = sorted(
        (rule.endpoint, rule.rule)
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint != "static"
    )
    for _, rule in gets:
        url = _url(rule, world, treatment, ids)
        for client in clients:
            assert client.get(url).status_code < 500, url
    assert in_app(_snapshot, skip, False) == before


def test_d2_a_check_in_form_left_open_for_days_is_still_accepted(
    csrf_app, world, in_app, monkeypatch
):
    """D2: a patient leaves the check-in open and sends it days later. The token lives
    as long as the sign-in session (production sets no CSRF time limit), so the answers
    are stored, not lost to an expired token. With a one-hour limit the same request
    would be refused: the test can tell."""
    assert Config.WTF_CSRF_TIME_LIMIT is None
    app = csrf_app
    client = _sign_in_with_csrf(app, ALICE)
    token = META.search(client.get("/patient/checkin").get_data(as_text=True)).group(1)
    later = itsdangerous.timed.TimestampSigner.get_timestamp(None) + 3 * 86400
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: later)
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    refused = client.post("/patient/checkin", data=form(note="kept", csrf_token=token))
    assert refused.status_code == 400
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    r = client.post("/patient/checkin", data=form(note="kept", csrf_token=token))
    assert r.status_code == 200
    notes = in_app(lambda: list(db.session.scalars(sa.select(CheckIn.note))))
    assert notes == ["kept"]


PAYLOADS = [
    "<script>alert('x1')</script>",
    '<img src=x onerror="alert(2)">',
    '<a href="javascript:alert(3)">tap</a>',
    "</textarea><b>broken-out</b>",
    "{{ 7*191 }} {% if 1 %}jinja-ran{% endif %}",
    '=HYPERLINK("https://evil.example","x")',
    "abc\u202edcba \u200b\u2066zero-width",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_d3_markup_in_a_check_in_note_is_inert_for_patient_and_clinician(app, world, payload):
    """D3: a patient's note with markup, template syntax, a formula or invisible
    characters: stored and shown as text to the patient and on every clinician page,
    never as HTML, never evaluated, never a 500."""
    alice = app.test_client()
    login(alice, ALICE)
    note = "note-marker " + payload
    r = alice.post("/patient/checkin", data=form(note=note))
    assert r.status_code == 200  # stored, so the pages below really show it
    doc = app.test_client()
    login(doc, DOC1)
    pages = [
        alice.get("/patient/diary"),
        alice.get("/patient/checkin"),
        doc.get(f"/clinic/patients/{world.patient_a}"),
        doc.get("/clinic/"),
        doc.get("/clinic/patients"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        for raw in (
            "<script>alert",
            "<img src=x",
            'href="javascript:',
            "<b>broken-out",
        ):
            assert raw not in html, (page.request.path, raw)
        assert "1337" not in html and "jinja-ran" not in text_of(page).replace(payload, "")
    assert "note-marker" in text_of(pages[2])  # the clinician's record shows the note


class _Markup(ast.NodeVisitor):
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.function = ""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    def visit_Call(self, node: ast.Call) -> None:
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        jinja = name == "from_string" and "env" in ast.unparse(node.func)
        if name in ("Markup", "render_template_string") or jinja:
            self.calls.append(f"{name} in {self.function}")
        self.generic_visit(node)


# Each reviewed: what it marks safe is HTML the app itself rendered or generated.
REVIEWED_MARKUP = {
    "app/auth/mfa.py": ["Markup in _qr"],  # segno's SVG of the app's otpauth URI; fixed label
    "app/qr.py": ["Markup in qr_svg"],  # segno's SVG of an app-built URL; label escaped
    "app/assets.py": ["Markup in init_app"],  # the app's own CSS file, inlined
    "app/speedups.py": ["Markup in get"],  # a template rendered with autoescape
}


def test_d4_no_unsafe_markup_paths_in_templates_or_code():
    """D4: no ``|safe``, ``Markup``, ``render_template_string`` or a Jinja ``from_string`` on user
    data: templates have none, and the code's few Markup calls are the reviewed ones.
    Every template ends ``.html``, so Jinja autoescapes it."""
    templates = sorted((ROOT / "app" / "templates").rglob("*"))
    files = [t for t in templates if t.is_file()]
    assert files and all(t.suffix == ".html" for t in files), [
        t for t in files if t.suffix != ".html"
    ]
    for template in files:
        text = template.read_text()
        assert not re.search(r"\|\s*safe\b", text), template
        assert "autoescape false" not in text and "Markup" not in text, template
    found = {}
    for module in sorted((ROOT / "app").rglob("*.py")):
        visitor = _Markup()
        visitor.visit(ast.parse(module.read_text()))
        if visitor.calls:
            found[str(module.relative_to(ROOT))] = visitor.calls
    assert found == REVIEWED_MARKUP
    app = create_app(CsrfConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    assert app.jinja_env.autoescape("patient/today.html") is True


def test_g5_every_script_and_style_is_self_hosted():
    """G5: no ``<script src>``, stylesheet or ``importScripts`` from another origin; every
    script a template loads comes through ``asset()`` from app/static."""
    remote = re.compile(r"""(src|href)\s*=\s*["'](https?:)?//""", re.I)
    for template in sorted((ROOT / "app" / "templates").rglob("*.html")):
        text = template.read_text()
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", text, re.I):
            assert not remote.search(tag), (template, tag)
        for src in re.findall(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", text):
            assert src.startswith("{{ asset("), (template, src)
    for script in [
        ROOT / "app" / "static" / "sw.js",
        *sorted((ROOT / "app" / "static").rglob("*.js")),
    ]:
        text = script.read_text()
        assert not re.search(r"importScripts\([^)]*https?:", text), script
        assert not re.search(r"""import\s[^;]*from\s+["']https?:""", text), script


def test_c11_the_total_photo_quota_refuses_with_a_message_and_keeps_the_diary(app, world, in_app):
    """C11: past the total quota (PHOTO_MAX_TOTAL, 500 in production) the next photo is
    refused with a clear message and the photos already kept are intact."""
    assert Config.PHOTO_MAX_TOTAL == 500
    app.config["PHOTO_MAX_TOTAL"] = 2
    alice = app.test_client()
    login(alice, ALICE)
    small = phone_jpeg((200, 150))
    for side in ("left", "right"):
        assert upload(alice, small, side=side).status_code == 303
    r = upload(alice, small)
    assert r.status_code == 400 and "Your photo diary is full" in text_of(r)
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Photo))) == 2
    assert in_app(photos.verify_all) == []  # every kept photo is whole


def test_d7_the_service_worker_keeps_only_its_allowlist_never_diary_photos_or_api(client):
    """D7 (static half; the browser half is tests/browser/test_purge_on_signout.py): the
    served service worker keeps only the four offline pages, versioned /static/ files and
    the patient's own photo thumbnails (keyed URLs). No diary, full-size photo, clinician
    or JSON URL can enter a cache, and sign-out purges pages and thumbnails."""
    sw = client.get("/sw.js").get_data(as_text=True)
    pages = re.search(r"const OFFLINE_PAGES = \[([^\]]*)\];", sw).group(1)
    kept = set(re.findall(r'"([^"]+)"', pages))
    assert kept == {"/patient/today", "/patient/checklist", "/patient/plan", "/patient/checkin"}
    # Every cache.put is one of three rules: the allowlisted pages, /static/ files, or the
    # patient's photo thumbnails. The third put copies a patient script from the previous
    # cache on an update (precachePatient): its URLs are PATIENT_ASSETS, every one a
    # versioned /static/ file. The fourth keeps a thumbnail (issue 22 point 5): only
    # /patient/photos/<id>/thumb with the viewer's key, in its own cache, purged with the
    # pages (tests/browser/test_thumbnail_cache_browser.py).
    assert sw.count("cache.put(") == 4
    assert sw.count("cache.put(url, old)") == 1
    assert sw.count("caches.open(THUMBS).then((cache) => cache.put(") == 1
    assert "const THUMB_PATH = /^\\/patient\\/photos\\/\\d+\\/thumb$/;" in sw
    assert 'THUMB_PATH.test(url.pathname) && url.searchParams.get("k")' in sw
    assert "Promise.all([caches.delete(PAGES), caches.delete(THUMBS)])" in sw
    assets = json.loads(re.search(r"const PATIENT_ASSETS = (\[[^\]]*\]);", sw).group(1))
    assert assets and all(re.fullmatch(r"/static/[\w./-]+\?v=\w+", url) for url in assets)
    assert 'url.pathname.startsWith("/static/")' in sw
    assert "OFFLINE_PAGES.indexOf(url.pathname) !== -1" in sw
    assert 'request.method !== "GET") return' in sw  # posts are never cached
    assert "caches.delete(PAGES)" in sw  # the purge sign-out asks for
