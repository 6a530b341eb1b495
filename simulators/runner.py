"""Runs a simulated city: generates it, serves it on the wire, and stops it cleanly.

Owns the lifetime of a simulation (what ``stadtnetz simulate`` and the tests
start): the city runtime, the SNMP agent socket and fault switches, together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulators.behaviour import CityRuntime
from simulators.city import DEFAULT_DEVICES, City, generate_city, write_inventory_csv
from simulators.scenarios import Faults
from simulators.snmp_agent import DEFAULT_MAX_MESSAGE_SIZE, SnmpAgentServer
from stadtnetz.clock import Clock, SystemClock


@dataclass(slots=True)
class Simulation:
    city: City
    runtime: CityRuntime
    agent: SnmpAgentServer
    faults: Faults

    @property
    def port(self) -> int:
        return self.agent.port

    async def close(self) -> None:
        await self.agent.close()


async def start_simulation(
    devices: int = DEFAULT_DEVICES,
    seed: int = 1,
    port: int = 1161,
    community: bytes = b"public",
    clock: Clock | None = None,
    inventory: Path | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
) -> Simulation:
    """Generate and serve a city. ``port=0`` picks a free port (read it from ``Simulation.port``)."""
    agent = SnmpAgentServer(port=port, community=community, max_message_size=max_message_size)
    bound_port = agent.bind()
    city = generate_city(devices, seed=seed, port=bound_port)
    runtime = CityRuntime(city, clock or SystemClock())
    await agent.serve(runtime)
    if inventory is not None:
        write_inventory_csv(city, inventory)
    return Simulation(city, runtime, agent, Faults(runtime))
