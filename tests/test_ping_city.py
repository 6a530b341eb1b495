"""Ping against the simulated city in its own network namespace: our pinger and the whole service.

The simulator runs in a namespace it created (TUN device, devices on
198.19.x.y, per-device link latency, jitter and loss); the collector code runs
on a thread that entered that namespace. What the pinger measures must match
what the simulator was told, and a fibre cut must come out of the service as
one down switch with its subtree unreachable, with ping and SNMP both silent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import Iterator

import aiohttp
import pytest

from collectors.ping import Pinger, PingStats
from collectors.snmp.profiles import load_profiles
from simulators.city import KIND_DISTRIBUTION, KIND_HOTSPOT
from simulators.scenarios import Scenarios
from stadtnetz.app.demo import inventory_for_city
from stadtnetz.app.service import Service
from stadtnetz.status.topology import DeviceStatus, Status
from tests.support.simulation import ThreadedSimulation

pytestmark = pytest.mark.needs_root("a network namespace with a TUN device for the simulated city, raw ICMP")


@pytest.fixture(scope="module")
def city() -> Iterator[ThreadedSimulation]:
    with ThreadedSimulation(devices=600, seed=8, netns=True) as simulation:
        yield simulation


def test_every_device_answers_and_degradations_measure_as_set(city: ThreadedSimulation) -> None:
    devices = city.simulation.city.devices
    hotspots = [d for d in devices if d.kind == KIND_HOTSPOT]
    lossy, slow = hotspots[0], hotspots[1]
    city.call(city.simulation.faults.degrade, lossy.id, loss=0.3, rtt=0.0)
    city.call(city.simulation.faults.degrade, slow.id, loss=0.0, rtt=0.040)
    expected_slow = 2 * city.simulation.runtime.device(slow.id).latency + 0.040

    async def measure() -> tuple[dict[str, PingStats], PingStats, PingStats]:
        async with Pinger() as pinger:
            sweep = await pinger.sweep([d.address for d in devices], count=3, spread=1.5, timeout=1.0)
            lossy_stats, slow_stats = await asyncio.gather(
                pinger.ping(lossy.address, count=1000, spread=4.0, timeout=0.5),
                pinger.ping(slow.address, count=60, spread=3.0, timeout=1.0),
            )
        return sweep, lossy_stats, slow_stats

    try:
        sweep, lossy_stats, slow_stats = city.run_inside(measure)
    finally:
        city.call(city.simulation.faults.restore, lossy.id)
        city.call(city.simulation.faults.restore, slow.id)
    assert len(devices) >= 500 and set(sweep) == {d.address for d in devices}
    assert all(stats.received >= 1 for stats in sweep.values())  # every device answers
    complete = sum(1 for stats in sweep.values() if stats.received == stats.sent)
    assert complete >= 0.97 * len(devices)  # LTE charger modems lose ~1 %, the rest nothing
    assert 0.25 <= lossy_stats.loss <= 0.35, lossy_stats.loss
    median = statistics.median(slow_stats.rtts)
    assert abs(median - expected_slow) <= 0.003, (median, expected_slow)
    # the link profiles are visible: a charger modem on LTE is slower than a core router
    by_id = {d.id: d for d in devices}
    core = statistics.median(sweep[by_id["core-1"].address].rtts)
    charger = statistics.median(sweep[next(d for d in devices if d.kind == "charger_modem").address].rtts)
    assert charger > core + 0.010


def test_fibre_cut_with_ping_and_snmp_is_one_down_switch(city: ThreadedSimulation) -> None:
    switch = [d.id for d in city.simulation.city.devices if d.kind == KIND_DISTRIBUTION][3]
    scenarios = city.call(lambda: Scenarios(city.simulation.faults))
    below = scenarios.subtree(switch)[1:]
    inventory = inventory_for_city(city.simulation.city, b"public", interval=3.0, listen_port=0)
    inventory.settings = dataclasses.replace(inventory.settings, ping_count=2, ping_timeout=1.0)
    inventory.devices = [dataclasses.replace(d, timeout=1.0, retries=1) for d in inventory.devices]

    async def scenario() -> dict[str, object]:
        service = Service(inventory, load_profiles(), inventory.devices, listen_host="127.0.0.1")
        changes: list[tuple[str, Status]] = []
        service.reachability.extra_on_change = lambda device, old, new, now: changes.append((device, new.status))
        await service.start()
        status = service.reachability.board.status
        try:
            assert service.pinger is not None, service.ping_problem  # root: a raw ICMP socket inside the namespace

            async def until(condition: object, timeout: float, phase: str) -> float:
                started = time.monotonic()
                while time.monotonic() - started < timeout:
                    if condition():  # type: ignore[operator]
                        return time.monotonic() - started
                    await asyncio.sleep(0.1)
                not_up = {d: s for d, s in status.items() if s.status not in (Status.UP, Status.DEGRADED)}
                raise AssertionError(f"{phase}: not reached in {timeout} s; not up: {not_up}")

            await until(lambda: all(s.status in (Status.UP, Status.DEGRADED) for s in status.values()), 40, "start")
            async with aiohttp.ClientSession() as http, http.get(f"{service.url}metrics") as response:
                metrics = await response.text()
            changes.clear()
            city.call(scenarios.run, f"fibre-cut {switch}")
            cut = await until(
                lambda: (
                    status[switch] == DeviceStatus(Status.DOWN, switch)
                    and all(status[d] == DeviceStatus(Status.UNREACHABLE, switch) for d in below)
                ),
                30,
                "cut",
            )
            city.call(scenarios.run, f"repair {switch}")
            repaired = await until(lambda: all(status[d].status is Status.UP for d in [switch, *below]), 30, "repair")
            return {
                "metrics": metrics,
                "changes": list(changes),
                "cut": cut,
                "repaired": repaired,
                "ping": service.state[below[0]].ping,
            }
        finally:
            await service.stop()

    outcome = city.run_inside(scenario, timeout=120)
    problems = {device for device, new in outcome["changes"] if new in (Status.DOWN, Status.UNREACHABLE)}  # type: ignore[union-attr]
    assert problems == {switch, *below}  # nothing else went down or unreachable
    assert not [d for d, new in outcome["changes"] if new is Status.DOWN and d != switch]  # type: ignore[union-attr]
    assert outcome["cut"] < 15  # seconds from the cut to the verdict, with a 3 s interval
    ping = outcome["ping"]
    assert ping is not None and ping.sent_total > ping.received_total > 0  # pinged before, during, after
    # the ping scheduler's own numbers are on /metrics beside the SNMP scheduler's
    metrics = {
        name: float(value)
        for name, value in (line.rsplit(" ", 1) for line in str(outcome["metrics"]).splitlines())
        if not name.startswith("#")
    }
    assert metrics["stadtnetz_ping_scheduler_devices"] == len(inventory.devices)
    assert metrics["stadtnetz_ping_scheduler_polls_started_total"] >= len(inventory.devices)
    assert metrics["stadtnetz_ping_scheduler_lag_seconds_count"] >= len(inventory.devices)
    assert metrics["stadtnetz_scheduler_devices"] == len(inventory.devices)
