"""The writer's ledger: what the service observed, turned into outages, hourly rollups and availability rows.

Each device has a status timeline; transitions advance it and open and close
outages, maintenance changes flag them, sample rounds add to the hours'
rollups. An hour's rows are built once the hour is closed, and every row
built is committed by :meth:`Ledger.write` in one transaction (kept across a
failed commit). :class:`~stadtnetz.history.store.HistoryStore` owns the
ledger and calls it only from its writer, under its lock.

* **Outages.** An outage is a stretch of time in which a device is down or
  unreachable *for one root cause*: it opens when the device enters
  down/unreachable, and closes when it leaves them or its root cause changes
  (then the next one opens at that moment), so each row names who was at
  fault. ``in_maintenance`` is 1 if the device or its root cause was in an open
  maintenance window at any time during the outage. An outage still open when
  the service stops stays open; the next run closes it when it sees the device
  again (the earliest moment it can vouch for), or continues it.
* **Rollups** are per device, series and hour: min, avg, max and count of the
  samples of a poll (one per successful poll of the device), for gauges.
  Counters are left out: their traffic is in the utilisation and speed gauges
  (bytes = avg utilisation x speed x 3600), their errors and discards are for
  Prometheus, and they would more than double the file (a hotspot has 17
  gauges and 24 counters). Info and enum series carry no values. Labels are
  the series' own labels (``if_index="1",interface="eth0",...``); the device's
  kind, site and district come from the inventory.
* **Availability** per device and hour comes from the device's status timeline:
  ``observed_seconds`` had a known status (not ``unknown``, e.g. before the
  first probe or while the collector was stopped); ``maintenance_seconds`` is
  observed time in maintenance (the device itself in an open window, or down
  or unreachable with its root cause in one); ``available_seconds`` is up or
  degraded time *outside* maintenance. So availability = available /
  (observed - maintenance), between 0 and 1; the US NEVI style (outages in
  maintenance count as available) is (available + maintenance) / observed.
  A group's availability pools its devices' seconds (device-hours).

Retention: rows older than the configured durations are deleted every hour
(transitions by ``at``, outages by their end, rollups and availability by
their hour); open outages are kept. Series rollups are the bulk of the file
(bench/history_write.py: 16 MB a day for the 650-device city, 13,000 gauges,
at ~52 bytes a row), so they have their own, shorter default (90 days);
availability rows cost 0.5 MB a day there and are kept 400 days, enough for
a year's availability.
"""

from __future__ import annotations

import math
import sqlite3
from array import array
from typing import Protocol

from stadtnetz.history.percentiles import UTILISATION_METRIC, histogram_of, pack_histogram, quantile
from stadtnetz.history.schema import HOUR
from stadtnetz.model import HistorySettings, MetricKind
from stadtnetz.status.state import Layout
from stadtnetz.status.topology import PROBLEM, DeviceStatus, Status

AVAILABLE = frozenset({Status.UP, Status.DEGRADED})


class _Rollup:
    """One series' samples of one hour: min, max, sum, count, and for utilisation the samples themselves."""

    __slots__ = ("count", "high", "low", "samples", "total")

    def __init__(self, keep_samples: bool) -> None:
        self.low = math.inf
        self.high = -math.inf
        self.total = 0.0
        self.count = 0
        self.samples: list[float] | None = [] if keep_samples else None


class _Timeline:
    """A device's status since ``since`` (time accounted up to there)."""

    __slots__ = ("root_cause", "since", "status")

    def __init__(self, since: float, status: Status, root_cause: str) -> None:
        self.since, self.status, self.root_cause = since, status, root_cause


class _OpenOutage:
    __slots__ = ("flagged", "root_cause", "start")

    def __init__(self, start: float, root_cause: str, flagged: bool) -> None:
        self.start, self.root_cause, self.flagged = start, root_cause, flagged


_Sample = tuple[str, float, Layout, array]  # device id, poll time, its series, a copy of its values
_Plan = tuple[tuple[int, str, str, bool], ...]  # per rolled-up slot: slot, metric name, labels, utilisation?


class LedgerStats(Protocol):
    """The counters the ledger adds to (the store's :class:`~stadtnetz.history.store.HistoryStats`)."""

    written_transitions: int
    written_rollups: int
    written_availability: int
    late_transitions: int


class Ledger:
    """The writer's state: each device's status timeline, the open outages, the hours not yet written, the
    series ids, and the rows built for the next commit. Not thread-safe: its owner serialises the calls.

    On creation it reads the outages still open and the series dictionary from the file.
    """

    def __init__(self, db: sqlite3.Connection, settings: HistorySettings, stats: LedgerStats) -> None:
        self.db = db
        self.settings = settings
        self.stats = stats
        self._timelines: dict[str, _Timeline] = {}
        self._maintained: frozenset[str] = frozenset()
        self._outages: dict[str, _OpenOutage] = {}
        self._rollups: dict[int, dict[tuple[str, str, str], _Rollup]] = {}  # hour -> (device, metric, labels)
        self._seconds: dict[int, dict[str, list[float]]] = {}  # hour -> device -> [available, observed, maint]
        self._closed_until: float | None = None  # hours before this were written (or are late additions)
        self._plans: dict[Layout, _Plan] = {}
        self._series: dict[tuple[str, str, str], int] = {}
        # written at the next flush (kept across a failed one)
        self._out_transitions: list[tuple] = []
        self._out_outages: list[tuple[str, tuple]] = []
        self._out_rollups: list[tuple] = []
        self._out_availability: list[tuple] = []
        for device, start, root_cause, flagged in self.db.execute(
            'SELECT device, start, root_cause, in_maintenance FROM outages WHERE "end" IS NULL'
        ):
            self._outages[device] = _OpenOutage(start, root_cause, bool(flagged))
        for series_id, device, metric, labels in self.db.execute("SELECT id, device, metric, labels FROM series"):
            self._series[(device, metric, labels)] = series_id

    def unwritten(self) -> int:
        return (
            len(self._out_transitions) + len(self._out_outages) + len(self._out_rollups) + len(self._out_availability)
        )

    # applying events

    def apply_samples(self, taken: list[_Sample]) -> None:
        rollups = self._rollups
        for device_id, at, layout, values in taken:
            hour = math.floor(at / HOUR) * HOUR
            hourly = rollups.get(hour)
            if hourly is None:
                hourly = rollups[hour] = {}
            for slot, metric, labels, utilisation in self._plan(layout):
                value = values[slot]
                if value != value:  # NaN: not known (e.g. utilisation before the second poll)
                    continue
                key = (device_id, metric, labels)
                rollup = hourly.get(key)
                if rollup is None:
                    rollup = hourly[key] = _Rollup(utilisation)
                if value < rollup.low:
                    rollup.low = value
                if value > rollup.high:
                    rollup.high = value
                rollup.total += value
                rollup.count += 1
                if rollup.samples is not None:
                    rollup.samples.append(value)

    def _plan(self, layout: Layout) -> _Plan:
        plan = self._plans.get(layout)
        if plan is None:
            slots = []
            for slot, (metric, labels) in enumerate(layout.keys):
                if metric.kind is MetricKind.GAUGE:
                    slots.append((slot, metric.name, labels.text.lstrip(","), metric.name == UTILISATION_METRIC))
            if len(self._plans) > 10_000:  # layouts are interned; only a churning city makes many
                self._plans.clear()
            plan = self._plans[layout] = tuple(slots)
        return plan

    def _in_maintenance(self, device_id: str, timeline: _Timeline) -> bool:
        maintained = self._maintained
        return device_id in maintained or (timeline.status in PROBLEM and timeline.root_cause in maintained)

    def _advance(self, device_id: str, timeline: _Timeline, until: float) -> None:
        """Account the device's status from where its timeline stands up to ``until``, split into hours."""
        moment = timeline.since
        if until <= moment:
            return
        timeline.since = until
        if timeline.status is Status.UNKNOWN:
            return
        maintenance = self._in_maintenance(device_id, timeline)
        available = timeline.status in AVAILABLE
        while moment < until:
            hour = math.floor(moment / HOUR) * HOUR
            end = min(until, hour + HOUR)
            seconds = self._seconds.get(hour)
            if seconds is None:
                seconds = self._seconds[hour] = {}
            row = seconds.get(device_id)
            if row is None:
                row = seconds[device_id] = [0.0, 0.0, 0.0]
            span = end - moment
            row[1] += span
            if maintenance:
                row[2] += span
            elif available:
                row[0] += span
            moment = end

    def apply_transition(self, device_id: str, old: DeviceStatus, new: DeviceStatus, at: float, cause: str) -> None:
        self._out_transitions.append((at, device_id, old.status.value, new.status.value, new.root_cause, cause))
        timeline = self._timelines.get(device_id)
        if timeline is None:
            timeline = self._timelines[device_id] = _Timeline(at, new.status, new.root_cause)
        else:
            if at < timeline.since:
                self.stats.late_transitions += 1
            self._advance(device_id, timeline, at)
            timeline.status, timeline.root_cause = new.status, new.root_cause
        outage = self._outages.get(device_id)
        problem = new.status in PROBLEM
        if outage is not None and (not problem or outage.root_cause != new.root_cause):
            end = max(at, outage.start)
            self._out_outages.append(
                ('UPDATE outages SET "end" = ? WHERE device = ? AND start = ?', (end, device_id, outage.start))
            )
            del self._outages[device_id]
            outage = None
        if problem and outage is None:
            flagged = self._in_maintenance(device_id, timeline)
            self._outages[device_id] = _OpenOutage(at, new.root_cause, flagged)
            self._out_outages.append(
                (
                    'INSERT INTO outages (device, start, "end", status, root_cause, in_maintenance) '
                    'VALUES (?, ?, NULL, ?, ?, ?) ON CONFLICT (device, start) DO UPDATE SET "end" = NULL, '
                    "status = excluded.status, root_cause = excluded.root_cause, "
                    "in_maintenance = excluded.in_maintenance",
                    (device_id, at, new.status.value, new.root_cause, int(flagged)),
                )
            )

    def apply_maintenance(self, devices: frozenset[str], at: float) -> None:
        if devices == self._maintained:
            return
        for device_id, timeline in self._timelines.items():
            self._advance(device_id, timeline, at)
        self._maintained = devices
        for device_id, outage in self._outages.items():
            if not outage.flagged and (device_id in devices or outage.root_cause in devices):
                outage.flagged = True
                self._out_outages.append(
                    ("UPDATE outages SET in_maintenance = 1 WHERE device = ? AND start = ?", (device_id, outage.start))
                )

    def close_hours(self, until: float) -> None:
        """Account every timeline up to ``until`` and queue the rows of every hour that starts before it."""
        if self._closed_until is not None and until <= self._closed_until and not self._late_rows(until):
            return
        for device_id, timeline in self._timelines.items():
            self._advance(device_id, timeline, until)
        for hour in sorted(h for h in self._seconds if h < until):
            for device_id, (available, observed, maintenance) in self._seconds.pop(hour).items():
                self._out_availability.append((device_id, hour, available, observed, maintenance))
        for hour in sorted(h for h in self._rollups if h < until):
            for (device_id, metric, labels), rollup in self._rollups.pop(hour).items():
                p95 = histogram = None
                if rollup.samples is not None:
                    ordered = sorted(rollup.samples)
                    p95 = quantile(ordered)
                    histogram = pack_histogram(histogram_of(ordered))
                self._out_rollups.append(
                    (
                        (device_id, metric, labels),
                        hour,
                        rollup.low,
                        rollup.total / rollup.count,
                        rollup.high,
                        rollup.count,
                        p95,
                        histogram,
                    )
                )
        self._closed_until = max(until, self._closed_until or until)

    def _late_rows(self, until: float) -> bool:
        return any(h < until for h in self._rollups) or any(h < until for h in self._seconds)

    # writing

    def write(self, prune_at: float | None) -> None:
        db = self.db
        added: list[tuple[str, str, str]] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._out_transitions:
                db.executemany(
                    "INSERT INTO transitions (at, device, old_status, new_status, root_cause, cause) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    self._out_transitions,
                )
            for statement, parameters in self._out_outages:
                db.execute(statement, parameters)
            if self._out_rollups:
                rows = []
                for key, *values in self._out_rollups:
                    series_id = self._series.get(key)
                    if series_id is None:
                        series_id = db.execute(
                            "INSERT INTO series (device, metric, labels) VALUES (?, ?, ?) RETURNING id", key
                        ).fetchone()[0]
                        self._series[key] = series_id
                        added.append(key)
                    rows.append((series_id, *values))
                rows.sort(key=lambda row: (row[0], row[1]))  # in key order: the b-tree is walked, not jumped
                db.executemany(
                    "INSERT INTO rollups (series, hour, min, avg, max, count, p95, histogram) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series, hour) DO UPDATE SET "
                    "min = min(min, excluded.min), max = max(max, excluded.max), "
                    "avg = (avg * count + excluded.avg * excluded.count) / (count + excluded.count), "
                    "count = count + excluded.count, "
                    "p95 = history_merged_p95(histogram, excluded.histogram, p95, excluded.p95), "
                    "histogram = history_merge(histogram, excluded.histogram)",
                    rows,
                )
            if self._out_availability:
                db.executemany(
                    "INSERT INTO availability (device, hour, available_seconds, observed_seconds, "
                    "maintenance_seconds) VALUES (?, ?, ?, ?, ?) ON CONFLICT (device, hour) DO UPDATE SET "
                    "available_seconds = available_seconds + excluded.available_seconds, "
                    "observed_seconds = observed_seconds + excluded.observed_seconds, "
                    "maintenance_seconds = maintenance_seconds + excluded.maintenance_seconds",
                    self._out_availability,
                )
            if prune_at is not None:
                self._prune(prune_at)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            for key in added:  # their ids went with the rollback
                self._series.pop(key, None)
            raise
        self.stats.written_transitions += len(self._out_transitions)
        self.stats.written_rollups += len(self._out_rollups)
        self.stats.written_availability += len(self._out_availability)
        self._out_transitions, self._out_outages, self._out_rollups, self._out_availability = [], [], [], []

    def _prune(self, now: float) -> None:
        settings = self.settings
        db = self.db
        db.execute("DELETE FROM transitions WHERE at < ?", (now - settings.transitions_retention,))
        db.execute('DELETE FROM outages WHERE "end" IS NOT NULL AND "end" < ?', (now - settings.outages_retention,))
        # through the primary keys, one range per series and device: no index on hour needed
        before = math.floor((now - settings.rollups_retention) / HOUR) * HOUR
        db.executemany(
            "DELETE FROM rollups WHERE series = ? AND hour < ?",
            ((series_id, before) for series_id in self._series.values()),
        )
        before = math.floor((now - settings.availability_retention) / HOUR) * HOUR
        devices = [row[0] for row in db.execute("SELECT DISTINCT device FROM availability")]
        db.executemany("DELETE FROM availability WHERE device = ? AND hour < ?", ((d, before) for d in devices))
