"""HTTP: ``/metrics`` for Prometheus, ``/healthz`` for probes, ``/`` for people, ``/api/devices`` as JSON, and the
public open data feeds (``/opendata/...``, ``/ocpi/2.2.1/locations``: :mod:`stadtnetz.app.opendata`).

Owns the web server (aiohttp) and what each path answers; the content comes
from the state and, for ``/metrics``, from the exposition the composition root
hands in (the Prometheus exporter's renderer), for the feeds from the source it
hands in (the open data publisher): this module imports no exporter.
Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import zlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from stadtnetz import __version__
from stadtnetz.app.opendata import OpenDataSource, add_opendata_routes
from stadtnetz.model import PollStatus
from stadtnetz.status.state import State


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def build_app(
    state: State,
    exposition: tuple[str, Callable[[], AsyncIterator[bytes]]],
    health: Callable[[], tuple[bool, str]],
    parts: Callable[[], dict[str, dict[str, object]]] | None = None,
    opendata: OpenDataSource | None = None,
) -> web.Application:
    """``exposition``: the content type of ``/metrics`` and what renders its body, in pieces;
    ``health``: (healthy, detail) of the collector; ``parts``: more fields for ``/healthz``, one per part
    (e.g. ``{"history": {"ok": False, "problem": "..."}}``). A part with ``"ok": False`` makes the status
    ``degraded``, still HTTP 200: a probe must not restart a poller that polls because its history cannot be
    written; only an unhealthy collector answers 503. ``opendata``: the public feeds' source (none: no feeds)."""
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

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/devices", devices)
    if opendata is not None:
        add_opendata_routes(app, opendata)
    return app
