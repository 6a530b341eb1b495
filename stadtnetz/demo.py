"""The demo: a simulated city and the service polling it, in one process, no configuration needed.

Owns turning a running simulation into the inventory the service polls
(what a configuration file would otherwise say) and running both together.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from simulators.city import City
from stadtnetz.model import Device, Inventory, Settings, SnmpCredentials
from stadtnetz.secrets import Secret
from stadtnetz.service import Service

if TYPE_CHECKING:
    from simulators.netns import Namespace
    from simulators.runner import Simulation

DEMO_CREDENTIALS = "simulated-city"


def inventory_for_city(city: City, community: bytes, interval: float = 15.0, listen_port: int = 9873) -> Inventory:
    """The inventory of a simulated city: every device, polled every ``interval`` seconds."""
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
        )
        for spec in city.devices
    ]
    credentials = {DEMO_CREDENTIALS: SnmpCredentials(DEMO_CREDENTIALS, 1, Secret(community.decode(), "demo"))}
    groups: dict[str, list[str]] = {}
    for device in devices:
        groups.setdefault(device.kind, []).append(device.id)
    return Inventory(settings, credentials, devices, {k: tuple(v) for k, v in groups.items()})


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
) -> None:
    """Serve a simulated city and poll it until ``stop`` is set.

    ``listen`` and ``control`` are listening sockets made beforehand (in the
    host's network namespace, so they stay reachable when this thread runs in
    ``namespace``). In a namespace the devices live behind its TUN device and
    are pinged too; on loopback the kernel would answer every ping for them, so
    they are polled over SNMP only. The simulator takes ``sim_port`` if free,
    else any free port.
    """
    from collectors.snmp.profiles import load_profiles
    from simulators.control import serve_control
    from simulators.runner import start_simulation
    from simulators.scenarios import Scenarios

    try:
        simulation = await start_simulation(devices, seed=seed, port=sim_port, netns=namespace)
    except OSError:
        simulation = await start_simulation(devices, seed=seed, port=0, netns=namespace)
    control_runner, control_url = None, ""
    try:
        if control is not None:
            control_runner, control_url = await serve_control(Scenarios(simulation.faults), control)
        inventory = inventory_for_city(simulation.city, b"public", interval=interval)
        service = Service(
            inventory, load_profiles(), inventory.devices, listen_socket=listen, ping=namespace is not None
        )
        url = await service.start()
        try:
            announce(url, control_url, simulation, service)
            await stop.wait()
        finally:
            await service.stop()
    finally:
        if control_runner is not None:
            await control_runner.cleanup()
        await simulation.close()
