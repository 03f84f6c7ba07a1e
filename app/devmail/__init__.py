"""Development only: /dev/mail lists the emails the local catcher caught (``make run``
starts ``tools/mail_catcher.py``, which writes each one to ``instance/mail/*.eml``).

Registered by ``create_app`` only when ``SCLERO_DEV_MAIL`` is set, which the development
configuration does and production refuses; elsewhere /dev/mail is a plain 404.
"""

from __future__ import annotations

import os

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import render_template

from app.adapters.mail import caught_mail
from app.adapters.mail import read_caught

bp = Blueprint("devmail", __name__)


def folder() -> str:
    return current_app.config.get("SCLERO_DEV_MAIL_DIR") or os.path.join(
        current_app.instance_path, "mail"
    )


@bp.get("/dev/mail")
def inbox():
    return render_template("devmail/inbox.html", mails=caught_mail(folder()), folder=folder())


@bp.get("/dev/mail/<name>")
def message(name: str):
    found = read_caught(folder(), name)
    if found is None:
        abort(404)
    return render_template("devmail/message.html", m=found)
