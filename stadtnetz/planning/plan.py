"""One plan: everything the planning exports and reports show, computed once for a configuration.

Owns putting the parts together: the network's nodes and spans with the history's figures over the window
(:mod:`stadtnetz.planning.network`), each address's reach and funding class (:mod:`~stadtnetz.planning.reach`,
:mod:`~stadtnetz.planning.funding`) and the 100 m grid cells (:mod:`~stadtnetz.planning.grid`).
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stadtnetz.model import Address, Device, PlanningSettings
from stadtnetz.planning.funding import classify, without_gigabit
from stadtnetz.planning.grid import cell_corner, cell_id, project_to_grid
from stadtnetz.planning.network import Node, Span, link_figures, nodes_and_spans
from stadtnetz.planning.reach import Reach, nearest_indices, reach


@dataclass(frozen=True, slots=True)
class PlannedAddress:
    address: Address
    reach: Reach
    funding_class: str
    eligible: bool | None  # Gigabit-Richtlinie 2.0; None: speed not known
    cell: str  # its 100 m INSPIRE cell
    district: str  # the district of the nearest placed device (address lists carry no districts)


@dataclass(frozen=True, slots=True)
class Cell:
    """One 100 m INSPIRE cell holding at least one address."""

    id: str
    east: int  # lower-left corner, EPSG:3035 metres
    north: int
    addresses: int
    without_gigabit: int
    median_straight_m: float | None  # median distance of its addresses to the nearest fibre point


@dataclass(slots=True)
class Plan:
    settings: PlanningSettings
    made_at: float  # Unix time
    window: tuple[float, float]  # the history's [start, end)
    nodes: list[Node]
    spans: list[Span]
    addresses: list[PlannedAddress]
    cells: list[Cell]
    with_history: bool
    unplaced_devices: list[str] = field(default_factory=list)  # ids of devices without coordinates
    fibre_points: list[Device] = field(default_factory=list)  # the placed devices on fibre backhaul
    fibre_lines: list[tuple[tuple[float, float], ...]] = field(default_factory=list)  # (lon, lat) vertices
    sources: list[str] = field(default_factory=list)  # the input files, for the metadata


def make_plan(
    devices: Sequence[Device],
    addresses: Sequence[Address],
    settings: PlanningSettings,
    routes: Mapping[tuple[str, str], tuple[tuple[float, float], ...]],
    history: sqlite3.Connection | None,
    now: float,
) -> Plan:
    """The plan of ``devices`` and ``addresses`` with the history's figures over the window ending ``now``."""
    start = now - settings.window
    figures = link_figures(devices, history, start, now)
    nodes, spans = nodes_and_spans(devices, figures, routes)
    fibre_points = [node.device for node in nodes if node.device.backhaul == "fibre"]
    fibre_lines: list[tuple[tuple[float, float], ...]] = [
        span.route or ((span.device.lon, span.device.lat), (span.upstream.lon, span.upstream.lat))
        for span in spans
        if span.device.backhaul == "fibre"
    ]
    reaches = reach(addresses, fibre_points, fibre_lines, settings)
    districts = _districts(addresses, [node.device for node in nodes], settings)
    eastings, northings = project_to_grid([a.lon for a in addresses], [a.lat for a in addresses])
    planned = []
    for address, address_reach, east, north, district in zip(
        addresses, reaches, eastings, northings, districts, strict=True
    ):
        klass, is_eligible = classify(
            address.download_mbit_s, address.upload_mbit_s, address.technology, settings.funding
        )
        planned.append(PlannedAddress(address, address_reach, klass, is_eligible, cell_id(east, north), district))
    cells = _cells(planned, eastings, northings)
    unplaced = [device.id for device in devices if device.lat is None or device.lon is None]
    return Plan(
        settings, now, (start, now), nodes, spans, planned, cells, history is not None, unplaced,
        fibre_points=fibre_points, fibre_lines=fibre_lines,
    )


def _districts(addresses: Sequence[Address], placed: Sequence[Device], settings: PlanningSettings) -> list[str]:
    """The district of each address's nearest placed device ("" without any), nearest in the plan's CRS."""
    if not placed or not addresses:
        return ["" for _ in addresses]
    nearest = nearest_indices(
        [a.lon for a in addresses], [a.lat for a in addresses],
        [d.lon for d in placed], [d.lat for d in placed], settings.crs,  # type: ignore[misc]
    )
    return [placed[index].district for index in nearest]


def _cells(planned: Sequence[PlannedAddress], eastings: Sequence[float], northings: Sequence[float]) -> list[Cell]:
    members: dict[str, list[int]] = {}
    for index, item in enumerate(planned):
        members.setdefault(item.cell, []).append(index)
    cells = []
    for cell, indices in sorted(members.items()):
        east, north = cell_corner(eastings[indices[0]], northings[indices[0]])
        distances = [d for i in indices if (d := planned[i].reach.straight_m) is not None]
        cells.append(
            Cell(
                id=cell,
                east=east,
                north=north,
                addresses=len(indices),
                without_gigabit=sum(without_gigabit(planned[i].funding_class) for i in indices),
                median_straight_m=statistics.median(distances) if distances else None,
            )
        )
    return cells
