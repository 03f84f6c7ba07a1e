"""Photo diary use-cases: add, list by day, compare, serve, delete; the clinic's views.

Which module holds what:

* ``upload``: adding a photo (checks, quota, replay of a client key, store then commit).
* ``album``: the patient's own diary, one photo, its bytes, compare, delete, upload page.
* ``clinic``: the same for a patient's clinic, audited.
* ``listing``: what those pages show (``PhotoItem``, ``PhotoDiary``, ``Comparison``).
* ``upkeep``: sweeping unreferenced files and verifying every photo's files.
* ``owner``: the owner mark that stops one installation sweeping another's store.
* ``migrate``: copying the local folder into an S3 bucket (resumable, sha256-checked).
* ``storage``: the configured file store (local folder or S3 bucket), image settings,
  checked reads, crash stages.
* ``sites``: ``Site`` with ``parse`` raising ``Invalid``; the pure rules (sites, where a
  photo sits in the course, its label) are in ``app.domain.photos``.

Every read of a file checks its sha256 against the row. Other patients' photos, and
other clinics', are "not found"; every clinician view is audited. This face re-exports
the public names, so callers keep writing ``photos.add_photo(...)``.
"""

from __future__ import annotations

from app.domain.photos import BEFORE_DAYS as BEFORE_DAYS
from app.domain.photos import REGIONS as REGIONS
from app.domain.photos import SIDES as SIDES
from app.domain.photos import VIEWS as VIEWS
from app.domain.photos import when_label as when_label
from app.services.photos.album import UploadPage as UploadPage
from app.services.photos.album import compare as compare
from app.services.photos.album import delete as delete
from app.services.photos.album import diary as diary
from app.services.photos.album import image as image
from app.services.photos.album import photo as photo
from app.services.photos.album import thumb_key as thumb_key
from app.services.photos.album import upload_page as upload_page
from app.services.photos.clinic import clinic_compare as clinic_compare
from app.services.photos.clinic import clinic_diary as clinic_diary
from app.services.photos.clinic import clinic_image as clinic_image
from app.services.photos.listing import PAGE as PAGE
from app.services.photos.listing import Comparison as Comparison
from app.services.photos.listing import PhotoDay as PhotoDay
from app.services.photos.listing import PhotoDiary as PhotoDiary
from app.services.photos.listing import PhotoItem as PhotoItem
from app.services.photos.sites import Site as Site
from app.services.photos.storage import settings as settings
from app.services.photos.storage import store as store
from app.services.photos.upkeep import sweep as sweep
from app.services.photos.upkeep import verify_all as verify_all
from app.services.photos.upload import NOTE_MAX as NOTE_MAX
from app.services.photos.upload import add_photo as add_photo
from app.services.photos.upload import place as place
