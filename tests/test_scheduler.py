"""The scheduler: every live device polled every interval even when a fifth of the city is silent;
stable phases spread over the interval; overruns skipped, not queued; shards that split an inventory."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time

from collectors.snmp.client import SnmpClient
from collectors.snmp.poller import SnmpPoller
from collectors.snmp.profiles import load_profiles
from stadtnetz.app.demo import inventory_for_city
from stadtnetz.app.scheduler import Scheduler, parse_shard, phase_offset, shard_devices, shard_of
from stadtnetz.clock import SystemClock
from stadtnetz.model import Device, PollStatus
from stadtnetz.status.state import State
from tests.support.simulation import ThreadedSimulation

INTERVAL = 2.0


def test_silent_fifth_of_the_city_delays_no_live_device() -> None:
    with ThreadedSimulation(devices=100, seed=21) as sim:
        inventory = inventory_for_city(sim.simulation.city, b"public", interval=INTERVAL)
        devices = inventory.devices
        silent = {d.id for d in devices[::5]}  # 20 %
        for device_id in silent:
            sim.call(sim.simulation.faults.silence, device_id)
        clock = SystemClock()
        state = State(devices, clock)
        starts: dict[str, list[float]] = {d.id: [] for d in devices}
        started: list[float] = []

        async def run() -> None:
            async with SnmpClient(max_in_flight=64) as client:
                poller = SnmpPoller(client, load_profiles(), state, inventory, clock)

                async def poll(device: Device) -> None:
                    starts[device.id].append(time.monotonic())
                    await poller.poll(device)

                # concurrency far below the device count: silent devices (1 s per attempt, 2 attempts,
                # longer than the interval) must not take the live ones' turns
                scheduler = Scheduler(
                    devices,
                    poll,
                    concurrency=12,
                    clock=clock,
                    unreachable=lambda device: state[device.id].status is PollStatus.TIMEOUT,
                )
                stop = asyncio.Event()
                started.append(time.monotonic())
                task = asyncio.create_task(scheduler.run(stop))
                await asyncio.sleep(6 * INTERVAL + 0.5)
                stop.set()
                await task
                assert scheduler.overruns._value.get() > 0  # silent devices overran and were skipped

        asyncio.run(run())

    for device in devices:
        times = starts[device.id]
        if device.id in silent:
            assert state[device.id].status is PollStatus.TIMEOUT
            continue
        assert state[device.id].status is PollStatus.OK, (device.id, state[device.id].error)
        assert len(times) >= 5, (device.id, times)
        assert times[0] - started[0] < INTERVAL + 1.5
        # Cold start: until a silent device has failed once nothing marks it, so its first poll takes a
        # normal slot, and with only 12 slots those first polls spill into the second round. From then
        # on the silent fifth waits in its own lane and every live device keeps its rhythm exactly.
        gaps = [b - a for a, b in itertools.pairwise(times[2:])]
        assert gaps and all(abs(gap - INTERVAL) < 0.25 for gap in gaps), (device.id, gaps)


def test_phases_are_stable_and_spread_over_the_interval() -> None:
    ids = [f"hs-{i:04d}" for i in range(2000)]
    offsets = [phase_offset(i, 60.0) for i in ids]
    assert offsets == [phase_offset(i, 60.0) for i in ids]  # stable across calls and restarts
    assert all(0 <= o < 60 for o in offsets)
    per_second = [sum(1 for o in offsets if s <= o < s + 1) for s in range(60)]
    assert max(per_second) < 2 * statistics.mean(per_second)  # no burst at the top of the minute


def test_shards_cover_every_device_exactly_once() -> None:
    devices = [Device(id=f"dev-{i}", kind="hotspot", host="127.0.0.1") for i in range(3000)]
    for count in (1, 2, 3, 7):
        shards = [shard_devices(devices, index, count) for index in range(count)]
        owned = [d.id for shard in shards for d in shard]
        assert sorted(owned) == sorted(d.id for d in devices)  # all, none twice
        assert min(len(s) for s in shards) > 0.8 * len(devices) / count  # roughly even
    # rendezvous hashing: going from 3 to 4 shards moves only about a quarter of the devices
    moved = sum(1 for d in devices if shard_of(d.id, 3) != shard_of(d.id, 4))
    assert moved < 0.3 * len(devices)


def test_shard_option_parsing() -> None:
    assert parse_shard("2/4") == (1, 4)
    for bad in ("0/3", "4/3", "2", "a/b", "-1/2"):
        try:
            parse_shard(bad)
        except ValueError as exc:
            assert "i/n" in str(exc) or "between 1 and n" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
