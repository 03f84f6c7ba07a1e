"""A pybabel extractor for the shipped protocol files (issue 19 point 6).

babel.cfg runs it on app/protocols/*.toml: every ``name``, ``summary``, ``title`` and
``detail`` becomes a message, so the catalogue can carry their translations. A clinic's
own protocol text that the catalogue does not know is shown as the clinic wrote it
(app/services/care/protocol_text.py).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from typing import IO

TEXT_KEYS = ("name", "summary", "title", "detail")


def _texts(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TEXT_KEYS and isinstance(value, str):
                if value.strip():
                    yield value
            else:
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def extract_protocol(
    fileobj: IO[bytes], keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel's extraction interface: (line, function, message, comments) per text."""
    source = fileobj.read().decode("utf-8")
    lines = source.splitlines()
    for text in _texts(tomllib.loads(source)):
        first = text.splitlines()[0]
        line = next((n for n, row in enumerate(lines, 1) if first in row), 1)
        yield line, None, text, ["protocol text"]
