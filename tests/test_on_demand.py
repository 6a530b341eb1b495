"""Out-of-turn checks and the per-trap log line under a burst: bounded work, bounded lines, nothing lost from counts.

The checks here are real coroutines on a real event loop that wait until the
test lets them finish, so what runs, what is queued and what is folded can be
read at each step; the trap log is read from the ``stadtnetz`` logger. (The
whole service under a real trap flood is ``tests/test_trap_flood.py``.)
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from collectors.traps import TrapEvent, TrapKind
from stadtnetz.app.on_demand import CoalescedChecks
from stadtnetz.app.scheduler import Scheduler
from stadtnetz.app.trap_log import TrapLog
from stadtnetz.clock import SystemClock
from stadtnetz.model import Device

HOTSPOT = Device("hs-1", "hotspot", "127.0.0.1", interval=3600.0)
SWITCH = Device("sw-1", "distribution_switch", "127.0.0.2", interval=3600.0)


def event(device: Device, kind: TrapKind, if_index: int | None = 1) -> TrapEvent:
    return TrapEvent(device.id, kind, if_index, 2, 100, (1, 3, 6, 1, 6, 3, 1, 1, 5, 3), 1, 0.0, False)


def test_a_burst_of_requests_runs_one_check_and_queues_one_follow_up() -> None:
    started: list[str] = []

    async def scenario() -> None:
        gate = asyncio.Event()

        async def check(device: Device) -> None:
            started.append(device.id)
            await gate.wait()

        checks = CoalescedChecks(check, "a test check")
        for _ in range(1000):
            checks.request(HOTSPOT)
        checks.request(SWITCH)
        await asyncio.sleep(0)
        assert started == ["hs-1", "sw-1"]
        assert checks.pending == 3  # hs-1 running and queued once, sw-1 running
        assert checks.coalesced == 998
        gate.set()
        await asyncio.sleep(0.01)  # the follow-up starts and (the gate being open) ends
        assert started == ["hs-1", "sw-1", "hs-1"] and checks.pending == 0
        checks.request(HOTSPOT)  # idle again: runs at once
        await asyncio.sleep(0.01)
        assert started[-1] == "hs-1" and checks.pending == 0
        gate.clear()
        checks.request(HOTSPOT)
        checks.request(HOTSPOT)
        await asyncio.sleep(0)
        assert started.count("hs-1") == 4 and checks.pending == 2
        await checks.close()  # cancels the running one, drops the queued one
        checks.request(HOTSPOT)  # after close: ignored
        await asyncio.sleep(0.01)
        assert checks.pending == 0 and started.count("hs-1") == 4

    asyncio.run(scenario())


def test_a_failing_check_is_logged_and_the_next_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    async def check(device: Device) -> None:
        calls.append(1)
        await asyncio.sleep(0.01)
        raise RuntimeError("pinger gone")

    async def scenario() -> None:
        checks = CoalescedChecks(check, "a quick ping round")
        checks.request(HOTSPOT)
        checks.request(HOTSPOT)
        await asyncio.sleep(0.1)
        assert len(calls) == 2 and checks.pending == 0

    asyncio.run(scenario())
    failures = [r for r in caplog.records if r.name == "stadtnetz.on_demand"]
    assert len(failures) == 2 and "a quick ping round of hs-1 failed" in failures[0].getMessage()


def test_the_scheduler_counts_out_of_turn_polls_started_and_requests_folded() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        polled: list[str] = []

        async def poll(device: Device) -> None:
            polled.append(device.id)
            await gate.wait()

        scheduler = Scheduler([HOTSPOT, SWITCH], poll, 4, SystemClock())
        stop = asyncio.Event()
        runner = asyncio.create_task(scheduler.run(stop))
        await asyncio.sleep(0)  # the hour-long interval: no regular poll during the test
        for _ in range(500):
            assert scheduler.poll_now(HOTSPOT.id)
        await asyncio.sleep(0)
        assert polled == ["hs-1"]
        assert scheduler.on_demand_pending == 2 and scheduler.coalesced == 498
        gate.set()
        await asyncio.sleep(0.01)
        assert polled == ["hs-1", "hs-1"] and scheduler.on_demand_pending == 0
        assert scheduler.on_demand._value.get() == 2  # polls started out of turn, not requests
        stop.set()
        await runner

    asyncio.run(scenario())


def test_a_trap_flood_from_one_device_is_one_line_then_a_summary_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="stadtnetz")

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "stadtnetz"]

    async def scenario() -> None:
        log = TrapLog(SystemClock(), interval=0.2)
        for _ in range(1000):
            log.trap(event(HOTSPOT, TrapKind.LINK_DOWN))
        log.trap(event(HOTSPOT, TrapKind.COLD_START, None))
        log.trap(event(SWITCH, TrapKind.LINK_DOWN, 7))
        assert lines() == [
            "trap link_down from hs-1 ifIndex 1",
            "trap cold_start from hs-1",
            "trap link_down from sw-1 ifIndex 7",
        ]
        await asyncio.sleep(0.3)  # the interval is over: what was held back is summed up, unprompted
        assert lines()[3:] == ["999 more link_down traps from hs-1 (not logged one by one: at most one line per 0.2 s)"]
        await asyncio.sleep(0.3)
        log.trap(event(HOTSPOT, TrapKind.LINK_DOWN))  # quiet long enough: logged at once again
        log.trap(event(HOTSPOT, TrapKind.LINK_DOWN))
        log.trap(event(HOTSPOT, TrapKind.LINK_DOWN))
        log.close()  # at shutdown the held-back count is written, not lost
        assert lines()[4:] == [
            "trap link_down from hs-1 ifIndex 1",
            "2 more link_down traps from hs-1 (not logged one by one: at most one line per 0.2 s)",
        ]

    asyncio.run(scenario())
