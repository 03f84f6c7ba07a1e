"""Review of issue 17 points 3 and 4: any bytes and sizes in every URL part, query
argument and form field of the new routes (protocols, compare, sign-off, edit,
discharge, re-open, the patient list's filter), as an admin and as a clinician: an
answer, never a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import login
from tests.web.test_protocol_signoff import ADMIN
from tests.web.test_protocol_signoff import v2  # noqa: F401 - a fixture

DOC1 = "doc1@north.example"
# NUL, 100k characters, emoji, Hebrew (RTL), a lone surrogate percent-encoded (not
# UTF-8), numbers negative, past any integer, in other notations, a bidi override.
ODD = [
    "%00",
    "a" * 100_000,
    "%F0%9F%98%80",
    "%D7%A9%D7%9C%D7%95%D7%9D",
    "%ED%A0%80",
    "-1",
    "9" * 40,
    "1e3",
    "%201",
    "0x10",
    "%E2%80%AE",
]


FORM = "application/x-www-form-urlencoded"


def _form(fields: dict[str, str]) -> bytes:
    """A form body as a broken client sends it: a lone surrogate as its raw bytes."""
    return "&".join(
        f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in fields.items()
    ).encode()


@pytest.mark.parametrize("who", [DOC1, ADMIN])
def test_odd_url_parts_and_fields_never_answer_500(client, world, v2, who):  # noqa: F811
    login(client, who)
    a = world.patient_a
    answers = []
    for odd in ODD:
        for url in (
            f"/clinic/protocols/compression-72h/compare?old={odd}&new=2",
            f"/clinic/protocols/compression-72h/compare?new={odd}",
            f"/clinic/protocols/{odd}/compare",
            f"/clinic/protocols/versions/{odd}",
            f"/clinic/patients?status={odd}&q={odd}&page={odd}",
            f"/clinic/patients/{odd}/edit",
            f"/clinic/patients/{odd}/discharge",
        ):
            answers.append((url[:70], client.get(url).status_code))
        for url in (
            f"/clinic/protocols/versions/{odd}/sign-off",
            f"/clinic/patients/{odd}/reopen",
            f"/clinic/patients/{odd}/discharge",
            f"/clinic/patients/{odd}/edit",
        ):
            answers.append((url[:70], client.post(url, data={"confirm": "yes"}).status_code))
    text = ["\x00", "x" * 100_000, "😀" * 300, "שלום", "\ud800", "\u202eevil", ""]
    for value in text:
        for url, fields in (
            (f"/clinic/protocols/versions/{v2}/sign-off", ("confirm",)),
            (f"/clinic/patients/{a}/discharge", ("reason",)),
            (f"/clinic/patients/{a}/edit", ("name", "email", "phone", "timezone")),
        ):
            r = client.post(url, data=_form(dict.fromkeys(fields, value)), content_type=FORM)
            answers.append((url, r.status_code))
    assert [(what, code) for what, code in answers if code >= 500] == []
    # And the odd ones were refused, not taken: version 2 is still waiting for sign-off.
    assert "Not signed off" in client.get("/clinic/protocols").get_data(as_text=True)
