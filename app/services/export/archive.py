"""Writing one patient's export zip to a file, streamed (issue 20 point 1).

The zip holds:

* ``summary.html``: a readable summary that prints well, with its styles inline and no
  address outside the zip (photos are linked by their relative names);
* ``data.json``: every record about the patient (``records.collect``);
* ``photos/…jpg``: the stored photo files, copied one at a time in 256 KiB chunks and
  checked against their recorded size and sha256 before they go in;
* ``fhir/bundle.json``: the FHIR R4 bundle (``fhir.patient_bundle``).

Nothing is held in memory but the rows and one photo (while its sha256 is checked), so
memory does not grow with the number of photos (bench/export.py measures it). Photos are stored
already-compressed JPEGs: they go in uncompressed (``ZIP_STORED``), which costs nothing
in size and saves the time deflate would spend on them.

A photo whose file is missing or damaged (not the size or sha256 its row records) is
left out, never copied, and the summary and data.json say which one and why, in the
patient's language: one bad file must not keep the rest of their data from them (the
build used to fail, be retried and fail again, forever). A store that does not answer
(``StorageUnavailable``) is an outage, not damage: the build still fails and is retried.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Callable
from datetime import datetime

from flask import render_template

from app.adapters.photo_store import StorageError
from app.adapters.photo_store import StorageUnavailable
from app.extensions import db
from app.i18n import N_
from app.i18n import _
from app.i18n import force_locale
from app.i18n import locale_for
from app.services.export import fhir
from app.services.export import records
from app.services.photos import storage
from app.templating import local

CHUNK = 256 * 1024

# A lone surrogate cannot be written as UTF-8. JSON columns read one back when it was
# stored escaped before the input rules (app/textinput.py) removed them from requests;
# failing on it failed the build on every retry, so the patient never had their data.
# It becomes U+FFFD, as in the FHIR bundle (docs/fhir.md); other text is kept as written.
REPLACE = "sclero-export-fffd"
# As bytes: CPython's UTF-8 encoder takes only ASCII text back from an error handler.
codecs.register_error(REPLACE, lambda exc: ("\ufffd".encode() * (exc.end - exc.start), exc.end))


log = logging.getLogger(__name__)

# Why a photo was left out of the zip, in the patient's words (their language is chosen
# when the summary is written). Only what is known is said: the clinic's staff see the
# ERROR logged below and ``flask photos verify`` lists the photo.
MISSING = "missing"
DAMAGED = "damaged"
LEFT_OUT = {
    MISSING: N_(
        "Its file could not be found in the clinic's photo store, so it could not be "
        "included. Please ask your clinic about it."
    ),
    DAMAGED: N_(
        "Its file has changed since the photo was saved (it may be damaged), so it was "
        "left out rather than give you a wrong picture. Please ask your clinic about it."
    ),
}


def write_zip(
    path: str,
    patient_id: int,
    now: datetime,
    *,
    tick: Callable[[], None] | None = None,
    locale: str = "en_GB",
) -> None:
    """Write the patient's export to ``path`` (a new file), durable (fsynced) when this
    returns. ``tick`` is called after each photo, so the caller can renew its lease."""
    with open(path, "xb") as file:
        # Level 1: the text parts shrink almost as much as at 6, in a fraction of the time.
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            # Not kept in a name here: ``_fill`` lets the rows go before the bundle.
            _fill(zf, records.collect(patient_id), patient_id, now, tick, locale)
        file.flush()
        os.fsync(file.fileno())


# The audit trail's actions in the summary's words, in the reader's language (the
# actions are stored as short English codes; data.json keeps them as stored). An action
# not listed here is shown as stored.
ACTION_WORDS = {
    "view": N_("Looked at your record"),
    "export": N_("Your data was downloaded or asked for"),
    "acknowledge": N_("Acknowledged an alert"),
    "review": N_("Marked as reviewed"),
    "comment": N_("Wrote a comment"),
    "book session": N_("Booked a session"),
    "move session": N_("Moved a session"),
    "cancel session": N_("Cancelled a session"),
    "record treatment": N_("Recorded a treatment"),
    "correct treatment": N_("Corrected a treatment"),
    "create patient": N_("Added you as a patient"),
    "change": N_("Changed your details"),
    "discharge": N_("Ended your aftercare"),
    "re-open": N_("Re-opened your aftercare"),
    "score": N_("Scored your photos"),
    "sign-in link": N_("Made a sign-in link"),
    "invitation emailed": N_("Emailed an invitation"),
    "calendar link": N_("Changed your calendar link"),
    "close request": N_("Your request to close your account"),
    "close account": N_("Closed your account"),
    "confirm": N_("Confirmed it was you"),
    "password_changed": N_("Your password was changed"),
    "push device removed": N_("Removed a device from reminders"),
    "refused": N_("Was refused access"),
}


def _fill(
    zf: zipfile.ZipFile,
    found: records.Records,
    patient_id: int,
    now: datetime,
    tick: Callable[[], None] | None,
    locale: str,
) -> None:
    # The photos first: the summary and data.json then say which ones were left out.
    left_out = []
    for photo in found.photo_files:
        why = _copy_photo(zf, photo)
        if why is not None:
            log.error("export: photo #%s left out, its file is %s", photo.photo_id, why)
            left_out.append((photo.photo_id, why))
        if tick is not None:
            tick()
    _note_left_out(found, dict(left_out), locale)
    with force_locale(locale):
        html = render_template(
            "export/summary.html",
            r=found,
            when=_local_time(found.account["timezone"]),
            generated=local(now, found.account["timezone"]),
            action_words=ACTION_WORDS,
        )
    zf.writestr("summary.html", html.encode("utf-8", REPLACE))
    del html
    _write_json(zf, "data.json", found)
    # The bundle's photos point at the copies beside it in the zip (``fhir/`` is one
    # folder down), not at the clinic's photo route, which the patient cannot open. A
    # photo added since the records were read is not in the zip: it keeps the route. A
    # photo left out has no Media at all: it would point at a file the zip does not hold.
    files = {row["id"]: row["file"] for row in found.sections.get("photos", [])}
    del found  # in data.json now; not held while the bundle reads its own rows

    def photo_url(photo_id: int) -> str | None:
        if photo_id not in files:
            return fhir.clinic_photo_url(photo_id)
        name = files[photo_id]
        return f"../{name}" if name else None

    bundle = fhir.patient_bundle(db.session, patient_id, now=now, photo_url=photo_url)
    _write_bundle(zf, "fhir/bundle.json", bundle)


def _write_bundle(zf: zipfile.ZipFile, name: str, bundle: dict) -> None:
    """The bundle entry by entry, so the whole of it is never one string as well as the
    dict (one dumps of everything was the build's peak, bench/export.py)."""
    entries = bundle.get("entry", [])
    head = {key: value for key, value in bundle.items() if key != "entry"}
    with zf.open(name, "w") as out:
        text = io.TextIOWrapper(out, encoding="utf-8", errors=REPLACE)
        text.write(json.dumps(head, ensure_ascii=False, default=records.plain)[:-1])
        text.write(', "entry": [' if head else '"entry": [')
        for i, entry in enumerate(entries):
            line = json.dumps(entry, ensure_ascii=False, default=records.plain)
            text.write((",\n" if i else "\n") + line)
        text.write("\n]}")
        text.flush()
        text.detach()


def _write_json(zf: zipfile.ZipFile, name: str, found: records.Records) -> None:
    """``data.json``, written section by section into the zip stream."""
    with zf.open(name, "w") as out:
        text = io.TextIOWrapper(out, encoding="utf-8", errors=REPLACE)
        text.write('{\n "account": ')
        text.write(json.dumps(found.account, ensure_ascii=False, default=records.plain))
        for section, rows in found.sections.items():
            text.write(f',\n "{section}": [')
            for i, row in enumerate(rows):
                # dumps, not dump: dump encodes in pure Python, dumps in C (4x faster).
                text.write(
                    (",\n  " if i else "\n  ")
                    + json.dumps(row, ensure_ascii=False, default=records.plain)
                )
            text.write("\n ]")
        text.write("\n}\n")
        text.flush()
        text.detach()


def _copy_photo(zf: zipfile.ZipFile, photo: records.PhotoFile) -> str | None:
    """Copy one stored photo into the zip, or say why it was left out (``MISSING`` or
    ``DAMAGED``); a store that does not answer raises ``StorageUnavailable``.

    The photo is read in 256 KiB chunks, hashed as it comes, and written into the zip
    only once its size and sha256 match its row: a zip entry cannot be taken back once
    written, so checking first is what keeps a changed file out. That holds one photo
    at a time (never more than its row's size, a re-encoded JPEG of a few hundred KiB):
    spooling it to a temporary file instead tripled the build (bench/export.py).
    """
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    copied = 0
    try:
        with storage.store().open(photo.key) as source:
            while chunk := source.read(CHUNK):
                copied += len(chunk)
                if copied > photo.size:
                    break  # longer than its row says: damaged, no need to read on
                digest.update(chunk)
                chunks.append(chunk)
    except StorageUnavailable:
        raise  # an outage: the build fails and is tried again
    except StorageError:
        return MISSING
    if copied != photo.size or digest.hexdigest() != photo.sha256:
        return DAMAGED
    info = zipfile.ZipInfo(photo.name)
    info.compress_type = zipfile.ZIP_STORED
    with zf.open(info, "w", force_zip64=True) as out:
        for chunk in chunks:
            out.write(chunk)
    return None


def _note_left_out(found: records.Records, left_out: dict[int, str], locale: str) -> None:
    """Give the photos left out no file, and list them (date, site, why) in their own
    section, which data.json and the summary both show."""
    rows = []
    with force_locale(locale):
        for record in found.sections.get("photos", []):
            why = left_out.get(record["id"])
            if why is None:
                continue
            record["file"] = None
            rows.append(
                {
                    "id": record["id"],
                    "taken_on": record["taken_on"],
                    "side": record["side"],
                    "region": record["region"],
                    "view": record["view"],
                    "reason": _(LEFT_OUT[why]),
                }
            )
    found.sections["photos_not_included"] = rows


def _local_time(tz: str) -> Callable[[datetime | None], str]:
    """An instant from the records as the patient's local time ("" for none)."""

    def when(instant: datetime | None) -> str:
        return local(instant, tz) if instant else ""

    return when


def locale_of(language: str, clinic_locale: str) -> str:
    """The summary's language: the patient's choice, else the clinic's (as the pages)."""
    return locale_for(language, clinic_locale or "en_GB")
