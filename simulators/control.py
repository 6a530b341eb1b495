"""The simulator's control API: switch faults on a running simulated city over HTTP.

Owns the small HTTP surface ``stadtnetz simulate --control`` serves (on
loopback): ``POST /scenario`` with a scenario command as the body
(``fibre-cut dist-003``) carries it out and answers what was done (400 with
the reason otherwise); ``GET /scenarios`` lists the commands; ``GET /healthz``.
The listening socket may be made before the simulator enters its network
namespace, so it stays reachable from the host.
"""

from __future__ import annotations

import json
import socket

from aiohttp import web

from simulators.scenarios import COMMANDS, ScenarioError, Scenarios


def build_control_app(scenarios: Scenarios) -> web.Application:
    async def run(request: web.Request) -> web.Response:
        command = (await request.text()).strip()
        try:
            done = scenarios.run(command)
        except ScenarioError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"done": done})

    async def listing(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(COMMANDS, indent=2), content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "devices": len(scenarios.city.devices)})

    app = web.Application()
    app.router.add_post("/scenario", run)
    app.router.add_get("/scenarios", listing)
    app.router.add_get("/healthz", healthz)
    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP listening socket, made now (e.g. before entering another network namespace)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


async def serve_control(scenarios: Scenarios, sock: socket.socket) -> tuple[web.AppRunner, str]:
    """Serve the control API on ``sock``; return the runner (clean it up to stop) and its URL."""
    runner = web.AppRunner(build_control_app(scenarios), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    host, port = sock.getsockname()[:2]
    return runner, f"http://{f'[{host}]' if ':' in host else host}:{port}"
