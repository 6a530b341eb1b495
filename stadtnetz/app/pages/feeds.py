"""The status page's documents for machines: the Atom feeds (RFC 4287) and the JSON API.

Atom: one entry per incident and per maintenance window (open or in the next 7 days); ids are ``urn:uuid:``
names derived from what the entry is about (the root cause and start of an incident, a window's name and
start), so a feed reader sees an entry once and then its updates (``updated`` is the incident's end once it
is over, else its start). The public feed says which hotspots and chargers are affected where, never
which device failed.

JSON: the documents behind ``/api/...`` (see "Status page" in the README for the reference). Times are Unix
seconds (UTC) and ISO 8601 beside them; unknown values are ``null``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from stadtnetz.app.pages.history_view import DayBar, Incident
from stadtnetz.app.pages.html import duration_text, local
from stadtnetz.app.pages.snapshot import DeviceRow, Snapshot, WindowRow

NAMESPACE = uuid.UUID("6f1c2b1e-4c3a-5d0e-9b7a-1f2e3d4c5b6a")  # the project's: entry ids are uuid5 names in it


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AtomEntry:
    key: str  # what the entry is about; its id is derived from it
    title: str
    updated: float
    summary: str
    link: str = ""
    published: float | None = None


def atom_feed(key: str, title: str, link: str, self_link: str, entries: Sequence[AtomEntry], fallback: float) -> bytes:
    """An Atom 1.0 feed document: feed id, title, updated, author, links, and the entries (newest first)."""
    updated = max((e.updated for e in entries), default=fallback)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<id>urn:uuid:{uuid.uuid5(NAMESPACE, 'feed/' + key)}</id>",
        f"<title>{escape(title)}</title>",
        f"<updated>{iso(updated)}</updated>",
        "<author><name>stadtnetz</name></author>",
        f'<link rel="alternate" type="text/html" href="{escape(link)}"/>',
        f'<link rel="self" type="application/atom+xml" href="{escape(self_link)}"/>',
        "<generator>stadtnetz</generator>",
    ]
    for entry in sorted(entries, key=lambda e: e.updated, reverse=True):
        out.append("<entry>")
        out.append(f"<id>urn:uuid:{uuid.uuid5(NAMESPACE, entry.key)}</id>")
        out.append(f"<title>{escape(entry.title)}</title>")
        out.append(f"<updated>{iso(entry.updated)}</updated>")
        if entry.published is not None:
            out.append(f"<published>{iso(entry.published)}</published>")
        if entry.link:
            out.append(f'<link rel="alternate" type="text/html" href="{escape(entry.link)}"/>')
        out.append(f'<summary type="text">{escape(entry.summary)}</summary>')
        out.append("</entry>")
    out.append("</feed>\n")
    return "\n".join(out).encode()


def _when(moment: float) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M %Z")


def operator_entries(
    incidents: Sequence[Incident], windows: Sequence[WindowRow], by_id: Mapping[str, DeviceRow], base: str, now: float
) -> list[AtomEntry]:
    entries = []
    for incident in incidents:
        device = by_id.get(incident.root_cause)
        where = f" at {device.site} ({device.district})" if device is not None else ""
        behind = len(incident.affected)
        state = "resolved" if incident.end is not None else "ongoing"
        title = f"{incident.root_cause} {incident.status}{where}, {behind} devices behind it ({state})"
        summary = (
            f"Root cause {incident.root_cause}; from {_when(incident.start)}"
            + (f" to {_when(incident.end)}" if incident.end is not None else ", still going on")
            + f"; {duration_text(incident.duration(now))}; {behind} devices affected"
            + ("; in maintenance" if incident.in_maintenance else "")
        )
        entries.append(
            AtomEntry(
                f"incident/{incident.key}",
                title,
                incident.end if incident.end is not None else incident.start,
                summary,
                f"{base}devices/{incident.root_cause}" if device is not None else base,
                incident.start,
            )
        )
    entries.extend(_window_entries(windows, base, public=False))
    return entries


def _window_entries(windows: Sequence[WindowRow], base: str, public: bool) -> list[AtomEntry]:
    entries = []
    for window in windows:
        where = ", ".join(window.districts) or ("im Stadtgebiet" if public else "")
        span = f"{_when(window.start)} to {_when(window.end)}" if not public else (
            f"{_when(window.start)} bis {_when(window.end)}"
        )
        if public:
            title = f"Wartungsarbeiten in {where}: {span}"
            summary = f"Geplante Wartungsarbeiten {span}; betroffen: {window.public} WLAN-Hotspots und Ladesäulen."
        else:
            title = f"Maintenance {window.name}: {span}"
            summary = f"{window.reason or 'planned work'}; {window.devices} devices" + (f" in {where}" if where else "")
        entries.append(AtomEntry(f"maintenance/{window.name}@{window.start:.0f}", title, window.start, summary, base,
                                 window.start))
    return entries


@dataclass(frozen=True, slots=True)
class PublicIncident:
    incident: Incident
    hotspots: int
    chargers: int
    districts: tuple[str, ...]


def public_entries(incidents: Sequence[PublicIncident], windows: Sequence[WindowRow], base: str) -> list[AtomEntry]:
    entries = []
    for item in incidents:
        incident = item.incident
        things = []
        if item.hotspots:
            things.append(f"{item.hotspots} WLAN-Hotspots")
        if item.chargers:
            things.append(f"{item.chargers} Ladesäulen")
        where = ", ".join(item.districts) or "im Stadtgebiet"
        state = "behoben" if incident.end is not None else "dauert an"
        title = f"Störung in {where}: {' und '.join(things)} ({state})"
        summary = f"Seit {_when(incident.start)}" + (
            f" bis {_when(incident.end)}" if incident.end is not None else ""
        ) + f": {' und '.join(things)} in {where} nicht erreichbar."
        entries.append(
            AtomEntry(
                f"public-incident/{incident.key}",
                title,
                incident.end if incident.end is not None else incident.start,
                summary,
                base + "public",
                incident.start,
            )
        )
    entries.extend(_window_entries([w for w in windows if w.public], base + "public", public=True))
    return entries


# --- JSON ---------------------------------------------------------------------------------------------------------


def _window_json(window: WindowRow) -> dict[str, Any]:
    return {
        "name": window.name,
        "reason": window.reason,
        "start": window.start,
        "start_iso": iso(window.start),
        "end": window.end,
        "end_iso": iso(window.end),
        "devices": window.devices,
        "districts": list(window.districts),
    }


def status_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "generated": snapshot.taken,
        "generated_iso": iso(snapshot.taken),
        "overall": snapshot.overall,
        "devices": len(snapshot.devices),
        "counts": dict(snapshot.counts),
        "in_maintenance": sum(1 for d in snapshot.devices if d.maintenance),
        "outages": [
            {
                "root_cause": o.device.id,
                "kind": o.device.kind,
                "site": o.device.site,
                "district": o.device.district,
                "since": o.since,
                "since_iso": iso(o.since),
                "devices_behind": o.behind,
                "in_maintenance": o.device.maintenance,
            }
            for o in snapshot.outages
        ],
        "maintenance": maintenance_json(snapshot),
    }


def maintenance_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "open": [_window_json(w) for w in snapshot.open_windows],
        "upcoming": [_window_json(w) for w in snapshot.upcoming],
    }


def incidents_json(incidents: Sequence[Incident], snapshot: Snapshot, history: bool) -> dict[str, Any]:
    rows = []
    for incident in incidents:
        device = snapshot.by_id.get(incident.root_cause)
        rows.append(
            {
                "id": incident.key,
                "root_cause": incident.root_cause,
                "kind": device.kind if device is not None else None,
                "site": device.site if device is not None else None,
                "district": device.district if device is not None else None,
                "status": incident.status,
                "start": incident.start,
                "start_iso": iso(incident.start),
                "end": incident.end,
                "end_iso": iso(incident.end),
                "duration_seconds": round(incident.duration(snapshot.taken), 3),
                "devices_affected": len(incident.affected),
                "affected": list(incident.affected),
                "in_maintenance": incident.in_maintenance,
            }
        )
    return {"generated": snapshot.taken, "source": "history" if history else "current", "incidents": rows}


def history_json(scope: str, name: str, bars: Sequence[DayBar]) -> dict[str, Any]:
    return {
        "scope": scope,
        "name": name,
        "days": [
            {"date": b.day, "availability": None if b.ratio is None else round(b.ratio, 6),
             "observed_seconds": round(b.observed_seconds, 1)}
            for b in bars
        ],
    }


def public_status_json(snapshot: Snapshot, incidents: Sequence[PublicIncident]) -> dict[str, Any]:
    return {
        "generated": snapshot.taken,
        "generated_iso": iso(snapshot.taken),
        "summary": snapshot.public_counts(),
        "hotspot_sites": [
            {
                "id": s.key,
                "site": s.site,
                "district": s.district,
                "state": s.state,
                "online": s.online,
                "hotspots": s.total,
                "clients": s.clients,
                "lat": None if s.lat is None else round(s.lat, 5),
                "lon": None if s.lon is None else round(s.lon, 5),
            }
            for s in snapshot.hotspots
        ],
        "chargers": [
            {
                "id": c.key,
                "site": c.site,
                "district": c.district,
                "status": c.status,
                "maintenance": c.maintenance,
                "connectors": [{"connector": n.connector, "state": n.state} for n in c.connectors],
                "lat": None if c.lat is None else round(c.lat, 5),
                "lon": None if c.lon is None else round(c.lon, 5),
            }
            for c in snapshot.chargers
        ],
        "incidents": [
            {
                "start": i.incident.start,
                "start_iso": iso(i.incident.start),
                "end": i.incident.end,
                "end_iso": iso(i.incident.end),
                "hotspots": i.hotspots,
                "chargers": i.chargers,
                "districts": list(i.districts),
            }
            for i in incidents
        ],
        "maintenance": [
            {"start": w.start, "start_iso": iso(w.start), "end": w.end, "end_iso": iso(w.end),
             "districts": list(w.districts)}
            for w in (*snapshot.open_windows, *snapshot.upcoming)
            if w.public
        ],
    }
