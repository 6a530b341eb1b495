"""From each address to the fibre network: nearest fibre point, distances, estimated trench metres and cost.

Owns the geometry. Fibre points are the placed devices on fibre backhaul; fibre lines are the spans whose lower
device is on fibre (their trench route, else the straight line). For each address:

* ``nearest`` and ``straight_m``: the nearest fibre point and the geodesic distance to it (WGS84 ellipsoid);
* ``to_line_m``: the distance to the nearest fibre line in the plan's CRS (a new drop can join a trench between
  two nodes, at a new splice closure), never more than ``straight_m``;
* ``trench_m``: ``to_line_m`` times ``planning.detour`` (trenches follow streets, not the straight line);
* ``cost_eur``: ``trench_m`` times the euro per metre of the address's surface.

Nearest neighbours are found with shapely's STRtree in the plan's projected CRS (EPSG:25832 or 25833), so 20,000
addresses take milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stadtnetz.model import Address, Device, PlanningSettings


@dataclass(frozen=True, slots=True)
class Reach:
    """How far one address is from the fibre network (metres, euro)."""

    nearest: str | None  # the nearest fibre point's device id; None: no fibre point at all
    straight_m: float | None
    to_line_m: float | None
    trench_m: float | None
    cost_eur: float | None


def reach(
    addresses: Sequence[Address],
    fibre_points: Sequence[Device],
    fibre_lines: Sequence[Sequence[tuple[float, float]]],
    settings: PlanningSettings,
) -> list[Reach]:
    """The :class:`Reach` of every address, in order; ``fibre_lines`` are (lon, lat) vertex lists."""
    if not addresses:
        return []
    if not fibre_points:
        return [Reach(None, None, None, None, None) for _ in addresses]
    import numpy as np
    import shapely
    from pyproj import Geod, Transformer

    project = Transformer.from_crs(4326, settings.crs, always_xy=True)
    address_x, address_y = project.transform(
        np.fromiter((a.lon for a in addresses), float, len(addresses)),
        np.fromiter((a.lat for a in addresses), float, len(addresses)),
    )
    point_lons = np.array([device.lon for device in fibre_points], dtype=float)
    point_lats = np.array([device.lat for device in fibre_points], dtype=float)
    point_x, point_y = project.transform(point_lons, point_lats)
    address_geoms = shapely.points(address_x, address_y)
    point_tree = shapely.STRtree(shapely.points(point_x, point_y))
    nearest_index = _nearest(point_tree, address_geoms)[0]
    address_lons = np.fromiter((a.lon for a in addresses), float, len(addresses))
    address_lats = np.fromiter((a.lat for a in addresses), float, len(addresses))
    _, _, straight = Geod(ellps="WGS84").inv(
        address_lons, address_lats, point_lons[nearest_index], point_lats[nearest_index]
    )
    to_line = np.array(straight, dtype=float)
    if fibre_lines:
        lines = [
            shapely.linestrings(np.column_stack(project.transform(*np.array(vertices, dtype=float).T)))
            for vertices in fibre_lines
        ]
        to_line = np.minimum(to_line, _nearest(shapely.STRtree(lines), address_geoms)[1])
    costs = dict(settings.cost_per_metre)
    result = []
    for index, address in enumerate(addresses):
        trench = float(to_line[index]) * settings.detour
        result.append(
            Reach(
                nearest=fibre_points[int(nearest_index[index])].id,
                straight_m=float(straight[index]),
                to_line_m=float(to_line[index]),
                trench_m=trench,
                cost_eur=trench * costs[address.surface],
            )
        )
    return result


def _nearest(tree: object, geometries: object) -> tuple[object, object]:
    """For each geometry, in order: the index of the nearest one in ``tree`` and the distance to it."""
    import numpy as np

    (inputs, found), distances = tree.query_nearest(  # type: ignore[attr-defined]
        geometries, return_distance=True, all_matches=False
    )
    count = len(geometries)  # type: ignore[arg-type]
    nearest = np.empty(count, dtype=np.int64)
    distance = np.empty(count, dtype=float)
    nearest[inputs] = found
    distance[inputs] = distances
    return nearest, distance
