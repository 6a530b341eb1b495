"""The embedded history: status transitions, the outage log, hourly rollups and availability, in one SQLite file.

Owns the history file and everything about it: its schema and migrations,
turning what the service observes into rows (off the hot path, in batches),
retention, and the queries reports need. Nothing here talks to a device or
decides a status; it records what :mod:`stadtnetz.status.reachability` decided and
what :mod:`stadtnetz.status.state` holds.

Schema (version 2; ``PRAGMA user_version`` holds it). Times are Unix epoch
seconds (UTC); ``hour`` is the start of an hour, a multiple of 3600::

    transitions(at REAL, device TEXT, old_status TEXT, new_status TEXT, root_cause TEXT, cause TEXT)
        every status change as reachability reported it (unknown/up/degraded/down/unreachable); indexed on
        (device, at) and at
    outages(device TEXT, start REAL, end REAL NULL, status TEXT, root_cause TEXT, in_maintenance INTEGER)
        derived from transitions, primary key (device, start); ``end`` is NULL while the outage is open
    series(id INTEGER PRIMARY KEY, device TEXT, metric TEXT, labels TEXT)   unique (device, metric, labels)
    rollups(series INTEGER, hour INTEGER, min REAL, avg REAL, max REAL, count INTEGER, p95 REAL NULL,
            histogram BLOB NULL)                                       primary key (series, hour), WITHOUT ROWID
    availability(device TEXT, hour INTEGER, available_seconds REAL, observed_seconds REAL,
                 maintenance_seconds REAL)                            primary key (device, hour), WITHOUT ROWID
    view hourly(hour, device, metric, labels, min, avg, max, count, p95): rollups with their series spelled out

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
* **Utilisation** (``stadtnetz_interface_utilisation_ratio``) also gets ``p95``,
  the exact 95th percentile of the hour's samples (linear interpolation between
  closest ranks, as numpy's default), and ``histogram``: the hour's samples
  counted in bins 0.5 percentage points wide (0 .. 150 %, packed as uint16
  pairs bin, count). The p95 over any window (30 days, a year) is computed
  from the merged histograms of its hours, so it is the p95 of *all* the
  window's samples to within one bin (0.5 pp; every order statistic is known
  to its bin, see :func:`histogram_quantile`), not an average or percentile of
  hourly p95s (which misreads a link that is busy a few hours every evening:
  the percentile of hourly p95s answers "how busy are the busy hours", not the
  window's p95). Cost: a few dozen bytes per link and hour. Hours written by
  schema 1 (no histogram) count as ``count`` samples at their hourly p95.
* **Availability** per device and hour comes from the device's status timeline:
  ``observed_seconds`` had a known status (not ``unknown``, e.g. before the
  first probe or while the collector was stopped); ``maintenance_seconds`` is
  observed time in maintenance (the device itself in an open window, or down
  or unreachable with its root cause in one); ``available_seconds`` is up or
  degraded time *outside* maintenance. So availability = available /
  (observed - maintenance), between 0 and 1; the US NEVI style (outages in
  maintenance count as available) is (available + maintenance) / observed.
  A group's availability pools its devices' seconds (device-hours).

Writes are off the hot path. The service calls cheap in-memory methods:
:meth:`HistoryStore.record_transition` (from the status-change callback),
:meth:`HistoryStore.record_samples` (once per poll round: copies each freshly
polled device's value array) and :meth:`HistoryStore.record_maintenance`
(the set of devices in open windows, when it changes). A writer thread turns
them into rows and commits each batch in one transaction every
``flush_interval`` seconds (sooner when much is waiting) and at close. An
hour's rollups and availability are written once the hour is over by the
store's clock (plus ``close_grace`` for late evidence); at close the current
partial hour is written too, and a later run adding to the same hour merges
into its rows (min, max, count, avg and histogram exactly; p95 then comes from
the merged histogram).

The service's calls never wait and never touch the file: ``record_*`` only
append to an in-memory queue, on whatever thread calls them; every SQLite
statement runs on the writer thread (or in :meth:`HistoryStore.flush` and
:meth:`HistoryStore.close`, which the service calls off its event loop). A
full disk, a slow disk or a dead writer therefore costs history, never
polling, ``/metrics``, OCPP or traps. The price is that history can be lost,
and it is counted, never silent:

* The queue is bounded by ``max_pending`` items (a sample of one series, a
  status transition or a maintenance change each count one). When an item
  would not fit, the OLDEST queued sample rounds are dropped first, then, only
  if no samples are left to drop, the oldest transitions and maintenance
  changes; a new sample round that still does not fit is itself dropped rather
  than push out a transition. Transitions are kept preferentially because they
  are small (one item against a device's ~40 a round) and everything else
  derives from them: a lost transition leaves an outage open or unclosed and
  misstates availability for hours, a lost sample round leaves one sample fewer
  in an hour's min/avg/max/p95.
* Dropped items are counted in ``stadtnetz_history_dropped_total{reason,kind}``
  (``kind``: samples, transitions, maintenance) and logged as an error at most
  once a minute per reason, naming how many were dropped and why. ``reason``:
  ``write_failed`` (the writer's last commit failed, e.g. the disk is full:
  SQLITE_FULL), ``writer_dead`` (the writer thread died; it is restarted from
  the next ``record_*`` call, at most every ``RESTART_EVERY`` seconds, counted
  in ``stadtnetz_history_writer_restarts_total``), ``queue_full`` (the writer
  runs and writes but does not keep up, e.g. a stalled disk).
* While commits fail, the writer keeps the one batch it failed to write (rows
  are never dropped after they were built) and retries only that batch, backing
  off from ``flush_interval`` to ``5 * flush_interval`` seconds; meanwhile it
  takes nothing from the queue, so memory stays bounded by ``max_pending`` plus
  that batch. When the disk has room again, the retry commits and writing
  resumes by itself. :attr:`HistoryStore.problem` says what is wrong (the
  service shows it in ``/healthz``), ``stadtnetz_history_write_failing`` is 1
  meanwhile.

Durability: WAL journal with ``synchronous=NORMAL``. A commit appends the
batch to the write-ahead log before it returns, so a killed process (SIGKILL,
OOM) loses nothing committed and never corrupts the file; only the fsync is
left to checkpoints, so a power cut can lose the last few seconds of batches,
which is acceptable for history and saves an fsync per batch (``FULL``). WAL
also lets reports read while the service writes.

Retention: rows older than the configured durations are deleted every hour
(transitions by ``at``, outages by their end, rollups and availability by
their hour); open outages are kept. Series rollups are the bulk of the file
(bench/history_write.py: 16 MB a day for the 650-device city, 13,000 gauges,
at ~52 bytes a row), so they have their own, shorter default (90 days);
availability rows cost 0.5 MB a day there and are kept 400 days, enough for
a year's availability.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import sys
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from stadtnetz.clock import Clock
from stadtnetz.labels import escape_label
from stadtnetz.log_limit import LogLimiter
from stadtnetz.model import HistorySettings, MetricKind
from stadtnetz.own_metrics import counter_families
from stadtnetz.status.state import Layout, State
from stadtnetz.status.topology import PROBLEM, DeviceStatus, Status

log = logging.getLogger("stadtnetz.store")

HOUR = 3600
UTILISATION_METRIC = "stadtnetz_interface_utilisation_ratio"
BIN_WIDTH = 0.005  # utilisation histogram bins: 0.5 percentage points
BINS = 300  # 0 .. 1.5: the state calls a rate above 1.5x the interface speed impossible
_PER_UNIT = 200  # bins per 1.0 of utilisation: 1 / BIN_WIDTH, exact (multiplying bins 0.3 into bin 60, not 59)
PERCENTILE = 0.95
AVAILABLE = frozenset({Status.UP, Status.DEGRADED})
PRUNE_EVERY = HOUR
_CHUNK = 500  # ids per IN (...) list
DROP_REASONS = ("queue_full", "write_failed", "writer_dead")  # why history was dropped (see the module docstring)
DROP_KINDS = ("samples", "transitions", "maintenance")
RESTART_EVERY = 10.0  # seconds between restarts of a dead writer thread, at least
DROP_LOG_EVERY = 60.0  # seconds between log lines about dropped history (per reason) and failing writes


class HistoryError(Exception):
    """The history file cannot be used (newer schema, not a history file, unreadable)."""


# --- schema -----------------------------------------------------------------------------------------------------------


def _schema_1(db: sqlite3.Connection) -> None:
    """Transitions, outages, hourly rollups and availability."""
    for statement in (
        """CREATE TABLE transitions (
            at REAL NOT NULL, device TEXT NOT NULL, old_status TEXT NOT NULL, new_status TEXT NOT NULL,
            root_cause TEXT NOT NULL DEFAULT '', cause TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX transitions_device_at ON transitions (device, at)",
        "CREATE INDEX transitions_at ON transitions (at)",
        """CREATE TABLE outages (
            device TEXT NOT NULL, start REAL NOT NULL, "end" REAL, status TEXT NOT NULL,
            root_cause TEXT NOT NULL, in_maintenance INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (device, start)) WITHOUT ROWID""",
        "CREATE INDEX outages_start ON outages (start)",
        """CREATE TABLE series (
            id INTEGER PRIMARY KEY, device TEXT NOT NULL, metric TEXT NOT NULL, labels TEXT NOT NULL,
            UNIQUE (device, metric, labels))""",
        """CREATE TABLE rollups (
            series INTEGER NOT NULL, hour INTEGER NOT NULL, min REAL NOT NULL, avg REAL NOT NULL,
            max REAL NOT NULL, count INTEGER NOT NULL, p95 REAL,
            PRIMARY KEY (series, hour)) WITHOUT ROWID""",
        """CREATE TABLE availability (
            device TEXT NOT NULL, hour INTEGER NOT NULL, available_seconds REAL NOT NULL,
            observed_seconds REAL NOT NULL, maintenance_seconds REAL NOT NULL,
            PRIMARY KEY (device, hour)) WITHOUT ROWID""",
        """CREATE VIEW hourly AS
            SELECT r.hour, s.device, s.metric, s.labels, r.min, r.avg, r.max, r.count, r.p95
            FROM rollups r JOIN series s ON s.id = r.series""",
    ):
        db.execute(statement)


def _schema_2(db: sqlite3.Connection) -> None:
    """Utilisation histograms per hour, so a window's p95 is that of all its samples (to one bin)."""
    db.execute("ALTER TABLE rollups ADD COLUMN histogram BLOB")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_schema_1, _schema_2)  # append only, never edit
SCHEMA_VERSION = len(MIGRATIONS)


def _version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, path: Path | str, target: int = SCHEMA_VERSION) -> int:
    """Bring the file up to schema ``target``, one migration per transaction; return the version it had."""
    found = _version(db)
    if found > SCHEMA_VERSION:
        raise HistoryError(
            f"{path}: this history file has schema version {found}, written by a newer stadtnetz; this one "
            f"reads up to version {SCHEMA_VERSION}. Upgrade stadtnetz, or point history.path at another file"
        )
    if found == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise HistoryError(
            f"{path}: an SQLite file, but not a stadtnetz history (it has tables and no schema version); "
            "point history.path at a new file"
        )
    while True:
        db.execute("BEGIN IMMEDIATE")  # the write lock first, then the version: two processes migrate once
        try:
            version = _version(db)
            if version >= target:
                db.execute("COMMIT")
                return found
            MIGRATIONS[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        log.info("%s: history schema migrated to version %d", path, version + 1)


def connect(path: Path | str, *, create: bool = True, target: int = SCHEMA_VERSION) -> sqlite3.Connection:
    """Open (``create``: or create) a history file: WAL, ``synchronous=NORMAL``, migrated to ``target``.

    The connection is in autocommit mode (``isolation_level=None``): writers say BEGIN and COMMIT.
    """
    path = Path(path)
    if not create and not path.is_file():
        raise HistoryError(f"{path}: no history file there; `stadtnetz run` with history.path set creates it")
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: cannot open the history file: {exc}") from None
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            log.warning("%s: the file system refuses WAL (journal mode %s); history writes block readers", path, mode)
        db.execute("PRAGMA synchronous = NORMAL")  # see the module docstring: durable against crashes, not power cuts
        migrate(db, path, target)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise HistoryError(f"{path}: not a usable history file: {exc}") from None
    except BaseException:
        db.close()
        raise
    return db


# --- percentiles ------------------------------------------------------------------------------------------------------


def quantile(ordered: Sequence[float], q: float = PERCENTILE) -> float:
    """The ``q`` quantile of sorted values, interpolating linearly between closest ranks (numpy's default)."""
    if not ordered:
        return math.nan
    rank = q * (len(ordered) - 1)
    low = int(rank)
    if low + 1 >= len(ordered):
        return ordered[-1]
    return ordered[low] + (rank - low) * (ordered[low + 1] - ordered[low])


def bin_of(value: float) -> int:
    return 0 if value <= 0 else min(int(value * _PER_UNIT), BINS - 1)


def histogram_of(ordered: Sequence[float]) -> dict[int, int]:
    """Bin counts of sorted samples (the per-sample work in C: a comprehension and Counter)."""
    bins = [int(value * _PER_UNIT) for value in ordered]
    if bins and (bins[0] < 0 or bins[-1] >= BINS):
        bins = [min(max(index, 0), BINS - 1) for index in bins]
    return Counter(bins)


def pack_histogram(counts: Mapping[int, int]) -> bytes:
    """Bin counts as little-endian uint16 pairs (bin, count), bins ascending."""
    pairs = sorted(counts.items())
    if pairs and max(counts.values()) > 0xFFFF:  # more than 18 samples a second: split into several pairs
        pairs = [(i, min(c - k, 0xFFFF)) for i, c in pairs for k in range(0, c, 0xFFFF)]
    packed = array("H", chain.from_iterable(pairs))
    if sys.byteorder != "little":  # pragma: no cover
        packed.byteswap()
    return packed.tobytes()


def unpack_histogram(blob: bytes, into: dict[int, int] | None = None) -> dict[int, int]:
    counts = {} if into is None else into
    packed = array("H")
    packed.frombytes(blob)
    if sys.byteorder != "little":  # pragma: no cover
        packed.byteswap()
    for position in range(0, len(packed), 2):
        counts[packed[position]] = counts.get(packed[position], 0) + packed[position + 1]
    return counts


def histogram_quantile(counts: Mapping[int, int], q: float = PERCENTILE) -> float:
    """The ``q`` quantile of binned samples, by the same rule as :func:`quantile`.

    The k-th smallest sample is estimated inside its bin (a bin's samples taken
    as evenly spread in it), so it is off by less than one bin width; the
    quantile interpolates between two such estimates, so it too is within one
    bin width of the exact quantile of the samples, whatever the data.
    """
    total = sum(counts.values())
    if total == 0:
        return math.nan
    rank = q * (total - 1)
    low = int(rank)
    wanted = (low, min(low + 1, total - 1))
    found: list[float] = []
    seen = 0
    for index in sorted(counts):
        count = counts[index]
        while len(found) < 2 and wanted[len(found)] < seen + count:
            found.append((index + (wanted[len(found)] - seen + 0.5) / count) * BIN_WIDTH)
        if len(found) == 2:
            break
        seen += count
    return found[0] + (rank - low) * (found[1] - found[0])


def _merge_histograms(first: bytes | None, second: bytes | None) -> bytes | None:
    if first is None or second is None:
        return None
    return pack_histogram(unpack_histogram(second, unpack_histogram(first)))


def _merged_p95(first: bytes | None, second: bytes | None, p95_first: float | None, p95_second: float | None) -> float:
    if first is not None and second is not None:
        return histogram_quantile(unpack_histogram(second, unpack_histogram(first)))
    values = [v for v in (p95_first, p95_second) if v is not None]
    return max(values) if values else None  # type: ignore[return-value]


# --- in-memory accumulation -------------------------------------------------------------------------------------------


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


@dataclass
class HistoryStats:
    """What the store did; exported as ``stadtnetz_history_*`` metrics."""

    recorded_transitions: int = 0
    recorded_samples: int = 0
    written_transitions: int = 0
    written_rollups: int = 0
    written_availability: int = 0
    flushes: int = 0
    flush_errors: int = 0
    flush_seconds: float = 0.0  # in total
    last_flush_seconds: float = 0.0
    dropped: dict[tuple[str, str], int] = field(  # (reason, kind) -> items dropped unwritten
        default_factory=lambda: {(reason, kind): 0 for reason in DROP_REASONS for kind in DROP_KINDS}
    )
    writer_restarts: int = 0  # times a dead writer thread was started again
    late_transitions: int = 0  # arrived for time already accounted (counted from where accounting stands)
    pending: int = 0  # recorded, not yet written

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


_Sample = tuple[str, float, Layout, array]  # device id, poll time, its series, a copy of its values
_Plan = tuple[tuple[int, str, str, bool], ...]  # per rolled-up slot: slot, metric name, labels, utilisation?


class HistoryStore:
    """The history file, written in batches by a background thread (see the module docstring).

    Use: ``store = HistoryStore(path, clock, settings); store.start()``; feed it with
    the ``record_*`` methods; ``store.close()`` at the end writes everything left.
    Without :meth:`start`, nothing is written until :meth:`flush` (tests drive it so).
    """

    def __init__(
        self,
        path: Path | str,
        clock: Clock,
        settings: HistorySettings | None = None,
        *,
        flush_interval: float = 2.0,
        max_pending: int = 500_000,
        close_grace: float = 120.0,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.settings = settings or HistorySettings(path=self.path)
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.close_grace = close_grace
        self.stats = HistoryStats()
        self.db = connect(self.path)
        self.db.create_function("history_merge", 2, _merge_histograms, deterministic=True)
        self.db.create_function("history_merged_p95", 4, _merged_p95, deterministic=True)
        # the queue between callers and the writer: sample rounds apart from transitions and maintenance
        # changes, so samples can be dropped first; each deque in the order recorded
        self._cond = threading.Condition()
        self._samples: deque[tuple[list[_Sample], int]] = deque()
        self._events: deque[tuple] = deque()
        self._queued = 0  # items in both
        self._last_poll: dict[str, float] = {}  # caller side: the poll of each device last recorded
        self._failing: str | None = None  # what is wrong while commits fail ("disk full at ..."); None: they work
        self._failing_since = 0.0  # monotonic
        self._dropped_unlogged: dict[str, int] = {}  # reason -> items dropped since the last log line about it
        self._last_queue_full = -math.inf  # monotonic: when the writer last fell behind so far that items went
        self._log_limit = LogLimiter(clock, DROP_LOG_EVERY)
        self._last_restart = -math.inf  # monotonic
        self._death = ""  # why the writer thread died, if it did
        # the writer's state, under _work
        self._work = threading.RLock()
        self._timelines: dict[str, _Timeline] = {}
        self._maintained: frozenset[str] = frozenset()
        self._outages: dict[str, _OpenOutage] = {}
        self._rollups: dict[int, dict[tuple[str, str, str], _Rollup]] = {}  # hour -> (device, metric, labels)
        self._seconds: dict[int, dict[str, list[float]]] = {}  # hour -> device -> [available, observed, maint]
        self._closed_until: float | None = None  # hours before this were written (or are late additions)
        self._plans: dict[Layout, _Plan] = {}
        self._series: dict[tuple[str, str, str], int] = {}
        self._next_prune = 0.0
        # written at the next flush (kept across a failed one)
        self._out_transitions: list[tuple] = []
        self._out_outages: list[tuple[str, tuple]] = []
        self._out_rollups: list[tuple] = []
        self._out_availability: list[tuple] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        for device, start, root_cause, flagged in self.db.execute(
            'SELECT device, start, root_cause, in_maintenance FROM outages WHERE "end" IS NULL'
        ):
            self._outages[device] = _OpenOutage(start, root_cause, bool(flagged))
        for series_id, device, metric, labels in self.db.execute("SELECT id, device, metric, labels FROM series"):
            self._series[(device, metric, labels)] = series_id

    # --- the hot path: cheap, in memory, never waits, never touches the file ----------------------------------

    def record_transition(
        self, device_id: str, old: DeviceStatus, new: DeviceStatus, at: float, cause: str = ""
    ) -> None:
        """A device's status changed at ``at`` (wall-clock epoch seconds)."""
        self.stats.recorded_transitions += 1
        self._enqueue(("t", device_id, old, new, at, cause), 1)

    def record_samples(self, state: State, now: float) -> int:
        """Take the values of every device polled since the last call (one sample per series); return how many
        devices. A device's samples are timed by its last successful poll (``now`` if that is unknown)."""
        taken: list[_Sample] = []
        size = 0
        last_poll = self._last_poll
        for device in state.devices.values():
            if not device.exported or device.last_poll is None or last_poll.get(device.device.id) == device.last_poll:
                continue
            last_poll[device.device.id] = device.last_poll
            values = array("d", device.values)
            taken.append((device.device.id, device.last_seen or now, device.layout, values))
            size += len(values)
        if taken:
            self.stats.recorded_samples += size
            self._enqueue(("s", taken), size)
        return len(taken)

    def record_maintenance(self, device_ids: Iterable[str], now: float) -> None:
        """The devices in an open maintenance window from ``now`` on (all of them, each time it changes)."""
        self._enqueue(("m", frozenset(device_ids), now), 1)

    def _enqueue(self, event: tuple, size: int) -> None:
        """Queue an event; when full, drop the oldest samples first (see the module docstring). Never waits for
        the writer (the lock is only ever held for a few list operations)."""
        restarted = False
        with self._cond:
            restarted = self._revive_writer()
            fits = True
            if self._queued + size > self.max_pending and self._queued:
                fits = self._make_room(size, event[0] == "s")
            if fits:
                if event[0] == "s":
                    self._samples.append((event[1], size))
                else:
                    self._events.append(event)
                self._queued += size
            else:  # a sample round that would push out transitions: it goes instead
                self._drop(self._drop_reason(), "samples", size)
            self.stats.pending = self._queued + self._unwritten()
            if self._queued >= self.max_pending // 4 and self._failing is None:
                self._cond.notify_all()  # wake the writer early
        if restarted:
            log.error(
                "%s: the history writer thread died (%s); started it again (restart %d)",
                self.path,
                self._death or "no reason known",
                self.stats.writer_restarts,
            )
        if self._dropped_unlogged:
            self._log_drops()

    def _make_room(self, size: int, samples: bool) -> bool:
        """Drop queued items, oldest samples first, until ``size`` more fit; False if a new sample round still
        does not fit (only transitions and maintenance changes are left, and they are kept). Under ``_cond``."""
        reason = self._drop_reason()
        limit = self.max_pending - size
        while self._queued > limit and self._samples:
            _, count = self._samples.popleft()
            self._queued -= count
            self._drop(reason, "samples", count)
        if self._queued <= limit:
            return True
        if samples:
            return self._queued == 0  # bigger than max_pending on its own: taken whole, as the only item
        while self._queued > limit and self._events:
            dropped = self._events.popleft()
            self._queued -= 1
            self._drop(reason, "transitions" if dropped[0] == "t" else "maintenance", 1)
        return True

    def _drop(self, reason: str, kind: str, count: int) -> None:
        self.stats.dropped[(reason, kind)] = self.stats.dropped.get((reason, kind), 0) + count
        self._dropped_unlogged[reason] = self._dropped_unlogged.get(reason, 0) + count
        if reason == "queue_full":
            self._last_queue_full = time.monotonic()

    def _drop_reason(self) -> str:
        if self._thread is not None and not self._thread.is_alive() and not self._stopping:
            return "writer_dead"
        return "queue_full" if self._failing is None else "write_failed"

    def _log_drops(self) -> None:
        """An error line per reason, at most every DROP_LOG_EVERY seconds, with what was dropped since the last."""
        with self._cond:
            due = {reason: count for reason, count in self._dropped_unlogged.items() if self._log_limit.due(reason)}
            for reason in due:
                del self._dropped_unlogged[reason]
            failing, pending = self._failing, self._queued
        for reason, count in due.items():
            why = {
                "write_failed": f"writing it fails ({failing or 'the last commit failed'})",
                "writer_dead": f"the writer thread died ({self._death or 'no reason known'})",
                "queue_full": "the writer does not keep up (a slow or stalled disk?)",
            }[reason]
            total = sum(n for (r, _), n in self.stats.dropped.items() if r == reason)
            log.error(
                "%s: dropped %d items of history, oldest first (%d since start, reason %s): %s; "
                "%d items queued (history.max_pending %d)",
                self.path,
                count,
                total,
                reason,
                why,
                pending,
                self.max_pending,
            )

    def _unwritten(self) -> int:
        return (
            len(self._out_transitions) + len(self._out_outages) + len(self._out_rollups) + len(self._out_availability)
        )

    def _writer_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _revive_writer(self) -> bool:
        """Start a dead writer thread again (at most every RESTART_EVERY seconds); True if it did. Under _cond."""
        if self._thread is None or self._thread.is_alive() or self._stopping:
            return False
        now = time.monotonic()
        if now - self._last_restart < RESTART_EVERY:
            return False
        self._last_restart = now
        self.stats.writer_restarts += 1
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()
        return True

    @property
    def write_failing(self) -> bool:
        """True while commits fail (the last one did)."""
        return self._failing is not None

    @property
    def problem(self) -> str | None:
        """What keeps history from being written now, or None (for ``/healthz``)."""
        if self._thread is not None and not self._thread.is_alive() and not self._stopping:
            return f"history writer thread died ({self._death or 'no reason known'})"
        if self._failing is not None:
            return f"history not written: {self._failing} (since {time.monotonic() - self._failing_since:.0f} s)"
        if time.monotonic() - self._last_queue_full < DROP_LOG_EVERY:
            return "history writer falls behind: history dropped (queue_full) in the last minute"
        return None

    def health(self) -> dict[str, object]:
        """The store's part of ``/healthz``."""
        problem = self.problem
        return {
            "ok": problem is None,
            "problem": problem,
            "pending": self.stats.pending,
            "dropped": sum(self.stats.dropped.values()),
        }

    # --- the writer ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread: it flushes every ``flush_interval`` seconds (sooner when much is queued)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # the thread ends; the next record_* call starts another
            self._death = f"{type(exc).__name__}: {exc}"
            log.critical("%s: the history writer thread died", self.path, exc_info=True)

    def _serve(self) -> None:
        backoff = self.flush_interval
        while True:
            with self._cond:
                if self._failing is None:
                    if not self._stopping and self._queued < self.max_pending // 4:
                        self._cond.wait(self.flush_interval)
                else:  # retry after the backoff, whatever is queued meanwhile
                    deadline = time.monotonic() + backoff
                    while not self._stopping and (left := deadline - time.monotonic()) > 0:
                        self._cond.wait(left)
                if self._stopping:
                    return
            try:
                self.flush()
            except Exception:  # counted and logged (rate-limited) by flush; kept and retried
                backoff = min(5 * self.flush_interval, backoff * 2) if self._failing is not None else backoff
                if self._failing is None:  # not a write that failed: a bug; say so, and carry on
                    log.exception("%s: preparing history rows failed", self.path)
            else:
                backoff = self.flush_interval

    def flush(self, final: bool = False) -> None:
        """Turn everything recorded into rows, write the finished hours (``final``: also the current one),
        prune when due, and commit it all in one transaction. While commits fail, first the batch that failed
        is retried alone (so nothing more is taken from the queue while the disk is full)."""
        with self._work:
            started = time.monotonic()
            if self._failing is not None and not final:
                self._commit(None)  # raises again if the disk is still full: the queue stays where it is
            with self._cond:
                samples, self._samples = self._samples, deque()
                events, self._events = self._events, deque()
                self._queued = 0
            for event in events:
                if event[0] == "t":
                    self._apply_transition(*event[1:])
                else:
                    self._apply_maintenance(event[1], event[2])
            for taken, _ in samples:
                self._apply_samples(taken)
            now = self.clock.time()
            if final:
                self._close_hours(now)
            else:
                self._close_hours(math.floor((now - self.close_grace) / HOUR) * HOUR)
            prune = now >= self._next_prune
            self._commit(now if prune else None)
            if prune:
                self._next_prune = now + PRUNE_EVERY
            elapsed = time.monotonic() - started
            self.stats.flush_seconds += elapsed
            self.stats.last_flush_seconds = elapsed

    def _commit(self, prune_at: float | None) -> None:
        """Write the rows built so far in one transaction; note failure and recovery."""
        try:
            self._write(prune_at)
        except Exception as exc:
            self.stats.flush_errors += 1
            self._write_failed(exc)
            raise
        finally:
            with self._cond:
                self.stats.pending = self._queued + self._unwritten()
                self._cond.notify_all()
        self.stats.flushes += 1
        if self._failing is not None:
            with self._cond:
                problem, self._failing = self._failing, None
            log.warning(
                "%s: writing history again after %.0f s (%s); %d items were dropped meanwhile in total",
                self.path,
                time.monotonic() - self._failing_since,
                problem,
                self.stats.dropped_total,
            )

    def _write_failed(self, exc: Exception) -> None:
        full = isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
        problem = f"disk full at {self.path}" if full else f"cannot write {self.path}: {exc}"
        with self._cond:
            first = self._failing is None
            if first:
                self._failing_since = time.monotonic()
            self._failing = problem
            due = self._log_limit.due("write") or first
        if due:
            log.error(
                "%s: writing history failed (%s); retrying the batch of %d rows, new history waits in memory "
                "(up to history.max_pending %d items, then the oldest is dropped)",
                self.path,
                exc,
                self._unwritten(),
                self.max_pending,
            )

    def close(self) -> None:
        """Stop the writer, write everything (the current hour too), and close the file."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        try:
            self.flush(final=True)
        except sqlite3.Error as exc:  # the last chance: say what is lost, and let the service stop anyway
            log.error(
                "%s: the last batch could not be written (%s): %d items of history are lost",
                self.path,
                exc,
                self.stats.pending,
            )
        finally:
            self.db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # applying events (writer side)

    def _apply_samples(self, taken: list[_Sample]) -> None:
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

    def _apply_transition(self, device_id: str, old: DeviceStatus, new: DeviceStatus, at: float, cause: str) -> None:
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

    def _apply_maintenance(self, devices: frozenset[str], at: float) -> None:
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

    def _close_hours(self, until: float) -> None:
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

    def _write(self, prune_at: float | None) -> None:
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


class HistoryCollector:
    """The store's own counters as Prometheus metrics (register it with the service's registry)."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        stats = self.store.stats
        yield from counter_families(
            "stadtnetz_history_",
            (
                ("recorded_transitions", stats.recorded_transitions, "Status transitions handed to the history."),
                ("recorded_samples", stats.recorded_samples, "Series samples handed to the history for rollups."),
                ("written_transitions", stats.written_transitions, "Status transitions committed to the history file."),
                ("written_rollups", stats.written_rollups, "Hourly series rollup rows committed."),
                ("flushes", stats.flushes, "Batches committed to the history file."),
                ("flush_errors", stats.flush_errors, "Batches that failed to commit (kept and retried)."),
                ("flush_seconds", stats.flush_seconds, "Time spent writing batches."),
                ("writer_restarts", stats.writer_restarts, "Times the dead history writer thread was started again."),
            ),
        )
        dropped = CounterMetricFamily(
            "stadtnetz_history_dropped",
            "Items of history dropped unwritten, oldest first (reason: queue_full, write_failed, writer_dead; "
            "kind: samples, transitions, maintenance).",
            labels=["reason", "kind"],
        )
        for (reason, kind), count in sorted(dict(stats.dropped).items()):
            dropped.add_metric([reason, kind], count)
        yield dropped
        failing = GaugeMetricFamily(
            "stadtnetz_history_write_failing", "1 while commits to the history file fail (e.g. the disk is full)."
        )
        failing.add_metric([], int(self.store.write_failing))
        yield failing
        pending = GaugeMetricFamily("stadtnetz_history_pending", "Recorded items not yet written to the history.")
        pending.add_metric([], stats.pending)
        yield pending


# --- queries ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Availability:
    """Seconds of a device (or pooled over a group) in a period; see the module docstring for their meaning."""

    available_seconds: float = 0.0
    observed_seconds: float = 0.0
    maintenance_seconds: float = 0.0

    @property
    def counted_seconds(self) -> float:
        """Observed time outside maintenance: the denominator."""
        return max(0.0, self.observed_seconds - self.maintenance_seconds)

    @property
    def ratio(self) -> float | None:
        """available / (observed - maintenance); None when nothing was observed outside maintenance."""
        counted = self.counted_seconds
        return min(1.0, self.available_seconds / counted) if counted > 0 else None

    @property
    def nevi_ratio(self) -> float | None:
        """(observed - (outage - outage in maintenance)) / observed, the US NEVI rule (23 CFR 680.116) for
        charging ports: time in maintenance counts as available; None when nothing was observed."""
        if self.observed_seconds <= 0:
            return None
        return min(1.0, (self.available_seconds + self.maintenance_seconds) / self.observed_seconds)

    @property
    def downtime_seconds(self) -> float:
        """Observed time outside maintenance in which the device was down or unreachable."""
        return max(0.0, self.counted_seconds - self.available_seconds)

    def __add__(self, other: Availability) -> Availability:
        return Availability(
            self.available_seconds + other.available_seconds,
            self.observed_seconds + other.observed_seconds,
            self.maintenance_seconds + other.maintenance_seconds,
        )


@dataclass(frozen=True, slots=True)
class Outage:
    device: str
    start: float
    end: float | None  # None: still open
    status: str  # down or unreachable
    root_cause: str
    in_maintenance: bool


@dataclass(frozen=True, slots=True)
class Transition:
    at: float
    device: str
    old: Status
    new: Status
    root_cause: str
    cause: str


def _hour_floor(moment: float) -> int:
    return math.floor(moment / HOUR) * HOUR


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for first in range(0, len(ids), _CHUNK):
        yield ids[first : first + _CHUNK]


def _ids(devices: str | Iterable[str]) -> list[str]:
    return [devices] if isinstance(devices, str) else list(dict.fromkeys(devices))


def availability_by_device(
    db: sqlite3.Connection, devices: str | Iterable[str], start: float, end: float
) -> dict[str, Availability]:
    """Each device's seconds in the hours from the one holding ``start`` up to ``end`` (whole hours: rows are
    hourly, and the current hour is written when it is over or at the service's stop)."""
    wanted = _ids(devices)
    found = dict.fromkeys(wanted, Availability())
    for chunk in _chunks(wanted):
        marks = ",".join("?" * len(chunk))
        for device, available, observed, maintenance in db.execute(
            f"SELECT device, sum(available_seconds), sum(observed_seconds), sum(maintenance_seconds) "
            f"FROM availability WHERE device IN ({marks}) AND hour >= ? AND hour < ? GROUP BY device",
            (*chunk, _hour_floor(start), end),
        ):
            found[device] = Availability(available, observed, maintenance)
    return found


def connectors_recorded(
    db: sqlite3.Connection, chargers: Iterable[str], start: float, end: float
) -> dict[str, list[int]]:
    """The connectors of each charger with availability rows in the hours of [start, end) (keys ``<id>/<n>``)."""
    wanted = set(chargers)
    found: dict[str, set[int]] = {}
    for (key,) in db.execute(
        "SELECT DISTINCT device FROM availability WHERE hour >= ? AND hour < ? AND device LIKE '%/%'",
        (_hour_floor(start), end),
    ):
        charger, _, number = key.rpartition("/")
        if charger in wanted and number.isdigit():
            found.setdefault(charger, set()).add(int(number))
    return {charger: sorted(numbers) for charger, numbers in found.items()}


def availability(db: sqlite3.Connection, devices: str | Iterable[str], start: float, end: float) -> Availability:
    """A device's, or a group's (its devices' seconds pooled), availability over a period; ``.ratio`` is it."""
    total = Availability()
    for value in availability_by_device(db, devices, start, end).values():
        total += value
    return total


def _matches(labels: str, match: Mapping[str, str]) -> bool:
    parts = set(labels.split(","))  # label values never hold an unescaped '",' sequence
    return all(f'{name}="{escape_label(value)}"' in parts for name, value in match.items())


def p95_utilisation_by_series(
    db: sqlite3.Connection, device: str, start: float, end: float, match: Mapping[str, str] | None = None
) -> dict[str, float]:
    """The 95th percentile utilisation of each of the device's utilisation series whose labels include ``match``
    (e.g. ``{"interface": "eth0"}``), over the hours from the one holding ``start`` up to ``end``."""
    merged: dict[str, dict[int, int]] = {}
    for labels, count, p95, histogram in db.execute(
        "SELECT s.labels, r.count, r.p95, r.histogram FROM series s JOIN rollups r ON r.series = s.id "
        "WHERE s.device = ? AND s.metric = ? AND r.hour >= ? AND r.hour < ?",
        (device, UTILISATION_METRIC, _hour_floor(start), end),
    ):
        if match and not _matches(labels, match):
            continue
        counts = merged.setdefault(labels, {})
        if histogram is not None:
            unpack_histogram(histogram, counts)
        elif p95 is not None:  # an hour from schema 1: its samples counted at its p95
            index = bin_of(p95)
            counts[index] = counts.get(index, 0) + count
    return {labels: histogram_quantile(counts) for labels, counts in merged.items() if counts}


def p95_utilisation(
    db: sqlite3.Connection, device: str, start: float, end: float, match: Mapping[str, str] | None = None
) -> float | None:
    """A link's 95th percentile utilisation over a window: the busier direction's (the highest of the matching
    series'), e.g. ``match={"interface": "eth0"}``; None without samples. Within 0.5 percentage points of the
    exact p95 of all the window's samples (see the module docstring)."""
    values = p95_utilisation_by_series(db, device, start, end, match)
    return max(values.values()) if values else None


def outages(
    db: sqlite3.Connection, start: float, end: float, devices: str | Iterable[str] | None = None
) -> list[Outage]:
    """Every outage overlapping [start, end) (open ones too), of ``devices`` or of all, by start."""
    query = (
        'SELECT device, start, "end", status, root_cause, in_maintenance FROM outages '
        'WHERE start < ? AND ("end" IS NULL OR "end" > ?)'
    )
    rows: list[tuple] = []
    if devices is None:
        rows = db.execute(query, (end, start)).fetchall()
    else:
        for chunk in _chunks(_ids(devices)):
            marks = ",".join("?" * len(chunk))
            rows += db.execute(f"{query} AND device IN ({marks})", (end, start, *chunk)).fetchall()
    return sorted(
        (Outage(d, s, e, status, cause, bool(flag)) for d, s, e, status, cause, flag in rows),
        key=lambda outage: (outage.start, outage.device),
    )


def transitions(
    db: sqlite3.Connection, start: float, end: float, devices: str | Iterable[str] | None = None
) -> list[Transition]:
    """Every status transition in [start, end), of ``devices`` or of all, in order."""
    query = "SELECT at, device, old_status, new_status, root_cause, cause FROM transitions WHERE at >= ? AND at < ?"
    rows: list[tuple] = []
    if devices is None:
        rows = db.execute(query, (start, end)).fetchall()
    else:
        for chunk in _chunks(_ids(devices)):
            marks = ",".join("?" * len(chunk))
            rows += db.execute(f"{query} AND device IN ({marks})", (start, end, *chunk)).fetchall()
    return sorted(
        (Transition(at, d, Status(old), Status(new), root, cause) for at, d, old, new, root, cause in rows),
        key=lambda t: t.at,
    )
