"""The open data feeds by name, as the web server serves them: rendered at most once a second, and kept as they were
while only their generation time would change.

Owns three things the pure format modules must not: taking the snapshot (once per refresh, shared by every feed),
remembering when each EVSE's published status last changed (OCPI's and DATEX II's ``last_updated``: the first
status a connector shows is dated by its StatusNotification, every later change by when it was first served), and
handing out the same payload object while nothing but its "generated at" stamp would differ, so its body and ETag
stay the same and a client's If-None-Match gets a 304.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from exporters.opendata import catalogue, datex, geojson, meshviewer, nodelist, ocpi
from exporters.opendata.snapshot import ChargerView, Snapshot

Path = tuple[str | int, ...]
REFRESH_SECONDS = 1.0
MAX_CACHED = 256  # payloads kept (the OCPI list with its query parameters counts once per query)

_DATEX_STATUS = ("messageContainer", "payload", 0, "aegiEnergyInfrastructureStatusPublication", "publicationTime")
VOLATILE: Mapping[str, Sequence[Path]] = {  # each feed's generation timestamps
    "catalogue": (("updated_at",),),
    "hotspots": (("updated_at",),),
    "nodelist": (("updated_at",),),
    "meshviewer": (("timestamp",),),
    "afir-static": (("payload", "aegiEnergyInfrastructureTablePublication", "publicationTime"),),
    "afir-status": (_DATEX_STATUS, ("messageContainer", "exchangeInformation", "dynamicInformation",
                                    "messageGenerationTimestamp")),
    "ocpi": (("timestamp",),),
}


def without(payload: Any, paths: Sequence[Path]) -> Any:
    """``payload`` with the values at ``paths`` removed (copied only along them; the rest is shared)."""
    for path in paths:
        payload = _drop(payload, path)
    return payload


def _drop(node: Any, path: Path) -> Any:
    if not path:
        return node
    head, rest = path[0], path[1:]
    if isinstance(node, dict) and isinstance(head, str) and head in node:
        copy = dict(node)
        if rest:
            copy[head] = _drop(node[head], rest)
        else:
            del copy[head]
        return copy
    if isinstance(node, list) and isinstance(head, int) and 0 <= head < len(node):
        copy = list(node)
        copy[head] = _drop(node[head], rest) if rest else None
        return copy
    return node


class OpenData:
    """The feeds over ``take`` (a fresh snapshot of the state and the charger board, each call).

    ``max_age``: the seconds a client may keep a feed (Cache-Control): the hotspots' poll interval, at most 60 s.
    """

    def __init__(
        self,
        take: Callable[[], Snapshot],
        refresh: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._take = take
        self.refresh = refresh
        self._clock = clock
        self._snapshot: tuple[float, Snapshot] | None = None
        self._updated: dict[tuple[str, int], tuple[str, str, float]] = {}  # connector -> (ocpi, datex, since)
        self._cache: OrderedDict[Any, tuple[Snapshot, Any, Any]] = OrderedDict()  # key -> (of, compared, payload)

    # --- the snapshot, with when each connector's published status changed

    def snapshot(self) -> Snapshot:
        now = self._clock()
        if self._snapshot is not None and now - self._snapshot[0] < self.refresh:
            return self._snapshot[1]
        snapshot = self._dated(self._take())
        self._snapshot = (now, snapshot)
        return snapshot

    def _dated(self, snapshot: Snapshot) -> Snapshot:
        views = []
        for view in snapshot.chargers:
            connectors = []
            for connector in view.connectors:
                key = (view.charger.id, connector.number)
                shown = (ocpi.evse_status(view, connector), datex.refill_point_status(view, connector))
                before = self._updated.get(key)
                if before is None:  # the first time: when its status (or the charger's) was reported
                    since = max(snapshot.static_since, connector.since or 0.0, view.whole_since or 0.0)
                    since = min(since, snapshot.now)
                elif before[:2] != shown:
                    since = snapshot.now
                else:
                    since = before[2]
                self._updated[key] = (*shown, since)
                connectors.append(dataclasses.replace(connector, updated=since))
            views.append(dataclasses.replace(view, connectors=tuple(connectors)))
        return dataclasses.replace(snapshot, chargers=tuple(views))

    @property
    def max_age(self) -> int:
        return max(1, round(min(60.0, self.snapshot().poll_interval)))

    # --- payloads

    def _cached(self, key: Any, volatile: Sequence[Path], build: Callable[[Snapshot], Any]) -> Any:
        """The payload ``build`` makes of the current snapshot; made once per snapshot, so every feed shows the same
        moment; the previous one again while the new one differs only at ``volatile`` (its generation time)."""
        snapshot = self.snapshot()
        held = self._cache.get(key)
        if held is not None and held[0] is snapshot:
            return held[2]
        payload = build(snapshot)
        compared = without(payload, volatile)
        if held is not None and held[1] == compared:
            payload = held[2]  # only its generation time is new: keep the old one (same body, same ETag)
        self._cache[key] = (snapshot, compared, payload)
        self._cache.move_to_end(key)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        return payload

    def feed(self, key: str) -> Any:
        """A plain feed's payload: catalogue, hotspots, nodelist, meshviewer, afir-static or afir-status."""
        builders: dict[str, Callable[[Snapshot], Any]] = {
            "catalogue": catalogue.catalogue,
            "hotspots": lambda s: geojson.hotspots(s, catalogue.licence(s)),
            "nodelist": lambda s: nodelist.nodelist(s, _community(s)),
            "meshviewer": meshviewer.meshviewer,
            "afir-static": datex.table_publication,
            "afir-status": datex.status_publication,
        }
        return self._cached(key, VOLATILE[key], builders[key])

    def ocpi_locations(
        self, date_from: float | None, date_to: float | None, offset: int, limit: int
    ) -> tuple[Any, int]:
        """OCPI's GET List: the envelope around the Locations last updated in [date_from, date_to), paginated;
        and how many match in all (X-Total-Count)."""

        def build(snapshot: Snapshot) -> dict[str, Any]:
            matching = [view for view in snapshot.chargers if _between(snapshot, view, date_from, date_to)]
            page = matching[offset : offset + limit]
            envelope = ocpi.envelope([ocpi.location(snapshot, view) for view in page], snapshot.now)
            return {"envelope": envelope, "total": len(matching)}

        held = self._cached(("ocpi", date_from, date_to, offset, limit), (("envelope", "timestamp"),), build)
        return held["envelope"], held["total"]

    def ocpi_object(self, location_id: str, evse_uid: str | None = None, connector_id: str | None = None) -> Any:
        """OCPI's GET Object: the envelope around one Location, EVSE or Connector; None if there is none such."""

        def build(snapshot: Snapshot) -> Any:
            view = next((v for v in snapshot.chargers if v.charger.id.lower() == location_id.lower()), None)
            if view is None:
                return None
            found: Any = ocpi.location(snapshot, view)
            if evse_uid is not None:
                found = next((e for e in found["evses"] if e["uid"].lower() == evse_uid.lower()), None)
            if found is not None and connector_id is not None:
                found = next((c for c in found["connectors"] if c["id"] == connector_id), None)
            return None if found is None else ocpi.envelope(found, snapshot.now)

        return self._cached(("ocpi", location_id, evse_uid, connector_id), (("timestamp",),), build)


def _between(snapshot: Snapshot, view: ChargerView, date_from: float | None, date_to: float | None) -> bool:
    updated = max([snapshot.static_since, *(c.updated for c in view.connectors)])
    return (date_from is None or updated >= date_from) and (date_to is None or updated < date_to)


def _community(snapshot: Snapshot) -> dict[str, str]:
    return {"name": snapshot.opendata.attribution or "Public WLAN", "href": "/opendata/"}
