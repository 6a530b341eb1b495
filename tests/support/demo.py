"""The demo (``stadtnetz.app.demo.run_demo``: simulated city, service, chargers) on a background thread, for tests.

Everything is real: the city answers SNMP on 127.20.x.y, the service polls it
and serves /metrics, the city's chargers dial the service's OCPP endpoint over
WebSockets, and the control API switches scenarios. Tests talk to it over
HTTP only (``metrics()``, ``scenario()``); nothing on its loop is touched from
the test's thread.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.error
import urllib.request
from concurrent.futures import Future
from typing import Any

from simulators.control import listening_socket
from simulators.runner import Simulation
from stadtnetz.app.demo import run_demo
from stadtnetz.app.service import Service


class ThreadedDemo:
    """``run_demo`` on a thread of its own until :meth:`close`; options go to ``run_demo``."""

    def __init__(self, devices: int = 650, seed: int = 1, interval: float = 15.0, **options: Any) -> None:
        self.url = self.control_url = ""
        self.simulation: Simulation | None = None
        self.service: Service | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        announced: Future[None] = Future()
        listen = listening_socket("127.0.0.1", 0)
        control = listening_socket("127.0.0.1", 0)

        def announce(url: str, control_url: str, simulation: Simulation, service: Service) -> None:
            self.url, self.control_url = url, control_url
            self.simulation, self.service = simulation, service
            announced.set_result(None)

        async def main() -> None:
            await run_demo(devices, seed, 0, listen, control, interval, self._stop, announce, **options)

        def serve() -> None:
            try:
                self._loop.run_until_complete(main())
            except BaseException as exc:
                if not announced.done():
                    announced.set_exception(exc)
                raise
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=serve, name="demo", daemon=True)
        self._thread.start()
        try:
            announced.result(timeout=60)
        except BaseException:
            self.close()
            raise

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "metrics", timeout=10) as response:
            return response.read().decode()

    def scenario(self, command: str) -> tuple[int, str]:
        """POST the command to the control API: (HTTP status, what was done or the error)."""
        request = urllib.request.Request(self.control_url + "/scenario", data=command.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)["done"]
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)["error"]

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=60)

    def __enter__(self) -> ThreadedDemo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of the metric ``name`` in a /metrics text: sorted labels -> value."""
    found = {}
    for match in re.finditer(rf"^{re.escape(name)}\{{([^}}]*)\}} (\S+)$", text, re.MULTILINE):
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match.group(1))))
        found[labels] = float(match.group(2))
    return found


def by_labels(text: str, name: str) -> list[dict[str, str]]:
    """The label sets of every sample of ``name``."""
    return [dict(labels) for labels in series(text, name)]


def by_charger(text: str, name: str, **match: str) -> dict[str, float]:
    """Samples of ``name`` whose labels include ``match``, by their charger label."""
    values = {}
    for labels, value in series(text, name).items():
        found = dict(labels)
        if all(found.get(key) == wanted for key, wanted in match.items()):
            values[found["charger"]] = value
    return values
