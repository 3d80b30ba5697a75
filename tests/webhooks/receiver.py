"""A real webhook receiver on loopback: records what it is sent, answers as told, and can be
stopped and started again on the same port (a receiver that is down refuses connections)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.serve_process import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        """Every request that reached the handler, in arrival order (answered or not)."""
        self.answered: list[Received] = []
        """The requests answered 2xx."""
        self.status = 200
        self.hold = threading.Event()
        """Set: requests are held unanswered (a receiver stuck mid-delivery) until cleared."""
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", "0"))
                got = Received(
                    {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(size)
                )
                with receiver._lock:
                    receiver.received.append(got)
                while receiver.hold.is_set() and not receiver._release.wait(0.05):
                    pass
                status = receiver.status
                try:
                    self.send_response(status)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    return  # the sender went away
                if 200 <= status < 300:
                    with receiver._lock:
                        receiver.answered.append(got)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._release.clear()

    def answered_ids(self) -> list[str]:
        with self._lock:
            return [r.id for r in self.answered]
