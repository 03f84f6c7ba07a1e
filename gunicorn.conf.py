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
  (config.py: ``serving_processes``). ``kill -TTIN`` adds a worker at run time, after
  that check: ``nworkers_changed`` runs it again at the new count and keeps the old
  count when it fails (one allowed worker with memory:// limits would otherwise become
  two, each counting on its own: every limit twice as loose). With ``--preload`` the app
  is made before the count is known, so ``on_starting`` runs the check again.

Other settings (workers, bind address, log files) stay on the command line.
"""

from app.logredact import gunicorn_logger_class

logger_class = gunicorn_logger_class()


def on_starting(server) -> None:  # noqa: ANN001 - gunicorn's Arbiter
    """In the master, before any worker is forked: the workers inherit the count."""
    import os

    os.environ["SCLERO_GUNICORN_WORKERS"] = str(server.cfg.workers)
    # With --preload (the systemd units) the app was made before this hook, so its own
    # start-up check saw no worker count: run it again now that the count is known. A
    # ConfigError (a RuntimeError) stops gunicorn with its message, as a worker's would.
    loaded = getattr(getattr(server, "app", None), "callable", None)
    if loaded is not None:
        from config import config_by_name

        config_by_name(os.environ.get("APP_ENV", "production")).validate(dict(loaded.config))


def nworkers_changed(server, new_value, old_value) -> None:  # noqa: ANN001 - gunicorn's Arbiter
    """TTIN / TTOU: keep the count workers read current, and refuse an increase that the
    start-up check would have refused."""
    import os

    from config import WORKERS_VARIABLE
    from config import ConfigError
    from config import config_by_name

    before = os.environ.get(WORKERS_VARIABLE)
    os.environ[WORKERS_VARIABLE] = str(new_value)
    if old_value is None or new_value <= old_value:
        return
    problem = None
    try:
        settings = _settings(server)
        config_by_name(os.environ.get("APP_ENV", "production")).validate(settings)
    except ConfigError as exc:
        problem = str(exc)
    if problem:
        # Not through the setter: that would call this hook again.
        server._num_workers = old_value  # noqa: SLF001
        os.environ[WORKERS_VARIABLE] = before or str(old_value)
        server.log.error(
            "refused to go from %s to %s workers, which the start-up check refuses: %s",
            old_value,
            new_value,
            problem,
        )


def _settings(server) -> dict:  # noqa: ANN001 - gunicorn's Arbiter
    """The app's settings: from the app the master loaded (``--preload``), else from an
    app made here (its own start-up check then runs at the new count)."""
    loaded = getattr(getattr(server, "app", None), "callable", None)
    if loaded is None:
        from app import create_app

        loaded = create_app()
    return dict(loaded.config)
