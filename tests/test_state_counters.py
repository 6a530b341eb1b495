"""Counters in the state: wraps unfolded, reboots and resets recognised, no negative or absurd rates.

First the rules on their own, then the real thing: our poller reads the
simulated city over SNMP on a frozen clock, the simulator injects counter
wraps and reboots, and the state's totals must never decrease while its
rates stay within what the interfaces can carry.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Iterator

import pytest

from collectors.snmp.client import SnmpClient
from collectors.snmp.poller import SnmpPoller
from collectors.snmp.profiles import load_profiles
from simulators.city import KIND_CHARGER_MODEM, KIND_DISTRIBUTION, KIND_HOTSPOT
from stadtnetz.app.demo import inventory_for_city
from stadtnetz.clock import ManualClock
from stadtnetz.labels import Labels
from stadtnetz.model import MetricKind, PollStatus
from stadtnetz.status.state import WRAP32, State, counter_step, device_rebooted
from tests.support.simulation import ThreadedSimulation

GBIT = 125_000_000.0  # bytes per second


# ------------------------------------------------------------------ the rules


def test_growth_is_traffic() -> None:
    step = counter_step(1_000, 61_000, 64, 60.0, rebooted=False, speed=GBIT)
    assert (step.delta, step.rate, step.discontinuity) == (60_000, 1_000.0, False)


def test_counter32_going_down_is_a_wrap() -> None:
    step = counter_step(WRAP32 - 1_000, 5_000, 32, 60.0, rebooted=False, speed=GBIT)
    assert step.delta == 6_000 and step.rate == 100.0 and not step.discontinuity


def test_a_wrap_faster_than_the_link_is_not_a_wrap() -> None:
    # 4 GB in 10 s on a 100 Mbit/s port: impossible, so this was a reset, and nothing is counted
    step = counter_step(5_000, 1_000, 32, 10.0, rebooted=False, speed=GBIT / 10)
    assert step.delta == 0 and math.isnan(step.rate) and step.discontinuity


def test_counter64_going_down_is_a_reset_counted_from_zero() -> None:
    step = counter_step(10**15, 4_000, 64, 60.0, rebooted=False, speed=GBIT)
    assert step.delta == 4_000 and step.discontinuity


def test_after_a_reboot_the_new_reading_is_the_traffic_since() -> None:
    step = counter_step(10**12, 7_000, 64, 60.0, rebooted=True, speed=GBIT)
    assert step.delta == 7_000 and step.discontinuity


def test_a_jump_beyond_the_interface_speed_is_not_traffic() -> None:
    step = counter_step(0, 10**12, 64, 60.0, rebooted=False, speed=GBIT)
    assert step.delta == 0 and math.isnan(step.rate)


@pytest.mark.parametrize(
    ("previous", "current", "elapsed", "rebooted"),
    [
        (500_000, 560_000, 600.0, False),  # 600 s passed, uptime grew by 600 s
        (500_000, 3_000, 60.0, True),  # uptime 30 s after 60 s: restarted
        (500_000, 400_000, 60.0, True),  # went backwards
        (2**32 - 1_000, 5_000, 60.0, False),  # sysUpTime itself wrapped after 497 days
        (None, 100, 60.0, False),  # nothing to compare with
    ],
)
def test_reboot_detection(previous: int | None, current: int, elapsed: float, rebooted: bool) -> None:
    assert device_rebooted(previous, current, elapsed) is rebooted


# ------------------------------------------------------------------ against the simulated city


@pytest.fixture(scope="module")
def city() -> Iterator[tuple[ThreadedSimulation, ManualClock]]:
    clock = ManualClock(1_781_046_000.0 + 12 * 3600)
    with ThreadedSimulation(devices=40, seed=5, clock=clock) as simulation:
        yield simulation, clock


def poll_all(poller: SnmpPoller, device_ids: list[str]) -> None:
    """One poll of each device, with a fresh client (a client lives on one event loop)."""
    devices = {s.device.id: s.device for s in poller.state.devices.values()}

    async def run() -> None:
        async with SnmpClient() as client:
            poller.client = client
            for device_id in device_ids:
                await poller.poll(devices[device_id])

    asyncio.run(run())


def counters(state: State, device_id: str) -> dict[tuple[str, Labels], tuple[int, float]]:
    """(metric name, labels) -> (monotonic total, last rate) of every counter of a device."""
    device = state[device_id]
    return {
        (metric.name, labels): (total, device.value(metric, labels))
        for metric, labels, total in device.series()
        if metric.kind is MetricKind.COUNTER
    }


def test_wraps_and_reboots_give_monotonic_totals_and_sane_rates(city: tuple[ThreadedSimulation, ManualClock]) -> None:
    sim, clock = city
    inventory = inventory_for_city(sim.simulation.city, b"public", interval=60.0)
    chosen = [
        next(d.id for d in sim.simulation.city.devices if d.kind == kind)
        for kind in (KIND_DISTRIBUTION, KIND_HOTSPOT, KIND_CHARGER_MODEM)
    ]
    devices = [d for d in inventory.devices if d.id in chosen]
    state = State(devices, clock)
    poller = SnmpPoller(SnmpClient(), load_profiles(), state, inventory, clock)
    speeds = {d.id: {i.index: i.speed_bps / 8 for i in d.interfaces} for d in sim.simulation.city.devices}
    faults = sim.simulation.faults
    history: dict[tuple[str, tuple[str, str]], list[int]] = {}
    checked_rates = 0
    for step in range(30):
        if step == 5:
            for device_id in chosen:
                sim.call(faults.counter_wrap, device_id, 20.0)
        if step == 12:
            sim.call(faults.reboot, chosen[1], 10.0)
        if step == 20:
            sim.call(faults.reboot, chosen[0], 0.0)
            sim.call(faults.counter_wrap, chosen[2], 5.0)
        poll_all(poller, chosen)
        for device_id in chosen:
            if step == 12 and device_id == chosen[1]:
                assert state[device_id].status is PollStatus.TIMEOUT  # silent while it reboots
                continue
            assert state[device_id].status is PollStatus.OK, state[device_id].error
            for key, (total, rate) in counters(state, device_id).items():
                history.setdefault((device_id, key), []).append(total)
                if math.isnan(rate):
                    continue
                assert rate >= 0
                if key[0].endswith("_bytes"):
                    if_index = int(key[1].get("if_index") or 0)
                    assert rate <= speeds[device_id][if_index] * 1.5, (device_id, key, rate)
                    checked_rates += 1
        clock.advance(60)
    assert checked_rates > 500
    for (device_id, key), totals in history.items():
        assert all(b >= a for a, b in itertools.pairwise(totals)), (device_id, key, totals)
    assert state.discontinuities > 0  # the reboots were noticed as such


def test_rates_match_the_simulators_traffic(city: tuple[ThreadedSimulation, ManualClock]) -> None:
    sim, clock = city
    inventory = inventory_for_city(sim.simulation.city, b"public", interval=60.0)
    hotspot = next(d for d in inventory.devices if d.kind == KIND_HOTSPOT)
    state = State([hotspot], clock)
    poller = SnmpPoller(SnmpClient(), load_profiles(), state, inventory, clock)
    runtime = sim.simulation.runtime.device(hotspot.id)
    uplink = runtime.interfaces[0]
    poll_all(poller, [hotspot.id])
    before = sim.call(lambda: uplink.octets(runtime.epoch, clock.time()))
    clock.advance(60)
    poll_all(poller, [hotspot.id])
    after = sim.call(lambda: uplink.octets(runtime.epoch, clock.time()))
    truth = (after[0] - before[0]) / 60
    receive = next(
        rate
        for (name, labels), (_, rate) in counters(state, hotspot.id).items()
        if name == "stadtnetz_interface_receive_bytes" and labels.get("if_index") == "1"
    )
    assert receive == pytest.approx(truth, rel=1e-9)
    utilisation = next(
        value
        for metric, labels, value in state[hotspot.id].series()
        if metric.name == "stadtnetz_interface_utilisation_ratio"
        and labels.matches({"if_index": "1", "direction": "receive"}.items())
    )
    assert utilisation == pytest.approx(truth / (uplink.spec.speed_bps / 8))
