"""CPU cost of one IF-MIB poll per device: our SNMP client against pysnmp 7 and Prometheus' snmp_exporter.

What one "poll" is, for every poller: the OIDs snmp_exporter's ``if_mib`` module asks for,

* GET ``sysUpTime.0`` (1.3.6.1.2.1.1.3.0),
* walk ``interfaces`` (1.3.6.1.2.1.2: ifNumber and the whole ifTable),
* walk ``ifXTable`` (1.3.6.1.2.1.31.1.1),

SNMPv2c, community ``public``, GETBULK with max-repetitions 25, timeout 5 s and 3 retries (snmp_exporter's
defaults), every device polled once per round with at most ``--concurrency`` devices in flight.

With ``--v3`` the same poll goes over SNMPv3, security level authPriv with HMAC-SHA-256 (usmHMAC192SHA256AuthProtocol)
and AES-128 (CFB), one user (:class:`V3Security`) that the agent is given and all three pollers use: snmpd gets it as
``createUser``/``rouser`` lines, the simulator as ``--v3-user`` (passphrases in mode-600 files it reads
through ``file:`` references), ours as ``Target(version=3, usm=UsmUser(...))``,
pysnmp as ``UsmUserData``, snmp_exporter as ``version: 3`` plus the module's ``auth:`` block (0.21 keeps the
credentials in the module; it knows SHA256: a wrong passphrase fails with "wrong digest"). Each poller discovers an
agent's engine the way it does in service: ours and pysnmp keep what they learned across rounds (one client, one
engine), snmp_exporter opens a new session per scrape, so each of its scrapes starts with a discovery request (its
``requests`` column shows it).

The three pollers, measured one after another in each round (rounds interleave them, so drift in the machine's
load hits all three alike):

1. **ours** -- :class:`collectors.snmp.client.SnmpClient` in this process; CPU is ``time.process_time()`` around
   the round (one client, kept open across rounds like a running collector).
2. **pysnmp 7** -- the asyncio hlapi (``get_cmd`` + ``bulk_walk_cmd`` per subtree, one ``SnmpEngine`` for all
   devices, ``lookupMib=False``, transport targets created once) in a child process of its own, so nothing else
   shares its CPU clock; CPU is ``time.process_time()`` around the round inside that child.
3. **snmp_exporter 0.21** (Go, ``/usr/bin/prometheus-snmp-exporter``) with an ``if_mib`` module this script
   writes (numeric OIDs; the metrics, index and lookups of upstream's generated module); one HTTP scrape
   ``/snmp?target=HOST:PORT&module=if_mib`` per device; CPU is the exporter process' user+system time from
   ``/proc/PID/stat`` around the round (so it includes HTTP and rendering the text exposition, which is what
   that tool spends per device; scraped without gzip, its cheapest path -- Prometheus would ask for gzip).

Every round checks that all pollers got the same number of varbinds from every device (the exporter reports
``snmp_scrape_pdus_returned``), that no poll failed, and that every scrape holds ``ifHCInOctets`` samples and no
``snmp_error``. The agents (simulated city or net-snmp's snmpd) run in their own processes; their CPU never
counts toward a poller, and is shown separately. Each poller first polls a few devices unmeasured (imports,
caches, first contact), then ``--repeat`` measured rounds; the table shows the median and the spread.

The last line is ``RESULT cpu_per_poll_ratio_vs_snmp_exporter=<ours/exporter> vs_pysnmp=<pysnmp/ours>``; with
``--v3`` it is ``RESULT v3_cpu_ratio_vs_snmp_exporter=<ours/exporter> vs_pysnmp=<pysnmp/ours>``.

Run (from the repository root)::

    .venv/bin/python bench/snmp_poll.py                        # 500 devices of the simulated city
    .venv/bin/python bench/snmp_poll.py --source snmpd --devices 500 --repeat 5
    .venv/bin/python bench/snmp_poll.py --source inventory --inventory city.csv   # devices already served
    .venv/bin/python bench/snmp_poll.py --quick   # smoke run: 20 devices, one round, all three pollers
    .venv/bin/python bench/snmp_poll.py --v3       # SNMPv3 authPriv SHA-256/AES-128, same devices and rounds
    .venv/bin/python bench/snmp_poll.py --v3 --source snmpd --quick

Traffic goes only to 127.0.0.0/8; any other address in an inventory is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import http.client
import ipaddress
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from collectors.snmp.client import SnmpClient, SnmpError, Target  # noqa: E402
from tests.support.processes import CLOCK_TICKS, Daemon, free_port  # noqa: E402
from tests.support.real_snmpd import SnmpdV3User, start_snmpd  # noqa: E402
from tests.support.simulation import start_simulator_process  # noqa: E402

SYS_UPTIME_0 = (1, 3, 6, 1, 2, 1, 1, 3, 0)
INTERFACES = (1, 3, 6, 1, 2, 1, 2)
IF_X_TABLE = (1, 3, 6, 1, 2, 1, 31, 1, 1)
WALK_ROOTS = (INTERFACES, IF_X_TABLE)

COMMUNITY = "public"
MAX_REPETITIONS = 25
TIMEOUT_S = 5.0  # snmp_exporter's defaults, used by all three pollers
RETRIES = 3
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
SNMP_EXPORTER = "/usr/bin/prometheus-snmp-exporter"
SNMPD = "/usr/sbin/snmpd"


# --------------------------------------------------------------------------- SNMPv3 (--v3)


# our protocol name -> (net-snmp's createUser and the text we show, snmp_exporter 0.21's, pysnmp 7's constant)
V3_AUTH_NAMES = {
    "sha": ("SHA", "SHA", "USM_AUTH_HMAC96_SHA"),
    "sha256": ("SHA-256", "SHA256", "USM_AUTH_HMAC192_SHA256"),
}
V3_PRIV_NAMES = {"aes": ("AES", "AES", "USM_PRIV_CFB128_AES")}


@dataclass(frozen=True, slots=True)
class V3Security:
    """The one SNMPv3 user (authPriv) that the agents know and all three pollers use with ``--v3``.

    The protocol names are ours (collectors.snmp.usm's, net-snmp's ``-a``/``-x`` in lower case); each poller and
    agent gets them in its own spelling from the methods below. The passphrases are benchmark constants, never
    printed: only configs in the temp workdir and the children's stdin carry them.
    """

    user: str = "stadtnetz-bench"
    auth_protocol: str = "sha256"
    auth_passphrase: str = field(default="bench-auth-passphrase", repr=False)
    priv_protocol: str = "aes"
    priv_passphrase: str = field(default="bench-priv-passphrase", repr=False)

    def describe(self) -> str:
        auth = V3_AUTH_NAMES[self.auth_protocol][0]
        priv = {"aes": "AES-128"}[self.priv_protocol]
        return f"SNMPv3 authPriv {auth}/{priv}"

    def snmpd_user(self) -> SnmpdV3User:
        """The user as snmpd gets it (createUser/rouser lines in its snmpd.conf)."""
        return SnmpdV3User(
            self.user, self.auth_protocol, self.auth_passphrase, self.priv_protocol, self.priv_passphrase
        )

    def simulator_user(self, directory: Path) -> str:
        """``stadtnetz simulate --v3-user USER:AUTH:REF:PRIV:REF``: the passphrases go into two files (mode 600)
        in ``directory`` and the option names them (``file:PATH``), so no passphrase is on a command line."""
        references = []
        for kind, passphrase in (("auth", self.auth_passphrase), ("priv", self.priv_passphrase)):
            path = directory / f"v3-{kind}-passphrase"
            path.touch(mode=0o600)
            path.write_text(passphrase + "\n")
            references.append(f"file:{path}")
        return ":".join((self.user, self.auth_protocol, references[0], self.priv_protocol, references[1]))

    def exporter_auth(self) -> dict[str, Any]:
        """The ``auth:`` block of an snmp_exporter 0.21 module (one module per set of credentials)."""
        return {
            "username": self.user,
            "security_level": "authPriv",
            "password": self.auth_passphrase,
            "auth_protocol": V3_AUTH_NAMES[self.auth_protocol][1],
            "priv_protocol": V3_PRIV_NAMES[self.priv_protocol][1],
            "priv_password": self.priv_passphrase,
        }

    def pysnmp_user(self) -> dict[str, str]:
        """Arguments of pysnmp 7's UsmUserData, protocols as names in pysnmp.hlapi.v3arch.asyncio (JSON-able)."""
        return {
            "userName": self.user,
            "authKey": self.auth_passphrase,
            "privKey": self.priv_passphrase,
            "authProtocol": V3_AUTH_NAMES[self.auth_protocol][2],
            "privProtocol": V3_PRIV_NAMES[self.priv_protocol][2],
        }

    def target_options(self) -> dict[str, Any]:
        """Keyword arguments of our :class:`collectors.snmp.client.Target` for this user."""
        from collectors.snmp.usm import UsmUser

        usm = UsmUser(
            self.user.encode(),
            self.auth_protocol,
            self.auth_passphrase.encode(),
            self.priv_protocol,
            self.priv_passphrase.encode(),
        )
        return {"version": 3, "usm": usm}


# --------------------------------------------------------------------------- devices


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"address {text!r} is not HOST:PORT")
    if ipaddress.ip_address(host) not in LOOPBACK:
        raise ValueError(f"address {text!r} is outside 127.0.0.0/8; this benchmark only talks to loopback")
    return host, int(port)


def read_inventory(path: Path, limit: int) -> list[Device]:
    """Devices from the simulator's CSV (``id,kind,address,...``), at most ``limit`` of them."""
    devices: list[Device] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "address"} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"{path}: inventory has no column {', '.join(sorted(missing))}")
        for row in reader:
            if not row.get("address"):
                continue
            try:
                host, port = parse_address(row["address"])
            except ValueError as exc:
                raise SystemExit(f"{path}:{reader.line_num}: {exc}") from None
            devices.append(Device(row["id"], host, port))
            if len(devices) >= limit:
                break
    if not devices:
        raise SystemExit(f"{path}: no devices with an address")
    return devices


class DeviceSource:
    """Something that serves SNMP agents; ``start()`` returns the devices to poll."""

    name = "?"
    daemon: Daemon | None = None

    def start(self) -> list[Device]:
        raise NotImplementedError

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()

    def cpu_seconds(self) -> float | None:
        """CPU seconds the agent process has used so far (None if it is not ours)."""
        if self.daemon is None or not self.daemon.alive():
            return None
        return self.daemon.cpu_seconds()


class SimulatorSource(DeviceSource):
    """``python -m stadtnetz.cli simulate --devices N --write-inventory FILE`` as a child process."""

    name = "simulator"

    def __init__(
        self, devices: int, inventory: Path, workdir: Path, ready_timeout: float, security: V3Security | None = None
    ) -> None:
        self.devices = devices
        self.inventory = inventory
        self.workdir = workdir
        self.ready_timeout = ready_timeout
        self.security = security

    def start(self) -> list[Device]:
        extra = ["--v3-user", self.security.simulator_user(self.workdir)] if self.security else []
        self.daemon, _, inventory = start_simulator_process(
            self.workdir, self.devices, timeout=self.ready_timeout, extra_args=extra
        )
        return read_inventory(inventory, self.devices)


class InventorySource(DeviceSource):
    """Devices some other process already serves, listed in an inventory CSV."""

    name = "inventory"

    def __init__(self, devices: int, inventory: Path) -> None:
        self.devices = devices
        self.inventory = inventory

    def start(self) -> list[Device]:
        if not self.inventory.exists():
            raise SystemExit(f"--source inventory needs an existing --inventory file; {self.inventory} is missing")
        return read_inventory(self.inventory, self.devices)


class SnmpdSource(DeviceSource):
    """One net-snmp snmpd listening on ``addresses`` loopback addresses (127.0.9.1 ...) on one port.

    It serves this machine's real interfaces. N devices are spread round-robin over the addresses, so an
    address is polled N/K times per round (one snmpd binds at most ~127 addresses).
    """

    name = "snmpd"

    def __init__(self, devices: int, addresses: int, workdir: Path, security: V3Security | None = None) -> None:
        if not 1 <= addresses <= 120:
            raise SystemExit("--snmpd-addresses must be 1..120 (one snmpd binds at most ~127 addresses)")
        self.devices = devices
        self.hosts = [f"127.0.9.{i}" for i in range(1, min(addresses, devices) + 1)]
        self.workdir = workdir
        self.security = security

    def start(self) -> list[Device]:
        if not Path(SNMPD).exists():
            raise SystemExit(f"{SNMPD} is missing: apt-get install -y --no-install-recommends snmpd")
        users = [self.security.snmpd_user()] if self.security else []
        self.daemon, port = start_snmpd(self.workdir / "snmpd", self.hosts[0], COMMUNITY, self.hosts[1:], users)
        return [Device(f"snmpd-{i + 1}", self.hosts[i % len(self.hosts)], port) for i in range(self.devices)]


# --------------------------------------------------------------------------- CPU clocks


def system_cpu_seconds() -> float:
    """Kernel CPU seconds of this process so far (getrusage; user + system is ``time.process_time()``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def process_user_system(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of another process, from /proc/PID/stat (clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class RoundResult:
    """One poller polling a list of devices once."""

    cpu_s: float  # user + system
    wall_s: float
    sys_s: float  # the system (kernel) part of cpu_s, tick-resolution
    varbinds: list[int]  # per device, -1 where the poll failed
    errors: list[str]
    requests: int = 0
    retries: int = 0
    agent_cpu_s: float | None = None
    samples_checked: int = 0  # exporter: ifHCInOctets samples seen

    @property
    def polls(self) -> int:
        return len(self.varbinds)


@dataclass(slots=True)
class PollerSummary:
    name: str
    label: str
    rounds: list[RoundResult] = field(default_factory=list)

    def per_poll(self) -> list[float]:
        return [r.cpu_s / r.polls for r in self.rounds]

    def median_per_poll(self) -> float:
        return statistics.median(self.per_poll())


# --------------------------------------------------------------------------- 1. ours


class OursPoller:
    name = "ours"
    label = "ours (collectors.snmp)"

    def __init__(self, devices: Sequence[Device], concurrency: int, security: V3Security | None = None) -> None:
        options = security.target_options() if security else {}
        self.targets = [
            Target(d.host, d.port, COMMUNITY.encode(), timeout=TIMEOUT_S, retries=RETRIES, **options) for d in devices
        ]
        self.concurrency = concurrency
        self.runner = asyncio.Runner()
        self.client: SnmpClient | None = None

    def start(self) -> None:
        async def open_client() -> SnmpClient:
            return await SnmpClient(max_in_flight=max(self.concurrency, 1)).__aenter__()

        self.client = self.runner.run(open_client())

    def stop(self) -> None:
        if self.client is not None:
            self.runner.run(self.client.close())
        self.runner.close()

    async def _round(self, targets: Sequence[Target]) -> tuple[list[int], list[str]]:
        client = self.client
        assert client is not None
        slots = asyncio.Semaphore(self.concurrency)
        errors: list[str] = []

        async def poll(target: Target) -> int:
            async with slots:
                try:
                    got = await client.get(target, [SYS_UPTIME_0])
                    walked = await client.walk(target, WALK_ROOTS)
                except SnmpError as exc:
                    errors.append(f"{target.host}:{target.port}: {exc}")
                    return -1
                return len(got) + sum(len(v) for v in walked.values())

        counts = await asyncio.gather(*(poll(t) for t in targets))
        return list(counts), errors

    def poll_round(self, count: int | None = None) -> RoundResult:
        assert self.client is not None
        targets = self.targets if count is None else self.targets[:count]
        before = (self.client.stats.requests, self.client.stats.retransmissions)
        wall0, cpu0, sys0 = time.perf_counter(), time.process_time(), system_cpu_seconds()
        counts, errors = self.runner.run(self._round(targets))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        return RoundResult(
            cpu,
            wall,
            system_cpu_seconds() - sys0,
            counts,
            errors,
            requests=self.client.stats.requests - before[0],
            retries=self.client.stats.retransmissions - before[1],
        )


# --------------------------------------------------------------------------- 2. pysnmp 7 (child process)


def pysnmp_worker() -> None:
    """Child process: read JSON commands on stdin, poll with pysnmp 7, answer one JSON line each."""
    from pysnmp.hlapi.v3arch import asyncio as hlapi
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        UsmUserData,
        bulk_walk_cmd,
        get_cmd,
    )

    sys_uptime = ".".join(map(str, SYS_UPTIME_0))
    roots = [".".join(map(str, root)) for root in WALK_ROOTS]

    def reply(payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    async def main() -> None:
        engine = SnmpEngine()
        auth: Any = CommunityData(COMMUNITY, mpModel=1)  # v2c unless setup brings a v3 user
        context = ContextData()
        transports: list[Any] = []
        concurrency = 1

        async def poll(transport: Any, slots: asyncio.Semaphore) -> tuple[int, int, str | None]:
            async with slots:
                error_indication, error_status, _, varbinds = await get_cmd(
                    engine, auth, transport, context, ObjectType(ObjectIdentity(sys_uptime)), lookupMib=False
                )
                if error_indication or error_status:
                    return -1, 0, f"get: {error_indication or error_status}"
                count = len(varbinds)
                requests = 1
                for root in roots:
                    walked = 0
                    async for error_indication, error_status, _, varbinds in bulk_walk_cmd(
                        engine,
                        auth,
                        transport,
                        context,
                        0,
                        MAX_REPETITIONS,
                        ObjectType(ObjectIdentity(root)),
                        lookupMib=False,
                        lexicographicMode=False,
                    ):
                        if error_indication or error_status:
                            return -1, 0, f"walk {root}: {error_indication or error_status}"
                        walked += len(varbinds)
                    count += walked
                    # bulk_walk_cmd asks for one subtree with the last OID it got: n varbinds take n//25 + 1 GETBULKs
                    requests += walked // MAX_REPETITIONS + 1
                return count, requests, None

        while True:
            line = sys.stdin.readline()  # blocking on purpose: nothing is in flight between rounds
            if not line:
                return
            command = json.loads(line)
            if command["cmd"] == "setup":
                concurrency = command["concurrency"]
                if command.get("usm"):
                    usm = dict(command["usm"])
                    usm["authProtocol"] = getattr(hlapi, usm["authProtocol"])
                    usm["privProtocol"] = getattr(hlapi, usm["privProtocol"])
                    auth = UsmUserData(**usm)
                transports = [
                    await UdpTransportTarget.create((host, port), timeout=TIMEOUT_S, retries=RETRIES)
                    for host, port in command["devices"]
                ]
                reply({"ok": True})
            elif command["cmd"] == "poll":
                chosen = transports if command.get("count") is None else transports[: command["count"]]
                slots = asyncio.Semaphore(concurrency)
                wall0, cpu0, sys0 = time.perf_counter(), time.process_time(), system_cpu_seconds()
                results = await asyncio.gather(*(poll(t, slots) for t in chosen), return_exceptions=True)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                system = system_cpu_seconds() - sys0
                counts, errors, requests = [], [], 0
                for transport, result in zip(chosen, results, strict=True):
                    if isinstance(result, BaseException):
                        counts.append(-1)
                        errors.append(f"{transport.transport_address}: {type(result).__name__}: {result}")
                        continue
                    count, sent, error = result
                    counts.append(count)
                    requests += sent
                    if error:
                        errors.append(f"{transport.transport_address}: {error}")
                reply(
                    {
                        "cpu_s": cpu,
                        "wall_s": wall,
                        "sys_s": system,
                        "varbinds": counts,
                        "errors": errors,
                        "requests": requests,
                    }
                )

    asyncio.run(main())


class PysnmpPoller:
    name = "pysnmp"
    label = "pysnmp 7.1 asyncio"

    def __init__(
        self, devices: Sequence[Device], concurrency: int, workdir: Path, security: V3Security | None = None
    ) -> None:
        self.devices = devices
        self.concurrency = concurrency
        self.security = security
        self.stderr_path = workdir / "pysnmp-worker.log"
        self.process: subprocess.Popen[str] | None = None

    def _call(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            tail = self.stderr_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"pysnmp worker exited with {self.process.poll()}:\n{tail}")
        return json.loads(line)

    def start(self) -> None:
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--pysnmp-worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=REPO,
            start_new_session=True,
        )
        self._call(
            {
                "cmd": "setup",
                "devices": [[d.host, d.port] for d in self.devices],
                "concurrency": self.concurrency,
                "usm": self.security.pysnmp_user() if self.security else None,
            }
        )

    def stop(self) -> None:
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()  # EOF: the worker returns
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()  # Popen.kill signals this child's own PID
                self.process.wait(10)
            self._stderr.close()

    def poll_round(self, count: int | None = None) -> RoundResult:
        answer = self._call({"cmd": "poll", "count": count})
        return RoundResult(
            answer["cpu_s"],
            answer["wall_s"],
            answer["sys_s"],
            answer["varbinds"],
            answer["errors"],
            requests=answer["requests"],
        )


# --------------------------------------------------------------------------- 3. snmp_exporter

IF_TABLE_COLUMNS: list[tuple[int, str, str]] = [  # 1.3.6.1.2.1.2.2.1.<n>: name, snmp_exporter type
    (1, "ifIndex", "gauge"),
    (2, "ifDescr", "DisplayString"),
    (3, "ifType", "EnumAsInfo"),
    (4, "ifMtu", "gauge"),
    (5, "ifSpeed", "gauge"),
    (6, "ifPhysAddress", "PhysAddress48"),
    (7, "ifAdminStatus", "gauge"),
    (8, "ifOperStatus", "gauge"),
    (9, "ifLastChange", "gauge"),
    (10, "ifInOctets", "counter"),
    (11, "ifInUcastPkts", "counter"),
    (12, "ifInNUcastPkts", "counter"),
    (13, "ifInDiscards", "counter"),
    (14, "ifInErrors", "counter"),
    (15, "ifInUnknownProtos", "counter"),
    (16, "ifOutOctets", "counter"),
    (17, "ifOutUcastPkts", "counter"),
    (18, "ifOutNUcastPkts", "counter"),
    (19, "ifOutDiscards", "counter"),
    (20, "ifOutErrors", "counter"),
    (21, "ifOutQLen", "gauge"),
    (22, "ifSpecific", "OctetString"),
]
IF_X_TABLE_COLUMNS: list[tuple[int, str, str]] = [  # 1.3.6.1.2.1.31.1.1.1.<n>
    (1, "ifName", "DisplayString"),
    (2, "ifInMulticastPkts", "counter"),
    (3, "ifInBroadcastPkts", "counter"),
    (4, "ifOutMulticastPkts", "counter"),
    (5, "ifOutBroadcastPkts", "counter"),
    (6, "ifHCInOctets", "counter"),
    (7, "ifHCInUcastPkts", "counter"),
    (8, "ifHCInMulticastPkts", "counter"),
    (9, "ifHCInBroadcastPkts", "counter"),
    (10, "ifHCOutOctets", "counter"),
    (11, "ifHCOutUcastPkts", "counter"),
    (12, "ifHCOutMulticastPkts", "counter"),
    (13, "ifHCOutBroadcastPkts", "counter"),
    (14, "ifLinkUpDownTrapEnable", "gauge"),
    (15, "ifHighSpeed", "gauge"),
    (16, "ifPromiscuousMode", "gauge"),
    (17, "ifConnectorPresent", "gauge"),
    (18, "ifAlias", "DisplayString"),
    (19, "ifCounterDiscontinuityTime", "gauge"),
]
LOOKUP_ONLY = {"ifDescr", "ifName", "ifAlias"}  # upstream's generator.yml: `ignore: true`, used as labels
ENUMS: dict[str, dict[int, str]] = {
    # IANAifType, abridged: the common values (upstream lists all 234; the exporter looks one up per row)
    "ifType": {
        1: "other",
        6: "ethernetCsmacd",
        23: "ppp",
        24: "softwareLoopback",
        53: "propVirtual",
        71: "ieee80211",
        117: "gigabitEthernet",
        131: "tunnel",
        135: "l2vlan",
        136: "l3ipvlan",
        161: "ieee8023adLag",
        166: "mpls",
        209: "bridge",
    },
    "ifAdminStatus": {1: "up", 2: "down", 3: "testing"},
    "ifOperStatus": {
        1: "up",
        2: "down",
        3: "testing",
        4: "unknown",
        5: "dormant",
        6: "notPresent",
        7: "lowerLayerDown",
    },
    "ifLinkUpDownTrapEnable": {1: "enabled", 2: "disabled"},
    "ifPromiscuousMode": {1: "true", 2: "false"},
    "ifConnectorPresent": {1: "true", 2: "false"},
}


def if_mib_module(security: V3Security | None = None) -> dict[str, Any]:
    """The ``if_mib`` module in snmp_exporter 0.21's snmp.yml format, numeric OIDs only; v2c, or v3 with
    ``security`` (0.21 keeps the credentials in the module: ``version: 3`` and an ``auth:`` block)."""
    oid = ".".join
    index = [{"labelname": "ifIndex", "type": "gauge"}]
    lookups = [
        {"labels": ["ifIndex"], "labelname": "ifAlias", "oid": "1.3.6.1.2.1.31.1.1.1.18", "type": "DisplayString"},
        {"labels": ["ifIndex"], "labelname": "ifDescr", "oid": "1.3.6.1.2.1.2.2.1.2", "type": "DisplayString"},
        {"labels": ["ifIndex"], "labelname": "ifName", "oid": "1.3.6.1.2.1.31.1.1.1.1", "type": "DisplayString"},
    ]
    metrics: list[dict[str, Any]] = [
        {"name": "sysUpTime", "oid": "1.3.6.1.2.1.1.3", "type": "gauge", "help": "sysUpTime - 1.3.6.1.2.1.1.3"},
        {"name": "ifNumber", "oid": "1.3.6.1.2.1.2.1", "type": "gauge", "help": "ifNumber - 1.3.6.1.2.1.2.1"},
    ]
    for base, columns in (("1.3.6.1.2.1.2.2.1", IF_TABLE_COLUMNS), ("1.3.6.1.2.1.31.1.1.1", IF_X_TABLE_COLUMNS)):
        for number, name, kind in columns:
            if name in LOOKUP_ONLY:
                continue
            column = oid((base, str(number)))
            metric: dict[str, Any] = {
                "name": name,
                "oid": column,
                "type": kind,
                "help": f"IF-MIB::{name} - {column}",
                "indexes": index,
                "lookups": lookups,
            }
            if name in ENUMS:
                metric["enum_values"] = ENUMS[name]
            metrics.append(metric)
    return {
        "walk": [oid(map(str, root)) for root in WALK_ROOTS],
        "get": [oid(map(str, SYS_UPTIME_0))],
        "metrics": metrics,
        "version": 3 if security else 2,
        "max_repetitions": MAX_REPETITIONS,
        "retries": RETRIES,
        "timeout": f"{TIMEOUT_S:g}s",
        "auth": security.exporter_auth() if security else {"community": COMMUNITY},
    }


def to_yaml(value: Any, indent: int = 0) -> Iterator[str]:
    """Block-style YAML for dicts, lists, str (JSON-quoted), int and bool; enough for snmp.yml."""
    pad = "  " * indent

    def scalar(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int):
            return str(item)
        return json.dumps(str(item))  # a JSON string is a valid YAML double-quoted scalar

    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                yield f"{pad}{key}:"
                yield from to_yaml(item, indent + 1)
            else:
                yield f"{pad}{key}: {scalar(item) if not isinstance(item, dict | list) else '[]'}"
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                lines = list(to_yaml(item, indent + 1))
                yield f"{pad}- {lines[0].lstrip()}"
                yield from lines[1:]
            elif isinstance(item, list):
                raise ValueError("nested lists are not needed here")
            else:
                yield f"{pad}- {scalar(item)}"
    else:
        yield f"{pad}{scalar(value)}"


_SAMPLE = re.compile(rb"^(snmp_scrape_pdus_returned|snmp_scrape_packets_sent|snmp_scrape_packets_retried) (\S+)$", re.M)


class ExporterPoller:
    name = "snmp_exporter"
    label = "snmp_exporter 0.21"

    def __init__(
        self, devices: Sequence[Device], concurrency: int, workdir: Path, security: V3Security | None = None
    ) -> None:
        self.devices = devices
        self.concurrency = concurrency
        self.workdir = workdir
        self.security = security
        self.port = 0
        self.daemon: Daemon | None = None
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="scrape")

    def start(self) -> None:
        if not Path(SNMP_EXPORTER).exists():
            raise SystemExit(
                f"{SNMP_EXPORTER} is missing: apt-get install -y --no-install-recommends prometheus-snmp-exporter"
            )
        config = self.workdir / "snmp.yml"
        config.write_text("\n".join(to_yaml({"if_mib": if_mib_module(self.security)})) + "\n")
        self.port = free_port()
        argv = [SNMP_EXPORTER, f"--web.listen-address=127.0.0.1:{self.port}", f"--config.file={config}"]
        self.daemon = Daemon(argv, self.workdir / "snmp_exporter.log")
        self.daemon.wait_ready(self._http_ok, 15.0, "snmp_exporter")

    def _http_ok(self) -> bool:
        try:
            status, _ = self._get("/")
        except OSError:
            return False
        return status == 200

    def _get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        self.pool.shutdown(wait=True)
        if self.daemon is not None:
            self.daemon.stop()

    def _scrape(self, device: Device) -> tuple[int, int, int, int, str | None]:
        """(pdus returned, packets sent, packets retried, ifHCInOctets samples, error)."""
        query = urllib.parse.urlencode({"target": device.address, "module": "if_mib"})
        try:
            status, body = self._get(f"/snmp?{query}")
        except OSError as exc:
            return -1, 0, 0, 0, f"HTTP: {exc}"
        if status != 200 or b"snmp_error" in body:
            return -1, 0, 0, 0, f"HTTP {status}: {body[:300].decode(errors='replace')}"
        values = {m.group(1).decode(): float(m.group(2)) for m in _SAMPLE.finditer(body)}
        samples = body.count(b"\nifHCInOctets{")
        if "snmp_scrape_pdus_returned" not in values or not samples:
            return -1, 0, 0, 0, f"scrape without snmp_scrape_pdus_returned or ifHCInOctets: {body[:300]!r}"
        return (
            int(values["snmp_scrape_pdus_returned"]),
            int(values.get("snmp_scrape_packets_sent", 0)),
            int(values.get("snmp_scrape_packets_retried", 0)),
            samples,
            None,
        )

    def poll_round(self, count: int | None = None) -> RoundResult:
        assert self.daemon is not None
        devices = self.devices if count is None else self.devices[:count]
        wall0, (user0, sys0) = time.perf_counter(), process_user_system(self.daemon.pid)
        results = list(self.pool.map(self._scrape, devices))
        wall = time.perf_counter() - wall0
        time.sleep(0.1)  # let the exporter finish what it does after the last response (closing sockets)
        user1, sys1 = process_user_system(self.daemon.pid)
        cpu = (user1 - user0) + (sys1 - sys0)
        counts = [r[0] for r in results]
        errors = [f"{d.address}: {r[4]}" for d, r in zip(devices, results, strict=True) if r[4]]
        return RoundResult(
            cpu,
            wall,
            sys1 - sys0,
            counts,
            errors,
            requests=sum(r[1] for r in results),
            retries=sum(r[2] for r in results),
            samples_checked=sum(r[3] for r in results),
        )


# --------------------------------------------------------------------------- main


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def measured(poller: Any, source: DeviceSource, count: int | None = None) -> RoundResult:
    """One round of ``poller`` with the agent's CPU over the same interval."""
    agent0 = source.cpu_seconds()
    result = poller.poll_round(count)
    agent1 = source.cpu_seconds()
    if agent0 is not None and agent1 is not None:
        result.agent_cpu_s = agent1 - agent0
    return result


def check_round(name: str, result: RoundResult, reference: list[int] | None) -> list[int]:
    """Fail loudly when a poll failed or the varbind counts differ from the reference poller's."""
    if result.errors:
        shown = "\n  ".join(result.errors[:10])
        raise SystemExit(f"{name}: {len(result.errors)} of {result.polls} polls failed:\n  {shown}")
    if reference is not None and result.varbinds != reference:
        diffs = [(i, a, b) for i, (a, b) in enumerate(zip(reference, result.varbinds, strict=True)) if a != b]
        raise SystemExit(
            f"{name}: varbind counts differ from ours on {len(diffs)} devices, e.g. "
            + ", ".join(f"device #{i}: ours {a}, {name} {b}" for i, a, b in diffs[:5])
        )
    return result.varbinds


def print_table(summaries: list[PollerSummary], devices: list[Device], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    unique = len({d.address for d in devices})
    table = Table(
        title=f"IF-MIB poll: {len(devices)} devices ({unique} agent addresses, source {args.source}), "
        f"{args.repeat} round(s), concurrency {args.concurrency}, "
        + (args.security.describe() if args.security else "SNMPv2c"),
        title_justify="left",
    )
    table.caption = (
        "per device poll; CPU = user+system of the poller's process (median of the rounds, min..max beside it); "
        "kernel = system share of that CPU; agent = CPU of the SNMP agent process during that poller's rounds"
    )
    for header in (
        "poller",
        "CPU ms/poll",
        "min..max",
        "varbinds",
        "requests",
        "retries",
        "kernel",
        "wall s/round",
        "agent ms/poll",
    ):
        table.add_column(header, justify="left" if header == "poller" else "right")
    for summary in summaries:
        per_poll = summary.per_poll()
        rounds = summary.rounds
        polls = sum(r.polls for r in rounds)
        agents = [r.agent_cpu_s / r.polls for r in rounds if r.agent_cpu_s is not None]
        table.add_row(
            summary.label,
            f"{summary.median_per_poll() * 1e3:.3f}",
            f"{min(per_poll) * 1e3:.3f}..{max(per_poll) * 1e3:.3f}",
            f"{sum(sum(r.varbinds) for r in rounds) / polls:.1f}",
            f"{sum(r.requests for r in rounds) / polls:.2f}",
            str(sum(r.retries for r in rounds)),
            f"{sum(r.sys_s for r in rounds) / sum(r.cpu_s for r in rounds):.0%}",
            f"{statistics.median(r.wall_s for r in rounds):.2f}",
            f"{statistics.median(agents) * 1e3:.3f}" if agents else "-",
        )
    Console(width=150).print(table)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/snmp_poll.py",
        description="CPU seconds per IF-MIB device poll: our SNMP client vs pysnmp 7 vs snmp_exporter 0.21 "
        "(GET sysUpTime.0, walk 1.3.6.1.2.1.2 and 1.3.6.1.2.1.31.1.1, v2c or --v3, max-repetitions 25).",
        epilog="Last line: RESULT cpu_per_poll_ratio_vs_snmp_exporter=<ours/exporter> vs_pysnmp=<pysnmp/ours>; "
        "with --v3: RESULT v3_cpu_ratio_vs_snmp_exporter=<ours/exporter> vs_pysnmp=<pysnmp/ours>",
    )
    parser.add_argument("--devices", type=int, default=500, help="devices to poll per round (default 500)")
    parser.add_argument(
        "--source",
        choices=("simulator", "snmpd", "inventory"),
        help="simulator: start `python -m stadtnetz.cli simulate` (the default; with --v3 it gets the user by "
        "--v3-user); snmpd: start net-snmp snmpd on --snmpd-addresses loopback addresses and "
        "spread the devices over them; inventory: devices already served by another process, listed in --inventory",
    )
    parser.add_argument(
        "--v3",
        action="store_true",
        help=f"poll with SNMPv3 authPriv SHA-256/AES-128 (user {V3Security().user}) instead of v2c; the agents "
        "get that user; the last line is then RESULT v3_cpu_ratio_vs_snmp_exporter=... vs_pysnmp=...",
    )
    parser.add_argument(
        "--inventory",
        type=Path,
        help="inventory CSV the simulator writes (default: in a temp dir), or reads with --source inventory",
    )
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds; the median counts (default 5)")
    parser.add_argument("--concurrency", type=int, default=50, help="devices in flight per poller (default 50)")
    parser.add_argument(
        "--warmup", type=int, default=20, help="devices each poller polls unmeasured before the rounds (default 20)"
    )
    parser.add_argument("--snmpd-addresses", type=int, default=100, help="addresses snmpd listens on (default 100)")
    parser.add_argument(
        "--only",
        default="ours,pysnmp,snmp_exporter",
        help="comma-separated pollers to run (default all three; the RESULT line needs all three)",
    )
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds to wait for the simulator")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every round's numbers to FILE")
    parser.add_argument("--keep-workdir", action="store_true", help="keep configs and logs (path is printed)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 20 devices, 5 warm-up polls, one round, all three pollers"
    )
    parser.add_argument("--pysnmp-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.devices, args.warmup, args.repeat = 20, 5, 1
    if args.devices < 1 or args.repeat < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--devices, --repeat and --concurrency must be at least 1, --warmup at least 0")
    args.security = V3Security() if args.v3 else None
    if args.source is None:
        args.source = "simulator"
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - {"ours", "pysnmp", "snmp_exporter"}
    if unknown or not args.only:
        parser.error(f"--only: unknown poller(s) {', '.join(sorted(unknown)) or '(none given)'}")
    return args


def run(args: argparse.Namespace, workdir: Path) -> int:
    source: DeviceSource
    if args.source == "simulator":
        source = SimulatorSource(
            args.devices, args.inventory or workdir / "inventory.csv", workdir, args.ready_timeout, args.security
        )
    elif args.source == "snmpd":
        source = SnmpdSource(args.devices, args.snmpd_addresses, workdir, args.security)
    else:
        if args.inventory is None:
            raise SystemExit("--source inventory needs --inventory FILE")
        source = InventorySource(args.devices, args.inventory)

    makers: dict[str, Callable[[list[Device]], Any]] = {
        "ours": lambda devices: OursPoller(devices, args.concurrency, args.security),
        "pysnmp": lambda devices: PysnmpPoller(devices, args.concurrency, workdir, args.security),
        "snmp_exporter": lambda devices: ExporterPoller(devices, args.concurrency, workdir, args.security),
    }
    pollers: list[Any] = []
    try:
        log(f"starting devices ({args.source}) ...")
        devices = source.start()
        for address in {d.host for d in devices}:
            parse_address(f"{address}:1")  # never anything outside 127.0.0.0/8
        log(f"{len(devices)} devices on {len({d.address for d in devices})} addresses; starting pollers ...")
        for name in ("ours", "pysnmp", "snmp_exporter"):  # ours first: its counts are the reference
            if name in args.only:
                poller = makers[name](devices)
                pollers.append(poller)
                poller.start()
        if args.warmup:
            for poller in pollers:
                check_round(poller.name, poller.poll_round(min(args.warmup, len(devices))), None)
        summaries = [PollerSummary(p.name, p.label) for p in pollers]
        load_before = load_average()
        for round_number in range(1, args.repeat + 1):
            reference: list[int] | None = None
            for poller, summary in zip(pollers, summaries, strict=True):
                result = measured(poller, source)
                counts = check_round(poller.name, result, reference)
                reference = reference or counts
                summary.rounds.append(result)
                log(
                    f"round {round_number}/{args.repeat} {poller.name:>13}: {result.cpu_s:7.3f} s CPU, "
                    f"{result.cpu_s / result.polls * 1e3:7.3f} ms/poll, {result.wall_s:6.2f} s wall, "
                    f"{sum(result.varbinds) / result.polls:.0f} varbinds/poll"
                )
        load_after = load_average()
    finally:
        for poller in reversed(pollers):
            try:
                poller.stop()
            except Exception as exc:  # keep stopping the others and the agents
                log(f"stopping {poller.name}: {exc}")
        source.stop()

    print_table(summaries, devices, args)
    print(f"load average (1/5/15 min) before the rounds: {load_before}; after: {load_after}; cores: {os.cpu_count()}")
    medians = {s.name: s.median_per_poll() for s in summaries}
    for summary in summaries:
        spread = summary.per_poll()
        print(
            f"{summary.name}: {medians[summary.name] * 1e6:.0f} µs CPU per poll "
            f"(rounds: {', '.join(f'{v * 1e6:.0f}' for v in spread)} µs)"
        )
    vs_exporter = vs_pysnmp = None
    if "ours" in medians and "snmp_exporter" in medians:
        vs_exporter = medians["ours"] / medians["snmp_exporter"]
        print(f"ours / snmp_exporter = {vs_exporter:.2f} (below 1: we spend less CPU per poll than the Go exporter)")
    if "ours" in medians and "pysnmp" in medians:
        vs_pysnmp = medians["pysnmp"] / medians["ours"]
        print(f"pysnmp / ours = {vs_pysnmp:.1f} (how many times cheaper our poll is than pysnmp's)")
    if len(medians) == 3:
        best = {s.name: min(s.per_poll()) for s in summaries}
        print(
            f"with each poller's cheapest round instead of the median (less sensitive to neighbours on the machine): "
            f"ours / snmp_exporter = {best['ours'] / best['snmp_exporter']:.2f}, "
            f"pysnmp / ours = {best['pysnmp'] / best['ours']:.1f}"
        )
    if args.json:
        payload = {
            "source": args.source,
            "snmp": args.security.describe() if args.security else "SNMPv2c",
            "devices": len(devices),
            "addresses": len({d.address for d in devices}),
            "concurrency": args.concurrency,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "median_cpu_s_per_poll": medians,
            "ratio_ours_vs_snmp_exporter": vs_exporter,
            "ratio_pysnmp_vs_ours": vs_pysnmp,
            "rounds": {s.name: [asdict(r) | {"varbinds": sum(r.varbinds)} for r in s.rounds] for s in summaries},
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    if vs_exporter is None or vs_pysnmp is None:
        print("RESULT incomplete: run all three pollers for the ratios")
        return 1
    key = "v3_cpu_ratio_vs_snmp_exporter" if args.security else "cpu_per_poll_ratio_vs_snmp_exporter"
    print(f"RESULT {key}={vs_exporter:.3f} vs_pysnmp={vs_pysnmp:.2f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.pysnmp_worker:
        pysnmp_worker()
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench-snmp-poll-"))
    try:
        return run(args, workdir)
    finally:
        if args.keep_workdir:
            log(f"configs and logs kept in {workdir}")
        else:
            for path in sorted(workdir.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            workdir.rmdir()


if __name__ == "__main__":
    sys.exit(main())
