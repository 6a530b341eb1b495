"""Simulated cities for tests and benchmarks: in a background thread of this process, or as a child process.

Tests talk to it over the real wire (our client, net-snmp's tools) and switch
faults through :meth:`ThreadedSimulation.call`, which runs on the simulator's
own loop so no state is touched from two threads at once.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from simulators.runner import Simulation, start_simulation
from stadtnetz.clock import Clock
from tests.support.processes import Daemon, free_port

T = TypeVar("T")


class ThreadedSimulation:
    def __init__(self, devices: int = 40, seed: int = 7, clock: Clock | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulated-city", daemon=True)
        self._thread.start()
        started: Future[Simulation] = asyncio.run_coroutine_threadsafe(
            start_simulation(devices, seed=seed, port=0, clock=clock, **options), self._loop
        )
        self.simulation = started.result(timeout=60)

    @property
    def port(self) -> int:
        return self.simulation.port

    def endpoint(self, device_id: str) -> str:
        return self.simulation.runtime.device(device_id).spec.endpoint

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` on the simulator's loop and return its result."""

        async def invoke() -> T:
            return function(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout=30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.simulation.close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> ThreadedSimulation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


REPO = Path(__file__).resolve().parents[2]


def start_simulator_process(
    directory: Path, devices: int, *, seed: int = 1, community: str = "public", timeout: float = 180.0
) -> tuple[Daemon, int, Path]:
    """``stadtnetz simulate`` as a child process on a free UDP port; waits until it serves.

    Returns the daemon (stop it by calling ``stop()``), the UDP port and the inventory CSV it wrote.
    """
    directory.mkdir(parents=True, exist_ok=True)
    inventory = directory / "inventory.csv"
    inventory.unlink(missing_ok=True)
    port = free_port(kind=socket.SOCK_DGRAM)
    simulator = Daemon(
        [
            sys.executable,
            "-m",
            "stadtnetz.cli",
            "simulate",
            "--devices",
            str(devices),
            "--seed",
            str(seed),
            "--port",
            str(port),
            "--community",
            community,
            "--write-inventory",
            str(inventory),
        ],
        directory / "simulator.log",
        env={"PYTHONUNBUFFERED": "1"},  # its "ready" line must reach the log at once
        cwd=REPO,
    )
    simulator.wait_ready(
        lambda: "ready" in simulator.log_path.read_text(errors="replace") and inventory.exists(),
        timeout,
        "simulated city (stadtnetz simulate)",
    )
    return simulator, port, inventory
