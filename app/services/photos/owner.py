"""Which installation a photo store belongs to: the owner mark, checked before a sweep.

``flask photos sweep`` deletes every old file no photo row refers to. Two installations
pointed at one folder or one bucket prefix (a copied ``.env``, a staging server given the
production bucket) each see the other's photos as unreferenced, and the first sweep
would delete them: lost photos, found only when a clinician opens a diary (issue 21).

So the store carries a mark of the installation that sweeps it: an HMAC of a fixed text
under the installation's ``SECRET_KEY``. Every instance of one installation shares that
key (sessions need it, docs/decisions/stateless-app-servers.md), two installations do
not, and the mark tells nothing about the key. The first sweep (or migration into a
bucket) writes the mark; a store marked by another installation is refused with a clear
message. A key rotated the documented way (the old one in ``SECRET_KEY_FALLBACKS``) is
still recognised, and the mark is rewritten under the new key; a key replaced outright
needs ``flask photos sweep --claim``, a deliberate step, after checking no other
installation uses the store.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app

from app.adapters.photo_store import PhotoStore
from app.adapters.photo_store import StorageError

PURPOSE = b"sclerocare photo store owner v1"


class OwnedElsewhere(StorageError):
    """The store is marked by another installation: sweeping it would delete its photos."""


def mark_for(secret: object) -> str:
    """The owner mark for a secret key (hex; reveals nothing of the key)."""
    return hmac.new(str(secret).encode(), PURPOSE, hashlib.sha256).hexdigest()


def _ours() -> tuple[str, set[str]]:
    config = current_app.config
    mine = mark_for(config["SECRET_KEY"])
    return mine, {mine, *(mark_for(k) for k in config.get("SECRET_KEY_FALLBACKS") or ())}


def owned_elsewhere(store: PhotoStore) -> bool:
    """Whether ``store`` carries another installation's mark (a restore into it, or a
    sweep of it, would hand this installation's photos to that one's sweep)."""
    found = store.owner()
    return found is not None and found not in _ours()[1]


def ensure_ours(store: PhotoStore, claim: bool = False) -> None:
    """Make sure ``store`` is this installation's, marking it if it has no mark yet.

    :raises OwnedElsewhere: another installation's mark, and ``claim`` not given.
    """
    mine, ours = _ours()
    found = store.owner()
    if found is not None and found not in ours and not claim:
        raise OwnedElsewhere(
            f"{store.where().capitalize()} belongs to another ScleroCare installation (its "
            "owner mark was written under a different FLASK_SECRET_KEY). Sweeping it would "
            "delete that installation's photos, so nothing was removed. Give this "
            "installation a folder or SCLERO_S3_PREFIX of its own. If this installation's "
            "secret key was replaced and no other installation uses this store, run "
            "`flask photos sweep --claim`."
        )
    if found != mine:
        store.set_owner(mine)
