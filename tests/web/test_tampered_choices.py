"""A tampered protocol value on the clinic's forms gets a plain message (an adversarial
test saw WTForms' own "Invalid Choice: could not coerce.")."""

from __future__ import annotations

import pytest

from tests.conftest import login
from tests.conftest import text_of


@pytest.mark.parametrize("value", ["abc", "1.5", "\x00", ""])
def test_a_protocol_that_is_no_number_is_choose_one_of_the_list(client, world, value):
    login(client, "doc1@north.example")
    data = {
        "name": "Ann Example",
        "email": "ann@x.example",
        "timezone": "Europe/London",
        "date": "2026-11-25",
        "time": "10:00",
        "protocol": value,
    }
    r = client.post("/clinic/patients/new", data=data)
    assert r.status_code == 400
    text = text_of(r)
    assert "Choose one of the protocols in the list." in text
    assert "coerce" not in text and "Invalid Choice" not in text
