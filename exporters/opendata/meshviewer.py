"""The public WLAN hotspots as a ``meshviewer.json`` (yanic's meshviewer-ffrgb output), for Freifunk's meshviewer.

Owns the mapping: ``{timestamp, nodes[], links[]}``. A node is a hotspot (``node_id`` its device id, ``hostname``
its site, ``model``, ``firstseen``, ``lastseen``, ``is_online``, ``is_gateway`` false, ``clients``,
``clients_wifi24``, ``clients_wifi5``, ``clients_other``, ``uptime`` (when it booted), ``location {latitude,
longitude}``) or an uplink switch a hotspot hangs off (``is_gateway`` true, no location: where the backbone's
cabinets stand is not published). A link joins a hotspot to its uplink (``type`` ``other``, ``source_tq`` and
``target_tq`` 1 while both answer, else 0). yanic's ``mac``, ``addresses``, ``owner`` and the links' addresses are
left out: no MAC, no IP address, no contact is published. Timestamps in yanic's form, ``2006-01-02T15:04:05+0000``.
"""

from __future__ import annotations

from typing import Any

from exporters.opendata.snapshot import HotspotView, Snapshot, UplinkView, yanic


def _hotspot(snapshot: Snapshot, hotspot: HotspotView) -> dict[str, Any]:
    online = hotspot.online
    by_band = hotspot.clients_by_band if online else {}
    clients = (hotspot.clients or 0) if online else 0
    wifi24, wifi5 = by_band.get("2.4", 0), by_band.get("5", 0)
    seen = hotspot.last_contact or snapshot.static_since
    found: dict[str, Any] = {
        "node_id": hotspot.id,
        "hostname": hotspot.name,
        "model": hotspot.model,
        "firstseen": yanic(snapshot.static_since),
        "lastseen": yanic(seen),
        "is_online": online,
        "is_gateway": False,
        "clients": clients,
        "clients_wifi24": wifi24,
        "clients_wifi5": wifi5,
        "clients_other": max(0, clients - wifi24 - wifi5),
    }
    if hotspot.uptime is not None and hotspot.last_contact:
        found["uptime"] = yanic(hotspot.last_contact - hotspot.uptime)
    if hotspot.lat is not None and hotspot.lon is not None:
        found["location"] = {"latitude": round(hotspot.lat, 6), "longitude": round(hotspot.lon, 6)}
    return found


def _uplink(snapshot: Snapshot, uplink: UplinkView) -> dict[str, Any]:
    return {
        "node_id": uplink.id,
        "hostname": uplink.name,
        "firstseen": yanic(snapshot.static_since),
        "lastseen": yanic(snapshot.now if uplink.online else snapshot.static_since),
        "is_online": uplink.online,
        "is_gateway": True,
        "clients": 0,
        "clients_wifi24": 0,
        "clients_wifi5": 0,
        "clients_other": 0,
    }


def meshviewer(snapshot: Snapshot) -> dict[str, Any]:
    online = {h.id: h.online for h in snapshot.hotspots} | {u.id: u.online for u in snapshot.uplinks}
    links = []
    for hotspot in snapshot.hotspots:
        if hotspot.uplink is None or hotspot.uplink not in online:
            continue
        quality = 1.0 if hotspot.online and online[hotspot.uplink] else 0.0
        link = {"type": "other", "source": hotspot.id, "target": hotspot.uplink}
        links.append({**link, "source_tq": quality, "target_tq": quality})
    return {
        "timestamp": yanic(snapshot.now),
        "nodes": [_hotspot(snapshot, h) for h in snapshot.hotspots] + [_uplink(snapshot, u) for u in snapshot.uplinks],
        "links": links,
    }
