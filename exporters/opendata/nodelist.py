"""The public WLAN hotspots as a Freifunk ``nodelist.json`` (format version 1.0.1), for the Freifunk maps.

Owns the mapping: ``{version: "1.0.1", updated_at, community: {name, href}, nodes: [{id, name, node_type, position:
{lat, long}, status: {online, lastcontact, clients}}]}``: the device id, its site, ``"hotspot"``, its coordinates
(left out where there are none), whether it answers, its last answer (UTC) and the client count (0 while offline).
Nothing else: Freifunk's own rule for public maps is counts only, no MAC, no address, no owner contact.
"""

from __future__ import annotations

from typing import Any

from exporters.opendata.snapshot import HotspotView, Snapshot, utc

VERSION = "1.0.1"


def node(hotspot: HotspotView) -> dict[str, Any]:
    status: dict[str, Any] = {"online": hotspot.online, "clients": (hotspot.clients or 0) if hotspot.online else 0}
    if hotspot.last_contact:
        status["lastcontact"] = utc(hotspot.last_contact)
    found: dict[str, Any] = {"id": hotspot.id, "name": hotspot.name, "node_type": "hotspot"}
    if hotspot.lat is not None and hotspot.lon is not None:
        found["position"] = {"lat": round(hotspot.lat, 6), "long": round(hotspot.lon, 6)}
    found["status"] = status
    return found


def nodelist(snapshot: Snapshot, community: dict[str, str]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "updated_at": utc(snapshot.now),
        "community": community,
        "nodes": [node(hotspot) for hotspot in snapshot.hotspots],
    }
