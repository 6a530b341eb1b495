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
    return reach_points(
        [a.lon for a in addresses], [a.lat for a in addresses], [a.surface for a in addresses],
        fibre_points, fibre_lines, settings,
    )


def reach_points(
    lons: Sequence[float],
    lats: Sequence[float],
    surfaces: Sequence[str],
    fibre_points: Sequence[Device],
    fibre_lines: Sequence[Sequence[tuple[float, float]]],
    settings: PlanningSettings,
) -> list[Reach]:
    """The :class:`Reach` of every WGS84 point (addresses, or devices on DSL/LTE looking for a fibre upgrade)."""
    count = len(lons)
    if not count:
        return []
    if not fibre_points:
        return [Reach(None, None, None, None, None) for _ in range(count)]
    import numpy as np
    import shapely
    from pyproj import Geod, Transformer

    project = Transformer.from_crs(4326, settings.crs, always_xy=True)
    lon_array, lat_array = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    x, y = project.transform(lon_array, lat_array)
    point_lons = np.array([device.lon for device in fibre_points], dtype=float)
    point_lats = np.array([device.lat for device in fibre_points], dtype=float)
    point_x, point_y = project.transform(point_lons, point_lats)
    geometries = shapely.points(x, y)
    nearest_index = _nearest(shapely.STRtree(shapely.points(point_x, point_y)), geometries)[0]
    _, _, straight = Geod(ellps="WGS84").inv(lon_array, lat_array, point_lons[nearest_index], point_lats[nearest_index])
    straight = np.asarray(straight, dtype=float)
    to_line = straight.copy()
    if fibre_lines:
        lines = [
            shapely.linestrings(np.column_stack(project.transform(*np.array(vertices, dtype=float).T)))
            for vertices in fibre_lines
        ]
        to_line = np.minimum(to_line, _nearest(shapely.STRtree(lines), geometries)[1])
    costs = dict(settings.cost_per_metre)
    trench = to_line * settings.detour
    return [
        Reach(
            nearest=fibre_points[int(nearest_index[index])].id,
            straight_m=float(straight[index]),
            to_line_m=float(to_line[index]),
            trench_m=float(trench[index]),
            cost_eur=float(trench[index]) * costs[surfaces[index]],
        )
        for index in range(count)
    ]


def nearest_indices(
    lons: Sequence[float], lats: Sequence[float], to_lons: Sequence[float], to_lats: Sequence[float], crs: int
) -> list[int]:
    """For each WGS84 point, the index of the nearest of the ``to`` points, nearest in ``crs`` (metres)."""
    import numpy as np
    import shapely
    from pyproj import Transformer

    project = Transformer.from_crs(4326, crs, always_xy=True)
    x, y = project.transform(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
    to_x, to_y = project.transform(np.asarray(to_lons, dtype=float), np.asarray(to_lats, dtype=float))
    found = _nearest(shapely.STRtree(shapely.points(to_x, to_y)), shapely.points(x, y))[0]
    return [int(index) for index in found]  # type: ignore[attr-defined]


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
