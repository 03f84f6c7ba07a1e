"""Writing one patient's export zip to a file, streamed (issue 20 point 1).

The zip holds:

* ``summary.html``: a readable summary that prints well, with its styles inline and no
  address outside the zip (photos are linked by their relative names);
* ``data.json``: every record about the patient (``records.collect``);
* ``photos/…jpg``: the stored photo files, copied one at a time in 64 KiB chunks and
  checked against their sha256 as they go;
* ``fhir/bundle.json``: the FHIR R4 bundle (``fhir.patient_bundle``).

Nothing is held in memory but the rows and one chunk of one photo, so memory does not
grow with the number of photos (bench/export.py measures it). Photos are stored
already-compressed JPEGs: they go in uncompressed (``ZIP_STORED``), which costs nothing
in size and saves the time deflate would spend on them.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from datetime import datetime

from flask import render_template

from app.extensions import db
from app.i18n import force_locale
from app.i18n import locale_for
from app.services.export import fhir
from app.services.export import records
from app.services.photos import storage
from app.templating import local

CHUNK = 64 * 1024


class PhotoMismatch(Exception):
    """A stored photo file does not match its row's sha256 (the export is not offered)."""


def write_zip(
    path: str,
    patient_id: int,
    now: datetime,
    *,
    tick: Callable[[], None] | None = None,
    locale: str = "en_GB",
) -> None:
    """Write the patient's export to ``path`` (a new file). ``tick`` is called after each
    photo, so the caller can renew its lease on a long build."""
    found = records.collect(patient_id)
    photos = records.photos_of(patient_id)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with force_locale(locale):
            html = render_template(
                "export/summary.html",
                r=found,
                when=_local_time(found.account["timezone"]),
                generated=local(now, found.account["timezone"]),
            )
        zf.writestr("summary.html", html)
        _write_json(zf, "data.json", found)
        for photo in photos:
            _copy_photo(zf, records.photo_name(photo), photo.full_key, photo.full_sha256)
            if tick is not None:
                tick()
        bundle = fhir.patient_bundle(db.session, patient_id, now=now)
        with zf.open("fhir/bundle.json", "w") as out:
            text = io.TextIOWrapper(out, encoding="utf-8")
            json.dump(bundle, text, ensure_ascii=False, indent=1)
            text.flush()
            text.detach()


def _write_json(zf: zipfile.ZipFile, name: str, found: records.Records) -> None:
    """``data.json``, written section by section into the zip stream."""
    with zf.open(name, "w") as out:
        text = io.TextIOWrapper(out, encoding="utf-8")
        text.write('{\n "account": ')
        json.dump(found.account, text, ensure_ascii=False)
        for section, rows in found.sections.items():
            text.write(f',\n "{section}": [')
            for i, row in enumerate(rows):
                text.write(",\n  " if i else "\n  ")
                json.dump(row, text, ensure_ascii=False)
            text.write("\n ]")
        text.write("\n}\n")
        text.flush()
        text.detach()


def _copy_photo(zf: zipfile.ZipFile, name: str, key: str, sha256: str) -> None:
    """Copy one stored photo into the zip in chunks, checking its sha256 on the way."""
    digest = hashlib.sha256()
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_STORED
    with storage.store().open(key) as source, zf.open(info, "w", force_zip64=True) as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        raise PhotoMismatch(f"photo file {key} does not match its record")


def _local_time(tz: str) -> Callable[[str | None], str]:
    """An ISO instant from the records as the patient's local time ("" for none)."""

    def when(iso: str | None) -> str:
        return local(datetime.fromisoformat(iso), tz) if iso else ""

    return when


def locale_of(language: str, clinic_locale: str) -> str:
    """The summary's language: the patient's choice, else the clinic's (as the pages)."""
    return locale_for(language, clinic_locale or "en_GB")
