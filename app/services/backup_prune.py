"""``flask backup prune ROOT``: backups age out on a schedule (checklist E7, issue 20).

An erased patient (``flask retention run``) lives on in every backup made before the
erasure. Backups under ROOT are removed once they are older than ``keep_days`` (by the
``created_at`` their manifest records, against ``app.clock``), so an erased record is
gone from them at most ``keep_days`` after its erasure, provided backups keep being made
(see ``keep_last``).

What counts as a backup: a real folder (not a link) directly under ROOT holding
``database.dump`` and a ``manifest.json`` of this app's format (``app.services.backup``)
with an ISO ``created_at`` that has a UTC offset. Anything else under ROOT (another
file, a folder without a manifest, a damaged or foreign manifest) is never touched, only
counted: the command removes what it recognises and nothing else. ROOT itself being a
backup is refused: the operator named one backup, not the folder of backups.

``keep_last``: the newest K backups are kept whatever their age (at least one), so a
backup job that silently stopped does not end, weeks later, with no backup at all. The
price: while no new backup is made, the newest K keep what they hold.

Removal is a rename to ``.pruning-<name>`` in ROOT (one atomic step: a backup is either
whole and listed or marked for removal), then deleting that folder. A run interrupted in
between leaves a ``.pruning-`` folder, which the next run finishes deleting: a half
deleted backup is never mistaken for a restorable one, nor left behind for ever.
Idempotent: a second run finds nothing more to remove. Each run writes one audit event
with its counts.

Only folders this command renamed are finished off: before the rename it writes a marker
file (``MARKER``, holding the backup's name) into the backup, so a ``.pruning-<name>``
folder is ours only if it holds that marker naming ``<name>``. Backup names are the
operator's choice, so the name alone proves nothing, and ROOT may hold an operator's
``.pruning-something`` for reasons of their own: such a folder is left alone and named
in the summary. The marker is deleted last (after everything else in the folder), so a
deletion that stops midway still leaves a folder the next run recognises.

Two runs at once (``flask retention run`` prunes too, and cron may start ``backup
prune`` as well) race for the same folders: a folder the other run already took is not
an error. A folder that cannot be removed (permissions, a busy mount) does not stop the
run either: it is counted and named, the others are still pruned, and the run's audit
event records what was removed before the command reports the failure.

A folder that cannot be read (backups made by another user: ``backup create`` makes them
0700) is left alone like any other entry, but named in the summary, so backups that
never age out for that reason do not go unnoticed.

A ``.creating-`` folder (``backup create`` builds there and renames the folder into
place once whole) that nothing has written to for ``UNFINISHED_AFTER`` is a create that
was killed: it holds a database copy nothing else would ever age out, so it is removed
and named. A younger one may be a backup being made right now, and is left alone.

A backup dated after ``now`` (made while a clock was wrong) cannot be aged: it is kept,
named in the summary, and not counted among the newest ``keep_last``, or it would take
the place of the newest real backup, which would then be removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta

from app.clock import wall_seconds
from app.extensions import db
from app.services.audit import security_event
from app.services.backup import CREATING
from app.services.backup import DUMP
from app.services.backup import FORMAT
from app.services.backup import MANIFEST

PRUNING = ".pruning-"
MARKER = ".sclerocare-pruning"  # written into a backup just before it is renamed
# A create's folder untouched this long is a killed create's, not one in progress (the
# largest pg_dump writes its file continuously, which keeps the newest mtime fresh).
UNFINISHED_AFTER = timedelta(hours=24)
KEEP_DAYS_MAX = 36500  # a century: beyond it, date arithmetic overflows (a traceback)


class PruneError(Exception):
    """A prune that cannot go ahead; the message says why."""


@dataclass
class PruneReport:
    """What one run did: backups kept and removed, entries under ROOT left alone."""

    kept: int = 0
    removed: list[str] = field(default_factory=list)
    not_backups: int = 0
    future: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    not_ours: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the operator and the audit event."""
        line = (
            f"{len(self.removed)} backups removed, {self.kept} kept, "
            f"{self.not_backups} other entries left alone"
        )
        if self.future:
            line += f"; dated in the future, kept (check the clock): {', '.join(self.future)}"
        if self.failed:
            line += f"; could not be removed: {', '.join(self.failed)}"
        if self.unreadable:
            line += f"; cannot be read (check owner and mode): {', '.join(self.unreadable)}"
        if self.unfinished:
            line += f"; unfinished backups (a killed create) removed: {', '.join(self.unfinished)}"
        if self.not_ours:
            line += (
                "; not marked by backup prune, left alone (remove by hand if unwanted): "
                f"{', '.join(self.not_ours)}"
            )
        return line


def created_at(folder: str) -> datetime | None:
    """When the backup in ``folder`` was made, or None if it is not one of ours."""
    if os.path.islink(folder) or not os.path.isdir(folder):
        return None
    if not os.path.isfile(os.path.join(folder, DUMP)):
        return None
    try:
        with open(os.path.join(folder, MANIFEST), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    try:
        made = datetime.fromisoformat(str(manifest.get("created_at")))
    except ValueError:
        return None
    # A time without an offset cannot be compared safely: not ours (create writes one).
    return made if made.tzinfo is not None else None


def prune(root: str, now: datetime, *, keep_days: int, keep_last: int) -> PruneReport:
    """Remove the backups under ``root`` older than ``keep_days``, except the newest
    ``keep_last``; audited (one event), commits.

    :raises PruneError: ``root`` is not a folder (or cannot be read), is itself a
        backup, or a count is out of range. A backup that cannot be removed is named in
        ``report.failed`` instead, after the run is audited.
    """
    if not 1 <= keep_days <= KEEP_DAYS_MAX:
        raise PruneError(f"--keep-days must be from 1 to {KEEP_DAYS_MAX}.")
    if keep_last < 1:
        raise PruneError("--keep-last must be at least 1: pruning never removes every backup.")
    if not os.path.isdir(root):
        raise PruneError(f"{root} is not a folder.")
    if created_at(root) is not None:
        raise PruneError(f"{root} is a backup itself: give the folder that holds the backups.")
    report = PruneReport()
    backups = _survey(root, now, report)
    backups.sort(reverse=True)  # newest first
    try:
        cutoff = now - timedelta(days=keep_days)
    except OverflowError:  # a --now in the first years of the calendar: nothing is older
        cutoff = datetime.min.replace(tzinfo=now.tzinfo)
    for index, (made, name) in enumerate(backups):
        if index < keep_last or made >= cutoff:
            report.kept += 1
        else:
            _remove(root, name, report)
    detail = f"{report.summary()} (older than {keep_days} days, newest {keep_last} kept)"
    security_event("backup prune", "cli", detail, name="flask backup prune")
    db.session.commit()
    return report


def _survey(root: str, now: datetime, report: PruneReport) -> list[tuple[datetime, str]]:
    """The backups under ``root`` that can be aged, with when they were made; counts the
    rest in ``report`` and finishes an interrupted removal."""
    try:
        names = sorted(os.listdir(root))
    except OSError as exc:
        raise PruneError(f"{root} cannot be read: {exc.strerror}.") from None
    backups: list[tuple[datetime, str]] = []
    for name in names:
        path = os.path.join(root, name)
        if name.startswith((CREATING, PRUNING)) and os.path.isdir(path):
            if not os.path.islink(path):
                _left_over(path, name, report)
                continue
        made = created_at(path)
        if made is None:
            report.not_backups += 1
            if _unreadable(path):
                report.unreadable.append(name)
        elif made > now:
            report.kept += 1
            report.future.append(name)
        else:
            backups.append((made, name))
    return backups


def _left_over(path: str, name: str, report: PruneReport) -> None:
    """A folder an earlier create or prune left: finish it if it is ours and dead."""
    if name.startswith(CREATING):
        if _abandoned(path):
            if _delete(path, name, report):
                report.unfinished.append(name)
        else:
            report.not_backups += 1  # perhaps a backup being made right now
    elif _marked(path, name[len(PRUNING) :]):
        _delete(path, name, report)  # an earlier run's removal, interrupted: finish
    else:
        report.not_backups += 1
        report.not_ours.append(name)


def _abandoned(path: str) -> bool:
    """Whether nothing under ``path`` was written for ``UNFINISHED_AFTER`` (real time:
    file times are the machine's, whatever clock the app is pinned to)."""
    newest = 0.0
    for folder, _, files in os.walk(path):
        for entry in [folder, *(os.path.join(folder, f) for f in files)]:
            with contextlib.suppress(OSError):
                newest = max(newest, os.lstat(entry).st_mtime)
    return newest < wall_seconds() - UNFINISHED_AFTER.total_seconds()


def _unreadable(path: str) -> bool:
    """A folder this process cannot look into: ``backup create`` makes its folders 0700,
    so backups made by another user (root's cron) would otherwise be "not backups" and
    never age out, with nothing said."""
    if os.path.islink(path) or not os.path.isdir(path):
        return False
    if not os.access(path, os.R_OK | os.X_OK):
        return True
    manifest = os.path.join(path, MANIFEST)
    return os.path.exists(manifest) and not os.access(manifest, os.R_OK)


def _marked(path: str, name: str) -> bool:
    """Whether the folder ``path`` is the backup ``name`` as this command renamed it: it
    holds the marker ``_remove`` wrote, naming that backup."""
    marker = os.path.join(path, MARKER)
    if os.path.islink(marker):
        return False
    try:
        with open(marker, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("pruning") == name


def _remove(root: str, name: str, report: PruneReport) -> None:
    """Mark the backup ``name`` for removal (a marker, then one rename), then delete it."""
    source = os.path.join(root, name)
    marker = os.path.join(source, MARKER)
    doomed = os.path.join(root, PRUNING + name)
    try:
        # Written before the rename, so the renamed folder always carries it.
        with open(marker, "w", encoding="utf-8") as f:
            json.dump({"pruning": name}, f)
    except FileNotFoundError:
        return  # another run took it first
    except OSError:
        report.failed.append(name)
        return
    try:
        os.rename(source, doomed)
    except FileNotFoundError:
        return  # another run took it first
    except OSError:
        report.failed.append(name)
        # The backup stays as it was (the marker alone does not make it "ours" to delete).
        with contextlib.suppress(OSError):
            os.unlink(marker)
        return
    if _delete(doomed, name, report):
        report.removed.append(name)


def _delete(path: str, name: str, report: PruneReport) -> bool:
    """Delete a folder marked for removal; a failure is recorded, not raised.

    :returns: whether it is gone (a folder another run deleted first counts as gone).
    """
    failures: list[BaseException] = []

    def note(exc: BaseException) -> None:
        # Another run deleting the same folder removes entries under this one's feet.
        if not isinstance(exc, FileNotFoundError):
            failures.append(exc)

    # Everything but the marker first: a deletion that stops midway leaves the marker,
    # so the next run still knows the folder as its own and finishes it.
    try:
        entries = [e for e in os.listdir(path) if e != MARKER]
    except OSError as exc:
        note(exc)  # FileNotFoundError: another run deleted it first
        entries = []
    for entry in entries:
        child = os.path.join(path, entry)
        if os.path.isdir(child) and not os.path.islink(child):
            _rmtree(child, note)
        else:
            try:
                os.unlink(child)
            except OSError as exc:
                note(exc)
    if not failures:
        _rmtree(path, note)
    if failures or os.path.lexists(path):
        report.failed.append(name)
        return False
    return True


def _rmtree(target: str, note) -> None:
    """``shutil.rmtree`` passing each error to ``note`` instead of raising it."""
    if sys.version_info >= (3, 12):
        shutil.rmtree(target, onexc=lambda _f, _p, exc: note(exc))
    else:  # onerror is deprecated from 3.12 on (a warning the tests treat as an error)
        shutil.rmtree(target, onerror=lambda _f, _p, info: note(info[1]))
