"""Real data for `make audit`: check-ins and photos on top of the demo patients.

Lighthouse on a patient with no check-ins or photos measures an empty page (issue 22
point 9). This gives the demo patients what a real course leaves behind, through the
app's own services, so every stored row and file is one the app itself would make:

* ``day3@`` and ``day20@``: a check-in for every day of their course so far
  (``checkins.submit_checkin``), the diary's and the clinician's pages fill up;
* ``day3@``: a few photos;
* ``day20@``: 200 photos (10 a day over 20 days, five sites, portrait and landscape),
  each a real JPEG made with Pillow and stored by ``photos.add_photo``, which
  re-encodes it and writes its thumbnail, as an upload does.

Run by tools/audit.py in its own process, against the scratch database it made
(``python -m tools.audit_seed``, with the same environment as the app). It takes a few
seconds: the JPEGs are small (1200 x 900), and one sign-in session serves every call.
"""

from __future__ import annotations

import io
import json
import sys
import time
from datetime import timedelta

import sqlalchemy as sa
from PIL import Image
from PIL import ImageDraw

from app import create_app
from app.clock import now
from app.extensions import db
from app.models import User
from app.services import checkins
from app.services import photos
from app.services.accounts import sessions
from app.services.checkins.submit import AnswersRefused
from app.services.photos import Site

DOMAIN = "demo.sclerocare.example"
BIG_ALBUM = 200
PER_DAY = 10
# Five areas a sclerotherapy patient photographs (side, part of the leg, view).
SITES = [
    Site("left", "calf", "back"),
    Site("right", "calf", "back"),
    Site("left", "thigh", "outer"),
    Site("right", "thigh", "outer"),
    Site("left", "ankle", "inner"),
]
COLOURS = [(196, 150, 132), (210, 170, 150), (180, 130, 115), (225, 190, 170), (170, 120, 100)]


def jpeg(index: int) -> bytes:
    """A distinct photo-like JPEG: skin tone, a vein-like line, portrait every third."""
    size = (900, 1200) if index % 3 == 0 else (1200, 900)
    image = Image.new("RGB", size, COLOURS[index % len(COLOURS)])
    draw = ImageDraw.Draw(image)
    w, h = size
    shift = (index * 37) % (w // 2)
    draw.line([(shift, 0), (w // 3 + shift, h // 2), (shift + 40, h)], fill=(90, 60, 140), width=9)
    draw.ellipse([w // 2, h // 3, w // 2 + 120 + index % 60, h // 3 + 80], fill=(150, 90, 110))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def signed_in(email: str):  # noqa: ANN201 - Principal
    """The patient as the services get them on a request: a real sign-in session."""
    user = db.session.scalar(sa.select(User).where(User.email == email))
    token = sessions.open_session(user, now())
    db.session.commit()
    return sessions.user_for_session(token, now())


def check_in_every_day(email: str, days: int) -> int:
    """One check-in a day, at 19:00 on each day of the course so far (day 1 on)."""
    user = signed_in(email)
    stored = 0
    today = now()
    for back in range(days - 1, -1, -1):
        at = (today - timedelta(days=back)).replace(hour=19, minute=0, second=0, microsecond=0)
        if at > today:
            at = today - timedelta(minutes=5)
        form = checkins.checkin_form(user, at)
        raw: dict[str, object] = {
            "pain": str((back * 3) % 5),
            "bruising": "mild" if back % 2 else "none",
            "itching": "no",
            "lumps": "yes" if back % 4 == 0 else "no",
            "skin": ["none"],
            "stockings_day": "yes",
            "stockings_night": "no",
            "walked": "yes",
            "elevated": "yes",
            "note": "Walked to the shops." if back % 5 == 0 else "",
            "red_flags": {q.key: "no" for q in form.questions},
        }
        try:
            checkins.submit_checkin(user, raw, f"audit-{email}-{back}", at)
            stored += 1
        except AnswersRefused as exc:
            raise SystemExit(f"audit seed: check-in of {at:%d %b} refused: {exc}") from None
    return stored


def add_photos(email: str, count: int, days: int) -> int:
    """``count`` photos, ``PER_DAY`` a day from ``days`` days ago, through the app."""
    user = signed_in(email)
    start = now() - timedelta(days=days)
    for index in range(count):
        at = start + timedelta(days=index // PER_DAY + 1, hours=8, minutes=index % PER_DAY)
        at = min(at, now() - timedelta(minutes=1))
        site = SITES[index % len(SITES)]
        note = "After a long walk." if index % 17 == 0 else ""
        photos.add_photo(user, jpeg(index), site, note, f"audit-{email}-{index}", at)
    return count


def seed() -> tuple[str, int]:
    started = time.monotonic()
    day3, day20 = f"day3@{DOMAIN}", f"day20@{DOMAIN}"
    done = [
        f"{check_in_every_day(day3, 3)} check-ins for day3@",
        f"{check_in_every_day(day20, 20)} check-ins for day20@",
        f"{add_photos(day3, 4, 3)} photos for day3@",
        f"{add_photos(day20, BIG_ALBUM, BIG_ALBUM // PER_DAY)} photos for day20@",
    ]
    album = db.session.scalar(sa.select(User).where(User.email == day20)).patient.id
    return f"audit seed: {', '.join(done)} in {time.monotonic() - started:.1f} s", album


def main() -> int:
    app = create_app()
    with app.app_context():
        summary, album = seed()
        day3 = db.session.scalar(
            sa.select(User).where(User.email == "day3@demo.sclerocare.example")
        ).patient.id
    # The last line is for tools/audit.py: the patients' ids (clinician pages).
    print(summary)
    print(json.dumps({"album_patient": album, "day3_patient": day3}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
