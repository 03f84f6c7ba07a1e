"""The shared web helpers in app/web.py."""

from __future__ import annotations

import pytest

from app.web import device_label


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1", "iPhone, Safari"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120.0 Mobile Safari/537.36",
            "Android, Chrome",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64) Chrome/120.0 Safari/537.36 Edg/120.0",
            "Windows, Edge",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Linux, Firefox",
        ),
        ("curl/8.0", "Device, browser"),
    ],
)
def test_device_label_names_the_system_then_the_browser(user_agent, label):
    assert device_label(user_agent) == label
