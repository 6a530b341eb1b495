"""One device's details for its page and ``/api/devices/{id}``: interfaces, optics, WLAN clients, ping, last poll.

Read from the device's series in the state (:class:`stadtnetz.status.state.DeviceState`) on the event loop: one
device's few dozen series, microseconds. Counters give their last per-second rate (bytes become bits per second
here), gauges their value; NaN (unknown) becomes None. Only the families the profiles of the project define are
picked out (``stadtnetz_interface_*``, ``stadtnetz_optical_*``, ``stadtnetz_wlan_*``); the rest stays on /metrics.
"""

from __future__ import annotations

import math
from typing import Any

from stadtnetz.status.state import DeviceState


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def details(state: DeviceState) -> dict[str, Any]:
    """The device's interfaces, optics, WLAN and ping as JSON-able values (see the module docstring)."""
    interfaces: dict[str, dict[str, Any]] = {}
    sensors: dict[str, dict[str, Any]] = {}
    bands: dict[str, dict[str, Any]] = {}
    values = state.values
    for slot, (metric, labels) in enumerate(state.layout.keys):
        name = metric.name
        value = values[slot]
        if name.startswith("stadtnetz_interface_"):
            index = labels.get("if_index") or labels.get("interface") or "?"
            entry = interfaces.setdefault(
                index,
                {"if_index": index, "name": labels.get("interface", ""), "alias": labels.get("alias", ""),
                 "oper_status": None, "admin_status": None, "speed_bits": None,
                 "receive_bits_per_second": None, "transmit_bits_per_second": None,
                 "receive_utilisation": None, "transmit_utilisation": None,
                 "receive_errors_per_second": None, "transmit_errors_per_second": None},
            )
            field = name.removeprefix("stadtnetz_interface_")
            if field in ("oper_status", "admin_status"):
                if value == 1:
                    entry[field] = labels.get("state")
            elif field == "speed_bytes":
                entry["speed_bits"] = None if math.isnan(value) else value * 8
            elif field in ("receive_bytes", "transmit_bytes"):
                direction = field.removesuffix("_bytes")
                entry[f"{direction}_bits_per_second"] = None if math.isnan(value) else value * 8
            elif field == "utilisation_ratio":
                direction = labels.get("direction", "")
                if direction in ("receive", "transmit"):
                    entry[f"{direction}_utilisation"] = _number(value)
            elif field in ("receive_errors", "transmit_errors"):
                entry[f"{field}_per_second"] = _number(value)
        elif name == "stadtnetz_optical_power_dbm":
            key = labels.get("sensor_index", "?")
            entry = sensors.setdefault(key, {"thresholds": {}})
            entry.update(
                sensor=labels.get("sensor", ""),
                interface=labels.get("interface", ""),
                direction=labels.get("direction", ""),
                dbm=_number(value),
            )
        elif name == "stadtnetz_optical_threshold_dbm":
            key = labels.get("sensor_index", "?")
            entry = sensors.setdefault(key, {"thresholds": {}})
            entry["thresholds"][f"{labels.get('bound', '')}_{labels.get('severity', '')}"] = _number(value)
        elif name == "stadtnetz_wlan_clients":
            band = labels.get("band", "?")
            entry = bands.setdefault(band, {"band": band, "clients": 0, "channel_utilisation": None})
            if not math.isnan(value):
                entry["clients"] += int(value)
        elif name == "stadtnetz_wlan_channel_utilisation_ratio":
            band = labels.get("band", "?")
            entry = bands.setdefault(band, {"band": band, "clients": 0, "channel_utilisation": None})
            entry["channel_utilisation"] = _number(value)
    optics = []
    for key, entry in sorted(sensors.items()):
        thresholds = entry.pop("thresholds")
        dbm = entry.get("dbm")
        verdict = None
        if dbm is not None:
            verdict = "ok"
            for bound, severity in (("low", "alarm"), ("high", "alarm"), ("low", "warning"), ("high", "warning")):
                limit = thresholds.get(f"{bound}_{severity}")
                if limit is not None and (dbm <= limit if bound == "low" else dbm >= limit):
                    verdict = f"{severity} ({bound})"
                    break
        optics.append({"sensor_index": key, **entry, "thresholds": thresholds, "verdict": verdict})
    ping = state.ping
    return {
        "interfaces": [interfaces[k] for k in sorted(interfaces, key=lambda i: (len(i), i))],
        "optics": optics,
        "wlan": sorted(bands.values(), key=lambda b: b["band"]),
        "ping": None
        if ping is None
        else {
            "loss": _number(ping.loss),
            "rtt_min": _number(ping.rtt_min),
            "rtt_median": _number(ping.rtt_median),
            "rtt_max": _number(ping.rtt_max),
            "jitter": _number(ping.jitter),
            "sent_total": ping.sent_total,
            "received_total": ping.received_total,
        },
        "poll": {
            "snmp_status": state.status.value if state.device.credentials else None,
            "last_seen": state.last_seen or None,
            "duration_seconds": state.poll_seconds or None,
            "error": state.error or None,
            "uptime_seconds": None if state.uptime_ticks is None else state.uptime_ticks / 100,
        },
    }
