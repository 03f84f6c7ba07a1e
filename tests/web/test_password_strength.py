"""How strong a new password must be (issue 18 point 5; checklist A2): zxcvbn's score,
the shipped common-password list, and the person's own email and name, on the
invitation and reset pages, with the messages a patient reads.
"""

from __future__ import annotations

import pytest

from app.services.accounts import passwords
from app.services.errors import Invalid
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_auth import _invite

BOB = "bob@patients.example"  # named "Bob Marker-B" in the test world
PASSPHRASE = "harbour lantern velvet orbit ginger"


def _choose(client, app, password: str):
    token = _invite(app, BOB)
    return client.post(f"/invite/{token}", data={"password": password, "confirm": password})


@pytest.mark.parametrize(
    ("password", "message"),
    [
        # Twelve characters, so only the strength check can refuse it.
        ("aaaaaaaaaaaa", 'easy to guess. Try a few unrelated words. Repeats like "aaa"'),
        ("abcdefghijklmnop", "easy to guess. Try a few unrelated words. Sequences like"),
        ("1q2w3e4r5t6y7u8i", "easy to guess. Try a few unrelated words."),
        # On the list, in any case.
        ("qwerty123456", "too common, so it is easy to guess. Try a few unrelated words."),
        ("QwErTy123456", "too common"),
        ("LeaveMeAlone", "too common"),
        # The person's own email, its local part, their name.
        (BOB, "do not build your password from your email or name"),
        ("Bob@Patients.Example 1", "do not build your password from your email or name"),
        ("bob bob bob bob", "do not build your password from your email or name"),
        ("Bob Marker-B 2026", "do not build your password from your email or name"),
        ("bobmarkerb!!bobmarkerb", "do not build your password from your email or name"),
    ],
)
def test_guessable_passwords_are_refused_with_a_plain_message(
    app, client, world, password, message
):
    page = _choose(client, app, password)
    assert page.status_code == 400
    assert message in text_of(page)
    # Shown at the field, as every form error is (aria-describedby).
    html = page.get_data(as_text=True)
    assert 'aria-describedby="password-error"' in html or 'id="password-error"' in html


@pytest.mark.parametrize(
    "password",
    [
        PASSPHRASE,  # five unrelated words
        PASSWORD,  # every test user's password: still good
        "Bob's garden has seven tall sunflowers",  # a first name inside a sentence
        "Grüße, café ☕ and emoji 🦵 too",
        # Over zxcvbn's 72 characters: scored on its start, not refused for its length.
        "The quiet ferry left the harbour at dawn while gulls circled the old stone pier",
    ],
)
def test_good_passphrases_are_accepted(app, client, world, password):
    assert _choose(client, app, password).status_code == 302
    client.post("/logout")
    assert login(client, BOB, password).status_code == 302


def test_a_long_repeat_is_refused_whatever_its_length():
    for password in ("a" * 128, "ab" * 64, "password" * 16):
        with pytest.raises(Invalid) as refused:
            passwords.check_password_rules(password)
        assert "easy to guess" in refused.value.message


def test_the_reset_page_refuses_the_persons_own_email_and_name(
    app, client, world, in_app, clock, smtp_server
):
    from tests.web.test_password_reset import _deliver
    from tests.web.test_password_reset import _reset_path

    client.post("/forgot-password", data={"email": "alice@patients.example"})
    _deliver(in_app, clock)
    path = _reset_path(smtp_server, "alice@patients.example")
    for mine in ("alice@patients.example", "Alice Marker-A 99", "alicealicealice"):
        page = client.post(path, data={"password": mine, "confirm": mine})
        assert page.status_code == 400
        assert "do not build your password from your email or name" in text_of(page)
    page = client.post(path, data={"password": PASSPHRASE, "confirm": PASSPHRASE})
    assert page.status_code == 303


def test_the_common_list_is_large_documented_and_read_once():
    text = passwords.COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("tools/build_common_passwords.py" in line for line in header)
    assert any("zxcvbn" in line for line in header)
    common = passwords.common_passwords()
    assert len(common) >= 10_000
    assert all(word == word.lower() for word in common)
    assert {"qwerty123456", "password1234"} <= common
    # Read once, not per check: the rules only ever read the one frozenset.
    assert isinstance(common, frozenset)
    assert passwords.common_passwords() is common


def test_the_list_on_disk_is_what_the_tool_makes():
    """The header says how the list was made; the tool makes the same list again."""
    from tools.build_common_passwords import build

    on_disk = [
        line
        for line in passwords.COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert on_disk == build()
