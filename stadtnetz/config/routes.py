"""Trench routes (``planning.routes``): where the fibre between a device and its upstream actually runs.

Owns reading the route file: GeoJSON (RFC 7946, WGS84 longitude/latitude) or a GeoPackage / any file GDAL reads
(through pyogrio, reprojected to WGS84), one line per span with the properties ``from`` (the device) and ``to`` (its
upstream). Every problem is named with the file and the feature: a feature that is not a line, names a device the
inventory does not have or a pair that is not a span, repeats a span, or starts or ends more than
:data:`MAX_END_GAP_M` from its device.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stadtnetz.config.errors import ConfigError, ConfigIssue
from stadtnetz.model import Device

MAX_END_GAP_M = 100.0
Route = tuple[tuple[float, float], ...]  # (lon, lat) vertices, from the device to its upstream


def load_routes(path: Path, devices: Sequence[Device]) -> dict[tuple[str, str], Route]:
    """The routes of ``path`` by (device, upstream); raise :class:`ConfigError` naming every problem."""
    by_id = {device.id: device for device in devices}
    issues: list[ConfigIssue] = []
    routes: dict[tuple[str, str], Route] = {}
    for number, properties, vertices in _features(path, issues):
        where = f"planning.routes feature {number}"

        def problem(message: str, where: str = where) -> None:
            issues.append(ConfigIssue(path, None, where, message))

        start, end = str(properties.get("from") or ""), str(properties.get("to") or "")
        if not start or not end:
            problem("a route needs the properties from (the device) and to (its upstream)")
            continue
        if vertices is None or len(vertices) < 2:
            problem(f"the route {start} -> {end} is not a line of at least two points")
            continue
        device, upstream = by_id.get(start), by_id.get(end)
        if device is None or upstream is None:
            problem(f"unknown device {start if device is None else end!r}: from and to name devices of the inventory")
            continue
        if device.upstream != upstream.id:
            problem(f"{start} does not hang off {end} (its upstream is {device.upstream}); a route follows a span")
            continue
        if (start, end) in routes:
            problem(f"a second route for {start} -> {end}; give each span one")
            continue
        gaps = [
            (name, _metres(vertex, (d.lon, d.lat)))
            for name, vertex, d in ((start, vertices[0], device), (end, vertices[-1], upstream))
            if d.lat is not None and d.lon is not None
        ]
        far = [(name, gap) for name, gap in gaps if gap > MAX_END_GAP_M]
        if far:
            name, gap = far[0]
            problem(f"the route {start} -> {end} ends {gap:.0f} m from {name}; it must run from device to device")
            continue
        routes[(start, end)] = tuple(vertices)
    if issues:
        raise ConfigError(issues)
    return routes


Feature = tuple[int, dict[str, Any], list[tuple[float, float]] | None]  # number (from 1), properties, vertices


def _features(path: Path, issues: list[ConfigIssue]) -> list[Feature]:
    if path.suffix.lower() in (".geojson", ".json"):
        return _geojson_features(path, issues)
    return _gdal_features(path, issues)


def _geojson_features(path: Path, issues: list[ConfigIssue]) -> list[Feature]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        issues.append(ConfigIssue(path, getattr(exc, "lineno", None), "planning.routes", f"cannot read: {exc}"))
        return []
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        issues.append(ConfigIssue(path, None, "planning.routes", "expected a GeoJSON FeatureCollection"))
        return []
    features = []
    for number, feature in enumerate(document.get("features") or [], start=1):
        geometry = (feature or {}).get("geometry") or {}
        coordinates = geometry.get("coordinates") if geometry.get("type") == "LineString" else None
        vertices = [(float(x), float(y)) for x, y, *_ in coordinates] if coordinates else None
        features.append((number, (feature or {}).get("properties") or {}, vertices))
    return features


def _gdal_features(path: Path, issues: list[ConfigIssue]) -> list[Feature]:
    import pyogrio
    import shapely
    from pyproj import Transformer

    try:
        meta, _, geometries, values = pyogrio.raw.read(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        issues.append(ConfigIssue(path, None, "planning.routes", f"cannot read: {exc}"))
        return []
    names = list(meta["fields"])
    to_wgs84 = Transformer.from_crs(meta["crs"] or "EPSG:4326", 4326, always_xy=True)
    features = []
    for index, wkb in enumerate(geometries):
        line = shapely.from_wkb(wkb) if wkb is not None else None
        vertices = None
        if line is not None and line.geom_type == "LineString":
            xs, ys = to_wgs84.transform(*zip(*[(x, y) for x, y, *_ in line.coords], strict=True))
            vertices = list(zip(xs, ys, strict=True))
        properties = {name: column[index] for name, column in zip(names, values, strict=True)}
        features.append((index + 1, properties, vertices))
    return features


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance in metres between two (lon, lat) points: enough to tell a route end from its device."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))
