"""Prometheus text exposition (format 0.0.4) of the state, plus the process's own metrics.

Owns ``/metrics``' body. Series are rendered straight from the state's
compact arrays with each device's labels pre-rendered once, grouped by metric
family as the format requires (the state keeps labels structured, each
:class:`stadtnetz.labels.Labels` carrying its escaped fragment, rendered once);
the collector's own metrics (poll durations, timeouts, malformed packets,
scheduler lag) come from a prometheus_client
registry appended at the end. Rendering 100,000 samples this way is many
times faster than prometheus_client's ``generate_latest`` (``bench/capacity.py``),
and the web server streams it in pieces so polling never stalls for a scrape.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest

from stadtnetz.labels import escape_label
from stadtnetz.model import DEVICE_LABELS, Device, MetricDef, MetricKind, PollStatus
from stadtnetz.status.state import DeviceState, PingRecord, State

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BATCH_DEVICES = 250  # devices rendered between two returns to the event loop

SNMP_STATUS = MetricDef(
    "stadtnetz_device_snmp_status", MetricKind.ENUM, "Result of the device's last SNMP poll (status label)."
)
LAST_SEEN = MetricDef(
    "stadtnetz_device_last_seen_timestamp_seconds",
    MetricKind.GAUGE,
    "Unix time of the device's last successful poll.",
    "seconds",
)
POLL_DURATION = MetricDef(
    "stadtnetz_device_poll_duration_seconds", MetricKind.GAUGE, "How long the device's last poll took.", "seconds"
)
DEVICE_STATUS = MetricDef(
    "stadtnetz_device_status",
    MetricKind.ENUM,
    "The device's status in the network (up, degraded, down, unreachable, unknown); root_cause names the device "
    "at fault for down (itself) and unreachable (the failed upstream device).",
)
FLAPPING = MetricDef(
    "stadtnetz_device_flapping", MetricKind.GAUGE, "1 while the device's status changes too often (flapping)."
)
MAINTENANCE = MetricDef(
    "stadtnetz_device_maintenance",
    MetricKind.GAUGE,
    "1 while the device is inside an open maintenance window (planned work: alert rules stay quiet).",
)
STATE_CHANGE = MetricDef(
    "stadtnetz_device_state_change_ratio",
    MetricKind.GAUGE,
    "Weighted share of status changes over the device's last 21 observations (flap detection).",
    "ratio",
)
PING_RTT = MetricDef(
    "stadtnetz_ping_rtt_seconds",
    MetricKind.SUMMARY,
    "Echo round-trip time: min (quantile 0), median and max (quantile 1) of the last round; sum and count of all.",
    "seconds",
)
PING_LOSS = MetricDef("stadtnetz_ping_loss_ratio", MetricKind.GAUGE, "Share of echoes lost in the last round.", "ratio")
PING_JITTER = MetricDef(
    "stadtnetz_ping_jitter_seconds",
    MetricKind.GAUGE,
    "Mean absolute difference of consecutive round-trip times in the last round.",
    "seconds",
)
PING_SENT = MetricDef("stadtnetz_ping_sent", MetricKind.COUNTER, "Echo requests sent.")
PING_RECEIVED = MetricDef("stadtnetz_ping_received", MetricKind.COUNTER, "Echo replies received.")
FIXED_FAMILIES = (
    SNMP_STATUS,
    LAST_SEEN,
    POLL_DURATION,
    DEVICE_STATUS,
    FLAPPING,
    MAINTENANCE,
    STATE_CHANGE,
    PING_RTT,
    PING_LOSS,
    PING_JITTER,
    PING_SENT,
    PING_RECEIVED,
)


# the names of DEVICE_LABELS, each with its '="'; the values are Device.identity's, written out for speed
_DEVICE, _KIND, _SITE, _DISTRICT = (f'{name}="' for name in DEVICE_LABELS)


def device_labels(device: Device) -> str:
    """The labels every series of a device carries (:data:`stadtnetz.model.DEVICE_LABELS`), rendered once."""
    return (
        f'{_DEVICE}{escape_label(device.id)}",{_KIND}{escape_label(device.kind)}",'
        f'{_SITE}{escape_label(device.site)}",{_DISTRICT}{escape_label(device.district)}"'
    )


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    return repr(value)


def _header(metric: MetricDef) -> str:
    name = metric.exported_name
    kind = {MetricKind.COUNTER: "counter", MetricKind.SUMMARY: "summary"}.get(metric.kind, "gauge")
    help_text = metric.help.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


class _Families:
    """Series lines bucketed by metric family, filled a batch of devices at a time."""

    def __init__(self) -> None:
        self.lines: dict[MetricDef, list[str]] = {metric: [] for metric in FIXED_FAMILIES}
        self.names: dict[MetricDef, str] = {}

    def add(self, devices: Iterable[DeviceState]) -> None:
        families, names = self.lines, self.names
        status_lines, seen_lines, duration_lines = families[SNMP_STATUS], families[LAST_SEEN], families[POLL_DURATION]
        ok, unknown = PollStatus.OK, PollStatus.UNKNOWN
        for device in devices:
            if not device.exported:
                continue  # observed for the topology only; another shard exports it
            head = device_labels(device.device)
            self._health(device, head)
            if device.ping is not None:
                self._ping(device.ping, head)
            if not device.device.credentials:
                continue  # not polled over SNMP
            status_lines.append(f'stadtnetz_device_snmp_status{{{head},status="{device.status.value}"}} 1\n')
            if device.last_seen:
                seen_lines.append(f"stadtnetz_device_last_seen_timestamp_seconds{{{head}}} {device.last_seen!r}\n")
            if device.status is not unknown:
                duration_lines.append(f"stadtnetz_device_poll_duration_seconds{{{head}}} {device.poll_seconds!r}\n")
            if device.status is not ok:
                continue  # a device that did not answer has no current values: Prometheus marks them stale
            counters, values, positions = device.counters, device.values, device.layout.counters
            for slot, (metric, labels) in enumerate(device.layout.keys):
                lines = families.get(metric)
                if lines is None:
                    lines = families[metric] = []
                    names[metric] = metric.exported_name
                position = positions[slot]
                if position >= 0:
                    lines.append(f"{names[metric]}{{{head}{labels.text}}} {counters[2 * position]}\n")
                else:
                    value = values[slot]
                    if value == value:  # NaN: unknown, not exported
                        lines.append(f"{names[metric]}{{{head}{labels.text}}} {_number(value)}\n")

    def _health(self, device: DeviceState, head: str) -> None:
        lines = self.lines
        root = escape_label(device.root_cause)
        lines[DEVICE_STATUS].append(
            f'stadtnetz_device_status{{{head},status="{device.health.value}",root_cause="{root}"}} 1\n'
        )
        lines[FLAPPING].append(f"stadtnetz_device_flapping{{{head}}} {int(device.flapping)}\n")
        lines[MAINTENANCE].append(f"stadtnetz_device_maintenance{{{head}}} {int(device.maintenance)}\n")
        lines[STATE_CHANGE].append(f"stadtnetz_device_state_change_ratio{{{head}}} {device.state_change!r}\n")

    def _ping(self, ping: PingRecord, head: str) -> None:
        lines = self.lines
        rtt = lines[PING_RTT]
        for quantile, value in (("0", ping.rtt_min), ("0.5", ping.rtt_median), ("1", ping.rtt_max)):
            if value == value:
                rtt.append(f'stadtnetz_ping_rtt_seconds{{{head},quantile="{quantile}"}} {value!r}\n')
        rtt.append(f"stadtnetz_ping_rtt_seconds_sum{{{head}}} {ping.rtt_sum_total!r}\n")
        rtt.append(f"stadtnetz_ping_rtt_seconds_count{{{head}}} {ping.rtt_count_total}\n")
        if ping.loss == ping.loss:
            lines[PING_LOSS].append(f"stadtnetz_ping_loss_ratio{{{head}}} {ping.loss!r}\n")
        if ping.jitter == ping.jitter:
            lines[PING_JITTER].append(f"stadtnetz_ping_jitter_seconds{{{head}}} {ping.jitter!r}\n")
        lines[PING_SENT].append(f"stadtnetz_ping_sent_total{{{head}}} {ping.sent_total}\n")
        lines[PING_RECEIVED].append(f"stadtnetz_ping_received_total{{{head}}} {ping.received_total}\n")

    def blocks(self) -> Iterator[str]:
        """One text block per family (header and lines), families sorted by name."""
        for metric in sorted(self.lines, key=lambda m: m.exported_name):
            lines = self.lines[metric]
            if lines:
                yield _header(metric) + "".join(lines)


def render_state(state: State) -> str:
    """Every device series as exposition text, grouped by family, families sorted by name."""
    families = _Families()
    families.add(state.devices.values())
    return "".join(families.blocks())


def render(state: State, registries: Iterable[CollectorRegistry] = ()) -> bytes:
    """The whole /metrics body at once (tests, small cities); the web server streams instead."""
    return render_state(state).encode() + b"".join(generate_latest(registry) for registry in registries)


async def render_stream(
    state: State, registries: Iterable[CollectorRegistry] = (), batch: int = BATCH_DEVICES
) -> AsyncIterator[bytes]:
    """The /metrics body in pieces, yielding to the event loop between batches of devices and between
    families, so polls keep their timing while a city of 10,000 devices is rendered."""
    families = _Families()
    devices = list(state.devices.values())
    for start in range(0, len(devices), batch):
        families.add(devices[start : start + batch])
        await asyncio.sleep(0)
    for block in families.blocks():
        yield block.encode()
        await asyncio.sleep(0)
    for registry in registries:
        yield generate_latest(registry)
