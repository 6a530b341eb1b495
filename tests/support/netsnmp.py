"""net-snmp's command-line tools as a reference client: run them, parse what they print.

``run_tool`` runs ``snmpget``/``snmpwalk``/``snmpbulkwalk`` with numeric,
unambiguous output (``-On -Ox -Ot -Oe``), and ``parse_output`` turns their
``.OID = TYPE: value`` lines into the ``(oid, value)`` pairs our client returns,
with the same Python value types (:mod:`collectors.snmp.types`).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence

from collectors.snmp.oid import format_oid, parse_oid
from collectors.snmp.types import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    Counter32,
    Counter64,
    Gauge32,
    IpAddress,
    Oid,
    TimeTicks,
    Value,
    VarBind,
)

# Numeric OIDs, hex strings, raw timeticks, numeric enums: unambiguous to parse.
OUTPUT_OPTIONS = ("-On", "-Ox", "-Ot", "-Oe")
TOOL_ENV = {"MIBS": ""}  # Debian ships no MIB files


def run_tool(
    tool: str, version: str, host: str, port: int, community: str, oids: Sequence[Oid], *extra: str
) -> list[VarBind]:
    """Run ``snmpget``/``snmpwalk``/``snmpbulkwalk`` (``version`` "1" or "2c") and parse its output."""
    argv = [tool, f"-v{version}", "-c", community, *OUTPUT_OPTIONS, "-t", "2", "-r", "1", *extra, f"{host}:{port}"]
    argv += [format_oid(oid) for oid in oids]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, env={**os.environ, **TOOL_ENV})
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed with {result.returncode}: {result.stderr.strip()}")
    return parse_output(result.stdout)


_LINE = re.compile(r"^(\.?\d+(?:\.\d+)+) = (.*)$")
_TYPED = re.compile(r"^([A-Za-z][A-Za-z0-9 -]*?): (.*)$", re.DOTALL)
_EXCEPTIONS: dict[str, Value] = {
    "No Such Object available on this agent at this OID": NO_SUCH_OBJECT,
    "No Such Instance currently exists at this OID": NO_SUCH_INSTANCE,
    "No more variables left in this MIB View (It is past the end of the MIB tree)": END_OF_MIB_VIEW,
}


def _integer(text: str) -> int:
    """``42`` or, without ``-Oe``, ``up(1)``."""
    match = re.fullmatch(r"(?:[A-Za-z][\w-]*\()?(-?\d+)\)?", text.strip())
    if match is None:
        raise ValueError(f"not an integer: {text!r}")
    return int(match.group(1))


def _quoted(text: str) -> bytes:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"not a quoted string: {text!r}")
    return re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.DOTALL).encode("latin-1")


def parse_value(text: str) -> Value:
    """One value as net-snmp prints it after ``OID = ``."""
    text = text.strip()
    if text in _EXCEPTIONS:
        return _EXCEPTIONS[text]
    if text == '""':
        return b""
    if re.fullmatch(r"\d+", text):  # -Ot prints Timeticks as a bare number
        return TimeTicks(int(text))
    match = _TYPED.match(text)
    if match is None:
        raise ValueError(f"cannot parse net-snmp value {text!r}")
    kind, body = match.group(1), match.group(2).strip()
    if kind == "INTEGER":
        return _integer(body)
    if kind == "STRING":
        return _quoted(body)
    if kind == "Hex-STRING":
        return bytes.fromhex(body)
    if kind == "OID":
        return parse_oid(body)
    if kind == "IpAddress":
        return IpAddress.from_text(body)
    if kind == "Network Address":
        return IpAddress(bytes.fromhex(body.replace(":", "")))
    if kind == "Counter32":
        return Counter32(int(body))
    if kind in ("Gauge32", "UNSIGNED", "UInteger32"):
        return Gauge32(int(body))
    if kind == "Counter64":
        return Counter64(int(body))
    if kind == "Timeticks":
        ticks = re.match(r"\((\d+)\)", body)
        return TimeTicks(int(ticks.group(1)) if ticks else int(body))
    if kind == "NULL":
        return None
    raise ValueError(f"net-snmp type {kind!r} is not supported by this parser: {text!r}")


def parse_output(text: str) -> list[VarBind]:
    """All ``.OID = value`` entries of a net-snmp tool's stdout, in order.

    A value may span several lines (long Hex-STRINGs wrap every 16 octets, strings may hold
    newlines): every line that does not start a new entry continues the previous one.
    snmpwalk's closing ``End of MIB`` line (v1, at the end of the agent's tree) is not an entry.
    """
    entries: list[tuple[str, str]] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            entries.append((match.group(1), match.group(2)))
        elif line.strip() == "End of MIB":
            break
        elif entries:
            oid, value = entries[-1]
            entries[-1] = (oid, f"{value}\n{line}")
        elif line.strip():
            raise ValueError(f"unexpected net-snmp output line {line!r}")
    result: list[VarBind] = []
    for oid, value in entries:
        kind = _TYPED.match(value.strip())
        if kind and kind.group(1) == "Hex-STRING":
            value = value.replace("\n", " ")
        result.append((parse_oid(oid), parse_value(value)))
    return result
