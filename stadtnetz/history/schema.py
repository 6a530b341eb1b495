"""The history file itself: its schema and migrations, and opening it (:func:`connect`).

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

New versions are appended to ``MIGRATIONS`` (never edited); :func:`migrate` runs the missing ones, one per
transaction, when the file is opened, and refuses a file of a newer stadtnetz or one that is not a history.

Durability: WAL journal with ``synchronous=NORMAL``. A commit appends the
batch to the write-ahead log before it returns, so a killed process (SIGKILL,
OOM) loses nothing committed and never corrupts the file; only the fsync is
left to checkpoints, so a power cut can lose the last few seconds of batches,
which is acceptable for history and saves an fsync per batch (``FULL``). WAL
also lets reports read while the service writes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("stadtnetz.store")

HOUR = 3600


class HistoryError(Exception):
    """The history file cannot be used (newer schema, not a history file, unreadable)."""


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
