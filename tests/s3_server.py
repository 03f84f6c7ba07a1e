"""A real S3 HTTP endpoint on loopback for the tests: moto's server mode.

``start_s3_server()`` starts ``moto.server.ThreadedMotoServer`` on 127.0.0.1 and a free
port, and returns its URL and a function that stops it. The photo store talks to it
with boto3 over HTTP, exactly as to AWS S3, MinIO or Ceph. Dummy credentials are set in
the environment (boto3's standard chain), never real ones.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

from moto.server import ThreadedMotoServer

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - moto accepts any
    "AWS_DEFAULT_REGION": "us-east-1",
}


def start_s3_server() -> tuple[str, Callable[[], None]]:
    """Start moto on loopback; :returns: (endpoint_url, stop)."""
    for name, value in DUMMY_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}", server.stop


def start_silent_server() -> tuple[str, Callable[[], None]]:
    """A socket that accepts connections and never answers (a hung S3): (url, stop)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # kept open, never read or answered

    threading.Thread(target=accept, daemon=True).start()

    def stop() -> None:
        stopping.set()
        listener.close()
        for conn in held:
            conn.close()

    return f"http://127.0.0.1:{listener.getsockname()[1]}", stop
