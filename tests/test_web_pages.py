"""The status page's server side without a browser: who may see what (Basic auth, loopback, public routes), the
password hash and its command, the ``web:`` section's errors, Atom validity, badges, ETag/304, the JSON API.

The web app is the real one (``build_app`` with a :class:`StatusSite` and a :class:`Gate`), served by aiohttp on
127.0.0.1 and asked over HTTP; the state holds a small made-up city whose statuses the tests set.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from stadtnetz.app.auth import Gate, parse_basic
from stadtnetz.app.pages.site import StatusSite
from stadtnetz.app.pages.snapshot import Sources, districts_and_groups
from stadtnetz.app.web import build_app, route_audience
from stadtnetz.clock import ManualClock
from stadtnetz.config.errors import ConfigError
from stadtnetz.config.loader import load_inventory
from stadtnetz.model import Device, WebSettings, WebUser
from stadtnetz.passwords import hash_password, parse_hash, verify_password
from stadtnetz.secrets import Secret
from stadtnetz.status.state import State
from stadtnetz.status.topology import Status

REPO = Path(__file__).resolve().parents[1]
ATOM = "{http://www.w3.org/2005/Atom}"
PASSWORD = "korrekt-Pferd-Batterie"
HASH = hash_password(PASSWORD, ln=12)  # a cheaper cost for the tests; the format is the same


def city() -> list[Device]:
    return [
        Device("core-1", "core_router", "127.0.0.1", site="PoP", district="Mitte", lat=51.84, lon=8.26),
        Device("dist-1", "distribution_switch", "127.0.0.2", site="Verteiler 1", district="Mitte", lat=51.85,
               lon=8.27, upstream="core-1"),
        Device("hs-1", "hotspot", "127.0.0.3", site="Marktplatz", district="Mitte", lat=51.851, lon=8.271,
               upstream="dist-1"),
        Device("hs-2", "hotspot", "127.0.0.4", site="Rathaus", district="Mitte", lat=51.852, lon=8.272,
               upstream="dist-1"),
        Device("hs-3", "hotspot", "127.0.0.5", site="Bahnhof", district="Nord", lat=51.86, lon=8.28,
               upstream="core-1"),
    ]


@contextmanager
def served(users: tuple[WebUser, ...] = (), public: bool = True, metrics_login: bool = False) -> Iterator[tuple]:
    """The app on 127.0.0.1 in a thread of its own: (base URL, state, site, gate, run) where run(coro) runs on
    the server's loop."""
    import threading

    devices = city()
    clock = ManualClock(1_790_000_000.0)
    state = State(devices, clock)
    settings = WebSettings(public=public, users=users, metrics_login=metrics_login, title="Teststadt")
    sources = Sources(state=state, devices=devices, web=settings, clock_time=clock.time, interval=10.0)
    districts, groups = districts_and_groups(devices, {"hotspot": ["hs-1", "hs-2", "hs-3"]})
    site = StatusSite(sources, None, districts, groups)
    gate = Gate(settings, clock)

    async def render():  # the exposition: a fixed body
        yield b"# nothing\n"

    app = build_app(state, ("text/plain; version=0.0.4", render), lambda: (True, "polling"), site=site, gate=gate)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict = {}

    async def start() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        holder["runner"] = runner
        holder["port"] = tcp._server.sockets[0].getsockname()[1]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    try:
        yield f"http://127.0.0.1:{holder['port']}", state, site, gate, run
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def fetch(url: str, headers: dict | None = None, auth: tuple[str, str] | None = None) -> tuple[int, CIMultiDict, bytes]:
    headers = dict(headers or {})
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()

    async def go():
        async with aiohttp.ClientSession(auto_decompress=True) as session, session.get(
            url, headers=headers
        ) as response:
            return response.status, response.headers.copy(), await response.read()

    return asyncio.run(go())


def set_status(state: State, device_id: str, status: Status, root: str = "") -> None:
    state[device_id].health = status
    state[device_id].root_cause = root


OPERATOR = ["/", "/devices", "/devices/hs-1", "/map.svg", "/feed.atom", "/badge.svg", "/api/status",
            "/api/incidents", "/api/maintenance", "/api/history?district=Mitte", "/api/devices/hs-1", "/api/devices"]
PUBLIC = ["/public", "/public/map.svg", "/public/feed.atom", "/public/badge.svg", "/api/public/status"]


def test_route_audiences() -> None:
    assert [route_audience(p) for p in ("/public", "/public/map.svg", "/api/public/status", "/opendata/x")] == [
        "public"
    ] * 4
    assert route_audience("/healthz") == route_audience("/static/status.css") == "open"
    assert route_audience("/metrics") == "metrics"
    assert {route_audience(p.split("?")[0]) for p in OPERATOR} == {"operator"}
    assert route_audience("/publicity") == "operator"


def test_with_users_operator_routes_need_the_right_login_and_public_ones_none() -> None:
    with served(users=(WebUser("noc", Secret(HASH, "test")),)) as (url, *_):
        for index, path in enumerate(OPERATOR):
            status, headers, _ = fetch(url + path)
            assert status == 401, path
            assert headers["WWW-Authenticate"].startswith("Basic realm=")
            if index < 4:  # wrong ones: fewer than the ten a minute that make a client wait
                assert fetch(url + path, auth=("noc", "falsch"))[0] == 401, path
                assert fetch(url + path, auth=("nobody", PASSWORD))[0] == 401, path
            assert fetch(url + path, auth=("noc", PASSWORD))[0] == 200, path
        for path in PUBLIC:
            assert fetch(url + path)[0] == 200, path
        assert fetch(url + "/healthz")[0] == 200
        assert fetch(url + "/metrics")[0] == 200  # Prometheus scrapes without a login unless metrics_login
        assert fetch(url + "/static/status.css")[0] == 200


def test_failed_logins_are_rate_limited_per_client_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with served(users=(WebUser("noc", Secret(HASH, "test")),)) as (url, _, _, gate, _):
        caplog.set_level("WARNING", "stadtnetz.web")
        statuses = [fetch(url + "/api/status", auth=("noc", f"wrong-{i}"))[0] for i in range(12)]
        assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
        status, headers, _ = fetch(url + "/api/status", auth=("noc", PASSWORD))
        assert status == 429 and int(headers["Retry-After"]) > 0  # even the right password waits
        lines = [r.getMessage() for r in caplog.records if "failed login" in r.getMessage()]
        assert len(lines) == 1 and "user 'noc'" in lines[0] and "wrong-" not in lines[0]
        assert gate.failed_total == 10


def test_metrics_login_puts_metrics_behind_the_login() -> None:
    with served(users=(WebUser("noc", Secret(HASH, "test")),), metrics_login=True) as (url, *_):
        assert fetch(url + "/metrics")[0] == 401
        assert fetch(url + "/metrics", auth=("noc", PASSWORD))[0] == 200
        assert fetch(url + "/healthz")[0] == 200


def test_without_users_only_loopback_without_a_proxy_sees_operator_pages() -> None:
    with served() as (url, *_):
        assert fetch(url + "/")[0] == 200  # from 127.0.0.1
        status, _, body = fetch(url + "/", headers={"X-Forwarded-For": "203.0.113.9"})
        assert status == 403 and b"web.users" in body and b"hash-password" in body
        assert fetch(url + "/api/status", headers={"Forwarded": "for=203.0.113.9"})[0] == 403
        assert fetch(url + "/public", headers={"X-Forwarded-For": "203.0.113.9"})[0] == 200


def test_public_routes_are_gone_unless_public() -> None:
    with served(public=False) as (url, *_):
        for path in PUBLIC:
            status, _, body = fetch(url + path)
            assert status == 404 and b"web.public" in body, path
        assert fetch(url + "/")[0] == 200


def test_etag_and_304_and_cache_control() -> None:
    with served() as (url, *_):
        for path, private in [("/", True), ("/api/status", True), ("/map.svg", True), ("/public", False),
                              ("/api/public/status", False), ("/public/badge.svg", False)]:
            status, headers, body = fetch(url + path)
            assert status == 200 and body
            etag = headers["ETag"]
            assert etag.startswith('"') and etag.endswith('"')
            assert headers["Cache-Control"] == f"{'private' if private else 'public'}, max-age=10", path
            again, headers_again, empty = fetch(url + path, headers={"If-None-Match": etag})
            assert again == 304 and empty == b"" and headers_again["ETag"] == etag, path
            assert fetch(url + path, headers={"If-None-Match": '"other"'})[0] == 200


def test_atom_feeds_are_valid_and_the_public_one_has_no_internals() -> None:
    with served() as (url, state, *_):
        set_status(state, "dist-1", Status.DOWN, "dist-1")
        for device in ("hs-1", "hs-2"):
            set_status(state, device, Status.UNREACHABLE, "dist-1")
        import time

        time.sleep(1.1)  # the next snapshot
        for path in ("/feed.atom", "/public/feed.atom"):
            status, headers, body = fetch(url + path)
            assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
            feed = ET.fromstring(body)
            assert feed.tag == f"{ATOM}feed"
            for required in ("id", "title", "updated"):
                assert feed.find(f"{ATOM}{required}") is not None and feed.find(f"{ATOM}{required}").text
            entries = feed.findall(f"{ATOM}entry")
            assert entries, path
            for entry in entries:
                for required in ("id", "title", "updated", "summary"):
                    element = entry.find(f"{ATOM}{required}")
                    assert element is not None and element.text, (path, required)
                assert entry.find(f"{ATOM}id").text.startswith("urn:uuid:")
        operator = fetch(url + "/feed.atom")[2].decode()
        assert "dist-1" in operator and "2 devices behind it" in operator
        public = fetch(url + "/public/feed.atom")[2].decode()
        assert "2 WLAN-Hotspots" in public and "Mitte" in public
        for internal in ("dist-1", "hs-1", "core-1", "127.0.0", "root"):
            assert internal not in public


def test_badges_are_svg_with_their_words() -> None:
    with served() as (url, *_):
        for path in ("/badge.svg", "/public/badge.svg"):
            status, headers, body = fetch(url + path)
            assert status == 200 and headers["Content-Type"] == "image/svg+xml"
            svg = ET.fromstring(body)
            assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("role") == "img"
            assert svg.find("{http://www.w3.org/2000/svg}title").text == svg.get("aria-label")


def test_json_api_documents() -> None:
    with served() as (url, state, *_):
        set_status(state, "core-1", Status.UP)
        set_status(state, "dist-1", Status.DOWN, "dist-1")
        set_status(state, "hs-1", Status.UNREACHABLE, "dist-1")
        set_status(state, "hs-2", Status.UNREACHABLE, "dist-1")
        set_status(state, "hs-3", Status.UP)
        status = json.loads(fetch(url + "/api/status")[2])
        assert status["counts"] == {"up": 2, "degraded": 0, "down": 1, "unreachable": 2, "unknown": 0}
        assert status["overall"] == "outage"
        assert [(o["root_cause"], o["devices_behind"]) for o in status["outages"]] == [("dist-1", 2)]
        incidents = json.loads(fetch(url + "/api/incidents")[2])
        assert incidents["source"] == "current" and incidents["incidents"][0]["affected"] == ["hs-1", "hs-2"]
        device = json.loads(fetch(url + "/api/devices/hs-1")[2])
        assert device["status"] == "unreachable" and device["root_cause"] == "dist-1"
        assert set(device) >= {"interfaces", "optics", "wlan", "ping", "poll"}
        assert fetch(url + "/api/devices/nope")[0] == 404
        history = json.loads(fetch(url + "/api/history?district=Mitte&days=7")[2])
        assert history["scope"] == "district" and len(history["days"]) == 7
        assert all(day["availability"] is None for day in history["days"])  # no history: no data
        assert fetch(url + "/api/history?group=nope")[0] == 404
        assert fetch(url + "/api/history?days=7")[0] == 400
        public = json.loads(fetch(url + "/api/public/status")[2])
        assert public["summary"]["hotspots"] == 3 and public["summary"]["hotspots_online"] == 1
        text = json.dumps(public)
        for internal in ("dist-1", "hs-1", "core-1", "127.0.0", "root_cause"):
            assert internal not in text
        assert json.loads(fetch(url + "/api/devices")[2])[0]["id"] == "core-1"  # the old list still answers


def test_password_hashes() -> None:
    made = hash_password("geheim", ln=12)
    assert made.startswith("$scrypt$ln=12,r=8,p=1$") and "geheim" not in made
    assert verify_password("geheim", made) and not verify_password("Geheim", made)
    assert not verify_password("geheim", "geheim") and not verify_password("geheim", "$scrypt$ln=99$x$y")
    assert hash_password("geheim", ln=12) != made  # salted
    assert parse_basic("Basic " + base64.b64encode(b"noc:a:b").decode()) == ("noc", "a:b")
    assert parse_basic("Bearer x") is None and parse_basic("Basic !!") is None


def test_hash_password_command_prints_a_verifiable_hash() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", "web", "hash-password"], input="s3cret Wort\n", capture_output=True,
        text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip()
    parse_hash(printed)
    assert verify_password("s3cret Wort", printed) and "s3cret" not in printed
    empty = subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", "web", "hash-password"], input="\n", capture_output=True, text=True,
        timeout=60,
    )
    assert empty.returncode == 2 and "empty" in empty.stderr


def test_web_section_errors_name_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "noc.hash").write_text(hash_password("x", ln=12) + "\n")
    (tmp_path / "plain").write_text("Sommer2026!\n")
    config = tmp_path / "city.yaml"
    config.write_text(textwrap.dedent("""\
        devices:
          - {id: hs-1, kind: hotspot, address: 127.0.0.1}
        web:
          public: yes please
          users:
            noc: {password_hash: file:noc.hash}
            plain: {password_hash: file:plain}
            inline: {password_hash: "$scrypt$ln=15,r=8,p=1$abc$def"}
          colour: red
    """))
    with pytest.raises(ConfigError) as error:
        load_inventory(config, environ={})
    text = str(error.value)
    assert f"{config}:4: web.public:" in text
    assert f"{config}:7: web.users.plain.password_hash: file:{tmp_path}/plain: not a password hash" in text
    assert f"{config}:8: web.users.inline.password_hash: write the hash by reference" in text
    assert f"{config}:9: web.colour: unknown field 'colour'" in text
    assert "Sommer2026" not in text and "$abc$def" not in text
    config.write_text(textwrap.dedent("""\
        devices:
          - {id: hs-1, kind: hotspot, address: 127.0.0.1}
        web:
          public: true
          title: Stadtnetz Teststadt
          users:
            noc: {password_hash: file:noc.hash}
          map_image: {url: /static/map.png, south: 51.7, west: 8.1, north: 51.9, east: 8.4}
    """))
    settings = load_inventory(config, environ={}).web
    assert settings.public and settings.title == "Stadtnetz Teststadt" and settings.users[0].name == "noc"
    assert settings.tile_url == "/static/map.png" and settings.tile_bounds == (51.7, 8.1, 51.9, 8.4)
    assert "$scrypt$" not in repr(settings)
