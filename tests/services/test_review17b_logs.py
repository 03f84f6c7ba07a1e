"""Review of token redaction in access logs (issue 17 point 6): paths a browser, a mail
client or a hand-typed link can produce that still reach the sign-in page, so still
carry a live token, must be redacted too."""

from __future__ import annotations

import pytest

from app import logredact

TOKEN = "Zm9vYmFyYmF6cXV4-_0123456789abcdefghijk"


@pytest.mark.parametrize(
    "line",
    [
        f'"GET //invite/{TOKEN} HTTP/1.1" 308',  # a doubled slash (merged by Werkzeug)
        f'"GET /invite//{TOKEN} HTTP/1.1" 308',
        f'"GET /invite/%2F{TOKEN} HTTP/1.1" 404',
        f'"GET /reset///{TOKEN} HTTP/1.1" 308',
        f'"-" "https://care.example/invite//{TOKEN}"',
    ],
)
def test_tokens_after_repeated_slashes_are_redacted(line):
    assert TOKEN not in logredact.redact(line)


def test_a_doubled_slash_still_reaches_the_sign_in_page(client, world, app):
    # Why it matters: the server merges the slashes and redirects to the live page.
    r = client.get(f"/invite//{TOKEN}")
    assert r.status_code in (301, 308)
    assert r.headers["Location"].endswith(f"/invite/{TOKEN}")
