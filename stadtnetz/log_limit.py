"""Rate-limited log lines: at most one line per kind of event and interval, with the count held back.

Owns the bookkeeping that keeps a flood (garbage on the trap port, a misbehaving
charger) from flooding the log too, while every occurrence is still counted in
the line that is written. Time comes from the project's clock, so tests can drive it.
"""

from __future__ import annotations

from stadtnetz.clock import Clock


class LogLimiter:
    """At most one log line per key and interval; counts what it held back."""

    __slots__ = ("_clock", "_held", "_interval", "_last")

    def __init__(self, clock: Clock, interval: float) -> None:
        self._clock = clock
        self._interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def due(self, key: str) -> int:
        """0 if a line about ``key`` must wait; else the number of occurrences it reports (this one included)."""
        count = self._held.get(key, 0) + 1
        now = self._clock.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._held[key] = count
            return 0
        self._last[key] = now
        self._held[key] = 0
        return count

    def take(self, key: str) -> int:
        """The occurrences held back for ``key`` (0 if none); if any, the line reporting them counts as written now."""
        count = self._held.get(key, 0)
        if count:
            self._last[key] = self._clock.monotonic()
            self._held[key] = 0
        return count
