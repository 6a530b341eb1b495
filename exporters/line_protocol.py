"""InfluxDB line protocol: a snapshot of the state as lines, one per device and (measurement, tag set).

Owns what a device's series become in InfluxDB: the measurement and field names, the tags, escaping, integer
counters and timestamps in the configured precision. :mod:`exporters.influx` spools the lines and sends them.

**Points.** One line per device and (measurement, tag set); the series of a
device that share their labels become the fields of one line. Measurements
come from the metric names:

=====================  ===========================================  =========================================
measurement            from                                         fields (counters are integers, ``i``)
=====================  ===========================================  =========================================
``interfaces``         ``stadtnetz_interface_*``                    ``receive_bytes_total``, ``speed_bytes``,
                                                                    ``utilisation_ratio`` (tag ``direction``),
                                                                    ``oper_status`` (tag ``state``), ...
``optics``             ``stadtnetz_optical_*``                      ``power_dbm``, ``threshold_dbm``
``wlan``               ``stadtnetz_wlan_*`` (access points)         ``clients`` (tags ``band``, ``ssid``),
                                                                    ``channel_utilisation_ratio``
``ping``               the device's ping results                    ``rtt_min_seconds``, ``rtt_median_seconds``,
                                                                    ``rtt_max_seconds``, ``rtt_sum_seconds``,
                                                                    ``rtt_count``, ``loss_ratio``,
                                                                    ``jitter_seconds``, ``sent_total``,
                                                                    ``received_total``
``device``             the device's status (tags ``status``,        ``status_code`` (0 unknown, 1 up,
                       ``snmp_status`` when polled over SNMP,       2 degraded, 3 down, 4 unreachable),
                       ``root_cause`` when down or unreachable)     ``flapping``, ``maintenance``,
                                                                    ``state_change_ratio``,
                                                                    ``last_seen_timestamp_seconds``,
                                                                    ``poll_duration_seconds``
``device``             ``stadtnetz_device_*`` and every other       the name without ``stadtnetz_`` (and
                       metric (``uptime_seconds``, custom           without ``device_``): ``uptime_seconds``,
                       profiles)                                    ``info`` (tags ``sys_name``, ...)
=====================  ===========================================  =========================================

Every line carries the tags ``device``, ``kind``, ``site``, ``district`` (empty
values are left out, as line protocol has no empty tags) plus the series' own
labels. Fields are numeric only; NaN and infinite values are left out, as in
``/metrics``. A device that did not answer its last poll gets only its
``device`` status line (and ``ping``), as Prometheus gets only its status.
In VictoriaMetrics a field reads back as ``<measurement>_<field>``, e.g.
``interfaces_receive_bytes_total{device="hs-0001",interface="eth0",...}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from stadtnetz.model import DEVICE_LABELS, MetricDef, MetricKind, PollStatus
from stadtnetz.status.state import DeviceState, Layout
from stadtnetz.status.topology import Status

PRECISION_FACTOR = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
MEASUREMENTS = (
    ("stadtnetz_interface_", "interfaces"),
    ("stadtnetz_optical_", "optics"),
    ("stadtnetz_wlan_", "wlan"),
    ("stadtnetz_device_", "device"),
)
STATUS_CODES = {Status.UNKNOWN: 0, Status.UP: 1, Status.DEGRADED: 2, Status.DOWN: 3, Status.UNREACHABLE: 4}
INT64_MAX = (1 << 63) - 1


def measurement_field(metric: MetricDef) -> tuple[str, str]:
    """The measurement and field a metric becomes (see the module docstring)."""
    name = metric.exported_name
    for prefix, measurement in MEASUREMENTS:
        if name.startswith(prefix):
            return measurement, name[len(prefix) :]
    return "device", name.removeprefix("stadtnetz_")


def escape_key(text: str) -> str:
    """A measurement, tag key or field key, escaped for line protocol."""
    return escape_tag(text)


def escape_tag(text: str) -> str:
    """A tag value escaped for line protocol (backslash, comma, equals sign, space; line breaks become spaces)."""
    if any(c in text for c in "\\, =\n\r"):
        text = (
            text.replace("\n", " ")  # first: the spaces they become are escaped below
            .replace("\r", " ")
            .replace("\\", "\\\\")
            .replace(",", "\\,")
            .replace("=", "\\=")
            .replace(" ", "\\ ")
        )
    return text


def timestamp(at: float, precision: str) -> int:
    """Unix time ``at`` in the precision's unit, without float rounding trouble at ns."""
    factor = PRECISION_FACTOR[precision]
    whole = math.floor(at)
    return whole * factor + round((at - whole) * factor)


@dataclass(slots=True)
class _Line:
    """One line of a device layout: measurement, own tags and the fields (key=, slot, counter position or -1)."""

    measurement: str
    tags: str
    fields: list[tuple[str, int, int]]


DEVICE_TAGS = DEVICE_LABELS  # the InfluxDB tags of every device point: the labels of its Prometheus series


class LineEncoder:
    """Turns device states into line protocol; per layout (shared by devices alike) the lines are worked out once."""

    def __init__(self, precision: str = "s") -> None:
        if precision not in PRECISION_FACTOR:
            raise ValueError(f"precision must be one of {', '.join(PRECISION_FACTOR)}")
        self.precision = precision
        self._templates: dict[Layout, list[_Line]] = {}
        self._heads: dict[str, str] = {}

    def head(self, state: DeviceState) -> str:
        device = state.device
        head = self._heads.get(device.id)
        if head is None:
            values = (device.id, device.kind, device.site, device.district)
            head = "".join(
                f",{key}={escape_tag(value)}" for key, value in zip(DEVICE_TAGS, values, strict=True) if value
            )
            self._heads[device.id] = head
        return head

    def template(self, layout: Layout) -> list[_Line]:
        lines = self._templates.get(layout)
        if lines is None:
            if len(self._templates) > 10_000:
                self._templates.clear()
            grouped: dict[tuple[str, str], _Line] = {}
            for slot, (metric, labels) in enumerate(layout.keys):
                measurement, field = measurement_field(metric)
                tags = "".join(
                    f",{escape_key(key)}={escape_tag(value)}"
                    for key, value in labels.pairs
                    if value and key not in DEVICE_TAGS
                )
                line = grouped.get((measurement, tags))
                if line is None:
                    line = grouped[measurement, tags] = _Line(escape_key(measurement), tags, [])
                position = layout.counters[slot] if metric.kind is MetricKind.COUNTER else -1
                line.fields.append((f"{escape_key(field)}=", slot, position))
            lines = self._templates[layout] = list(grouped.values())
        return lines

    def encode(self, states: Iterable[DeviceState], at: float) -> tuple[list[str], int]:
        """Lines (each ending in a newline) for ``states`` at Unix time ``at``, and how many values they carry."""
        stamp = f" {timestamp(at, self.precision)}\n"
        out: list[str] = []
        values_total = 0
        for state in states:
            head = self.head(state)
            values_total += self._status(state, head, stamp, out)
            if state.ping is not None:
                values_total += self._ping(state, head, stamp, out)
            if state.status is not PollStatus.OK:
                continue
            counters, values = state.counters, state.values
            for line in self.template(state.layout):
                parts = []
                for key, slot, position in line.fields:
                    if position >= 0:
                        total = counters[2 * position]
                        parts.append(f"{key}{total if total <= INT64_MAX else total & INT64_MAX}i")
                    else:
                        value = values[slot]
                        if value - value == 0:  # finite: NaN and infinities are left out
                            parts.append(f"{key}{value!r}")
                if parts:
                    values_total += len(parts)
                    out.append(f"{line.measurement}{head}{line.tags} {','.join(parts)}{stamp}")
        return out, values_total

    @staticmethod
    def _status(state: DeviceState, head: str, stamp: str, out: list[str]) -> int:
        tags = f"{head},status={state.health.value}"
        if state.root_cause:
            tags += f",root_cause={escape_tag(state.root_cause)}"
        polled = bool(state.device.credentials)
        if polled:
            tags += f",snmp_status={state.status.value}"
        fields = (
            f"status_code={STATUS_CODES[state.health]}i,flapping={int(state.flapping)}i,"
            f"maintenance={int(state.maintenance)}i,state_change_ratio={float(state.state_change)!r}"
        )
        count = 4
        if polled and state.last_seen:
            fields += f",last_seen_timestamp_seconds={state.last_seen!r}"
            count += 1
        if polled and state.status is not PollStatus.UNKNOWN:
            fields += f",poll_duration_seconds={float(state.poll_seconds)!r}"
            count += 1
        out.append(f"device{tags} {fields}{stamp}")
        return count

    @staticmethod
    def _ping(state: DeviceState, head: str, stamp: str, out: list[str]) -> int:
        ping = state.ping
        assert ping is not None
        parts = [
            f"{name}={value!r}"
            for name, value in (
                ("rtt_min_seconds", ping.rtt_min),
                ("rtt_median_seconds", ping.rtt_median),
                ("rtt_max_seconds", ping.rtt_max),
                ("rtt_sum_seconds", ping.rtt_sum_total),
                ("loss_ratio", ping.loss),
                ("jitter_seconds", ping.jitter),
            )
            if value - value == 0
        ]
        parts += [
            f"rtt_count={ping.rtt_count_total}i",
            f"sent_total={ping.sent_total}i",
            f"received_total={ping.received_total}i",
        ]
        out.append(f"ping{head} {','.join(parts)}{stamp}")
        return len(parts)
