"""The pure photo rules: body sites, and where a photo taken now sits in a course."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.photos import Site
from app.domain.photos import SiteError
from app.domain.photos import place
from app.domain.photos import when_label

TZ = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_a_site_parses_and_reads_in_words():
    site = Site.parse("left", "calf", "inner")
    assert site.token == "left-calf-inner"
    assert site.label == "Left calf, inner side"
    assert Site.from_token("left-calf-inner") == site
    assert Site.from_values({"side": "left", "region": "calf", "view": "inner"}) == site


def test_a_site_with_a_missing_part_names_the_field():
    with pytest.raises(SiteError) as caught:
        Site.parse("left", "elbow", "inner")
    assert caught.value.field == "region"
    assert Site.from_token("left-elbow-inner") is None
    assert Site.from_token("left-calf") is None
    assert Site.from_token(None) is None


def test_with_no_sessions_a_photo_is_a_before_photo_of_nothing():
    assert place(NOW, TZ, None, None) == (None, "before", None)


def test_before_the_first_session_it_is_that_sessions_before_photo():
    assert place(NOW, TZ, (7, NOW + timedelta(days=30)), None) == (7, "before", -30)


def test_after_a_treatment_it_counts_days_unless_the_next_is_within_a_week():
    treated = NOW - timedelta(days=3)
    assert place(NOW, TZ, None, (5, treated)) == (5, "after", 3)
    assert place(NOW, TZ, (6, NOW + timedelta(days=10)), (5, treated)) == (5, "after", 3)
    assert place(NOW, TZ, (6, NOW + timedelta(days=2)), (5, treated)) == (6, "before", -2)


def test_the_label_names_the_session_only_when_there_are_several():
    assert when_label("before", None, 2, many=True) == "Before session 2"
    assert when_label("before", None, 1, many=False) == "Before treatment"
    assert when_label("after", 0, 2, many=True) == "Treatment day of session 2"
    assert when_label("after", 3, 1, many=False) == "Day 3 after treatment"


def test_a_site_the_app_does_not_know_is_named_as_stored():
    """A row written by an older version or by hand must not fail the page or the
    patient's data export: its label is the stored words."""
    assert Site("left", "calf", "inner").label == "Left calf, inner side"
    assert Site("../..", "/etc", "x").label == "../.. /etc, x"
