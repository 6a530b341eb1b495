"""The open data routes: the hotspot and charger feeds, public (they are open data: no login, any origin).

Owns :func:`add_opendata_routes`, which mounts on an aiohttp application ``/opendata/`` (the list of feeds and
their licence), ``/opendata/hotspots.geojson``, ``/opendata/nodelist.json``, ``/opendata/meshviewer.json``,
``/opendata/afir/static.json``, ``/opendata/afir/status.json`` and OCPI 2.2.1's Locations sender interface,
``/ocpi/2.2.1/locations`` (``date_from``, ``date_to``, ``offset``, ``limit``; the ``X-Total-Count``, ``X-Limit`` and
``Link`` headers) and ``/ocpi/2.2.1/locations/{location_id}[/{evse_uid}[/{connector_id}]]``. Every answer carries
``Cache-Control: public, max-age=<the hotspots' poll interval>``, a strong ETag (304 on If-None-Match, via
:mod:`stadtnetz.app.http_cache`) and ``Access-Control-Allow-Origin: *`` (map pages elsewhere may load them).

What the feeds say is the source's (the composition root hands in :class:`exporters.opendata.publisher.OpenData`;
this module imports no exporter): it only parses requests and writes responses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from aiohttp import web

from stadtnetz.app.http_cache import JSON, BodyCache
from stadtnetz.app.http_cache import answer as cached_answer

OCPI_BASE = "/ocpi/2.2.1/locations"
OCPI_MAX_LIMIT = 500  # Locations per page at most (X-Limit)
PUBLIC = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag, Link, X-Total-Count, X-Limit"}


class OpenDataSource(Protocol):
    """What the routes serve (exporters.opendata.publisher.OpenData)."""

    @property
    def max_age(self) -> int: ...

    def feed(self, key: str) -> Any: ...

    def ocpi_locations(
        self, date_from: float | None, date_to: float | None, offset: int, limit: int
    ) -> tuple[Any, int]: ...

    def ocpi_object(self, location_id: str, evse_uid: str | None = None, connector_id: str | None = None) -> Any: ...


# (path, feed key, media type) of the plain feeds
FEED_ROUTES: Sequence[tuple[str, str, str]] = (
    ("/opendata/", "catalogue", JSON),
    ("/opendata/hotspots.geojson", "hotspots", "application/geo+json"),
    ("/opendata/nodelist.json", "nodelist", JSON),
    ("/opendata/meshviewer.json", "meshviewer", JSON),
    ("/opendata/afir/static.json", "afir-static", JSON),
    ("/opendata/afir/status.json", "afir-status", JSON),
)


class _BadParameterError(ValueError):
    pass


def _instant(request: web.Request, name: str) -> float | None:
    text = request.query.get(name)
    if text is None or not text.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        expected = "an OCPI DateTime such as 2026-12-01T12:00:00Z"
        raise _BadParameterError(f"{name}: expected {expected}, got {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)  # OCPI: no zone designator means UTC
    return parsed.timestamp()


def _whole(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None or not text.strip():
        return default
    if not text.strip().isdigit():
        raise _BadParameterError(f"{name}: expected a whole number >= 0, got {text!r}")
    return int(text)


def add_opendata_routes(app: web.Application, source: OpenDataSource) -> None:
    """Mount the open data feeds of ``source`` on ``app`` (see the module docstring)."""
    bodies = BodyCache()

    def answer(request: web.Request, key: Any, payload: Any, media_type: str = JSON, **headers: str) -> web.Response:
        body = bodies.body(key, payload, media_type)
        return cached_answer(request, body, source.max_age, headers={**PUBLIC, **headers})

    def error(status: int, code: int, message: str) -> web.Response:
        payload = {
            "status_code": code,
            "status_message": message,
            "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return web.json_response(payload, status=status, headers={**PUBLIC, "Cache-Control": "no-cache"})

    def plain(key: str, media_type: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return answer(request, key, source.feed(key), media_type)

        return handler

    for path, key, media_type in FEED_ROUTES:
        app.router.add_get(path, plain(key, media_type))

    async def locations(request: web.Request) -> web.Response:
        try:
            date_from, date_to = _instant(request, "date_from"), _instant(request, "date_to")
            offset = _whole(request, "offset", 0)
            limit = min(_whole(request, "limit", OCPI_MAX_LIMIT), OCPI_MAX_LIMIT)
        except _BadParameterError as exc:
            return error(400, 2001, str(exc))
        payload, total = source.ocpi_locations(date_from, date_to, offset, limit)
        headers = {"X-Total-Count": str(total), "X-Limit": str(OCPI_MAX_LIMIT)}
        if offset + limit < total:
            # relative (RFC 8288 resolves it against the request): no host name of ours, whatever proxy is in front
            following = request.rel_url.update_query({"offset": str(offset + limit), "limit": str(limit)})
            headers["Link"] = f'<{following}>; rel="next"'
        return answer(request, ("ocpi", request.query_string), payload, JSON, **headers)

    async def one(request: web.Request) -> web.Response:
        info = request.match_info
        location_id, evse_uid, connector_id = info["location_id"], info.get("evse_uid"), info.get("connector_id")
        payload = source.ocpi_object(location_id, evse_uid, connector_id)
        if payload is None:
            what = "connector" if connector_id else "EVSE" if evse_uid else "location"
            return error(404, 2003, f"unknown {what} (only published chargers are here)")
        return answer(request, ("ocpi", location_id, evse_uid, connector_id), payload)

    app.router.add_get(OCPI_BASE, locations)
    app.router.add_get(OCPI_BASE + "/", locations)
    app.router.add_get(OCPI_BASE + "/{location_id}", one)
    app.router.add_get(OCPI_BASE + "/{location_id}/{evse_uid}", one)
    app.router.add_get(OCPI_BASE + "/{location_id}/{evse_uid}/{connector_id}", one)
