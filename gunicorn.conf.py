"""Gunicorn settings read from the project folder (``make run`` and the README's
Production command name it with ``--config``).

- The access and error logs never hold a sign-in token, a query string (patient
  searches) or a Referer's token: the redacting logger class of app/logredact.py.
  ``wsgi.py`` installs the same filter, so a gunicorn started without this file is
  redacted too.
- Gunicorn's ``Server`` header says only "gunicorn", never its version (built in since
  gunicorn 20; tests/services/test_access_log_redaction.py checks it).

- Each worker is told how many workers there are (``SCLERO_GUNICORN_WORKERS``), so a
  production start refuses per-process (memory://) rate limits with more than one
  (config.py: ``serving_processes``).

Other settings (workers, bind address, log files) stay on the command line.
"""

from app.logredact import gunicorn_logger_class

logger_class = gunicorn_logger_class()


def on_starting(server) -> None:  # noqa: ANN001 - gunicorn's Arbiter
    """In the master, before any worker is forked: the workers inherit the count."""
    import os

    os.environ["SCLERO_GUNICORN_WORKERS"] = str(server.cfg.workers)
