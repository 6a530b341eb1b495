"""Topology-aware status and flap detection, as pure logic (the simulated city comes in test_status_e2e)."""

from __future__ import annotations

import pytest

from stadtnetz.model import Device
from stadtnetz.status.flapping import FlapDetector, state_change
from stadtnetz.status.topology import DeviceStatus, Status, StatusBoard, Topology, TopologyError


def device(device_id: str, upstream: str | None = None) -> Device:
    return Device(id=device_id, kind="x", host="127.0.0.1", upstream=upstream)


# core-1 ─ dist-1 ─ hs-1, hs-2, hs-3
#        └ dist-2 ─ hs-4
CITY = [
    device("core-1"),
    device("dist-1", "core-1"),
    device("dist-2", "core-1"),
    device("hs-1", "dist-1"),
    device("hs-2", "dist-1"),
    device("hs-3", "dist-1"),
    device("hs-4", "dist-2"),
]


def board_all_up() -> tuple[StatusBoard, list[tuple[str, Status, Status]]]:
    changes: list[tuple[str, Status, Status]] = []
    board = StatusBoard(Topology(CITY), lambda d, old, new, now: changes.append((d, old.status, new.status)))
    for d in CITY:
        board.observe(d.id, True, False, 1.0)
    changes.clear()
    return board, changes


def statuses(board: StatusBoard) -> dict[str, DeviceStatus]:
    return dict(board.status)


def test_everything_up_after_first_observations() -> None:
    board, _ = board_all_up()
    assert all(s == DeviceStatus(Status.UP) for s in board.status.values())


def test_fibre_cut_children_fail_first_then_switch() -> None:
    board, changes = board_all_up()
    # the cut at t=10: hs-1 and hs-2 happen to be polled before dist-1 is
    assert board.observe("hs-1", False, False, 11.0) == {"dist-1"}  # check the parent now
    assert board.observe("hs-2", False, False, 12.0) == {"dist-1"}
    assert board.status["hs-1"] == DeviceStatus(Status.UP)  # held: no verdict on stale evidence
    assert changes == []
    # the on-demand check of dist-1 fails; whether that is its own fault needs a fresh look at the core
    assert board.observe("dist-1", False, False, 13.0) == {"core-1"}
    assert board.status["dist-1"] == DeviceStatus(Status.UP)
    assert board.observe("core-1", True, False, 13.5) == set()
    assert board.status["dist-1"] == DeviceStatus(Status.DOWN, "dist-1")
    assert board.status["hs-1"] == DeviceStatus(Status.UNREACHABLE, "dist-1")
    assert board.status["hs-2"] == DeviceStatus(Status.UNREACHABLE, "dist-1")
    board.observe("hs-3", False, False, 14.0)
    assert board.status["hs-3"] == DeviceStatus(Status.UNREACHABLE, "dist-1")
    # nothing else changed, and no hotspot was ever "down"
    assert board.status["hs-4"] == board.status["dist-2"] == board.status["core-1"] == DeviceStatus(Status.UP)
    assert not any(new is Status.DOWN and d.startswith("hs") for d, _, new in changes)


def test_repair_never_calls_children_down() -> None:
    board, changes = board_all_up()
    for d, t in (("dist-1", 11.0), ("core-1", 11.5), ("hs-1", 12.0), ("hs-2", 13.0), ("hs-3", 14.0)):
        board.observe(d, d == "core-1", False, t)
    assert board.status["hs-3"] == DeviceStatus(Status.UNREACHABLE, "dist-1")
    changes.clear()
    # repair: the switch is back first; its children's failures are older than the recovery
    assert board.observe("dist-1", True, False, 20.0) == {"hs-1", "hs-2", "hs-3"}  # re-check them now
    assert board.status["hs-1"] == DeviceStatus(Status.UNREACHABLE, "dist-1")  # held, not "down"
    for d, t in (("hs-1", 21.0), ("hs-2", 21.5), ("hs-3", 22.0)):
        board.observe(d, True, False, t)
    assert all(board.status[d] == DeviceStatus(Status.UP) for d in ("dist-1", "hs-1", "hs-2", "hs-3"))
    assert not any(new is Status.DOWN for _, _, new in changes)


def test_a_child_still_failing_after_the_repair_is_down_on_its_own() -> None:
    board, _ = board_all_up()
    board.observe("dist-1", False, False, 11.0)
    board.observe("core-1", True, False, 11.5)
    board.observe("hs-1", False, False, 12.0)
    board.observe("dist-1", True, False, 20.0)
    board.observe("hs-1", False, False, 21.0)  # re-checked after the repair, still silent
    assert board.status["hs-1"] == DeviceStatus(Status.DOWN, "hs-1")


def test_a_single_hotspot_failing_is_down_once_its_switch_answered_after_it() -> None:
    board, _ = board_all_up()
    assert board.observe("hs-4", False, False, 30.0) == {"dist-2"}
    board.observe("dist-2", True, False, 31.0)
    assert board.status["hs-4"] == DeviceStatus(Status.DOWN, "hs-4")


def test_core_failure_makes_everything_below_unreachable_with_the_core_as_cause() -> None:
    board, _ = board_all_up()
    board.observe("core-1", False, False, 40.0)
    for d in ("dist-1", "dist-2", "hs-1", "hs-4"):
        board.observe(d, False, False, 41.0)
    assert board.status["core-1"] == DeviceStatus(Status.DOWN, "core-1")
    assert {board.status[d] for d in ("dist-1", "dist-2", "hs-1", "hs-4")} == {
        DeviceStatus(Status.UNREACHABLE, "core-1")
    }


def test_degraded_and_unknown() -> None:
    board = StatusBoard(Topology(CITY))
    assert board.status["hs-1"].status is Status.UNKNOWN
    board.observe("core-1", True, False, 1.0)
    board.observe("dist-1", True, True, 1.0)
    assert board.status["dist-1"] == DeviceStatus(Status.DEGRADED)
    # a failing device whose path was never observed waits for a look at it
    assert board.observe("hs-4", False, False, 2.0) == {"dist-2"}
    assert board.status["hs-4"].status is Status.UNKNOWN


def test_cycles_are_refused() -> None:
    with pytest.raises(TopologyError, match="cycle"):
        Topology([device("a", "b"), device("b", "a")])


def test_upstreams_outside_the_inventory_count_as_none() -> None:
    topology = Topology([device("hs-9", "not-in-inventory")])
    assert topology.ancestors("hs-9") == []


# ------------------------------------------------------------------ flapping


def test_state_change_weights_recent_changes_more() -> None:
    from collections import deque

    early = deque([True, False] + [False] * 19)
    late = deque([True] * 19 + [False, True])
    assert state_change(late) > state_change(early) > 0
    assert state_change(deque([True] * 21)) == 0.0


def test_flapping_starts_high_and_stops_low() -> None:
    detector = FlapDetector(high=0.5, low=0.25)
    states = [True, False] * 6  # toggling every observation
    flags = [detector.record("hs-1", ok) for ok in states]
    assert flags[-1] is True and flags[0] is False
    # stabilising: it stays flapping while the change share is between low and high ...
    stable_flags = []
    for _ in range(25):
        stable_flags.append(detector.record("hs-1", True))
    changes = [detector.devices["hs-1"].change]
    assert stable_flags[0] is True
    assert stable_flags[-1] is False  # ... and stops once it falls below low
    first_off = stable_flags.index(False)
    assert first_off > 0 and changes[-1] < 0.25
    # hysteresis: while falling between 0.5 and 0.25 it was still flapping
    assert any(flag for flag in stable_flags[:first_off])


def test_flap_thresholds_must_make_sense() -> None:
    with pytest.raises(ValueError):
        FlapDetector(high=0.2, low=0.3)


# ------------------------------------------------------------------ several probes per device


def test_stale_good_news_from_one_probe_does_not_make_children_down() -> None:
    from stadtnetz.clock import ManualClock
    from stadtnetz.model import Settings
    from stadtnetz.status.reachability import Reachability
    from stadtnetz.status.state import State

    clock = ManualClock()
    checks: list[str] = []
    reachability = Reachability(CITY, State(CITY, clock), Settings(), clock, checks.append)
    for d in CITY:
        reachability.snmp_result(d.id, True, 1.0)
        reachability.ping_result(d.id, 5, 5, 0.002, 1.0)
    # dist-1's last ping round began at 9 and was answered; then the cut at 10
    reachability.ping_result("dist-1", 5, 5, 0.002, 9.0)
    reachability.snmp_result("hs-1", False, 11.0)
    reachability.ping_result("hs-1", 5, 0, float("nan"), 11.5)
    # dist-1's SNMP poll started at 12 fails, but its ping (from 9) still says it answers:
    reachability.snmp_result("dist-1", False, 12.0)
    board = reachability.board
    assert board.status["dist-1"].status is Status.UP
    # that answer is from before hs-1 failed: no verdict on hs-1 yet, dist-1 is checked instead
    assert board.status["hs-1"].status is Status.UP and "dist-1" in checks
    reachability.ping_result("dist-1", 3, 0, float("nan"), 12.5)  # the on-demand check: silent too
    assert board.status["hs-1"] == DeviceStatus(Status.UNREACHABLE, "dist-1")
