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

Memory: the ordered list of a device's series (its layout) is interned and
shared by all devices reporting the same series; per device only a few
``array`` columns remain (measured in ``bench/capacity.py``).

Labels. A series is keyed by its metric and its own labels as structured
:class:`stadtnetz.labels.Labels` (name, value) pairs; each exporter renders
them in its own format (the Prometheus fragment is cached on the object).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from stadtnetz.clock import Clock
from stadtnetz.labels import Labels
from stadtnetz.model import Device, MetricDef, MetricKind, PollStatus, Reading
from stadtnetz.status.topology import Status

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


class Layout:
    """The ordered series of a device: shared by every device that reports exactly the same series.

    Interned (one object per distinct key sequence), so a thousand hotspots of one
    model hold one copy of their series keys and labels between them.
    """

    __slots__ = ("counter_slots", "counters", "keys", "slots")

    def __init__(self, keys: tuple[tuple[MetricDef, Labels], ...]) -> None:
        self.keys = keys
        self.slots = {key: i for i, key in enumerate(keys)}
        # for every slot: its position among the counter slots, or -1 for a gauge
        self.counters = array("i")
        position = 0
        for metric, _ in keys:
            if metric.kind is MetricKind.COUNTER:
                self.counters.append(position)
                position += 1
            else:
                self.counters.append(-1)
        self.counter_slots = position


_LAYOUTS: dict[tuple[tuple[MetricDef, Labels], ...], Layout] = {}
_EMPTY_LAYOUT = Layout(())


def intern_layout(keys: tuple[tuple[MetricDef, Labels], ...]) -> Layout:
    layout = _LAYOUTS.get(keys)
    if layout is None:
        if len(_LAYOUTS) > 200_000:  # devices whose series keep changing must not grow this forever
            _LAYOUTS.clear()
        layout = _LAYOUTS[keys] = Layout(keys)
    return layout


class PingRecord:
    """A device's ping results: the last round, and totals over all rounds."""

    __slots__ = (
        "jitter",
        "loss",
        "received_total",
        "rtt_count_total",
        "rtt_max",
        "rtt_median",
        "rtt_min",
        "rtt_sum_total",
        "sent_total",
    )

    def __init__(self) -> None:
        self.sent_total = 0
        self.received_total = 0
        self.rtt_sum_total = 0.0
        self.rtt_count_total = 0
        self.loss = NAN
        self.rtt_min = self.rtt_median = self.rtt_max = self.jitter = NAN

    def add_round(self, sent: int, rtts: list[float], jitter: float) -> None:
        self.sent_total += sent
        self.received_total += len(rtts)
        self.rtt_sum_total += sum(rtts)
        self.rtt_count_total += len(rtts)
        self.loss = 1.0 - len(rtts) / sent if sent else NAN
        ordered = sorted(rtts)
        if ordered:
            self.rtt_min, self.rtt_max = ordered[0], ordered[-1]
            middle = len(ordered) // 2
            self.rtt_median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        else:
            self.rtt_min = self.rtt_median = self.rtt_max = NAN
        self.jitter = jitter


class DeviceState:
    """Everything known about one device: poll status, its series' values in compact arrays, its ping
    results, and its status in the topology (filled in by :mod:`stadtnetz.status.reachability`)."""

    __slots__ = (
        "counters",
        "device",
        "error",
        "exported",
        "flapping",
        "health",
        "last_poll",
        "last_seen",
        "layout",
        "maintenance",
        "ping",
        "poll_seconds",
        "root_cause",
        "state_change",
        "status",
        "sys_object_id",
        "uptime_ticks",
        "values",
    )

    def __init__(self, device: Device, exported: bool = True) -> None:
        self.device = device
        self.exported = exported  # False: observed only to know an upstream's health (another shard exports it)
        self.health = Status.UNKNOWN
        self.root_cause = ""
        self.flapping = False
        self.maintenance = False  # inside an open maintenance window (stadtnetz.maintenance)
        self.state_change = 0.0
        self.ping: PingRecord | None = None
        self.status = PollStatus.UNKNOWN
        self.error = ""
        self.last_seen = 0.0  # wall time of the last successful poll
        self.last_poll: float | None = None  # monotonic time of the last successful poll
        self.poll_seconds = 0.0
        self.uptime_ticks: int | None = None
        self.sys_object_id: tuple[int, ...] | None = None
        self.layout = _EMPTY_LAYOUT
        self.values = array("d")  # per slot: gauges their value, counters their last rate (NaN unknown)
        self.counters = array("Q")  # per counter slot k: [2k] the monotonic total, [2k+1] the last raw reading

    @property
    def keys(self) -> tuple[tuple[MetricDef, Labels], ...]:
        return self.layout.keys

    def series(self) -> Iterator[tuple[MetricDef, Labels, float | int]]:
        """(metric, labels, exported value) of every current series: counters give their total."""
        positions, counters, values = self.layout.counters, self.counters, self.values
        for slot, (metric, labels) in enumerate(self.layout.keys):
            position = positions[slot]
            yield metric, labels, (counters[2 * position] if position >= 0 else values[slot])

    def value(self, metric: MetricDef, labels: Labels) -> float:
        """A gauge's value, or a counter's last per-second rate (NaN when unknown or absent)."""
        slot = self.layout.slots.get((metric, labels))
        return NAN if slot is None else self.values[slot]

    def total(self, metric: MetricDef, labels: Labels) -> int | None:
        """A counter's monotonic total."""
        slot = self.layout.slots.get((metric, labels))
        if slot is None or self.layout.counters[slot] < 0:
            return None
        return self.counters[2 * self.layout.counters[slot]]

    def _relayout(self, layout: Layout) -> list[bool]:
        """Switch to ``layout``, carrying every counter's history over; return which slots are new."""
        old = self.layout
        counters = array("Q", bytes(16 * layout.counter_slots))
        new = [True] * len(layout.keys)
        for slot, key in enumerate(layout.keys):
            before = old.slots.get(key)
            position = layout.counters[slot]
            if before is not None and position >= 0 and old.counters[before] >= 0:
                counters[2 * position : 2 * position + 2] = self.counters[
                    2 * old.counters[before] : 2 * old.counters[before] + 2
                ]
                new[slot] = False
        self.layout, self.counters = layout, counters
        self.values = array("d", bytes(8 * len(layout.keys)))
        return new


class State:
    """The state of every device this process polls."""

    def __init__(self, devices: Iterable[Device], clock: Clock, observed: Iterable[Device] = ()) -> None:
        self.clock = clock
        self.devices: dict[str, DeviceState] = {d.id: DeviceState(d) for d in devices}
        for device in observed:
            self.devices.setdefault(device.id, DeviceState(device, exported=False))
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
        first = state.last_poll is None
        elapsed = 0.0 if state.last_poll is None else now - state.last_poll
        rebooted = not first and device_rebooted(state.uptime_ticks, uptime_ticks, elapsed)
        keys: list[tuple[MetricDef, Labels]] = []
        for reading in readings:
            keys.append((reading.metric, reading.labels))
            if reading.utilisation is not None:
                keys.append((reading.utilisation, reading.labels.plus("direction", reading.direction)))
        layout = intern_layout(tuple(keys))
        fresh = state._relayout(layout) if layout is not state.layout else None
        values, counters, positions = state.values, state.counters, layout.counters
        slot = 0
        for reading in readings:
            position = positions[slot]
            if position < 0:
                values[slot] = reading.value
            else:
                total, current = 2 * position, int(reading.value)
                if fresh is not None and fresh[slot]:
                    counters[total] = current & MASK64
                    values[slot] = NAN
                elif first:
                    values[slot] = NAN
                else:
                    step = counter_step(counters[total + 1], current, reading.bits, elapsed, rebooted, reading.speed)
                    counters[total] = (counters[total] + step.delta) & MASK64
                    values[slot] = step.rate
                    if step.discontinuity:
                        self.discontinuities += 1
                counters[total + 1] = current & MASK64
            slot += 1
            if reading.utilisation is not None:
                rate = values[slot - 1]
                values[slot] = rate / reading.speed if reading.speed > 0 else NAN
                slot += 1
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

    def record_ping(self, device_id: str, sent: int, rtts: list[float], jitter: float) -> PingRecord:
        """Store one ping round of a device."""
        state = self.devices[device_id]
        if state.ping is None:
            state.ping = PingRecord()
        state.ping.add_round(sent, rtts, jitter)
        return state.ping

    def set_series_label(
        self, device_id: str, metric_name: str, selector: Mapping[str, str], label: str, value: str
    ) -> int:
        """Set ``label`` to ``value`` on the device's ``metric_name`` series whose labels include every
        (name, value) of ``selector`` (e.g. ``{"if_index": "7"}``) and carry ``label``; return how many changed.

        For what a device tells between polls (a linkDown trap changes an interface's ``state``);
        the next poll's readings replace it with what the device then answers.
        """
        state = self.devices[device_id]
        keys = list(state.layout.keys)
        wanted = tuple(selector.items())
        changed = 0
        for slot, (metric, labels) in enumerate(keys):
            if metric.name != metric_name or not labels.matches(wanted):
                continue
            current = labels.get(label)
            if current is not None and current != value:
                keys[slot] = (metric, labels.replaced(label, value))
                changed += 1
        if changed:
            # same series in the same order, one label different: the value and counter columns stay valid
            state.layout = intern_layout(tuple(keys))
        return changed

    def set_gauge(self, device_id: str, metric_name: str, labels: Labels, value: float) -> bool:
        """Overwrite a gauge the device reported (e.g. uptime after a coldStart trap); False if it has none."""
        state = self.devices[device_id]
        for slot, (metric, series_labels) in enumerate(state.layout.keys):
            if metric.name == metric_name and series_labels == labels and state.layout.counters[slot] < 0:
                state.values[slot] = value
                return True
        return False

    def exported(self) -> list[DeviceState]:
        """The devices this process owns (not those it only observes for another shard's topology)."""
        return [state for state in self.devices.values() if state.exported]

    def status_counts(self) -> dict[PollStatus, int]:
        counts = dict.fromkeys(PollStatus, 0)
        for state in self.exported():
            counts[state.status] += 1
        return counts
