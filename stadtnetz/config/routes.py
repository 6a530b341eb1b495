"""Trench routes (``planning.routes``): where the fibre between a device and its upstream actually runs.

Owns reading the route file: GeoJSON (RFC 7946, WGS84 longitude/latitude) or a GeoPackage / any file GDAL reads
(through pyogrio, reprojected to WGS84), one line per span with the properties ``from`` (the device) and ``to`` (its
upstream). A MultiLineString of one part counts as that line (GIS tools often write lines so). Every problem is
named with the file and the feature (numbered from 1 in file order): a feature that is not a line or whose
coordinates are not longitude/latitude degrees, names a device the inventory does not have or a pair that is not a
span, repeats a span, or starts or ends more than :data:`MAX_END_GAP_M` from its device.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stadtnetz.config.errors import ConfigError, ConfigIssue
from stadtnetz.model import Device
from stadtnetz.units import describe

MAX_END_GAP_M = 100.0
Route = tuple[tuple[float, float], ...]  # (lon, lat) vertices, from the device to its upstream


@dataclass(frozen=True, slots=True)
class _Feature:
    number: int  # from 1, in file order
    properties: dict[str, Any]
    vertices: list[tuple[float, float]] | None  # (lon, lat); None: see ``problem``
    problem: str = ""  # why the geometry is not a route's line
    not_a_feature: str = ""  # what the item is instead of a GeoJSON Feature


def load_routes(path: Path, devices: Sequence[Device]) -> dict[tuple[str, str], Route]:
    """The routes of ``path`` by (device, upstream); raise :class:`ConfigError` naming every problem."""
    by_id = {device.id: device for device in devices}
    issues: list[ConfigIssue] = []
    routes: dict[tuple[str, str], Route] = {}
    first: dict[tuple[str, str], int] = {}  # span -> the feature that gave it
    for feature in _features(path, issues):

        def problem(message: str, number: int = feature.number) -> None:
            issues.append(ConfigIssue(path, None, f"planning.routes feature {number}", message))

        if feature.not_a_feature:
            problem(f"expected a GeoJSON Feature (with type, geometry and properties), got {feature.not_a_feature}")
            continue
        start, end = (_device_id(feature.properties.get(name)) for name in ("from", "to"))
        if not start or not end:
            absent = " and ".join(name for name, value in (("from", start), ("to", end)) if not value)
            problem(f"no {absent}: a route needs the properties from (the device) and to (its upstream)")
            continue
        if feature.vertices is None:
            problem(f"the route {start} -> {end} {feature.problem}")
            continue
        device, upstream = by_id.get(start), by_id.get(end)
        if device is None or upstream is None:
            unknown = ", ".join(repr(name) for name, known in ((start, device), (end, upstream)) if known is None)
            problem(f"unknown device {unknown}: from and to name devices of the inventory")
            continue
        if device.upstream != upstream.id:
            if upstream.upstream == device.id:
                problem(f"from and to are swapped: {end} hangs off {start}; write from: {end}, to: {start} (the line "
                        f"starting at {end})")
            else:
                has = f"its upstream is {device.upstream}" if device.upstream else "it has no upstream"
                problem(f"{start} does not hang off {end} ({has}); a route follows a span: to is from's upstream")
            continue
        if (start, end) in first:
            problem(f"a second route for {start} -> {end} (the first is feature {first[(start, end)]}); give each "
                    "span one")
            continue
        first[(start, end)] = feature.number
        gaps = [
            (verb, name, _metres(vertex, (d.lon, d.lat)))
            for verb, name, vertex, d in (
                ("starts", start, feature.vertices[0], device),
                ("ends", end, feature.vertices[-1], upstream),
            )
            if d.lat is not None and d.lon is not None
        ]
        far = [f"{verb} {gap:.0f} m from {name}" for verb, name, gap in gaps if gap > MAX_END_GAP_M]
        if far:
            problem(f"the route {start} -> {end} {' and '.join(far)} (at most {MAX_END_GAP_M:g} m); it must run "
                    "from device to device")
            continue
        routes[(start, end)] = tuple(feature.vertices)
    if issues:
        raise ConfigError(issues)
    return routes


def _device_id(value: Any) -> str:
    if value is None or isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return str(value).strip()


def _features(path: Path, issues: list[ConfigIssue]) -> list[_Feature]:
    if path.suffix.lower() in (".geojson", ".json"):
        return _geojson_features(path, issues)
    return _gdal_features(path, issues)


def _geojson_features(path: Path, issues: list[ConfigIssue]) -> list[_Feature]:
    def trouble(line: int | None, message: str) -> list[_Feature]:
        issues.append(ConfigIssue(path, line, "planning.routes", message))
        return []

    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        return trouble(None, f"cannot read the route file: {exc.strerror or exc}")
    except UnicodeDecodeError:
        return trouble(None, "not UTF-8 text: save the routes as GeoJSON (UTF-8, RFC 7946)")
    except json.JSONDecodeError as exc:
        return trouble(exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno}); save the routes as GeoJSON")
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        found = document.get("type") if isinstance(document, dict) else document
        got = f"a {found}" if isinstance(document, dict) and isinstance(found, str) else describe(found)
        return trouble(None, f"expected a GeoJSON FeatureCollection (of LineStrings), got {got}")
    items = document.get("features")
    if items is None:
        items = []
    if not isinstance(items, list):
        return trouble(None, f"features must be a list of features, got {describe(items)}")
    features = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or item.get("type") != "Feature":
            found = item.get("type") if isinstance(item, dict) else item
            got = f"a {found}" if isinstance(item, dict) and isinstance(found, str) else describe(found)
            features.append(_Feature(number, {}, None, not_a_feature=got))
            continue
        properties = item.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        geometry = item.get("geometry")
        if not isinstance(geometry, dict):
            features.append(_Feature(number, properties, None, "has no geometry; a route is a LineString"))
            continue
        kind, coordinates = geometry.get("type"), geometry.get("coordinates")
        if kind == "MultiLineString" and isinstance(coordinates, list) and len(coordinates) == 1:
            kind, coordinates = "LineString", coordinates[0]
        features.append(_Feature(number, properties, *_line(kind, coordinates)))
    return features


def _line(kind: Any, coordinates: Any) -> tuple[list[tuple[float, float]] | None, str]:
    """(vertices, "") of a LineString's coordinates, or (None, what is wrong)."""
    if kind != "LineString":
        parts = f" of {len(coordinates)} parts" if kind == "MultiLineString" and isinstance(coordinates, list) else ""
        return None, f"is a {kind or 'geometry without a type'}{parts}, not a LineString; give each span one line"
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return None, "is not a line of at least two points"
    vertices = []
    for point in coordinates:
        if (
            not isinstance(point, list | tuple)
            or len(point) < 2
            or not all(isinstance(value, int | float) and not isinstance(value, bool) for value in point[:2])
        ):
            return None, f"has the point {_shown(point)}; a point is [longitude, latitude] in degrees"
        vertices.append((float(point[0]), float(point[1])))
    for lon, lat in vertices:
        if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
            return None, (
                f"has the point [{lon:.10g}, {lat:.10g}], which is not longitude, latitude in degrees: GeoJSON is "
                "WGS84 (RFC 7946); export it as EPSG:4326, or use a GeoPackage in its own CRS"
            )
    return vertices, ""


def _gdal_features(path: Path, issues: list[ConfigIssue]) -> list[_Feature]:
    import pyogrio
    import shapely
    from pyproj import Transformer

    try:
        meta, _, geometries, values = pyogrio.raw.read(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        issues.append(ConfigIssue(path, None, "planning.routes", f"cannot read the route file: {exc}"))
        return []
    names = list(meta["fields"])
    to_wgs84 = Transformer.from_crs(meta["crs"] or "EPSG:4326", 4326, always_xy=True)
    features = []
    for index, wkb in enumerate(geometries):
        properties = {name: column[index] for name, column in zip(names, values, strict=True)}
        line = shapely.from_wkb(wkb) if wkb is not None else None
        if line is None or line.is_empty:
            features.append(_Feature(index + 1, properties, None, "has no geometry; a route is a LineString"))
            continue
        if line.geom_type == "MultiLineString" and len(line.geoms) == 1:
            line = line.geoms[0]
        if line.geom_type != "LineString":
            parts = f" of {len(line.geoms)} parts" if line.geom_type == "MultiLineString" else ""
            problem = f"is a {line.geom_type}{parts}, not a LineString; give each span one line"
            features.append(_Feature(index + 1, properties, None, problem))
            continue
        xs, ys = to_wgs84.transform(*zip(*[(x, y) for x, y, *_ in line.coords], strict=True))
        vertices = [[x, y] for x, y in zip(xs, ys, strict=True)]
        features.append(_Feature(index + 1, properties, *_line("LineString", vertices)))
    return features


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance in metres between two (lon, lat) points: enough to tell a route end from its device."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))
