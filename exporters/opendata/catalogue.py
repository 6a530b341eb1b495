"""The list of the open data feeds (``/opendata/``): what each is, where, in which format, under which licence.

Owns the feeds' names, paths, formats and media types (:data:`FEEDS`, which the publisher and the web server
follow), the licence object every feed carries or is listed with, and the catalogue document itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporters.opendata.snapshot import Snapshot, utc
from stadtnetz.model import LICENCES

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class FeedInfo:
    key: str
    path: str
    title: str
    format: str
    media_type: str
    description: str


FEEDS = (
    FeedInfo("hotspots", "/opendata/hotspots.geojson", "Public WLAN hotspots", "GeoJSON (RFC 7946)",
             "application/geo+json", "each hotspot: name (its site), district, position, online, client count, "
             "last contact"),
    FeedInfo("nodelist", "/opendata/nodelist.json", "Public WLAN hotspots (Freifunk nodelist)",
             "Freifunk nodelist 1.0.1", JSON, "for the Freifunk maps and API (technicalType nodelist)"),
    FeedInfo("meshviewer", "/opendata/meshviewer.json", "Public WLAN hotspots and their uplinks (meshviewer)",
             "meshviewer.json (yanic, ffrgb)", JSON, "for Freifunk's meshviewer (technicalType meshviewer)"),
    FeedInfo("ocpi", "/ocpi/2.2.1/locations", "Public EV chargers (OCPI Locations)", "OCPI 2.2.1 Locations",
             JSON, "one Location per charger, one EVSE per connector, with its status; /ocpi/2.2.1/locations/{id}"),
    FeedInfo("afir-static", "/opendata/afir/static.json", "Public EV chargers, static data (EU AFIR)",
             "DATEX II AFIR: EnergyInfrastructureTablePublication (Mobilithek profile 01-00-00, JSON)", JSON,
             "sites, stations, refill points and connectors: address, coordinates, power, type, opening hours, "
             "operator"),
    FeedInfo("afir-status", "/opendata/afir/status.json", "Public EV chargers, status (EU AFIR)",
             "DATEX II AFIR: EnergyInfrastructureStatusPublication (Mobilithek profile 01-00-00, JSON)", JSON,
             "each refill point's status now"),
)


def licence(snapshot: Snapshot) -> dict[str, str]:
    settings = snapshot.opendata
    name, url = LICENCES[settings.licence]
    found = {"id": settings.licence, "name": name, "url": url}
    if settings.attribution:
        found["attribution"] = settings.attribution
    return found


def catalogue(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "title": f"Open data{f' of {snapshot.opendata.attribution}' if snapshot.opendata.attribution else ''}",
        "licence": licence(snapshot),
        "updated_at": utc(snapshot.now),
        "counts": {"hotspots": len(snapshot.hotspots), "chargers": len(snapshot.chargers)},
        "feeds": [
            {
                "url": feed.path,
                "title": feed.title,
                "format": feed.format,
                "media_type": feed.media_type,
                "description": feed.description,
            }
            for feed in FEEDS
        ],
    }
