"""What the status page reads from the history file: incidents from the outage log, daily availability bars.

Plain functions of an open connection (:func:`stadtnetz.history.connect`), run in a worker thread by
:class:`stadtnetz.app.pages.site.StatusSite` and kept for a minute (the rows behind them change hourly, outages within
seconds of a transition: the history writer commits every two seconds).

* **Incidents.** Outage rows grouped by root cause: the rows of one root cause whose times overlap are one
  incident (a fibre cut: the switch's own row and the 24 rows of the hotspots behind it). Its start is the
  earliest row's, its end the latest (none while any row is open); ``affected`` are the other devices in it.
  Charger connectors (``cp-007/1``) count as their charger.
* **Daily bars.** Per day (UTC) and scope (a district, a group, one device): available / (observed - maintenance)
  pooled over the scope's devices, from the hourly availability rows; a day without rows has no value (drawn grey).
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DAY = 86400
MAX_OUTAGE_ROWS = 50_000  # the newest outage rows read for incidents, at most


@dataclass(frozen=True, slots=True)
class Incident:
    root_cause: str
    start: float
    end: float | None  # None: still going on
    status: str  # of the root cause's own row: down (or unreachable if its own row is missing)
    affected: tuple[str, ...]  # the other devices (and charger ids) behind it
    in_maintenance: bool

    @property
    def key(self) -> str:
        """Stable over refreshes: the root cause and the start."""
        return f"{self.root_cause}@{self.start:.0f}"

    def duration(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start


@dataclass(frozen=True, slots=True)
class DayBar:
    day: str  # YYYY-MM-DD (UTC)
    ratio: float | None  # None: no data
    observed_seconds: float


def _owner(device: str) -> str:
    """A charger connector's key (``cp-007/1``) stands for its charger."""
    return device.rpartition("/")[0] if "/" in device else device


def incidents(db: sqlite3.Connection, now: float, limit: int, since: float | None = None) -> list[Incident]:
    """The ``limit`` newest incidents (see the module docstring), newest first."""
    since = now - 90 * DAY if since is None else since
    rows = db.execute(
        'SELECT device, start, "end", status, root_cause, in_maintenance FROM outages '
        "WHERE start >= ? OR \"end\" IS NULL OR \"end\" >= ? ORDER BY start DESC LIMIT ?",
        (since, since, MAX_OUTAGE_ROWS),
    ).fetchall()
    rows.reverse()
    open_groups: dict[str, list] = {}  # root cause -> [start, end (inf while open), status, devices, maintenance]
    found: list[list] = []
    for device, start, end, status, root, flagged in rows:
        root = root or device
        until = math.inf if end is None else end
        group = open_groups.get(root)
        if group is None or start > group[1]:
            group = [start, until, "", set(), False, root]
            open_groups[root] = group
            found.append(group)
        group[1] = max(group[1], until)
        if _owner(device) == root and not group[2]:
            group[2] = status
        if _owner(device) != root:
            group[3].add(_owner(device))
        group[4] = group[4] or bool(flagged)
    ordered = sorted(found, key=lambda g: (g[0], g[5]), reverse=True)[:limit]
    return [
        Incident(g[5], g[0], None if g[1] == math.inf else g[1], g[2] or "unreachable", tuple(sorted(g[3])), g[4])
        for g in ordered
    ]


def _days(now: float, days: int) -> list[int]:
    today = math.floor(now / DAY) * DAY
    return [today - DAY * back for back in range(days - 1, -1, -1)]


def daily_by_device(db: sqlite3.Connection, now: float, days: int) -> dict[str, dict[int, tuple[float, float, float]]]:
    """Every device's (available, observed, maintenance) seconds per UTC day over the last ``days`` days."""
    first = _days(now, days)[0]
    found: dict[str, dict[int, tuple[float, float, float]]] = {}
    for device, day, available, observed, maintenance in db.execute(
        "SELECT device, (hour / 86400) * 86400 AS day, sum(available_seconds), sum(observed_seconds), "
        "sum(maintenance_seconds) FROM availability WHERE hour >= ? GROUP BY device, day",
        (first,),
    ):
        found.setdefault(device, {})[int(day)] = (available, observed, maintenance)
    return found


def pooled_bars(
    per_device: Mapping[str, Mapping[int, tuple[float, float, float]]],
    members: Iterable[str],
    now: float,
    days: int,
) -> list[DayBar]:
    """One scope's daily bars: its members' seconds pooled per day."""
    sums: dict[int, list[float]] = {}
    for device in members:
        for day, (available, observed, maintenance) in per_device.get(device, {}).items():
            entry = sums.setdefault(day, [0.0, 0.0, 0.0])
            entry[0] += available
            entry[1] += observed
            entry[2] += maintenance
    bars = []
    for day in _days(now, days):
        available, observed, maintenance = sums.get(day, (0.0, 0.0, 0.0))
        counted = observed - maintenance
        ratio = min(1.0, available / counted) if counted > 0 else None
        label = dt.datetime.fromtimestamp(day, dt.UTC).strftime("%Y-%m-%d")
        bars.append(DayBar(label, ratio, observed))
    return bars


def device_bars(db: sqlite3.Connection, device: str, now: float, days: int) -> list[DayBar]:
    """One device's daily bars (a primary-key range: cheap enough on the event loop's behalf in a thread)."""
    first = _days(now, days)[0]
    per_day = {
        int(day): (available, observed, maintenance)
        for day, available, observed, maintenance in db.execute(
            "SELECT (hour / 86400) * 86400 AS day, sum(available_seconds), sum(observed_seconds), "
            "sum(maintenance_seconds) FROM availability WHERE device = ? AND hour >= ? GROUP BY day",
            (device, first),
        )
    }
    return pooled_bars({device: per_day}, [device], now, days)


@dataclass(frozen=True, slots=True)
class HistoryFacts:
    """What one read of the history gave the pages."""

    read_at: float
    incidents: tuple[Incident, ...]
    districts: Mapping[str, list[DayBar]]
    groups: Mapping[str, list[DayBar]]
    problem: str = ""  # why the history could not be read, if it could not


EMPTY = HistoryFacts(0.0, (), {}, {})


def read_facts(
    db: sqlite3.Connection,
    now: float,
    limit: int,
    districts: Mapping[str, list[str]],
    groups: Mapping[str, list[str]],
    days: int = 90,
) -> HistoryFacts:
    per_device = daily_by_device(db, now, days)
    return HistoryFacts(
        now,
        tuple(incidents(db, now, limit)),
        {name: pooled_bars(per_device, ids, now, days) for name, ids in districts.items()},
        {name: pooled_bars(per_device, ids, now, days) for name, ids in groups.items()},
    )
