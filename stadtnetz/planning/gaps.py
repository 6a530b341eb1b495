"""Coverage gaps: where fibre expansion pays off first, for ``stadtnetz report gaps`` and the planning metrics.

Owns three lists computed from a :class:`~stadtnetz.planning.plan.Plan`:

* **clusters** of unserved addresses (eligible under the Gigabit-Richtlinie 2.0: classes ``weiss``, ``grau``,
  ``foerderfaehig``; addresses whose service is not known are not counted), ranked by estimated cost per address,
  cheapest first. Two unserved addresses are in one cluster when a chain of unserved addresses at most
  ``link_m`` apart joins them (single linkage). A cluster's trench is the minimum spanning tree between its
  addresses (shared trench counted once) plus the one connection from its member nearest to a fibre line, both
  times ``planning.detour``; each MST edge costs the mean euro per metre of its two ends' surfaces.
  The MST is Kruskal's over the Delaunay edges of the points (the Euclidean MST is a subgraph of the Delaunay
  triangulation), so 20,000 addresses take well under a second.
* **cheap upgrades**: access devices (hotspots, school APs, charger modems: devices with nothing below them) on DSL,
  LTE or radio backhaul within ``within_m`` of a fibre line, nearest first;
* **short spans**: backbone spans whose p95 utilisation leaves less than ``planning.headroom`` of their capacity.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from stadtnetz.model import Device
from stadtnetz.planning.network import Span
from stadtnetz.planning.plan import Plan, PlannedAddress
from stadtnetz.planning.reach import Reach, reach_points

DEFAULT_LINK_M = 200.0  # addresses closer than this along a chain of unserved ones are one cluster
DEFAULT_WITHIN_M = 500.0  # a device on DSL/LTE/radio this close to fibre is a cheap upgrade
UNSERVED = ("weiss", "grau", "foerderfaehig")


@dataclass(frozen=True, slots=True)
class GapCluster:
    id: str  # "gap-" and the smallest address id in it: stable while the cluster keeps that address
    members: tuple[PlannedAddress, ...]
    classes: dict[str, int]  # unserved addresses by funding class
    spanning_m: float  # the MST between the members, straight metres
    connect: PlannedAddress  # the member joined to the fibre network
    trench_m: float  # (spanning_m + connect's distance to a fibre line) * detour
    cost_eur: float
    district: str  # the most common district of its members
    lon: float  # the members' centroid
    lat: float

    @property
    def addresses(self) -> int:
        return len(self.members)

    @property
    def cost_per_address_eur(self) -> float:
        return self.cost_eur / len(self.members)


@dataclass(frozen=True, slots=True)
class Upgrade:
    """An access device on DSL, LTE or radio close to the fibre network."""

    device: Device
    reach: Reach


def unserved(plan: Plan) -> list[PlannedAddress]:
    return [item for item in plan.addresses if item.funding_class in UNSERVED]


def gap_clusters(plan: Plan, link_m: float = DEFAULT_LINK_M) -> list[GapCluster]:
    """The clusters of unserved addresses, cheapest per address first (none without a fibre point)."""
    members = [item for item in unserved(plan) if item.reach.to_line_m is not None]
    if not members:
        return []
    import numpy as np
    from pyproj import Transformer

    project = Transformer.from_crs(4326, plan.settings.crs, always_xy=True)
    xs, ys = project.transform(
        np.array([m.address.lon for m in members], dtype=float), np.array([m.address.lat for m in members], dtype=float)
    )
    edges = _spanning_edges(np.asarray(xs), np.asarray(ys), link_m)
    parent = list(range(len(members)))
    for a, b, _ in edges:
        parent[_find(parent, a)] = _find(parent, b)
    groups: dict[int, list[int]] = {}
    for index in range(len(members)):
        groups.setdefault(_find(parent, index), []).append(index)
    spanning: dict[int, list[tuple[int, int, float]]] = {}
    for edge in edges:
        spanning.setdefault(_find(parent, edge[0]), []).append(edge)
    costs = dict(plan.settings.cost_per_metre)
    detour = plan.settings.detour
    clusters = []
    for root, indices in groups.items():
        group_edges = spanning.get(root, [])
        connect = min((members[i] for i in indices), key=lambda m: (m.reach.to_line_m, m.address.id))
        length = sum(metres for _, _, metres in group_edges)
        edge_cost = sum(
            metres * detour * (costs[members[a].address.surface] + costs[members[b].address.surface]) / 2
            for a, b, metres in group_edges
        )
        group = tuple(sorted((members[i] for i in indices), key=lambda m: m.address.id))
        clusters.append(
            GapCluster(
                id="gap-" + group[0].address.id,
                members=group,
                classes=dict(Counter(m.funding_class for m in group)),
                spanning_m=length,
                connect=connect,
                trench_m=(length + (connect.reach.to_line_m or 0.0)) * detour,
                cost_eur=edge_cost + (connect.reach.cost_eur or 0.0),
                district=Counter(m.district for m in group).most_common(1)[0][0],
                lon=sum(m.address.lon for m in group) / len(group),
                lat=sum(m.address.lat for m in group) / len(group),
            )
        )
    clusters.sort(key=lambda c: (c.cost_per_address_eur, c.id))
    return clusters


def _spanning_edges(xs: object, ys: object, link_m: float) -> list[tuple[int, int, float]]:
    """The minimum spanning forest of the points whose edges are at most ``link_m`` long: (a, b, metres)."""
    import numpy as np
    import shapely

    count = len(xs)  # type: ignore[arg-type]
    index_of: dict[tuple[float, float], int] = {}
    candidates: list[tuple[float, int, int]] = []
    for index, key in enumerate(zip(xs, ys, strict=True)):  # type: ignore[call-overload]
        first = index_of.setdefault((float(key[0]), float(key[1])), index)
        if first != index:  # the same coordinates (flats in one building): joined at no length
            candidates.append((0.0, first, index))
    unique = list(index_of.values())
    if len(unique) > 1:
        points = shapely.multipoints(np.column_stack([np.asarray(xs)[unique], np.asarray(ys)[unique]]))
        coordinates = shapely.get_coordinates(shapely.delaunay_triangles(points, only_edges=True))
        if len(coordinates) == 0:  # all on one line: neighbours along it
            order = sorted(unique, key=lambda i: (xs[i], ys[i]))  # type: ignore[index]
            pairs = list(itertools.pairwise(order))
        else:
            ends = [index_of[(float(x), float(y))] for x, y in coordinates]
            pairs = list(zip(ends[0::2], ends[1::2], strict=True))
        for a, b in pairs:
            metres = float(np.hypot(xs[a] - xs[b], ys[a] - ys[b]))  # type: ignore[index]
            if metres <= link_m:
                candidates.append((metres, a, b))
    candidates.sort()
    parent = list(range(count))
    edges = []
    for metres, a, b in candidates:
        root_a, root_b = _find(parent, a), _find(parent, b)
        if root_a != root_b:
            parent[root_a] = root_b
            edges.append((a, b, metres))
    return edges


def _find(parent: list[int], index: int) -> int:
    while parent[index] != index:
        parent[index] = parent[parent[index]]
        index = parent[index]
    return index


def cheap_upgrades(plan: Plan, devices: Sequence[Device], within_m: float = DEFAULT_WITHIN_M) -> list[Upgrade]:
    """Access devices on DSL, LTE or radio within ``within_m`` of a fibre line, nearest first."""
    below = {node.device.id: node.downstream for node in plan.nodes}
    candidates = [
        device
        for device in devices
        if device.backhaul != "fibre" and device.lat is not None and device.lon is not None
        and below.get(device.id, 0) == 0
    ]
    reaches = reach_points(
        [d.lon for d in candidates], [d.lat for d in candidates],  # type: ignore[misc]
        [plan.settings.default_surface] * len(candidates), plan.fibre_points, plan.fibre_lines, plan.settings,
    )
    upgrades = [
        Upgrade(device, item)
        for device, item in zip(candidates, reaches, strict=True)
        if item.to_line_m is not None and item.to_line_m <= within_m
    ]
    upgrades.sort(key=lambda u: (u.reach.to_line_m, u.device.id))
    return upgrades


def short_spans(plan: Plan) -> list[Span]:
    """The backbone spans whose p95 leaves less than ``planning.headroom`` free, least headroom first."""
    short = [span for span in plan.spans if span.backbone and span.short(plan.settings)]
    short.sort(key=lambda span: (span.headroom, span.device.id))
    return short
