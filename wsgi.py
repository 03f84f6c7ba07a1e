"""WSGI entry point for gunicorn and the ``flask`` command."""

from app import create_app
from app import logredact

# Before the first request: the access logs of gunicorn's workers and of the dev
# server must never hold a sign-in token, however the server was started.
logredact.install()

app = create_app()
