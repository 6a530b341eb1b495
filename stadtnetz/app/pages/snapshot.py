"""What the status page knows now: one :class:`Snapshot` of every device's status, the outages, maintenance, and
the public view of hotspots and chargers.

Taken from the state on the event loop (attribute reads only: 10,000 devices in a few milliseconds, see
``bench/status_page.py``), at most once a second by :class:`stadtnetz.app.pages.site.StatusSite`, and then only read:
every page, map, feed and JSON document of that second is rendered from the same snapshot.

The public view holds what may be published and nothing else: per site the hotspots online and their client
*count*, per charger its site, district, whether it answers, and each connector's open-data class (EU AFIR:
available, occupied, out of service). No device id, address, root cause or error text goes into it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from stadtnetz.maintenance import Maintenance
from stadtnetz.model import Device, WebSettings
from stadtnetz.status.chargers import ChargerBoard, ChargerStatus
from stadtnetz.status.state import DeviceState, Layout, State
from stadtnetz.status.topology import Status

STATUSES = ("up", "degraded", "down", "unreachable", "unknown")
UPCOMING_DAYS = 7
WLAN_CLIENTS = "stadtnetz_wlan_clients"


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: str
    kind: str
    site: str
    district: str
    lat: float | None
    lon: float | None
    upstream: str | None
    status: str  # one of STATUSES
    root_cause: str
    maintenance: bool
    since: float | None  # wall time of the last status change, if seen by this process
    last_seen: float | None
    snmp: str  # the last poll's outcome: ok, timeout, error, unknown
    error: str


@dataclass(frozen=True, slots=True)
class OutageRow:
    """A device down by its own fault, and how many devices are unreachable behind it."""

    device: DeviceRow
    behind: int
    since: float | None


@dataclass(frozen=True, slots=True)
class WindowRow:
    name: str
    reason: str
    start: float
    end: float
    devices: int  # devices (and chargers) it covers
    districts: tuple[str, ...]
    public: int  # public hotspots and chargers among them


@dataclass(frozen=True, slots=True)
class HotspotSite:
    """Public: one site's public WLAN (hotspots of the public kinds)."""

    key: str  # "site-N": a stable handle that is no device id
    site: str
    district: str
    online: int
    total: int
    clients: int  # the clients on its hotspots now (a count, never who)
    lat: float | None
    lon: float | None

    @property
    def state(self) -> str:
        """online, partly (some hotspots answer), offline, unknown."""
        if self.online == self.total and self.total:
            return "online"
        if self.online:
            return "partly"
        return "offline" if self.total else "unknown"


@dataclass(frozen=True, slots=True)
class PublicConnector:
    connector: int
    state: str  # available, occupied, out_of_service


@dataclass(frozen=True, slots=True)
class PublicCharger:
    key: str  # "charger-N": no charge point id
    site: str
    district: str
    status: str  # online, offline, unknown (unreachable reads offline to the public)
    connectors: tuple[PublicConnector, ...]
    lat: float | None
    lon: float | None
    maintenance: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken: float  # wall time
    generation: int
    devices: tuple[DeviceRow, ...]
    counts: Mapping[str, int]
    outages: tuple[OutageRow, ...]
    open_windows: tuple[WindowRow, ...]
    upcoming: tuple[WindowRow, ...]
    hotspots: tuple[HotspotSite, ...]
    chargers: tuple[PublicCharger, ...]
    by_id: Mapping[str, DeviceRow] = field(repr=False, default_factory=dict)

    @property
    def overall(self) -> str:
        """ok (nothing down), outage (a device down or unreachable), unknown (nothing observed yet)."""
        if not self.devices or self.counts.get("unknown", 0) == len(self.devices):
            return "unknown"
        if self.counts.get("down", 0) or self.counts.get("unreachable", 0):
            return "outage"
        return "degraded" if self.counts.get("degraded", 0) else "ok"

    def public_counts(self) -> dict[str, int]:
        """Hotspots online/total and connectors by open-data class, for the public badge and status."""
        connectors = [c.state for charger in self.chargers for c in charger.connectors]
        return {
            "hotspots_online": sum(s.online for s in self.hotspots),
            "hotspots": sum(s.total for s in self.hotspots),
            "connectors_available": connectors.count("available"),
            "connectors_occupied": connectors.count("occupied"),
            "connectors_out_of_service": connectors.count("out_of_service"),
            "connectors": len(connectors),
        }


class ClientCounter:
    """Sums a hotspot's ``stadtnetz_wlan_clients`` series; the slots are found once per shared layout."""

    def __init__(self) -> None:
        self._slots: dict[int, tuple[Layout, tuple[int, ...]]] = {}

    def clients(self, state: DeviceState) -> int:
        layout = state.layout
        known = self._slots.get(id(layout))
        if known is None or known[0] is not layout:
            if len(self._slots) > 10_000:
                self._slots.clear()
            slots = tuple(i for i, (metric, _) in enumerate(layout.keys) if metric.name == WLAN_CLIENTS)
            known = self._slots[id(layout)] = (layout, slots)
        values = state.values
        total = 0.0
        for slot in known[1]:
            value = values[slot]
            if not math.isnan(value):
                total += value
        return int(total)


@dataclass
class Sources:
    """Where a snapshot is taken from; the composition root fills it in."""

    state: State
    devices: list[Device]  # the inventory's devices this process exports
    web: WebSettings
    clock_time: Callable[[], float]
    since: Mapping[str, float] = field(default_factory=dict)  # device -> wall time of its last status change
    maintenance: Maintenance | None = None
    chargers: ChargerBoard | None = None
    charger_devices: Mapping[str, Device] = field(default_factory=dict)  # charger id -> its modem device
    interval: float = 60.0  # the shortest poll interval: how long a snapshot's pages may be cached


def _window_rows(
    maintenance: Maintenance | None,
    now: dt.datetime,
    open_now: bool,
    devices: Mapping[str, Device],
    public_kinds: frozenset[str],
    charger_ids: frozenset[str],
) -> list[WindowRow]:
    if maintenance is None:
        return []
    rows = []
    for window in maintenance.windows:
        if open_now:
            spans = window.occurrences(now, now + dt.timedelta(microseconds=1))
        else:
            spans = [s for s in window.occurrences(now, now + dt.timedelta(days=UPCOMING_DAYS)) if s[0] > now]
        if not spans:
            continue
        start, end = spans[0]
        covered = maintenance.covered.get(window.name, frozenset())
        districts = sorted({devices[d].district for d in covered if d in devices and devices[d].district})
        public = sum(1 for d in covered if (d in devices and devices[d].kind in public_kinds) or d in charger_ids)
        rows.append(WindowRow(window.name, window.reason, start.timestamp(), end.timestamp(), len(covered),
                              tuple(districts), public))
    return sorted(rows, key=lambda row: row.start)


def take_snapshot(sources: Sources, generation: int, counter: ClientCounter) -> Snapshot:
    """Everything the pages show about now (see the module docstring)."""
    now = sources.clock_time()
    state = sources.state
    since = sources.since
    public_kinds = frozenset(sources.web.public_kinds)
    rows: list[DeviceRow] = []
    counts = dict.fromkeys(STATUSES, 0)
    behind: dict[str, int] = {}
    sites: dict[tuple[str, str], list] = {}  # (site, district) -> [online, total, clients, lats, lons]
    for device in sources.devices:
        current = state.devices.get(device.id)
        if current is None:
            continue
        status = current.health.value
        counts[status] += 1
        root = current.root_cause
        if current.health is Status.UNREACHABLE and root:
            behind[root] = behind.get(root, 0) + 1
        row = DeviceRow(
            device.id,
            device.kind,
            device.site,
            device.district,
            device.lat,
            device.lon,
            device.upstream,
            status,
            root,
            current.maintenance,
            since.get(device.id),
            current.last_seen or None,
            current.status.value,
            current.error,
        )
        rows.append(row)
        if device.kind in public_kinds:
            entry = sites.setdefault((device.site or device.district, device.district), [0, 0, 0, [], []])
            entry[1] += 1
            if current.health in (Status.UP, Status.DEGRADED):
                entry[0] += 1
                entry[2] += counter.clients(current)
            if device.lat is not None and device.lon is not None:
                entry[3].append(device.lat)
                entry[4].append(device.lon)
    by_id = {row.id: row for row in rows}
    outages = tuple(
        OutageRow(row, behind.get(row.id, 0), row.since)
        for row in sorted(rows, key=lambda r: (-behind.get(r.id, 0), r.id))
        if row.status == "down"
    )
    hotspots = tuple(
        HotspotSite(
            f"site-{index}",
            site,
            district,
            online,
            total,
            clients,
            sum(lats) / len(lats) if lats else None,
            sum(lons) / len(lons) if lons else None,
        )
        for index, ((site, district), (online, total, clients, lats, lons)) in enumerate(
            sorted(sites.items(), key=lambda item: (item[0][1], item[0][0])), start=1
        )
    )
    chargers = _public_chargers(sources)
    wall = dt.datetime.fromtimestamp(now, dt.UTC)
    devices_by_id = {d.id: d for d in sources.devices}
    charger_ids = frozenset(sources.chargers.chargers) if sources.chargers is not None else frozenset()
    args = (devices_by_id, public_kinds, charger_ids)
    return Snapshot(
        taken=now,
        generation=generation,
        devices=tuple(rows),
        counts=counts,
        outages=outages,
        open_windows=tuple(_window_rows(sources.maintenance, wall, True, *args)),
        upcoming=tuple(_window_rows(sources.maintenance, wall, False, *args)),
        hotspots=hotspots,
        chargers=chargers,
        by_id=by_id,
    )


def _public_chargers(sources: Sources) -> tuple[PublicCharger, ...]:
    board = sources.chargers
    if board is None:
        return ()
    found = []
    ordered = sorted(board.chargers.values(), key=lambda c: (c.district, c.site, c.id))
    for index, charger in enumerate(ordered, start=1):
        verdict = board.verdicts.get(charger.id)
        modem = sources.charger_devices.get(charger.id)
        if verdict is None:
            status, connectors = "unknown", ()
        else:
            status = {
                ChargerStatus.ONLINE: "online",
                ChargerStatus.UNKNOWN: "unknown",
            }.get(verdict.status, "offline")
            connectors = tuple(PublicConnector(c.connector, c.open_data.value) for c in verdict.connectors)
        found.append(
            PublicCharger(
                f"charger-{index}",
                charger.site,
                charger.district,
                status,
                connectors,
                modem.lat if modem is not None else None,
                modem.lon if modem is not None else None,
                charger.id in board.in_maintenance,
            )
        )
    return tuple(found)


def districts_and_groups(
    devices: Iterable[Device], groups: Mapping[str, Iterable[str]]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The device ids of every district and of every group (the scopes of the history bars)."""
    districts: dict[str, list[str]] = {}
    for device in devices:
        districts.setdefault(device.district or "(no district)", []).append(device.id)
    return dict(sorted(districts.items())), {name: list(ids) for name, ids in sorted(groups.items())}
