"""Prometheus text exposition (format 0.0.4) of the state, plus the process's own metrics.

Owns ``/metrics``' body. Series are rendered straight from the state's
compact arrays with each device's labels pre-rendered once, grouped by metric
family as the format requires; the collector's own metrics (poll durations,
timeouts, malformed packets, scheduler lag) come from a prometheus_client
registry appended at the end. Rendering 100,000 samples this way is several
times faster than prometheus_client's ``generate_latest`` (``bench/capacity.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest

from stadtnetz.model import MetricDef, MetricKind, PollStatus
from stadtnetz.state import State, device_labels

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

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


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    return repr(value)


def _header(metric: MetricDef) -> str:
    name = metric.exported_name
    kind = "counter" if metric.kind is MetricKind.COUNTER else "gauge"
    help_text = metric.help.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


def render_state(state: State) -> list[str]:
    """Every device series as text lines, grouped by family, families sorted by name."""
    families: dict[MetricDef, list[str]] = {}
    names: dict[MetricDef, str] = {}
    ok = PollStatus.OK
    status_lines: list[str] = []
    seen_lines: list[str] = []
    duration_lines: list[str] = []
    for device in state.devices.values():
        head = device_labels(device.device)
        status_lines.append(f'stadtnetz_device_snmp_status{{{head},status="{device.status.value}"}} 1\n')
        if device.last_seen:
            seen_lines.append(f"stadtnetz_device_last_seen_timestamp_seconds{{{head}}} {device.last_seen!r}\n")
        if device.status is not PollStatus.UNKNOWN:
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
                lines.append(f"{names[metric]}{{{head}{labels}}} {counters[2 * position]}\n")
            else:
                value = values[slot]
                if value == value:  # NaN: unknown, not exported
                    lines.append(f"{names[metric]}{{{head}{labels}}} {_number(value)}\n")
    families[SNMP_STATUS] = status_lines
    families[LAST_SEEN] = seen_lines
    families[POLL_DURATION] = duration_lines
    out: list[str] = []
    for metric in sorted(families, key=lambda m: m.exported_name):
        lines = families[metric]
        if lines:
            out.append(_header(metric))
            out.extend(lines)
    return out


def render(state: State, registries: Iterable[CollectorRegistry] = ()) -> bytes:
    """The whole /metrics body."""
    body = "".join(render_state(state)).encode()
    return body + b"".join(generate_latest(registry) for registry in registries)
