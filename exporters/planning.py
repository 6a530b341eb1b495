"""Writing the planning layers (:mod:`exporters.planning_layers`) as GeoPackage, GeoJSON or CSV files.

Owns the formats, through pyogrio (which ships its own GDAL, so no system GDAL is needed):

* ``gpkg``: one GeoPackage file with every layer, each with its R-tree spatial index; the network layers in the
  plan's CRS (EPSG:25832 or 25833), the grid in EPSG:3035. Written to a temporary file beside the target and
  renamed over it, so a failed export never leaves half a file where the last good one was.
* ``geojson``: a directory with one ``<layer>.geojson`` per layer, RFC 7946 (WGS84 longitude/latitude).
* ``csv``: a directory with one ``<layer>.csv`` per layer, UTF-8, ``;`` between columns and a decimal point, as
  the address tables of a Markterkundungsverfahren are exchanged (``adressen.csv`` reads back as an address list);
  lines and polygons as WKT in WGS84, points by their ``lat``/``lon`` columns.

The GIS-Nebenbestimmungen pre-fill (Shapefile ZIP) is :mod:`exporters.gisnb`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exporters.planning_layers import BOOLEAN_FIELDS, INTEGER_FIELDS, REAL_FIELDS, WGS84, Layer, planning_layers
from stadtnetz.planning.gaps import GapCluster
from stadtnetz.planning.plan import Plan

FORMATS = ("gpkg", "geojson", "csv")


def export(plan: Plan, clusters: Sequence[GapCluster], out: Path, fmt: str = "gpkg") -> list[Path]:
    """Write ``plan`` to ``out`` in ``fmt``; the files written."""
    if fmt == "gpkg":
        return [write_geopackage(planning_layers(plan, clusters, plan.settings.crs), out)]
    if fmt == "geojson":
        return write_directory(planning_layers(plan, clusters, WGS84), out, "GeoJSON", ".geojson")
    if fmt == "csv":
        return write_directory(planning_layers(plan, clusters, WGS84), out, "CSV", ".csv")
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def write_geopackage(layers: Sequence[Layer], out: Path) -> Path:
    """All ``layers`` in one GeoPackage at ``out`` (replaced whole)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".gpkg", dir=out.parent)
    os.close(handle)
    os.unlink(temporary)  # GDAL creates it; an empty file is not a GeoPackage
    try:
        for layer in layers:
            write_layer(layer, temporary, "GPKG", layer_options={"SPATIAL_INDEX": "YES"})
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return out


def write_directory(layers: Sequence[Layer], out: Path, driver: str, suffix: str) -> list[Path]:
    """One file per layer in the directory ``out`` (created; files of the same names replaced)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for layer in layers:
        path = out / f"{layer.name}{suffix}"
        if path.exists():
            path.unlink()
        options: dict[str, str] = {}
        if driver == "GeoJSON":
            options = {"RFC7946": "YES", "WRITE_NAME": "NO"}
        elif driver == "CSV":
            options = {"SEPARATOR": "SEMICOLON"}
            if layer.geometry_type not in (None, "Point"):
                options["GEOMETRY"] = "AS_WKT"
        as_points = driver == "CSV" and layer.geometry_type == "Point"  # lat/lon columns say where
        write_layer(layer, str(path), driver, layer_options=options, geometry=not as_points)
        written.append(path)
    return written


def write_layer(
    layer: Layer, path: str, driver: str, layer_options: dict[str, str] | None = None, geometry: bool = True
) -> None:
    """One layer into ``path`` (added to it where the driver keeps several layers in one file)."""
    import shapely
    from pyogrio.raw import write

    data, masks = zip(*(_column(name, values) for name, values in zip(layer.fields, layer.columns, strict=True)),
                      strict=True) if layer.fields else ((), ())
    with_geometry = geometry and layer.geometry_type is not None
    write(
        path,
        shapely.to_wkb(layer.geometries) if with_geometry else None,
        list(data),
        layer.fields,
        field_mask=list(masks),
        layer=layer.name,
        driver=driver,
        geometry_type=layer.geometry_type if with_geometry else None,
        crs=f"EPSG:{layer.crs or WGS84}" if with_geometry or driver == "GeoJSON" else None,
        encoding="UTF-8",
        promote_to_multi=False,
        layer_options=layer_options or None,
    )


def _column(name: str, values: Sequence[Any]) -> tuple[Any, Any]:
    """The numpy array of one field and its null mask (None: no nulls, or NaN stands for them)."""
    import numpy as np

    missing = np.array([value is None for value in values], dtype=bool)
    if name in REAL_FIELDS:
        return np.array([np.nan if value is None else float(value) for value in values], dtype=np.float64), None
    if name in INTEGER_FIELDS:
        return np.array([0 if value is None else int(value) for value in values], dtype=np.int64), missing
    if name in BOOLEAN_FIELDS:
        return np.array([bool(value) for value in values], dtype=bool), missing
    return np.array(["" if value is None else str(value) for value in values], dtype=object), missing


def remove(paths: Sequence[Path]) -> None:
    """Remove files or directories an export wrote (a failed export's leftovers)."""
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
