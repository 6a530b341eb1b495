"""The log line per accepted trap, rate-limited per device and kind of trap.

Owns what the service logs about traps it accepted: the first linkDown (or
coldStart, ...) of a device is logged at once, with its ifIndex; further ones
of that kind from that device within ``interval`` seconds are held back and
counted (:class:`~stadtnetz.log_limit.LogLimiter`), and a summary line
"N more link_down traps from X ..." is written when the interval is over, so a
flood from one device costs at most one line per interval and kind (six kinds),
while every trap is still counted in the log and in
``stadtnetz_device_traps_received_total``.
"""

from __future__ import annotations

import asyncio
import logging

from stadtnetz.clock import Clock
from stadtnetz.log_limit import LogLimiter
from stadtnetz.model import TrapEvent

log = logging.getLogger("stadtnetz")

TRAP_LOG_INTERVAL = 10.0  # seconds between two lines about the same kind of trap from the same device


class TrapLog:
    """Writes the INFO line per trap, at most one per device, kind and interval, and the held-back count."""

    def __init__(self, clock: Clock, interval: float = TRAP_LOG_INTERVAL) -> None:
        self.interval = interval
        self._limiter = LogLimiter(clock, interval)
        self._summaries: dict[str, asyncio.TimerHandle] = {}  # key -> the timer of its summary line

    def trap(self, event: TrapEvent) -> None:
        key = f"{event.kind}/{event.device_id}"
        count = self._limiter.due(key)
        if count:
            if count > 1:  # held back since the last line, their summary not yet written
                self._summary(key, count - 1)
            where = f" ifIndex {event.if_index}" if event.if_index is not None else ""
            log.info("trap %s from %s%s", event.kind, event.device_id, where)
        elif key not in self._summaries:
            loop = asyncio.get_running_loop()
            self._summaries[key] = loop.call_later(self.interval, self._flush, key)

    def _flush(self, key: str) -> None:
        self._summaries.pop(key, None)
        held = self._limiter.take(key)
        if held:
            self._summary(key, held)

    def _summary(self, key: str, held: int) -> None:
        kind, _, device_id = key.partition("/")
        log.info(
            "%d more %s traps from %s (not logged one by one: at most one line per %g s)",
            held,
            kind,
            device_id,
            self.interval,
        )

    def close(self) -> None:
        """Write the summaries still due, now."""
        for key, handle in list(self._summaries.items()):
            handle.cancel()
            self._flush(key)
