"""The service's own metrics about what it wires, not about one part: maintenance windows, traps and places.

Owns the collectors of the figures only the service holds (which windows are open and what they cover; the
traps each device sent, counted by the service's trap handler; where each device is, from the inventory's
``lat``/``lon``, for maps such as the WLAN dashboard's geomap), exported at scrape time. The parts' own
collectors live next to their data (``collectors/snmp/client.py``, ``collectors/traps.py``, ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from stadtnetz.clock import Clock
from stadtnetz.maintenance import Maintenance
from stadtnetz.model import DEVICE_LABELS, Device
from stadtnetz.own_metrics import Family, ScrapeCollector

_WINDOW_OPEN = Family(
    "gauge", "stadtnetz_maintenance_window_open", "1 while the declared maintenance window is open.", ("window",)
)
_WINDOW_DEVICES = Family(
    "gauge", "stadtnetz_maintenance_window_devices", "Devices the maintenance window covers.", ("window",)
)
_DEVICE_TRAPS = Family(
    "counter",
    "stadtnetz_device_traps_received",
    "SNMP traps accepted from the device, by trap (link_down, link_up, cold_start, ...).",
    (*DEVICE_LABELS, "trap"),
)

_LOCATION = Family(
    "gauge",
    "stadtnetz_device_location_info",
    "Where the device is (the inventory's lat/lon in degrees, WGS84), for maps; value 1. Devices without "
    "coordinates have none.",
    (*DEVICE_LABELS, "latitude", "longitude"),
)


class _MaintenanceCollector(ScrapeCollector):
    """Exports which maintenance windows are open and how many devices each covers."""

    families = (_WINDOW_OPEN, _WINDOW_DEVICES)

    def __init__(self, maintenance: Maintenance, clock: Clock) -> None:
        self.maintenance, self.clock = maintenance, clock

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        now = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        open_windows = {w.name for w in self.maintenance.open_windows(now)}
        for window in self.maintenance.windows:
            yield _WINDOW_OPEN, [window.name], int(window.name in open_windows)
            yield _WINDOW_DEVICES, [window.name], len(self.maintenance.covered[window.name])


class _DeviceTrapsCollector(ScrapeCollector):
    """Exports the traps each device sent, by kind (authenticationFailure from a device: someone guessing)."""

    families = (_DEVICE_TRAPS,)

    def __init__(self, counts: dict[tuple[str, str], int], by_id: dict[str, Device]) -> None:
        self.counts, self.by_id = counts, by_id

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        for (device_id, trap), count in sorted(self.counts.items()):
            device = self.by_id[device_id]
            yield _DEVICE_TRAPS, [device.id, device.kind, device.site, device.district, trap], count


class _DeviceLocationCollector(ScrapeCollector):
    """Exports one constant info series per device with coordinates: join it on ``device`` to place a series."""

    families = (_LOCATION,)

    def __init__(self, devices: Iterable[Device]) -> None:
        self.labels = [
            [*device.identity, str(float(device.lat)), str(float(device.lon))]
            for device in devices
            if device.lat is not None and device.lon is not None
        ]

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        for labels in self.labels:
            yield _LOCATION, labels, 1
