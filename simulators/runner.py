"""Runs a simulated city: generates it, serves it on the wire, and stops it cleanly.

Owns the lifetime of a simulation (what ``stadtnetz simulate`` and the tests
start): the city runtime, the SNMP agent and fault switches, together (and, once
started against a central system, the city's charge points: ``charge_points``),
served one of two ways:

* on loopback (default, no privileges): one UDP socket answers SNMP for every
  device on 127.20.x.y; pings are answered by the kernel, so ping latency, loss
  and down state are not simulated (a ``degrade`` fault still delays and drops
  SNMP answers);
* in a network namespace of the simulator's own (``netns=``, root): devices on
  198.19.x.y behind the TUN device ``sim0``, where :class:`~simulators.icmp.TunResponder`
  answers ICMP echo and SNMP with every device's simulated link (latency, jitter,
  loss by kind of device) and faults. Call :func:`start_simulation` from a thread
  that entered the namespace (:func:`simulators.netns.enter_current_thread`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from collectors.snmp.usm import UsmUser
from simulators import netns as netns_module
from simulators.behaviour import CityRuntime
from simulators.city import DEFAULT_DEVICES, City, generate_city, write_inventory_csv
from simulators.icmp import TunResponder
from simulators.netns import Namespace
from simulators.scenarios import Faults
from simulators.snmp_agent import DEFAULT_MAX_MESSAGE_SIZE, SnmpAgentServer
from stadtnetz.clock import Clock, SystemClock

if TYPE_CHECKING:
    from simulators.charge_points import ChargePoints

SNMP_PORT = 161  # in a namespace nothing else listens: port 0 means the standard port


@dataclass(slots=True)
class Simulation:
    city: City
    runtime: CityRuntime
    agent: SnmpAgentServer
    faults: Faults
    responder: TunResponder | None = None  # in a network namespace: answers ICMP and SNMP on the TUN device
    namespace: Namespace | None = None
    charge_points: ChargePoints | None = None  # the city's chargers, once started against a central system

    @property
    def port(self) -> int:
        return self.agent.port

    async def close(self) -> None:
        if self.charge_points is not None:
            await self.charge_points.stop()
        if self.responder is not None:
            self.responder.close()
        await self.agent.close()


async def start_simulation(
    devices: int = DEFAULT_DEVICES,
    seed: int = 1,
    port: int = 1161,
    community: bytes | None = b"public",  # None: no v1/v2c, SNMPv3 users only
    clock: Clock | None = None,
    inventory: Path | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    netns: Namespace | None = None,
    link_profiles: bool | None = None,
    v3_users: Sequence[UsmUser] = (),
) -> Simulation:
    """Generate and serve a city. ``port=0`` picks a free port (read it from ``Simulation.port``).

    ``netns``: serve inside this namespace through a TUN device (the calling
    thread must be in it; ``port=0`` means 161 there). ``link_profiles``: give
    devices the latency, jitter and loss of their kind; default: only in a namespace.
    """
    if netns is not None:
        return await _start_in_namespace(
            netns,
            devices,
            seed,
            port or SNMP_PORT,
            community,
            clock,
            inventory,
            max_message_size,
            True if link_profiles is None else link_profiles,
            v3_users,
        )
    agent = SnmpAgentServer(port=port, community=community, max_message_size=max_message_size, v3_users=v3_users)
    bound_port = agent.bind()
    city = generate_city(devices, seed=seed, port=bound_port)
    runtime = CityRuntime(city, clock or SystemClock(), link_profiles=bool(link_profiles))
    await agent.serve(runtime)
    if inventory is not None:
        write_inventory_csv(city, inventory)
    return Simulation(city, runtime, agent, Faults(runtime))


async def _start_in_namespace(
    namespace: Namespace,
    devices: int,
    seed: int,
    port: int,
    community: bytes | None,
    clock: Clock | None,
    inventory: Path | None,
    max_message_size: int,
    link_profiles: bool,
    v3_users: Sequence[UsmUser] = (),
) -> Simulation:
    if not netns_module.current_thread_in(namespace):
        raise RuntimeError(
            f"start_simulation(netns={namespace.name}) must run on a thread inside that namespace "
            "(simulators.netns.enter_current_thread)"
        )
    agent = SnmpAgentServer(port=port, community=community, max_message_size=max_message_size, v3_users=v3_users)
    city = generate_city(devices, seed=seed, port=port, address_base=netns_module.DEVICE_ADDRESS_BASE)
    runtime = CityRuntime(city, clock or SystemClock(), link_profiles=link_profiles)
    agent.attach(runtime)
    fd = netns_module.open_device_link(namespace)  # blocks for the `ip` commands: startup only
    responder = TunResponder(runtime, agent, fd)
    try:
        responder.start()
    except BaseException:
        os.close(fd)
        raise
    if inventory is not None:
        write_inventory_csv(city, inventory)
    return Simulation(city, runtime, agent, Faults(runtime), responder, namespace)
