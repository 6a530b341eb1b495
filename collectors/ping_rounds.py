"""Ping rounds: each device probed ``ping_count`` times per interval, the round's results into the state.

Owns the device-level use of the shared :class:`~collectors.ping.Pinger`: a
round spreads its echo requests over most of the device's interval (so loss
and jitter describe the interval, not one instant), records the round in the
state and reports it for the device's reachability. A quick round (three
echoes within a second) settles a device's status on demand.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from collectors.ping import Pinger, PingStats
from stadtnetz.clock import Clock
from stadtnetz.model import Device, Settings
from stadtnetz.status.state import State

ROUND_SHARE = 0.8  # of the interval over which a round's echoes are spread
QUICK_COUNT = 3
QUICK_SPREAD = 0.2


class PingRounds:
    def __init__(
        self,
        pinger: Pinger,
        state: State,
        settings: Settings,
        clock: Clock,
        on_result: Callable[[str, int, int, float, float], None] = lambda device_id, sent, received, rtt, at: None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.pinger = pinger
        self.state = state
        self.settings = settings
        self.clock = clock
        # (device id, sent, received, average rtt, monotonic time the round started): for its reachability
        self.on_result = on_result
        registry = registry if registry is not None else CollectorRegistry()
        self.rounds = Counter("stadtnetz_ping_rounds", "Ping rounds completed.", registry=registry)

    async def round(self, device: Device) -> PingStats:
        """One round: ``ping_count`` echoes spread over most of the device's interval."""
        timeout = min(self.settings.ping_timeout, device.interval / 2)
        spread = max(0.0, device.interval * ROUND_SHARE - timeout)
        started = self.clock.monotonic()
        stats = await self.pinger.ping(device.host, self.settings.ping_count, spread, timeout)
        return self._record(device, stats, started)

    async def quick(self, device: Device) -> PingStats:
        """A short round to settle a device's status now."""
        timeout = min(self.settings.ping_timeout, device.interval / 2)
        started = self.clock.monotonic()
        return self._record(device, await self.pinger.ping(device.host, QUICK_COUNT, QUICK_SPREAD, timeout), started)

    def _record(self, device: Device, stats: PingStats, started: float) -> PingStats:
        self.state.record_ping(device.id, stats.sent, stats.rtts, stats.jitter)
        self.rounds.inc()
        self.on_result(device.id, stats.sent, stats.received, stats.rtt_avg, started)
        return stats
