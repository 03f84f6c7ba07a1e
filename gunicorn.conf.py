"""Gunicorn settings read from the project folder: the access log never holds a
sign-in token (app/logredact.py). Other settings stay on the command line."""

from app.logredact import gunicorn_logger_class

logger_class = gunicorn_logger_class()
