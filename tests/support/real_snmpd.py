"""A real net-snmp snmpd for tests, started the way ../shared/TESTING.md describes.

Foreground, its own config and persistent directory, no MIB files, bound to a
127.0.0.0/8 address only, stopped by its PID. Read it with :mod:`tests.support.netsnmp`.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.support.processes import Daemon, free_port, udp_port_bound

SNMPD_HOST = "127.0.9.1"
SNMPD_COMMUNITY = "public"
SNMPD_SYSNAME = "stadtnetz-test"
SNMPD_SYSLOCATION = "stadtnetz test rack 9"
SNMPD_SYSCONTACT = "noc@stadtnetz.invalid"

# Numeric OIDs, hex strings, raw timeticks, numeric enums: unambiguous to parse.
OUTPUT_OPTIONS = ("-On", "-Ox", "-Ot", "-Oe")
TOOL_ENV = {"MIBS": ""}  # Debian ships no MIB files


def _snmpd_ready(host: str, port: int, community: str) -> bool:
    try:
        result = subprocess.run(
            ["snmpget", "-v2c", "-c", community, "-On", "-t", "0.3", "-r", "0", f"{host}:{port}", "1.3.6.1.2.1.1.5.0"],
            capture_output=True,
            text=True,
            timeout=5,
            env={**os.environ, **TOOL_ENV},
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and SNMPD_SYSNAME in result.stdout


def start_snmpd(
    directory: Path,
    host: str = SNMPD_HOST,
    community: str = SNMPD_COMMUNITY,
    extra_hosts: Sequence[str] = (),
    extra_config: str = "",
) -> tuple[Daemon, int]:
    """Start snmpd on a free UDP port of ``host`` (and the same port of ``extra_hosts``);
    return the ready daemon and its port. One snmpd binds at most ~127 addresses.

    ``extra_config`` is appended to snmpd.conf as it is (e.g. ``createUser``/``rouser`` lines for SNMPv3).

    A port taken between choosing and binding makes snmpd exit; then another port is tried.
    """
    hosts = [host, *extra_hosts]
    if len(hosts) > 120:
        raise ValueError("one snmpd binds at most ~127 addresses; start several for more")
    last_error: Exception | None = None
    for attempt in range(3):
        port = free_port(host, socket.SOCK_DGRAM)
        run_dir = directory / f"run{attempt}"
        run_dir.mkdir(parents=True)
        conf = run_dir / "snmpd.conf"
        conf.write_text(
            "".join(f"agentAddress udp:{h}:{port}\n" for h in hosts) + f"rocommunity {community} 127.0.0.0/8\n"
            f"sysName {SNMPD_SYSNAME}\n"
            f"sysLocation {SNMPD_SYSLOCATION}\n"
            f"sysContact {SNMPD_SYSCONTACT}\n"
            "dontLogTCPWrappersConnects yes\n" + extra_config
        )
        daemon = Daemon(
            [
                "snmpd",
                "-f",
                "-Lo",
                "-C",
                "-c",
                str(conf),
                "-p",
                str(run_dir / "snmpd.pid"),
                "-I",
                "-smux,mteTrigger,mteTriggerConf",
            ],
            run_dir / "snmpd.log",
            env={"MIBS": "", "SNMP_PERSISTENT_DIR": str(run_dir / "persist")},
        )

        def ready(port: int = port) -> bool:
            return all(udp_port_bound(h, port) for h in hosts) and _snmpd_ready(host, port, community)

        try:
            daemon.wait_ready(ready, 15.0, f"snmpd on {len(hosts)} address(es)")
        except (RuntimeError, TimeoutError) as exc:
            daemon.stop()
            last_error = exc
            continue
        return daemon, port
    raise RuntimeError(f"snmpd did not start on {host}: {last_error}")
