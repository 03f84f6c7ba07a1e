"""Photo diary use-cases: add, list by day, compare, serve, delete; the clinic's views.

Write order for a new photo (security checklist F3): re-encode in memory, write both
files durably (``storage``), insert the row, commit, answer. Any error before the commit
removes the files again; a crash leaves only unreferenced files, which ``sweep`` removes.
Every read of a file checks its sha256 against the row. Other patients' photos, and
other clinics', are "not found"; every clinician view is audited.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.adapters import imaging
from app.adapters.photo_store import LocalPhotoStore
from app.adapters.photo_store import PhotoStore
from app.adapters.photo_store import SimulatedCrash
from app.domain.offsets import day_number
from app.domain.offsets import local_date
from app.extensions import db
from app.models import Patient
from app.models import Photo
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.care.recovery import Course
from app.services.care.recovery import load_course
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.locking import lock_patient

log = logging.getLogger(__name__)

SIDES = {"left": "Left", "right": "Right"}
REGIONS = {"thigh": "thigh", "knee": "knee", "calf": "calf", "ankle": "ankle", "foot": "foot"}
VIEWS = {"front": "front", "back": "back", "inner": "inner side", "outer": "outer side"}
# A photo taken this close before a booked session belongs to that session's "before" set.
BEFORE_DAYS = 7
NOTE_MAX = 500
PAGE = 40


@dataclass(frozen=True)
class Site:
    """A body site: side, region and view (``left-calf-inner``)."""

    side: str
    region: str
    view: str

    @classmethod
    def parse(cls, side: str | None, region: str | None, view: str | None) -> Site:
        """A site from form values; :raises Invalid: naming the missing part."""
        for field, value, allowed, what in (
            ("side", side, SIDES, "left or right"),
            ("region", region, REGIONS, "the part of the leg"),
            ("view", view, VIEWS, "front, back, inner or outer"),
        ):
            if value not in allowed:
                raise Invalid(field, f"Please choose {what}.")
        return cls(side, region, view)  # type: ignore[arg-type]

    @classmethod
    def from_token(cls, token: str | None) -> Site | None:
        parts = (token or "").split("-")
        try:
            return cls.parse(*parts) if len(parts) == 3 else None
        except Invalid:
            return None

    @classmethod
    def from_values(cls, values: Mapping[str, str]) -> Site | None:
        """A site from a ``site`` token or side/region/view values (query or form)."""
        parts = (values.get(k, "") for k in ("side", "region", "view"))
        return cls.from_token(values.get("site") or "-".join(parts))

    @property
    def token(self) -> str:
        return f"{self.side}-{self.region}-{self.view}"

    @property
    def label(self) -> str:
        return f"{SIDES[self.side]} {REGIONS[self.region]}, {VIEWS[self.view]}"


@dataclass(frozen=True)
class PhotoItem:
    """A photo as pages show it."""

    id: int
    site: Site
    taken_at: datetime
    taken_on: date
    when: str  # "Day 3 after treatment", "Before session 2"
    note: str
    width: int
    height: int

    def thumb_size(self, edge: int = 320) -> tuple[int, int]:
        """The thumbnail's size (for width/height attributes, so pages do not jump)."""
        scale = min(1.0, edge / max(self.width, self.height))
        return max(1, round(self.width * scale)), max(1, round(self.height * scale))


@dataclass(frozen=True)
class PhotoDay:
    on: date
    when: str
    photos: list[PhotoItem]


@dataclass(frozen=True)
class PhotoDiary:
    tz: str
    days: list[PhotoDay]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE))


@dataclass(frozen=True)
class Comparison:
    """Two photos of one site side by side, and the choices for each slot."""

    tz: str
    sites: list[tuple[Site, int]]  # every site with photos, and how many
    site: Site | None
    choices: list[PhotoItem]  # the site's photos, oldest first
    left: PhotoItem | None
    right: PhotoItem | None


# ------------------------------------------------------------------ settings


def settings() -> imaging.Settings:
    config = current_app.config
    return imaging.Settings(
        max_pixels=config["PHOTO_MAX_PIXELS"],
        long_edge=config["PHOTO_LONG_EDGE"],
        thumb_edge=config["PHOTO_THUMB_EDGE"],
        quality=config["PHOTO_JPEG_QUALITY"],
    )


def store() -> PhotoStore:
    """The configured store (a local folder outside static/ by default)."""
    root = current_app.config.get("PHOTO_STORAGE_DIR") or os.path.join(
        current_app.instance_path, "photos"
    )
    return LocalPhotoStore(root, crash_at=_crash_stage())


def _crash_stage() -> str | None:
    return current_app.config.get("PHOTO_CRASH_AT") if current_app.testing else None


def _crash(stage: str) -> None:
    if _crash_stage() == stage:
        raise SimulatedCrash(stage)


# ------------------------------------------------------------------ adding


def add_photo(
    user: Principal,
    data: bytes,
    site: Site,
    note: str,
    client_key: str | None,
    now: datetime,
) -> Photo:
    """Re-encode and store a photo of a site, placed in the patient's course.

    A repeated ``client_key`` (double tap, replay) returns the photo stored the first time.

    :raises Invalid: for a file that is not an acceptable photo, a note that is too long,
        or a full quota; nothing is stored then.
    """
    course = load_course(user)
    patient_id = course.patient.id
    client_key = (client_key or "").strip()[:64] or None
    if client_key:
        replay = _replay(patient_id, client_key)
        if replay is not None:
            return replay
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise Invalid("note", f"Please keep the note under {NOTE_MAX} characters.")
    _check_quota(patient_id, local_date(now, course.tz))
    try:
        processed = imaging.process(data, settings())
    except imaging.Rejected as exc:
        raise Invalid("photo", str(exc)) from None
    treatment_id, phase, day = place(course, now)
    # One writer per patient from here (after the slow image work): the same key sent
    # from two devices or tabs at once stores one photo, and the second gets it back
    # rather than a clash on the unique key (issue 15 point 3).
    lock_patient(patient_id)
    if client_key:
        replay = _replay(patient_id, client_key)
        if replay is not None:
            db.session.commit()  # nothing written: just let the lock go
            return replay
    try:
        _check_quota(patient_id, local_date(now, course.tz))
    except Invalid:
        db.session.rollback()
        raise
    photo = Photo(
        patient_id=patient_id,
        clinic_id=user.clinic_id,
        treatment_id=treatment_id,
        phase=phase,
        day=day,
        taken_at=now,
        taken_on=local_date(now, course.tz),
        side=site.side,
        region=site.region,
        view=site.view,
        note=note,
        width=processed.width,
        height=processed.height,
        source_format=processed.source_format,
        client_key=client_key,
        created_at=now,
    )
    try:
        _store_and_commit(photo, processed)
    except sa.exc.IntegrityError:
        # Only another patient's upload can hold this key (ours are serialised above);
        # _store_and_commit has removed this one's files.
        if client_key and (replay := _replay(patient_id, client_key)) is not None:
            return replay
        raise Invalid("photo", "Please reload the page and try again.") from None
    _crash("committed")
    return photo


def _store_and_commit(photo: Photo, processed: imaging.Processed) -> None:
    """Files first, durably; then the row. On any error, no row and no files remain."""
    files = store()
    written: list[str] = []
    try:
        full = files.put(processed.full)
        written.append(full.key)
        thumb = files.put(processed.thumb)
        written.append(thumb.key)
        photo.full_key, photo.full_sha256, photo.full_size = full.key, full.sha256, full.size
        photo.thumb_key, photo.thumb_sha256 = thumb.key, thumb.sha256
        db.session.add(photo)
        db.session.flush()
        _crash("stored")
        db.session.commit()
    except Exception:
        db.session.rollback()
        for key in written:
            files.delete(key)
        raise


def _replay(patient_id: int, client_key: str) -> Photo | None:
    found = db.session.scalar(sa.select(Photo).where(Photo.client_key == client_key))
    if found is not None and found.patient_id != patient_id:
        raise Invalid("photo", "Please reload the page and try again.")
    return found


def _check_quota(patient_id: int, today: date) -> None:
    config = current_app.config
    counts = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(Photo.taken_on == today),
        ).where(Photo.patient_id == patient_id)
    ).one()
    if counts[1] >= config["PHOTO_MAX_PER_DAY"]:
        raise Invalid(
            "photo",
            f"You have added {counts[1]} photos today, the most for one day. "
            "Please add more tomorrow, or delete one you do not need.",
        )
    if counts[0] >= config["PHOTO_MAX_TOTAL"]:
        raise Invalid(
            "photo",
            "Your photo diary is full. Please delete photos you no longer need, "
            "or ask your clinic.",
        )


def place(course: Course, now: datetime) -> tuple[int | None, str, int | None]:
    """Which session a photo taken now belongs to: (treatment id, phase, day).

    Before the first treatment, or within a week before the next booked session, it is a
    "before" photo of that session; otherwise day N after the latest treatment.
    """
    upcoming, recovering = course.upcoming, course.recovering
    if upcoming is not None and (
        recovering is None or now <= upcoming.appointment_at <= now + timedelta(days=BEFORE_DAYS)
    ):
        return upcoming.id, "before", min(0, day_number(upcoming.appointment_at, now, course.tz))
    if recovering is not None:
        return recovering.id, "after", day_number(recovering.anchor, now, course.tz)
    return None, "before", None


# ------------------------------------------------------------------ reading


def _session_numbers(patient_id: int) -> dict[int, int]:
    """Session number (1, 2, ...) of each treatment not cancelled, by appointment."""
    rows = db.session.execute(
        sa.select(Treatment.id, Treatment.status)
        .where(Treatment.patient_id == patient_id)
        .order_by(Treatment.appointment_at, Treatment.id)
    )
    live = [tid for tid, status in rows if status != TreatmentStatus.CANCELLED]
    return {tid: n for n, tid in enumerate(live, start=1)}


def when_label(phase: str, day: int | None, session: int | None, many: bool) -> str:
    """Where a photo sits in the course, in words."""
    if phase == "before":
        return f"Before session {session}" if many and session else "Before treatment"
    of = f" of session {session}" if many and session else ""
    if day == 0:
        return f"Treatment day{of}"
    after = f"after session {session}" if many and session else "after treatment"
    return f"Day {day} {after}"


def _items(rows: Iterable[Photo], numbers: dict[int, int]) -> list[PhotoItem]:
    many = len(numbers) > 1
    return [
        PhotoItem(
            id=p.id,
            site=Site(p.side, p.region, p.view),
            taken_at=p.taken_at,
            taken_on=p.taken_on,
            when=when_label(p.phase, p.day, numbers.get(p.treatment_id or 0), many),
            note=p.note,
            width=p.width,
            height=p.height,
        )
        for p in rows
    ]


def _diary(patient_id: int, tz: str, page: int, size: int = PAGE) -> PhotoDiary:
    where = Photo.patient_id == patient_id
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Photo).where(where)) or 0
    page = min(max(page, 1), max(1, -(-total // size)))
    rows = db.session.scalars(
        sa.select(Photo)
        .where(where)
        .order_by(Photo.taken_at.desc(), Photo.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    days: list[PhotoDay] = []
    for item in _items(rows, _session_numbers(patient_id)):
        if days and days[-1].on == item.taken_on:
            days[-1].photos.append(item)
        else:
            days.append(PhotoDay(item.taken_on, item.when, [item]))
    return PhotoDiary(tz, days, total, page)


def diary(user: Principal, page: int = 1, size: int = PAGE) -> PhotoDiary:
    """The patient's own photos by day, newest first."""
    patient = _patient(user)
    return _diary(patient.id, patient.timezone, page, size)


def _patient(user: Principal):  # noqa: ANN202 - PatientInfo
    if user.patient is None:
        raise NotFound("Not a patient account.")
    return user.patient


def _own(user: Principal, photo_id: int) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.patient_id != _patient(user).id:
        raise NotFound("No such photo.")
    return photo


def photo(user: Principal, photo_id: int) -> PhotoItem:
    """One of the patient's own photos."""
    found = _own(user, photo_id)
    return _items([found], _session_numbers(found.patient_id))[0]


def image(user: Principal, photo_id: int, thumb: bool = False) -> bytes:
    """The JPEG bytes of one of the patient's own photos, integrity-checked."""
    return _read(_own(user, photo_id), thumb)


def _read(found: Photo, thumb: bool) -> bytes:
    if thumb:
        return store().read(found.thumb_key, found.thumb_sha256)
    return store().read(found.full_key, found.full_sha256)


@dataclass(frozen=True)
class UploadPage:
    site: Site | None
    previous: dict[str, int]  # site token -> id of its latest photo (the alignment ghost)
    phase: str


def upload_page(user: Principal, site: Site | None, now: datetime) -> UploadPage:
    """What the "add a photo" page needs: the latest photo of every site, and the phase."""
    course = load_course(user)
    rows = db.session.execute(
        sa.select(Photo.id, Photo.side, Photo.region, Photo.view)
        .where(Photo.patient_id == course.patient.id)
        .order_by(Photo.taken_at, Photo.id)
    )
    previous = {f"{side}-{region}-{view}": pid for pid, side, region, view in rows}
    return UploadPage(site, previous, place(course, now)[1])


def delete(user: Principal, photo_id: int) -> None:
    """Delete one of the patient's own photos: the row, then its files."""
    found = _own(user, photo_id)
    keys = (found.full_key, found.thumb_key)
    db.session.delete(found)
    db.session.commit()
    files = store()
    for key in keys:
        try:
            files.delete(key)
        except OSError:
            log.warning("photo file of deleted photo #%s left for the sweeper", photo_id)


def _compare(
    patient_id: int, tz: str, site: Site | None, left: int | None, right: int | None
) -> Comparison:
    counts = db.session.execute(
        sa.select(Photo.side, Photo.region, Photo.view, sa.func.count())
        .where(Photo.patient_id == patient_id)
        .group_by(Photo.side, Photo.region, Photo.view)
        .order_by(Photo.side, Photo.region, Photo.view)
    )
    sites = [(Site(s, r, v), n) for s, r, v, n in counts]
    if site is None or site not in {s for s, _ in sites}:
        site = next((s for s, n in sites if n > 1), sites[0][0] if sites else None)
    if site is None:
        return Comparison(tz, [], None, [], None, None)
    rows = db.session.scalars(
        sa.select(Photo)
        .where(
            Photo.patient_id == patient_id,
            Photo.side == site.side,
            Photo.region == site.region,
            Photo.view == site.view,
        )
        .order_by(Photo.taken_at, Photo.id)
    )
    choices = _items(rows, _session_numbers(patient_id))
    by_id = {c.id: c for c in choices}
    first = by_id.get(left or 0, choices[0])
    second = by_id.get(right or 0, choices[-1])
    return Comparison(tz, sites, site, choices, first, second)


def compare(user: Principal, site: Site | None, left: int | None, right: int | None) -> Comparison:
    """Two photos of one site (by default its first and its latest) side by side."""
    patient = _patient(user)
    return _compare(patient.id, patient.timezone, site, left, right)


# ------------------------------------------------------------------ the clinic


def clinic_diary(
    actor: Principal, patient_id: int, address: str, page: int = 1
) -> tuple[Patient, PhotoDiary]:
    """A patient's photos for their clinic (audited): (patient, PhotoDiary)."""
    patient = own_patient(actor, patient_id, address, "view photos of")
    result = _diary(patient.id, patient.timezone, page)
    audit(actor, patient.id, "view", address, f"photos, page {result.page}")
    db.session.commit()
    return patient, result


def clinic_compare(
    actor: Principal,
    patient_id: int,
    site: Site | None,
    left: int | None,
    right: int | None,
    address: str,
) -> tuple[Patient, Comparison]:
    """Compare two photos of a patient of the clinic (audited)."""
    patient = own_patient(actor, patient_id, address, "compare photos of")
    result = _compare(patient.id, patient.timezone, site, left, right)
    if result.left is not None and result.right is not None:
        detail = f"compare photos #{result.left.id} and #{result.right.id}"
        audit(actor, patient.id, "view", address, detail)
    db.session.commit()
    return patient, result


def clinic_image(actor: Principal, photo_id: int, thumb: bool, address: str) -> bytes:
    """A photo of a patient of the clinic; viewing the full photo is audited."""
    found = db.session.scalar(
        sa.select(Photo)
        .join(Patient, Patient.id == Photo.patient_id)
        .where(Photo.id == photo_id, Patient.clinic_id == actor.clinic_id)
    )
    if found is None:
        audit(actor, None, "refused", address, f"view photo #{photo_id}")
        db.session.commit()
        raise NotFound("No such photo.")
    data = _read(found, thumb)
    if not thumb:
        audit(actor, found.patient_id, "view", address, f"photo #{found.id}")
        db.session.commit()
    return data


# ------------------------------------------------------------------ upkeep


def _referenced(keys: set[str]) -> set[str]:
    found: set[str] = set()
    chunk = sorted(keys)
    for i in range(0, len(chunk), 500):
        part = chunk[i : i + 500]
        found.update(db.session.scalars(sa.select(Photo.full_key).where(Photo.full_key.in_(part))))
        found.update(
            db.session.scalars(sa.select(Photo.thumb_key).where(Photo.thumb_key.in_(part)))
        )
    return found


def sweep(older_than_minutes: float | None = None) -> int:
    """Remove stored files no row refers to (crashed or abandoned uploads)."""
    minutes = (
        current_app.config["PHOTO_ORPHAN_MINUTES"]
        if older_than_minutes is None
        else older_than_minutes
    )
    return store().sweep(_referenced, minutes * 60)


def verify_all() -> list[int]:
    """Ids of photos whose full or thumbnail file is missing or altered."""
    files = store()
    bad = []
    rows = db.session.execute(
        sa.select(Photo.id, Photo.full_key, Photo.full_sha256, Photo.thumb_key, Photo.thumb_sha256)
    )
    for pid, full_key, full_sha, thumb_key, thumb_sha in rows:
        try:
            files.read(full_key, full_sha)
            files.read(thumb_key, thumb_sha)
        except Exception:  # noqa: BLE001 - report every damaged photo, whatever the cause
            bad.append(pid)
    return bad
