"""Maintenance windows: planned work declared in the configuration, and which devices it covers when.

Owns the meaning of a window: which devices it matches (device ids, sites,
districts, kinds, tags, groups) and when it is open, either once (``start`` to
``end``) or recurring (``every`` weekday ``at`` a local time, for a
``duration``, in a time zone, Europe/Berlin by default, so "Tuesday 03:00" stays
03:00 across the change to and from summer time). The service marks the covered
devices ``stadtnetz_device_maintenance 1`` while a window is open (alert rules
stay quiet for them and for everything unreachable behind them), and
:mod:`exporters.alertmanager` turns the windows into Alertmanager silences.

Matching: the keys of ``match`` narrow each other (``kinds: [hotspot]`` and
``districts: [Altstadt]`` mean the hotspots in Altstadt); the values of one key
are alternatives. A window never includes the devices behind a matched device
by itself: while it is open, their unreachability is already explained by a
root cause under maintenance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo


class Matchable(Protocol):
    """What a window matches on: a device of the inventory, or a charger (stadtnetz.model.Charger)."""

    @property
    def id(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def district(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def group(self) -> str | None: ...


DEFAULT_TIMEZONE = "Europe/Berlin"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class DeviceMatch:
    """Which devices a window covers; empty fields match everything, the fields narrow each other."""

    devices: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    def matches(self, device: Matchable) -> bool:
        return (
            (not self.devices or device.id in self.devices)
            and (not self.sites or device.site in self.sites)
            and (not self.districts or device.district in self.districts)
            and (not self.kinds or device.kind in self.kinds)
            and (not self.tags or not self.tags.isdisjoint(device.tags))
            and (not self.groups or device.group in self.groups)
        )


@dataclass(frozen=True, slots=True)
class Recurrence:
    """Every one of ``weekdays`` (0 = Monday) at ``at`` local time, for ``duration`` seconds."""

    weekdays: tuple[int, ...]
    at: dt.time
    duration: float


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    name: str
    match: DeviceMatch
    reason: str = ""
    start: dt.datetime | None = None  # aware; a one-off window has start and end
    end: dt.datetime | None = None
    recurrence: Recurrence | None = None
    timezone: str = DEFAULT_TIMEZONE
    where: str = ""  # FILE:LINE of its declaration, for messages

    def occurrences(self, after: dt.datetime, before: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """The (start, end) of every opening that overlaps [after, before), in order (aware datetimes)."""
        if self.recurrence is None:
            assert self.start is not None and self.end is not None
            return [(self.start, self.end)] if self.start < before and self.end > after else []
        zone = ZoneInfo(self.timezone)
        recurrence = self.recurrence
        span = dt.timedelta(seconds=recurrence.duration)
        day = (after - span).astimezone(zone).date() - dt.timedelta(days=1)
        last = before.astimezone(zone).date()
        found: list[tuple[dt.datetime, dt.datetime]] = []
        while day <= last:
            if day.weekday() in recurrence.weekdays:
                local = dt.datetime.combine(day, recurrence.at)
                # a local time that does not exist (spring forward) or exists twice (fall back): fold=0 picks
                # the first reading, then normalising through UTC gives a real instant
                begin = local.replace(tzinfo=zone).astimezone(dt.UTC)
                end = begin + span
                if begin < before and end > after:
                    found.append((begin, end))
            day += dt.timedelta(days=1)
        return found

    def is_open(self, now: dt.datetime) -> bool:
        return bool(self.occurrences(now, now + dt.timedelta(microseconds=1)))

    def current_or_next(self, now: dt.datetime, horizon: dt.timedelta) -> tuple[dt.datetime, dt.datetime] | None:
        upcoming = self.occurrences(now, now + horizon)
        return upcoming[0] if upcoming else None


@dataclass
class Maintenance:
    """The windows of a configuration over its devices: who is in maintenance right now."""

    windows: Sequence[MaintenanceWindow]
    devices: Iterable[Matchable]
    covered: dict[str, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        devices = list(self.devices)
        self.covered = {w.name: frozenset(d.id for d in devices if w.match.matches(d)) for w in self.windows}

    def open_windows(self, now: dt.datetime) -> list[MaintenanceWindow]:
        return [window for window in self.windows if window.is_open(now)]

    def devices_in_maintenance(self, now: dt.datetime) -> set[str]:
        devices: set[str] = set()
        for window in self.open_windows(now):
            devices |= self.covered[window.name]
        return devices


def parse_time_of_day(value: object) -> dt.time:
    """``"03:00"`` -> 03:00. YAML reads an unquoted 03:00 as the number 180 (base 60), so that is refused."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            "expected a time of day in quotes, e.g. '03:00' (unquoted, YAML reads 03:00 as a number in base 60)"
        )
    try:
        parsed = dt.time.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"expected a time of day HH:MM, got {value!r}") from None
    return parsed.replace(tzinfo=None)


def parse_weekdays(value: object) -> tuple[int, ...]:
    """``[tue, thu]``, ``tue``, ``daily``/``weekdays``/``weekend`` -> weekday numbers (0 = Monday)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError("expected weekdays: a list like [mon, thu], or daily, weekdays, weekend")
    days: set[int] = set()
    for item in items:
        text = str(item).strip().lower()
        if text == "daily":
            days.update(range(7))
        elif text == "weekdays":
            days.update(range(5))
        elif text == "weekend":
            days.update((5, 6))
        elif text in WEEKDAYS or text in _WEEKDAY_NAMES:
            days.add(WEEKDAYS.index(text[:3]))
        else:
            raise ValueError(f"unknown weekday {item!r}: use mon, tue, ..., sun, daily, weekdays or weekend")
    return tuple(sorted(days))


def parse_instant(value: object, timezone: str) -> dt.datetime:
    """An ISO 8601 date and time; without an offset it is local time in ``timezone``."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected a date and time like 2026-11-25T22:00+01:00, got {value!r}") from None
    else:
        raise ValueError("expected a date and time like 2026-11-25T22:00+01:00")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed.astimezone(dt.UTC)
