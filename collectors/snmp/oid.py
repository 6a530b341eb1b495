"""Object identifiers as text: parse dotted strings into tuples and back.

OIDs are ``tuple[int, ...]`` everywhere inside the project because Python's
tuple ordering is exactly SNMP's lexicographic OID ordering.
"""

from __future__ import annotations

from collections.abc import Iterable

from collectors.snmp.types import UNSIGNED32_MAX, Oid


def parse_oid(text: str) -> Oid:
    """``"1.3.6.1.2.1.1.5.0"`` or ``".1.3.6..."`` -> ``(1, 3, 6, ...)``.

    Raises ValueError naming the offending part if the text is not numeric.
    """
    stripped = text.strip().lstrip(".")
    if not stripped:
        raise ValueError("empty OID")
    arcs: list[int] = []
    for part in stripped.split("."):
        if not part.isdigit():
            raise ValueError(f"OID {text!r}: {part!r} is not a non-negative number")
        arc = int(part)
        if arc > UNSIGNED32_MAX:
            raise ValueError(f"OID {text!r}: sub-identifier {arc} exceeds 2**32-1")
        arcs.append(arc)
    return tuple(arcs)


def format_oid(oid: Iterable[int]) -> str:
    """``(1, 3, 6)`` -> ``"1.3.6"``."""
    return ".".join(map(str, oid))
