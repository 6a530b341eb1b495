"""A real net-snmp snmpd for tests, started the way ../shared/TESTING.md describes.

Foreground, its own config and persistent directory, no MIB files, bound to a
127.0.0.0/8 address only, stopped by its PID. Read it with :mod:`tests.support.netsnmp`.

SNMPv3: :class:`SnmpdV3User` entries become ``createUser`` and ``rouser`` lines; a fixed
engine ID becomes ``exactEngineID``. :func:`restart_snmpd` stops an agent and starts it again
with the same config, persistent directory and port, so it comes back as a rebooted engine:
same engine ID, ``snmpEngineBoots`` one higher; or with a new engine ID and fresh persistent
state, like a replaced device (``snmpEngineBoots`` 1).

Debian 12's net-snmp 5.9.3 (OpenSSL 3) serves every combination of the project's protocol
names: noAuthNoPriv, authNoPriv with each of md5, sha, sha224, sha256, sha384, sha512, and
authPriv with each of those times des, aes, aes192, aes256, aes192c, aes256c (43 users, each
checked with ``snmpget -v3``). ``snmpget -h`` lists only ``DES|AES|AES-192|AES-256``, but the
agent's createUser and the tools' ``-x`` also take ``AES192C``/``AES256C`` (Reeder key
extension), which differ from ``AES192``/``AES256`` (Blumenthal): the wrong one gets no answer.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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

SNMP_ENGINE_ID_OID = "1.3.6.1.6.3.10.2.1.1.0"
SNMP_ENGINE_BOOTS_OID = "1.3.6.1.6.3.10.2.1.2.0"

# The project's protocol names (collectors.snmp.usm) -> net-snmp's names in createUser and -a/-x.
NETSNMP_AUTH = {
    "md5": "MD5",
    "sha": "SHA",
    "sha224": "SHA-224",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
}
NETSNMP_PRIV = {
    "des": "DES",
    "aes": "AES",
    "aes192": "AES192",  # Blumenthal key extension
    "aes256": "AES256",
    "aes192c": "AES192C",  # Reeder key extension (Cisco)
    "aes256c": "AES256C",
}
AUTH_NAMES = ("none", *NETSNMP_AUTH)
PRIV_NAMES = ("none", *NETSNMP_PRIV)
DEFAULT_ENGINE_ID = bytes.fromhex("80001f8804") + b"stadtnetz"  # net-snmp's enterprise, format 4 (text)


@dataclass(frozen=True)
class SnmpdV3User:
    """One USM user of the agent, with the project's protocol names and passphrases.

    Passphrases must be at least 8 characters (RFC 3414, net-snmp refuses shorter ones) and
    contain no whitespace (they are written unquoted into createUser lines).
    """

    name: str
    auth: str = "none"
    auth_pass: str | None = None
    priv: str = "none"
    priv_pass: str | None = None

    def __post_init__(self) -> None:
        if not self.name or any(ch.isspace() for ch in self.name):
            raise ValueError(f"user name {self.name!r} must be non-empty without whitespace")
        if self.auth not in AUTH_NAMES:
            raise ValueError(f"auth protocol {self.auth!r} is not one of {AUTH_NAMES}")
        if self.priv not in PRIV_NAMES:
            raise ValueError(f"priv protocol {self.priv!r} is not one of {PRIV_NAMES}")
        if self.priv != "none" and self.auth == "none":
            raise ValueError(f"user {self.name}: privacy needs authentication")
        for protocol, passphrase in ((self.auth, self.auth_pass), (self.priv, self.priv_pass)):
            if protocol == "none":
                continue
            if passphrase is None or len(passphrase) < 8 or any(ch.isspace() for ch in passphrase):
                raise ValueError(f"user {self.name}: {protocol} needs a passphrase of 8+ characters, no whitespace")

    @property
    def security_level(self) -> str:
        if self.priv != "none":
            return "authPriv"
        return "authNoPriv" if self.auth != "none" else "noAuthNoPriv"

    def create_user_line(self) -> str:
        words = ["createUser", self.name]
        if self.auth != "none":
            words += [NETSNMP_AUTH[self.auth], str(self.auth_pass)]
            if self.priv != "none":
                words += [NETSNMP_PRIV[self.priv], str(self.priv_pass)]
        return " ".join(words) + "\n"

    def rouser_line(self) -> str:
        level = {"noAuthNoPriv": "noauth", "authNoPriv": "auth", "authPriv": "priv"}[self.security_level]
        return f"rouser {self.name} {level}\n"

    def tool_args(self) -> list[str]:
        """net-snmp command-line options (``snmpget -v3 ...``) that speak as this user."""
        args = ["-v3", "-l", self.security_level, "-u", self.name]
        if self.auth != "none":
            args += ["-a", NETSNMP_AUTH[self.auth], "-A", str(self.auth_pass)]
        if self.priv != "none":
            args += ["-x", NETSNMP_PRIV[self.priv], "-X", str(self.priv_pass)]
        return args


@dataclass(frozen=True)
class SnmpdInstance:
    """A running snmpd and everything needed to talk to it or restart it."""

    daemon: Daemon
    host: str
    port: int
    community: str
    engine_id: bytes  # as the agent reports it in snmpEngineID.0
    persistent_dir: Path
    run_dir: Path
    extra_hosts: tuple[str, ...] = ()
    users: tuple[SnmpdV3User, ...] = ()
    exact_engine_id: bytes | None = None  # what the config asks for; None: snmpd chooses
    restarts: int = field(default=0)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        self.daemon.stop()


def _tool_env(run_dir: Path | None = None) -> dict[str, str]:
    env = {**os.environ, **TOOL_ENV}
    if run_dir is not None:  # the tools' own persistent files (engine IDs seen) stay out of /var/lib/snmp
        env["SNMP_PERSISTENT_DIR"] = str(run_dir / "tool-persist")
    return env


def _snmpget_v2c(host: str, port: int, community: str, oid: str, *options: str) -> str | None:
    try:
        result = subprocess.run(
            ["snmpget", "-v2c", "-c", community, "-On", *options, "-t", "0.3", "-r", "0", f"{host}:{port}", oid],
            capture_output=True,
            text=True,
            timeout=5,
            env=_tool_env(),
        )
    except subprocess.TimeoutExpired:
        return None
    return result.stdout if result.returncode == 0 else None


def _snmpd_ready(host: str, port: int, community: str) -> bool:
    answer = _snmpget_v2c(host, port, community, "1.3.6.1.2.1.1.5.0")
    return answer is not None and SNMPD_SYSNAME in answer


def _engine_id(host: str, port: int, community: str) -> bytes:
    answer = _snmpget_v2c(host, port, community, SNMP_ENGINE_ID_OID, "-Ox")
    if answer is None or "Hex-STRING:" not in answer:
        raise RuntimeError(f"snmpd on {host}:{port} did not report its snmpEngineID: {answer!r}")
    return bytes.fromhex(answer.split("Hex-STRING:", 1)[1])


def _write_config(
    path: Path,
    hosts: Sequence[str],
    port: int,
    community: str,
    users: Sequence[SnmpdV3User],
    exact_engine_id: bytes | None,
) -> None:
    text = "".join(f"agentAddress udp:{h}:{port}\n" for h in hosts) + f"rocommunity {community} 127.0.0.0/8\n"
    text += f"sysName {SNMPD_SYSNAME}\nsysLocation {SNMPD_SYSLOCATION}\nsysContact {SNMPD_SYSCONTACT}\n"
    text += "dontLogTCPWrappersConnects yes\n"
    if exact_engine_id is not None:
        text += f"exactEngineID 0x{exact_engine_id.hex()}\n"
    text += "".join(user.create_user_line() + user.rouser_line() for user in users)
    path.write_text(text)
    path.chmod(0o600)  # passphrases


def _launch(
    run_dir: Path,
    host: str,
    port: int,
    community: str,
    extra_hosts: Sequence[str],
    users: Sequence[SnmpdV3User],
    exact_engine_id: bytes | None,
    persistent_dir: Path,
) -> SnmpdInstance:
    """Write the config, start snmpd in ``run_dir`` and wait until it answers; raise if it does not."""
    hosts = [host, *extra_hosts]
    conf = run_dir / "snmpd.conf"
    _write_config(conf, hosts, port, community, users, exact_engine_id)
    # -C keeps snmpd away from /etc/snmp, but also from its persistent file: without reading it,
    # snmpEngineBoots would be 1 after every start. Pass it explicitly once it exists (a restart).
    config_files = [str(conf)]
    if (persistent_dir / "snmpd.conf").exists():
        config_files.append(str(persistent_dir / "snmpd.conf"))
    daemon = Daemon(
        [
            "snmpd",
            "-f",
            "-Lo",
            "-C",
            "-c",
            ",".join(config_files),
            "-p",
            str(run_dir / "snmpd.pid"),
            "-I",
            "-smux,mteTrigger,mteTriggerConf",
        ],
        run_dir / "snmpd.log",
        env={"MIBS": "", "SNMP_PERSISTENT_DIR": str(persistent_dir)},
    )

    def ready() -> bool:
        return all(udp_port_bound(h, port) for h in hosts) and _snmpd_ready(host, port, community)

    try:
        daemon.wait_ready(ready, 15.0, f"snmpd on {len(hosts)} address(es)")
        engine_id = _engine_id(host, port, community)
    except (RuntimeError, TimeoutError):
        daemon.stop()
        raise
    return SnmpdInstance(
        daemon=daemon,
        host=host,
        port=port,
        community=community,
        engine_id=engine_id,
        persistent_dir=persistent_dir,
        run_dir=run_dir,
        extra_hosts=tuple(extra_hosts),
        users=tuple(users),
        exact_engine_id=exact_engine_id,
    )


def launch_snmpd(
    directory: Path,
    host: str = SNMPD_HOST,
    community: str = SNMPD_COMMUNITY,
    extra_hosts: Sequence[str] = (),
    users: Sequence[SnmpdV3User] = (),
    engine_id: bytes | None = None,
) -> SnmpdInstance:
    """Start snmpd on a free UDP port of ``host`` (and the same port of ``extra_hosts``) with the
    v2c ``community`` and the SNMPv3 ``users``; ``engine_id`` fixes its snmpEngineID
    (``exactEngineID``), None lets snmpd choose. One snmpd binds at most ~127 addresses.

    A port taken between choosing and binding makes snmpd exit; then another port is tried.
    """
    if len(extra_hosts) + 1 > 120:
        raise ValueError("one snmpd binds at most ~127 addresses; start several for more")
    names = [user.name for user in users]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate SNMPv3 user names: {names}")
    last_error: Exception | None = None
    for attempt in range(3):
        port = free_port(host, socket.SOCK_DGRAM)
        run_dir = directory / f"run{attempt}"
        run_dir.mkdir(parents=True)
        try:
            return _launch(run_dir, host, port, community, extra_hosts, users, engine_id, run_dir / "persist")
        except (RuntimeError, TimeoutError) as exc:
            last_error = exc
    raise RuntimeError(f"snmpd did not start on {host}: {last_error}")


def restart_snmpd(
    instance: SnmpdInstance, engine_id: bytes | None = None, keep_persistent: bool | None = None
) -> SnmpdInstance:
    """Stop ``instance`` and start the same agent again: same config and port.

    With the same engine ID it keeps its persistent directory and comes back as a rebooted
    engine (snmpEngineBoots one higher, snmpEngineTime from 0). ``engine_id`` gives it a new
    exactEngineID: by default with a fresh persistent directory, like a replaced device (boots 1,
    users only for the new engine). ``keep_persistent=True`` keeps the old one instead; then
    net-snmp 5.9.3 still holds each user localized to the OLD engine ID (its persisted usmUser
    rows) and answers requests addressed to the old engine ID as before, with no
    unknownEngineID Report. Returns the new instance; the old one is stopped.
    """
    instance.stop()
    new_engine_id = instance.exact_engine_id if engine_id is None else engine_id
    if keep_persistent is None:
        keep_persistent = new_engine_id == instance.exact_engine_id
    persistent_dir = instance.persistent_dir
    if not keep_persistent:
        persistent_dir = instance.run_dir / f"persist-{instance.restarts + 1}"
    started = _launch(
        instance.run_dir,
        instance.host,
        instance.port,
        instance.community,
        instance.extra_hosts,
        instance.users,
        new_engine_id,
        persistent_dir,
    )
    return replace(started, restarts=instance.restarts + 1)


def start_snmpd(
    directory: Path,
    host: str = SNMPD_HOST,
    community: str = SNMPD_COMMUNITY,
    extra_hosts: Sequence[str] = (),
    users: Sequence[SnmpdV3User] = (),
) -> tuple[Daemon, int]:
    """Start snmpd on a free UDP port of ``host`` (and the same port of ``extra_hosts``), with SNMPv3 ``users``;
    return the ready daemon and its port. :func:`launch_snmpd` does the work (and tells more).
    """
    instance = launch_snmpd(directory, host, community, extra_hosts, users)
    return instance.daemon, instance.port


def snmp_tool_v3(
    tool: str, instance: SnmpdInstance, user: SnmpdV3User, oids: Sequence[str], *extra: str, timeout: float = 2.0
) -> subprocess.CompletedProcess[str]:
    """Run a net-snmp tool (``snmpget``, ``snmpbulkwalk``...) as ``user`` against ``instance``, numeric output."""
    argv = [tool, *user.tool_args(), *OUTPUT_OPTIONS, "-t", str(timeout), "-r", "0", *extra, instance.address]
    return subprocess.run([*argv, *oids], capture_output=True, text=True, timeout=30, env=_tool_env(instance.run_dir))
