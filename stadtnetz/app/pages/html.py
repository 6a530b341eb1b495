"""The status page's HTML: the operator overview, device list and device page (English, like the rest of the
tool), and the public page for citizens (German).

Server-rendered and complete without JavaScript: every figure is in the HTML, the map is inline SVG, the
history bars are SVG with a ``<title>`` per day. ``/static/refresh.js`` only enhances: it reloads the
page's ``<main>`` every poll interval (with a switch to pause it). Accessibility: landmarks (header, nav,
main, footer), one ``h1`` and ``h2`` per section, every status colour comes with its word, tables have
headers and captions, times are ``<time datetime>``, and the layout works down to 320 px (tables scroll
inside their own box). Times are shown in Europe/Berlin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from stadtnetz.app.pages.history_view import DayBar, HistoryFacts, Incident
from stadtnetz.app.pages.snapshot import STATUSES, DeviceRow, Snapshot, WindowRow
from stadtnetz.app.pages.svg import COLOURS

ZONE = ZoneInfo("Europe/Berlin")
STATUS_WORDS = {"up": "up", "degraded": "degraded", "down": "down", "unreachable": "unreachable", "unknown": "unknown"}
PUBLIC_SITE_WORDS = {
    "online": "in Betrieb", "partly": "teilweise gestört", "offline": "gestört", "unknown": "unbekannt"
}
PUBLIC_CONNECTOR_WORDS = {"available": "frei", "occupied": "belegt", "out_of_service": "außer Betrieb"}
PUBLIC_CHARGER_WORDS = {"online": "in Betrieb", "offline": "außer Betrieb", "unknown": "unbekannt"}
WEEKDAYS_DE = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")


def local(moment: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(moment, ZONE)


def time_tag(moment: float | None, german: bool = False) -> str:
    if moment is None:
        return "—"
    when = local(moment)
    shown = (
        f"{WEEKDAYS_DE[when.weekday()]} {when:%d.%m.%Y, %H:%M} Uhr" if german else when.strftime("%Y-%m-%d %H:%M:%S %Z")
    )
    return f'<time datetime="{when.isoformat(timespec="seconds")}">{shown}</time>'


def duration_text(seconds: float, german: bool = False) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if not german else f"{days} Tg. {hours} Std."
    if hours:
        return f"{hours} h {minutes} min" if not german else f"{hours} Std. {minutes} Min."
    if minutes:
        return f"{minutes} min {secs} s" if not german else f"{minutes} Min."
    return f"{secs} s" if not german else "unter 1 Min."


def status_tag(status: str, word: str | None = None) -> str:
    """A coloured dot and the status word: never the colour alone."""
    return (
        f'<span class="status st-{escape(status)}"><span class="dot" aria-hidden="true"></span>'
        f"{escape(word or status)}</span>"
    )


def device_link(device_id: str, prefix: str) -> str:
    return f'<a href="{prefix}devices/{quote(device_id)}">{escape(device_id)}</a>'


def page(
    title: str,
    body: str,
    lang: str,
    prefix: str,
    refresh: float | None,
    heading: str,
    nav: Sequence[tuple[str, str]],
    subtitle: str = "",
) -> str:
    """The frame every page shares: landmarks, the stylesheet and the refresh script (progressive)."""
    links = "".join(f'<li><a href="{escape(href)}">{escape(text)}</a></li>' for href, text in nav)
    script = ""
    attributes = ""
    if refresh:
        attributes = f' data-refresh="{int(max(5, refresh))}"'
        script = f'<script src="{prefix}static/refresh.js" defer></script>'
    skip = "Zum Inhalt springen" if lang == "de" else "Skip to content"
    nav_label = "Navigation" if lang == "de" else "Pages"
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{prefix}static/status.css">'
        f'<link rel="alternate" type="application/atom+xml" '
        f'href="{prefix}{"public/" if lang == "de" else ""}feed.atom" '
        f'title="{escape(heading)}">'
        f"{script}</head>"
        f'<body{attributes}><a class="skip" href="#main">{skip}</a>'
        f"<header><h1>{escape(heading)}</h1>{subtitle}"
        f'<nav aria-label="{nav_label}"><ul>{links}</ul></nav></header>'
        f'<main id="main">{body}</main>'
        "</body></html>\n"
    )


def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str, klass: str = "") -> str:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    return (
        f'<div class="scroll" tabindex="0" role="region" aria-label="{escape(caption)}"><table class="{klass}">'
        f"<caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def bars_svg(bars: Sequence[DayBar], label: str, german: bool = False) -> str:
    """90 days as 90 small bars, each with its date and value as a title; no data is grey and says so."""
    width = 4
    gap = 1
    parts = []
    known = [b.ratio for b in bars if b.ratio is not None]
    for index, bar in enumerate(bars):
        if bar.ratio is None:
            fill, text = "#d0d7de", ("keine Daten" if german else "no data")
        else:
            fill = "#1a7f37" if bar.ratio >= 0.999 else "#9a6700" if bar.ratio >= 0.97 else "#cf222e"
            text = f"{bar.ratio * 100:.2f} %"
        parts.append(
            f'<rect x="{index * (width + gap)}" y="0" width="{width}" height="24" fill="{fill}">'
            f"<title>{bar.day}: {text}</title></rect>"
        )
    overall = f"{sum(known) / len(known) * 100:.2f} %" if known else ("keine Daten" if german else "no data")
    summary = (
        f"{label}: Verfügbarkeit der letzten {len(bars)} Tage, im Mittel {overall}"
        if german
        else f"{label}: availability over the last {len(bars)} days, mean of days with data {overall}"
    )
    total = len(bars) * (width + gap)
    return (
        f'<svg class="bars" viewBox="0 0 {total} 24" role="img" aria-label="{escape(summary)}" '
        f'preserveAspectRatio="none"><title>{escape(summary)}</title>{"".join(parts)}</svg>'
        f'<span class="bar-mean">{escape(overall)}</span>'
    )


def _bars_block(title: str, scopes: Mapping[str, list[DayBar]], param: str, prefix: str) -> str:
    if not scopes:
        return ""
    rows = "".join(
        f'<li><span class="bar-name"><a href="{prefix}api/history?{param}={quote(name)}">{escape(name)}</a></span>'
        f"{bars_svg(bars, name)}</li>"
        for name, bars in scopes.items()
    )
    return f'<h3>{escape(title)}</h3><ul class="bar-list">{rows}</ul>'


OPERATOR_NAV = (("./", "Overview"), ("devices", "Devices"), ("public", "Public page"), ("feed.atom", "Atom feed"),
                ("api/status", "JSON API"), ("metrics", "Metrics"))


def _nav(prefix: str, public: bool) -> list[tuple[str, str]]:
    items = [(prefix + href if href != "./" else prefix or "./", text) for href, text in OPERATOR_NAV]
    return [item for item in items if public or not item[0].endswith("public")]


def _window_rows(windows: Sequence[WindowRow]) -> list[list[str]]:
    return [
        [escape(w.name), escape(w.reason) or "—", time_tag(w.start), time_tag(w.end), str(w.devices),
         escape(", ".join(w.districts)) or "—"]
        for w in windows
    ]


def incident_rows(incidents: Sequence[Incident], snapshot: Snapshot, prefix: str, now: float) -> list[list[str]]:
    rows = []
    for incident in incidents:
        device = snapshot.by_id.get(incident.root_cause)
        root = device_link(incident.root_cause, prefix) if device is not None else escape(incident.root_cause)
        where = f"{escape(device.site)} ({escape(device.district)})" if device is not None else "—"
        end = time_tag(incident.end) if incident.end is not None else status_tag("down", "ongoing")
        rows.append([
            root, where, time_tag(incident.start), end, duration_text(incident.duration(now)),
            str(len(incident.affected)), "yes" if incident.in_maintenance else "no",
        ])
    return rows


def overview(
    snapshot: Snapshot,
    facts: HistoryFacts,
    map_svg: str,
    title: str,
    prefix: str,
    refresh: float,
    public: bool,
    history_enabled: bool,
) -> str:
    counts = snapshot.counts
    total = len(snapshot.devices)
    count_items = "".join(
        f'<li class="count"><strong>{counts[s]}</strong> {status_tag(s, STATUS_WORDS[s])}</li>' for s in STATUSES
    )
    maintenance_count = sum(1 for d in snapshot.devices if d.maintenance)
    outages = table(
        "Current outages: devices down by their own fault",
        ["Root cause", "Kind", "Site", "District", "Since", "Devices behind it"],
        (
            [device_link(o.device.id, prefix), escape(o.device.kind), escape(o.device.site),
             escape(o.device.district), time_tag(o.since),
             f"{o.behind} device{'s' if o.behind != 1 else ''} behind it"]
            for o in snapshot.outages
        ),
        "No outages: every device that answers is reachable.",
        "outages",
    )
    if history_enabled:
        incidents = table(
            f"The {len(facts.incidents)} latest incidents (from the history's outage log)",
            ["Root cause", "Where", "Start", "End", "Duration", "Devices affected", "In maintenance"],
            incident_rows(facts.incidents, snapshot, prefix, snapshot.taken),
            "No incidents recorded." + (f" ({facts.problem})" if facts.problem else ""),
            "incidents",
        )
        bars = (
            _bars_block("Per district", facts.districts, "district", prefix)
            + _bars_block("Per group", facts.groups, "group", prefix)
        ) or '<p class="empty">No availability recorded yet (rows are written when an hour is over).</p>'
    else:
        incidents = '<p class="empty">The history is off (no <code>history.path</code>): no incident log.</p>'
        bars = '<p class="empty">The history is off (no <code>history.path</code>): no availability bars.</p>'
    open_windows = table(
        "Maintenance windows open now",
        ["Window", "Reason", "Start", "End", "Devices", "Districts"],
        _window_rows(snapshot.open_windows),
        "No maintenance window is open.",
    )
    upcoming = table(
        "Maintenance in the next 7 days",
        ["Window", "Reason", "Start", "End", "Devices", "Districts"],
        _window_rows(snapshot.upcoming),
        "No maintenance planned for the next 7 days.",
    )
    problems = [d for d in snapshot.devices if d.status not in ("up",)]
    problem_rows = (
        [device_link(d.id, prefix), escape(d.kind), escape(d.site), escape(d.district),
         status_tag(d.status), escape(d.root_cause) or "—", escape(d.error) or "—"]
        for d in problems[:200]
    )
    body = (
        f'<section aria-labelledby="h-counts"><h2 id="h-counts">Devices</h2>'
        f'<p id="total">{total} devices, {maintenance_count} in maintenance now.</p>'
        f'<ul class="counts" id="counts">{count_items}</ul></section>'
        f'<section aria-labelledby="h-outages"><h2 id="h-outages">Current outages</h2>{outages}</section>'
        f'<section aria-labelledby="h-maintenance"><h2 id="h-maintenance">Maintenance</h2>{open_windows}{upcoming}'
        "</section>"
        f'<section aria-labelledby="h-incidents"><h2 id="h-incidents">Incidents</h2>{incidents}</section>'
        f'<section aria-labelledby="h-map"><h2 id="h-map">Map</h2><figure class="map-box">{map_svg}'
        f'<figcaption>Every device at its coordinates, every upstream link; squares are routers and switches. '
        f'<a href="{prefix}map.svg">The map as an SVG file</a>.</figcaption></figure></section>'
        f'<section aria-labelledby="h-bars"><h2 id="h-bars">Availability, last 90 days</h2>'
        f'<p class="note">Daily availability (UTC days): available / (observed - maintenance). '
        f"Grey: no data.</p>{bars}</section>"
        f'<section aria-labelledby="h-problems"><h2 id="h-problems">Devices not up</h2>'
        + table(
            f"{len(problems)} devices not up" + (" (the first 200)" if len(problems) > 200 else ""),
            ["Device", "Kind", "Site", "District", "Status", "Root cause", "Last error"],
            problem_rows,
            "Every device is up.",
        )
        + f'<p><a href="{prefix}devices">All {total} devices</a></p></section>'
    )
    subtitle = f'<p class="as-of">Status as of {time_tag(snapshot.taken)}; refreshed every {int(refresh)} s.</p>'
    return page(f"{title}: network status", body, "en", prefix, refresh, f"{title}: network status",
                _nav(prefix, public), subtitle)


def device_list(snapshot: Snapshot, title: str, prefix: str, refresh: float, public: bool) -> str:
    districts: dict[str, list[DeviceRow]] = {}
    for device in snapshot.devices:
        districts.setdefault(device.district or "(no district)", []).append(device)
    sections = []
    for index, (district, devices) in enumerate(sorted(districts.items())):
        rows = (
            [device_link(d.id, prefix), escape(d.kind), escape(d.site), status_tag(d.status),
             escape(d.root_cause) or "—", "yes" if d.maintenance else "no"]
            for d in devices
        )
        sections.append(
            f'<section aria-labelledby="d-{index}"><h2 id="d-{index}">{escape(district)} ({len(devices)})</h2>'
            + table(f"Devices in {district}", ["Device", "Kind", "Site", "Status", "Root cause", "Maintenance"],
                    rows, "none")
            + "</section>"
        )
    return page(f"{title}: devices", "".join(sections), "en", prefix, refresh, f"{title}: all devices",
                _nav(prefix, public))


def _format(value: float | None, unit: str = "", digits: int = 1, scale: float = 1.0) -> str:
    if value is None:
        return "—"
    return f"{value * scale:,.{digits}f}{unit}"


def _bits(value: float | None) -> str:
    if value is None:
        return "—"
    for factor, unit in ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")):
        if value >= factor:
            return f"{value / factor:.2f} {unit}"
    return f"{value:.0f} bit/s"


def device_page(
    row: DeviceRow,
    info: Mapping[str, Any],
    bars: Sequence[DayBar] | None,
    map_link: str,
    title: str,
    prefix: str,
    refresh: float,
    public: bool,
    upstream_status: str | None,
    behind: int,
) -> str:
    poll = info["poll"]
    facts = [
        ("Status", status_tag(row.status)),
        ("Root cause", device_link(row.root_cause, prefix) if row.root_cause and row.root_cause != row.id
         else escape(row.root_cause) or "—"),
        ("Devices behind it (unreachable)", str(behind)),
        ("In maintenance", "yes" if row.maintenance else "no"),
        ("Status since", time_tag(row.since)),
        ("Kind", escape(row.kind)),
        ("Site", escape(row.site) or "—"),
        ("District", escape(row.district) or "—"),
        ("Upstream", (device_link(row.upstream, prefix) + " " + status_tag(upstream_status or "unknown"))
         if row.upstream else "— (core)"),
        ("Position", f"{row.lat:.5f} N, {row.lon:.5f} E ({map_link})" if row.lat is not None and row.lon is not None
         else "—"),
        ("Last poll (SNMP)", escape(poll["snmp_status"] or "not polled")),
        ("Last seen", time_tag(poll["last_seen"])),
        ("Poll duration", _format(poll["duration_seconds"], " s", 3)),
        ("Last error", escape(poll["error"] or "—")),
        ("Uptime", duration_text(poll["uptime_seconds"]) if poll["uptime_seconds"] is not None else "—"),
    ]
    summary = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    interfaces = table(
        "Interfaces",
        ["#", "Name", "Alias", "Oper status", "Speed", "Receive", "Transmit", "Util. rx", "Util. tx"],
        (
            [escape(str(i["if_index"])), escape(i["name"]), escape(i["alias"]) or "—",
             status_tag({"up": "up", "down": "down"}.get(i["oper_status"] or "", "unknown"), i["oper_status"] or "—"),
             _bits(i["speed_bits"]), _bits(i["receive_bits_per_second"]), _bits(i["transmit_bits_per_second"]),
             _format(i["receive_utilisation"], " %", 1, 100), _format(i["transmit_utilisation"], " %", 1, 100)]
            for i in info["interfaces"]
        ),
        "No interfaces reported.",
        "interfaces",
    )
    optics = table(
        "Optics: levels against the transceiver's thresholds",
        ["Sensor", "Direction", "Level", "Low alarm", "Low warning", "High warning", "High alarm", "Verdict"],
        (
            [escape(o.get("sensor", "")), escape(o.get("direction", "")), _format(o.get("dbm"), " dBm"),
             _format(o["thresholds"].get("low_alarm"), " dBm"), _format(o["thresholds"].get("low_warning"), " dBm"),
             _format(o["thresholds"].get("high_warning"), " dBm"), _format(o["thresholds"].get("high_alarm"), " dBm"),
             status_tag("up" if o["verdict"] == "ok" else "degraded" if o["verdict"] else "unknown",
                        o["verdict"] or "unknown")]
            for o in info["optics"]
        ),
        "No optical sensors reported.",
        "optics",
    )
    wlan = table(
        "WLAN clients per band (counts only)",
        ["Band", "Clients", "Channel utilisation"],
        ([escape(b["band"]), str(b["clients"]), _format(b["channel_utilisation"], " %", 0, 100)] for b in info["wlan"]),
        "No WLAN radios reported.",
        "wlan",
    )
    ping = info["ping"]
    ping_text = (
        '<p class="empty">Not pinged (ping is off for this device or for this process).</p>'
        if ping is None
        else table(
            "Ping, last round",
            ["Loss", "RTT min", "RTT median", "RTT max", "Jitter", "Sent", "Received"],
            [[_format(ping["loss"], " %", 0, 100), _format(ping["rtt_min"], " ms", 2, 1000),
              _format(ping["rtt_median"], " ms", 2, 1000), _format(ping["rtt_max"], " ms", 2, 1000),
              _format(ping["jitter"], " ms", 2, 1000), str(ping["sent_total"]), str(ping["received_total"])]],
            "",
        )
    )
    history = (
        bars_svg(bars, row.id) if bars is not None else '<p class="empty">The history is off: no availability.</p>'
    )
    body = (
        f'<section aria-labelledby="h-status"><h2 id="h-status">Status</h2><dl class="facts">{summary}</dl></section>'
        f'<section aria-labelledby="h-history"><h2 id="h-history">Availability, last 90 days</h2>'
        f'<div class="bar-one">{history}</div></section>'
        f'<section aria-labelledby="h-if"><h2 id="h-if">Interfaces</h2>{interfaces}</section>'
        f'<section aria-labelledby="h-optics"><h2 id="h-optics">Optics</h2>{optics}</section>'
        f'<section aria-labelledby="h-wlan"><h2 id="h-wlan">WLAN clients</h2>{wlan}</section>'
        f'<section aria-labelledby="h-ping"><h2 id="h-ping">Ping</h2>{ping_text}</section>'
        f'<p><a href="{prefix}api/devices/{quote(row.id)}">This device as JSON</a></p>'
    )
    return page(f"{row.id}: {title}", body, "en", prefix, refresh, f"{row.id} ({row.kind})", _nav(prefix, public))


def _public_window_text(window: WindowRow) -> str:
    start, end = local(window.start), local(window.end)
    span = (
        f"{WEEKDAYS_DE[start.weekday()]} {start:%d.%m.%Y, %H:%M} bis {end:%H:%M} Uhr"
        if start.date() == end.date()
        else f"{start:%d.%m.%Y, %H:%M} Uhr bis {end:%d.%m.%Y, %H:%M} Uhr"
    )
    where = ", ".join(window.districts) or "im Stadtgebiet"
    return f"{span}: Wartungsarbeiten in {where}"


def public_page(
    snapshot: Snapshot,
    public_incidents: Sequence[tuple[Incident, int, int, tuple[str, ...]]],
    map_svg: str,
    title: str,
    prefix: str,
    refresh: float,
) -> str:
    counts = snapshot.public_counts()
    districts: dict[str, list] = {}
    for site in snapshot.hotspots:
        districts.setdefault(site.district or "Stadtgebiet", []).append(site)
    wlan_sections = []
    for index, (district, sites) in enumerate(sorted(districts.items())):
        online = sum(s.online for s in sites)
        total = sum(s.total for s in sites)
        rows = (
            [escape(s.site), status_tag(s.state, PUBLIC_SITE_WORDS[s.state]), f"{s.online} von {s.total}",
             str(s.clients)]
            for s in sites
        )
        wlan_sections.append(
            f'<h3 id="w-{index}">{escape(district)}: {online} von {total} Hotspots in Betrieb</h3>'
            + table(f"Freies WLAN in {district}", ["Standort", "Zustand", "Hotspots in Betrieb", "Geräte verbunden"],
                    rows, "keine")
        )
    charger_rows = (
        [escape(c.site), escape(c.district), status_tag(c.status, PUBLIC_CHARGER_WORDS[c.status])
         + (" (Wartung)" if c.maintenance else ""),
         ", ".join(f"{n.connector}: " + status_tag(n.state, PUBLIC_CONNECTOR_WORDS[n.state]) for n in c.connectors)
         or "—"]
        for c in snapshot.chargers
    )
    chargers = table("Ladesäulen", ["Standort", "Stadtteil", "Ladesäule", "Ladepunkte"], charger_rows,
                     "Keine Ladesäulen angebunden.", "chargers")
    windows = [w for w in (*snapshot.open_windows, *snapshot.upcoming) if w.public]
    maintenance = (
        "<ul>" + "".join(f"<li>{escape(_public_window_text(w))}</li>" for w in windows) + "</ul>"
        if windows
        else '<p class="empty">Keine Wartungsarbeiten in den nächsten 7 Tagen.</p>'
    )
    incident_items = []
    for incident, hotspots, chargers_hit, where in public_incidents:
        things = []
        if hotspots:
            things.append(f"{hotspots} WLAN-Hotspot{'s' if hotspots != 1 else ''}")
        if chargers_hit:
            things.append(f"{chargers_hit} Ladesäule{'n' if chargers_hit != 1 else ''}")
        place = ", ".join(where) or "im Stadtgebiet"
        when = (
            f"seit {time_tag(incident.start, True)}"
            if incident.end is None
            else f"{time_tag(incident.start, True)} bis {time_tag(incident.end, True)}"
        )
        incident_items.append(f"<li>{when}: {' und '.join(things)} in {escape(place)} gestört</li>")
    incidents = (
        "<ul>" + "".join(incident_items) + "</ul>" if incident_items else '<p class="empty">Keine Störungen.</p>'
    )
    summary = (
        f'<ul class="counts" id="public-counts">'
        f"<li><strong>{counts['hotspots_online']}</strong> von {counts['hotspots']} WLAN-Hotspots in Betrieb</li>"
        f"<li><strong>{counts['connectors_available']}</strong> Ladepunkte frei, "
        f"{counts['connectors_occupied']} belegt, {counts['connectors_out_of_service']} außer Betrieb</li></ul>"
    )
    body = (
        f'<section aria-labelledby="h-now"><h2 id="h-now">Jetzt</h2>{summary}</section>'
        f'<section aria-labelledby="h-map"><h2 id="h-map">Karte</h2><figure class="map-box">{map_svg}'
        "<figcaption>Kreise: WLAN-Standorte, Rauten: Ladesäulen. "
        f'<a href="{prefix}public/map.svg">Die Karte als SVG-Datei</a>.</figcaption></figure></section>'
        f'<section aria-labelledby="h-incidents"><h2 id="h-incidents">Störungen</h2>{incidents}</section>'
        f'<section aria-labelledby="h-maint"><h2 id="h-maint">Wartungsarbeiten</h2>{maintenance}</section>'
        f'<section aria-labelledby="h-wlan"><h2 id="h-wlan">Freies WLAN nach Stadtteil</h2>'
        f'{"".join(wlan_sections) or "<p class=empty>Keine Hotspots.</p>"}</section>'
        f'<section aria-labelledby="h-chargers"><h2 id="h-chargers">Ladesäulen</h2>{chargers}</section>'
        '<footer><p>Offene Daten: '
        f'<a href="{prefix}api/public/status">JSON</a> · <a href="{prefix}public/feed.atom">Atom-Feed</a> · '
        f'<a href="{prefix}public/badge.svg">Statusbild (SVG)</a>. Gezählt wird nur, wie viele Geräte verbunden '
        "sind, nie welche.</p></footer>"
    )
    subtitle = f'<p class="as-of">Stand: {time_tag(snapshot.taken, True)}</p>'
    nav = [(f"{prefix}public", "Übersicht"), (f"{prefix}public/feed.atom", "Atom-Feed"),
           (f"{prefix}api/public/status", "JSON")]
    return page(f"{title}: Freies WLAN und Ladesäulen", body, "de", prefix, refresh,
                f"{title}: Freies WLAN und Ladesäulen", nav, subtitle)


STYLESHEET = """
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
background:#fff;line-height:1.45}
body{margin:0 auto;max-width:72rem;padding:0 .75rem 2rem}
a{color:#0550ae}a:focus,button:focus,[tabindex]:focus{outline:3px solid #0969da;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;padding:.25rem}
header{border-bottom:1px solid #d0d7de;margin-bottom:1rem}h1{font-size:1.5rem;margin:.75rem 0 .25rem}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:1rem 0 .25rem}
nav ul{list-style:none;padding:0;margin:.5rem 0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
.as-of{margin:0;color:#57606a}.note,.empty{color:#57606a}
.counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;font-size:1.1rem}
.status{white-space:nowrap}.dot{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.3em;
border:1px solid #24292f;vertical-align:-.05em}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;min-width:100%;font-size:.95rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}th,td{text-align:left;padding:.3rem .5rem;
border-bottom:1px solid #d0d7de;vertical-align:top}th{background:#f6f8fa}
.map-box{margin:0}.map{width:100%;height:auto;border:1px solid #d0d7de;max-height:80vh}
figcaption{color:#57606a;font-size:.9rem}
.bar-list{list-style:none;padding:0}.bar-list li{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem .75rem;
margin:.2rem 0}.bar-name{min-width:12rem}.bars{width:min(450px,100%);height:24px}.bar-mean{font-variant-numeric:
tabular-nums}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}.facts dt{font-weight:600}
.facts dd{margin:0}
@media (max-width:480px){.facts{grid-template-columns:1fr}.bar-name{min-width:0}h1{font-size:1.25rem}}
footer{margin-top:2rem;border-top:1px solid #d0d7de;color:#57606a}
""" + "".join(f".st-{name} .dot{{background:{colour}}}" for name, colour in COLOURS.items()) + "\n"

REFRESH_SCRIPT = """
(function () {
  "use strict";
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-refresh"), 10);
  if (!seconds || !window.fetch) { return; }
  var german = document.documentElement.lang === "de";
  var box = document.createElement("p");
  box.className = "as-of";
  var input = document.createElement("input");
  input.type = "checkbox"; input.id = "auto-refresh"; input.checked = true;
  var label = document.createElement("label");
  label.htmlFor = "auto-refresh";
  label.textContent = german ? " automatisch aktualisieren" : " refresh automatically";
  box.appendChild(input); box.appendChild(label);
  var header = document.querySelector("header");
  if (header) { header.appendChild(box); }
  var etag = null;
  function reload() {
    if (!input.checked || document.hidden) { return; }
    var headers = etag ? {"If-None-Match": etag} : {};
    fetch(window.location.href, {headers: headers, credentials: "same-origin"}).then(function (response) {
      if (response.status !== 200) { return null; }
      etag = response.headers.get("ETag");
      return response.text();
    }).then(function (text) {
      if (!text) { return; }
      var fresh = new DOMParser().parseFromString(text, "text/html");
      var main = fresh.getElementById("main"), old = document.getElementById("main");
      if (main && old) { old.innerHTML = main.innerHTML; }
      var asOf = fresh.querySelector("header .as-of"), oldAsOf = document.querySelector("header .as-of");
      if (asOf && oldAsOf) { oldAsOf.innerHTML = asOf.innerHTML; }
      document.dispatchEvent(new CustomEvent("stadtnetz:refreshed"));
    }).catch(function () {});
  }
  window.setInterval(reload, seconds * 1000);
})();
"""
