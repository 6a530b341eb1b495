"""The one state of the city network: the latest value of every series of every device.

Owns what is known: latest gauge values, counters turned into monotonic
64-bit totals with per-interval rates, derived interface utilisation, and
each device's poll status (ok / timeout / error) with its last-seen time.
Collectors write readings in; exporters read. Nothing here talks to a device.

Counters. A device's counter is a raw reading that wraps (Counter32 at 2**32)
and restarts at zero when the device reboots or its counters are cleared.
The state keeps a total that never decreases:

* the raw value grew: the difference is traffic;
* the device rebooted (sysUpTime is shorter than the time since the last
  poll, or went backwards without wrapping): the counter restarted, the new
  raw value is the traffic since then;
* a Counter32 went down without a reboot: a wrap, unfolded by adding 2**32;
* a Counter64 went down without a reboot: cleared counters, like a reboot;
* whatever the explanation, a rate above 1.5x the interface's speed is
  impossible: no traffic is counted for that interval and its rate is
  unknown (a burst of counted traffic would read as a spike otherwise).

Memory: per device, one list of series keys and a few ``array`` columns, so a
device with 30 series costs about 1.5 KB (measured in ``bench/capacity.py``).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from collectors.snmp.profiles import escape_label
from stadtnetz.clock import Clock
from stadtnetz.model import Device, MetricDef, MetricKind, PollStatus, Reading

WRAP32 = 1 << 32
MASK64 = (1 << 64) - 1
IMPOSSIBLE_RATE_FACTOR = 1.5  # rates above this multiple of the interface speed are not traffic
UPTIME_WRAP_TICKS = 1 << 32
UPTIME_SLACK_SECONDS = 5.0
NAN = math.nan


@dataclass(frozen=True, slots=True)
class CounterUpdate:
    """The outcome of one counter reading: traffic counted, and the rate (NaN when unknown)."""

    delta: int
    rate: float
    discontinuity: bool  # reset, reboot or impossible jump: the interval's traffic is not trustworthy


def counter_step(previous: int, current: int, bits: int, elapsed: float, rebooted: bool, speed: float) -> CounterUpdate:
    """Interpret one counter reading against the previous one (see the module docstring)."""
    if rebooted:
        delta, discontinuity = current, True
    elif current >= previous:
        delta, discontinuity = current - previous, False
    elif bits == 32:
        delta, discontinuity = current + WRAP32 - previous, False  # a wrap
    else:
        delta, discontinuity = current, True  # cleared counters
    if elapsed <= 0:
        return CounterUpdate(0, NAN, True)
    rate = delta / elapsed
    if speed > 0 and rate > speed * IMPOSSIBLE_RATE_FACTOR:
        # faster than the interface can carry: not traffic (e.g. a "wrap" that was a reset, or a jump)
        return CounterUpdate(0, NAN, True)
    return CounterUpdate(delta, rate, discontinuity)


def device_rebooted(previous_ticks: int | None, ticks: int | None, elapsed: float) -> bool:
    """Did the device restart between two polls ``elapsed`` seconds apart (sysUpTime in ticks)?"""
    if previous_ticks is None or ticks is None:
        return False
    expected = previous_ticks + elapsed * 100.0
    if expected >= UPTIME_WRAP_TICKS and abs(ticks - (expected - UPTIME_WRAP_TICKS)) < 100 * 30:
        return False  # sysUpTime itself wrapped (every 497 days)
    if ticks / 100.0 + UPTIME_SLACK_SECONDS < elapsed:
        return True  # up for less time than has passed since the last poll
    return ticks < previous_ticks


def device_labels(device: Device) -> str:
    """The labels every series of a device carries, rendered once."""
    return (
        f'device="{escape_label(device.id)}",kind="{escape_label(device.kind)}",'
        f'site="{escape_label(device.site)}",district="{escape_label(device.district)}"'
    )


class DeviceState:
    """Everything known about one device."""

    __slots__ = (
        "device",
        "error",
        "generation",
        "keys",
        "labels",
        "last_poll",
        "last_seen",
        "poll_seconds",
        "raw",
        "seen",
        "slots",
        "status",
        "sys_object_id",
        "totals",
        "uptime_ticks",
        "values",
    )

    def __init__(self, device: Device) -> None:
        self.device = device
        self.labels = device_labels(device)
        self.status = PollStatus.UNKNOWN
        self.error = ""
        self.last_seen = 0.0  # wall time of the last successful poll
        self.last_poll: float | None = None  # monotonic time of the last successful poll
        self.poll_seconds = 0.0
        self.uptime_ticks: int | None = None
        self.sys_object_id: tuple[int, ...] | None = None
        self.generation = 0
        self.keys: list[tuple[MetricDef, str]] = []
        self.slots: dict[tuple[MetricDef, str], int] = {}
        self.values = array("d")  # gauges: the value; counters: the last rate (NaN unknown)
        self.totals = array("Q")  # counters: the monotonic total
        self.raw = array("Q")  # counters: the last raw reading
        self.seen = array("I")  # generation of the poll that last reported the series

    def _slot(self, key: tuple[MetricDef, str]) -> tuple[int, bool]:
        slot = self.slots.get(key)
        if slot is not None:
            return slot, False
        slot = len(self.keys)
        self.slots[key] = slot
        self.keys.append(key)
        self.values.append(NAN)
        self.totals.append(0)
        self.raw.append(0)
        self.seen.append(0)
        return slot, True

    def series(self) -> Iterator[tuple[MetricDef, str, float | int]]:
        """(metric, labels fragment, exported value) of every current series."""
        totals, values = self.totals, self.values
        for slot, (metric, labels) in enumerate(self.keys):
            if metric.kind is MetricKind.COUNTER:
                yield metric, labels, totals[slot]
            else:
                yield metric, labels, values[slot]

    def rate(self, metric: MetricDef, labels: str) -> float:
        """The last per-second rate of a counter series (NaN when unknown)."""
        slot = self.slots.get((metric, labels))
        return NAN if slot is None else self.values[slot]

    def _drop_unseen(self) -> None:
        keep = [slot for slot in range(len(self.keys)) if self.seen[slot] == self.generation]
        if len(keep) == len(self.keys):
            return
        self.keys = [self.keys[s] for s in keep]
        self.slots = {key: i for i, key in enumerate(self.keys)}
        self.values = array("d", (self.values[s] for s in keep))
        self.totals = array("Q", (self.totals[s] for s in keep))
        self.raw = array("Q", (self.raw[s] for s in keep))
        self.seen = array("I", (self.seen[s] for s in keep))


class State:
    """The state of every device this process polls."""

    def __init__(self, devices: Iterable[Device], clock: Clock) -> None:
        self.clock = clock
        self.devices: dict[str, DeviceState] = {d.id: DeviceState(d) for d in devices}
        self.discontinuities = 0

    def __getitem__(self, device_id: str) -> DeviceState:
        return self.devices[device_id]

    def record_poll(
        self,
        device_id: str,
        readings: list[Reading],
        uptime_ticks: int | None,
        sys_object_id: tuple[int, ...] | None,
        duration: float,
    ) -> None:
        """Store one successful poll's readings."""
        state = self.devices[device_id]
        now = self.clock.monotonic()
        elapsed = now - state.last_poll if state.last_poll is not None else 0.0
        first = state.last_poll is None
        rebooted = not first and device_rebooted(state.uptime_ticks, uptime_ticks, elapsed)
        state.generation += 1
        generation = state.generation
        values, totals, raw, seen = state.values, state.totals, state.raw, state.seen
        for reading in readings:
            metric = reading.metric
            slot, new = state._slot((metric, reading.labels))
            seen[slot] = generation
            if metric.kind is not MetricKind.COUNTER:
                values[slot] = reading.value
                continue
            current = int(reading.value)
            if new or first:
                if new:
                    totals[slot] = current & MASK64
                values[slot] = NAN
            else:
                step = counter_step(raw[slot], current, reading.bits, elapsed, rebooted, reading.speed)
                totals[slot] = (totals[slot] + step.delta) & MASK64
                values[slot] = step.rate
                if step.discontinuity:
                    self.discontinuities += 1
            raw[slot] = current
            if reading.utilisation is not None:
                ratio = values[slot] / reading.speed if reading.speed > 0 else NAN
                labels = f'{reading.labels},direction="{reading.direction}"'
                uslot, _ = state._slot((reading.utilisation, labels))
                values[uslot] = ratio
                seen[uslot] = generation
        state._drop_unseen()
        state.status = PollStatus.OK
        state.error = ""
        state.last_poll = now
        state.last_seen = self.clock.time()
        state.poll_seconds = duration
        state.uptime_ticks = uptime_ticks
        if sys_object_id is not None:
            state.sys_object_id = sys_object_id

    def record_failure(self, device_id: str, status: PollStatus, error: str, duration: float) -> None:
        """A poll that got no usable answer; the counters' history is kept for when the device returns."""
        state = self.devices[device_id]
        state.status = status
        state.error = error
        state.poll_seconds = duration

    def status_counts(self) -> dict[PollStatus, int]:
        counts = dict.fromkeys(PollStatus, 0)
        for state in self.devices.values():
            counts[state.status] += 1
        return counts
