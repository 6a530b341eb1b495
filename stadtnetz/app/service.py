"""The running service: wires inventory, profiles, SNMP client and poller, scheduler, state and web.

Owns start and stop in the right order and which collectors of the process's
own metrics are registered (each is defined next to its data; the service's
own ones, maintenance windows and traps per device, in ``app/metrics.py``).
Everything else is done by the parts it wires.

The composition root:
May import: everything but stadtnetz.cli.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.process_collector import ProcessCollector

from collectors.ocpp import CentralSystem, OcppCollector
from collectors.ping import Pinger, PingPermissionError
from collectors.ping_rounds import PingRounds
from collectors.snmp.client import SnmpClient, SnmpClientStatsCollector
from collectors.snmp.poller import SnmpPoller
from collectors.snmp.profiles import ProfileLibrary
from collectors.traps import TrapEvent, TrapReceiver, TrapStatsCollector
from exporters.influx import InfluxExporter, InfluxStatsCollector
from exporters.opendata.publisher import OpenData
from exporters.opendata.snapshot import Snapshot, take_snapshot
from exporters.prometheus import CONTENT_TYPE, render_stream
from stadtnetz.app.auth import Gate
from stadtnetz.app.metrics import _DeviceLocationCollector, _DeviceTrapsCollector, _MaintenanceCollector
from stadtnetz.app.on_demand import CoalescedChecks, OnDemandCollector
from stadtnetz.app.pages.site import StatusSite
from stadtnetz.app.pages.snapshot import Sources, districts_and_groups
from stadtnetz.app.planning_metrics import PlanningCollector, PlanningWatcher
from stadtnetz.app.scheduler import Scheduler
from stadtnetz.app.trap_log import TrapLog
from stadtnetz.app.web import build_app
from stadtnetz.clock import Clock, SystemClock
from stadtnetz.config.ocpp_security import exposure_warnings, server_tls_context
from stadtnetz.history import HistoryCollector, HistoryStore, availability_by_device, connect
from stadtnetz.maintenance import Maintenance
from stadtnetz.model import Device, Inventory, PollStatus
from stadtnetz.status.chargers import ChargerBoard, ChargerBoardCollector, connector_key
from stadtnetz.status.reachability import Reachability
from stadtnetz.status.state import State
from stadtnetz.status.topology import PROBLEM, DeviceStatus, Status, Topology
from stadtnetz.status.trap_effects import apply_trap

log = logging.getLogger("stadtnetz")
disable_created_metrics()  # the *_created series only add noise to a long-running collector


MAINTENANCE_CHECK_SECONDS = 1.0
CHARGER_CHECK_SECONDS = 1.0  # how often the chargers' verdicts are refreshed
CHARGER_AVAILABILITY_SECONDS = 300.0  # how often their availability over the window is read from the history
HISTORY_CLOSE_GRACE = 120.0  # seconds after an hour's end before its rows are written (late evidence)


@dataclass
class Service:
    inventory: Inventory
    library: ProfileLibrary
    devices: list[Device]  # the devices this process polls and exports (its shard)
    clock: Clock = field(default_factory=SystemClock)
    listen_host: str | None = None
    listen_port: int | None = None
    listen_socket: socket.socket | None = None  # a listening socket made beforehand (e.g. in another namespace)
    ping: bool = True  # probe devices with ICMP echo where their configuration says so
    planning: bool = True  # export the planning figures (stadtnetz_planning_*) when the configuration has planning

    def __post_init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        settings = self.inventory.settings
        owned = {d.id for d in self.devices}
        by_id = self.inventory.by_id()
        # the upstream devices of ours that another shard owns: observed (not exported), so that
        # "down" and "unreachable" are told apart in every shard
        topology = Topology(self.inventory.devices)
        observed_ids = dict.fromkeys(a for d in self.devices for a in topology.ancestors(d.id) if a not in owned)
        self.observed = [by_id[i] for i in observed_ids]
        watched = [*self.devices, *self.observed]
        self.state = State(self.devices, self.clock, self.observed)
        self.reachability = Reachability(self.inventory.devices, self.state, settings, self.clock, self._check_now)
        self.client = SnmpClient(
            max_in_flight=max(64, settings.concurrency * settings.max_in_flight_per_device),
            max_in_flight_per_device=settings.max_in_flight_per_device,
        )
        self.registry.register(SnmpClientStatsCollector(self.client))
        self.registry.register(_DeviceLocationCollector(self.devices))  # the exported devices' coordinates
        self.maintenance = Maintenance(self.inventory.maintenance, self.devices)
        if self.inventory.maintenance:
            self.registry.register(_MaintenanceCollector(self.maintenance, self.clock))
        self._in_maintenance: set[str] = set()
        self.traps: TrapReceiver | None = None
        self.trap_counts: dict[tuple[str, str], int] = {}
        self.trap_log = TrapLog(self.clock)
        if settings.trap_listen is not None:
            self.traps = TrapReceiver(
                self.devices, self._trap_communities, self._on_trap, v3_users=settings.trap_v3_users
            )
            self.registry.register(TrapStatsCollector(self.traps.stats))
            self.registry.register(_DeviceTrapsCollector(self.trap_counts, {d.id: d for d in self.devices}))
        self.poller = SnmpPoller(
            self.client,
            self.library,
            self.state,
            self.inventory,
            self.clock,
            self.registry,
            on_result=self.reachability.snmp_result,
        )
        self.scheduler = Scheduler(
            [d for d in watched if d.credentials],
            self.poller.poll,
            settings.concurrency,
            self.clock,
            self.registry,
            unreachable=lambda device: self.state[device.id].status is PollStatus.TIMEOUT,
        )
        self.ping_devices = [d for d in watched if d.ping] if self.ping else []
        self.pinger: Pinger | None = None
        self.ping_rounds: PingRounds | None = None
        self.ping_scheduler: Scheduler | None = None
        self.ping_problem = ""
        self._by_id = {d.id: d for d in watched}
        self.influx: InfluxExporter | None = None  # points to InfluxDB through a durable spool, when configured
        if self.inventory.influx is not None:
            self.influx = InfluxExporter(self.state, self.inventory.influx, self.clock)
            self.registry.register(InfluxStatsCollector(self.influx))
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.quick_pings: CoalescedChecks | None = None  # quick ping rounds out of turn, once ping runs
        self.registry.register(OnDemandCollector({"snmp_poll": self._on_demand_polls, "ping": self._on_demand_pings}))
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.configured_at = self.clock.time()  # when the static data of the open data feeds were read
        self.opendata = OpenData(self._opendata_snapshot)  # the public feeds (exporters/opendata/)
        self.history: HistoryStore | None = None  # the embedded history, when history.path is set
        # EV chargers over OCPP, when the configuration has an ocpp section and chargers
        self.central: CentralSystem | None = None
        self.chargers: ChargerBoard | None = None
        self.charger_maintenance = Maintenance(self.inventory.maintenance, self.inventory.chargers)
        self.charger_availability: dict[str, float] = {}  # connector key -> ratio over the window
        self.ocpp_url = ""
        ocpp = self.inventory.ocpp
        if ocpp is not None and self.inventory.chargers:
            self.central = CentralSystem(
                [c.id for c in self.inventory.chargers],
                passwords={c.id: c.password for c in self.inventory.chargers if c.password is not None},
                auth=ocpp.auth,
                heartbeat_interval=ocpp.heartbeat_interval,
                offline_after=ocpp.offline_after,
                clock=self.clock,
            )
            board = self.reachability.board
            self.chargers = ChargerBoard(
                self.inventory.chargers,
                self.central,
                ocpp,
                self.clock,
                device_status=board.status.get,
                on_change=self._record_connector_change,
            )
            self.registry.register(OcppCollector(self.central))
            self.registry.register(ChargerBoardCollector(self.chargers, lambda: self.charger_availability))
        # the status page: when each device's status last changed (wall time), for "since" on its pages
        self.status_since: dict[str, float] = {}
        board_changed = self.reachability.board.on_change

        def status_changed(device_id: str, old: DeviceStatus, new: DeviceStatus, now: float) -> None:
            if board_changed is not None:
                board_changed(device_id, old, new, now)
            self.status_since[device_id] = self.clock.time() - (self.clock.monotonic() - now)

        self.reachability.board.on_change = status_changed
        self.gate = Gate(self.inventory.web, self.clock)
        self.site = self._status_site()

    def _status_site(self) -> StatusSite:
        """The status page's sources: the state, maintenance, chargers, the history file, the scopes of its bars."""
        owned = {d.id for d in self.devices}
        by_id = self.inventory.by_id()
        interval = min((d.interval for d in self.devices), default=self.inventory.settings.interval)
        sources = Sources(
            state=self.state,
            devices=list(self.devices),
            web=self.inventory.web,
            clock_time=self.clock.time,
            since=self.status_since,
            maintenance=Maintenance(self.inventory.maintenance, [*self.devices, *self.inventory.chargers]),
            chargers=self.chargers,
            charger_devices={
                c.id: by_id[c.device] for c in self.inventory.chargers if c.device is not None and c.device in by_id
            },
            interval=interval,
        )
        groups = {name: [i for i in ids if i in owned] for name, ids in self.inventory.groups.items()}
        districts, groups = districts_and_groups(self.devices, {k: v for k, v in groups.items() if v})
        return StatusSite(sources, self.inventory.history.path, districts, groups)

    def _opendata_snapshot(self) -> Snapshot:
        verdicts = self.chargers.verdicts if self.chargers is not None else {}
        board = self.reachability.board

        def health(device_id: str) -> Status | None:
            found = board.status.get(device_id)
            return found.status if found is not None else None

        return take_snapshot(self.state, verdicts, self.inventory, self.clock.time(), self.configured_at, health)

    def health(self) -> tuple[bool, str]:
        if not self._tasks or any(t.done() for t in self._tasks):
            return False, "scheduler not running"
        notes = []
        if self.ping_problem:
            notes.append(f"ping disabled: {self.ping_problem}")
        problem = self.history.problem if self.history is not None else None
        if problem:
            notes.append(problem)
        return True, "; ".join(["polling", *notes])

    def health_parts(self) -> dict[str, dict[str, object]]:
        """The parts of ``/healthz`` beyond the collector's own verdict: the history's, when it is kept."""
        return {} if self.history is None else {"history": self.history.health()}

    def mark_maintenance(self) -> None:
        """Flag the devices (and chargers) inside an open maintenance window, clear those whose window closed."""
        now = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        current = self.maintenance.devices_in_maintenance(now)
        chargers = self._chargers_in_maintenance(now, current)
        if current == self._in_maintenance and (self.chargers is None or chargers == self.chargers.in_maintenance):
            return
        for device_id in current ^ self._in_maintenance:
            self.state[device_id].maintenance = device_id in current
        connectors: set[str] = set()
        if self.chargers is not None:
            self.chargers.in_maintenance = chargers
            connectors = {
                connector_key(c, n)
                for c in chargers
                if c in self.chargers.verdicts
                for n in (v.connector for v in self.chargers.verdicts[c].connectors)
            }
        if self.history is not None:
            self.history.record_maintenance(current | connectors, self.clock.time())
        started, ended = len(current - self._in_maintenance), len(self._in_maintenance - current)
        log.info("maintenance: %d devices entered a window, %d left one; %d now in one", started, ended, len(current))
        self._in_maintenance = current

    def _chargers_in_maintenance(self, now: dt.datetime, devices: set[str]) -> frozenset[str]:
        """Chargers a window matches themselves, and those whose modem is in maintenance."""
        if self.chargers is None:
            return frozenset()
        matched = self.charger_maintenance.devices_in_maintenance(now)
        return frozenset(
            c.id for c in self.inventory.chargers if c.id in matched or (c.device is not None and c.device in devices)
        )

    async def _maintenance_loop(self) -> None:
        while not self._stop.is_set():
            self.mark_maintenance()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), MAINTENANCE_CHECK_SECONDS)

    def _trap_communities(self, device: Device) -> set[bytes]:
        """A trap is accepted with the device's own community, or the configured trap community."""
        accepted: set[bytes] = set()
        credentials = self.inventory.credentials.get(device.credentials or "")
        if credentials is not None and credentials.community is not None:
            accepted.add(credentials.community.reveal().encode())
        if self.inventory.settings.trap_community is not None:
            accepted.add(self.inventory.settings.trap_community.reveal().encode())
        return accepted

    def _on_trap(self, event: TrapEvent) -> None:
        key = (event.device_id, str(event.kind))
        self.trap_counts[key] = self.trap_counts.get(key, 0) + 1
        self.trap_log.trap(event)
        if apply_trap(self.state, event):
            self._check_now(event.device_id)

    def _check_now(self, device_id: str) -> None:
        """Settle a device's status: poll it (and ping it) at once, out of turn; coalesced per device."""
        self.scheduler.poll_now(device_id)
        device = self._by_id.get(device_id)
        if self.quick_pings is not None and device is not None and device.ping:
            self.quick_pings.request(device)

    def _on_demand_polls(self) -> tuple[int, int]:
        return self.scheduler.on_demand_pending, self.scheduler.coalesced

    def _on_demand_pings(self) -> tuple[int, int]:
        checks = self.quick_pings
        return (0, 0) if checks is None else (checks.pending, checks.coalesced)

    async def _start_ping(self) -> None:
        if not self.ping_devices:
            return
        pinger = Pinger()
        families = {socket.AF_INET6 if ":" in d.host else socket.AF_INET for d in self.ping_devices}
        try:
            for family in families:
                pinger.open_socket(family)
        except PingPermissionError as exc:
            await pinger.close()
            self.ping_problem = str(exc)
            log.warning("ping is disabled: %s", exc)
            return
        self.pinger = pinger
        self.ping_rounds = PingRounds(
            pinger, self.state, self.inventory.settings, self.clock, self.reachability.ping_result, self.registry
        )
        self.quick_pings = CoalescedChecks(self.ping_rounds.quick, "a quick ping round")
        self.ping_scheduler = Scheduler(
            self.ping_devices,
            self.ping_rounds.round,
            len(self.ping_devices) + 1,
            self.clock,
            self.registry,
            metric_prefix="stadtnetz_ping_scheduler",  # beside the SNMP scheduler's stadtnetz_scheduler_*
        )

    async def start(self) -> str:
        """Start polling and serving; return the URL of /metrics' server."""
        exposition = (CONTENT_TYPE, lambda: render_stream(self.state, [self.registry]))
        app = build_app(
            self.state, exposition, self.health, self.health_parts, site=self.site, gate=self.gate,
            opendata=self.opendata,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        if self.listen_socket is not None:
            site: web.BaseSite = web.SockSite(self._runner, self.listen_socket)
        else:
            host = self.listen_host or self.inventory.settings.listen_host
            port = self.inventory.settings.listen_port if self.listen_port is None else self.listen_port
            site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{shown}:{bound[1]}/"
        await self.client.__aenter__()
        if self.influx is not None:
            await self.influx.start()  # first: what a previous process left in the spool is sent first
        await self._start_ping()
        if self.traps is not None and self.inventory.settings.trap_listen is not None:
            trap_host, trap_port = await self.traps.start(*self.inventory.settings.trap_listen)
            log.info("receiving SNMP traps on %s:%d", trap_host, trap_port)
        if self.inventory.history.enabled:
            await self._start_history()
        if self.central is not None:
            await self._start_ocpp()
        if self.planning and self.inventory.planning is not None:
            self._start_planning()
        if self.inventory.maintenance or self.chargers is not None:
            self.mark_maintenance()  # before the first scrape
            self._tasks.append(asyncio.create_task(self._maintenance_loop(), name="maintenance"))
        self._tasks.append(asyncio.create_task(self.scheduler.run(self._stop), name="snmp-scheduler"))
        if self.ping_scheduler is not None:
            self._tasks.append(asyncio.create_task(self.ping_scheduler.run(self._stop), name="ping-scheduler"))
        observed = f" (and {len(self.observed)} upstream devices of other shards)" if self.observed else ""
        log.info("polling %d devices%s, serving %s", len(self.devices), observed, self.url)
        return self.url

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.quick_pings is not None:
            await self.quick_pings.close()
        await self.client.close()
        if self.central is not None:
            await self.central.close()
        if self.influx is not None:
            await self.influx.stop()
        if self.traps is not None:
            self.traps.close()
        self.trap_log.close()  # the held-back counts, now that no trap can arrive
        if self.pinger is not None:
            await self.pinger.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.history is not None:
            self.history.record_samples(self.state, self.clock.time())
            await asyncio.to_thread(self.history.close)  # writes what is left, the current hour too

    def _start_planning(self) -> None:
        """The planning figures (app/planning_metrics.py), recomputed in a worker thread at start and hourly."""
        self.planning_watcher = PlanningWatcher(self.inventory, self.clock)
        self.registry.register(PlanningCollector(self.planning_watcher))
        self._tasks.append(asyncio.create_task(self.planning_watcher.run(self._stop), name="planning"))

    # --- the embedded history (stadtnetz.history) ---

    async def _start_history(self) -> None:
        """Open the history file; record status changes (chained after reachability's), samples, maintenance."""
        settings = self.inventory.history
        assert settings.path is not None
        grace = HISTORY_CLOSE_GRACE
        if self.chargers is not None:  # a charger's silence is dated back to its last message: let it arrive
            grace = max(grace, self.chargers.silence_limit + HISTORY_CLOSE_GRACE)
        self.history = await asyncio.to_thread(
            HistoryStore, settings.path, self.clock, settings, close_grace=grace, max_pending=settings.max_pending
        )
        self.history.start()
        self.registry.register(HistoryCollector(self.history))
        chained = self.reachability.board.on_change

        def changed(device_id: str, old: DeviceStatus, new: DeviceStatus, now: float) -> None:
            if chained is not None:
                chained(device_id, old, new, now)
            self._record_change(device_id, old, new, now)

        self.reachability.board.on_change = changed
        self._tasks.append(asyncio.create_task(self._history_loop(), name="history"))
        log.info("keeping history in %s", settings.path)

    def _record_change(self, device_id: str, old: DeviceStatus, new: DeviceStatus, now: float) -> None:
        device = self.state.devices.get(device_id)
        if self.history is None or device is None or not device.exported:
            return
        at = self.clock.time() - (self.clock.monotonic() - now)  # ``now`` is monotonic: when the evidence is from
        self.history.record_transition(device_id, old, new, at, device.error if new.status in PROBLEM else "")

    async def _history_loop(self) -> None:
        """Hand the history every device's fresh values once per (shortest) poll interval."""
        interval = min((d.interval for d in self.devices), default=self.inventory.settings.interval)
        while not self._stop.is_set():
            if self.history is not None:
                self.history.record_samples(self.state, self.clock.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)

    # --- EV chargers over OCPP (collectors.ocpp, stadtnetz.status.chargers) ---

    async def _start_ocpp(self) -> None:
        ocpp = self.inventory.ocpp
        assert ocpp is not None and self.central is not None
        tls = None
        if ocpp.tls_certificate is not None and ocpp.tls_key is not None:
            tls = server_tls_context(ocpp.tls_certificate, ocpp.tls_key)
        for warning in exposure_warnings(ocpp, self.inventory.chargers):
            log.warning("%s", warning)
        host, port = await self.central.start(*ocpp.listen, tls=tls)
        shown = f"[{host}]" if ":" in host else host
        self.ocpp_url = f"{'wss' if tls else 'ws'}://{shown}:{port}/ocpp"
        log.info("OCPP endpoint for %d chargers at %s/<charger id>", len(self.inventory.chargers), self.ocpp_url)
        self._tasks.append(asyncio.create_task(self._charger_loop(), name="chargers"))

    async def _charger_loop(self) -> None:
        assert self.chargers is not None
        next_availability = 0.0
        while not self._stop.is_set():
            self.chargers.refresh()
            if self.history is not None and self.clock.monotonic() >= next_availability:
                next_availability = self.clock.monotonic() + CHARGER_AVAILABILITY_SECONDS
                try:
                    self.charger_availability = await asyncio.to_thread(self._read_charger_availability)
                except Exception:
                    log.warning("could not read the chargers' availability from the history", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), CHARGER_CHECK_SECONDS)

    def _read_charger_availability(self) -> dict[str, float]:
        """Each known connector's NEVI-style availability over the trailing window (whole hours written)."""
        assert self.chargers is not None and self.inventory.ocpp is not None and self.inventory.history.path
        keys = [
            connector_key(c, v.connector) for c, verdict in self.chargers.verdicts.items() for v in verdict.connectors
        ]
        now = self.clock.time()
        db = connect(self.inventory.history.path, create=False)
        try:
            found = availability_by_device(db, keys, now - self.inventory.ocpp.availability_window, now)
        finally:
            db.close()
        return {key: ratio for key, value in found.items() if (ratio := value.nevi_ratio) is not None}

    def _record_connector_change(self, key: str, old: DeviceStatus, new: DeviceStatus, at: float, cause: str) -> None:
        if self.history is not None:
            self.history.record_transition(key, old, new, at, cause)
