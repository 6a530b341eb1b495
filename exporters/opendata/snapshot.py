"""What the open data feeds are made of: a read-only snapshot of the hotspots and chargers, and how it is taken.

Owns the copy of the state that may go public and nothing more: per hotspot its id, name (the site), district,
position, whether it answers, its WLAN client *counts* and when it last answered; per uplink switch of a hotspot its
id, name and whether it answers (never its position); per published charger its static data from the configuration,
whether it is heard from, and each connector's OCPP status. Device addresses, MACs, communities, passwords and
idTags are never copied in, so no feed can leak them. Also the timestamp formats the feeds share.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from stadtnetz.model import Charger, ConnectorInfo, Device, Inventory, OpenDataSettings, PollStatus
from stadtnetz.status.chargers import ChargerStatus, ChargerVerdict
from stadtnetz.status.state import DeviceState, State
from stadtnetz.status.topology import Status

CLIENTS_METRIC = "stadtnetz_wlan_clients"  # the unifi_clients profile's counts per radio and SSID
BANDS = {"2.4GHz": "2.4", "5GHz": "5", "6GHz": "6"}  # the profile's band label -> the feeds' key


@dataclass(frozen=True, slots=True)
class HotspotView:
    id: str
    name: str  # its site, else its id
    district: str
    lat: float | None
    lon: float | None
    status: str  # up, degraded, down, unreachable, unknown (stadtnetz.status.topology.Status)
    clients: int | None  # associated WLAN clients now, all radios; None: not known (offline, never polled)
    clients_by_band: Mapping[str, int]  # "2.4", "5", "6" -> clients
    last_contact: float | None  # wall time of its last answer to a poll; None: never
    model: str
    uptime: float | None  # seconds since it booted, as it said at its last poll
    uplink: str | None  # the id of the node it hangs off in the feeds (a hotspot or an uplink switch)

    @property
    def online(self) -> bool:
        return self.status in (Status.UP.value, Status.DEGRADED.value)


@dataclass(frozen=True, slots=True)
class UplinkView:
    """A switch (or router) hotspots hang off: a node of the meshviewer graph, published without its position."""

    id: str
    name: str
    status: str

    @property
    def online(self) -> bool:
        return self.status in (Status.UP.value, Status.DEGRADED.value)


@dataclass(frozen=True, slots=True)
class ConnectorView:
    number: int  # the OCPP connector id, 1..n
    ocpp_status: str  # its last StatusNotification's status; "": none since the service started
    since: float | None  # when that status was reported
    info: ConnectorInfo  # its static data from the configuration
    updated: float = 0.0  # when what the feeds say about it last changed (the publisher fills it in)


@dataclass(frozen=True, slots=True)
class ChargerView:
    charger: Charger  # its static data (only what the feeds print of it is published: no password, no modem id)
    reachability: str  # online, offline, unreachable, unknown (stadtnetz.status.chargers.ChargerStatus)
    whole: str  # connector 0's OCPP status (the charger as a whole); "": none
    whole_since: float | None
    connectors: tuple[ConnectorView, ...]

    @property
    def online(self) -> bool:
        return self.reachability == ChargerStatus.ONLINE.value


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: float  # wall time the snapshot was taken
    static_since: float  # wall time the static data (the configuration) were loaded
    opendata: OpenDataSettings
    hotspots: tuple[HotspotView, ...] = ()
    uplinks: tuple[UplinkView, ...] = ()
    chargers: tuple[ChargerView, ...] = ()
    poll_interval: float = 60.0  # the hotspots' shortest poll interval: how fresh their data are
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. the feeds' base URL, for the catalogue


def is_hotspot(device: Device, settings: OpenDataSettings) -> bool:
    """A public hotspot: a device of one of ``opendata.hotspot_kinds``, carrying one of its tags if any are named."""
    if device.kind not in settings.hotspot_kinds:
        return False
    return not settings.hotspot_tags or any(tag in device.tags for tag in settings.hotspot_tags)


def take_snapshot(
    state: State,
    verdicts: Mapping[str, ChargerVerdict],
    inventory: Inventory,
    now: float,
    static_since: float,
    health: Callable[[str], Status | None] | None = None,
) -> Snapshot:
    """The feeds' view of ``state`` (the devices this process exports) and the charger board's ``verdicts``.

    ``health`` gives a device's status where the state has none of its own (an uplink owned by another shard);
    by default the state's.
    """
    settings = inventory.opendata
    hotspots: list[HotspotView] = []
    published = {
        s.device.id for s in state.devices.values() if s.exported and is_hotspot(s.device, settings)
    }
    uplink_ids: dict[str, None] = {}
    for device_state in state.devices.values():
        device = device_state.device
        if device.id not in published:
            continue
        clients, by_band = _clients(device_state) if device_state.status is PollStatus.OK else (None, {})
        if device.upstream is not None and device.upstream not in published:
            uplink_ids[device.upstream] = None
        ticks = device_state.uptime_ticks
        hotspots.append(
            HotspotView(
                id=device.id,
                name=device.site or device.id,
                district=device.district,
                lat=device.lat,
                lon=device.lon,
                status=device_state.health.value,
                clients=clients,
                clients_by_band=by_band,
                last_contact=device_state.last_seen or None,
                model=device.model,
                uptime=ticks / 100.0 if ticks is not None and device_state.status is PollStatus.OK else None,
                uplink=device.upstream,
            )
        )
    uplinks = []
    for uplink_id in uplink_ids:
        known = state.devices.get(uplink_id)
        status = known.health if known is not None else (health(uplink_id) if health else None)
        device = known.device if known is not None else None
        name = (device.site if device is not None else "") or uplink_id
        uplinks.append(UplinkView(uplink_id, name, (status or Status.UNKNOWN).value))
    chargers = tuple(_charger_view(verdict) for _, verdict in sorted(verdicts.items()) if verdict.charger.publish)
    intervals = [s.device.interval for s in state.devices.values() if s.device.id in published]
    return Snapshot(
        now=now,
        static_since=static_since,
        opendata=settings,
        hotspots=tuple(hotspots),
        uplinks=tuple(uplinks),
        chargers=chargers,
        poll_interval=min(intervals, default=inventory.settings.interval),
    )


def _clients(device_state: DeviceState) -> tuple[int | None, dict[str, int]]:
    """The WLAN client counts a hotspot reported at its last poll: in total and per band (None: it reports none)."""
    total, seen = 0, False
    by_band: dict[str, int] = {}
    for metric, labels, value in device_state.series():
        if metric.name != CLIENTS_METRIC or not isinstance(value, int | float) or math.isnan(value):
            continue
        seen = True
        count = int(value)
        total += count
        band = BANDS.get(labels.get("band") or "")
        if band is not None:
            by_band[band] = by_band.get(band, 0) + count
    return (total if seen else None), by_band


def _charger_view(verdict: ChargerVerdict) -> ChargerView:
    charger, snapshot = verdict.charger, verdict.snapshot
    whole = snapshot.connector(0)
    numbers = sorted(
        {v.connector for v in verdict.connectors} | set(range(1, len(charger.connector_info) + 1))
    )
    connectors = []
    for number in numbers:
        reported = snapshot.connector(number)
        info = charger.connector_info[number - 1] if number <= len(charger.connector_info) else ConnectorInfo()
        connectors.append(
            ConnectorView(
                number=number,
                ocpp_status=reported.status if reported is not None else "",
                since=reported.since if reported is not None and reported.since else None,
                info=info,
            )
        )
    return ChargerView(
        charger=charger,
        reachability=verdict.status.value,
        whole=whole.status if whole is not None else "",
        whole_since=whole.since if whole is not None and whole.since else None,
        connectors=tuple(connectors),
    )


# --- timestamps as the formats write them ----------------------------------------------------------------------------


def utc(seconds: float) -> str:
    """RFC 3339 in UTC with a Z, whole seconds: OCPI's DateTime, GeoJSON's and the nodelist's timestamps."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(seconds: float, time_zone: str) -> str:
    """ISO 8601 with the local offset, whole seconds (DATEX II's DateTime): 2026-12-03T09:30:00+01:00."""
    return dt.datetime.fromtimestamp(seconds, ZoneInfo(time_zone)).isoformat(timespec="seconds")


def offset(seconds: float, time_zone: str) -> str:
    """The zone's offset from UTC at that moment, ``+01:00`` (DATEX II's TimeZone)."""
    text = dt.datetime.fromtimestamp(seconds, ZoneInfo(time_zone)).strftime("%z")
    return f"{text[:3]}:{text[3:]}"


def yanic(seconds: float) -> str:
    """yanic's jsontime (meshviewer.json): ``2006-01-02T15:04:05-0700``, here in UTC."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def latest(*times: float | None) -> float:
    """The latest of the known times (0.0 when none is)."""
    return max((t for t in times if t is not None), default=0.0)


def connectors_of(chargers: Iterable[ChargerView]) -> Iterable[tuple[ChargerView, ConnectorView]]:
    for view in chargers:
        for connector in view.connectors:
            yield view, connector
