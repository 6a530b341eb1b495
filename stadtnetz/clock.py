"""The one source of time: a wall clock and a monotonic clock behind one object.

Simulators and the service read time only through a :class:`Clock`, so tests
can drive a whole simulated month with :class:`ManualClock` instead of waiting.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the Unix epoch (wall time)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...


class SystemClock:
    """The real clocks of this machine."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to; wall and monotonic advance together."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = float(start)
        self._origin = float(start)

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._origin

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        self._now += seconds

    def set(self, epoch_seconds: float) -> None:
        if epoch_seconds < self._now:
            raise ValueError("a clock does not run backwards")
        self._now = float(epoch_seconds)
