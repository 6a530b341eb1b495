"""Heartbeat load on the OCPP 1.6J endpoint: its CPU share and response latency, against a peer central system.

``--chargers`` simulated charge points (default 2,000) connect over WebSocket (subprotocol ``ocpp1.6``) to a
central system listening on a free port of 127.0.0.1, each to ``ws://127.0.0.1:PORT/ocpp/<id>``; no other
address is ever used. Each charger sends a schema-valid BootNotification and waits for Accepted, sends one
StatusNotification per connector (0, 1, 2: Available), then a Heartbeat every ``--interval`` seconds
(default 10) with a random phase. Two central systems get the same load, one after the other, each in a
fresh process (with ``--rounds`` > 1 the order is rotated from round to round):

1. **ours** -- :class:`collectors.ocpp.CentralSystem` with the chargers' ids as inventory, no passwords,
   ``heartbeat_interval=--interval``.
2. **peer** -- a minimal central system the way the ``ocpp`` package's documentation shows one: an
   ``ocpp.v16.ChargePoint`` subclass with ``@on`` handlers for BootNotification (Accepted, the same
   interval), Heartbeat and StatusNotification, one per connection, its ``start()`` run by the connection
   handler of ``websockets``' ``serve(..., subprotocols=["ocpp1.6"])``. The package validates requests and
   responses against the OCPP 1.6 schemas (its default); its logger is set to WARNING, so the raw message
   lines it writes at INFO cost it nothing but the level check (ours mutes them altogether).

Both run with ``websockets``' defaults otherwise (keepalive pings every 20 s, ...). The load comes from a
generator process (``--workers`` of them, default 1) of plain ``websockets`` clients that send pre-built
OCPP-J frames (checked against the schemas once at its start) and no pings; they do not offer
permessage-deflate unless ``--deflate`` is given. Connections are opened at ``--ramp-rate`` per second (0:
all at once), a failed one is tried again after 1 s, up to 3 attempts.

Measured, once every charger is booted, over ``--duration`` seconds (default 60):

- **cpu_share** -- user + system CPU seconds of the central system's process (all its threads, from
  ``/proc/PID/stat``) divided by the wall seconds of the window: a fraction of one core.
- **latency** -- of each Heartbeat sent in the window, from just before the frame is written to the moment
  the CALLRESULT with its unique id is read back (``time.perf_counter`` in the generator); p50, p99, max.
- **messages/s** -- Heartbeats sent per second in the window (chargers / interval when nothing lags).
- **errors** -- over the whole run: failed connection attempts, CALLERRORs, calls without an answer
  within 10 s, connections closed by the server, boots not Accepted.

Beside them: the central system's resident memory at the end of the window, the generator's CPU share (it
must stay well below one core, or the latencies measure the generator), and the ramp (its length, p50/p99
of the WebSocket handshake and of BootNotification's answer). The bench fails (exit status 1, no RESULT
line) if a charger could not connect or boot, or if a central system counted fewer BootNotifications,
StatusNotifications or Heartbeats than were sent to it (ours: ``CentralSystem.stats.messages``; peer: a
counter in its handlers).

The last line is ``RESULT chargers=<n> cpu_share=<ours> p99_ms=<ours>`` (medians over the rounds).

Run (``--quick``: 100 chargers heartbeating every 2 s, 4 s measured, one round; a smoke run)::

    .venv/bin/python bench/ocpp_load.py
    .venv/bin/python bench/ocpp_load.py --quick
    .venv/bin/python bench/ocpp_load.py --chargers 2000 --duration 60 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import logging
import math
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ocpp.messages import unpack, validate_payload  # noqa: E402
from ocpp.routing import on  # noqa: E402
from ocpp.v16 import ChargePoint, call_result  # noqa: E402
from ocpp.v16.enums import Action, RegistrationStatus  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402
from websockets.exceptions import ConnectionClosed, WebSocketException  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from tests.support.processes import process_cpu_seconds  # noqa: E402

HOST: Final = "127.0.0.1"  # the only address this bench talks to
PATH_PREFIX: Final = "/ocpp/"
SUBPROTOCOL: Final = Subprotocol("ocpp1.6")
CONNECTORS: Final = 2  # StatusNotifications for connectors 0 (the charge point), 1 and 2
CALL_TIMEOUT: Final = 10.0  # seconds without an answer: a timeout
CONNECT_ATTEMPTS: Final = 3
ENDPOINTS: Final = ("ours", "peer")
LABELS: Final = {
    "ours": "ours (collectors.ocpp.CentralSystem)",
    "peer": "peer (ocpp.v16.ChargePoint per connection)",
}
VENDOR, MODEL, FIRMWARE = "Musterwerk", "AC-22 Sim", "1.0.0"

_WIRE_LOG = logging.getLogger("bench.ocpp_load.wire")
_WIRE_LOG.setLevel(logging.WARNING)  # websockets logs frames at DEBUG


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def raise_fd_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit: every charger is a socket (twice, on the loopback)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def charger_id(index: int) -> str:
    return f"CP{index:05d}"


def emit(message: dict[str, Any]) -> None:
    """One JSON line to the parent process."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class Commands:
    """The parent's commands to a child process, one word a line on stdin; end of input reads as ``stop``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        self._task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            self.queue.put_nowait(line.decode().strip())
        self.queue.put_nowait("stop")

    async def next(self) -> str:
        return await self.queue.get()


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values; NaN if there are none."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


# --------------------------------------------------------------------------- the central systems (child process)

PEER_COUNTS: Counter[str] = Counter()  # CALLs the peer's handlers were given, by action


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class PeerChargePoint(ChargePoint):
    """The peer: a central system's side of one charger as the ``ocpp`` package's documentation builds it."""

    heartbeat_interval = 10

    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any):
        PEER_COUNTS["BootNotification"] += 1
        return call_result.BootNotification(
            current_time=_utc_now(), interval=self.heartbeat_interval, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self):
        PEER_COUNTS["Heartbeat"] += 1
        return call_result.Heartbeat(current_time=_utc_now())

    @on(Action.status_notification)
    def on_status_notification(self, connector_id: int, error_code: str, status: str, **kwargs: Any):
        PEER_COUNTS["StatusNotification"] += 1
        return call_result.StatusNotification()


async def peer_connection(websocket: ServerConnection) -> None:
    """The peer's connection handler: refuse clients that did not agree on ocpp1.6, run a ChargePoint."""
    if websocket.subprotocol != SUBPROTOCOL:
        await websocket.close()
        return
    assert websocket.request is not None
    cp_id = websocket.request.path.rstrip("/").rsplit("/", 1)[-1]
    charge_point = PeerChargePoint(cp_id, websocket)
    with contextlib.suppress(ConnectionClosed):
        await charge_point.start()


async def serve_endpoint(endpoint: str, chargers: int, interval: int) -> None:
    """Child process: run one central system on a free port of 127.0.0.1 until told to stop."""
    commands = Commands()
    await commands.start()
    if endpoint == "ours":
        from collectors.ocpp import CentralSystem

        # the peer asks no credentials either: both compared on the same open path
        central = CentralSystem([charger_id(i) for i in range(chargers)], auth="none", heartbeat_interval=interval)
        _, port = await central.start(HOST, 0)

        def stats() -> dict[str, Any]:
            return {
                "messages": dict(central.stats.messages),
                "errors": {str(k): v for k, v in central.stats.errors.items() if v},
                "refused": {str(k): v for k, v in central.stats.refused.items() if v},
                "connections": central.stats.connections,
            }

        close = central.close
    else:
        logging.getLogger("ocpp").setLevel(logging.WARNING)
        PeerChargePoint.heartbeat_interval = interval
        server = await serve(peer_connection, HOST, 0, subprotocols=[SUBPROTOCOL])
        port = next(iter(server.sockets)).getsockname()[1]

        def stats() -> dict[str, Any]:
            return {"messages": dict(PEER_COUNTS), "errors": {}, "refused": {}, "connections": None}

        async def close() -> None:
            server.close()
            await server.wait_closed()

    emit({"event": "ready", "port": port, "pid": os.getpid()})
    while (command := await commands.next()) != "stop":
        if command == "stats":
            emit({"event": "stats", **stats()})
    await close()


# --------------------------------------------------------------------------- the load generator (child process)


def boot_frame(uid: str, cp_id: str) -> str:
    payload = {
        "chargePointVendor": VENDOR,
        "chargePointModel": MODEL,
        "chargePointSerialNumber": cp_id,
        "firmwareVersion": FIRMWARE,
    }
    return json.dumps([2, uid, "BootNotification", payload], separators=(",", ":"))


def status_frame(uid: str, connector: int) -> str:
    payload = {
        "connectorId": connector,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return json.dumps([2, uid, "StatusNotification", payload], separators=(",", ":"))


def heartbeat_frame(uid: str) -> str:
    return f'[2,"{uid}","Heartbeat",{{}}]'


class LoadGenerator:
    """Child process: the chargers ``worker``, ``worker + workers``, ... of ``chargers``, as plain WebSocket clients."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.base_url = f"ws://{HOST}:{args.port}{PATH_PREFIX}"
        self.indices = range(args.worker, args.chargers, args.workers)
        self.interval = float(args.interval)
        self.ramp_rate = args.ramp_rate / args.workers
        self.compression = "deflate" if args.deflate else None
        self.rng = random.Random(f"{args.seed}:{args.worker}")
        self.window = False  # heartbeats sent while True are measured
        self.stopping = False
        self.sleeping: set[int] = set()  # chargers waiting for their next heartbeat
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.connections: dict[int, ClientConnection] = {}
        self.settled = 0  # chargers booted or given up
        self.all_settled = asyncio.Event()
        self.counts: Counter[str] = Counter()
        self.error_kinds: Counter[str] = Counter()
        self.latencies_ms: list[float] = []
        self.connect_ms: list[float] = []
        self.boot_ms: list[float] = []
        self.ramp_s = 0.0

    @staticmethod
    async def check_frames() -> None:
        """The frames this generator sends are valid OCPP 1.6 (the same check the central systems make)."""
        for frame in (boot_frame("check", charger_id(0)), status_frame("check", 1), heartbeat_frame("check")):
            await validate_payload(unpack(frame), "1.6")

    async def run(self) -> None:
        await self.check_frames()
        commands = Commands()
        await commands.start()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for k, index in enumerate(self.indices):
            at = start + (k / self.ramp_rate if self.ramp_rate else 0.0)
            self.tasks[index] = asyncio.create_task(self.charger(index, at))
        if not self.tasks:
            self.all_settled.set()
        await self.all_settled.wait()
        self.ramp_s = loop.time() - start
        gc.collect()
        gc.freeze()  # the chargers' objects live to the end: keep the collector's pauses out of the latencies
        emit({"event": "booted", "chargers": len(self.tasks), "booted": self.counts["booted"]})
        command = await commands.next()
        if command == "measure":
            self.window = True
            command = await commands.next()
        self.window = False
        self.stopping = True
        for index in list(self.sleeping):
            self.tasks[index].cancel()  # waiting for their next heartbeat; those in a call finish it
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in self.connections.values()), return_exceptions=True)
        emit(
            {
                "event": "done",
                "counts": dict(self.counts),
                "error_kinds": dict(self.error_kinds),
                "latencies_ms": [round(x, 4) for x in self.latencies_ms],
                "connect_ms": [round(x, 3) for x in self.connect_ms],
                "boot_ms": [round(x, 3) for x in self.boot_ms],
                "ramp_s": self.ramp_s,
            }
        )

    async def charger(self, index: int, start_at: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, start_at - loop.time()))
        try:
            ws = await self.bring_up(index)
        except Exception as error:  # a bug here, not the server's fault: shown, and the charger counts as not booted
            self.counts["generator_errors"] += 1
            self.error_kinds[f"generator: {type(error).__name__}: {error}"[:120]] += 1
            ws = None
        self.settled += 1
        if self.settled == len(self.indices):
            self.all_settled.set()
        if ws is None:
            return
        try:
            await self.heartbeats(index, ws)
        except ConnectionClosed as error:
            self.counts["dropped"] += 1
            self.error_kinds[f"dropped: {error}"] += 1
        except Exception as error:
            self.counts["generator_errors"] += 1
            self.error_kinds[f"generator: {type(error).__name__}: {error}"[:120]] += 1

    async def bring_up(self, index: int) -> ClientConnection | None:
        """Connect, boot (Accepted), report the connectors; the connection, or None if that failed."""
        cp_id = charger_id(index)
        ws = None
        for attempt in range(CONNECT_ATTEMPTS):
            began = time.perf_counter()
            try:
                ws = await connect(
                    self.base_url + cp_id,
                    subprotocols=[SUBPROTOCOL],
                    compression=self.compression,
                    proxy=None,
                    open_timeout=CALL_TIMEOUT,
                    ping_interval=None,
                    logger=_WIRE_LOG,
                )
            except (OSError, TimeoutError, WebSocketException) as error:
                self.counts["connect_failures"] += 1
                self.error_kinds[f"connect: {type(error).__name__}: {error}"[:120]] += 1
                if attempt + 1 < CONNECT_ATTEMPTS:
                    await asyncio.sleep(1.0)
                continue
            self.connect_ms.append((time.perf_counter() - began) * 1e3)
            break
        if ws is None:
            return None
        self.connections[index] = ws
        try:
            if ws.subprotocol != SUBPROTOCOL:
                self.counts["connect_failures"] += 1
                self.error_kinds["connect: no ocpp1.6 subprotocol agreed"] += 1
                return None
            answer, ms = await self.call(ws, f"{index}.b", boot_frame(f"{index}.b", cp_id), "BootNotification")
            payload = answer[2] if answer is not None and answer[0] == 3 else {}
            if payload.get("status") != "Accepted":
                self.counts["boot_rejected"] += 1
                self.error_kinds[f"boot: {json.dumps(answer)[:100]}"] += 1
                return None
            if payload.get("interval") != self.interval:
                self.error_kinds[f"boot: interval {payload.get('interval')}, not {self.interval:g}"] += 1
            self.boot_ms.append(ms)
            for connector in range(CONNECTORS + 1):
                uid = f"{index}.s{connector}"
                await self.call(ws, uid, status_frame(uid, connector), "StatusNotification")
        except ConnectionClosed as error:
            self.counts["dropped"] += 1
            self.error_kinds[f"dropped while booting: {error}"] += 1
            return None
        self.counts["booted"] += 1
        return ws

    async def heartbeats(self, index: int, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.rng.uniform(0.0, self.interval)
        sequence = 0
        while not self.stopping:
            self.sleeping.add(index)
            try:
                await asyncio.sleep(next_at - loop.time())
            except asyncio.CancelledError:
                return  # stopping
            finally:
                self.sleeping.discard(index)
            sequence += 1
            uid = f"{index}.{sequence}"
            measured = self.window
            answer, ms = await self.call(ws, uid, heartbeat_frame(uid), "Heartbeat")
            if measured:
                self.counts["window_sent"] += 1
                if answer is not None and answer[0] == 3:
                    self.latencies_ms.append(ms)
            next_at = max(next_at + self.interval, loop.time())

    async def call(self, ws: ClientConnection, uid: str, frame: str, action: str) -> tuple[list[Any] | None, float]:
        """Send one CALL, wait for the answer with its unique id; (the answer or None on timeout, milliseconds)."""
        began = time.perf_counter()
        await ws.send(frame)
        self.counts[f"sent:{action}"] += 1
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                while True:
                    answer = json.loads(await ws.recv())
                    if isinstance(answer, list) and len(answer) >= 3 and answer[1] == uid:
                        break
                    self.counts["stale_answers"] += 1  # a late answer to a call that timed out
        except TimeoutError:
            self.counts["timeouts"] += 1
            self.error_kinds[f"timeout: {action}"] += 1
            return None, (time.perf_counter() - began) * 1e3
        elapsed = (time.perf_counter() - began) * 1e3
        if answer[0] == 4:
            self.counts["callerrors"] += 1
            self.error_kinds[f"CALLERROR to {action}: {answer[2]}"[:120]] += 1
        elif answer[0] != 3:
            self.counts["bad_answers"] += 1
            self.error_kinds[f"bad answer to {action}"] += 1
        return answer, elapsed


# --------------------------------------------------------------------------- the parent


class BenchError(Exception):
    pass


class Child:
    """A child process of this bench (central system or generator): JSON lines out, commands in, stderr to a file."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    @classmethod
    async def start(cls, name: str, argv: Sequence[str], workdir: Path) -> Child:
        log_path = workdir / f"{name}.log"
        with log_path.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(Path(__file__).resolve()),
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                cwd=REPO,
                start_new_session=True,  # Ctrl-C reaches the parent only; it stops its children
                limit=64 << 20,  # the generator's last line holds every latency
            )
        return cls(name, process, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    async def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()

    async def receive(self, timeout: float, what: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            raise BenchError(f"{self.name}: no {what} within {timeout:g} s\n{self.log_text()[-3000:]}") from None
        if not line:
            code = await self.process.wait()
            raise BenchError(f"{self.name} exited ({code}) before {what}:\n{self.log_text()[-3000:]}")
        message = json.loads(line)
        if message.get("event") != what:
            raise BenchError(f"{self.name}: expected {what}, got {str(message)[:200]}")
        return message

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    async def stop(self, timeout: float = 20.0) -> None:
        """Close its stdin (it stops by itself), SIGKILL by its own PID if it has not after ``timeout``."""
        if self.process.returncode is None and self.process.stdin is not None:
            with contextlib.suppress(OSError, ConnectionError):
                self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            log(f"{self.name} (pid {self.pid}) did not stop within {timeout:g} s: killing it")
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


@dataclass(slots=True)
class Run:
    """One central system under one load, once."""

    endpoint: str
    chargers: int
    booted: int = 0
    window_s: float = math.nan
    server_cpu_s: float = math.nan
    generator_cpu_s: float = math.nan
    rss_mib: float = math.nan
    counts: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    connect_ms: list[float] = field(default_factory=list)
    boot_ms: list[float] = field(default_factory=list)
    ramp_s: float = 0.0
    server_stats: dict[str, Any] = field(default_factory=dict)
    server_log: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def cpu_share(self) -> float:
        return self.server_cpu_s / self.window_s

    @property
    def generator_share(self) -> float:
        return self.generator_cpu_s / self.window_s

    @property
    def messages_per_s(self) -> float:
        return self.counts["window_sent"] / self.window_s

    def latency(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction)

    @property
    def errors(self) -> int:
        return sum(
            self.counts[k]
            for k in ("connect_failures", "callerrors", "timeouts", "dropped", "boot_rejected", "bad_answers")
        )


async def run_one(endpoint: str, args: argparse.Namespace, workdir: Path, tag: str) -> Run:
    run = Run(endpoint, args.chargers)
    children: list[Child] = []
    try:
        server = await Child.start(
            f"{tag}-{endpoint}-server",
            [
                "--role",
                "server",
                "--endpoint",
                endpoint,
                "--chargers",
                str(args.chargers),
                "--interval",
                str(args.interval),
            ],
            workdir,
        )
        children.append(server)
        ready = await server.receive(60, "ready")
        port = ready["port"]
        generators = []
        for worker in range(args.workers):
            argv = [
                "--role", "generator", "--port", str(port), "--chargers", str(args.chargers),
                "--interval", str(args.interval), "--ramp-rate", str(args.ramp_rate), "--workers", str(args.workers),
                "--worker", str(worker), "--seed", str(args.seed),
            ]  # fmt: skip
            if args.deflate:
                argv.append("--deflate")
            generators.append(await Child.start(f"{tag}-{endpoint}-generator{worker}", argv, workdir))
        children.extend(generators)
        ramp_limit = args.chargers / (args.ramp_rate or math.inf) + 120
        for generator in generators:
            booted = await generator.receive(ramp_limit, "booted")
            run.booted += booted["booted"]
        log(f"  {endpoint}: {run.booted}/{args.chargers} chargers booted; measuring {args.duration:g} s ...")

        for generator in generators:
            await generator.send("measure")
        server_cpu0 = server.cpu_seconds()
        generator_cpu0 = sum(g.cpu_seconds() for g in generators)
        wall0 = time.monotonic()
        await asyncio.sleep(args.duration)
        server_cpu1 = server.cpu_seconds()
        generator_cpu1 = sum(g.cpu_seconds() for g in generators)
        run.window_s = time.monotonic() - wall0
        run.rss_mib = rss_mib(server.pid)
        run.server_cpu_s = server_cpu1 - server_cpu0
        run.generator_cpu_s = generator_cpu1 - generator_cpu0
        for generator in generators:
            await generator.send("stop")
        for generator in generators:
            done = await generator.receive(CALL_TIMEOUT + 60, "done")
            run.counts.update(done["counts"])
            run.error_kinds.update(done["error_kinds"])
            run.latencies_ms += done["latencies_ms"]
            run.connect_ms += done["connect_ms"]
            run.boot_ms += done["boot_ms"]
            run.ramp_s = max(run.ramp_s, done["ramp_s"])
            await generator.stop()
        await asyncio.sleep(0.5)  # the server's side of the last closing handshakes
        await server.send("stats")
        run.server_stats = await server.receive(30, "stats")
    finally:
        for child in reversed(children):
            await child.stop()
        run.server_log = "\n".join(child.log_text() for child in children[:1])
    run.latencies_ms.sort()
    run.connect_ms.sort()
    run.boot_ms.sort()
    check(run)
    return run


def check(run: Run) -> None:
    if run.booted < run.chargers:
        run.problems.append(f"{run.chargers - run.booted} of {run.chargers} chargers could not connect or boot")
    counted = run.server_stats.get("messages", {})
    for action in ("BootNotification", "StatusNotification", "Heartbeat"):
        sent, seen = run.counts[f"sent:{action}"], counted.get(action, 0)
        if seen < sent:
            run.problems.append(f"{action}: {sent} sent, the central system counted {seen}")


def fmt_ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def spread(values: Sequence[float], digits: int) -> str:
    if len(values) < 2:
        return ""
    return f" ({min(values):.{digits}f}..{max(values):.{digits}f})"


def summarise(runs: list[Run]) -> dict[str, float]:
    return {
        "cpu_share": statistics.median(r.cpu_share for r in runs),
        "p50": statistics.median(r.latency(0.50) for r in runs),
        "p99": statistics.median(r.latency(0.99) for r in runs),
        "max": max(r.latency(1.0) for r in runs),
        "messages_per_s": statistics.median(r.messages_per_s for r in runs),
    }


def print_table(by_endpoint: dict[str, list[Run]], args: argparse.Namespace) -> None:
    rounds = len(next(iter(by_endpoint.values())))
    print(
        f"\nOCPP 1.6J heartbeat load: {args.chargers:,} chargers, Heartbeat every {args.interval} s (random phase), "
        f"{args.duration:g} s measured after all booted; {rounds} round(s), median (min..max); "
        f"{'permessage-deflate' if args.deflate else 'no compression'}; {os.cpu_count()} cores"
    )
    header = (
        f"{'endpoint':<44} {'chargers':>8} {'msg/s':>7} {'cpu_share':>21} {'p50 ms':>7} {'p99 ms':>21} "
        f"{'max ms':>8} {'errors':>6} {'RSS MiB':>8} {'gen cpu':>7}"
    )
    print(header)
    print("-" * len(header))
    for endpoint, runs in by_endpoint.items():
        s = summarise(runs)
        cpu = f"{s['cpu_share']:.3f}{spread([r.cpu_share for r in runs], 3)}"
        p99 = f"{fmt_ms(s['p99'])}{spread([r.latency(0.99) for r in runs], 2)}"
        print(
            f"{LABELS[endpoint]:<44} {min(r.booted for r in runs):>8,} {s['messages_per_s']:>7.1f} {cpu:>21} "
            f"{fmt_ms(s['p50']):>7} {p99:>21} {fmt_ms(s['max']):>8} {sum(r.errors for r in runs):>6} "
            f"{statistics.median(r.rss_mib for r in runs):>8.0f} "
            f"{statistics.median(r.generator_share for r in runs):>7.3f}"
        )
    print(
        "cpu_share: the central system's user+system CPU seconds / wall seconds of the window (1.0 = one core); "
        "latency: Heartbeat sent -> CALLRESULT read, in the window;\nerrors: failed connection attempts + "
        "CALLERRORs + no answer in 10 s + dropped connections + boots not Accepted, whole run; "
        "gen cpu: the load generator's CPU share"
    )
    for endpoint, runs in by_endpoint.items():
        for number, r in enumerate(runs, 1):
            counts = r.counts
            print(
                f"  {endpoint} round {number}: ramp {r.ramp_s:.1f} s, handshake p50/p99 "
                f"{fmt_ms(percentile(r.connect_ms, 0.5))}/{fmt_ms(percentile(r.connect_ms, 0.99))} ms, boot answer "
                f"p50/p99 {fmt_ms(percentile(r.boot_ms, 0.5))}/{fmt_ms(percentile(r.boot_ms, 0.99))} ms; "
                f"{counts['window_sent']:,} heartbeats measured; connect failures {counts['connect_failures']}, "
                f"CALLERRORs {counts['callerrors']}, timeouts {counts['timeouts']}, dropped {counts['dropped']}; "
                f"server counted {r.server_stats.get('messages', {}).get('Heartbeat', '?')} Heartbeats "
                f"of {counts['sent:Heartbeat']} sent"
            )
            for kind, count in r.error_kinds.most_common(5):
                print(f"    {count} x {kind}")
            extra = {k: v for k in ("errors", "refused") if (v := r.server_stats.get(k))}
            if extra:
                print(f"    the central system's own error counters: {extra}")
            lines = [line for line in r.server_log.splitlines() if line.strip()]
            if lines:
                print(f"    the central system logged {len(lines)} line(s); last: {lines[-1][:160]}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ocpp_load.py",
        description="CPU share and Heartbeat latency of the OCPP 1.6J endpoint (collectors.ocpp) under N simulated "
        "chargers, side by side with a central system built on the ocpp package's ChargePoint as its docs show.",
        epilog="Last line: RESULT chargers=<n> cpu_share=<ours, fraction of one core> p99_ms=<ours, Heartbeat p99>",
    )
    parser.add_argument("--chargers", type=int, help="simulated chargers (default 2000; --quick: 100)")
    parser.add_argument("--interval", type=int, help="Heartbeat interval, seconds (default 10; --quick: 2)")
    parser.add_argument(
        "--duration", type=float, help="measured seconds per endpoint and round (default 60; --quick: 4)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds, the order of the endpoints rotated (default 1)")
    parser.add_argument(
        "--ramp-rate",
        type=float,
        default=200.0,
        help="new connections per second while ramping up (default 200; 0: all at once)",
    )
    parser.add_argument("--workers", type=int, default=1, help="load generator processes (default 1)")
    parser.add_argument(
        "--deflate", action="store_true", help="chargers offer permessage-deflate (default: they do not)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the heartbeat phases")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 chargers, every 2 s, 4 s, unless given")
    parser.add_argument("--role", choices=("bench", "server", "generator"), default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", choices=ENDPOINTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.chargers is None:
        args.chargers = 100 if args.quick else 2000
    if args.interval is None:
        args.interval = 2 if args.quick else 10
    if args.duration is None:
        args.duration = 4.0 if args.quick else 60.0
    if not 1 <= args.chargers <= 99_999 or args.interval < 1 or args.duration <= 0 or args.rounds < 1:
        parser.error("--chargers 1..99999, --interval >= 1, --duration > 0, --rounds >= 1")
    if args.ramp_rate < 0 or not 1 <= args.workers <= args.chargers:
        parser.error("--ramp-rate must not be negative, --workers 1..chargers")
    return args


async def bench(args: argparse.Namespace, workdir: Path) -> int:
    by_endpoint: dict[str, list[Run]] = {endpoint: [] for endpoint in ENDPOINTS}
    for round_number in range(args.rounds):
        order = ENDPOINTS[round_number % 2 :] + ENDPOINTS[: round_number % 2]
        for endpoint in order:
            log(f"round {round_number + 1}/{args.rounds}, {endpoint}: ramping up {args.chargers} chargers ...")
            run = await run_one(endpoint, args, workdir, f"r{round_number + 1}")
            by_endpoint[endpoint].append(run)
            log(
                f"  {endpoint}: cpu_share {run.cpu_share:.3f}, p50 {fmt_ms(run.latency(0.5))} ms, "
                f"p99 {fmt_ms(run.latency(0.99))} ms, max {fmt_ms(run.latency(1.0))} ms, errors {run.errors}"
            )
    print_table(by_endpoint, args)
    ours, peer = summarise(by_endpoint["ours"]), summarise(by_endpoint["peer"])
    print(
        f"ours / peer: cpu_share {ours['cpu_share'] / peer['cpu_share']:.2f}, p99 {ours['p99'] / peer['p99']:.2f}, "
        f"p50 {ours['p50'] / peer['p50']:.2f}"
    )
    problems = [f"{endpoint}: {p}" for endpoint, runs in by_endpoint.items() for r in runs for p in r.problems]
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"RESULT chargers={args.chargers} cpu_share={ours['cpu_share']:.3f} p99_ms={ours['p99']:.2f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    if args.role == "server":
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        asyncio.run(serve_endpoint(args.endpoint, args.chargers, args.interval))
        return 0
    if args.role == "generator":
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        asyncio.run(LoadGenerator(args).run())
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench-ocpp-load-"))
    started = time.monotonic()
    try:
        return asyncio.run(bench(args, workdir))
    except BenchError as error:
        print(f"FAILED: {error}")
        return 1
    finally:
        log(f"took {time.monotonic() - started:.0f} s")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
