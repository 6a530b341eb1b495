"""The INSPIRE / Zensus 100 m grid (EPSG:3035, ETRS89-LAEA): cell ids of points.

A cell is named by its lower-left corner in metres: ``CRS3035RES100mN{N}E{E}`` with ``E = floor(x / 100) * 100``
and ``N = floor(y / 100) * 100`` after projecting longitude and latitude to EPSG:3035 (x is the easting). This is
the id Zensus 2022 publishes population under (``GITTER_ID_100m``) and the Breitbandatlas aggregates by.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

CELL_METRES = 100
GRID_CRS = 3035


def cell_id(easting: float, northing: float, size: int = CELL_METRES) -> str:
    """The id of the cell holding a point given in EPSG:3035 metres."""
    east = math.floor(easting / size) * size
    north = math.floor(northing / size) * size
    return f"CRS3035RES{size}mN{north}E{east}"


def cell_corner(easting: float, northing: float, size: int = CELL_METRES) -> tuple[int, int]:
    """The lower-left corner (easting, northing) of the cell holding a point in EPSG:3035 metres."""
    return math.floor(easting / size) * size, math.floor(northing / size) * size


def project_to_grid(lons: Sequence[float], lats: Sequence[float]) -> tuple[list[float], list[float]]:
    """Longitudes and latitudes (WGS84) as EPSG:3035 eastings and northings."""
    from pyproj import Transformer

    transformer = Transformer.from_crs(4326, GRID_CRS, always_xy=True)
    eastings, northings = transformer.transform(list(lons), list(lats))
    return list(eastings), list(northings)


def cell_ids(lons: Sequence[float], lats: Sequence[float]) -> list[str]:
    """The 100 m cell id of each WGS84 point."""
    eastings, northings = project_to_grid(lons, lats)
    return [cell_id(east, north) for east, north in zip(eastings, northings, strict=True)]
