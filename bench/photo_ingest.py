"""Photo ingest against bare Pillow doing the same work, interleaved in one run
(performance goals PG-P1..P4; issue 22 point 7, "honest ingest figures").

A realistic 12 MP phone photo (gradients, 8x8 texture, noise; EXIF with orientation,
GPS, make/model, date) and a HEIC made from it are measured four ways:

1. Pipeline, like for like. The app's pipeline (``app.adapters.imaging.process``)
   against bare Pillow doing the *same* work on the same bytes: the same reduced-scale
   JPEG decode (the draft box the pipeline asks libjpeg for), the same resize to the
   same output size (an exact integer reduction where the sizes allow one, as the
   pipeline does), the same upright turn, the same thumbnail size and filter, the same
   JPEG quality and subsampling. Both outputs are checked to have the same sizes, so the
   reference cannot quietly do less. Aim: pipeline / reference at most 1.0x.
2. HTTP upload. ``POST /patient/photos`` through gunicorn on 127.0.0.1 with the
   production configuration on a scratch database (PostgreSQL by default), each upload
   by a fresh signed-in patient (the daily photo quota must not interfere), against the
   same like-for-like reference of the same file in this process. Aim: at most 1.2x.
3. Peak memory. The absolute peak resident size (VmHWM from /proc) of a gunicorn worker
   started fresh for one JPEG upload and again for one HEIC upload. Aim: under 150 MB.
4. The S3 store on a loopback endpoint (moto) against the local folder (reported, not
   judged), and the peak memory of a 20 MB put through it (issue 21).

Noise: the machine is shared. Each round runs the reference and the measured step back
to back, and a round whose reference took more than ``NOISY`` (1.25) times the run's
quickest reference ran on a busy machine: it is left out. The verdict is the median
per-round ratio of the quiet rounds; with fewer than ``--min-quiet`` quiet rounds, or
when the ~95% interval of that median spans the aim (the spread is too large to tell
which side of it the truth lies), the line says TOO NOISY instead of PASS or MISS.

    .venv/bin/python bench/photo_ingest.py [--rounds 12] [--heic-rounds 6]
        [--min-quiet 5] [--database postgresql|sqlite] [--no-http | --http-only | --s3-only]

Exit status: 0 every judged line PASS, 1 any MISS, 2 otherwise any TOO NOISY or a
section that could not measure.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import PIL  # noqa: E402
import pillow_heif  # noqa: E402
from PIL import ExifTags  # noqa: E402
from PIL import Image  # noqa: E402
from PIL import ImageChops  # noqa: E402
from PIL import features  # noqa: E402
from py_vapid import Vapid  # noqa: E402

from app.adapters import imaging  # noqa: E402
from app.adapters import push  # noqa: E402
from app.adapters.photo_store import LocalPhotoStore  # noqa: E402
from app.adapters.photo_store_s3 import S3PhotoStore  # noqa: E402
from app.adapters.photo_store_s3 import make_client  # noqa: E402
from bench import today_page as server  # noqa: E402

# The bench encodes and decodes HEIF itself; the app registers the opener only on its
# first photo (app/adapters/imaging.py).
pillow_heif.register_heif_opener()

SIZE = (4032, 3024)
SETTINGS = imaging.Settings()
# The project's goals (issue 22 points 1 and 7), not looser aims.
GOAL_PIPELINE = 1.0  # pipeline / like-for-like bare Pillow
GOAL_HTTP = 1.2  # whole HTTP upload / like-for-like bare Pillow
GOAL_HEIC_DECODE = 1.3  # HEIC pipeline / pillow-heif decode alone (PG-P3)
GOAL_MB = 150  # absolute peak resident size of an app worker for one upload
# A round whose reference took more than this times the run's quickest reference was
# measured while something else used the CPU (the approach of bench/pages.py).
NOISY = 1.25
PASS, MISS, TOO_NOISY = "PASS", "MISS", "TOO NOISY"


def make_photo(size: tuple[int, int] = SIZE, noise: float = 10, texture: float = 18) -> Image.Image:
    """Gradients + an 8x8 block texture + Gaussian noise (performance anchors P1, noisy)."""
    w, h = size
    channels = [
        Image.linear_gradient("L").resize(size),
        Image.linear_gradient("L").rotate(90).resize(size),
        Image.radial_gradient("L").resize(size),
    ]
    blocks = Image.effect_noise((w // 8, h // 8), texture).resize(size, Image.Resampling.NEAREST)
    grain = Image.effect_noise(size, noise)
    mixed = [ImageChops.add(ImageChops.add(c, blocks, 1, -128), grain, 1, -128) for c in channels]
    return Image.merge("RGB", mixed)


def phone_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "BenchPhone"
    exif[ExifTags.Base.Model] = "BP-12"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:17 10:00:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (51.0, 30.0, 26.0)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "W", (0.0, 7.0, 39.0)
    return exif


def make_files(folder: str) -> tuple[str, str, float]:
    """The JPEG (q92) and a HEIC made from the same pixels; HEIC encode seconds."""
    im = make_photo()
    jpeg = os.path.join(folder, "photo.jpg")
    im.save(jpeg, "JPEG", quality=92, exif=phone_exif().tobytes())
    heic = os.path.join(folder, "photo.heic")
    exif = phone_exif().tobytes()  # as bytes, pillow-heif stores the rotation (irot) too
    started = time.perf_counter()
    try:  # x265's fastest preset: the default takes minutes on 2 cores
        im.save(heic, "HEIF", quality=80, exif=exif, enc_params={"preset": "ultrafast"})
    except (ValueError, RuntimeError):
        im.save(heic, "HEIF", quality=80, exif=exif)
    return jpeg, heic, time.perf_counter() - started


# ----------------------------------------------------------------- pure helpers


def draft_box(size: tuple[int, int], long_edge: int) -> tuple[int, int] | None:
    """The box the pipeline hands to ``Image.draft`` for a JPEG of ``size`` (None: no
    draft), worked out here so the reference asks libjpeg for the same scale."""
    width, height = size
    edge = int(long_edge * imaging.DRAFT_SLACK)
    if max(width, height) <= edge:
        return None
    factor = edge / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def exact_reduction(source: tuple[int, int], target: tuple[int, int]) -> int | None:
    """The integer factor that turns ``source`` into ``target`` with ``Image.reduce``
    (rounding up, as reduce does), or None when no such factor exists."""
    for factor in range(2, 17):
        if all(-(-s // factor) == t for s, t in zip(source, target, strict=True)):
            return factor
    return None


def median_interval(values: list[float]) -> tuple[float, float]:
    """A distribution-free ~95% confidence interval of the median: the order statistics
    at ranks n/2 -+ 0.98 sqrt(n) (the whole range for fewer than 6 values)."""
    ordered = sorted(values)
    n = len(ordered)
    k = max(1, math.floor(n / 2 - 0.98 * math.sqrt(n)))  # 1-based rank of the lower end
    return ordered[k - 1], ordered[n - k]


@dataclass(frozen=True)
class Judgement:
    """The verdict on interleaved (reference ms, measured ms) rounds against an aim."""

    verdict: str
    ratio: float  # median per-round ratio of the quiet rounds (of every round if too few)
    quiet: int
    rounds: int
    low: float  # the ~95% interval of the median of the quiet ratios
    high: float
    why: str = ""
    every: bool = False  # ratio and interval are over every round (too few were quiet)


def judge(rounds: list[tuple[float, float]], aim: float, min_quiet: int) -> Judgement:
    """PASS when the median ratio of the quiet rounds is within ``aim`` (lower is
    better), MISS when it is over; TOO NOISY when fewer than ``min_quiet`` rounds were
    quiet or when the median's ~95% interval spans the aim (too spread to tell which
    side of the aim the truth lies)."""
    if not rounds:
        return Judgement(TOO_NOISY, float("nan"), 0, 0, float("nan"), float("nan"), "no rounds")
    quickest = min(ref for ref, _ in rounds)
    quiet = [app / ref for ref, app in rounds if ref <= NOISY * quickest]
    if len(quiet) < max(min_quiet, 1):
        ratios = [app / ref for ref, app in rounds]
        why = f"only {len(quiet)} of {len(rounds)} rounds quiet, {min_quiet} needed"
        low, high = median_interval(ratios)
        overall = statistics.median(ratios)
        return Judgement(TOO_NOISY, overall, len(quiet), len(rounds), low, high, why, every=True)
    ratio = statistics.median(quiet)
    low, high = median_interval(quiet)
    if low <= aim < high:
        why = f"the median's 95% interval {low:.2f}-{high:.2f}x spans the aim"
        return Judgement(TOO_NOISY, ratio, len(quiet), len(rounds), low, high, why)
    verdict = PASS if ratio <= aim else MISS
    return Judgement(verdict, ratio, len(quiet), len(rounds), low, high)


def busy_note() -> str:
    """A warning when other work already keeps every core busy: a quiet reference round
    then says little about the other process (the app server) in the same round."""
    load, cpus = os.getloadavg()[0], server.cores()
    if load <= cpus:
        return ""
    return f"WARNING: load {load:.2f} on {cpus} CPU(s): other work competes for every core"


def mb_verdict(peak_mb: float, aim: float = GOAL_MB) -> str:
    return PASS if peak_mb < aim else MISS


# ----------------------------------------------------------------- the two sides


def like_for_like(
    data: bytes, full_size: tuple[int, int], thumb_size: tuple[int, int]
) -> tuple[bytes, bytes]:
    """Bare Pillow doing the pipeline's work: the same draft decode, the same output
    and thumbnail sizes and filters, upright, encoded with the same settings."""
    with Image.open(io.BytesIO(data)) as im:
        orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
        if im.format == "JPEG":
            box = draft_box(im.size, SETTINGS.long_edge)
            if box is not None:
                im.draft("RGB", box)
        im.load()
        turn = imaging._TRANSPOSE.get(orientation)  # the pipeline's own table
        upright = full_size[::-1] if turn in _QUARTER_TURNS else full_size
        factor = exact_reduction(im.size, upright)
        if im.size == upright:
            full = im
        elif factor is not None:
            full = im.reduce(factor)
        else:
            full = im.resize(upright, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if turn is not None:
            full = full.transpose(turn)
        thumb = full.resize(thumb_size, Image.Resampling.BICUBIC, reducing_gap=2.0)
        out, small = io.BytesIO(), io.BytesIO()
        full.save(out, "JPEG", quality=SETTINGS.quality, subsampling=0)
        thumb.save(small, "JPEG", quality=SETTINGS.thumb_quality, subsampling=2)
        return out.getvalue(), small.getvalue()


_QUARTER_TURNS = {
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
}


def reference_for(data: bytes) -> Callable[[bytes], object]:
    """The like-for-like reference for ``data``, checked to give the pipeline's sizes."""
    out = imaging.process(data, SETTINGS)
    with Image.open(io.BytesIO(out.thumb)) as t:
        thumb_size = t.size
    full_size = (out.width, out.height)
    full, thumb = like_for_like(data, full_size, thumb_size)
    with Image.open(io.BytesIO(full)) as a, Image.open(io.BytesIO(thumb)) as b:
        if (a.size, b.size) != (full_size, thumb_size):
            raise RuntimeError(
                f"the reference made {a.size} + {b.size}, the pipeline {full_size} + "
                f"{thumb_size}: not like for like"
            )
    return lambda d: like_for_like(d, full_size, thumb_size)


def heif_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as im:
        im.load()


def interleaved(rounds: int, data: bytes, **steps: Callable[[bytes], object]) -> dict:
    """Ms of each step, run in turn each round after one warm-up of each."""
    for step in steps.values():
        step(data)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            started = time.perf_counter()
            step(data)
            times[name].append((time.perf_counter() - started) * 1000)
    return times


def report(label: str, times: dict, ref: str, app: str, aim: float, min_quiet: int) -> str:
    """Print both sides and the judged ratio; the verdict."""
    for name in (ref, app):
        print(
            f"  {name:<44} median {statistics.median(times[name]):7.1f} ms  "
            f"(min {min(times[name]):.1f})"
        )
    return print_judgement(
        label, judge(list(zip(times[ref], times[app], strict=True)), aim, min_quiet), aim
    )


def print_judgement(label: str, j: Judgement, aim: float) -> str:
    spread = f"95% interval {j.low:.2f}-{j.high:.2f}x"
    note = f"; {j.why}" if j.why else ""
    over = f"every one of {j.rounds} rounds" if j.every else f"{j.quiet} quiet of {j.rounds} rounds"
    print(
        f"  {label}: {j.ratio:.2f}x median of {over} ({spread}{note})  [aim <= {aim}x: {j.verdict}]"
    )
    return j.verdict


# ----------------------------------------------------------------- over HTTP


def multipart(fields: dict[str, str], name: str, filename: str, data: bytes, kind: str):
    """A multipart/form-data body as a browser sends the upload form: (body, type)."""
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
    )
    parts += [data, f"\r\n--{boundary}--\r\n".encode()]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Uploader:
    """A signed-in patient ready to send one photo: session cookie and CSRF token."""

    cookie: str
    token: str

    @classmethod
    def sign_in(cls, port: int, email: str) -> Uploader:
        cookie, _ = server.sign_in(port, email)
        status, headers, body = server.fetch(
            port, "GET", "/patient/photos/new", {"Cookie": f"{server.COOKIE}={cookie}"}
        )
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body.decode())
        if status != 200 or token is None:
            raise server.BenchError(f"GET /patient/photos/new: status {status}, no CSRF token")
        return cls(server.session_cookie(headers) or cookie, token.group(1))

    def request(self, data: bytes, filename: str) -> tuple[bytes, dict[str, str]]:
        fields = {
            "csrf_token": self.token,
            "client_key": uuid.uuid4().hex,
            "side": "left",
            "region": "calf",
            "view": "front",
            "note": "",
        }
        kind = "image/heic" if filename.endswith(".heic") else "image/jpeg"
        body, content_type = multipart(fields, "photo", filename, data, kind)
        return body, {"Cookie": f"{server.COOKIE}={self.cookie}", "Content-Type": content_type}


def upload(port: int, prepared: tuple[bytes, dict[str, str]]) -> float:
    """Send one prepared upload; its ms from the first byte sent to the whole answer."""
    body, headers = prepared
    started = time.perf_counter()
    status, answer, _ = server.fetch(port, "POST", "/patient/photos", headers, body)
    elapsed = (time.perf_counter() - started) * 1000
    if status != 303 or "#photo-" not in (answer.get("Location") or ""):
        raise server.BenchError(f"POST /patient/photos answered {status}, not the saved photo")
    return elapsed


def start_app(env: dict[str, str], log: Path, workers: int) -> tuple:
    """gunicorn -k sync with ``workers`` workers on a free loopback port."""
    port = server.free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", str(workers)]
    cmd += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=server.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server.wait_until_up(proc, port, log)
    return proc, port


def worker_pid(master: int) -> int:
    """The one worker of a ``-w 1`` gunicorn master."""
    with open(f"/proc/{master}/task/{master}/children") as f:
        children = [int(p) for p in f.read().split()]
    if len(children) != 1:
        raise server.BenchError(f"gunicorn {master} has {len(children)} workers, expected 1")
    return children[0]


def status_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise server.BenchError(f"no {field} for process {pid}")


@contextlib.contextmanager
def app_database(kind: str, postgres: str, patients: int) -> Iterator[tuple[dict, list[str]]]:
    """A scratch database with ``patients`` fresh patients; production env and emails."""
    with server.scratch_database(kind, postgres) as url:
        server.prepare_database(server.dev_env(url))
        emails = server.add_patients(url, patients)
        photos = Path(tempfile.mkdtemp(prefix=".bench-photos-", dir=server.ROOT))
        try:
            env = server.production_env(url, None)
            env["FLASK_PHOTO_STORAGE_DIR"] = str(photos)
            # Several workers: production wants one push key shared by all of them.
            vapid = Vapid()
            vapid.generate_keys()
            env["FLASK_VAPID_PRIVATE_KEY"] = push.private_key_b64u(vapid)
            yield env, emails
        finally:
            shutil.rmtree(photos, ignore_errors=True)


def http_section(args, files: dict[str, bytes], tmp: Path) -> list[str]:
    """Upload timing against the like-for-like reference, then a fresh worker's peak."""
    plan = {"photo.jpg": args.rounds, "photo.heic": args.heic_rounds}
    needed = sum(n + 1 for n in plan.values()) + len(files)  # + a warm-up each, + peaks
    verdicts = []
    with app_database(args.database, args.postgres, needed) as (env, emails):
        proc, port = start_app(env, tmp / "app.log", server.cores())
        try:
            started = time.monotonic()
            with server.ThreadPoolExecutor(4) as pool:
                patients = list(pool.map(lambda e: Uploader.sign_in(port, e), emails))
            print(
                f"\nHTTP upload: POST /patient/photos, production config on {args.database}, "
                f"gunicorn -k sync -w {server.cores()} on 127.0.0.1; a fresh patient per "
                f"upload ({len(patients)} signed in in {time.monotonic() - started:.0f} s)"
            )
            for name, rounds in plan.items():
                data = files[name]
                reference = reference_for(data)
                reference(data)
                upload(port, patients.pop().request(data, name))  # warm-up
                times = []
                for _ in range(rounds):
                    prepared = patients.pop().request(data, name)
                    t0 = time.perf_counter()
                    reference(data)
                    ref = (time.perf_counter() - t0) * 1000
                    times.append((ref, upload(port, prepared)))
                refs, apps = [r for r, _ in times], [a for _, a in times]
                print(f"  {name}, {len(data) / 1e6:.2f} MB, {rounds} interleaved rounds")
                print(
                    f"    {'like-for-like bare Pillow (in process)':<42} median "
                    f"{statistics.median(refs):7.1f} ms  (min {min(refs):.1f})"
                )
                print(
                    f"    {'POST /patient/photos (whole request)':<42} median "
                    f"{statistics.median(apps):7.1f} ms  (min {min(apps):.1f})"
                )
                verdicts.append(
                    print_judgement(
                        f"  {name} upload / like-for-like",
                        judge(times, GOAL_HTTP, min(args.min_quiet, rounds)),
                        GOAL_HTTP,
                    )
                )
        finally:
            server.stop(proc)
        print("\nPeak memory of an app worker (VmHWM, gunicorn -w 1 started fresh per file)")
        for name, data in files.items():
            proc, port = start_app(env, tmp / f"peak-{name}.log", 1)
            try:
                prepared = patients.pop().request(data, name)
                pid = worker_pid(proc.pid)
                before = status_mb(pid, "VmRSS")
                upload(port, prepared)
                peak = status_mb(pid, "VmHWM")
            finally:
                server.stop(proc)
            verdict = mb_verdict(peak)
            verdicts.append(verdict)
            print(
                f"  {name}: peak {peak:.0f} MB (resident {before:.0f} MB before the upload, "
                f"+{peak - before:.0f} MB for it)  [aim < {GOAL_MB} MB: {verdict}]"
            )
    return verdicts


# ----------------------------------------------------------------- S3 store


def decode_growth(path: str, threads: int) -> float:
    """MB the resident peak grows by while pillow-heif decodes ``path`` in a fresh
    process with ``threads`` decode threads (why bounding the threads does not help)."""
    out = subprocess.check_output(
        [sys.executable, __file__, "--decode-peak", path, str(threads)], text=True
    )
    return float(out)


def decode_peak(path: str, threads: int) -> None:
    """Child process: warm the codec up, reset the peak, decode once, print the growth."""
    pillow_heif.options.DECODE_THREADS = threads
    small = io.BytesIO()
    Image.new("RGB", (64, 48)).save(small, "HEIF")
    heif_decode(small.getvalue())
    data = Path(path).read_bytes()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident size
    before = _status_kb("VmRSS")
    heif_decode(data)
    print((_status_kb("VmHWM") - before) / 1024)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def s3_peak(endpoint: str, path: str) -> None:
    """Child process: store the file at ``path`` through the S3 store once (after a small
    warm-up put), print resident MB before and the peak growth in MB."""
    store = S3PhotoStore(make_client(endpoint, "us-east-1"), BUCKET)
    store.put(b"warm-up")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kb("VmRSS")
    with open(path, "rb") as f:
        store.put(f)
    print(before / 1024, (_status_kb("VmHWM") - before) / 1024)


BUCKET = "bench-photos"


def s3_section(rounds: int, jpeg: bytes, folder: str) -> None:
    """Ingest through the S3 store / through the local folder; peak of a 20 MB put."""
    from moto.server import ThreadedMotoServer

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")  # moto accepts any; never real keys here
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = make_client(endpoint, "us-east-1")
        client.create_bucket(Bucket=BUCKET)
        s3 = S3PhotoStore(client, BUCKET)
        local = LocalPhotoStore(os.path.join(folder, "store-s3-compare"))

        def into(store: object) -> Callable[[bytes], None]:
            def ingest(data: bytes) -> None:
                out = imaging.process(data, SETTINGS)
                store.put(out.full)  # type: ignore[attr-defined]
                store.put(out.thumb)  # type: ignore[attr-defined]

            return ingest

        print(f"\nS3 store on a loopback endpoint ({endpoint}, moto); {rounds} rounds")
        times = interleaved(
            rounds,
            jpeg,
            **{"ingest + local folder": into(local), "ingest + S3 store": into(s3)},
        )
        ref, app = (
            statistics.median(times["ingest + local folder"]),
            statistics.median(times["ingest + S3 store"]),
        )
        per_round = statistics.median(
            a / r
            for a, r in zip(times["ingest + S3 store"], times["ingest + local folder"], strict=True)
        )
        print(f"  {'ingest + local folder':<34} median {ref:7.1f} ms")
        print(f"  {'ingest + S3 store':<34} median {app:7.1f} ms")
        print(
            f"  ingest S3 / local: {per_round:.2f}x per-round median "
            f"({app / ref:.2f}x of medians)  [reported, not judged]"
        )
        big = os.path.join(folder, "upload-20mb.bin")
        with open(big, "wb") as f:
            for _ in range(20):
                f.write(os.urandom(1 << 20))
        out = subprocess.check_output(
            [sys.executable, __file__, "--s3-peak", endpoint, big], text=True
        )
        before, growth = map(float, out.split())
        print(
            f"  peak memory of a 20 MB put through the S3 store: +{growth:.0f} MB over "
            f"{before:.0f} MB resident  [aim < {GOAL_MB} MB: "
            f"{'ok' if growth < GOAL_MB else 'OVER'}]"
        )
    finally:
        server.stop()


def metadata_tags(data: bytes, folder: str) -> tuple[int, int | None]:
    """EXIF tags Pillow sees, and metadata tags exiftool sees (None if not installed)."""
    with Image.open(io.BytesIO(data)) as im:
        pillow_count = len(im.getexif()) + len(
            {"exif", "xmp", "icc_profile", "comment"} & set(im.info)
        )
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        return pillow_count, None
    path = os.path.join(folder, "out.jpg")
    with open(path, "wb") as f:
        f.write(data)
    tags = json.loads(subprocess.check_output([exiftool, "-j", "-G", "-a", path]))[0]
    plain = {"ExifTool", "File", "JFIF", "Composite", "SourceFile"}
    return pillow_count, len([k for k in tags if k.split(":")[0] not in plain])


def pipeline_section(args, jpeg: bytes, heic: bytes, heic_encode: float, folder: str) -> list:
    """The pipeline against the like-for-like reference, JPEG then HEIC."""
    verdicts = []
    store = LocalPhotoStore(os.path.join(folder, "store"))

    def ingest_and_store(data: bytes) -> None:
        out = imaging.process(data, SETTINGS)
        store.put(out.full)
        store.put(out.thumb)

    box = draft_box(SIZE, SETTINGS.long_edge)
    print(
        f"\nJPEG {SIZE[0]}x{SIZE[1]} q92, EXIF orientation 6 + GPS + make/model + date, "
        f"{len(jpeg) / 1e6:.2f} MB; {args.rounds} interleaved rounds. Reference: draft "
        f"{box}, same sizes, upright, q{SETTINGS.quality} 4:4:4 + thumbnail "
        f"q{SETTINGS.thumb_quality} 4:2:0"
    )
    ref, app = "like-for-like bare Pillow", "app pipeline (imaging.process)"
    times = interleaved(
        args.rounds,
        jpeg,
        **{
            ref: reference_for(jpeg),
            app: lambda d: imaging.process(d, SETTINGS),
            "app pipeline + 2 durable writes": ingest_and_store,
        },
    )
    verdicts.append(
        report("JPEG pipeline / like-for-like", times, ref, app, GOAL_PIPELINE, args.min_quiet)
    )
    stored = statistics.median(times["app pipeline + 2 durable writes"])
    print(f"  {'app pipeline + 2 durable writes':<44} median {stored:7.1f} ms  (fsync included)")
    out = imaging.process(jpeg, SETTINGS)
    pillow_tags, exiftool_tags = metadata_tags(out.full, folder)
    print(
        f"  output {out.width}x{out.height}, {len(out.full) / 1e3:.0f} KB + thumbnail "
        f"{len(out.thumb) / 1e3:.0f} KB; metadata tags: Pillow {pillow_tags}, exiftool "
        f"{'not installed' if exiftool_tags is None else exiftool_tags}  [aim 0]"
    )

    print(
        f"\nHEIC from the same pixels, q80, {len(heic) / 1e6:.2f} MB (encoded once in "
        f"{heic_encode:.1f} s); {args.heic_rounds} interleaved rounds"
    )
    decode = "pillow-heif decode alone"
    times = interleaved(
        args.heic_rounds,
        heic,
        **{
            decode: heif_decode,
            ref: reference_for(heic),
            app: lambda d: imaging.process(d, SETTINGS),
        },
    )
    min_quiet = min(args.min_quiet, args.heic_rounds)
    verdicts.append(
        report("HEIC pipeline / like-for-like", times, ref, app, GOAL_PIPELINE, min_quiet)
    )
    verdicts.append(
        print_judgement(
            "HEIC pipeline / decode alone",
            judge(list(zip(times[decode], times[app], strict=True)), GOAL_HEIC_DECODE, min_quiet),
            GOAL_HEIC_DECODE,
        )
    )
    out = imaging.process(heic, SETTINGS)
    pillow_tags, exiftool_tags = metadata_tags(out.full, folder)
    print(
        f"  output {out.width}x{out.height}; metadata tags: Pillow {pillow_tags}, exiftool "
        f"{'not installed' if exiftool_tags is None else exiftool_tags}  [aim 0]"
    )
    growth = {n: decode_growth(os.path.join(folder, "photo.heic"), n) for n in (4, 1)}
    print(
        "  pillow-heif decode alone, fresh process: resident peak "
        + ", ".join(f"+{mb:.0f} MB with {n} decode thread(s)" for n, mb in growth.items())
        + "  [reported, not judged]"
    )
    return verdicts


def exit_status(verdicts: list[str]) -> int:
    if MISS in verdicts:
        return 1
    return 2 if TOO_NOISY in verdicts else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--heic-rounds", type=int, default=6)
    parser.add_argument(
        "--min-quiet",
        type=int,
        default=5,
        help="quiet rounds needed for a verdict (default 5, at most the rounds)",
    )
    parser.add_argument(
        "--database",
        choices=("postgresql", "sqlite"),
        default="postgresql",
        help="the app server's scratch database (default postgresql)",
    )
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--no-http", action="store_true", help="skip the app-server section")
    parser.add_argument("--http-only", action="store_true", help="only the app-server section")
    parser.add_argument("--s3-only", action="store_true", help="only the S3 store section")
    parser.add_argument("--s3-peak", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--decode-peak", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.decode_peak:
        decode_peak(args.decode_peak[0], int(args.decode_peak[1]))
        return 0
    if args.s3_peak:
        s3_peak(*args.s3_peak)
        return 0
    print(
        f"Pillow {PIL.__version__}, libjpeg-turbo {features.version('libjpeg_turbo')}, "
        f"pillow-heif {pillow_heif.__version__} (libheif {pillow_heif.libheif_version()}), "
        f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    busy = busy_note()
    if busy:
        print(busy)
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        jpeg_path, heic_path, heic_encode = make_files(folder)
        jpeg, heic = Path(jpeg_path).read_bytes(), Path(heic_path).read_bytes()
        if not (args.s3_only or args.http_only):
            verdicts += pipeline_section(args, jpeg, heic, heic_encode, folder)
        if not (args.s3_only or args.no_http):
            try:
                files = {"photo.jpg": jpeg, "photo.heic": heic}
                verdicts += http_section(args, files, Path(folder))
            except server.BenchError as exc:
                print(f"HTTP section could not measure: {exc}")
                verdicts.append(TOO_NOISY)
        if not args.http_only:
            s3_section(args.rounds, jpeg, folder)
    print(f"\nload at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    summary = {v: verdicts.count(v) for v in (PASS, MISS, TOO_NOISY) if v in verdicts}
    print("verdicts: " + (", ".join(f"{n} {v}" for v, n in summary.items()) or "none judged"))
    if busy or busy_note():
        print("(measured on a busy machine: a MISS on time may be the load; run again quieter)")
    return exit_status(verdicts)


if __name__ == "__main__":
    sys.exit(main())
