"""The app plus a bare one-heading page, so bench/pages.py can compare LCP fairly."""

from wsgi import app


@app.get("/_bench/bare")
def bare() -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="description" content="Bare page for the benchmark.">'
        "<title>Bare</title></head><body><h1>Hello</h1></body></html>"
    )
