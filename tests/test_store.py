"""The embedded history (stadtnetz.history): a simulated month, migrations, SIGKILL, the report command, the service.

The month is driven by a :class:`ManualClock`: a small city whose core router's
link utilisation follows a known formula (through real counters and the
state's rate arithmetic), with a fibre cut, a planned splice inside a
maintenance window, weekly firmware windows, a root-cause change in the middle
of an outage and a collector restart. Availability, outages and p95 are then
checked against values the test computes itself from that ground truth, by
interval arithmetic and sorting, not through the store's hourly buckets.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stadtnetz import history as store
from stadtnetz.cli.report import CSV_COLUMNS
from stadtnetz.clock import ManualClock
from stadtnetz.config import ConfigError, load_inventory
from stadtnetz.history import HistoryError, HistoryStore
from stadtnetz.labels import Labels
from stadtnetz.maintenance import DeviceMatch, Maintenance, MaintenanceWindow, Recurrence
from stadtnetz.model import Device, HistorySettings, MetricDef, MetricKind, Reading
from stadtnetz.status.state import State
from stadtnetz.status.topology import UNKNOWN, DeviceStatus, Status
from tests.support.service_process import ServiceProcess
from tests.support.simulation import REPO, simulator_control_url, start_simulator_process

UTC = dt.UTC
HOUR = 3600
DAY = 86400
MINUTE = 60


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


# --- the simulated month --------------------------------------------------------------------------------------------

T0 = epoch("2026-03-01T00:00:00+00:00")  # March 2026: Berlin changes to summer time on the 29th
T_END = T0 + 30 * DAY
SPEED = 1.25e9  # bytes per second: a 10 Gbit/s ring link
RX = MetricDef("stadtnetz_interface_receive_bytes", MetricKind.COUNTER, "received", "bytes")
TX = MetricDef("stadtnetz_interface_transmit_bytes", MetricKind.COUNTER, "sent", "bytes")
UTIL = MetricDef(store.UTILISATION_METRIC, MetricKind.GAUGE, "utilisation", "ratio")
CLIENTS = MetricDef("stadtnetz_wlan_clients", MetricKind.GAUGE, "clients")
OPTICAL = MetricDef("stadtnetz_optical_power_dbm", MetricKind.GAUGE, "dBm")
LINK = Labels.of(if_index="1", interface="ring-west")

DEVICES = [
    Device("core-1", "core_router", "127.0.0.1", site="PoP Altstadt", district="Altstadt"),
    Device(
        "dist-1", "distribution_switch", "127.0.0.2", site="Verteiler Nord", district="Nordstadt", upstream="core-1"
    ),
    Device("hs-1", "hotspot", "127.0.0.3", site="Marktplatz", district="Nordstadt", upstream="dist-1"),
    Device("hs-2", "hotspot", "127.0.0.4", site="Bahnhof", district="Nordstadt", upstream="dist-1"),
    Device("hs-3", "hotspot", "127.0.0.5", site="Rathaus", district="Altstadt", upstream="core-1"),
]
IDS = [d.id for d in DEVICES]

SPLICE = MaintenanceWindow(
    "splice",
    DeviceMatch(devices=frozenset({"dist-1"})),
    start=dt.datetime(2026, 3, 10, 22, tzinfo=UTC),
    end=dt.datetime(2026, 3, 11, 4, tzinfo=UTC),
)
FIRMWARE = MaintenanceWindow(
    "firmware", DeviceMatch(devices=frozenset({"hs-3"})), recurrence=Recurrence((1,), dt.time(3, 0), 2 * HOUR)
)
RESTART_STOP = epoch("2026-03-25T02:10:00+00:00")  # the collector stops here ...
RESTART_START = epoch("2026-03-25T02:30:00+00:00")  # ... and runs again from here


def up() -> DeviceStatus:
    return DeviceStatus(Status.UP)


def down(device: str) -> DeviceStatus:
    return DeviceStatus(Status.DOWN, device)


def behind(root: str) -> DeviceStatus:
    return DeviceStatus(Status.UNREACHABLE, root)


# every status change of the month, as reachability would report it (time, device, new status)
EVENTS: list[tuple[float, str, DeviceStatus]] = sorted(
    [
        *((T0 + 5, device, up()) for device in IDS),
        # a fibre cut under dist-1 on the 3rd: the switch down, its hotspots unreachable behind it
        (epoch("2026-03-03T10:00:00+00:00"), "dist-1", down("dist-1")),
        (epoch("2026-03-03T10:00:30+00:00"), "hs-1", behind("dist-1")),
        (epoch("2026-03-03T10:00:30+00:00"), "hs-2", behind("dist-1")),
        (epoch("2026-03-03T13:30:00+00:00"), "dist-1", up()),
        (epoch("2026-03-03T13:30:20+00:00"), "hs-1", up()),
        (epoch("2026-03-03T13:30:20+00:00"), "hs-2", up()),
        # the planned splice inside its window (22:00-04:00): planned, so excluded for all three
        (epoch("2026-03-10T23:15:10+00:00"), "dist-1", down("dist-1")),
        (epoch("2026-03-10T23:15:40+00:00"), "hs-1", behind("dist-1")),
        (epoch("2026-03-10T23:15:40+00:00"), "hs-2", behind("dist-1")),
        (epoch("2026-03-11T01:05:50+00:00"), "dist-1", up()),
        (epoch("2026-03-11T01:06:00+00:00"), "hs-1", up()),
        (epoch("2026-03-11T01:06:00+00:00"), "hs-2", up()),
        # hs-2 fails on its own; then its switch fails under it for ten minutes (root cause changes twice)
        (epoch("2026-03-15T14:22:17+00:00"), "hs-2", down("hs-2")),
        (epoch("2026-03-15T15:00:00+00:00"), "dist-1", down("dist-1")),
        (epoch("2026-03-15T15:00:05+00:00"), "hs-2", behind("dist-1")),
        (epoch("2026-03-15T15:00:05+00:00"), "hs-1", behind("dist-1")),
        (epoch("2026-03-15T15:10:00+00:00"), "dist-1", up()),
        (epoch("2026-03-15T15:10:05+00:00"), "hs-1", up()),
        (epoch("2026-03-15T15:10:05+00:00"), "hs-2", down("hs-2")),
        (epoch("2026-03-15T16:03:41+00:00"), "hs-2", up()),
        # hs-3 down during its Tuesday firmware window (03:00-05:00 Berlin = 02:00-04:00 UTC in March)
        (epoch("2026-03-17T02:10:00+00:00"), "hs-3", down("hs-3")),
        (epoch("2026-03-17T02:40:00+00:00"), "hs-3", up()),
        # hs-3 degraded for a afternoon: still available
        (epoch("2026-03-20T12:00:00+00:00"), "hs-3", DeviceStatus(Status.DEGRADED)),
        (epoch("2026-03-20T17:45:00+00:00"), "hs-3", up()),
        # hs-1 fails at 01:50; the collector stops 02:10-02:30 and finds it still down, until 03:00
        (epoch("2026-03-25T01:50:00+00:00"), "hs-1", down("hs-1")),
        *((RESTART_START + 10, device, up()) for device in IDS if device != "hs-1"),
        (RESTART_START + 10, "hs-1", down("hs-1")),
        (epoch("2026-03-25T03:00:00+00:00"), "hs-1", up()),
        # after the DST change: dist-1 down across midnight, for 90 minutes, no maintenance
        (epoch("2026-03-29T23:20:00+00:00"), "dist-1", down("dist-1")),
        (epoch("2026-03-29T23:20:30+00:00"), "hs-1", behind("dist-1")),
        (epoch("2026-03-29T23:20:30+00:00"), "hs-2", behind("dist-1")),
        (epoch("2026-03-30T00:50:00+00:00"), "dist-1", up()),
        (epoch("2026-03-30T00:50:10+00:00"), "hs-1", up()),
        (epoch("2026-03-30T00:50:10+00:00"), "hs-2", up()),
    ],
    key=lambda event: event[0],
)

EXPECTED_OUTAGES = [  # (device, start, end, status, root cause, in maintenance), by start
    ("dist-1", "2026-03-03T10:00:00", "2026-03-03T13:30:00", "down", "dist-1", False),
    ("hs-1", "2026-03-03T10:00:30", "2026-03-03T13:30:20", "unreachable", "dist-1", False),
    ("hs-2", "2026-03-03T10:00:30", "2026-03-03T13:30:20", "unreachable", "dist-1", False),
    ("dist-1", "2026-03-10T23:15:10", "2026-03-11T01:05:50", "down", "dist-1", True),
    ("hs-1", "2026-03-10T23:15:40", "2026-03-11T01:06:00", "unreachable", "dist-1", True),
    ("hs-2", "2026-03-10T23:15:40", "2026-03-11T01:06:00", "unreachable", "dist-1", True),
    ("hs-2", "2026-03-15T14:22:17", "2026-03-15T15:00:05", "down", "hs-2", False),
    ("dist-1", "2026-03-15T15:00:00", "2026-03-15T15:10:00", "down", "dist-1", False),
    ("hs-1", "2026-03-15T15:00:05", "2026-03-15T15:10:05", "unreachable", "dist-1", False),
    ("hs-2", "2026-03-15T15:00:05", "2026-03-15T15:10:05", "unreachable", "dist-1", False),
    ("hs-2", "2026-03-15T15:10:05", "2026-03-15T16:03:41", "down", "hs-2", False),
    ("hs-3", "2026-03-17T02:10:00", "2026-03-17T02:40:00", "down", "hs-3", True),
    ("hs-1", "2026-03-25T01:50:00", "2026-03-25T03:00:00", "down", "hs-1", False),  # across the restart
    ("dist-1", "2026-03-29T23:20:00", "2026-03-30T00:50:00", "down", "dist-1", False),
    ("hs-1", "2026-03-29T23:20:30", "2026-03-30T00:50:10", "unreachable", "dist-1", False),
    ("hs-2", "2026-03-29T23:20:30", "2026-03-30T00:50:10", "unreachable", "dist-1", False),
]


def utilisation(t: float) -> float:
    """The ring link's receive utilisation over the minute ending at ``t``: a low day, a sharp evening peak."""
    hour = (t % DAY) / HOUR
    evening = 0.55 * math.exp(-(((hour - 20.5) / 1.3) ** 2))
    return 0.18 + 0.07 * math.sin(2 * math.pi * hour / 24) + evening + 0.03 * math.sin(t / 97.0)


def clients(t: float, device: str) -> float:
    return float(int(20 + 15 * math.sin(2 * math.pi * (t % DAY) / DAY) + 3 * math.sin(t / 61.0) + len(device)))


@dataclass
class Truth:
    """What really happened in the month, kept by the test on its own."""

    segments: dict[str, list[tuple[float, float, DeviceStatus]]] = field(default_factory=dict)
    utilisation: dict[float, float] = field(default_factory=dict)  # poll time -> rx sample the collector saw
    clients: dict[str, dict[float, float]] = field(default_factory=dict)  # device -> poll time -> value

    def maintenance(self, device: str) -> list[tuple[float, float]]:
        spans = []
        for window in (SPLICE, FIRMWARE):
            if device in window.match.devices:
                start, end = dt.datetime.fromtimestamp(T0, UTC), dt.datetime.fromtimestamp(T_END, UTC)
                spans += [(a.timestamp(), b.timestamp()) for a, b in window.occurrences(start, end)]
        return spans

    def availability(self, device: str, start: float, end: float) -> tuple[float, float, float]:
        """(available, observed, maintenance) seconds by interval arithmetic over the true timeline."""
        available = observed = maintenance = 0.0
        for seg_start, seg_end, status in self.segments[device]:
            a, b = max(seg_start, start), min(seg_end, end)
            if b <= a or status.status is Status.UNKNOWN:
                continue
            planned = self.maintenance(device)
            if status.status in (Status.DOWN, Status.UNREACHABLE) and status.root_cause != device:
                planned = planned + self.maintenance(status.root_cause)
            covered = overlap(union(planned), a, b)
            observed += b - a
            maintenance += covered
            if status.status in (Status.UP, Status.DEGRADED):
                available += b - a - covered
        return available, observed, maintenance


def union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def overlap(spans: list[tuple[float, float]], start: float, end: float) -> float:
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in spans)


def true_timeline(collector_stops: bool = True) -> dict[str, list[tuple[float, float, DeviceStatus]]]:
    """Each device's status segments; with ``collector_stops``, unknown while the collector is stopped."""
    timeline: dict[str, list[tuple[float, float, DeviceStatus]]] = {}
    current: dict[str, tuple[float, DeviceStatus]] = {device: (T0, UNKNOWN) for device in IDS}
    marks = [*EVENTS, *(((RESTART_STOP, device, UNKNOWN) for device in IDS) if collector_stops else ())]
    for at, device, status in sorted(marks, key=lambda e: e[0]):
        since, previous = current[device]
        timeline.setdefault(device, []).append((since, at, previous))
        current[device] = (at, status)
    for device, (since, status) in current.items():
        timeline[device].append((since, T_END, status))
    return timeline


def responding(timeline: list[tuple[float, float, DeviceStatus]], t: float) -> bool:
    for start, end, status in timeline:
        if start <= t < end:
            return status.status not in (Status.DOWN, Status.UNREACHABLE)  # unknown: before the first probe
    return True


def run_month(path: Path) -> Truth:
    """Feed the whole month through the store's public methods, minute by minute; return the ground truth."""
    truth = Truth(segments=true_timeline())
    reality = true_timeline(collector_stops=False)  # whether a device answers does not depend on the collector
    clock = ManualClock(T0)
    maintenance = Maintenance([SPLICE, FIRMWARE], DEVICES)
    history = HistoryStore(path, clock, HistorySettings(path=path))
    state = State(DEVICES, clock)
    counter = 0  # the ring link's receive counter (bytes), counting every minute whether polled or not
    previous_poll: tuple[float, int] | None = None  # the collector's previous poll of core-1 in this run
    events = iter(EVENTS)
    pending = next(events, None)
    last_status = dict.fromkeys(IDS, UNKNOWN)
    marked: set[str] = set()
    collector_running = True
    for minute in range(1, 30 * 24 * 60 + 1):
        t = T0 + minute * MINUTE
        counter += round(utilisation(t) * SPEED * MINUTE)
        if collector_running and RESTART_STOP < t < RESTART_START:
            clock.set(RESTART_STOP)
            history.close()  # the collector stops: the partial hour 02:00-02:10 is written
            collector_running = False
        if not collector_running and t >= RESTART_START:
            clock.set(RESTART_START)
            history = HistoryStore(path, clock, HistorySettings(path=path))  # ... and starts again
            state = State(DEVICES, clock)  # everything it knew is gone
            last_status = dict.fromkeys(IDS, UNKNOWN)
            previous_poll = None
            marked = set()
            collector_running = True
        while pending is not None and pending[0] <= t:
            at, device, status = pending
            clock.set(max(clock.time(), at))
            history.record_transition(device, last_status[device], status, at, cause="test")
            last_status[device] = status
            pending = next(events, None)
        clock.set(t)
        if not collector_running:
            continue
        now = dt.datetime.fromtimestamp(t, UTC)
        in_window = maintenance.devices_in_maintenance(now)
        if in_window != marked:
            history.record_maintenance(in_window, t)
            marked = in_window
        for device in DEVICES:
            if not responding(reality[device.id], t):
                continue
            readings = [Reading(OPTICAL, Labels.of(sensor_index="1"), -4.0 - (t % 7) / 10)]
            if device.id == "core-1":
                readings = [
                    Reading(RX, LINK, counter, bits=64, speed=SPEED, utilisation=UTIL, direction="receive"),
                    Reading(TX, LINK, counter // 3, bits=64, speed=SPEED, utilisation=UTIL, direction="transmit"),
                ]
                if previous_poll is not None:
                    truth.utilisation[t] = (counter - previous_poll[1]) / (SPEED * (t - previous_poll[0]))
                previous_poll = (t, counter)
            elif device.kind == "hotspot":
                value = clients(t, device.id)
                readings.append(Reading(CLIENTS, Labels.of(radio_index="1", band="5GHz"), value))
                truth.clients.setdefault(device.id, {})[t] = value
            state.record_poll(device.id, readings, None, None, 0.01)
        history.record_samples(state, t)
        if minute % 60 == 0:
            history.flush()
    clock.set(T_END)
    history.close()
    return truth


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sqlite3.Connection, Truth, Path]]:
    path = tmp_path_factory.mktemp("month") / "history.sqlite"
    started = time.perf_counter()
    truth = run_month(path)
    print(f"simulated month fed in {time.perf_counter() - started:.1f} s")
    db = store.connect(path, create=False)
    try:
        yield db, truth, path
    finally:
        db.close()


def test_availability_matches_the_true_timeline(month: tuple[sqlite3.Connection, Truth, Path]) -> None:
    db, truth, _ = month
    # the month, a day with the fibre cut, and the DST week; periods are whole hours (rows are hourly)
    periods = [
        (T0, T_END),
        (epoch("2026-03-03T00:00:00+00:00"), epoch("2026-03-04T00:00:00+00:00")),
        (epoch("2026-03-24T00:00:00+00:00"), epoch("2026-03-31T00:00:00+00:00")),
    ]
    for start, end in periods:
        found = store.availability_by_device(db, IDS, start, end)
        for device in IDS:
            available, observed, maintenance = truth.availability(device, start, end)
            got = found[device]
            # exact up to float summation: every boundary (status change, window, restart) is on the clock,
            # and the store splits time at exactly those instants
            assert got.available_seconds == pytest.approx(available, abs=1e-6), (device, start)
            assert got.observed_seconds == pytest.approx(observed, abs=1e-6), (device, start)
            assert got.maintenance_seconds == pytest.approx(maintenance, abs=1e-6), (device, start)
            assert got.ratio == pytest.approx(available / (observed - maintenance), abs=1e-12)
    # known values, to see the definitions at work
    fibre_cut_day = store.availability(db, "dist-1", *periods[1])
    assert fibre_cut_day.ratio == pytest.approx(1 - 3.5 / 24, abs=1e-12)
    assert fibre_cut_day.downtime_seconds == pytest.approx(3.5 * HOUR)
    # the restart: twenty minutes unobserved for everyone (02:10-02:30:10)
    restart_day = store.availability(
        db, "core-1", epoch("2026-03-25T00:00:00+00:00"), epoch("2026-03-26T00:00:00+00:00")
    )
    assert restart_day.observed_seconds == pytest.approx(DAY - 20 * MINUTE - 10)
    assert restart_day.ratio == pytest.approx(1.0, abs=1e-12)
    # hs-3's Tuesday outage lies inside its firmware window: excluded, so hs-3 is 100 % available
    assert store.availability(db, "hs-3", T0, T_END).ratio == pytest.approx(1.0, abs=1e-12)
    # a group pools its devices' seconds
    group = store.availability(db, ["hs-1", "hs-2", "hs-3"], T0, T_END)
    pooled = [sum(x) for x in zip(*(truth.availability(d, T0, T_END) for d in ("hs-1", "hs-2", "hs-3")), strict=True)]
    assert group.ratio == pytest.approx(pooled[0] / (pooled[1] - pooled[2]), abs=1e-12)


def test_outages_are_derived_with_root_cause_and_maintenance(month: tuple[sqlite3.Connection, Truth, Path]) -> None:
    db, _, _ = month
    found = [(o.device, o.start, o.end, o.status, o.root_cause, o.in_maintenance) for o in store.outages(db, T0, T_END)]
    expected = [
        (device, epoch(start + "+00:00"), epoch(end + "+00:00"), status, cause, planned)
        for device, start, end, status, cause, planned in EXPECTED_OUTAGES
    ]
    assert sorted(found, key=lambda o: (o[1], o[0])) == sorted(expected, key=lambda o: (o[1], o[0]))
    # a period picks the outages overlapping it; transitions are all there
    day = store.outages(db, epoch("2026-03-15T00:00:00+00:00"), epoch("2026-03-16T00:00:00+00:00"), ["hs-2"])
    assert [(o.status, o.root_cause) for o in day] == [("down", "hs-2"), ("unreachable", "dist-1"), ("down", "hs-2")]
    assert len(store.transitions(db, T0, T_END)) == len(EVENTS)
    cut = store.transitions(db, T0, T_END, ["hs-1"])[1]
    assert (cut.old, cut.new, cut.root_cause) == (Status.UP, Status.UNREACHABLE, "dist-1")


def test_p95_over_a_window_is_that_of_all_its_samples(month: tuple[sqlite3.Connection, Truth, Path]) -> None:
    db, truth, _ = month
    for start, end in [(T0, T_END), (epoch("2026-03-22T00:00:00+00:00"), epoch("2026-03-29T00:00:00+00:00"))]:
        samples = sorted(value for at, value in truth.utilisation.items() if start <= at < end)
        exact = statistics.quantiles(samples, n=20, method="inclusive")[18]
        got = store.p95_utilisation(db, "core-1", start, end, {"interface": "ring-west", "direction": "receive"})
        assert got is not None
        # histograms of 0.5-percentage-point bins: the p95 lies in the bin of its rank, so within one bin width
        assert abs(got - exact) <= store.BIN_WIDTH, (got, exact)
    # the link's p95 is its busier direction's (transmit runs at a third of receive)
    assert store.p95_utilisation(db, "core-1", T0, T_END, {"interface": "ring-west"}) == pytest.approx(
        store.p95_utilisation(db, "core-1", T0, T_END, {"interface": "ring-west", "direction": "receive"})
    )
    assert store.p95_utilisation(db, "core-1", T0, T_END, {"interface": "nowhere"}) is None

    # why histograms: the 95th percentile of the hourly p95s misreads this link (its evening peak is a few hours)
    hourly = [
        p95
        for (p95,) in db.execute(
            "SELECT p95 FROM hourly WHERE device = 'core-1' AND metric = ? AND labels LIKE '%receive%'",
            (store.UTILISATION_METRIC,),
        )
    ]
    samples = sorted(truth.utilisation.values())
    exact = statistics.quantiles(samples, n=20, method="inclusive")[18]
    naive = statistics.quantiles(sorted(hourly), n=20, method="inclusive")[18]
    assert abs(naive - exact) > 4 * store.BIN_WIDTH, (naive, exact)


def test_hourly_rollups_match_the_samples_of_their_hour(month: tuple[sqlite3.Connection, Truth, Path]) -> None:
    db, truth, _ = month
    hours = [
        epoch("2026-03-05T20:00:00+00:00"),  # an ordinary evening hour
        epoch("2026-03-25T02:00:00+00:00"),  # written in two parts, before and after the restart, and merged
    ]
    for hour in hours:
        samples = sorted(v for at, v in truth.utilisation.items() if hour <= at < hour + HOUR)
        ((low, mean, high, count, p95),) = db.execute(
            "SELECT min, avg, max, count, p95 FROM hourly WHERE device = 'core-1' AND hour = ? "
            "AND labels LIKE '%receive%'",
            (hour,),
        )
        assert count == len(samples)
        assert (low, high) == (pytest.approx(samples[0]), pytest.approx(samples[-1]))
        assert mean == pytest.approx(statistics.fmean(samples))
        exact = statistics.quantiles(samples, n=20, method="inclusive")[18]
        if hour == hours[0]:
            assert p95 == pytest.approx(exact, abs=1e-12)  # one part: the exact p95 of the hour's samples
        else:
            assert abs(p95 - exact) <= store.BIN_WIDTH  # merged parts: from the merged histograms
    # a gauge of a hotspot that was down part of the hour: only its polls count
    hour = epoch("2026-03-03T13:00:00+00:00")
    values = [v for at, v in truth.clients["hs-1"].items() if hour <= at < hour + HOUR]
    ((low, mean, high, count, p95),) = db.execute(
        "SELECT min, avg, max, count, p95 FROM hourly WHERE device = 'hs-1' AND hour = ? AND metric = ?",
        (hour, "stadtnetz_wlan_clients"),
    )
    assert (low, mean, high, count, p95) == (
        min(values),
        pytest.approx(statistics.fmean(values)),
        max(values),
        len(values),
        None,
    )
    assert len(values) == 29  # polled from 13:31 (it came back at 13:30:20)


# --- migrations ----------------------------------------------------------------------------------------------------


def test_a_version_1_file_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    old = store.connect(path, target=1)  # the schema as version 1 wrote it, and rows as it wrote them
    hour = int(T0)
    old.executescript(
        f"""
        INSERT INTO transitions VALUES ({T0 + 10}, 'hs-1', 'up', 'down', 'hs-1', 'timeout');
        INSERT INTO outages VALUES ('hs-1', {T0 + 10}, {T0 + 70}, 'down', 'hs-1', 0);
        INSERT INTO series (id, device, metric, labels) VALUES (7, 'core-1', '{store.UTILISATION_METRIC}',
            'interface="ring-west",direction="receive"');
        INSERT INTO rollups VALUES (7, {hour}, 0.1, 0.3, 0.9, 60, 0.8);
        INSERT INTO availability VALUES ('hs-1', {hour}, 3530, 3590, 0);
        """
    )
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    old.close()

    clock = ManualClock(T0 + 2 * HOUR)
    with HistoryStore(path, clock) as history:  # opening migrates
        state = State(DEVICES[:1], clock)
        history.record_transition("hs-1", UNKNOWN, up(), clock.time())
        for _ in range(3):  # a new hour with histograms: 0.2, 0.4
            clock.advance(MINUTE)
            reading = Reading(UTIL, LINK.plus("direction", "receive"), 0.2 + 0.1 * _)
            state.record_poll("core-1", [reading], None, None, 0)
            history.record_samples(state, clock.time())
    db = store.connect(path, create=False)
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 2
    assert [(t.device, t.new, t.cause) for t in store.transitions(db, T0, T0 + DAY)] == [
        ("hs-1", Status.DOWN, "timeout"),
        ("hs-1", Status.UP, ""),
    ]
    assert [(o.start, o.end) for o in store.outages(db, T0, T0 + DAY)] == [(T0 + 10, T0 + 70)]
    assert store.availability(db, "hs-1", T0, T0 + HOUR).ratio == pytest.approx(3530 / 3590)
    # the old hour has no histogram: its 60 samples count at its hourly p95 (0.8); the new hour's 3 are exact
    window = {"interface": "ring-west"}
    assert abs(store.p95_utilisation(db, "core-1", T0, T0 + HOUR, window) - 0.8) <= store.BIN_WIDTH
    assert abs(store.p95_utilisation(db, "core-1", T0 + HOUR, T0 + DAY, window) - 0.39) <= store.BIN_WIDTH
    assert abs(store.p95_utilisation(db, "core-1", T0, T0 + DAY, window) - 0.8) <= store.BIN_WIDTH
    db.close()


def test_a_newer_or_foreign_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    store.connect(newer).execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError, match=r"schema version 3, written by a newer stadtnetz; this one reads up to"):
        HistoryStore(newer, ManualClock())
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE invoices (number INTEGER)").connection.commit()
    with pytest.raises(HistoryError, match="not a stadtnetz history"):
        store.connect(foreign)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is no database, just text " * 100)
    with pytest.raises(HistoryError, match="not a usable history file"):
        store.connect(garbage)
    with pytest.raises(HistoryError, match="no history file there"):
        store.connect(tmp_path / "missing.sqlite", create=False)


# --- writing: crashes, backpressure, retention ------------------------------------------------------------------------


def test_a_killed_writer_leaves_every_committed_batch_and_a_sound_file(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    per_batch = 2000
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.history_writer", str(path), str(per_batch)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
    )
    committed: list[int] = []
    try:
        assert child.stdout is not None
        while len(committed) < 25:
            line = child.stdout.readline()
            assert line, f"the writer exited with {child.poll()}"
            committed.append(int(line))
        time.sleep(0.013)  # somewhere inside the next batches: most of the child's time is spent in a transaction
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert child.stdout is not None
        committed += [int(line) for line in child.stdout.read().split()]
    assert child.returncode == -signal.SIGKILL
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    counts = dict(
        db.execute(
            "SELECT CAST(substr(cause, 1, instr(cause, ':') - 1) AS INTEGER), count(*) FROM transitions GROUP BY 1"
        ).fetchall()
    )
    assert all(counts.get(batch) == per_batch for batch in committed)  # every reported batch, whole
    assert all(count == per_batch for count in counts.values())  # and no batch in part
    assert max(counts) - max(committed) <= 1  # at most the one committed before the kill hit the print
    # each batch leaves all 50 devices down (40 changes each): their outages are open, the others closed
    assert len([o for o in store.outages(db, 0, math.inf) if o.end is None]) == 50
    db.close()
    HistoryStore(path, ManualClock(time.time() + 1)).close()  # and it opens again to carry on


def test_a_full_queue_drops_the_oldest_samples_first_and_the_caller_never_writes(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    history = HistoryStore(tmp_path / "history.sqlite", clock, max_pending=10)  # no writer thread: nobody drains
    state = State(DEVICES, clock)
    for round_ in range(4):  # 5 devices x 1 optical sample a round: the 3rd round pushes out the 1st, the 4th the 2nd
        clock.set(T0 + round_ * MINUTE)
        for device in DEVICES:
            state.record_poll(device.id, [Reading(OPTICAL, ',sensor_index="1"', -4.0 - round_)], None, None, 0.01)
        history.record_samples(state, clock.time())
    assert history.stats.dropped[("queue_full", "samples")] == 10
    for index in range(12):  # transitions push out the remaining sample rounds, then the oldest transitions
        history.record_transition(f"d{index}", UNKNOWN, up(), T0 + HOUR + index)
    assert history.stats.dropped[("queue_full", "samples")] == 20
    assert history.stats.dropped[("queue_full", "transitions")] == 2
    clock.set(T0 + 2 * HOUR)
    for device in DEVICES:  # a sample round does not push out transitions: it is dropped itself
        state.record_poll(device.id, [Reading(OPTICAL, ',sensor_index="1"', -9.0)], None, None, 0.01)
    history.record_samples(state, clock.time())
    assert history.stats.dropped[("queue_full", "samples")] == 25
    assert history.stats.flushes == 0 and not history.write_failing  # the caller wrote nothing itself
    assert history.stats.pending == 10
    history.close()
    db = store.connect(tmp_path / "history.sqlite", create=False)
    assert [t.device for t in store.transitions(db, T0, T0 + DAY)] == [f"d{index}" for index in range(2, 12)]
    assert db.execute("SELECT count(*) FROM hourly").fetchone()[0] == 0  # every sample round was dropped
    families = {f.name: f for f in store.HistoryCollector(history).collect()}
    dropped = {tuple(s.labels.values()): s.value for s in families["stadtnetz_history_dropped"].samples}
    assert dropped[("queue_full", "samples")] == 25 and dropped[("write_failed", "transitions")] == 0
    assert "stadtnetz_history_backpressure_waits" not in families


def test_a_dead_writer_thread_is_started_again_and_the_caller_never_writes(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    history = HistoryStore(tmp_path / "history.sqlite", clock, flush_interval=0.05)
    killed = []

    def die(*args: object) -> None:  # the writer thread's first flush meets an exception nobody catches
        killed.append(args)
        raise SystemExit("the writer meets its end")

    history._apply_transition = die  # type: ignore[method-assign]
    history.start()
    history.record_transition("a", UNKNOWN, up(), T0)
    deadline = time.monotonic() + 5
    while history._writer_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert killed and not history._writer_alive()
    assert history.problem == "history writer thread died (SystemExit: the writer meets its end)"
    del history._apply_transition  # the next thread works
    history.record_transition("b", UNKNOWN, up(), T0 + 1)  # restarts the writer, writes nothing itself
    assert history.stats.writer_restarts == 1 and history._writer_alive()
    deadline = time.monotonic() + 5
    while history.stats.written_transitions < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert history.stats.written_transitions == 1 and history.problem is None
    history.close()


def test_retention_prunes_each_kind_of_row_after_its_own_duration(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    clock = ManualClock(T0)
    settings = HistorySettings(
        path,
        transitions_retention=2 * DAY,
        outages_retention=4 * DAY,
        rollups_retention=6 * DAY,
        availability_retention=3 * DAY,
    )
    history = HistoryStore(path, clock, settings)
    state = State(DEVICES[:1], clock)
    history.record_transition("core-1", UNKNOWN, up(), T0)
    history.record_transition("hs-1", UNKNOWN, up(), T0)
    history.record_transition("hs-1", up(), down("hs-1"), T0 + 60)
    history.record_transition("hs-1", down("hs-1"), up(), T0 + 120)
    history.record_transition("hs-2", UNKNOWN, down("hs-2"), T0 + 60)  # still open at the end
    for day in range(10):
        clock.set(T0 + day * DAY + 30)
        state.record_poll("core-1", [Reading(UTIL, LINK.plus("direction", "receive"), 0.5)], None, None, 0)
        history.record_samples(state, clock.time())
        history.flush()
    clock.set(T0 + 10 * DAY)
    history.close()
    db = store.connect(path, create=False)
    everything = (T0 - DAY, T0 + 20 * DAY)
    assert store.transitions(db, *everything) == []  # older than two days
    assert [o.device for o in store.outages(db, *everything)] == ["hs-2"]  # the closed one went, the open one stays
    hours = [h for (h,) in db.execute("SELECT hour FROM rollups ORDER BY hour")]
    assert hours == [T0 + day * DAY for day in range(4, 10)]  # six days before the last prune (at the close, day 10)
    kept = [h for (h,) in db.execute("SELECT hour FROM availability WHERE device = 'core-1' ORDER BY hour")]
    assert (kept[0], kept[-1], len(kept)) == (T0 + 7 * DAY, T0 + 10 * DAY - HOUR, 3 * 24)


# --- configuration ---------------------------------------------------------------------------------------------------

ENV = {"COMMUNITY": "public"}
HEAD = textwrap.dedent(
    """\
    credentials:
      ro:
        community: ${COMMUNITY}
    defaults:
      credentials: ro
    groups:
      wlan:
        kinds: [hotspot]
    devices:
    """
) + "".join(
    f"  - {{id: {d.id}, kind: {d.kind}, address: {d.host}, site: {d.site}, district: {d.district}"
    + (f", upstream: {d.upstream}}}\n" if d.upstream else "}\n")
    for d in DEVICES
)


def test_the_history_section_resolves_its_path_and_reports_mistakes_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    config = write(tmp_path / "city.yaml", HEAD + "history:\n  path: var/history.sqlite\n  retention: {rollups: 30d}\n")
    assert load_inventory(config, environ=ENV).history == HistorySettings(
        tmp_path / "var" / "history.sqlite", 400 * DAY, 400 * DAY, 30 * DAY, 400 * DAY
    )
    assert load_inventory(write(tmp_path / "off.yaml", HEAD), environ=ENV).history.path is None  # none: no history
    for section, path, message in [
        ("  retention:\n    outages: 2y\n", "history.retention.outages", "invalid duration '2y': use a number with"),
        ("  keep: 30d\n", "history.keep", "unknown field 'keep' (allowed: path, retention, max_pending)"),
        ("  path: nowhere/history.sqlite\n", "history.path", f"directory {tmp_path / 'nowhere'} does not exist"),
    ]:
        config = write(tmp_path / "city.yaml", HEAD + "history:\n" + section)
        with pytest.raises(ConfigError) as caught:
            load_inventory(config, environ=ENV)
        line = len(HEAD.splitlines()) + len(section.splitlines()) + 1  # the section's last line
        assert str(caught.value).startswith(f"{config}:{line}: {path}: {message}")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- stadtnetz report availability ------------------------------------------------------------------------------------


def stadtnetz(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={
            **os.environ,
            **ENV,
            "COLUMNS": "200",  # wide enough for every column of the table
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        },
    )


def cells(lines: list[str], first: str) -> list[str]:
    """The cells of the table row whose first cell is ``first``."""
    for line in lines:
        row = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if row[0] == first:
            return row
    raise AssertionError(f"no row {first!r} in:\n" + "\n".join(lines))


def test_the_availability_report_prints_and_writes_what_the_queries_say(
    month: tuple[sqlite3.Connection, Truth, Path], tmp_path: Path
) -> None:
    db, _, path = month
    config = write(tmp_path / "city.yaml", HEAD + f"history:\n  path: {path}\n")
    until = "2026-03-31T02:00"  # local time (Europe/Berlin, summer time): T_END
    result = stadtnetz(
        "report",
        "availability",
        "-c",
        str(config),
        "--period",
        "30d",
        "--until",
        until,
        "--csv",
        str(tmp_path / "a.csv"),
    )
    assert result.returncode == 0, result.stderr
    expected = store.availability_by_device(db, IDS, T0, T_END)
    # outages outside maintenance, an unbroken one counted once (hs-2's on the 15th has three rows)
    outage_counts = {"core-1": 0, "dist-1": 3, "hs-1": 4, "hs-2": 3, "hs-3": 0}
    lines = result.stdout.splitlines()
    for device in IDS:
        assert cells(lines, device)[4:6] == [f"{expected[device].ratio * 100:.3f}", str(outage_counts[device])]
    total = store.availability(db, IDS, T0, T_END)
    assert cells(lines, "5 devices")[4:6] == [f"{total.ratio * 100:.3f}", "10"]

    with (tmp_path / "a.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row[0] for row in rows[1:]] == ["hs-2", "hs-1", "dist-1", "core-1", "hs-3"]  # worst first
    for row in (dict(zip(rows[0], row, strict=True)) for row in rows[1:]):
        value = expected[row["device"]]
        assert float(row["availability_percent"]) == pytest.approx(value.ratio * 100, abs=1e-6)
        assert float(row["downtime_seconds"]) == pytest.approx(value.downtime_seconds, abs=1e-3)
        assert float(row["maintenance_seconds"]) == pytest.approx(value.maintenance_seconds, abs=1e-3)
        assert float(row["observed_seconds"]) == pytest.approx(value.observed_seconds, abs=1e-3)
        assert int(row["outages"]) == outage_counts[row["device"]]
    assert rows[3][:4] == ["dist-1", "distribution_switch", "Verteiler Nord", "Nordstadt"]

    group = stadtnetz("report", "availability", "-c", str(config), "--group", "wlan", "--until", until)
    assert group.returncode == 0, group.stderr
    pooled = store.availability(db, ["hs-1", "hs-2", "hs-3"], T0, T_END)
    assert cells(group.stdout.splitlines(), "3 devices (wlan)")[4] == f"{pooled.ratio * 100:.3f}"
    assert "dist-1" not in group.stdout


def test_the_availability_report_refuses_what_it_cannot_use(
    month: tuple[sqlite3.Connection, Truth, Path], tmp_path: Path
) -> None:
    _, _, path = month
    config = write(tmp_path / "city.yaml", HEAD + f"history:\n  path: {path}\n")
    bad = stadtnetz("report", "availability", "-c", str(config), "--period", "dreißig Tage")
    assert bad.returncode == 2
    assert "Invalid value for '--period': invalid duration 'dreißig Tage': use a number with a unit" in bad.stderr
    unknown = stadtnetz("report", "availability", "-c", str(config), "--device", "hs-4")
    assert unknown.returncode == 2 and "no device 'hs-4'" in unknown.stderr and "did you mean 'hs-" in unknown.stderr
    off = stadtnetz("report", "availability", "-c", str(write(tmp_path / "off.yaml", HEAD)))
    assert off.returncode == 2 and "history is off; set history.path" in off.stderr
    missing = write(tmp_path / "missing.yaml", HEAD + "history:\n  path: not-yet.sqlite\n")
    result = stadtnetz("report", "availability", "-c", str(missing))
    assert result.returncode == 1 and "no history file there" in result.stderr
    assert not (tmp_path / "not-yet.sqlite").exists()  # a report never creates one


# --- the service keeps history ----------------------------------------------------------------------------------------


def scenario(control: str, command: str) -> None:
    request = urllib.request.Request(f"{control}/scenario", data=command.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_the_service_records_a_fibre_cut_in_its_history(tmp_path: Path) -> None:
    simulator, _, inventory = start_simulator_process(tmp_path / "city", 30, seed=11, timeout=60)
    try:
        control = simulator_control_url(simulator)
        with inventory.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        below: dict[str, list[str]] = {}
        for row in rows:  # the inventory lists parents before children
            for ancestor, members in below.items():
                if row["upstream"] == ancestor or row["upstream"] in members:
                    members.append(row["id"])
            if row["kind"] == "distribution_switch":
                below[row["id"]] = []
        switch, behind = max(below.items(), key=lambda item: len(item[1]))
        assert len(behind) >= 3
        config = write(
            tmp_path / "city.yaml",
            "settings:\n  interval: 1s\n  timeout: 300ms\n  retries: 1\n"
            "credentials:\n  city:\n    community: ${COMMUNITY}\n"
            "defaults:\n  credentials: city\n  ping: false\n"  # on loopback the kernel would answer every ping
            "inventory:\n  - file: city/inventory.csv\n"
            "history:\n  path: history.sqlite\n",
        )
        running = ServiceProcess(config, tmp_path / "service.log", env=ENV, cwd=REPO, wait=False)
        service = running.daemon
        try:

            def statuses() -> dict[str, tuple[str, str | None]]:
                try:
                    devices = get_json(f"{running.url}/api/devices")
                except OSError:
                    return {}
                return {d["id"]: (d["status"], d["root_cause"]) for d in devices}  # type: ignore[union-attr]

            service.wait_ready(lambda: {s for s, _ in statuses().values()} == {"up"}, 30, "every device up")
            scenario(control, f"fibre-cut {switch}")
            service.wait_ready(
                lambda: (
                    (now := statuses())[switch] == ("down", switch)
                    and all(now[d] == ("unreachable", switch) for d in behind)
                ),
                20,
                "the switch down and its subtree unreachable",
            )
            time.sleep(2.0)  # two poll intervals more: the outage lasts seconds, not the moment of the verdict
            scenario(control, f"repair {switch}")
            service.wait_ready(lambda: {s for s, _ in statuses().values()} == {"up"}, 20, "every device up again")
        finally:
            service.stop(timeout=15)
        assert service.process.returncode == 0, service.log_tail()
    finally:
        simulator.stop()

    db = store.connect(tmp_path / "history.sqlite", create=False)
    everything = (time.time() - HOUR, time.time() + HOUR)
    changes = [(t.device, t.old, t.new, t.root_cause) for t in store.transitions(db, *everything)]
    assert {device for device, *_ in changes} == {row["id"] for row in rows}  # everyone came up once, at least
    assert (switch, Status.UP, Status.DOWN, switch) in changes
    assert (switch, Status.DOWN, Status.UP, "") in changes
    for device in behind:
        assert (device, Status.UP, Status.UNREACHABLE, switch) in changes
        assert (device, Status.UNREACHABLE, Status.UP, "") in changes
    assert not [c for c in changes if c[0] != switch and c[2] is Status.DOWN]  # nobody behind the cut was "down"
    found = store.outages(db, *everything)
    (cut,) = [o for o in found if o.device == switch]
    assert (cut.status, cut.root_cause, cut.in_maintenance) == ("down", switch, False)
    assert cut.end is not None and 1 < cut.end - cut.start < 30
    assert sorted((o.device, o.status, o.root_cause) for o in found if o.device != switch) == sorted(
        (device, "unreachable", switch) for device in behind
    )
    # the hour so far was written at the stop: the switch's downtime is in it, and its samples
    seconds = store.availability(db, switch, *everything)
    assert seconds.downtime_seconds == pytest.approx(cut.end - cut.start, abs=1e-6)
    assert db.execute("SELECT count(*) FROM hourly WHERE device = ?", (switch,)).fetchone()[0] > 10
