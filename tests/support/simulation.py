"""Simulated cities for tests and benchmarks: in a background thread of this process, or as a child process.

Tests talk to it over the real wire (our client, net-snmp's tools) and switch
faults through :meth:`ThreadedSimulation.call`, which runs on the simulator's
own loop so no state is touched from two threads at once.

With ``netns=True`` (root) the city lives in a network namespace of its own
(devices on 198.19.x.y behind a TUN device, ICMP and SNMP with simulated
latency and loss); reach it with :meth:`ThreadedSimulation.run_inside` (our
code) or :meth:`ThreadedSimulation.run_command` (``ip netns exec``: fping, snmpget).
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from simulators import netns as netns_module
from simulators.netns import Namespace
from simulators.runner import Simulation, start_simulation
from stadtnetz.clock import Clock
from tests.support.processes import Daemon, free_port
from tests.support.root import require_root

T = TypeVar("T")


class ThreadedSimulation:
    """A simulated city served by an event loop on a background thread.

    ``netns=True``: create a network namespace first, run the loop on a thread
    inside it (TUN responder for ICMP and SNMP, no UDP socket); ``close()``
    deletes the namespace again. Needs root.
    """

    def __init__(
        self, devices: int = 40, seed: int = 7, clock: Clock | None = None, netns: bool = False, **options: Any
    ) -> None:
        if netns:
            require_root("a network namespace for the simulated city (TUN device, real ICMP)")
        self.namespace: Namespace | None = netns_module.create_namespace() if netns else None
        self._namespace_deleted = False
        self._loop = asyncio.new_event_loop()
        entered: Future[None] = Future()
        self._thread = threading.Thread(target=self._serve, args=(entered,), name="simulated-city", daemon=True)
        self._thread.start()
        try:
            entered.result(timeout=30)
            started: Future[Simulation] = asyncio.run_coroutine_threadsafe(
                start_simulation(devices, seed=seed, port=0, clock=clock, netns=self.namespace, **options), self._loop
            )
            self.simulation = started.result(timeout=60)
        except BaseException:
            self._stop_loop()
            self._delete_namespace()
            raise

    def _serve(self, entered: Future[None]) -> None:
        try:
            if self.namespace is not None:
                netns_module.enter_current_thread(self.namespace)
        except BaseException as exc:
            entered.set_exception(exc)
            return
        entered.set_result(None)
        self._loop.run_forever()

    @property
    def port(self) -> int:
        return self.simulation.port

    def endpoint(self, device_id: str) -> str:
        return self.simulation.runtime.device(device_id).spec.endpoint

    def address(self, device_id: str) -> str:
        return self.simulation.runtime.device(device_id).spec.address

    def _require_namespace(self) -> Namespace:
        if self.namespace is None:
            raise RuntimeError("this simulation runs on loopback: start it with netns=True")
        return self.namespace

    def run_inside(self, function: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = 60.0) -> T:
        """``asyncio.run(function(*args))`` on a thread inside the simulation's namespace; its result."""
        return netns_module.run_in_namespace(self._require_namespace(), function, *args, timeout=timeout)

    def run_command(
        self, argv: Sequence[str], timeout: float = 60.0, **options: Any
    ) -> subprocess.CompletedProcess[str]:
        """``ip netns exec NAMESPACE argv...`` (e.g. fping, snmpget), output captured as text."""
        return netns_module.run_command(self._require_namespace(), argv, timeout=timeout, **options)

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` on the simulator's loop and return its result."""

        async def invoke() -> T:
            return function(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout=30)

    def close(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.simulation.close(), self._loop).result(timeout=30)
        finally:
            self._stop_loop()
            self._delete_namespace()

    def _stop_loop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        if not self._loop.is_running():
            self._loop.close()

    def _delete_namespace(self) -> None:
        if self.namespace is not None and not self._namespace_deleted:
            self._namespace_deleted = True
            netns_module.delete_namespace(self.namespace)

    def __enter__(self) -> ThreadedSimulation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


REPO = Path(__file__).resolve().parents[2]


def start_simulator_process(
    directory: Path,
    devices: int,
    *,
    seed: int = 1,
    community: str = "public",
    timeout: float = 180.0,
    netns: bool = False,
    extra_args: Sequence[str] = (),
) -> tuple[Daemon, int, Path]:
    """``stadtnetz simulate`` as a child process on a free UDP port; waits until it serves.

    Returns the daemon (stop it by calling ``stop()``), the UDP port and the inventory CSV it wrote;
    :func:`simulator_control_url` reads where its control API listens.
    ``netns=True`` adds ``--netns`` (read the namespace with :func:`simulator_namespace`); ``extra_args`` go
    after the other options (e.g. ``--v3-user USER:AUTH:file:PATH:PRIV:file:PATH``).
    """
    if netns:
        require_root("`stadtnetz simulate --netns` (a network namespace for the simulated city)")
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
            "--control",
            "127.0.0.1:0",
            *(["--netns"] if netns else []),
            *extra_args,
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


_NAMESPACE_IN_READY_LINE = re.compile(r"^ready: .* netns (\S+)", re.MULTILINE)
_CONTROL_IN_READY_LINE = re.compile(r"^ready: .* control (http://\S+)", re.MULTILINE)


def simulator_control_url(simulator: Daemon) -> str:
    """Where a ``stadtnetz simulate`` process serves its control API (from its ready line)."""
    match = _CONTROL_IN_READY_LINE.search(simulator.log_path.read_text(errors="replace"))
    if match is None:
        raise RuntimeError(f"the simulator announced no control API:\n{simulator.log_tail()}")
    return match.group(1)


def simulator_namespace(simulator: Daemon) -> Namespace | None:
    """The network namespace a ``stadtnetz simulate --netns`` process announced in its ready line, if any."""
    match = _NAMESPACE_IN_READY_LINE.search(simulator.log_path.read_text(errors="replace"))
    return Namespace(match.group(1)) if match else None
