"""The simulated city over SNMPv3: net-snmp's snmpget/snmpbulkwalk and our client against its USM engines.

One simulated city knows one user per authentication x privacy combination
net-snmp offers. net-snmp's tools are the independent reference: they must read
the same system group over v3 as over v2c, for every combination. Then our
client: a full IF-MIB walk over v3 equals the v2c walk, every refusal is the
Report a real agent sends (counted by kind in the client's statistics) and the
next request with the right user works, and a reboot of a device (new
engineBoots, engineTime from zero) costs one notInTimeWindow Report, then polls
go on. Last, `stadtnetz poll` reads a device over v3 from a configuration whose
keys are references, and a wrong key is named in its error, never shown.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.snmp.client import SnmpClient, SnmpResponseError, SnmpUsmError, Target
from collectors.snmp.codec import ErrorStatus
from collectors.snmp.oid import format_oid
from collectors.snmp.types import Oid
from collectors.snmp.usm import AUTH_PROTOCOLS, PRIV_PROTOCOLS, UsmUser
from tests.support.netsnmp import OUTPUT_OPTIONS, TOOL_ENV, parse_output, run_tool
from tests.support.simulation import ThreadedSimulation

AUTH_KEY = b"auth-passphrase-sim"
PRIV_KEY = b"priv-passphrase-sim"
SYSTEM: Oid = (1, 3, 6, 1, 2, 1, 1)
SYS_NAME: Oid = (1, 3, 6, 1, 2, 1, 1, 5, 0)
SYS_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 1, 3, 0)
INTERFACES: Oid = (1, 3, 6, 1, 2, 1, 2)
IFX_TABLE: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1)
DEVICE = "dist-001"

NET_SNMP_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
                 "sha512": "SHA-512"}
NET_SNMP_PRIV = {"des": "DES", "aes": "AES", "aes192": "AES192", "aes256": "AES256", "aes192c": "AES192C",
                 "aes256c": "AES256C"}


def combinations() -> list[tuple[str, str]]:
    """(auth, priv) for noAuthNoPriv, every authNoPriv and every authPriv pair."""
    auths = [a for a in AUTH_PROTOCOLS if a != "none"]
    privs = [p for p in PRIV_PROTOCOLS if p != "none"]
    return [("none", "none")] + [(a, "none") for a in auths] + [(a, p) for a in auths for p in privs]


def user_for(auth: str, priv: str, auth_key: bytes = AUTH_KEY, priv_key: bytes = PRIV_KEY) -> UsmUser:
    return UsmUser(
        f"u-{auth}-{priv}".encode(),
        auth,
        auth_key if auth != "none" else None,
        priv,
        priv_key if priv != "none" else None,
    )


USERS = [user_for(auth, priv) for auth, priv in combinations()]
ROUSER_PRIV = USERS[-1]  # an authPriv user, for the security-level case


@pytest.fixture(scope="module")
def city() -> Iterator[ThreadedSimulation]:
    with ThreadedSimulation(devices=12, seed=11, v3_users=USERS) as sim:
        yield sim


def net_snmp_v3(tool: str, user: UsmUser, endpoint: str, oid: Oid) -> subprocess.CompletedProcess[str]:
    argv = [tool, "-v3", "-u", user.name.decode(), *OUTPUT_OPTIONS, "-t", "2", "-r", "1"]
    if user.authenticated:
        argv += ["-a", NET_SNMP_AUTH[user.auth_protocol], "-A", (user.auth_key or b"").decode()]
    if user.private:
        argv += ["-x", NET_SNMP_PRIV[user.priv_protocol], "-X", (user.priv_key or b"").decode()]
    argv += ["-l", user.security_level, endpoint, format_oid(oid)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env={**os.environ, **TOOL_ENV})


@pytest.mark.parametrize("user", USERS, ids=lambda user: user.name.decode())
def test_net_snmp_tools_read_the_simulator_over_v3(city: ThreadedSimulation, user: UsmUser) -> None:
    host, port = city.address(DEVICE), city.port
    endpoint = f"{host}:{port}"
    got = net_snmp_v3("snmpget", user, endpoint, SYS_NAME)
    assert got.returncode == 0, got.stderr
    walked = net_snmp_v3("snmpbulkwalk", user, endpoint, SYSTEM)
    assert walked.returncode == 0, walked.stderr
    reference = run_tool("snmpbulkwalk", "2c", host, port, "public", [SYSTEM])
    assert parse_output(got.stdout) == [(SYS_NAME, dict(reference)[SYS_NAME])]
    v3_rows = [(oid, value) for oid, value in parse_output(walked.stdout) if oid != SYS_UPTIME]
    assert v3_rows == [(oid, value) for oid, value in reference if oid != SYS_UPTIME]
    assert len(v3_rows) >= 6


def _counters_free(rows: list) -> list:
    """The walk without values that move between two walks (counters, uptime, rates): OIDs and types only."""
    return [(oid, type(value).__name__) for oid, value in rows]


@pytest.mark.parametrize("user", USERS, ids=lambda user: user.name.decode())
def test_our_client_walks_the_if_mib_over_v3_as_over_v2c(city: ThreadedSimulation, user: UsmUser) -> None:
    host, port = city.address(DEVICE), city.port

    async def walk() -> tuple[dict, dict, SnmpClient]:
        async with SnmpClient() as client:
            v3 = await client.walk(Target(host, port, version=3, usm=user), [INTERFACES, IFX_TABLE])
            v2 = await client.walk(Target(host, port), [INTERFACES, IFX_TABLE])
            return v3, v2, client

    v3, v2, client = asyncio.run(walk())
    for root in (INTERFACES, IFX_TABLE):
        assert len(v3[root]) > 20
        assert _counters_free(v3[root]) == _counters_free(v2[root])
    names = {oid: value for oid, value in v3[IFX_TABLE] if oid[:11] == (*IFX_TABLE, 1, 1)}  # ifName
    assert names == {oid: value for oid, value in v2[IFX_TABLE] if oid[:11] == (*IFX_TABLE, 1, 1)}
    assert client.stats.discoveries == 1 and client.stats.reports == {} and client.stats.unauthentic == 0


def test_refusals_are_counted_by_kind_and_the_right_user_then_works(city: ThreadedSimulation) -> None:
    host, port = city.address(DEVICE), city.port
    good = user_for("sha256", "aes")
    cases = [
        (user_for("sha256", "aes", auth_key=b"wrong-auth-passphrase"), "wrongDigest"),
        (user_for("sha256", "aes", priv_key=b"wrong-priv-passphrase"), "decryptionError"),
        (UsmUser(b"nobody", "sha256", AUTH_KEY, "aes", PRIV_KEY), "unknownUserName"),
    ]

    async def run() -> SnmpClient:
        async with SnmpClient() as client:
            for bad, kind in cases:
                with pytest.raises(SnmpUsmError) as refused:
                    await client.get(Target(host, port, version=3, usm=bad, timeout=0.5, retries=0), [SYS_NAME])
                assert refused.value.kind == kind
                assert client.stats.reports.get(kind) == 1
                for secret in (AUTH_KEY, PRIV_KEY, b"wrong-auth-passphrase", b"wrong-priv-passphrase"):
                    assert secret.decode() not in str(refused.value)
                answer = await client.get(Target(host, port, version=3, usm=good), [SYS_NAME])
                assert answer[0][1].endswith(b".musterstadt.example")
            # an authPriv user asking at authNoPriv: USM lets it through, access control does not
            lower = UsmUser(ROUSER_PRIV.name, ROUSER_PRIV.auth_protocol, ROUSER_PRIV.auth_key)
            with pytest.raises(SnmpResponseError) as denied:
                await client.get(Target(host, port, version=3, usm=lower), [SYS_NAME])
            assert denied.value.status == ErrorStatus.AUTHORIZATION_ERROR
            return client

    client = asyncio.run(run())
    assert sum(client.stats.reports.values()) == 3
    assert client.stats.discoveries == 1  # one engine, learnt once, whatever the user


def test_a_rebooted_device_costs_one_not_in_time_window_report(city: ThreadedSimulation) -> None:
    device = next(spec.id for spec in city.simulation.city.devices if spec.kind == "hotspot")
    host, port = city.address(device), city.port
    target = Target(host, port, version=3, usm=user_for("sha512", "aes256c"))

    async def run() -> SnmpClient:
        async with SnmpClient() as client:
            before = await client.get(target, [SYS_UPTIME])
            boots = client.usm.engines[target.address].boots
            city.call(city.simulation.faults.reboot, device)
            after = await client.get(target, [SYS_UPTIME])
            assert after[0][1] < before[0][1]  # sysUpTime started again
            assert client.usm.engines[target.address].boots == boots + 1
            await client.get(target, [SYS_UPTIME])  # and the next request needs no resynchronisation
            return client

    client = asyncio.run(run())
    assert client.stats.reports == {"notInTimeWindow": 1}
    assert client.stats.discoveries == 1


def test_stadtnetz_poll_reads_a_device_over_v3(city: ThreadedSimulation, tmp_path: Path) -> None:
    config = tmp_path / "city.yaml"
    config.write_text(
        "credentials:\n"
        "  noc:\n"
        '    version: "3"\n'
        "    user: u-sha256-aes\n"
        "    auth_protocol: sha256\n"
        "    auth_key: ${SIM_AUTH}\n"
        "    priv_protocol: aes\n"
        "    priv_key: file:priv.key\n"
        "devices:\n"
        f"  - id: {DEVICE}\n"
        "    kind: distribution_switch\n"
        f"    address: {city.address(DEVICE)}:{city.port}\n"
        "    credentials: noc\n"
        "    profiles: [system, interfaces]\n"
    )
    (tmp_path / "priv.key").write_bytes(PRIV_KEY + b"\n")

    def poll(auth_key: bytes) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stadtnetz.cli", "poll", "-c", str(config), DEVICE],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "SIM_AUTH": auth_key.decode(), "COLUMNS": "200"},
        )

    good = poll(AUTH_KEY)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "stadtnetz_interface_receive_bytes_total" in good.stdout and "stadtnetz_device_info" in good.stdout
    bad = poll(b"not-the-auth-passphrase")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    said = bad.stdout + bad.stderr
    assert "wrongDigest" in said and "u-sha256-aes" in said and "wrong authentication key" in said
    assert "not-the-auth-passphrase" not in said and PRIV_KEY.decode() not in said
