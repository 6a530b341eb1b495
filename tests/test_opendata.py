"""The open data feeds: hotspots (GeoJSON, Freifunk nodelist and meshviewer) and chargers (OCPI 2.2.1, DATEX II AFIR).

Most tests run against one real demo for the module (``ThreadedDemo``: a 200-device simulated city on 127.20.x.y,
the service polling it every 4 s, its 18 chargers dialling the OCPP endpoint, heartbeats every second) and read the
feeds over HTTP, as a map or the Mobilithek would: each feed validates against the schema it claims
(``tests/schemas/``, see the README there), a connector fault and a fibre cut show as the mapping tables say, the
ETag round trip ends in 304, and no feed carries a MAC, an IP address, an idTag, the SNMP community or a password.
The rest check the configuration's static charger data (errors with file and line) and the routes on their own
(``publish: false``, OCPI's pagination and errors), on a service-less aiohttp server over fabricated state.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from exporters.opendata import datex, ocpi
from exporters.opendata.publisher import OpenData
from exporters.opendata.snapshot import ChargerView, ConnectorView, take_snapshot
from simulators.city import generate_city
from stadtnetz.app.opendata import add_opendata_routes
from stadtnetz.clock import SystemClock
from stadtnetz.config import ConfigError, load_inventory
from stadtnetz.model import (
    Charger,
    ChargerSnapshot,
    ConnectorInfo,
    ConnectorSnapshot,
    Device,
    Inventory,
    OpenDataSettings,
    OpeningHours,
    Operator,
)
from stadtnetz.status.chargers import ChargerStatus, ChargerVerdict, ConnectorVerdict, OpenDataClass
from stadtnetz.status.state import State
from stadtnetz.status.topology import DeviceStatus, Status
from tests.support.demo import ThreadedDemo
from tests.support.processes import wait_until

SCHEMAS = Path(__file__).parent / "schemas"
DEVICES = 200
CITY = generate_city(DEVICES)  # the demo's city (seed 1)
POLL_INTERVAL = 4.0
FEEDS = {  # path -> the schema it must satisfy
    "opendata/hotspots.geojson": "geojson",
    "opendata/nodelist.json": "nodelist",
    "opendata/meshviewer.json": "meshviewer",
    "ocpi/2.2.1/locations": "ocpi",
    "opendata/afir/static.json": "afir-static",
    "opendata/afir/status.json": "afir-status",
}

# --- schemas -------------------------------------------------------------------------------------------------------

FORMATS = FormatChecker(formats=())  # the two formats the schemas use, checked as RFC 3339 says


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value).tzinfo is not None  # an offset (or Z) is part of it
    return True


@FORMATS.checks("time", raises=ValueError)
def _time(value: object) -> bool:
    if isinstance(value, str):
        return dt.time.fromisoformat(value).tzinfo is not None  # 07:00:00Z: the profile's times of day
    return True


def _load(path: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / path).read_text(encoding="utf-8"))


def _datex(folder: str, root: str) -> Validator:
    registry: Registry = Registry()
    for part in sorted((SCHEMAS / folder).glob("DATEXII_3_*.json")):
        resource = Resource.from_contents(json.loads(part.read_text(encoding="utf-8")), DRAFT202012)
        registry = registry.with_resource(part.name, resource)
    return Draft202012Validator(_load(f"{folder}/{root}"), registry=registry, format_checker=FORMATS)


@cache
def validator(name: str) -> Validator:
    if name == "geojson":
        return Draft7Validator(_load("geojson/FeatureCollection.json"), format_checker=FORMATS)
    if name == "nodelist":
        return Draft202012Validator(_load("freifunk/nodelist-1.0.1.json"), format_checker=FORMATS)
    if name == "meshviewer":
        return Draft202012Validator(_load("meshviewer/meshviewer.json"))
    if name == "ocpi":
        return Draft202012Validator(_load("ocpi-2.2.1/locations.json"), format_checker=FORMATS)
    if name == "afir-static":
        return _datex("datex2-afir/table", "DATEXII_3_D2Payload.json")
    if name == "afir-status":
        return _datex("datex2-afir/status", "DATEXII_3_MessageContainer.json")
    raise KeyError(name)


def problems(name: str, document: Any) -> list[str]:
    found = sorted(validator(name).iter_errors(document), key=lambda error: list(error.absolute_path))
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}" for error in found[:10]]


def test_the_shipped_schemas_accept_their_own_examples_and_refuse_a_wrong_status() -> None:
    static = _load("datex2-afir/table/EnergyInfrastructureTablePublication_rev2.json")
    status = _load("datex2-afir/status/EnergyInfrastructureStatusPublication_rev2.json")
    assert problems("afir-static", static) == []
    assert problems("afir-status", status) == []
    point = status["messageContainer"]["payload"][0]["aegiEnergyInfrastructureStatusPublication"]
    refill = point["energyInfrastructureSiteStatus"][0]["energyInfrastructureStationStatus"][0]["refillPointStatus"][0]
    refill["aegiElectricChargingPointStatus"]["status"]["value"] = "Faulted"  # OCPP's word, not DATEX II's
    assert problems("afir-status", status)
    location = {"country_code": "DE", "party_id": "SWM", "id": "cp-1", "publish": True, "address": "Markt 1",
                "city": "Musterstadt", "country": "DEU", "coordinates": {"latitude": "51.84", "longitude": "8.26"},
                "time_zone": "Europe/Berlin", "last_updated": "2026-12-01T00:00:00Z"}
    wrapped = {"data": [location], "status_code": 1000, "timestamp": "2026-12-01T00:00:00Z"}
    assert any("latitude" in p for p in problems("ocpi", wrapped))  # 2 decimals: OCPI wants 5 to 7
    location["coordinates"] = {"latitude": "51.841200", "longitude": "8.263400"}
    assert problems("ocpi", wrapped) == []


# --- the demo ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Iterator[ThreadedDemo]:
    with ThreadedDemo(
        devices=DEVICES, interval=POLL_INTERVAL, ocpp_port=0, heartbeat_interval=1.0, charger_tick=0.5
    ) as running:
        wait_until(lambda: _all_settled(running), 40, "every hotspot online and every charger's statuses known")
        yield running


def fetch(demo: ThreadedDemo, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(demo.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def feed(demo: ThreadedDemo, path: str) -> Any:
    status, _, body = fetch(demo, path)
    assert status == 200, f"{path}: HTTP {status} {body[:200]!r}"
    return json.loads(body)


def _all_settled(demo: ThreadedDemo) -> bool:
    nodes = feed(demo, "opendata/nodelist.json")["nodes"]
    statuses = evse_statuses(demo)
    return all(n["status"]["online"] for n in nodes) and len(statuses) == _connectors() and "UNKNOWN" not in (
        statuses.values()
    )


def _connectors() -> int:
    return sum(spec.connectors for spec in CITY.chargers)


def evse_statuses(demo: ThreadedDemo) -> dict[str, str]:
    data = feed(demo, "ocpi/2.2.1/locations")["data"]
    return {evse["uid"]: evse["status"] for location in data for evse in location["evses"]}


def refill_statuses(demo: ThreadedDemo) -> dict[str, str]:
    """DATEX II status by EVSE id (the refill points' ids are UUIDs; the static publication names their EVSE ids)."""
    static = feed(demo, "opendata/afir/static.json")["payload"]["aegiEnergyInfrastructureTablePublication"]
    evse_by_point = {
        point["aegiElectricChargingPoint"]["idG"]: point["aegiElectricChargingPoint"]["externalIdentifier"][0][
            "identifier"
        ]
        for site in static["energyInfrastructureTable"][0]["energyInfrastructureSite"]
        for station in site["energyInfrastructureStation"]
        for point in station["refillPoint"]
    }
    status = feed(demo, "opendata/afir/status.json")["messageContainer"]["payload"][0]
    publication = status["aegiEnergyInfrastructureStatusPublication"]
    return {
        evse_by_point[point["aegiElectricChargingPointStatus"]["reference"]["idG"]]: point[
            "aegiElectricChargingPointStatus"
        ]["status"]["value"]
        for site in publication["energyInfrastructureSiteStatus"]
        for station in site["energyInfrastructureStationStatus"]
        for point in station["refillPointStatus"]
    }


def evse_id(charger_id: str, connector: int) -> str:
    return f"DE*SWM*E{charger_id.replace('-', '').upper()}*{connector}"


def test_every_feed_validates_against_its_schema_and_lists_what_the_city_has(demo: ThreadedDemo) -> None:
    for path, schema in FEEDS.items():
        assert problems(schema, feed(demo, path)) == [], path
    for charger in CITY.chargers:
        one = feed(demo, f"ocpi/2.2.1/locations/{charger.id}")
        assert problems("ocpi", one) == [], charger.id
        assert one["data"]["id"] == charger.id and len(one["data"]["evses"]) == charger.connectors
    hotspots = [d for d in CITY.devices if d.kind == "hotspot"]
    geo = feed(demo, "opendata/hotspots.geojson")
    assert sorted(f["id"] for f in geo["features"]) == sorted(d.id for d in hotspots)  # school APs are not public
    assert all(set(f["properties"]) == {"name", "district", "online", "status", "clients", "clients_by_band",
                                        "last_contact"} for f in geo["features"])
    by_id = {d.id: d for d in hotspots}
    first = geo["features"][0]
    assert first["properties"]["name"] == by_id[first["id"]].site
    assert first["geometry"]["coordinates"] == [round(by_id[first["id"]].lon, 6), round(by_id[first["id"]].lat, 6)]
    nodes = feed(demo, "opendata/nodelist.json")["nodes"]
    assert all(isinstance(n["status"]["clients"], int) for n in nodes)  # counts only
    assert sum(n["status"]["clients"] for n in nodes) > 0
    mesh = feed(demo, "opendata/meshviewer.json")
    switches = {d.upstream for d in hotspots}
    assert {n["node_id"] for n in mesh["nodes"] if n["is_gateway"]} == switches
    assert all("location" not in n for n in mesh["nodes"] if n["is_gateway"])  # no cabinet positions
    assert len(mesh["links"]) == len(hotspots)
    location = feed(demo, "ocpi/2.2.1/locations/cp-001")["data"]
    spec = CITY.chargers[0]
    assert location["address"] == f"{spec.street} {spec.house_number}" and location["postal_code"] == spec.postcode
    assert re.fullmatch(r"-?\d{1,2}\.\d{6}", location["coordinates"]["latitude"])
    assert location["evses"][0]["evse_id"] == evse_id("cp-001", 1)
    catalogue = feed(demo, "opendata/")
    assert catalogue["licence"]["id"] == "dl-de/by-2-0" and catalogue["licence"]["attribution"]
    assert {entry["url"] for entry in catalogue["feeds"]} == {f"/{path}" for path in FEEDS}


def test_a_faulted_connector_is_outoforder_in_ocpi_and_faulted_in_datex(demo: ThreadedDemo) -> None:
    assert {spec.id: spec.connectors for spec in CITY.chargers}["cp-007"] == 2
    status, said = demo.scenario("charger-fault cp-007 connector=1 error=GroundFailure")
    assert status == 200, said
    try:
        wait_until(lambda: evse_statuses(demo)["cp-007-1"] == "OUTOFORDER", 10, "cp-007-1 OUTOFORDER in OCPI")
        assert refill_statuses(demo)[evse_id("cp-007", 1)] == "faulted"
        assert evse_statuses(demo)["cp-007-2"] in ("AVAILABLE", "CHARGING")  # its own status: not fanned out
        one = feed(demo, "ocpi/2.2.1/locations/cp-007/cp-007-1")
        assert problems("ocpi", one) == [] and one["data"]["status"] == "OUTOFORDER"
        assert problems("afir-status", feed(demo, "opendata/afir/status.json")) == []
    finally:
        status, said = demo.scenario("charger-clear cp-007 connector=1")
    assert status == 200, said
    wait_until(lambda: evse_statuses(demo)["cp-007-1"] != "OUTOFORDER", 10, "cp-007-1 back in service")


def _behind(switch: str) -> tuple[set[str], set[str]]:
    hotspots = {d.id for d in CITY.devices if d.kind == "hotspot" and switch in CITY.path_to_core(d.id)}
    chargers = {c.id for c in CITY.chargers if switch in CITY.path_to_core(c.device)}
    return hotspots, chargers


def test_a_fibre_cut_takes_the_hotspots_behind_it_offline_and_their_chargers_unknown(demo: ThreadedDemo) -> None:
    # the access layer is laid out hotspots first, chargers last: a core router has both behind it
    cut = next(d.id for d in CITY.devices if d.kind == "core_router" and all(_behind(d.id)))
    hotspots, chargers = _behind(cut)
    switches = {d.upstream for d in CITY.devices if d.id in hotspots}
    behind_evses = {f"{c}-{n}" for c in chargers for n in range(1, 3)} & set(evse_statuses(demo))
    status, said = demo.scenario(f"fibre-cut {cut}")
    assert status == 200, said
    try:

        def offline() -> set[str]:
            return {n["id"] for n in feed(demo, "opendata/nodelist.json")["nodes"] if not n["status"]["online"]}

        wait_until(lambda: offline() == hotspots, 3 * POLL_INTERVAL + 10, "exactly the hotspots behind the cut offline")

        def unknown() -> set[str]:
            return {uid for uid, value in evse_statuses(demo).items() if value == "UNKNOWN"}

        wait_until(lambda: unknown() == behind_evses, 20, "exactly the chargers behind the cut UNKNOWN in OCPI")
        datex_unknown = {key for key, value in refill_statuses(demo).items() if value == "unknown"}
        assert datex_unknown == {evse_id(uid.rsplit("-", 1)[0], int(uid.rsplit("-", 1)[1])) for uid in behind_evses}
        nodes = feed(demo, "opendata/nodelist.json")["nodes"]
        assert all(n["status"]["clients"] == 0 for n in nodes if n["id"] in hotspots)
        geo = {f["id"]: f["properties"] for f in feed(demo, "opendata/hotspots.geojson")["features"]}
        assert {geo[h]["status"] for h in hotspots} <= {"down", "unreachable"}
        assert all(geo[h]["clients"] is None for h in hotspots)
        mesh = feed(demo, "opendata/meshviewer.json")
        uplinks = {n["node_id"]: n["is_online"] for n in mesh["nodes"] if n["is_gateway"]}
        assert {s for s, online in uplinks.items() if not online} == switches  # their uplinks are dark too
        for path, schema in FEEDS.items():
            assert problems(schema, feed(demo, path)) == [], path
    finally:
        status, said = demo.scenario(f"repair {cut}")
    assert status == 200, said
    wait_until(lambda: _all_settled(demo), 3 * POLL_INTERVAL + 20, "the city whole again")


def test_etag_round_trip_answers_304_and_a_change_makes_a_new_etag(demo: ThreadedDemo) -> None:
    for path in FEEDS:
        status, headers, _ = fetch(demo, path)
        assert status == 200 and re.fullmatch(r'"[0-9a-f]{32}"', headers["ETag"]), path
        assert headers["Cache-Control"] == f"public, max-age={POLL_INTERVAL:.0f}"
        assert headers["Access-Control-Allow-Origin"] == "*"
    status, headers, _ = fetch(demo, "opendata/afir/static.json")
    etag = headers["ETag"]
    again, again_headers, empty = fetch(demo, "opendata/afir/static.json", **{"If-None-Match": etag})
    assert (again, empty, again_headers["ETag"]) == (304, b"", etag)
    assert again_headers["Cache-Control"] == headers["Cache-Control"]
    assert fetch(demo, "opendata/afir/static.json", **{"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert fetch(demo, "opendata/afir/static.json", **{"If-None-Match": '"other"'})[0] == 200
    # the static data do not change while the city runs: a second later the body and its ETag are the same
    wait_until(lambda: fetch(demo, "opendata/afir/static.json", **{"If-None-Match": etag})[0] == 304, 3, "304")
    status, headers, _body = fetch(demo, "opendata/afir/status.json")
    reused = fetch(demo, "opendata/afir/status.json", **{"If-None-Match": headers["ETag"]})
    assert reused[0] in (200, 304)  # 200 only if a connector's status changed in between
    if reused[0] == 200:
        assert reused[1]["ETag"] != headers["ETag"]


MAC = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])|"
                 r"(?<![0-9A-Fa-f.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![0-9A-Fa-f.])")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6_CANDIDATE = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
ID_TAG = re.compile(r"SIM[0-9A-F]{12}")  # the simulated chargers' fake idTags (simulators/chargers.py)


def _every_public_answer(demo: ThreadedDemo) -> dict[str, tuple[str, str]]:
    """Path -> (body, headers) of every public route: each feed, each Location, EVSE and Connector, an error."""
    paths = ["opendata/", *FEEDS, "ocpi/2.2.1/locations?limit=3", "ocpi/2.2.1/locations/nowhere"]
    for location in feed(demo, "ocpi/2.2.1/locations")["data"]:
        paths.append(f"ocpi/2.2.1/locations/{location['id']}")
        for evse in location["evses"]:
            paths.append(f"ocpi/2.2.1/locations/{location['id']}/{evse['uid']}")
            paths.append(f"ocpi/2.2.1/locations/{location['id']}/{evse['uid']}/{evse['connectors'][0]['id']}")
    answers = {}
    for path in paths:
        status, headers, body = fetch(demo, path)
        assert status in (200, 404), path
        answers[path] = body.decode(), "\n".join(f"{k}: {v}" for k, v in headers.items())
    return answers


def test_no_feed_carries_a_mac_an_ip_address_an_idtag_the_community_or_a_password(demo: ThreadedDemo) -> None:
    simulation, service = demo.simulation, demo.service
    assert simulation is not None and simulation.charge_points is not None and service is not None
    sims = simulation.charge_points.simulated.values()
    wait_until(lambda: sum(len(s.stats.id_tags) for s in sims) >= 5, 30, "some charging sessions with idTags")
    tags = {tag for s in sims for tag in s.stats.id_tags}
    community = service.inventory.credentials["simulated-city"].community.reveal()
    password = service.inventory.chargers[0].password
    assert password is not None
    addresses = {spec.address for spec in CITY.devices}
    answers = _every_public_answer(demo)
    assert len(answers) > 3 * len(CITY.chargers)
    for path, (body, headers) in answers.items():
        for text in (body, headers):
            assert not MAC.search(text), f"{path}: a MAC address: {MAC.search(text)}"
            assert not IPV4.search(text), f"{path}: an IPv4 address: {IPV4.search(text)}"
            for candidate in IPV6_CANDIDATE.findall(text):
                with pytest.raises(ValueError):  # times of day (08:25:40) look alike but are no address
                    ipaddress.IPv6Address(candidate)
            assert not any(address in text for address in addresses), path
            assert not ID_TAG.search(text) and not any(tag in text for tag in tags), f"{path}: an idTag"
            assert password.reveal() not in text, f"{path}: the chargers' password"
        # the demo's community is "public", which Cache-Control rightly says: the bodies must not
        assert not re.search(rf"(?<!\w){re.escape(community)}(?!\w)", body), f"{path}: the SNMP community"
        for word in ("password", "id_tag", "idTag", "mac", "addresses"):
            assert not re.search(rf"\b{word}\b", body, re.IGNORECASE), f"{path}: {word}"


# --- the mapping on its own ----------------------------------------------------------------------------------------


def _view(reachability: str, whole: str, *statuses: str) -> ChargerView:
    info = ConnectorInfo("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32)
    return ChargerView(
        charger=Charger("cp-1", publish=True),
        reachability=reachability,
        whole=whole,
        whole_since=None,
        connectors=tuple(ConnectorView(n, status, None, info) for n, status in enumerate(statuses, 1)),
    )


@pytest.mark.parametrize(
    ("ocpp_status", "ocpi_status", "datex_status"),
    [
        ("Available", "AVAILABLE", "available"),
        ("Preparing", "CHARGING", "occupied"),
        ("Charging", "CHARGING", "charging"),
        ("SuspendedEV", "CHARGING", "occupied"),
        ("SuspendedEVSE", "CHARGING", "occupied"),
        ("Finishing", "CHARGING", "occupied"),
        ("Reserved", "RESERVED", "reserved"),
        ("Unavailable", "INOPERATIVE", "unavailable"),
        ("Faulted", "OUTOFORDER", "faulted"),
        ("", "UNKNOWN", "unknown"),
    ],
)
def test_the_status_mapping(ocpp_status: str, ocpi_status: str, datex_status: str) -> None:
    view = _view("online", "Available", ocpp_status)
    assert ocpi.evse_status(view, view.connectors[0]) == ocpi_status
    assert datex.refill_point_status(view, view.connectors[0]) == datex_status
    for silent in ("offline", "unreachable", "unknown"):
        view = _view(silent, "Available", ocpp_status)
        assert ocpi.evse_status(view, view.connectors[0]) == "UNKNOWN"
        assert datex.refill_point_status(view, view.connectors[0]) == "unknown"


def test_connector_0_fans_out_to_every_connector() -> None:
    for whole, ocpi_status, datex_status in (("Faulted", "OUTOFORDER", "faulted"),
                                             ("Unavailable", "INOPERATIVE", "unavailable")):
        view = _view("online", whole, "Available", "Charging")
        assert {ocpi.evse_status(view, c) for c in view.connectors} == {ocpi_status}
        assert {datex.refill_point_status(view, c) for c in view.connectors} == {datex_status}


def test_opening_hours_in_ocpi_and_datex() -> None:
    hours = OpeningHours(((0, "07:00", "20:00"), (5, "08:00", "24:00")))
    view = dataclasses_replace_charger(_view("online", "", "Available"), opening_hours=hours)
    assert ocpi.opening_times(view) == {
        "twentyfourseven": False,
        "regular_hours": [
            {"weekday": 1, "period_begin": "07:00", "period_end": "20:00"},
            {"weekday": 6, "period_begin": "08:00", "period_end": "23:59"},
        ],
    }
    assert ocpi.opening_times(_view("online", "", "Available")) == {"twentyfourseven": True}


def dataclasses_replace_charger(view: ChargerView, **changes: Any) -> ChargerView:
    import dataclasses

    return dataclasses.replace(view, charger=dataclasses.replace(view.charger, **changes))


# --- the routes on their own: publish: false, OCPI's list and errors -----------------------------------------------

OPERATOR = Operator("Stadtwerke Musterstadt", "SWM")
TYPE2 = ConnectorInfo("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32, 22_000)


def _fabricated(chargers: int, hidden: set[str]) -> tuple[State, dict[str, ChargerVerdict], Inventory]:
    clock = SystemClock()
    devices = [
        Device("dist-1", "distribution_switch", "127.0.0.1", site="Verteiler 1"),
        Device("hs-1", "hotspot", "127.0.0.2", site="Marktplatz", lat=51.84, lon=8.26, upstream="dist-1"),
    ]
    state = State(devices, clock)
    state["hs-1"].health = Status.UP
    records = []
    for number in range(1, chargers + 1):
        charger_id = f"cp-{number:03d}"
        records.append(
            Charger(charger_id, publish=charger_id not in hidden, name=f"Ladepunkt {number}", street="Markt",
                    house_number=str(number), postcode="48990", city="Musterstadt", lat=51.84, lon=8.26,
                    connector_info=(TYPE2, TYPE2))
        )
    now = clock.time()
    verdicts = {}
    for charger in records:
        snapshot = ChargerSnapshot(
            charger.id, True, True, now, tuple(ConnectorSnapshot(n, "Available", "NoError", "", now) for n in range(3)),
            0.0, 0, 0, 0, 1, "Musterwerk", "AC-22 Sim", "1.0",
        )
        connectors = tuple(
            ConnectorVerdict(n, "Available", OpenDataClass.AVAILABLE, DeviceStatus(Status.UP), "", now) for n in (1, 2)
        )
        verdicts[charger.id] = ChargerVerdict(charger, ChargerStatus.ONLINE, "", connectors, snapshot)
    inventory = Inventory(devices=devices, chargers=records, opendata=OpenDataSettings(operator=OPERATOR))
    return state, verdicts, inventory


def _serve(chargers: int, hidden: set[str], requests: list[str]) -> list[tuple[int, dict[str, str], Any]]:
    state, verdicts, inventory = _fabricated(chargers, hidden)
    started = SystemClock().time()
    source = OpenData(lambda: take_snapshot(state, verdicts, inventory, SystemClock().time(), started))

    async def run() -> list[tuple[int, dict[str, str], Any]]:
        app = web.Application()
        add_opendata_routes(app, source)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            answers = []
            for path in requests:
                response = await client.get(path)
                answers.append((response.status, dict(response.headers), await response.json()))
            return answers

    return asyncio.run(run())


def test_a_charger_with_publish_false_appears_in_no_feed() -> None:
    paths = [path for path, _ in FEED_PATHS] + ["/ocpi/2.2.1/locations/cp-002", "/ocpi/2.2.1/locations/cp-001"]
    answers = _serve(3, {"cp-002"}, paths)
    for (status, _, body), path in zip(answers[:-2], paths, strict=False):
        assert status == 200, path
        assert "cp-002" not in json.dumps(body) and "CP002" not in json.dumps(body), path
    assert "cp-001" in json.dumps(answers[3][2])
    missing, found = answers[-2], answers[-1]
    assert missing[0] == 404 and missing[2]["status_code"] == 2003 and "data" not in missing[2]
    assert found[0] == 200 and found[2]["data"]["id"] == "cp-001"
    assert problems("ocpi", found[2]) == []


FEED_PATHS = [(f"/{path}", schema) for path, schema in FEEDS.items()]


def test_ocpi_pagination_and_bad_parameters() -> None:
    answers = _serve(7, set(), [
        "/ocpi/2.2.1/locations?limit=3",
        "/ocpi/2.2.1/locations?offset=6&limit=3",
        "/ocpi/2.2.1/locations?date_from=2999-01-01T00:00:00Z",
        "/ocpi/2.2.1/locations?date_to=2999-01-01T00:00:00",
        "/ocpi/2.2.1/locations?date_from=yesterday",
        "/ocpi/2.2.1/locations?limit=-1",
        "/ocpi/2.2.1/locations/cp-003/cp-003-2/2",
        "/ocpi/2.2.1/locations/cp-003/cp-003-9",
    ])
    (first, head, page), (last, last_head, tail) = answers[0], answers[1]
    assert first == 200 and [location["id"] for location in page["data"]] == ["cp-001", "cp-002", "cp-003"]
    assert (head["X-Total-Count"], head["X-Limit"]) == ("7", "500")
    assert head["Link"] == '</ocpi/2.2.1/locations?limit=3&offset=3>; rel="next"'
    assert last == 200 and [location["id"] for location in tail["data"]] == ["cp-007"] and "Link" not in last_head
    assert answers[2][2]["data"] == [] and answers[2][1]["X-Total-Count"] == "0"
    assert len(answers[3][2]["data"]) == 7
    for status, _, body in answers[4:6]:
        assert status == 400 and body["status_code"] == 2001 and problems("ocpi", {**body, "data": []}) == []
    connector = answers[6]
    assert connector[0] == 200 and connector[2]["data"]["id"] == "2" and problems("ocpi", connector[2]) == []
    assert answers[7][0] == 404 and answers[7][2]["status_code"] == 2003


# --- the static data in the configuration --------------------------------------------------------------------------

CONFIG_HEAD = """\
devices:
  - {id: charger-001, kind: charger_modem, address: 127.0.0.5, lat: 51.8412, lon: 8.2634}
ocpp:
  listen: 127.0.0.1:9000
  auth: none
"""


def _load_config(tmp_path: Path, text: str) -> Inventory:
    path = tmp_path / "stadtnetz.yaml"
    path.write_text(CONFIG_HEAD + text, encoding="utf-8")
    return load_inventory(path)


def _errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load_config(tmp_path, text)
    return [str(issue).replace(str(tmp_path / "stadtnetz.yaml"), "F") for issue in caught.value.issues]


def test_a_published_charger_loads_with_its_static_data(tmp_path: Path) -> None:
    inventory = _load_config(tmp_path, """\
opendata:
  licence: CC0-1.0
  nuts: dea
  operator: {name: Stadtwerke Musterstadt, party_id: swm, website: "https://www.stadtwerke-musterstadt.example"}
chargers:
  - id: cp-001
    device: charger-001
    publish: true
    street: Marktplatz
    house_number: "1"
    postcode: 48990
    city: Musterstadt
    opening_hours:
      - {days: weekdays, open: "07:00", close: "20:00"}
      - {days: [sat], open: "08:00", close: "24:00"}
    connectors:
      - {standard: IEC_62196_T2, format: SOCKET, power_type: AC_3_PHASE, max_voltage: 230, max_amperage: 32}
      - {standard: iec_62196_t2_combo, format: CABLE, power_type: DC, max_voltage: 920, max_amperage: 200,
         max_electric_power: 150 kW}
  - {id: cp-002, device: charger-001, connectors: 2}
""")
    published, counted = inventory.chargers
    assert (published.publish, published.street, published.postcode, published.lat, published.lon) == (
        True, "Marktplatz", "48990", 51.8412, 8.2634)  # coordinates from its modem
    assert published.connectors == 2 and published.connector_info[0].power == 3 * 230 * 32
    assert published.connector_info[1] == ConnectorInfo("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 200, 150_000)
    assert published.opening_hours.periods[:2] == ((0, "07:00", "20:00"), (1, "07:00", "20:00"))
    assert (5, "08:00", "24:00") in published.opening_hours.periods
    assert (counted.publish, counted.connectors, counted.connector_info) == (False, 2, (ConnectorInfo(),) * 2)
    settings = inventory.opendata
    assert (settings.licence, settings.nuts, settings.attribution) == ("CC0-1.0", "DEA", "Stadtwerke Musterstadt")
    assert settings.operator is not None and settings.operator.operator_id == "DE*SWM"


def test_static_data_errors_name_file_line_and_field(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
opendata:
  operator:
    name: Stadtwerke Musterstadt
    party_id: SWMX
chargers:
  - id: cp-001
    device: charger-001
    publish: true
    street: Marktplatz
    postcode: "48990"
    city: Musterstadt
    connectors:
      - {standard: Type 2, format: SOCKET, power_type: AC_3_PHASE, max_voltage: 230, max_amperage: 32}
      - {standard: IEC_62196_T2, format: PLUG, power_type: AC_3_PHASE, max_voltage: 230, max_amperage: 32}
  - id: cp-002
    device: charger-001
    publish: true
    connectors: 2
  - id: cp-003
    device: charger-001
    publish: true
    street: Markt
    postcode: 01067
    city: Musterstadt
    connectors:
      - {standard: IEC_62196_T2, power_type: AC_3_PHASE, max_voltage: 230, max_amperage: 32}
    opening_hours:
      - {days: weekdays, open: "20:00", close: "07:00"}
""")
    assert errors == [
        "F:9: opendata.operator.party_id: a party_id has exactly 3 letters or digits (the operator id after the "
        "country, as in DE*SWM), not 'SWMX' (4 characters)",
        "F:18: chargers[0].connectors[0].standard: unknown connector standard 'Type 2': write IEC_62196_T2 (the names "
        "are OCPI's)",
        "F:19: chargers[0].connectors[1].format: unknown connector format 'PLUG': one of SOCKET, CABLE",
        "F:20: chargers[1].street: publish: true needs the charger's street (its address in the feeds)",
        "F:20: chargers[1].postcode: publish: true needs the charger's postcode (its address in the feeds)",
        "F:20: chargers[1].city: publish: true needs the charger's city (its address in the feeds)",
        "F:23: chargers[1].connectors: publish: true needs each connector's static data, a number only counts them: "
        "give one entry per connector with standard, format, power_type, max_voltage and max_amperage",
        "F:28: chargers[2].postcode: write the postcode in quotes, e.g. '01067': unquoted, YAML reads it as a number",
        "F:33: chargers[2].opening_hours[0]: close (07:00) must be after open (20:00) on the same day",
    ]


def test_publishing_needs_the_operator_and_each_connectors_data(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
chargers:
  - id: cp-001
    publish: true
    street: Marktplatz
    postcode: "48990"
    city: Musterstadt an der langen Landstraße im schönen Außenbereich
    connectors:
      - {standard: IEC_62196_T2, format: SOCKET, power_type: AC_3_PHASE, max_voltage: 230}
""")
    assert errors == [
        "F:8: chargers[0].publish: publish: true needs opendata.operator (its name and party_id)",
        "F:8: chargers[0].publish: publish: true needs coordinates: give lat and lon, or a modem (device) that has "
        "them",
        "F:11: chargers[0].city: a city has at most 45 characters in OCPI, not 60",
        "F:13: chargers[0].connectors[0]: publish: true needs connector 1's max_amperage",
    ]
