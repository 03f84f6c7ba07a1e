"""Gunicorn settings read from the project folder (``make run`` and the README's
Production command name it with ``--config``).

- The access and error logs never hold a sign-in token, a query string (patient
  searches) or a Referer's token: the redacting logger class of app/logredact.py.
  ``wsgi.py`` installs the same filter, so a gunicorn started without this file is
  redacted too.
- Gunicorn's ``Server`` header says only "gunicorn", never its version (built in since
  gunicorn 20; tests/services/test_access_log_redaction.py checks it).

Other settings (workers, bind address, log files) stay on the command line.
"""

from app.logredact import gunicorn_logger_class

logger_class = gunicorn_logger_class()
