"""When each device is polled, and how many at once; which devices this process owns.

Owns the rhythm: every device is polled every ``interval`` seconds at a
stable phase (a hash of its id, so ten thousand devices spread over the
interval instead of bursting at its start and a restart keeps each device's
second of the minute). At most ``concurrency`` polls run at once; a device
whose previous poll is still running when it is due again is skipped and
counted as an overrun, never queued, so one dead device cannot pile up work.
Devices whose last poll got no answer are polled in a lane of their own
(``unreachable_concurrency`` slots, as Zabbix's unreachable pollers): waiting
for their timeouts holds only those slots, so however much of the city is
dark, the devices that answer keep their rhythm. (In the very first round
nothing is known yet, so a dark device still takes a normal slot once.)
A poll asked for out of turn (``poll_now``, e.g. after a trap) starts at
once, or, while the device's poll runs, once right after it; further requests
meanwhile are folded into that one and counted, so a trap flood costs at most
two polls of the device at a time.
Sharding (``--shard i/n``) assigns each device to exactly one of n processes
by rendezvous hashing on its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import logging
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from stadtnetz.clock import Clock
from stadtnetz.model import Device

log = logging.getLogger("stadtnetz.scheduler")


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def phase_offset(device_id: str, interval: float) -> float:
    """Seconds into each interval at which the device is polled."""
    return (_hash64(f"phase:{device_id}") % 1_000_000) / 1_000_000 * interval


def shard_of(device_id: str, shards: int) -> int:
    """The shard (0-based) that owns a device: rendezvous hashing, stable when shards come and go."""
    return max(range(shards), key=lambda shard: _hash64(f"{shard}:{device_id}"))


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (1, 4): 0-based index and count; raises ValueError with what is allowed."""
    index_text, slash, count_text = text.partition("/")
    if not slash or not index_text.isdigit() or not count_text.isdigit():
        raise ValueError(f"shard must look like i/n, e.g. 2/4, not {text!r}")
    index, count = int(index_text), int(count_text)
    if not 1 <= index <= count:
        raise ValueError(f"shard {text}: i must be between 1 and n")
    return index - 1, count


def shard_devices(devices: Sequence[Device], index: int, count: int) -> list[Device]:
    return [d for d in devices if shard_of(d.id, count) == index]


class Scheduler:
    """Runs ``poll(device)`` for every device, every interval, until stopped."""

    def __init__(
        self,
        devices: Sequence[Device],
        poll: Callable[[Device], Awaitable[object]],
        concurrency: int,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        unreachable: Callable[[Device], bool] = lambda device: False,
        unreachable_concurrency: int | None = None,
        metric_prefix: str = "stadtnetz_scheduler",
    ) -> None:
        self.devices = list(devices)
        self.poll = poll
        self.clock = clock
        self.unreachable = unreachable
        self.slots = asyncio.Semaphore(concurrency)
        self.unreachable_slots = asyncio.Semaphore(unreachable_concurrency or max(2, concurrency // 4))
        self._running: dict[str, asyncio.Task[None]] = {}
        self._by_id = {device.id: device for device in self.devices}
        self._again: set[str] = set()  # asked for while running: poll once more right after
        self._out_of_turn: set[str] = set()  # devices whose running poll was asked for (poll_now)
        self.coalesced = 0  # poll_now requests folded into a poll already queued
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        registry = registry if registry is not None else CollectorRegistry()
        self.lag = Histogram(
            f"{metric_prefix}_lag_seconds",
            "How late polls start after they are due.",
            registry=registry,
            buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60),
        )
        self.overruns = Counter(
            f"{metric_prefix}_overruns",
            "Polls skipped because the device's previous poll was still running.",
            registry=registry,
        )
        self.started = Counter(f"{metric_prefix}_polls_started", "Polls started.", registry=registry)
        self.on_demand = Counter(
            f"{metric_prefix}_on_demand_checks",
            "Polls started at once to settle a device's status.",
            registry=registry,
        )
        in_flight = Gauge(f"{metric_prefix}_polls_in_flight", "Polls running now.", registry=registry)
        in_flight.set_function(lambda: len(self._running))
        devices_gauge = Gauge(f"{metric_prefix}_devices", "Devices this process polls.", registry=registry)
        devices_gauge.set(len(self.devices))

    def poll_now(self, device_id: str) -> bool:
        """Poll a device at once, out of turn (its regular rhythm is unchanged); if a poll of it is running,
        poll it again right after that one (whose evidence may predate what prompted the request)."""
        device = self._by_id.get(device_id)
        loop = self._loop
        if device is None or loop is None:
            return False
        if device.id not in self._running:
            self._start(device, loop.time(), loop, out_of_turn=True)
        elif device.id in self._again:
            self.coalesced += 1
        else:
            self._again.add(device.id)
        return True

    @property
    def on_demand_pending(self) -> int:
        """Out-of-turn polls running or queued."""
        return len(self._out_of_turn) + len(self._again)

    def _start(self, device: Device, due: float, loop: asyncio.AbstractEventLoop, *, out_of_turn: bool = False) -> None:
        task = loop.create_task(self._poll_one(device, due, loop))
        self._running[device.id] = task
        if out_of_turn:
            self.on_demand.inc()
            self._out_of_turn.add(device.id)
        task.add_done_callback(lambda _task, device_id=device.id: self._finished(device_id))

    def _finished(self, device_id: str) -> None:
        self._running.pop(device_id, None)
        self._out_of_turn.discard(device_id)
        if device_id in self._again and self._loop is not None and not self._stopping:
            self._again.discard(device_id)
            self._start(self._by_id[device_id], self._loop.time(), self._loop, out_of_turn=True)

    async def run(self, stop: asyncio.Event) -> None:
        loop = self._loop = asyncio.get_running_loop()
        loop_now, wall_now = loop.time(), self.clock.time()
        heap: list[tuple[float, int]] = []
        for position, device in enumerate(self.devices):
            offset = phase_offset(device.id, device.interval)
            first = wall_now + ((offset - wall_now) % device.interval)
            heap.append((loop_now + (first - wall_now), position))
        heapq.heapify(heap)
        try:
            while heap and not stop.is_set():
                due, position = heap[0]
                delay = due - loop.time()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                    continue
                device = self.devices[position]
                heapq.heapreplace(heap, (due + device.interval, position))
                if device.id in self._running:
                    self.overruns.inc()
                    continue
                self._start(device, due, loop)
        finally:
            self._stopping = True
            for task in list(self._running.values()):
                task.cancel()
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _poll_one(self, device: Device, due: float, loop: asyncio.AbstractEventLoop) -> None:
        async with self.unreachable_slots if self.unreachable(device) else self.slots:
            self.lag.observe(max(0.0, loop.time() - due))
            self.started.inc()
            try:
                await self.poll(device)
            except Exception:  # a bug in one poll must not be silent, nor stop the others
                log.exception("polling %s failed unexpectedly", device.id)
