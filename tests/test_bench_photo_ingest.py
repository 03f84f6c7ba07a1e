"""bench/photo_ingest.py judges honestly (issue 22 point 7): its reference does the
pipeline's work (the same draft scale and output sizes), noisy rounds are left out and
too few quiet ones, or a spread across the aim, is TOO NOISY rather than a verdict; the
upload body it sends is a form the app's own parser reads."""

from __future__ import annotations

import io
import statistics

import pytest
from PIL import ExifTags
from PIL import Image
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from app.adapters import imaging
from bench import photo_ingest as bench


def _jpeg(size: tuple[int, int], orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    out = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").resize(size).save(
        out, "JPEG", quality=90, exif=exif.tobytes()
    )
    return out.getvalue()


@pytest.mark.parametrize("size", [(4032, 3024), (3024, 4032), (2600, 1950), (1200, 900)])
def test_the_reference_drafts_at_the_pipelines_scale(size):
    data = _jpeg(size)
    with Image.open(io.BytesIO(data)) as app, Image.open(io.BytesIO(data)) as ref:
        imaging._draft(app, bench.SETTINGS.long_edge)
        box = bench.draft_box(size, bench.SETTINGS.long_edge)
        if box is not None:
            ref.draft("RGB", box)
        app.load()
        ref.load()
        assert ref.size == app.size
    assert (box is None) == (max(size) <= bench.SETTINGS.long_edge * imaging.DRAFT_SLACK)


def test_exact_reduction_finds_the_integer_factor_or_none():
    assert bench.exact_reduction((4032, 3024), (2016, 1512)) == 2
    assert bench.exact_reduction((4031, 3023), (2016, 1512)) == 2  # reduce rounds up
    assert bench.exact_reduction((4032, 3024), (1008, 756)) == 4
    assert bench.exact_reduction((4032, 3024), (2048, 1536)) is None


@pytest.mark.parametrize(
    ("size", "orientation"), [((4032, 3024), 6), ((4032, 3024), 1), ((2600, 1950), 8)]
)
def test_the_reference_makes_the_pipelines_sizes(size, orientation):
    data = _jpeg(size, orientation)
    out = imaging.process(data, bench.SETTINGS)
    full, thumb = bench.reference_for(data)(data)
    with Image.open(io.BytesIO(full)) as a, Image.open(io.BytesIO(thumb)) as b:
        with Image.open(io.BytesIO(out.thumb)) as t:
            assert (a.size, b.size) == ((out.width, out.height), t.size)
        assert a.format == b.format == "JPEG"


def test_quiet_rounds_within_the_aim_pass_and_over_it_miss():
    within = bench.judge([(100.0, 95.0)] * 6, 1.0, 5)
    assert (within.verdict, within.ratio, within.quiet) == (bench.PASS, 0.95, 6)
    over = bench.judge([(100.0, 110.0)] * 6, 1.0, 5)
    assert (over.verdict, over.ratio) == (bench.MISS, 1.1)


def test_noisy_rounds_are_left_out_of_the_verdict():
    rounds = [(100.0, 90.0)] * 5 + [(300.0, 900.0)]  # the slow reference: a busy machine
    judged = bench.judge(rounds, 1.0, 5)
    assert (judged.verdict, judged.quiet, judged.rounds, judged.ratio) == (bench.PASS, 5, 6, 0.9)


def test_too_few_quiet_rounds_is_too_noisy_not_a_verdict():
    rounds = [(100.0, 90.0), (100.0, 90.0)] + [(200.0, 120.0)] * 4
    judged = bench.judge(rounds, 1.0, 3)
    assert judged.verdict == bench.TOO_NOISY
    assert "only 2 of 6 rounds quiet, 3 needed" in judged.why
    assert judged.every and judged.ratio == statistics.median([0.9, 0.9, 0.6, 0.6, 0.6, 0.6])


def test_a_spread_across_the_aim_is_too_noisy():
    rounds = [(100.0, 90.0), (100.0, 112.0)] * 4
    judged = bench.judge(rounds, 1.0, 5)
    assert judged.verdict == bench.TOO_NOISY
    assert judged.low < 1.0 < judged.high


def test_no_rounds_is_too_noisy():
    assert bench.judge([], 1.0, 1).verdict == bench.TOO_NOISY


def test_the_median_interval_widens_to_the_range_for_few_values():
    assert bench.median_interval([3.0, 1.0, 2.0, 5.0, 4.0]) == (1.0, 5.0)
    values = [float(v) for v in range(1, 26)]  # 25 values: ranks 7 and 19
    assert bench.median_interval(values) == (7.0, 19.0)


def test_memory_and_exit_status():
    assert bench.mb_verdict(149.9) == bench.PASS
    assert bench.mb_verdict(150.0) == bench.MISS
    assert bench.exit_status([bench.PASS, bench.PASS]) == 0
    assert bench.exit_status([bench.PASS, bench.TOO_NOISY]) == 2
    assert bench.exit_status([bench.TOO_NOISY, bench.MISS]) == 1


def test_the_upload_body_is_a_form_the_app_parses():
    photo = _jpeg((64, 48))
    fields = {"csrf_token": "t0k", "side": "left", "region": "calf", "view": "front"}
    body, content_type = bench.multipart(fields, "photo", "photo.jpg", photo, "image/jpeg")
    environ = EnvironBuilder(
        method="POST",
        input_stream=io.BytesIO(body),
        content_type=content_type,
        content_length=len(body),
    ).get_environ()
    request = Request(environ)
    try:
        assert request.form.to_dict() == fields
        upload = request.files["photo"]
        assert (upload.filename, upload.mimetype, upload.read()) == (
            "photo.jpg",
            "image/jpeg",
            photo,
        )
    finally:
        request.close()  # the parsed file: closed here, not at garbage collection
