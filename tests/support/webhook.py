"""A webhook receiver for Alertmanager's notifications: a real HTTP server on loopback that records each POST."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Notification:
    receiver: str  # the URL path without its slash: the example config gives every receiver its own path
    payload: dict[str, Any]  # Alertmanager's webhook JSON (status, alerts, groupLabels, ...)
    received: float  # time.monotonic() on arrival

    @property
    def status(self) -> str:
        return self.payload["status"]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.payload["alerts"]


class WebhookReceiver:
    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.notifications.append(
                        Notification(self.path.strip("/"), json.loads(body), time.monotonic())
                    )
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def received(self, receiver: str | None = None) -> list[Notification]:
        with self._lock:
            return [n for n in self.notifications if receiver is None or n.receiver == receiver]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
