"""Development SMTP catcher: accepts every email on 127.0.0.1:1025 and writes it to
``instance/mail/<time>-<n>.eml`` instead of delivering it (``make run`` starts it; the
development-only page /dev/mail lists the files).

    python tools/mail_catcher.py [--host 127.0.0.1] [--port 1025] [--folder instance/mail]
"""

from __future__ import annotations

import argparse
import itertools
import os
import threading
import time
from datetime import UTC
from datetime import datetime

from aiosmtpd.controller import Controller


class FolderHandler:
    """Writes each message as a .eml file (temp name, then rename: never half a file)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        os.makedirs(folder, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        with self.lock:
            n = next(self.counter)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{n:05d}.eml"
        temp = os.path.join(self.folder, f".{name}.tmp")
        with open(temp, "wb") as fh:
            fh.write(envelope.original_content or envelope.content)
        os.replace(temp, os.path.join(self.folder, name))
        print(f"mail catcher: {name} to {', '.join(envelope.rcpt_tos)}", flush=True)
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--folder", default=os.path.join("instance", "mail"))
    args = parser.parse_args()
    controller = Controller(FolderHandler(args.folder), hostname=args.host, port=args.port)
    controller.start()
    print(f"mail catcher: smtp://{args.host}:{args.port} -> {args.folder}/", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
