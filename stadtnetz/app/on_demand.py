"""Out-of-turn checks of a device, coalesced: at most one running and one queued per device.

Owns the bookkeeping that keeps a burst of reasons to check a device now (a
flood of linkDown traps, a status that keeps changing) from queueing work.
The first request starts a check; one arriving while it runs queues exactly
one follow-up (the running check's evidence may predate what prompted the
request); every further request while one is queued is folded into it and
counted. So a device costs at most two checks' worth of tasks and memory,
however many requests arrive. :class:`OnDemandCollector` exports, per kind
of check, how many are running or queued and how many requests were folded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from stadtnetz.model import Device
from stadtnetz.own_metrics import Family, ScrapeCollector

log = logging.getLogger("stadtnetz.on_demand")


class CoalescedChecks:
    """Runs ``check(device)`` on request, at most one running and one queued per device."""

    def __init__(self, check: Callable[[Device], Awaitable[object]], what: str) -> None:
        self._check = check
        self._what = what  # named in the log line of a check that failed unexpectedly
        self._running: dict[str, asyncio.Task[None]] = {}
        self._queued: dict[str, Device] = {}
        self._closed = False
        self.coalesced = 0  # requests folded into a check already queued

    @property
    def pending(self) -> int:
        """Checks running or queued."""
        return len(self._running) + len(self._queued)

    def request(self, device: Device) -> None:
        """Check the device now; if a check of it runs, once more right after it (never more than once)."""
        if self._closed:
            return
        if device.id not in self._running:
            self._start(device)
        elif device.id in self._queued:
            self.coalesced += 1
        else:
            self._queued[device.id] = device

    def _start(self, device: Device) -> None:
        task = asyncio.get_running_loop().create_task(self._run(device))
        self._running[device.id] = task
        task.add_done_callback(lambda _task, device_id=device.id: self._finished(device_id))

    def _finished(self, device_id: str) -> None:
        self._running.pop(device_id, None)
        follow_up = self._queued.pop(device_id, None)
        if follow_up is not None and not self._closed:
            self._start(follow_up)

    async def _run(self, device: Device) -> None:
        try:
            await self._check(device)
        except Exception:  # a bug in one check must not be silent, nor stop the next
            log.exception("%s of %s failed unexpectedly", self._what, device.id)

    async def close(self) -> None:
        """Cancel what runs, drop what is queued; later requests are ignored."""
        self._closed = True
        self._queued.clear()
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_PENDING = Family(
    "gauge",
    "stadtnetz_on_demand_checks_pending",
    "Out-of-turn checks of devices (to settle a status, e.g. after a trap) running or queued.",
    ("check",),
)
_COALESCED = Family(
    "counter",
    "stadtnetz_on_demand_checks_coalesced",
    "Requests for an out-of-turn check folded into the device's check already queued.",
    ("check",),
)


class OnDemandCollector(ScrapeCollector):
    """Exports the out-of-turn checks per kind: ``{check: (pending, coalesced)}``, read at scrape time."""

    families = (_PENDING, _COALESCED)

    def __init__(self, sources: Mapping[str, Callable[[], tuple[int, int]]]) -> None:
        self.sources = sources

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        for check, read in sorted(self.sources.items()):
            waiting, folded = read()
            yield _PENDING, [check], waiting
            yield _COALESCED, [check], folded
