"""Quantities as people write them in configuration and commands: durations, shares and sizes.

Owns the one parser for each (and the way a duration is written back, :func:`format_duration`), so
``interval: 30s`` in a file and ``degrade hs-0001 rtt=80ms`` in a scenario mean the same thing.
"""

from __future__ import annotations

import math
import re
from typing import Any

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?\s*")
_DURATION_RULE = "use a number with a unit, e.g. '500ms', '30s', '5m', '1h', '7d', or a number of seconds"
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a yes/no value ({str(value).lower()})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_duration(value: Any) -> float:
    """``"500ms"``, ``"30s"``, ``"5m"``, ``"1h"`` or a number of seconds -> seconds (> 0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"invalid duration {describe(value)}: {_DURATION_RULE}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be greater than 0, got {describe(value)}: {_DURATION_RULE}")
    return seconds


def format_duration(seconds: float) -> str:
    """30.0 -> '30s', 0.5 -> '500ms', 300 -> '5m', 3600 -> '1h', 86400 -> '1d'."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def parse_ratio(value: Any) -> float:
    """A share between 0 and 1, written 0.2 or 20%."""
    text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    try:
        number = float(text[:-1]) / 100 if text and text.endswith("%") else float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"expected a share between 0 and 1, e.g. 0.2 or 20%, not {describe(value)}") from None
    if not 0 < number <= 1:
        raise ValueError(f"a share must be above 0 and at most 1 (100%), not {text}")
    return number


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*")
_SIZE_RULE = "use a number with a unit, e.g. '512MiB', '2GiB', '500MB', or a number of bytes"
_UNIT_BYTES = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
    "TiB": 1 << 40,
}


def parse_size(value: Any) -> int:
    """``"512MiB"``, ``"2GiB"``, ``"500MB"`` or a whole number of bytes -> bytes (> 0)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _SIZE.fullmatch(value)):
        size = int(float(match.group(1)) * _UNIT_BYTES[match.group(2)])
    else:
        raise ValueError(f"invalid size {describe(value)}: {_SIZE_RULE}")
    if size <= 0:
        raise ValueError(f"a size must be greater than 0, got {describe(value)}: {_SIZE_RULE}")
    return size
