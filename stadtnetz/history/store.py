"""The history's writer: a queue the service fills without waiting, a thread that writes it in batches.

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

Durability (WAL, ``synchronous=NORMAL``) is :mod:`stadtnetz.history.schema`'s; what becomes which row, and
retention, :mod:`stadtnetz.history.ledger`'s. :class:`HistoryCollector` exports the counters.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from stadtnetz.clock import Clock
from stadtnetz.history.ledger import Ledger, _Sample
from stadtnetz.history.percentiles import _merge_histograms, _merged_p95
from stadtnetz.history.schema import HOUR, connect
from stadtnetz.log_limit import LogLimiter
from stadtnetz.model import HistorySettings
from stadtnetz.own_metrics import Family, ScrapeCollector
from stadtnetz.status.state import State
from stadtnetz.status.topology import DeviceStatus

log = logging.getLogger("stadtnetz.store")

PRUNE_EVERY = HOUR
DROP_REASONS = ("queue_full", "write_failed", "writer_dead")  # why history was dropped (see the module docstring)
DROP_KINDS = ("samples", "transitions", "maintenance")
RESTART_EVERY = 10.0  # seconds between restarts of a dead writer thread, at least
DROP_LOG_EVERY = 60.0  # seconds between log lines about dropped history (per reason) and failing writes


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
        # the writer's state (timelines, open outages, the hours not yet written, rows for the next commit),
        # under _work
        self._work = threading.RLock()
        self.ledger = Ledger(self.db, self.settings, self.stats)
        self._next_prune = 0.0
        self._thread: threading.Thread | None = None
        self._stopping = False

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
        return self.ledger.unwritten()

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
                self.ledger.close_hours(now)
            else:
                self.ledger.close_hours(math.floor((now - self.close_grace) / HOUR) * HOUR)
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
            self.ledger.write(prune_at)
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

    # applying events: the ledger's work, through methods of the store (a test replaces one on an instance)

    def _apply_samples(self, taken: list[_Sample]) -> None:
        self.ledger.apply_samples(taken)

    def _apply_transition(self, device_id: str, old: DeviceStatus, new: DeviceStatus, at: float, cause: str) -> None:
        self.ledger.apply_transition(device_id, old, new, at, cause)

    def _apply_maintenance(self, devices: frozenset[str], at: float) -> None:
        self.ledger.apply_maintenance(devices, at)


_HISTORY_COUNTERS = (
    ("recorded_transitions", "Status transitions handed to the history."),
    ("recorded_samples", "Series samples handed to the history for rollups."),
    ("written_transitions", "Status transitions committed to the history file."),
    ("written_rollups", "Hourly series rollup rows committed."),
    ("flushes", "Batches committed to the history file."),
    ("flush_errors", "Batches that failed to commit (kept and retried)."),
    ("flush_seconds", "Time spent writing batches."),
    ("writer_restarts", "Times the dead history writer thread was started again."),
)


class HistoryCollector(ScrapeCollector):
    """The store's own counters as Prometheus metrics (register it with the service's registry)."""

    counters: ClassVar[tuple[tuple[str, Family], ...]] = tuple(
        (attribute, Family("counter", f"stadtnetz_history_{attribute}", text))
        for attribute, text in _HISTORY_COUNTERS
    )
    dropped = Family(
        "counter",
        "stadtnetz_history_dropped",
        "Items of history dropped unwritten, oldest first (reason: queue_full, write_failed, writer_dead; "
        "kind: samples, transitions, maintenance).",
        ("reason", "kind"),
    )
    write_failing = Family(
        "gauge", "stadtnetz_history_write_failing", "1 while commits to the history file fail (e.g. the disk is full)."
    )
    pending = Family("gauge", "stadtnetz_history_pending", "Recorded items not yet written to the history.")
    families = (*(family for _, family in counters), dropped, write_failing, pending)

    def __init__(self, store: HistoryStore) -> None:
        self.store = store

    def rows(self) -> Iterator[tuple[Family, tuple[str, ...], float]]:
        stats = self.store.stats
        for attribute, family in self.counters:
            yield family, (), getattr(stats, attribute)
        for (reason, kind), count in sorted(dict(stats.dropped).items()):
            yield self.dropped, (reason, kind), count
        yield self.write_failing, (), int(self.store.write_failing)
        yield self.pending, (), stats.pending
