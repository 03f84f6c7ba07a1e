"""Each replacement of Flask behaviour in app/speedups.py behaves like what it replaces.

One section per replacement, in the order of the module's table: the kept session
serializer, the kept ``ensure_sync``, ``CheckInRequest``, the templates' ``url_for`` and
``url_with``, the kept ``csrf_token``, the fragment cache and gzip. Each compares the
app's answer with the one stock Flask (or Flask-WTF) gives for the same input.
"""

from __future__ import annotations

import gzip
import io
import re
from collections import namedtuple

import pytest
from flask import Flask
from flask import Response
from flask import render_template
from flask import render_template_string
from flask import stream_with_context
from flask import url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf
from flask_wtf.csrf import validate_csrf
from itsdangerous import BadSignature
from itsdangerous import TimestampSigner
from markupsafe import Markup
from werkzeug.routing import BuildError
from werkzeug.routing import IntegerConverter
from werkzeug.routing import PathConverter
from werkzeug.test import EnvironBuilder

from app import InputRequest
from app import create_app
from app import speedups
from app.extensions import db
from app.principal import ClinicInfo
from tests.web.test_auth import CsrfConfig

ROOTS = ("", "/care")

# ----------------------------------------------------------------- 1 session serializer


@pytest.fixture
def fixed_clock(monkeypatch):
    """Signed values carry a timestamp: pin it, so two signings can be compared."""
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_790_000_000)


def test_kept_serializer_signs_the_same_cookie_as_a_fresh_one(app, fixed_clock):
    data = {"_user_id": "token", "csrf_token": "raw", "_fresh": True}
    ours = app.session_interface
    assert isinstance(ours, speedups.CookieSessions)
    kept = ours.get_signing_serializer(app)
    assert ours.get_signing_serializer(app) is kept  # built once
    fresh = SecureCookieSessionInterface().get_signing_serializer(app)
    assert kept.dumps(data) == fresh.dumps(data)
    assert fresh.loads(kept.dumps(data)) == data


def test_kept_serializer_follows_a_new_secret_key_and_its_fallbacks(app, fixed_clock):
    data = {"n": 1}
    old_cookie = app.session_interface.get_signing_serializer(app).dumps(data)
    app.secret_key = "another-test-secret"
    kept = app.session_interface.get_signing_serializer(app)
    assert kept.dumps(data) == SecureCookieSessionInterface().get_signing_serializer(app).dumps(
        data
    )
    with pytest.raises(BadSignature):
        kept.loads(old_cookie)
    app.config["SECRET_KEY_FALLBACKS"] = ["test-only-not-secret"]
    kept = app.session_interface.get_signing_serializer(app)
    assert kept.loads(old_cookie) == data
    assert SecureCookieSessionInterface().get_signing_serializer(app).loads(old_cookie) == data


def test_a_session_written_by_one_request_is_read_by_the_next(app):
    @app.get("/_t/session/<value>")
    def put(value):
        from flask import session

        before = session.get("v", "")
        session["v"] = value
        return before

    client = app.test_client()
    assert client.get("/_t/session/one").get_data(as_text=True) == ""
    assert client.get("/_t/session/two").get_data(as_text=True) == "one"


# ----------------------------------------------------------------- 2 ensure_sync


def test_ensure_sync_gives_what_flask_gives_for_every_view(app):
    for func in app.view_functions.values():
        assert app.ensure_sync(func) is Flask.ensure_sync(app, func)
        assert app.ensure_sync(func) is app.ensure_sync(func)


def test_ensure_sync_of_a_coroutine_function_matches_flask(app):
    async def coroutine_view():
        return "done"

    try:
        expected = Flask.ensure_sync(app, coroutine_view)
    except RuntimeError as exc:  # Flask without its "async" extra (asgiref)
        with pytest.raises(RuntimeError, match=re.escape(str(exc))):
            app.ensure_sync(coroutine_view)
    else:
        ours = app.ensure_sync(coroutine_view)
        assert ours() == expected() == "done"
        assert app.ensure_sync(coroutine_view) is ours


# ----------------------------------------------------------------- 3 CheckInRequest

Upload = namedtuple("Upload", "name filename content_type data")


def _environ(app, path="/patient/checkin", method="POST", root="", **kwargs):
    builder = EnvironBuilder(path=path, method=method, base_url=f"http://localhost{root}", **kwargs)
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _parsed(request):
    files = {
        name: [(f.filename, f.content_type, f.read()) for f in request.files.getlist(name)]
        for name in request.files
    }
    return type(request.form), request.form.to_dict(flat=False), files


def test_checkin_paths_come_from_the_url_map(app):
    expected = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint == speedups.CHECKIN_ENDPOINT and "POST" in rule.methods
    }
    assert expected == {"/patient/checkin"}
    assert app.request_class.checkin_paths == expected
    assert issubclass(app.request_class, InputRequest)


def test_start_up_fails_when_the_checkin_route_is_gone_or_takes_arguments():
    bare = Flask(__name__)
    with pytest.raises(RuntimeError, match="patient.submit_checkin"):
        speedups.checkin_paths(bare)
    bare.add_url_rule(
        "/checkin/<int:day>",
        endpoint=speedups.CHECKIN_ENDPOINT,
        view_func=lambda day: "",
        methods=["POST"],
    )
    with pytest.raises(RuntimeError, match="patient.submit_checkin"):
        speedups.checkin_paths(bare)


def _checkin_form(encoding: str) -> dict:
    """The check-in form as the page sends it (fresh each time: a body is read once)."""
    form = {
        "pain": "4",
        "yes": ["chest-breathing", "calf-pain-swelling"],
        "note": "sore\r\nbehind the knee\x00",
        "client_key": "k1",
    }
    if encoding == "multipart":
        form["photo"] = (io.BytesIO(b"\xff\xd8 jpeg bytes"), "leg.jpg", "image/jpeg")
    return form


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_checkin_request_parses_the_form_as_the_stock_request_class(app, monkeypatch, encoding):
    monkeypatch.setattr("app.checkin_request._signed_in_patient", lambda: True)
    with app.app_context():
        ours = app.request_class(_environ(app, data=_checkin_form(encoding)))
        stock = InputRequest(_environ(app, data=_checkin_form(encoding)))
        try:
            assert ours.sends_checkin and ours.max_content_length > stock.max_content_length
            assert _parsed(ours) == _parsed(stock)
            assert _parsed(stock)[1]["note"] == ["sore\nbehind the knee"]  # textinput applies
        finally:
            ours.close()
            stock.close()


def test_the_larger_body_is_allowed_only_for_a_patient_sending_a_checkin(app, monkeypatch):
    signed_in = {"patient": True}
    monkeypatch.setattr("app.checkin_request._signed_in_patient", lambda: signed_in["patient"])
    big, usual = app.config["SCLERO_CHECKIN_MAX_BODY"], app.config["MAX_CONTENT_LENGTH"]

    def limit(**kwargs):
        return app.request_class(_environ(app, **kwargs)).max_content_length

    with app.app_context():
        assert limit() == big
        assert limit(root="/care") == big  # the path within the app, wherever it is mounted
        assert limit(method="GET") == usual
        assert limit(path="/patient/photos") == usual
        assert limit(path="/patient/checkin/") == usual
        assert limit(path="/login") == usual
        signed_in["patient"] = False
        assert limit() == usual
        assert limit(method="GET") == InputRequest(_environ(app)).max_content_length
        signed_in["patient"] = True
        request = app.request_class(_environ(app))
        request.max_content_length = 10  # set on the request: wins, as in Flask
        assert request.max_content_length == 10


# ----------------------------------------------------------------- 4 url_for and url_with


def _sample_values(rule) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = 7
        elif isinstance(converter, PathConverter):
            values[name] = "js/app.js"
        else:
            values[name] = "some-key"
    return values


def test_templates_url_for_equals_flask_url_for_for_every_endpoint(app):
    cached = app.jinja_env.globals["url_for"]
    for root in ROOTS + ROOTS:  # twice: the second round reads what the first one kept
        with app.test_request_context("/patient/today", environ_overrides={"SCRIPT_NAME": root}):
            for rule in app.url_map.iter_rules():
                values = _sample_values(rule)
                if values:
                    assert cached(rule.endpoint, **values) == url_for(rule.endpoint, **values)
                    with pytest.raises(BuildError):
                        cached(rule.endpoint)
                else:
                    assert cached(rule.endpoint) == url_for(rule.endpoint), rule
                    assert cached(rule.endpoint).startswith(root + "/")


def test_templates_url_for_with_values_goes_to_flask(app):
    cached = app.jinja_env.globals["url_for"]
    calls = [
        ("patient.today", {}),
        ("patient.today", {"_external": True}),
        ("patient.today", {"_anchor": "help-title"}),
        ("patient.today", {"page": 2, "q": "a b"}),
        ("patient.today", {"_external": True, "_scheme": "https"}),
        (".plan", {}),  # relative to the request's blueprint
        ("clinician.patient", {"patient_id": 3, "_anchor": "day-9"}),
    ]
    for root in ROOTS:
        with app.test_request_context("/patient/today", environ_overrides={"SCRIPT_NAME": root}):
            for endpoint, values in calls + calls:
                assert cached(endpoint, **values) == url_for(endpoint, **values)


def test_url_with_equals_url_for_for_every_one_id_route(app):
    url_with = app.jinja_env.globals["url_with"]
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if len(rule.arguments) == 1 and isinstance(_one_converter(rule), IntegerConverter)
    ]
    assert rules
    for root in ROOTS:
        with app.test_request_context("/clinic/", environ_overrides={"SCRIPT_NAME": root}):
            for rule in rules:
                (name,) = rule.arguments
                for value in (1, 42, 9876543, 2**31 - 1):
                    assert url_with(rule.endpoint, name, value) == url_for(
                        rule.endpoint, **{name: value}
                    )


def _one_converter(rule):
    (converter,) = rule._converters.values()
    return converter


def test_asset_urls_equal_url_for_with_the_file_hash(app):
    asset = app.jinja_env.globals["asset"]
    hashes = app.extensions["sclero_assets"]["hashes"]
    for root in ROOTS + ROOTS:
        with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": root}):
            for name in ("js/app.js", "css/photos.css", "no/such/file.js"):
                expected = url_for("static", filename=name, v=hashes.get(name, "0"))
                assert asset(name) == expected


# ----------------------------------------------------------------- 5 csrf_token


@pytest.fixture
def csrf_app(database_url, _schema):
    app = create_app(CsrfConfig, SQLALCHEMY_DATABASE_URI=database_url)
    yield app
    with app.app_context():
        db.engine.dispose()


def test_kept_csrf_token_is_one_flask_wtf_accepts_and_the_same_all_request(csrf_app, monkeypatch):
    # Signing is timestamped to the second: move the clock, so a re-signed token differs.
    clock = iter(range(1_790_000_000, 1_790_100_000, 100))
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: next(clock))
    ours = csrf_app.jinja_env.globals["csrf_token"]
    with csrf_app.test_request_context("/patient/today") as ctx:
        token = ours()
        assert token == ours() == generate_csrf()  # one token per request, Flask-WTF's too
        assert render_template_string("{{ csrf_token() }}") == token
        validate_csrf(token)
        raw = ctx.session["csrf_token"]
    # A later request of the same session: the same token, still accepted; and it holds
    # what Flask-WTF's own, freshly signed token holds.
    with csrf_app.test_request_context("/patient/plan") as ctx:
        ctx.session["csrf_token"] = raw
        assert ours() == token
        validate_csrf(token)
    with csrf_app.test_request_context("/patient/plan") as ctx:
        ctx.session["csrf_token"] = raw
        stock = generate_csrf()
        validate_csrf(stock)
        serializer = _csrf_serializer(csrf_app)
        assert serializer.loads(stock) == serializer.loads(token) == raw


def _csrf_serializer(app):
    from itsdangerous import URLSafeTimedSerializer

    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    return URLSafeTimedSerializer(secret, "wtf-csrf-token")


def test_another_session_gets_its_own_token(csrf_app):
    ours = csrf_app.jinja_env.globals["csrf_token"]
    with csrf_app.test_request_context("/"):
        first = ours()
    with csrf_app.test_request_context("/"):
        second = ours()
        with pytest.raises(Exception, match="do not match"):
            validate_csrf(first)
    assert first != second


def test_with_a_time_limit_the_token_is_flask_wtfs_own(csrf_app):
    csrf_app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    ours = csrf_app.jinja_env.globals["csrf_token"]
    with csrf_app.test_request_context("/"):
        token = ours()
        assert token == generate_csrf()
        validate_csrf(token)


# ----------------------------------------------------------------- 6 fragment cache

Flag = namedtuple("Flag", "title detail")


def _clinic(n: int, **changes) -> ClinicInfo:
    fields = dict(
        id=n,
        name=f"Clinic {n}",
        phone=f"01632 960 {n:03}",
        emergency_number="999",
        opening_hours="Mon-Fri 09:00-17:00",
        out_of_hours="Or go to an urgent treatment centre.",
        timezone="Europe/London",
        out_of_hours_name="NHS 111",
        out_of_hours_phone="111",
    )
    return ClinicInfo(**{**fields, **changes})


FLAGS = [
    None,
    {
        "emergency": [Flag("Chest pain", "")],
        "same_day": [Flag("A hot, swollen calf", "Call today")],
        "routine": [],
    },
    {
        "emergency": [Flag("Sudden breathlessness", "")],
        "same_day": [],
        "routine": [Flag("Brown lines", "")],
    },
]


def test_kept_help_box_equals_a_fresh_rendering_for_each_clinic_and_flags(app):
    help_box = app.jinja_env.globals["help_box"]
    clinics = [_clinic(1), _clinic(2), _clinic(3, out_of_hours_phone="", emergency_number="112")]
    with app.test_request_context("/patient/today"):
        for _ in range(2):
            for clinic in clinics:
                for flags in FLAGS:
                    kept = help_box(clinic, flags)
                    fresh = render_template("patient/_help.html", clinic=clinic, flags=flags)
                    assert isinstance(kept, Markup) and kept == fresh


def test_kept_tab_bar_equals_a_fresh_rendering_for_each_page(app):
    patient_nav = app.jinja_env.globals["patient_nav"]
    paths = ["/patient/today", "/patient/plan", "/patient/checklist", "/patient/diary", "/login"]
    for root in ROOTS + ROOTS:
        for path in paths:
            environ = {"SCRIPT_NAME": root}
            with app.test_request_context(path, environ_overrides=environ) as ctx:
                endpoint = ctx.request.endpoint
                fresh = render_template("_nav_patient.html", endpoint=endpoint)
                assert patient_nav() == fresh
                assert ('aria-current="page"' in fresh) == path.startswith("/patient/")


def test_a_full_fragment_cache_starts_again_and_stays_right(app, monkeypatch):
    monkeypatch.setattr(speedups.FragmentCache, "LIMIT", 2)
    help_box = app.jinja_env.globals["help_box"]
    clinics = [_clinic(n) for n in range(1, 6)]
    with app.test_request_context("/patient/today"):
        for clinic in clinics + clinics:
            expected = render_template("patient/_help.html", clinic=clinic, flags=None)
            assert help_box(clinic, None) == expected
        assert len(app.extensions["sclero_fragments"]._done) <= 2


# ----------------------------------------------------------------- 7 gzip

BIG = "<!doctype html><p>" + "A line of the page that repeats. " * 60 + "</p>"
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.fixture
def routes(app):
    @app.get("/_t/page")
    def page():
        return BIG

    @app.get("/_t/small")
    def small():
        return "<p>short</p>"

    @app.get("/_t/created")
    def created():
        return BIG, 201

    @app.get("/_t/png")
    def png():
        return Response(b"\x89PNG" + bytes(2000), mimetype="image/png")

    @app.get("/_t/encoded")
    def encoded():
        body = gzip.compress(BIG.encode())
        return Response(body, mimetype="text/html", headers={"Content-Encoding": "gzip"})

    @app.get("/_t/stream")
    def stream():
        def lines():
            for _ in range(100):
                yield "streamed line\n"

        return Response(stream_with_context(lines()), mimetype="text/plain")

    return app.test_client()


def _lower(values) -> set[str]:
    return {value.lower() for value in values}


def _headers_but_encoding(response) -> list[tuple[str, str]]:
    skip = {"content-length", "content-encoding", "vary"}
    return sorted((k, v) for k, v in response.headers.items() if k.lower() not in skip)


def test_gzip_body_and_headers_match_the_plain_response(routes):
    for path in ("/_t/page", "/_t/stream"):
        plain, packed = routes.get(path), routes.get(path, headers=GZIP)
        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "accept-encoding" not in plain.vary
        assert _lower(packed.vary) == _lower(plain.vary) | {"accept-encoding"}
        assert gzip.decompress(packed.data) == plain.data
        assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
        assert _headers_but_encoding(packed) == _headers_but_encoding(plain)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/_t/page", {}),  # the client did not ask for gzip
        ("/_t/page", {"Accept-Encoding": "identity"}),
        ("/_t/small", GZIP),  # under 500 bytes
        ("/_t/created", GZIP),  # only 200s
        ("/_t/png", GZIP),  # not a text type
        ("/_t/encoded", GZIP),  # already encoded by the view
    ],
)
def test_no_gzip_where_the_rules_say_not(routes, path, headers):
    plain = routes.get(path, headers={"Accept-Encoding": "identity"})
    response = routes.get(path, headers=headers)
    assert response.data == plain.data
    assert response.headers.get("Content-Encoding") == plain.headers.get("Content-Encoding")
    assert "accept-encoding" not in response.vary


def test_a_static_file_is_compressed_and_keeps_its_validators(app):
    client = app.test_client()
    version = app.extensions["sclero_assets"]["hashes"]["js/app.js"]
    path = f"/static/js/app.js?v={version}"
    with client.get(path) as plain, client.get(path, headers=GZIP) as packed:
        plain.get_data()
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert int(packed.headers["Content-Length"]) == len(packed.data)
    assert packed.headers["Cache-Control"] == plain.headers["Cache-Control"]
    assert "immutable" in packed.headers["Cache-Control"]
    assert packed.headers["ETag"] == plain.headers["ETag"]
    assert packed.headers["Last-Modified"] == plain.headers["Last-Modified"]
    with client.get(path, headers={**GZIP, "If-None-Match": packed.headers["ETag"]}) as again:
        again.get_data()
    assert again.status_code == 304 and again.data == b""
    assert "Content-Encoding" not in again.headers


def test_a_static_file_is_compressed_once_and_kept(app, monkeypatch):
    """Static files are gzipped once per process (smallest size) and the kept bytes sent
    again; a page is compressed afresh every time (its bytes differ)."""
    from app import speedups

    speedups._static_gz.clear()
    calls = []
    real = gzip.compress
    monkeypatch.setattr(
        speedups.gzip, "compress", lambda d, **kw: calls.append(kw) or real(d, **kw)
    )
    client = app.test_client()
    version = app.extensions["sclero_assets"]["hashes"]["js/app.js"]
    path = f"/static/js/app.js?v={version}"
    first, second = client.get(path, headers=GZIP), client.get(path, headers=GZIP)
    assert first.data == second.data and first.headers["Content-Encoding"] == "gzip"
    assert calls == [{"compresslevel": speedups.STATIC_LEVEL}]
    with client.get(path) as plain:
        assert gzip.decompress(second.data) == plain.get_data()
