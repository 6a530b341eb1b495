"""Device status end to end: the service polling the simulated city while faults are injected.

A fibre cut under a distribution switch must read as one down switch and its
subtree unreachable with that switch as root cause, nothing else changing,
and no device behind the cut ever called down; after the repair everything
is up again. A device coming and going is marked flapping, and unmarked once
it settles. (SNMP only here: on loopback the kernel would answer pings for
silenced devices; the namespace tests cover ping.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator

import pytest

from collectors.snmp.profiles import load_profiles
from simulators.city import KIND_DISTRIBUTION
from stadtnetz.app.demo import inventory_for_city
from stadtnetz.app.service import Service
from stadtnetz.status.topology import DeviceStatus, Status
from tests.support.simulation import ThreadedSimulation

INTERVAL = 2.0


@pytest.fixture()
def city() -> Iterator[ThreadedSimulation]:
    with ThreadedSimulation(devices=80, seed=13) as simulation:
        yield simulation


async def until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout} s")


def service_for(
    sim: ThreadedSimulation, interval: float = INTERVAL, timeout: float = 0.5
) -> tuple[Service, list[tuple[str, DeviceStatus, DeviceStatus]]]:
    inventory = inventory_for_city(sim.simulation.city, b"public", interval=interval, listen_port=0)
    inventory.devices = [dataclasses.replace(d, timeout=timeout, retries=1) for d in inventory.devices]
    service = Service(inventory, load_profiles(), inventory.devices, listen_host="127.0.0.1", ping=False)
    changes: list[tuple[str, DeviceStatus, DeviceStatus]] = []
    service.reachability.extra_on_change = lambda device, old, new, now: changes.append((device, old, new))
    return service, changes


def subtree(sim: ThreadedSimulation, root: str) -> list[str]:
    below = [root]
    for device in sim.simulation.city.devices:
        if device.upstream in below:
            below.append(device.id)
    return below


def test_fibre_cut_is_one_down_switch_and_its_subtree_unreachable(city: ThreadedSimulation) -> None:
    switch = [d.id for d in city.simulation.city.devices if d.kind == KIND_DISTRIBUTION][1]
    behind = subtree(city, switch)[1:]
    assert len(behind) >= 10

    async def scenario() -> None:
        service, changes = service_for(city)
        await service.start()
        try:
            status = service.reachability.board.status
            await until(lambda: all(s.status is Status.UP for s in status.values()), 3 * INTERVAL, "all up")
            changes.clear()
            for device_id in [switch, *behind]:  # the cut: the switch and everything below fall silent
                city.call(city.simulation.faults.silence, device_id)
            await until(
                lambda: (
                    status[switch] == DeviceStatus(Status.DOWN, switch)
                    and all(status[d] == DeviceStatus(Status.UNREACHABLE, switch) for d in behind)
                ),
                3 * INTERVAL + 6,
                "switch down, subtree unreachable",
            )
            await asyncio.sleep(2 * INTERVAL)  # and it stays that way
            assert status[switch] == DeviceStatus(Status.DOWN, switch)
            assert {device for device, _, _ in changes} == {switch, *behind}  # nothing else changed
            assert not [d for d, _, new in changes if d != switch and new.status is Status.DOWN]
            exported = service.state[behind[0]]
            assert (exported.health, exported.root_cause) == (Status.UNREACHABLE, switch)

            changes.clear()
            for device_id in [switch, *behind]:  # repair
                city.call(city.simulation.faults.restore, device_id)
            await until(lambda: all(s.status is Status.UP for s in status.values()), 3 * INTERVAL + 6, "all up")
            assert not [d for d, _, new in changes if new.status is Status.DOWN]  # nobody was ever "down"
        finally:
            await service.stop()

    asyncio.run(scenario())


def test_a_flapping_hotspot_is_marked_and_unmarked(city: ThreadedSimulation) -> None:
    hotspot = next(d.id for d in city.simulation.city.devices if d.kind == "hotspot")

    async def scenario() -> None:
        service, _ = service_for(city, interval=1.0, timeout=0.3)
        await service.start()
        try:
            state = service.state[hotspot]
            await until(lambda: state.health is Status.UP, 5, "hotspot up")
            detector = service.reachability.flaps
            # come and go: silent for one poll, back for the next, again and again
            while not state.flapping:
                silent = not city.simulation.runtime.device(hotspot).silent(city.simulation.runtime.clock.time())
                if silent:
                    city.call(city.simulation.faults.silence, hotspot)
                else:
                    city.call(city.simulation.faults.restore, hotspot)
                before = len(detector.devices[hotspot].history)
                await until(lambda b=before: len(detector.devices[hotspot].history) > b, 5, "a poll")
                assert len(detector.devices[hotspot].history) < 21, "never marked flapping"
            city.call(city.simulation.faults.restore, hotspot)
            marked_at = detector.devices[hotspot].change
            assert marked_at >= 0.5
            # stable again: flapping ends once the change share falls below the low threshold, not before
            await until(lambda: not state.flapping, 40, "flapping ends")
            assert detector.devices[hotspot].change < 0.25
        finally:
            await service.stop()

    asyncio.run(scenario())
