"""net-snmp's command-line tools as a reference client: run them, parse what they print.

Run them with ``-On -Ox -Ot -Oe``: numeric OIDs, every string in hex, TimeTicks
as a number, enums as numbers, so every printed value maps to exactly one of
our typed values.
"""

from __future__ import annotations

import subprocess

from collectors.snmp.oid import parse_oid
from collectors.snmp.types import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    Counter32,
    Counter64,
    Gauge32,
    IpAddress,
    Opaque,
    TimeTicks,
    Value,
    VarBind,
)

OUTPUT_OPTIONS = ("-On", "-Ox", "-Ot", "-Oe")


def run(tool: str, version: str, community: str, endpoint: str, *oids: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Run e.g. ``snmpbulkwalk``; return its output lines; raise with stderr if it fails."""
    argv = [tool, f"-v{version}", "-c", community, *OUTPUT_OPTIONS, "-t", "2", "-r", "1", *extra, endpoint, *oids]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env={"MIBS": "", "PATH": "/usr/bin"})
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return [line for line in result.stdout.splitlines() if line.strip()]


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


def parse_value(text: str) -> Value:
    """One value as printed after ``=`` with the options above."""
    text = text.strip()
    if text == '""':
        return b""
    if text.startswith("No Such Object"):
        return NO_SUCH_OBJECT
    if text.startswith("No Such Instance"):
        return NO_SUCH_INSTANCE
    if text.startswith("No more variables left"):
        return END_OF_MIB_VIEW
    if text == "NULL":
        return None
    if text.isdigit():  # -Ot prints TimeTicks as a bare number
        return TimeTicks(int(text))
    kind, _, rest = text.partition(": ")
    rest = rest.strip()
    if kind == "INTEGER":
        return int(rest)
    if kind in ("Hex-STRING", "STRING"):
        return _hex(rest) if kind == "Hex-STRING" else rest.strip('"').encode()
    if kind == "OID":
        return parse_oid(rest)
    if kind == "IpAddress":
        return IpAddress.from_text(rest)
    if kind == "Counter32":
        return Counter32(int(rest))
    if kind == "Gauge32":
        return Gauge32(int(rest))
    if kind == "Timeticks":
        return TimeTicks(int(rest))
    if kind == "Counter64":
        return Counter64(int(rest))
    if kind == "Opaque":
        return Opaque(_hex(rest.split(":", 1)[-1]))
    raise ValueError(f"cannot parse net-snmp value {text!r}")


def parse_lines(lines: list[str]) -> list[VarBind]:
    """Output lines -> varbinds; a Hex-STRING longer than a line continues on the next lines."""
    varbinds: list[VarBind] = []
    pending: tuple[str, str] | None = None
    for line in lines:
        if line.strip() == "End of MIB":  # snmpwalk -v1 reaching the end of the agent's tree
            break
        if line.startswith(".") and " = " in line:
            if pending:
                varbinds.append((parse_oid(pending[0]), parse_value(pending[1])))
            oid, _, value = line.partition(" = ")
            pending = (oid, value)
        elif pending:
            pending = (pending[0], pending[1] + " " + line.strip())
    if pending:
        varbinds.append((parse_oid(pending[0]), parse_value(pending[1])))
    return varbinds
