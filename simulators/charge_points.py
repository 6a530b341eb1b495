"""The simulated city's charge points on the wire: one OCPP client each, dialling out through its modem.

Owns running the city's charge points (:attr:`simulators.city.City.chargers`)
against one central system, and what happens to them there:

* **Behaviour** (:func:`behaviour_for`): a :class:`~simulators.chargers.SimulatedCharger`
  per charge point, its vendor, model, connectors, power and meter from the
  city; sessions start and stop at rates that keep about 30 % of connectors
  occupied (AC sessions last 24 ticks on average, DC fast charging 8), and the
  simulation starts that full; MeterValues every tick while charging. The tick
  is compressed for a demo (15 s); the power is real, so energy grows as it would.
* **The network**: a charger's connection goes through its modem and every
  device above it. While any of them is silent (a fibre cut, ``silence``, a
  reboot's downtime) the charger's connection is dropped and stays away; when
  the path answers again it reconnects and boots. A device reboot drops the
  connections behind it even without downtime. :meth:`ChargePoints.follow_network`
  applies this at once (scenarios call it) and every half second (timed faults
  end by themselves).
* **The charger's own faults**, for :mod:`simulators.scenarios`: a connector
  faulted with an OCPP error code, cleared, the charger silent while its
  modem answers, talking again, rebooted.

The SimulatedCharger calls are coroutines; the switches here are plain calls
made on the simulation's event loop that queue them, one at a time per charger
in the order asked (a fault and its clear never overtake each other).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from ocpp.v16.enums import ChargePointErrorCode

from simulators.behaviour import CityRuntime
from simulators.chargers import ChargerBehaviour, SimulatedCharger
from simulators.city import ChargePointSpec, City

log = logging.getLogger("stadtnetz.simulators.charge_points")

DEMO_TICK: Final = 15.0  # seconds between a charger's activity steps in the demo
OCCUPANCY: Final = 0.3  # the share of connectors in a session, on average
SESSION_TICKS: Final = {"AC": 24.0, "DC": 8.0}  # mean session length in ticks
FOLLOW_SECONDS: Final = 0.5  # how often the chargers follow their modems' state without being told
ERROR_CODES: Final = tuple(code.value for code in ChargePointErrorCode if code != ChargePointErrorCode.no_error)
MAX_VENDOR_ERROR_CODE: Final = 50  # characters (OCPP 1.6 StatusNotification.vendorErrorCode)


def central_system_url(url: str) -> str:
    """``url`` if it is a ws:// or wss:// URL on 127.0.0.0/8, without a trailing slash; ValueError saying why not.

    The simulated chargers only ever dial loopback (or a namespace of the project's own).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"{url!r} is not a WebSocket URL (ws://127.0.0.1:PORT/PATH or wss://...)")
    try:
        address = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        raise ValueError(
            f"{url!r}: give the central system's address in 127.0.0.0/8 (names are not looked up), "
            "e.g. ws://127.0.0.1:9000/ocpp"
        ) from None
    if address not in ipaddress.ip_network("127.0.0.0/8"):
        raise ValueError(f"{url!r}: the simulated chargers only dial loopback addresses (127.0.0.0/8), not {address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not port:
        raise ValueError(f"{url!r} needs a port, 1 to 65535 (ws://127.0.0.1:PORT/PATH)")
    return url.rstrip("/")


def behaviour_for(spec: ChargePointSpec, tick: float = DEMO_TICK, occupancy: float = OCCUPANCY) -> ChargerBehaviour:
    """How the charge point behaves: a session ends with 1/length per tick, and starts so that
    ``occupancy`` of the time a connector is in one (start / (start + stop) = occupancy)."""
    if not 0.0 <= occupancy < 1.0:
        raise ValueError("occupancy is a share between 0 and 1")
    stop = 1.0 / SESSION_TICKS.get(spec.current, SESSION_TICKS["AC"])
    return ChargerBehaviour(
        connectors=spec.connectors,
        tick=tick,
        start_probability=occupancy * stop / (1.0 - occupancy),
        stop_probability=stop,
        power_w=spec.power_w,
        vendor=spec.vendor,
        model=spec.model,
        firmware=spec.firmware,
        initial_register_wh=spec.register_wh,
        initial_occupancy=occupancy,
    )


class Link(enum.StrEnum):
    """What a charger was last told about its connection."""

    TALKING = "talking"
    SILENT = "silent"  # sends nothing, socket kept open
    DROPPED = "dropped"  # socket closed, stays away


@dataclass(slots=True)
class _Point:
    spec: ChargePointSpec
    sim: SimulatedCharger
    path: tuple[str, ...]  # its modem and every device above it
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    offline: bool = False  # charger-offline: silent by its own fault
    keep_socket: bool = True  # ... with the socket left open (a hung controller) or closed
    applied: Link = Link.TALKING


class ChargePoints:
    """The city's charge points as simulated OCPP clients of ``base_url``; see the module docstring.

    ``runtime``: the city's devices, whose silence cuts chargers off (None: the
    network is not followed). ``password``: the Basic-auth password every charger
    presents (the central system's shared one; None: none). Create, start and use on the simulation's event loop.
    """

    def __init__(
        self,
        city: City,
        base_url: str,
        runtime: CityRuntime | None = None,
        *,
        tick: float = DEMO_TICK,
        occupancy: float = OCCUPANCY,
        socket_factory: Callable[[int, int], socket.socket] | None = None,
        password: str | None = None,
    ) -> None:
        self.base_url = central_system_url(base_url)
        self.runtime = runtime
        self.specs = {spec.id: spec for spec in city.chargers}
        self._points = {
            spec.id: _Point(
                spec,
                SimulatedCharger(
                    spec.id,
                    self.base_url,
                    behaviour=behaviour_for(spec, tick, occupancy),
                    seed=city.seed,
                    socket_factory=socket_factory,
                    password=password,
                ),
                city.path_to_core(spec.device),
            )
            for spec in city.chargers
        }
        self._pending: set[asyncio.Task[None]] = set()
        self._follower: asyncio.Task[None] | None = None

    @property
    def simulated(self) -> dict[str, SimulatedCharger]:
        return {cp_id: point.sim for cp_id, point in self._points.items()}

    def __len__(self) -> int:
        return len(self._points)

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        for point in self._points.values():
            point.sim.start()
        if self.runtime is not None and self._follower is None:
            self._follower = asyncio.create_task(self._follow_forever(), name="charge-points-follow")

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        await asyncio.gather(*(point.sim.stop() for point in self._points.values()))

    async def wait_booted(self, timeout: float = 30.0) -> None:
        """Until every charger that is not cut off or told to be silent has booted at the central system."""
        waiting = [p.sim.wait_booted(timeout) for p in self._points.values() if p.applied is Link.TALKING]
        await asyncio.gather(*waiting)

    def summary(self) -> str:
        """One line on the chargers: how many of which current, connectors."""
        specs = self.specs.values()
        ac = sum(1 for s in specs if s.current == "AC")
        connectors = sum(s.connectors for s in specs)
        return f"{len(self._points)} chargers ({ac} AC, {len(self._points) - ac} DC; {connectors} connectors)"

    def stats(self) -> str:
        """What the chargers did, in words (for the end of a run)."""
        sims = [point.sim for point in self._points.values()]
        connections = sum(s.stats.connections for s in sims)
        started = sum(s.stats.sessions_started for s in sims)
        failures = sum(s.stats.connect_failures for s in sims)
        return f"chargers: {connections} connections, {started} sessions started, {failures} failed connection attempts"

    # ------------------------------------------------------------------ the network

    def _cut(self, point: _Point) -> bool:
        if self.runtime is None:
            return False
        now = self.runtime.clock.time()
        return any(self.runtime.device(device_id).silent(now) for device_id in point.path)

    def _wanted(self, point: _Point) -> Link:
        if self._cut(point):
            return Link.DROPPED
        if point.offline:
            return Link.SILENT if point.keep_socket else Link.DROPPED
        return Link.TALKING

    def _apply(self, point: _Point) -> Link | None:
        """Tell the charger what its link and its own state say, if that changed; the new state or None."""
        wanted = self._wanted(point)
        if wanted is point.applied:
            return None
        point.applied = wanted
        sim = point.sim
        if wanted is Link.TALKING:
            self._queue(point, sim.resume)
        else:
            self._queue(point, functools.partial(sim.go_silent, drop_connection=wanted is Link.DROPPED))
        return wanted

    def follow_network(self) -> tuple[int, int]:
        """Drop the chargers whose path went silent, let those whose path answers again reconnect.

        Returns (cut off, reconnecting): how many changed either way now.
        """
        cut = back = 0
        for point in self._points.values():
            was = point.applied
            now = self._apply(point)
            if now is Link.DROPPED and self._cut(point):
                cut += 1
            elif was is Link.DROPPED and now is not None and not point.offline:
                back += 1
        return cut, back

    def behind(self, device_ids: Iterable[str]) -> list[str]:
        """The chargers whose connection passes one of the devices."""
        wanted = set(device_ids)
        return [cp_id for cp_id, point in self._points.items() if wanted.intersection(point.path)]

    def interrupt(self, device_ids: Iterable[str]) -> int:
        """A device restarts: every connection through it drops; each charger comes back when its path answers."""
        hit = [self._points[cp_id] for cp_id in self.behind(device_ids)]
        for point in hit:
            if point.applied is not Link.DROPPED:
                point.applied = Link.DROPPED
                self._queue(point, functools.partial(point.sim.go_silent, drop_connection=True))
            self._apply(point)
        return len(hit)

    async def _follow_forever(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW_SECONDS)
            self.follow_network()

    # ------------------------------------------------------------------ the charger's own faults

    def connectors(self, cp_id: str) -> int:
        return self.specs[cp_id].connectors

    def fault(self, cp_id: str, connector: int, error_code: str, vendor_error_code: str = "") -> None:
        """The connector reports Faulted; ValueError for an error code OCPP 1.6 does not know or a long vendor code."""
        if error_code not in ERROR_CODES:
            raise ValueError(f"unknown OCPP 1.6 error code {error_code!r} (one of: {', '.join(ERROR_CODES)})")
        if len(vendor_error_code) > MAX_VENDOR_ERROR_CODE:
            raise ValueError(f"a vendor error code has at most {MAX_VENDOR_ERROR_CODE} characters")
        point = self._points[cp_id]
        self._queue(point, functools.partial(point.sim.fault, connector, error_code, vendor_error_code))

    def clear(self, cp_id: str, connector: int | None = None) -> None:
        """Clear the connector's fault; without one, every connector's."""
        point = self._points[cp_id]
        numbers = range(1, point.spec.connectors + 1) if connector is None else (connector,)
        for number in numbers:
            self._queue(point, functools.partial(point.sim.clear_fault, number))

    def offline(self, cp_id: str, keep_socket: bool = True) -> None:
        point = self._points[cp_id]
        point.offline, point.keep_socket = True, keep_socket
        self._apply(point)

    def online(self, cp_id: str) -> bool:
        """The charger talks again; False if its path is cut (it reconnects when that answers)."""
        point = self._points[cp_id]
        point.offline = False
        self._apply(point)
        return not self._cut(point)

    def reboot(self, cp_id: str) -> bool:
        """Restart the charger (it forgets being silent); False if its path is cut (it stays away until it answers)."""
        point = self._points[cp_id]
        point.offline = False
        point.applied = Link.TALKING  # what a reboot leaves it in
        self._queue(point, point.sim.reboot)
        self._apply(point)
        return not self._cut(point)

    def cut_at(self, cp_id: str) -> str | None:
        """The silent device nearest the charger on its path, if any."""
        point = self._points[cp_id]
        if self.runtime is None:
            return None
        now = self.runtime.clock.time()
        return next((d for d in point.path if self.runtime.device(d).silent(now)), None)

    # ------------------------------------------------------------------ one call at a time per charger

    def _queue(self, point: _Point, step: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            async with point.lock:
                try:
                    await step()
                except Exception as exc:  # a charger's trouble must not end the simulation
                    # only the type: the ocpp package's messages quote whole frames (idTags among them)
                    log.warning("charger %s: %s failed: %s", point.spec.id, _name(step), type(exc).__name__)

        task = asyncio.get_running_loop().create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


def _name(step: Callable[[], Awaitable[None]]) -> str:
    function = step.func if isinstance(step, functools.partial) else step
    return getattr(function, "__name__", "a step")
