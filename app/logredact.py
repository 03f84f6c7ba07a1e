"""Nothing secret or personal reaches a log: a filter that redacts access-log lines.

Invitation, password-reset, unsubscribe and calendar links carry their token in the path
(``/invite/<token>``, ``/reset/<token>``, ``/email/unsubscribe/<token>``,
``/patient/calendar/feed/<token>.ics``). Gunicorn's and
Werkzeug's access logs write the request line, and gunicorn's default format the
Referer too, so without this every link used would sit in the logs, where anyone who
reads them could use one that has not been used yet. The path segment after each of
those words is replaced by ``[redacted]``, wherever it appears in the line (request
line, Referer, error messages).

Query strings go too, wholly (``?[redacted]``): the clinician's patient search sends
names and emails there, and no query string the app uses is needed to read a log.
The marker is ASCII so that a log written under a C locale never fails to encode.

Installed on the loggers themselves (``install``), from ``wsgi.py`` (gunicorn's workers,
``flask run``) and from ``gunicorn.conf.py`` (the master's logger class), so it holds
whichever way the app is served.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

# After /invite/, /reset/, /unsubscribe/ or /feed/ (also percent-encoded slashes, as a Referer
# or a crafted path may have them, and repeated slashes, which Werkzeug merges and
# redirects to the live page): everything up to the next /, ?, #, space or quote.
# The word may be percent-encoded too (``/%69nvite/<token>`` reaches the same page),
# so any run of letters and escapes is read decoded before it is compared.
TOKEN_PATH = re.compile(
    r"(?i)(?:/|%2f)((?:[a-z]|%(?!2f)[0-9a-f]{2})+)(?:/|%2f)+([^/?#\s\"'&]+)",
)
TOKEN_WORDS = frozenset({"invite", "reset", "unsubscribe", "feed"})
# A query string: from a ? that follows part of a URL up to the next space, quote or #.
# A question mark at the end of a sentence (followed by a space) is left alone.
QUERY = re.compile(r"(?<=[\w/.%~\]-])\?[^\s\"'#]+")
REDACTED = "[redacted]"
# "app" is Flask's own logger (app.logger), which writes "Exception on <path>" when an
# error page itself fails.
LOGGERS = ("gunicorn.access", "gunicorn.error", "werkzeug", "app", "app.errors")


def _redact_tokens(text: str) -> str:
    out, pos = [], 0
    while match := TOKEN_PATH.search(text, pos):
        if unquote(match.group(1)).lower() in TOKEN_WORDS:
            out.append(text[pos : match.start(2)] + REDACTED)
            pos = match.end(2)
        else:  # another word: look again from its end, the next slash may start one
            out.append(text[pos : match.end(1)])
            pos = match.end(1)
    out.append(text[pos:])
    return "".join(out)


def redact(text: str) -> str:
    """``text`` with each sign-in token in a path, and each query string, replaced by
    ``[redacted]``."""
    text = _redact_tokens(text)
    return QUERY.sub("?" + REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message with the tokens redacted; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format is the logger's to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactTokens()


def install(names: tuple[str, ...] = LOGGERS) -> None:
    """Attach the filter to each named logger (once: installing again is a no-op)."""
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def gunicorn_logger_class() -> Any:
    """Gunicorn's logger with the filter on its access and error logs.

    Built on demand, so the app does not import gunicorn (the dev server has none).
    """
    from gunicorn.glogging import Logger

    class RedactingLogger(Logger):
        """``logger_class`` for gunicorn.conf.py."""

        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for logger in (self.access_log, self.error_log):
                if _FILTER not in logger.filters:
                    logger.addFilter(_FILTER)

    return RedactingLogger
