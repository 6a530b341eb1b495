"""The public WLAN hotspots as a GeoJSON FeatureCollection (RFC 7946): one Point feature per hotspot.

Owns the feature's properties: ``id`` (the device id), ``name`` (its site), ``district``, ``online``, ``status``
(up, degraded, down, unreachable, unknown), ``clients`` (associated clients now, a count; null while offline or not
known), ``clients_by_band`` (``{"2.4": n, "5": n}``) and ``last_contact`` (its last answer, UTC). A hotspot without
coordinates has a null geometry. The collection carries ``licence`` and ``updated_at`` as foreign members.
"""

from __future__ import annotations

from typing import Any

from exporters.opendata.snapshot import HotspotView, Snapshot, utc


def feature(hotspot: HotspotView) -> dict[str, Any]:
    geometry = None
    if hotspot.lat is not None and hotspot.lon is not None:
        geometry = {"type": "Point", "coordinates": [round(hotspot.lon, 6), round(hotspot.lat, 6)]}
    return {
        "type": "Feature",
        "id": hotspot.id,
        "geometry": geometry,
        "properties": {
            "name": hotspot.name,
            "district": hotspot.district,
            "online": hotspot.online,
            "status": hotspot.status,
            "clients": hotspot.clients if hotspot.online else None,
            "clients_by_band": dict(hotspot.clients_by_band) if hotspot.online else {},
            "last_contact": utc(hotspot.last_contact) if hotspot.last_contact else None,
        },
    }


def hotspots(snapshot: Snapshot, licence: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "licence": licence,
        "updated_at": utc(snapshot.now),
        "features": [feature(hotspot) for hotspot in snapshot.hotspots],
    }
