"""The questions reports ask the history: availability, outages, transitions and utilisation p95 over a
period, each a function of an open connection (:func:`stadtnetz.history.schema.connect`). Read-only; they
run beside a writing service (WAL).
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from stadtnetz.history.percentiles import UTILISATION_METRIC, bin_of, histogram_quantile, unpack_histogram
from stadtnetz.history.schema import HOUR
from stadtnetz.status.topology import Status

_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True, slots=True)
class Availability:
    """Seconds of a device (or pooled over a group) in a period; see :mod:`stadtnetz.history.ledger` for their
    meaning."""

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


_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse_labels(labels: str) -> dict[str, str]:
    """A series' stored label text (``if_index="1",interface="eth0"``, values escaped as in the Prometheus text
    format) as a mapping of names to unescaped values."""
    return {
        name: re.sub(r"\\.", lambda escaped: _UNESCAPE.get(escaped.group(0), escaped.group(0)), value)
        for name, value in _LABEL.findall(labels)
    }


def _matches(labels: str, match: Mapping[str, str]) -> bool:
    parsed = parse_labels(labels)
    return all(parsed.get(name) == value for name, value in match.items())


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


def gauge_average_by_series(
    db: sqlite3.Connection, device: str, metric: str, start: float, end: float
) -> dict[str, float]:
    """The average of each of the device's series of a gauge (e.g. ``stadtnetz_interface_speed_bytes``) over the
    hours from the one holding ``start`` up to ``end``, weighted by the hours' sample counts."""
    return {
        labels: total / count
        for labels, total, count in db.execute(
            "SELECT s.labels, sum(r.avg * r.count), sum(r.count) FROM series s JOIN rollups r ON r.series = s.id "
            "WHERE s.device = ? AND s.metric = ? AND r.hour >= ? AND r.hour < ? AND r.count > 0 GROUP BY s.labels",
            (device, metric, _hour_floor(start), end),
        )
        if count
    }


def p95_utilisation(
    db: sqlite3.Connection, device: str, start: float, end: float, match: Mapping[str, str] | None = None
) -> float | None:
    """A link's 95th percentile utilisation over a window: the busier direction's (the highest of the matching
    series'), e.g. ``match={"interface": "eth0"}``; None without samples. Within 0.5 percentage points of the
    exact p95 of all the window's samples (see :mod:`stadtnetz.history.percentiles`)."""
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
