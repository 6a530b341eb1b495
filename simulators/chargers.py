"""Simulated EV charging points: real OCPP 1.6J clients over WebSocket, with faults switched at run time.

Owns the charger side of OCPP. Each :class:`SimulatedCharger` is the ``ocpp``
package's ChargePoint over a ``websockets`` client connection (subprotocol
``ocpp1.6``, optional HTTP Basic auth as in security profile 1). It boots,
sends Heartbeats at the interval the central system answered, reports its
connectors with StatusNotifications, starts and stops charging sessions at
seeded random rates (:class:`ChargerBehaviour`) with random, fake idTags,
and sends MeterValues with a growing ``Energy.Active.Import.Register`` while
a connector charges; after each boot, a connector whose meter does not read
zero reports it once outside a session (so a central system knows the
register before the first session). It never uses a proxy from the
environment; with a ``socket_factory`` it dials from sockets that factory
makes (e.g. in the host's network namespace while the simulator's thread is
in its own).

Faults, switched while it runs: :meth:`~SimulatedCharger.fault` a connector
with an OCPP error code (``GroundFailure``, ...), :meth:`~SimulatedCharger.clear_fault`,
:meth:`~SimulatedCharger.go_silent` (send nothing more; keep the socket open
or drop it), :meth:`~SimulatedCharger.resume`, and :meth:`~SimulatedCharger.reboot`
(the connection drops, a new BootNotification follows, every connector is
Available again, sessions cut by the reboot are stopped with reason Reboot).

The ``ocpp`` package logs raw messages (fake idTags among them); it gets a
mute logger here, as in :mod:`collectors.ocpp`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import logging
import random
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import MeterValue, SampledValue
from ocpp.v16.enums import (
    Action,
    ChargePointErrorCode,
    ChargePointStatus,
    DataTransferStatus,
    Measurand,
    MessageTrigger,
    Reason,
    RegistrationStatus,
    TriggerMessageStatus,
    UnitOfMeasure,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from stadtnetz.clock import Clock, SystemClock

log = logging.getLogger("stadtnetz.simulators.chargers")

_WIRE_LOG = logging.getLogger("stadtnetz.simulators.chargers.wire")
_WIRE_LOG.setLevel(logging.WARNING)  # websockets logs whole frames at DEBUG
_MUTE = logging.Logger("stadtnetz.simulators.chargers.mute")
_MUTE.disabled = True

SUBPROTOCOL: Final = Subprotocol("ocpp1.6")
RECONNECT_DELAY: Final = 1.0  # seconds between connection attempts


@dataclass(frozen=True, slots=True)
class ChargerBehaviour:
    """How a simulated charger behaves; the rates are per connector and tick."""

    connectors: int = 2
    tick: float = 60.0  # seconds between activity steps; MeterValues go out every tick while charging
    start_probability: float = 0.05  # an Available connector starts a session
    stop_probability: float = 0.1  # a charging connector ends its session
    power_w: float = 11_000.0  # while charging (AC 3 x 16 A)
    vendor: str = "Musterwerk"
    model: str = "AC-22 Sim"
    firmware: str = "1.0.0"
    initial_register_wh: float = 0.0  # each connector's meter at the start
    initial_occupancy: float = 0.0  # after the first boot, each connector is already in a session with this chance


@dataclass(slots=True)
class _Connector:
    status: str = ChargePointStatus.available
    error_code: str = ChargePointErrorCode.no_error
    vendor_error_code: str = ""
    register_wh: float = 0.0
    transaction_id: int | None = None
    id_tag: str = ""


@dataclass(slots=True)
class SimulatorStats:
    boots_accepted: int = 0
    connections: int = 0
    connect_failures: int = 0
    sessions_started: int = 0
    sessions_stopped: int = 0
    last_error: str = ""
    id_tags: deque[str] = field(default_factory=lambda: deque(maxlen=100))  # the fake tags used, newest last


class _Client(ChargePoint):
    """The charger's side of the connection: it answers DataTransfer, and TriggerMessage for its statuses."""

    resend_statuses: Callable[[], Awaitable[None]] | None = None  # set by its SimulatedCharger

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: object) -> call_result.DataTransfer:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.trigger_message)
    def on_trigger(self, requested_message: str, **_: object) -> call_result.TriggerMessage:
        wanted = requested_message == MessageTrigger.status_notification and self.resend_statuses is not None
        status = TriggerMessageStatus.accepted if wanted else TriggerMessageStatus.not_implemented
        return call_result.TriggerMessage(status=status)

    @after(Action.trigger_message)
    async def after_trigger(self, requested_message: str, **_: object) -> None:
        if requested_message == MessageTrigger.status_notification and self.resend_statuses is not None:
            await self.resend_statuses()  # (a task of its own: the ocpp package does not wait for it)


class SimulatedCharger:
    """One simulated charge point that connects to ``url`` (``ws://host:port/.../<id>`` is built from ``base_url``)."""

    def __init__(
        self,
        charger_id: str,
        base_url: str,
        *,
        behaviour: ChargerBehaviour | None = None,
        seed: int = 0,
        password: str | None = None,
        clock: Clock | None = None,
        response_timeout: float = 10.0,
        socket_factory: Callable[[int, int], socket.socket] | None = None,
    ) -> None:
        self.id = charger_id
        self.url = base_url.rstrip("/") + "/" + charger_id
        self.behaviour = behaviour or ChargerBehaviour()
        self.password = password
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.response_timeout = response_timeout
        self.socket_factory = socket_factory  # (family, type) -> a new socket to dial from; None: the usual way
        self.rng = random.Random(f"{seed}:{charger_id}")
        self.connectors = {
            n: _Connector(register_wh=self.behaviour.initial_register_wh)
            for n in range(1, self.behaviour.connectors + 1)
        }
        self.stats = SimulatorStats()
        self.heartbeat_interval: float | None = None  # as the central system answered at boot
        self.booted = asyncio.Event()
        self._silent = False
        self._dropped = False  # silent with the socket closed: no reconnecting until resume()
        self._resumed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._rebooting = False
        self._warm = self.behaviour.initial_occupancy > 0  # sessions already running at the first boot
        self._cut_by_reboot: list[tuple[int, int, float]] = []  # (transaction id, connector, meter) to stop
        self._ws: ClientConnection | None = None
        self._cp: _Client | None = None
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"charger-{self.id}")

    async def stop(self) -> None:
        self._stopping.set()
        self._resumed.set()
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_booted(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.booted.wait(), timeout)

    # ------------------------------------------------------------------ faults

    async def fault(
        self, connector: int, error_code: str = ChargePointErrorCode.ground_failure, vendor_error_code: str = ""
    ) -> None:
        """The connector fails: a running session is stopped (reason Other), the status becomes Faulted."""
        state = self.connectors[connector]
        if state.transaction_id is not None:
            await self._stop_session(connector, Reason.other)
        state.status, state.error_code, state.vendor_error_code = (
            ChargePointStatus.faulted,
            error_code,
            vendor_error_code,
        )
        await self._status(connector)

    async def clear_fault(self, connector: int) -> None:
        state = self.connectors[connector]
        state.status, state.error_code, state.vendor_error_code = ChargePointStatus.available, "NoError", ""
        await self._status(connector)

    async def go_silent(self, drop_connection: bool = False) -> None:
        """Send nothing more (not even heartbeats); with ``drop_connection`` close the socket and stay away."""
        self._silent = True
        self._resumed.clear()
        if drop_connection:
            self._dropped = True
            if self._ws is not None:
                await self._ws.close()

    async def resume(self) -> None:
        """Talk again: reconnect (and boot) if the socket was dropped, else report every connector."""
        self._silent = False
        self._dropped = False
        self._resumed.set()
        if self._cp is not None:
            await self._all_statuses()

    async def reboot(self) -> None:
        """Restart: the connection drops, a new BootNotification, every connector Available again."""
        self._rebooting = True
        self._silent = False
        self._dropped = False
        self._resumed.set()
        for number, state in self.connectors.items():
            if state.transaction_id is not None:
                self._cut_by_reboot.append((state.transaction_id, number, state.register_wh))
            state.status, state.error_code, state.vendor_error_code = ChargePointStatus.available, "NoError", ""
            state.transaction_id, state.id_tag = None, ""
        self.booted.clear()
        if self._ws is not None:
            await self._ws.close()

    # ------------------------------------------------------------------ the connection

    async def _run(self) -> None:
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.id}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        while not self._stopping.is_set():
            if self._dropped:
                await self._resumed.wait()
                continue
            try:
                sock = await self._dial() if self.socket_factory is not None else None
                async with connect(
                    self.url,
                    subprotocols=[SUBPROTOCOL],
                    additional_headers=headers,
                    open_timeout=self.response_timeout,
                    logger=_WIRE_LOG,
                    proxy=None,  # straight to the central system, whatever the environment says
                    sock=sock,
                ) as ws:
                    if self._dropped or self._stopping.is_set():  # told to stay away while connecting
                        continue
                    self._ws = ws
                    self.stats.connections += 1
                    await self._session(ws)
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
                self.stats.connect_failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
                self._cp = None
            if not self._stopping.is_set() and not self._rebooting:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), RECONNECT_DELAY)
            self._rebooting = False

    async def _dial(self) -> socket.socket:
        """A TCP connection to the central system from a socket of ``socket_factory``."""
        assert self.socket_factory is not None
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = self.socket_factory(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (host, port)), self.response_timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _session(self, ws: ClientConnection) -> None:
        """One connection: the package's reader and this charger's work, until either ends."""
        cp = _Client(self.id, ws, response_timeout=self.response_timeout, logger=_MUTE)
        cp.resend_statuses = self._all_statuses
        self._cp = cp
        reader = asyncio.create_task(cp.start())
        work = asyncio.create_task(self._work(cp))
        try:
            await asyncio.wait([reader, work], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, work):
                task.cancel()
            await asyncio.gather(reader, work, return_exceptions=True)
        if work.done() and not work.cancelled() and work.exception() is not None:
            # only the type: the ocpp package's messages quote whole frames (idTags among them)
            self.stats.last_error = type(work.exception()).__name__

    async def _work(self, cp: _Client) -> None:
        if self.booted.is_set():
            # connected again without having restarted (its link dropped, or the central system's):
            # a charger does not boot for that, nor repeat its statuses unasked; it just carries on
            await self._call(call.Heartbeat())
            await asyncio.gather(self._heartbeats(), self._activity())
            return
        await self._boot(cp)
        for transaction_id, _connector, meter in self._cut_by_reboot:
            stop = call.StopTransaction(
                meter_stop=int(meter), timestamp=self._now(), transaction_id=transaction_id, reason=Reason.reboot
            )
            await self._call(stop)
            self.stats.sessions_stopped += 1
        self._cut_by_reboot.clear()
        await self._all_statuses()
        for number, state in self.connectors.items():  # the meter readings, as clock-aligned data would say them
            if state.transaction_id is None and state.register_wh > 0:
                await self._meter_values(number)
        await asyncio.gather(self._heartbeats(), self._activity())

    async def _boot(self, cp: _Client) -> None:
        behaviour = self.behaviour
        while True:
            answer = await cp.call(
                call.BootNotification(
                    charge_point_model=behaviour.model,
                    charge_point_vendor=behaviour.vendor,
                    firmware_version=behaviour.firmware,
                )
            )
            interval = float(answer.interval) if answer.interval > 0 else 60.0
            if answer.status == RegistrationStatus.accepted:
                self.heartbeat_interval = interval
                self.stats.boots_accepted += 1
                self.booted.set()
                return
            await asyncio.sleep(interval)

    async def _call(self, payload: object) -> object:
        """Send a CALL unless silent; the answer (None when silent or a CALLERROR came back)."""
        cp = self._cp
        if self._silent or cp is None:
            return None
        try:
            return await cp.call(payload)
        except (ConnectionClosed, TimeoutError):  # the connection went meanwhile: the message is lost
            return None

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval or 60.0)
            await self._call(call.Heartbeat())

    async def _activity(self) -> None:
        behaviour = self.behaviour
        if self._warm:  # the simulation starts in the middle of a day: some connectors are charging already
            self._warm = False
            for number, state in self.connectors.items():
                if state.status == ChargePointStatus.available and self.rng.random() < behaviour.initial_occupancy:
                    await self._start_session(number)
        while True:
            await asyncio.sleep(behaviour.tick)
            if self._silent:
                continue
            for number, state in self.connectors.items():
                if state.status == ChargePointStatus.faulted:
                    continue
                if state.transaction_id is None:
                    if self.rng.random() < behaviour.start_probability:
                        await self._start_session(number)
                    continue
                state.register_wh += behaviour.power_w * behaviour.tick / 3600.0
                await self._meter_values(number)
                if self.rng.random() < behaviour.stop_probability:
                    await self._stop_session(number, Reason.local)

    # ------------------------------------------------------------------ messages

    def _now(self) -> str:
        return dt.datetime.fromtimestamp(self.clock.time(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _fake_id_tag(self) -> str:
        tag = f"SIM{self.rng.getrandbits(48):012X}"  # idTag: at most 20 characters
        self.stats.id_tags.append(tag)
        return tag

    async def _status(self, connector: int) -> None:
        if connector == 0:
            status, error_code, vendor_error_code = ChargePointStatus.available, "NoError", ""
        else:
            state = self.connectors[connector]
            status, error_code, vendor_error_code = state.status, state.error_code, state.vendor_error_code
        await self._call(
            call.StatusNotification(
                connector_id=connector,
                error_code=error_code,
                status=status,
                timestamp=self._now(),
                vendor_error_code=vendor_error_code or None,
            )
        )

    async def _all_statuses(self) -> None:
        for number in (0, *self.connectors):
            await self._status(number)

    async def _start_session(self, connector: int) -> None:
        state = self.connectors[connector]
        state.status = ChargePointStatus.preparing
        await self._status(connector)
        id_tag = self._fake_id_tag()
        answer = await self._call(
            call.StartTransaction(
                connector_id=connector, id_tag=id_tag, meter_start=int(state.register_wh), timestamp=self._now()
            )
        )
        if answer is None:  # silent meanwhile, or refused
            state.status = ChargePointStatus.available
            return
        state.transaction_id, state.id_tag = answer.transaction_id, id_tag  # type: ignore[attr-defined]
        state.status = ChargePointStatus.charging
        self.stats.sessions_started += 1
        await self._status(connector)

    async def _stop_session(self, connector: int, reason: str) -> None:
        state = self.connectors[connector]
        transaction_id, id_tag = state.transaction_id, state.id_tag
        if transaction_id is None:
            return
        state.transaction_id, state.id_tag = None, ""
        await self._call(
            call.StopTransaction(
                meter_stop=int(state.register_wh),
                timestamp=self._now(),
                transaction_id=transaction_id,
                reason=reason,
                id_tag=id_tag,
            )
        )
        self.stats.sessions_stopped += 1
        state.status = ChargePointStatus.finishing
        await self._status(connector)
        state.status = ChargePointStatus.available
        await self._status(connector)

    async def _meter_values(self, connector: int) -> None:
        state = self.connectors[connector]
        sample = SampledValue(
            value=f"{state.register_wh:.1f}", measurand=Measurand.energy_active_import_register, unit=UnitOfMeasure.wh
        )
        await self._call(
            call.MeterValues(
                connector_id=connector,
                transaction_id=state.transaction_id,
                meter_value=[MeterValue(timestamp=self._now(), sampled_value=[sample])],
            )
        )
