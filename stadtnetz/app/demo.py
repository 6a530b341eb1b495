"""The demo: a simulated city and the service polling it, in one process, no configuration needed.

Owns turning a running simulation into the inventory the service polls
(what a configuration file would otherwise say: its devices and, with OCPP,
its charge points behind their modems, published in the open data feeds with
their simulated addresses and connectors, the operator a fictional Stadtwerk's;
its simulated address list for the planning figures) and running both together: the city, the service, and the
city's chargers dialling the service's OCPP endpoint.
The demo takes the secure path too: its endpoint asks every charger for a
password (ocpp.auth basic), one made up per run and known only to the
process, which its simulated chargers present.

A composition root like the service:
May import: everything but stadtnetz.cli.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from simulators.city import City
from stadtnetz.app.service import Service
from stadtnetz.model import (
    Charger,
    Device,
    HistorySettings,
    Inventory,
    OcppSettings,
    OpenDataSettings,
    Operator,
    PlanningSettings,
    Settings,
    SnmpCredentials,
    V3User,
    WebSettings,
)
from stadtnetz.secrets import Secret

if TYPE_CHECKING:
    from collectors.snmp.usm import UsmUser
    from simulators.netns import Namespace
    from simulators.runner import Simulation
    from stadtnetz.maintenance import MaintenanceWindow

DEMO_CREDENTIALS = "simulated-city"
DEMO_OCPP_PORT = 9875  # the demo's OCPP endpoint, if free (else any free port)
DEMO_HEARTBEAT = 30.0  # seconds; a charger is offline after 3 without a message
DEMO_OPERATOR = Operator(  # fictional, like the city: the operator the demo's open data feeds name
    name="Stadtwerke Musterstadt",
    party_id="SWM",
    legal_name="Stadtwerke Musterstadt GmbH",
    website="https://www.stadtwerke-musterstadt.example",
    email="ladeservice@stadtwerke-musterstadt.example",
)


def inventory_for_city(
    city: City,
    community: bytes,
    interval: float = 15.0,
    listen_port: int = 9873,
    ocpp_port: int | None = None,
    heartbeat_interval: float = DEMO_HEARTBEAT,
    charger_password: str | None = None,
    v3_user: V3User | None = None,
) -> Inventory:
    """The inventory of a simulated city: every device, polled every ``interval`` seconds.

    With ``ocpp_port`` (0: any free port) also the city's charge points, each behind
    its modem, and the OCPP endpoint on 127.0.0.1 they connect to: each charger with
    ``charger_password`` (Basic auth), or, without one, ``auth: none``. With ``v3_user`` the devices are polled
    over SNMPv3 as that user instead of with ``community``.
    """
    settings = Settings(interval=interval, timeout=1.0, retries=1, concurrency=256, listen_port=listen_port)
    devices = [
        Device(
            id=spec.id,
            kind=spec.kind,
            host=spec.address,
            port=spec.port,
            site=spec.site,
            district=spec.district,
            lat=spec.lat,
            lon=spec.lon,
            upstream=spec.upstream,
            tags=spec.tags,
            credentials=DEMO_CREDENTIALS,
            interval=interval,
            timeout=settings.timeout,
            retries=settings.retries,
            model=spec.model.name,
            backhaul=spec.backhaul,
        )
        for spec in city.devices
    ]
    credential = (
        SnmpCredentials(DEMO_CREDENTIALS, 1, Secret(community.decode(), "demo"))
        if v3_user is None
        else SnmpCredentials(DEMO_CREDENTIALS, 3, user=v3_user)
    )
    credentials = {DEMO_CREDENTIALS: credential}
    groups: dict[str, list[str]] = {}
    for device in devices:
        groups.setdefault(device.kind, []).append(device.id)
    inventory = Inventory(settings, credentials, devices, {k: tuple(v) for k, v in groups.items()})
    # the simulated city is test data: its DATEX II publications say so
    inventory.opendata = OpenDataSettings(operator=DEMO_OPERATOR, nuts="DEA", test=True, attribution=DEMO_OPERATOR.name)
    by_id = city.by_id()
    if ocpp_port is not None and city.chargers:
        inventory.ocpp = OcppSettings(
            listen=("127.0.0.1", ocpp_port),
            heartbeat_interval=heartbeat_interval,
            offline_after=3.0,
            auth="basic" if charger_password is not None else "none",
        )
        password = Secret(charger_password, "demo") if charger_password is not None else None
        inventory.chargers = [
            Charger(
                spec.id,
                device=spec.device,
                site=spec.site,
                district=spec.district,
                connectors=spec.connectors,
                password=password,
                publish=True,
                name=spec.site,
                street=spec.street,
                house_number=spec.house_number,
                postcode=spec.postcode,
                city=spec.town,
                lat=by_id[spec.device].lat,
                lon=by_id[spec.device].lon,
                connector_info=spec.connector_info,
            )
            for spec in city.chargers
        ]
    return inventory


def planning_for_city(city: City, folder: Path, seed: int) -> PlanningSettings:
    """The city's planning inputs (simulators/addresses.py: about six addresses per device, and trench routes),
    written into ``folder``, so the demo exports the ``stadtnetz_planning_*`` figures as a configured service does.
    No area check: a city bigger than the default one spreads beyond :data:`simulators.addresses.CITY_AREA`."""
    from simulators.addresses import (
        CITY_AGS,
        generate_addresses,
        generate_routes,
        write_addresses_csv,
        write_routes_geojson,
    )

    addresses, routes = folder / "addresses.csv", folder / "trenches.geojson"
    write_addresses_csv(generate_addresses(city, max(100, len(city.devices) * 6), seed), addresses)
    write_routes_geojson(generate_routes(city, seed), routes)
    return PlanningSettings(address_files=(addresses,), routes=routes, ags=(CITY_AGS,))


def _free_or_any(host: str, port: int) -> int:
    """``port`` if a TCP listener could take it on ``host`` now, else 0 (any free port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return 0
    return port


def _demo_v3_user(folder: Path) -> tuple[V3User, list[UsmUser]]:
    """The demo's SNMPv3 user: passphrases made for this run, written to files only the owner can read."""
    from collectors.snmp.poller import usm_user

    keys = []
    for name in ("snmpv3-auth-key", "snmpv3-priv-key"):
        path = folder / name
        value = secrets.token_urlsafe(18)
        path.touch(mode=0o600)
        path.write_text(value)
        keys.append(Secret(value, f"file:{path}"))
    auth, priv = keys
    user = V3User("demo", auth_protocol="sha256", auth_key=auth, priv_protocol="aes", priv_key=priv)
    return user, [usm_user(user)]


async def run_demo(
    devices: int,
    seed: int,
    sim_port: int,
    listen: socket.socket,
    control: socket.socket | None,
    interval: float,
    stop: asyncio.Event,
    announce: Callable[[str, str, Simulation, Service], None],
    namespace: Namespace | None = None,
    *,
    ocpp_port: int = DEMO_OCPP_PORT,
    heartbeat_interval: float = DEMO_HEARTBEAT,
    charger_tick: float | None = None,
    history: Path | bool | None = None,
    maintenance: Sequence[MaintenanceWindow] = (),
    snmp_v3: bool = False,
) -> None:
    """Serve a simulated city and poll it until ``stop`` is set.

    ``listen`` and ``control`` are listening sockets made beforehand (in the
    host's network namespace, so they stay reachable when this thread runs in
    ``namespace``). In a namespace the devices live behind its TUN device and
    are pinged too; on loopback the kernel would answer every ping for them, so
    they are polled over SNMP only. The simulator takes ``sim_port`` if free,
    else any free port.

    The city's charge points connect to the service's OCPP endpoint on
    127.0.0.1 (``ocpp_port`` if free, else any free port; in ``namespace``, its
    own loopback), an activity step every ``charger_tick`` seconds (default
    :data:`simulators.charge_points.DEMO_TICK`); they are in
    ``simulation.charge_points`` and the control API's ``charger-*`` scenarios.
    ``history`` keeps the history in that SQLite file (so the chargers' availability is exported; True: in a
    temporary file for the run), ``maintenance`` declares maintenance windows, as a configuration's ``history:``
    and ``maintenance:`` do.

    The status page's public pages are on (``web.public``); with a history the status page shows incidents and
    availability bars. ``snmp_v3``: the devices answer, and are polled, only as SNMPv3 user ``demo`` (authPriv,
    SHA-256/AES-128) with passphrases made for the run, in files of a temporary folder (their paths are the
    keys' sources in the inventory, for the announcement).
    """
    from collectors.snmp.profiles import load_profiles
    from simulators.charge_points import DEMO_TICK, ChargePoints
    from simulators.control import serve_control
    from simulators.runner import start_simulation
    from simulators.scenarios import Scenarios

    planning_folder = tempfile.TemporaryDirectory(prefix="stadtnetz-demo-planning-")
    v3_user, usm_users = _demo_v3_user(Path(planning_folder.name)) if snmp_v3 else (None, [])
    community = None if snmp_v3 else b"public"
    try:
        simulation = await start_simulation(
            devices, seed=seed, port=sim_port, netns=namespace, v3_users=usm_users, community=community
        )
    except OSError:
        simulation = await start_simulation(
            devices, seed=seed, port=0, netns=namespace, v3_users=usm_users, community=community
        )
    control_runner, control_url = None, ""
    scenarios = Scenarios(simulation.faults)
    try:
        if control is not None:
            control_runner, control_url = await serve_control(scenarios, control)
        charger_password = secrets.token_urlsafe(18)  # this run's; the simulated chargers present it
        inventory = inventory_for_city(
            simulation.city,
            b"public",
            interval=interval,
            ocpp_port=_free_or_any("127.0.0.1", ocpp_port) if ocpp_port else 0,
            heartbeat_interval=heartbeat_interval,
            charger_password=charger_password,
            v3_user=v3_user,
        )
        inventory.planning = planning_for_city(simulation.city, Path(planning_folder.name), seed)
        inventory.web = WebSettings(public=True, title="Stadtnetz Musterstadt")
        if history is True:  # a temporary file for the run
            inventory.history = HistorySettings(path=Path(planning_folder.name) / "history.sqlite")
        elif history:
            inventory.history = HistorySettings(path=Path(history))
        inventory.maintenance = list(maintenance)
        service = Service(
            inventory, load_profiles(), inventory.devices, listen_socket=listen, ping=namespace is not None
        )
        url = await service.start()
        try:
            if service.ocpp_url:  # the chargers dial from this thread: the service's namespace, its loopback
                chargers = ChargePoints(
                    simulation.city,
                    service.ocpp_url,
                    simulation.runtime,
                    tick=charger_tick or DEMO_TICK,
                    password=charger_password,
                )
                chargers.start()
                simulation.charge_points = scenarios.chargers = chargers
            announce(url, control_url, simulation, service)
            await stop.wait()
        finally:
            if simulation.charge_points is not None:
                await simulation.charge_points.stop()  # before the endpoint goes: no reconnecting to nothing
            await service.stop()
    finally:
        if control_runner is not None:
            await control_runner.cleanup()
        await simulation.close()
        planning_folder.cleanup()
