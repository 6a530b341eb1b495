"""HTTP: ``/metrics`` for Prometheus, ``/healthz`` for probes, the status page for people, the JSON API.

Owns the web server (aiohttp), its routes and who may use them; the content comes from the state, from the
status site (:mod:`stadtnetz.app.pages`: pages, map, feeds, JSON), from the open data publisher
(:mod:`stadtnetz.app.opendata`: ``/opendata/...``, ``/ocpi/2.2.1/locations``) and, for ``/metrics``, from the
exposition the composition root hands in (the Prometheus exporter's renderer): this module imports no exporter.
Binds 127.0.0.1 unless told otherwise.

Audiences (:func:`route_audience`): *public* routes (``/public``, ``/public/*``, ``/api/public/*``, the open
data feeds under ``/opendata/`` and ``/ocpi/``) never need a login and answer 404 unless ``web.public`` is true;
*open* routes (``/healthz``, ``/static/*``) always answer; ``/metrics`` answers like an open route unless
``web.metrics_login``; every other route is an *operator* route, behind :class:`stadtnetz.app.auth.Gate`
(HTTP Basic against ``web.users``; without users only loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import math
import time
import zlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from stadtnetz import __version__
from stadtnetz.app.auth import REALM, Gate
from stadtnetz.app.http_cache import Cached, answer, cached_json_response
from stadtnetz.app.opendata import OpenDataSource, add_opendata_routes
from stadtnetz.app.pages.html import REFRESH_SCRIPT, STYLESHEET
from stadtnetz.app.pages.site import HTML, StatusSite
from stadtnetz.model import PollStatus, WebSettings
from stadtnetz.status.state import State


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def build_app(
    state: State,
    exposition: tuple[str, Callable[[], AsyncIterator[bytes]]],
    health: Callable[[], tuple[bool, str]],
    parts: Callable[[], dict[str, dict[str, object]]] | None = None,
    site: StatusSite | None = None,
    gate: Gate | None = None,
    opendata: OpenDataSource | None = None,
) -> web.Application:
    """``exposition``: the content type of ``/metrics`` and what renders its body, in pieces;
    ``health``: (healthy, detail) of the collector; ``parts``: more fields for ``/healthz``, one per part
    (e.g. ``{"history": {"ok": False, "problem": "..."}}``). A part with ``"ok": False`` makes the status
    ``degraded``, still HTTP 200: a probe must not restart a poller that polls because its history cannot be
    written; only an unhealthy collector answers 503. ``site``: the status site (pages, map, feeds, JSON API);
    ``gate``: who may see the operator routes (:mod:`stadtnetz.app.auth`); ``opendata``: the open data
    feeds' source (public routes under ``/opendata/`` and ``/ocpi/``; none: no feeds)."""
    content_type, render = exposition

    async def metrics(request: web.Request) -> web.StreamResponse:
        gzip = "gzip" in request.headers.get("Accept-Encoding", "")
        response = web.StreamResponse(headers={"Content-Type": content_type})
        if gzip:
            response.headers["Content-Encoding"] = "gzip"
        await response.prepare(request)
        # level 1: a city's exposition shrinks ~10x at a fraction of the default level's CPU; big
        # pieces are compressed in a worker thread (zlib releases the GIL), off the event loop
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31) if gzip else None
        async for piece in render():
            if compressor is not None:
                piece = (
                    await asyncio.to_thread(compressor.compress, piece)
                    if len(piece) > 256 * 1024
                    else compressor.compress(piece)
                )
            if piece:
                await response.write(piece)
        if compressor is not None:
            await response.write(compressor.flush())
        await response.write_eof()
        return response

    async def healthz(request: web.Request) -> web.Response:
        healthy, detail = health()
        counts = state.status_counts()
        extra = parts() if parts is not None else {}
        degraded = any(part.get("ok") is False for part in extra.values())
        payload = {
            "status": "unhealthy" if not healthy else "degraded" if degraded else "ok",
            "detail": detail,
            "devices": len(state.exported()),
            "polls": {status.value: counts[status] for status in PollStatus},
            "version": __version__,
            **extra,
        }
        return web.json_response(payload, status=200 if healthy else 503)

    async def devices(request: web.Request) -> web.Response:
        rows = [
            {
                "id": s.device.id,
                "kind": s.device.kind,
                "site": s.device.site,
                "district": s.device.district,
                "address": s.device.endpoint,
                "upstream": s.device.upstream,
                "status": s.health.value,
                "root_cause": s.root_cause or None,
                "flapping": s.flapping,
                "maintenance": s.maintenance,
                "snmp_status": s.status.value if s.device.credentials else None,
                "error": s.error,
                "last_seen": s.last_seen or None,
                "series": len(s.keys),
                "ping": None
                if s.ping is None
                else {
                    "loss": _finite(s.ping.loss),
                    "rtt_median": _finite(s.ping.rtt_median),
                    "jitter": _finite(s.ping.jitter),
                },
            }
            for s in state.exported()
        ]
        return web.Response(text=json.dumps(rows, ensure_ascii=False), content_type="application/json")

    if site is None:  # no status site (tests of the bare server): a plain index
        site_routes: list[web.RouteDef] = [web.get("/", _plain_index(state))]
    else:
        site_routes = _site_routes(site)
    gate = gate or Gate(WebSettings(), _WallClock())
    settings = site.web if site is not None else WebSettings()
    app = web.Application(middlewares=[_access(gate, settings)])
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/devices", devices)
    app.router.add_routes(site_routes)
    if site is not None:

        async def history_reader(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(site.run_history(), name="status-page-history")
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(site.close)

        app.cleanup_ctx.append(history_reader)
    if opendata is not None:
        add_opendata_routes(app, opendata)
    return app


class _WallClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


def route_audience(path: str) -> str:
    """public (no login; 404 unless web.public), open (never a login), metrics, or operator."""
    if path in ("/public", "/opendata") or path.startswith(("/public/", "/api/public/", "/opendata/", "/ocpi/")):
        return "public"
    if path == "/healthz" or path.startswith("/static/"):
        return "open"
    if path == "/metrics":
        return "metrics"
    return "operator"


def _access(gate: Gate, settings: WebSettings) -> Callable:
    @web.middleware
    async def access(request: web.Request, handler: Callable) -> web.StreamResponse:
        audience = route_audience(request.path)
        if audience == "open" or (audience == "metrics" and not settings.metrics_login):
            return await handler(request)
        if audience == "public":
            if not settings.public:
                return web.Response(
                    status=404,
                    text="404 Not Found: the public pages are off (web.public: false in the configuration)\n",
                )
            return await handler(request)
        verdict = await gate.check(request.headers, request.remote)
        if verdict.allowed:
            return await handler(request)
        headers = {"Cache-Control": "no-store"}
        if verdict.status == 401:
            headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
        if verdict.retry_after:
            headers["Retry-After"] = str(verdict.retry_after)
        return web.Response(status=verdict.status, text=verdict.reason + "\n", headers=headers)

    return access


def _plain_index(state: State) -> Callable:
    async def index(request: web.Request) -> web.Response:
        counts = state.status_counts()
        summary = ", ".join(f"{counts[s]} {s.value}" for s in PollStatus if counts[s])
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stadtnetz</title></head>
<body>
<h1>stadtnetz {html.escape(__version__)}</h1>
<p>{len(state.exported())} devices: {html.escape(summary)}</p>
<ul>
<li><a href="metrics">/metrics</a> - Prometheus exposition</li>
<li><a href="healthz">/healthz</a> - health of the collector</li>
<li><a href="api/devices">/api/devices</a> - devices and their poll status (JSON)</li>
</ul>
</body></html>
"""
        return web.Response(text=page, content_type="text/html")

    return index


SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: *; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'self'",
}
STATIC_MAX_AGE = 3600


def _site_routes(site: StatusSite) -> list[web.RouteDef]:
    """The status site's routes (see "Status page" in the README)."""
    max_age = site.max_age

    def named(name: str, private: bool) -> Callable:
        async def handler(request: web.Request) -> web.Response:
            cached = await site.render_async(name)
            response = answer(request, cached, max_age, private)
            if cached.content_type.startswith("text/html"):
                response.headers.update(SECURITY)
            return response

        return handler

    static = {
        "status.css": Cached(STYLESHEET.encode(), "text/css; charset=utf-8"),
        "refresh.js": Cached(REFRESH_SCRIPT.encode(), "text/javascript; charset=utf-8"),
    }

    async def static_file(request: web.Request) -> web.Response:
        found = static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        return answer(request, found, STATIC_MAX_AGE)

    async def device_page(request: web.Request) -> web.Response:
        device_id = request.match_info["device_id"]
        if device_id not in site.snapshot().by_id:
            raise web.HTTPNotFound(text=f"404 Not Found: no device {device_id!r} here\n")
        bars = await asyncio.to_thread(site.device_bars, device_id)
        text = site.device_page(device_id, bars)
        if text is None:
            raise web.HTTPNotFound()
        response = answer(request, Cached(text.encode(), HTML), max_age, private=True)
        response.headers.update(SECURITY)
        return response

    async def device_json(request: web.Request) -> web.Response:
        payload = site.device_json(request.match_info["device_id"])
        if payload is None:
            raise web.HTTPNotFound(text="404 Not Found: no such device\n")
        return cached_json_response(request, payload, max_age, private=True)

    async def history(request: web.Request) -> web.Response:
        query = request.query
        scope = "group" if "group" in query else "district" if "district" in query else ""
        try:
            days = int(query.get("days", "90"))
        except ValueError:
            days = 0
        if not scope or not 1 <= days <= 90:
            raise web.HTTPBadRequest(text="400 Bad Request: give ?district=NAME or ?group=NAME, and days=1..90\n")
        payload = site.history_json(scope, query[scope], days)
        if payload is None:
            raise web.HTTPNotFound(text=f"404 Not Found: no {scope} {query[scope]!r}\n")
        return cached_json_response(request, payload, max_age, private=True)

    return [
        web.get("/", named("overview", True)),
        web.get("/devices", named("devices", True)),
        web.get("/devices/{device_id}", device_page),
        web.get("/map.svg", named("map", True)),
        web.get("/feed.atom", named("feed", True)),
        web.get("/badge.svg", named("badge", True)),
        web.get("/api/status", named("status", True)),
        web.get("/api/incidents", named("incidents", True)),
        web.get("/api/maintenance", named("maintenance", True)),
        web.get("/api/history", history),
        web.get("/api/devices/{device_id}", device_json),
        web.get("/public", named("public", False)),
        web.get("/public/map.svg", named("public_map", False)),
        web.get("/public/feed.atom", named("public_feed", False)),
        web.get("/public/badge.svg", named("public_badge", False)),
        web.get("/api/public/status", named("public_status", False)),
        web.get("/static/{name}", static_file),
    ]
