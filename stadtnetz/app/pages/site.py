"""The status site: its sources, the snapshot of the current second, the history facts, and every rendered body
cached per snapshot.

:class:`StatusSite` is what :mod:`stadtnetz.app.web` asks. ``snapshot()`` takes a new
:class:`~stadtnetz.app.pages.snapshot.Snapshot` when the last one is a second old; ``render(name)`` gives the
:class:`~stadtnetz.app.http_cache.Cached` body of a page, map, feed or JSON document for the current snapshot and
history facts, rendering it once: 1,000 requests a second for the public page cost one render a second. Big
renders (the operator map and pages of a city of 10,000 devices) run in a worker thread so the event loop
keeps polling (:meth:`render_async`); concurrent requests for the same body wait for one render.

The history is read in a worker thread through one read connection (``refresh_history``, every minute).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stadtnetz.app.http_cache import Cached
from stadtnetz.app.pages import feeds, html, svg
from stadtnetz.app.pages.device import details
from stadtnetz.app.pages.history_view import (
    EMPTY,
    DayBar,
    HistoryFacts,
    Incident,
    device_bars,
    pooled_bars,
    read_facts,
)
from stadtnetz.app.pages.history_view import (
    incidents as read_incidents,
)
from stadtnetz.app.pages.snapshot import ClientCounter, Snapshot, Sources, take_snapshot
from stadtnetz.history.schema import HistoryError, connect

log = logging.getLogger("stadtnetz.web")

SNAPSHOT_SECONDS = 1.0
BARS_SECONDS = 300.0  # the daily bars change hourly: read every five minutes
INCIDENT_SECONDS = 15.0  # incidents at most this long (or one poll interval, if shorter) after the history has them
HTML = "text/html; charset=utf-8"
SVG = "image/svg+xml"
ATOM = "application/atom+xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
LEGEND = (("up", "up"), ("degraded", "degraded"), ("down", "down"), ("unreachable", "unreachable"),
          ("unknown", "unknown"), ("maintenance", "maintenance (outline)"))
PUBLIC_LEGEND = (("online", "in Betrieb / frei"), ("partly", "teilweise gestört"), ("occupied", "belegt"),
                 ("offline", "gestört / außer Betrieb"), ("unknown", "unbekannt"))
BACKBONE = svg.BACKBONE_KINDS


def json_body(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class StatusSite:
    """See the module docstring. ``districts``/``groups``: the device ids of each history-bar scope."""

    def __init__(
        self,
        sources: Sources,
        history_path: Path | None,
        districts: Mapping[str, list[str]],
        groups: Mapping[str, list[str]],
    ) -> None:
        self.sources = sources
        self.web = sources.web
        self.history_path = history_path
        self.districts = districts
        self.groups = groups
        self.max_age = max(1.0, min(60.0, sources.interval))
        self._counter = ClientCounter()
        self._snapshot: Snapshot | None = None
        self._taken_at = -1e18  # monotonic
        self._generation = 0
        self._facts: HistoryFacts = EMPTY
        self._facts_version = 0
        self._cache: dict[str, tuple[tuple[int, int], Cached]] = {}
        self._pending: dict[tuple[str, tuple[int, int]], asyncio.Future[Cached]] = {}
        self._db: sqlite3.Connection | None = None
        self._db_lock = threading.Lock()
        self.snapshot_seconds = 0.0  # the last snapshot's cost (bench/status_page.py reads it)
        self.renders = 0
        self.public_kinds = frozenset(self.web.public_kinds)
        self._kinds = {d.id: (d.kind, d.district) for d in sources.devices}
        board = sources.chargers
        self._charger_district = {c.id: c.district for c in board.chargers.values()} if board is not None else {}

    # --- the snapshot and the history facts ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        if self._snapshot is None or now - self._taken_at >= SNAPSHOT_SECONDS:
            started = time.perf_counter()
            self._generation += 1
            self._snapshot = take_snapshot(self.sources, self._generation, self._counter)
            self._taken_at = now
            self.snapshot_seconds = time.perf_counter() - started
        return self._snapshot

    @property
    def history_enabled(self) -> bool:
        return self.history_path is not None

    @property
    def facts(self) -> HistoryFacts:
        return self._facts

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None and self.history_path is not None and self.history_path.is_file():
            self._db = connect(self.history_path, create=False)
        return self._db

    def read_history(self, bars: bool = True) -> HistoryFacts:
        """Read the incidents and (``bars``) the daily bars, in a worker thread; the pages use them from now on."""
        if self.history_path is None:
            return self._facts
        now = self.sources.clock_time()
        with self._db_lock:
            try:
                db = self._connection()
                if db is None:
                    facts = HistoryFacts(now, (), {}, {}, "the history file is not written yet")
                elif bars or not self._facts.districts:
                    facts = read_facts(db, now, self.web.incidents, self.districts, self.groups)
                else:
                    facts = HistoryFacts(now, tuple(read_incidents(db, now, self.web.incidents)), self._facts.districts,
                                         self._facts.groups)
            except (sqlite3.Error, HistoryError) as exc:
                log.warning("status page: cannot read the history: %s", exc)
                facts = HistoryFacts(now, self._facts.incidents, self._facts.districts, self._facts.groups,
                                     f"cannot read the history: {exc}")
                self._db = None
        self._facts = facts
        self._facts_version += 1
        return facts

    def device_bars(self, device_id: str) -> list[DayBar] | None:
        """One device's 90 daily bars (in a worker thread); None without history."""
        if self.history_path is None:
            return None
        with self._db_lock:
            try:
                db = self._connection()
                return [] if db is None else device_bars(db, device_id, self.sources.clock_time(), 90)
            except (sqlite3.Error, HistoryError):
                self._db = None
                return []

    def close(self) -> None:
        with self._db_lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    async def run_history(self, stop: asyncio.Event | None = None) -> None:
        """Refresh the incidents every poll interval (at most 15 s) and the bars every five minutes, until
        cancelled (or ``stop``)."""
        if self.history_path is None:
            return
        every = max(2.0, min(INCIDENT_SECONDS, self.sources.interval))
        next_bars = 0.0
        while stop is None or not stop.is_set():
            bars = time.monotonic() >= next_bars
            try:
                facts = await asyncio.to_thread(self.read_history, bars)
                if bars and facts.districts:
                    next_bars = time.monotonic() + BARS_SECONDS
            except Exception:  # never let the page's reader take the service down
                log.warning("status page: reading the history failed", exc_info=True)
            await asyncio.sleep(every)

    # --- incidents: from the history, else the current outages --------------------------------------------------

    def incidents(self, snapshot: Snapshot) -> list[Incident]:
        if self.history_enabled:
            return list(self._facts.incidents)
        behind: dict[str, list[str]] = {}
        for row in snapshot.devices:
            if row.status == "unreachable" and row.root_cause:
                behind.setdefault(row.root_cause, []).append(row.id)
        return [
            Incident(o.device.id, o.since or snapshot.taken, None, "down", tuple(sorted(behind.get(o.device.id, []))),
                     o.device.maintenance)
            for o in snapshot.outages
        ][: self.web.incidents]

    def public_incidents(self, snapshot: Snapshot) -> list[feeds.PublicIncident]:
        found = []
        for incident in self.incidents(snapshot):
            hotspots = chargers = 0
            districts: set[str] = set()
            for member in (incident.root_cause, *incident.affected):
                kind_district = self._kinds.get(member)
                if kind_district is not None and kind_district[0] in self.public_kinds:
                    hotspots += 1
                    districts.add(kind_district[1])
                elif member in self._charger_district:
                    chargers += 1
                    districts.add(self._charger_district[member])
            if hotspots or chargers:
                where = tuple(sorted(d for d in districts if d))
                found.append(feeds.PublicIncident(incident, hotspots, chargers, where))
        return found

    # --- the maps ------------------------------------------------------------------------------------------------

    def operator_map(self, snapshot: Snapshot, prefix: str = "") -> str:
        rows = snapshot.by_id
        points = [
            svg.MapPoint(
                f"dev-{row.id}",
                row.id,
                f"{row.id} ({row.kind}), {row.site}: {row.status}"
                + (f", root cause {row.root_cause}" if row.root_cause and row.root_cause != row.id else "")
                + (", in maintenance" if row.maintenance else ""),
                row.status,
                row.lat,
                row.lon,
                "square" if row.kind in BACKBONE else "circle",
                row.maintenance,
                row.kind,
                f"{prefix}devices/{row.id}",
            )
            for row in snapshot.devices
            if row.lat is not None and row.lon is not None
        ]
        links = []
        for row in snapshot.devices:
            parent = rows.get(row.upstream) if row.upstream else None
            if parent is None or row.lat is None or row.lon is None or parent.lat is None or parent.lon is None:
                continue
            links.append(svg.MapLink(f"link-{row.id}", row.id, parent.id, row.status, (row.lat, row.lon),
                                     (parent.lat, parent.lon)))
        counts = ", ".join(f"{snapshot.counts[s]} {s}" for s in snapshot.counts if snapshot.counts[s])
        return svg.render_map(
            points,
            links,
            f"{self.web.title}: map of {len(points)} devices and {len(links)} links",
            f"Devices at their coordinates coloured by status ({counts}); lines are upstream links coloured by "
            "the status of the lower device.",
            self._image(),
            LEGEND,
        )

    def public_map(self, snapshot: Snapshot) -> str:
        points = [
            svg.MapPoint(
                s.key, None, f"WLAN {s.site}: {html.PUBLIC_SITE_WORDS[s.state]} ({s.online} von {s.total} Hotspots)",
                s.state, s.lat, s.lon, "circle", False, "hotspot",
            )
            for s in snapshot.hotspots
            if s.lat is not None and s.lon is not None
        ]
        for charger in snapshot.chargers:
            if charger.lat is None or charger.lon is None:
                continue
            states = [c.state for c in charger.connectors]
            if charger.status != "online":
                state = "offline" if charger.status == "offline" else "unknown"
            elif "available" in states:
                state = "available"
            elif "occupied" in states:
                state = "occupied"
            else:
                state = "out_of_service"
            words = ", ".join(f"{c.connector}: {html.PUBLIC_CONNECTOR_WORDS[c.state]}" for c in charger.connectors)
            points.append(
                svg.MapPoint(
                    charger.key,
                    None,
                    f"Ladesäule {charger.site}: {words or html.PUBLIC_CHARGER_WORDS[charger.status]}",
                    state, charger.lat, charger.lon, "diamond", charger.maintenance, "charger",
                )
            )
        return svg.render_map(
            points,
            (),
            f"{self.web.title}: Karte der WLAN-Standorte und Ladesäulen",
            "Kreise: WLAN-Standorte, Rauten: Ladesäulen, gefärbt nach Zustand; der Zustand steht auch im Titel "
            "jedes Punkts und in den Tabellen unten.",
            self._image(),
            PUBLIC_LEGEND,
        )

    def _image(self) -> tuple[str, tuple[float, float, float, float]] | None:
        if self.web.tile_url is None or self.web.tile_bounds is None:
            return None
        return self.web.tile_url, self.web.tile_bounds

    # --- rendering, cached per snapshot ------------------------------------------------------------------------

    def _renderers(self) -> dict[str, tuple[str, Callable[[Snapshot], bytes | str], bool]]:
        """name -> (content type, renderer, heavy: render in a worker thread)."""
        web = self.web
        refresh = self.max_age
        title = web.title
        base = "/"  # feeds link root-relative: a feed reader resolves them against the feed's own URL

        def overview(s: Snapshot) -> str:
            return html.overview(s, self._facts, self.operator_map(s), title, "", refresh, web.public,
                                 self.history_enabled)

        return {
            "overview": (HTML, overview, True),
            "devices": (HTML, lambda s: html.device_list(s, title, "", refresh, web.public), True),
            "map": (SVG, lambda s: self.operator_map(s), True),
            "public": (HTML, lambda s: html.public_page(
                s, [(i.incident, i.hotspots, i.chargers, i.districts) for i in self.public_incidents(s)],
                self.public_map(s), title, "", refresh), False),
            "public_map": (SVG, self.public_map, False),
            "feed": (ATOM, lambda s: feeds.atom_feed(
                "operator", f"{title}: incidents and maintenance", base, base + "feed.atom",
                feeds.operator_entries(self.incidents(s), (*s.open_windows, *s.upcoming), s.by_id, base, s.taken),
                s.taken), False),
            "public_feed": (ATOM, lambda s: feeds.atom_feed(
                "public", f"{title}: Störungen und Wartungsarbeiten", base + "public", base + "public/feed.atom",
                feeds.public_entries(self.public_incidents(s), (*s.open_windows, *s.upcoming), base), s.taken),
                False),
            "badge": (SVG, lambda s: svg.render_badge(title, _badge_text(s), s.overall), False),
            "public_badge": (SVG, lambda s: svg.render_badge("WLAN", _public_badge_text(s), _public_overall(s)),
                             False),
            "status": (JSON, lambda s: json_body(feeds.status_json(s)), False),
            "maintenance": (JSON, lambda s: json_body(feeds.maintenance_json(s)), False),
            "incidents": (JSON, lambda s: json_body(feeds.incidents_json(self.incidents(s), s, self.history_enabled)),
                          False),
            "public_status": (JSON, lambda s: json_body(feeds.public_status_json(s, self.public_incidents(s))), False),
        }

    def _version(self, snapshot: Snapshot) -> tuple[int, int]:
        return snapshot.generation, self._facts_version

    def cached(self, name: str) -> Cached | None:
        """The body of ``name`` for the current snapshot if it is rendered already."""
        snapshot = self.snapshot()
        found = self._cache.get(name)
        return found[1] if found is not None and found[0] == self._version(snapshot) else None

    def render(self, name: str, snapshot: Snapshot | None = None) -> Cached:
        snapshot = snapshot or self.snapshot()
        content_type, renderer, _ = self._renderers()[name]
        body = renderer(snapshot)
        cached = Cached(body.encode() if isinstance(body, str) else body, content_type)
        self._cache[name] = (self._version(snapshot), cached)
        self.renders += 1
        return cached

    async def render_async(self, name: str) -> Cached:
        """The cached body, or one render (in a worker thread when heavy) shared by every request waiting for it."""
        found = self.cached(name)
        if found is not None:
            return found
        snapshot = self.snapshot()
        key = (name, self._version(snapshot))
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Cached] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            heavy = self._renderers()[name][2]
            if heavy and len(snapshot.devices) > 500:
                cached = await asyncio.to_thread(self.render, name, snapshot)
            else:
                cached = self.render(name, snapshot)
            future.set_result(cached)
            return cached
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self._pending[key]

    # --- one device ----------------------------------------------------------------------------------------------

    def device_json(self, device_id: str) -> dict[str, Any] | None:
        snapshot = self.snapshot()
        row = snapshot.by_id.get(device_id)
        state = self.sources.state.devices.get(device_id)
        if row is None or state is None:
            return None
        behind = sum(1 for r in snapshot.devices if r.root_cause == device_id and r.status == "unreachable")
        return {
            "id": row.id,
            "kind": row.kind,
            "site": row.site,
            "district": row.district,
            "lat": row.lat,
            "lon": row.lon,
            "upstream": row.upstream,
            "address": state.device.endpoint,
            "status": row.status,
            "root_cause": row.root_cause or None,
            "devices_behind": behind,
            "maintenance": row.maintenance,
            "flapping": state.flapping,
            "since": row.since,
            "since_iso": feeds.iso(row.since),
            **details(state),
        }

    def device_page(self, device_id: str, bars: list[DayBar] | None) -> str | None:
        info = self.device_json(device_id)
        if info is None:
            return None
        snapshot = self.snapshot()
        row = snapshot.by_id[device_id]
        upstream = snapshot.by_id.get(row.upstream) if row.upstream else None
        return html.device_page(
            row,
            info,
            bars,
            '<a href="../">on the overview map</a>',
            self.web.title,
            "../",
            self.max_age,
            self.web.public,
            upstream.status if upstream is not None else None,
            info["devices_behind"],
        )

    def history_json(self, scope: str, name: str, days: int) -> dict[str, Any] | None:
        """``/api/history``: the bars of a district or group (from the last read; days up to 90)."""
        source = self._facts.districts if scope == "district" else self._facts.groups
        known = self.districts if scope == "district" else self.groups
        if name not in known:
            return None
        bars = source.get(name) or pooled_bars({}, [], self.sources.clock_time(), 90)  # not read yet: no data
        return feeds.history_json(scope, name, bars[-days:])


def _badge_text(snapshot: Snapshot) -> str:
    counts = snapshot.counts
    problems = counts.get("down", 0) + counts.get("unreachable", 0)
    if snapshot.overall == "unknown":
        return "unknown"
    if problems:
        return f"{counts.get('down', 0)} down, {counts.get('unreachable', 0)} unreachable"
    return f"{counts.get('up', 0) + counts.get('degraded', 0)} up"


def _public_badge_text(snapshot: Snapshot) -> str:
    counts = snapshot.public_counts()
    if not counts["hotspots"]:
        return "keine Hotspots"
    return f"{counts['hotspots_online']} von {counts['hotspots']} in Betrieb"


def _public_overall(snapshot: Snapshot) -> str:
    counts = snapshot.public_counts()
    if not counts["hotspots"]:
        return "unknown"
    if counts["hotspots_online"] == counts["hotspots"]:
        return "ok"
    return "outage" if counts["hotspots_online"] < 0.9 * counts["hotspots"] else "degraded"
