"""No input gives a 500: a Hypothesis walk over every route of ``app.url_map``, as every
kind of visitor, with any bytes (issue 15 point 4, real-conditions "any byte, any size").

Each example picks a route and a method, who sends it (nobody, a patient, a clinician,
a clinic admin), the path values (ids of any size, text with NUL and CRLF), query
arguments, and a body: a form (plausible answers mixed with hostile ones: control
characters, huge fields, dates from 0001 to 9999 with zones from Etc/GMT+12 to
Etc/GMT-14, numbers past 2^63), JSON (nested, malformed, deep, surrogates) or raw bytes.
The answer must be a normal page or redirect, or a 4xx with a page or a JSON error.

The visitors keep one session across examples, so what one example changes (a check-in,
a cancelled session, a deleted photo) is what the next one walks into, as in real use.
Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import io
import json
import re
import string
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app import create_app
from app.domain.checkin import BRUISING
from app.domain.checkin import SKIN_CHANGES
from app.services import photos
from config import TestingConfig
from tests.conftest import login
from tests.services.test_photos import phone_jpeg
from tests.web import test_checkin
from tests.web.test_access_matrix import _add_clinic_admins
from tests.web.test_access_matrix import _alices_objects

TEMPLATES = Path(__file__).parents[2] / "app" / "templates"
# Every form field name the pages use, and the warning-sign questions (built in Jinja).
FIELD_NAMES = sorted(
    {
        name
        for page in TEMPLATES.rglob("*.html")
        for name in re.findall(r'name="([\w-]+)"', page.read_text())
        if name != "csrf_token"
    }
    | {f"rf-{key}" for key in ("chest-breathing", "calf-pain-swelling", "infection")}
)
JPEG = phone_jpeg((64, 48))
QUERY_NAMES = ["page", "q", "a", "b", "side", "region", "view", "next", "alerts_page", "day"]


def _rules() -> list[tuple[str, str, str]]:
    app = create_app(TestingConfig)
    return sorted(
        (rule.rule, method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


RULES = _rules()

# ----------------------------------------------------------------- hostile values

printable = st.characters(exclude_categories=["Cs"])  # a form cannot carry a surrogate
controls = st.sampled_from(["\x00", "\r\n", "\r", "\n", "\t", "\x1b", "\x7f", "\x85", "\u2028"])
text = st.lists(st.one_of(printable, printable, controls), max_size=30).map("".join)
big_text = st.sampled_from([2001, 9000, 70_000]).map(
    lambda n: (string.ascii_letters * (n // 52 + 1))[:n]
)
huge_int = st.one_of(
    st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=-(2**64), max_value=10**40),
).map(str)
big_id = st.one_of(
    st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=0, max_value=10**40),
).map(str) | st.just("9" * 5000)
edge_date = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "2026-11-20", "20261120"]),
)
hostile = st.one_of(text, big_text, huge_int, edge_date, st.just("/patient/today\r\nX-A: b"))


def _valid(name: str) -> st.SearchStrategy[str]:
    """A value the page itself could send for a field (so requests get deep)."""
    yes_no = st.sampled_from(["yes", "no"])
    table: dict[str, st.SearchStrategy[str]] = {
        "pain": st.integers(0, 10).map(str),
        "bruising": st.sampled_from(BRUISING),
        "skin": st.sampled_from(sorted(SKIN_CHANGES)),
        "day": st.sampled_from(["3", "2", "1", "", "-1", "7"]),
        "done": st.sampled_from(["0", "1"]),
        "date": st.sampled_from(["2026-11-21", "2026-11-19", "2026-12-01", "2027-03-28"]),
        "on": edge_date,
        "time": st.sampled_from(["00:00", "10:30", "23:59", "01:30", "24:00"]),
        "start": st.sampled_from(["21:00", "08:00", "00:00"]),
        "end": st.sampled_from(["08:00", "21:00", "23:59"]),
        "timezone": st.sampled_from(
            ["Europe/London", "Etc/GMT+12", "Etc/GMT-14", "Pacific/Kiritimati", "UTC"]
        ),
        "protocol": st.integers(1, 6).map(str),
        "patient": st.integers(1, 4).map(str),
        "form": st.sampled_from(["liquid", "foam"]),
        "side": st.sampled_from(sorted(photos.SIDES)),
        "region": st.sampled_from(sorted(photos.REGIONS)),
        "view": st.sampled_from(sorted(photos.VIEWS)),
        "back": st.just("dashboard"),
        "page": st.integers(0, 3).map(str),
        "email": st.integers(0, 99).map(lambda n: f"new{n}@walker.example"),
        "name": st.sampled_from(["Dana Ng", "Zoë O'Brien", "李雷"]),
        "sclerosant": st.sampled_from(["Polidocanol", "STS"]),
        "areas": st.sampled_from(["left calf", "both thighs"]),
        "next": st.sampled_from(["/patient/plan", "//evil.example", "https://evil.example/"]),
    }
    if name.startswith("rf-") or name in {"itching", "lumps", "walked", "elevated"}:
        return yes_no
    if name.startswith("stockings_"):
        return yes_no
    return table.get(name, text)


# The fields of each form, as its page sends them; other routes get any of FIELD_NAMES.
DAY3_FLAGS = [f"rf-{key}" for key in test_checkin.DAY3_FLAGS]
CHECKIN = ["pain", "bruising", "itching", "lumps", "skin", "stockings_day", "stockings_night"]
CHECKIN += ["walked", "elevated", "note", "day", "client_key", "side", "region", "view"]
FORMS = {
    "patient.submit_checkin": CHECKIN + DAY3_FLAGS,
    "auth.login": ["email", "password", "next"],
    "auth.accept_invite": ["password", "confirm"],
    "patient.tick_checklist": ["done", "day"],
    "patient.tick_task": ["done", "day"],
    "patient.quiet_hours": ["start", "end"],
    "patient.upload_photo": ["side", "region", "view", "note", "client_key"],
    "patient.delete_photo": ["confirm"],
    "clinician.new_patient": ["name", "email", "timezone", "date", "time", "protocol"],
    "clinician.acknowledge": ["note", "patient", "back"],
    "clinician.comment": ["body"],
    "clinician.review_photo": ["back"],
    "clinician.review_day_photos": ["on", "page"],
    "clinician.book_session": ["date", "time", "protocol"],
    "clinician.reschedule": ["date", "time"],
    "clinician.record": ["date", "time", "sclerosant", "form", "concentration", "areas"]
    + ["compression"],
}
FORM_RULES = [r for r in RULES if r[2] in FORMS and r[1] == "POST"]
PHOTO_FORMS = {"patient.submit_checkin", "patient.upload_photo"}


@st.composite
def form_for(draw: st.DrawFn, endpoint: str) -> dict:
    """A form as its page would send it, with some fields hostile or left out."""
    names = FORMS.get(endpoint) or sorted(draw(st.sets(st.sampled_from(FIELD_NAMES), max_size=8)))
    bad = draw(st.sets(st.sampled_from(names), max_size=3)) if names else set()
    data = draw(st.fixed_dictionaries({n: hostile if n in bad else _valid(n) for n in names}))
    for name in draw(st.sets(st.sampled_from(names), max_size=1)) if names else ():
        data.pop(name)
    if endpoint in PHOTO_FORMS and draw(st.booleans()):
        data["photo"] = (io.BytesIO(draw(st.sampled_from([JPEG, b"", b"\xff\xd8junk"]))), "a.jpg")
    return data


deep = st.integers(min_value=17, max_value=100_000).map(lambda n: "[" * n + "]" * n)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
subscription = st.fixed_dictionaries(
    {
        "subscription": st.fixed_dictionaries(
            {"endpoint": st.one_of(text, st.just("https://fcm.googleapis.com/fcm/send/x\x00"))},
            optional={"keys": st.dictionaries(st.sampled_from(["p256dh", "auth"]), text)},
        ),
    },
    optional={"reconfirm": st.booleans(), "old_endpoint": text, "endpoint": text},
)
json_body = st.one_of(
    subscription.map(json.dumps),
    json_value.map(json.dumps),
    deep,
    st.just('{"subscription": "\\ud800", "old_endpoint": "\\udfff\\u0000"}'),
    st.sampled_from(['{"a":', "\xff\xfe", "1e999999", "9" * 5000, "", "null", '"\\u0000"']),
)


@st.composite
def requests(draw: st.DrawFn) -> dict:
    """One request: route, method, who, URL and body."""
    # Forms are where the input is: they are drawn three times as often.
    rule, method, endpoint = draw(st.sampled_from(RULES + FORM_RULES * 2))
    # Mostly the visitor the route is for, so requests get past the role checks.
    owner = {"/patient": ["patient"], "/clinic/": ["clinician", "admin"]}
    right = next((v for k, v in owner.items() if rule.startswith(k)), ["anonymous"])
    who = draw(
        st.one_of(
            st.sampled_from(right),
            st.sampled_from(right),
            st.sampled_from(["anonymous", "patient", "clinician", "admin"]),
        )
    )

    def fill(match: re.Match) -> str:
        converter = match.group(1) or "string"
        if converter == "int":
            value = draw(st.one_of(st.integers(1, 4).map(str), st.integers(1, 4).map(str), big_id))
        elif converter == "path":
            value = draw(st.sampled_from(["css/app.css", "../config.py", "js/%00.js"]))
            return value
        else:
            value = draw(st.one_of(st.sampled_from(["walks", "before-photos"]), text))
        return quote(value, safe="")

    path = re.sub(r"<(?:(\w+):)?\w+>", fill, rule)
    query = draw(st.fixed_dictionaries({}, optional={n: hostile | _valid(n) for n in QUERY_NAMES}))
    kind = draw(st.sampled_from(["form", "form", "json", "raw"])) if method == "POST" else "none"
    request = {"who": who, "method": method, "path": path, "query": query, "kind": kind}
    request["endpoint"] = endpoint
    if kind == "form":
        request["data"] = draw(form_for(endpoint))
    elif kind == "json":
        request["data"] = draw(json_body)
    elif kind == "raw":
        request["data"] = draw(st.binary(max_size=200))
        request["content_type"] = draw(
            st.sampled_from(
                [
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                    "application/json",
                    "text/plain",
                ]
            )
        )
    return request


class Visitors:
    """One signed-in client per kind of visitor, signed in again if an example signs
    it out (``/logout``, a sign-in as nobody)."""

    EMAILS = {
        "patient": "alice@patients.example",
        "clinician": "doc1@north.example",
        "admin": "admin1@north.example",
    }

    def __init__(self, app) -> None:
        self.app = app
        self.clients = {}

    def get(self, who: str):
        client = self.clients.get(who)
        if client is None:
            client = self.clients[who] = self.app.test_client()
            if who in self.EMAILS:
                assert login(client, self.EMAILS[who]).status_code == 302
        return client

    def forget(self, who: str) -> None:
        self.clients.pop(who, None)


def send(client, request: dict):
    kwargs: dict = {"method": request["method"], "query_string": request["query"]}
    if request["kind"] == "form":
        kwargs["data"] = request["data"]
    elif request["kind"] == "json":
        kwargs["data"] = request["data"].encode("utf-8", "surrogatepass")
        kwargs["content_type"] = "application/json"
    elif request["kind"] == "raw":
        kwargs["data"] = request["data"]
        kwargs["content_type"] = request["content_type"]
    return client.open(request["path"], **kwargs)


def check_answer(response, request: dict) -> None:
    """A normal answer, or a 4xx that is a page or a JSON error; never a 5xx."""
    body = response.get_data()  # read before closing: a file response streams
    response.close()
    assert response.status_code < 500, (response.status_code, request)
    if response.status_code >= 400:
        assert body, request
        if response.mimetype == "application/fhir+json":
            # The FHIR API answers its errors as OperationOutcomes (app/fhir_errors.py).
            assert response.get_json()["resourceType"] == "OperationOutcome", request
        elif response.is_json:
            assert response.get_json()["ok"] is False, request
        else:
            assert response.mimetype == "text/html", request


@pytest.fixture
def visitors(app, world, in_app):
    # 500 examples sign in again after each one that signs out (and send /login itself):
    # past the sign-in limit, the next visitor's sign-in met a 429 and the walk failed
    # now and then. The limit has its own tests (tests/web/test_rate_limits.py); here
    # it would only decide how far the walk gets.
    app.config["SCLERO_SIGNIN_LIMIT"] = "100000 per 15 minutes"
    in_app(_add_clinic_admins, world)
    in_app(_alices_objects, world.patient_a)
    return Visitors(app)


WALK = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@WALK
@given(req=requests())
def test_no_route_answers_any_input_with_a_500(visitors, req):
    client = visitors.get(req["who"])
    response = send(client, req)
    event(f"{req['who']} {req['method']} {req['endpoint']} {response.status_code}")
    check_answer(response, req)
    if req["path"] in ("/logout", "/login") or req["path"].startswith("/invite/"):
        visitors.forget(req["who"])  # the example may have changed who is signed in


cookies = st.one_of(
    st.text(string.ascii_letters + string.digits + ".-_", min_size=1, max_size=200),
    st.integers(4000, 20_000).map(lambda n: "x" * n),
    st.sampled_from(["eyJfZnJlc2giOmZhbHNlfQ.bad.sig", ".eJyrVkrLz1eyUkpKLFKqBQAvQwWf.a.b"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/", "/login", "/patient/today", "/clinic/", "/patient/checkin"]),
    name=st.sampled_from(["session", "remember_token", "x" * 300]),
    value=cookies,
)
def test_any_cookie_is_a_sign_in_page_or_the_page_never_a_500(app, world, path, name, value):
    app.config["SCLERO_RATELIMIT_EXEMPT_LOOPBACK"] = True  # many sign-ins: not a limit test
    signed_in = app.test_client()
    assert login(signed_in, "alice@patients.example").status_code == 302
    session = signed_in.get_cookie("session").value
    client = app.test_client(use_cookies=False)  # sends exactly the header below
    for cookie in (f"session={session}; {name}={value}", f"{name}={value}"):
        r = client.get(path, headers={"Cookie": cookie})
        assert r.status_code in (200, 302, 404), (name, value[:50], r.status_code)
