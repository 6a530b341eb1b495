"""The monitored network as a planner sees it: nodes (devices with a place) and spans (each device to its upstream).

Owns the figures the history gives each of them over the planning window. A node's capacity is the speed of its
busiest interface (the one whose utilisation p95 is highest, which for an access device and a distribution switch
is its uplink), its p95 utilisation is that interface's (the busier direction, as
:func:`stadtnetz.history.p95_utilisation` takes it), its availability the history's. A span carries the lower
device's figures (its uplink is the span), its medium (the device's backhaul), its geometry (a trench route if one
is known, else the straight line) and whether it is backbone (the lower device has devices below it) or access.
Without a history file the figures are None.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stadtnetz.history import availability_by_device, connect
from stadtnetz.history.queries import gauge_average_by_series, p95_utilisation_by_series, parse_labels
from stadtnetz.model import Device, PlanningSettings

SPEED_METRIC = "stadtnetz_interface_speed_bytes"
GISNB_ART = {"core_router": 12, "distribution_switch": 14}  # GIS-NB "Bauten und Netztechnik": 12 PoP, 14 fibre DP


@dataclass(frozen=True, slots=True)
class LinkFigures:
    """What the history says about a device's busiest interface over the window."""

    interface: str | None = None
    capacity_mbit_s: float | None = None
    p95_utilisation: float | None = None
    availability: float | None = None


@dataclass(frozen=True, slots=True)
class Node:
    device: Device
    figures: LinkFigures
    downstream: int  # devices directly below it


@dataclass(frozen=True, slots=True)
class Span:
    """The link from ``device`` up to ``upstream``: ``route`` is the trench's (lon, lat) vertices if one is known."""

    device: Device
    upstream: Device
    figures: LinkFigures
    backbone: bool
    route: tuple[tuple[float, float], ...] | None

    @property
    def headroom(self) -> float | None:
        """The share of the capacity the p95 leaves free."""
        p95 = self.figures.p95_utilisation
        return None if p95 is None else max(0.0, 1.0 - p95)

    @property
    def headroom_mbit_s(self) -> float | None:
        capacity, headroom = self.figures.capacity_mbit_s, self.headroom
        return None if capacity is None or headroom is None else capacity * headroom

    def short(self, settings: PlanningSettings) -> bool | None:
        """Whether the span leaves less than ``settings.headroom`` free at its p95."""
        headroom = self.headroom
        return None if headroom is None else headroom < settings.headroom


def link_figures(
    devices: Sequence[Device], history: sqlite3.Connection | None, start: float, end: float
) -> dict[str, LinkFigures]:
    """Each device's busiest-interface figures over [start, end); empty figures without a history."""
    if history is None:
        return {device.id: LinkFigures() for device in devices}
    seconds = availability_by_device(history, [device.id for device in devices], start, end)
    figures = {}
    for device in devices:
        p95s = p95_utilisation_by_series(history, device.id, start, end)
        interface = capacity = p95 = None
        if p95s:
            busiest, p95 = max(p95s.items(), key=lambda item: item[1])
            interface = parse_labels(busiest).get("interface")
            speeds = gauge_average_by_series(history, device.id, SPEED_METRIC, start, end)
            for labels, speed in speeds.items():
                if parse_labels(labels).get("interface") == interface and speed > 0:
                    capacity = speed * 8 / 1e6
        figures[device.id] = LinkFigures(interface, capacity, p95, seconds[device.id].ratio)
    return figures


def open_history(path: Path | None) -> sqlite3.Connection | None:
    """The history file (it must exist), or None when the configuration keeps none (planning without figures)."""
    return None if path is None else connect(path, create=False)


def nodes_and_spans(
    devices: Sequence[Device],
    figures: Mapping[str, LinkFigures],
    routes: Mapping[tuple[str, str], tuple[tuple[float, float], ...]],
) -> tuple[list[Node], list[Span]]:
    """The placed devices as nodes and their links as spans (both ends placed)."""
    by_id = {device.id: device for device in devices}
    below: dict[str, int] = {}
    for device in devices:
        if device.upstream is not None:
            below[device.upstream] = below.get(device.upstream, 0) + 1
    placed = [device for device in devices if device.lat is not None and device.lon is not None]
    nodes = [Node(device, figures.get(device.id, LinkFigures()), below.get(device.id, 0)) for device in placed]
    spans = []
    for device in placed:
        upstream = by_id.get(device.upstream) if device.upstream is not None else None
        if upstream is None or upstream.lat is None or upstream.lon is None:
            continue
        spans.append(
            Span(
                device=device,
                upstream=upstream,
                figures=figures.get(device.id, LinkFigures()),
                backbone=below.get(device.id, 0) > 0,
                route=routes.get((device.id, upstream.id)),
            )
        )
    return nodes, spans

