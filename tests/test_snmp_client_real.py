"""The SNMP client against a real net-snmp snmpd, with net-snmp's own tools as the reference.

snmpd serves this machine's real interfaces, so counters move while a test runs: every
comparison samples net-snmp's tool before and after our client and requires counters (and
sysUpTime) to lie between the two samples, everything else to be equal. If the interface table
itself changed between the two samples (someone added an interface), the sample is taken again.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from collectors.snmp.client import SnmpClient, SnmpTimeoutError, Target
from collectors.snmp.codec import Version
from collectors.snmp.oid import format_oid
from collectors.snmp.types import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    Counter32,
    Counter64,
    ExceptionValue,
    Gauge32,
    IpAddress,
    Oid,
    TimeTicks,
    Value,
    VarBind,
)
from tests.support.netsnmp import parse_output, run_tool
from tests.support.real_snmpd import SNMPD_SYSCONTACT, SNMPD_SYSLOCATION, SNMPD_SYSNAME

SYSTEM: Oid = (1, 3, 6, 1, 2, 1, 1)
SYS_DESCR = (*SYSTEM, 1, 0)
SYS_OBJECT_ID = (*SYSTEM, 2, 0)
SYS_UPTIME = (*SYSTEM, 3, 0)
SYS_CONTACT = (*SYSTEM, 4, 0)
SYS_NAME = (*SYSTEM, 5, 0)
SYS_LOCATION = (*SYSTEM, 6, 0)
INTERFACES: Oid = (1, 3, 6, 1, 2, 1, 2)  # ifNumber and ifTable
IF_ENTRY: Oid = (*INTERFACES, 2, 1)
IFX_ENTRY: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
IFX_TABLE: Oid = IFX_ENTRY[:-1]
NET_SNMP_AGENT: Oid = (1, 3, 6, 1, 4, 1, 8072)

# IF-MIB (RFC 2863) column -> the SNMP type the agent must send; independent of net-snmp's output.
IF_ENTRY_TYPES: dict[int, type] = {
    1: int,  # ifIndex
    2: bytes,  # ifDescr
    3: int,  # ifType
    4: int,  # ifMtu
    5: Gauge32,  # ifSpeed
    6: bytes,  # ifPhysAddress
    7: int,  # ifAdminStatus
    8: int,  # ifOperStatus
    9: TimeTicks,  # ifLastChange
    **dict.fromkeys(range(10, 21), Counter32),  # ifInOctets .. ifOutErrors
    21: Gauge32,  # ifOutQLen
    22: tuple,  # ifSpecific
}
IFX_ENTRY_TYPES: dict[int, type] = {
    1: bytes,  # ifName
    **dict.fromkeys(range(2, 6), Counter32),  # ifInMulticastPkts .. ifOutBroadcastPkts
    **dict.fromkeys(range(6, 14), Counter64),  # ifHCInOctets .. ifHCOutBroadcastPkts
    14: int,  # ifLinkUpDownTrapEnable
    15: Gauge32,  # ifHighSpeed
    16: int,  # ifPromiscuousMode
    17: int,  # ifConnectorPresent
    18: bytes,  # ifAlias
    19: TimeTicks,  # ifCounterDiscontinuityTime
}
HC_COLUMNS = range(6, 14)

VERSIONS = {"v1": (Version.V1, "1"), "v2c": (Version.V2C, "2c")}


def make_target(real_snmpd: tuple[str, int, str], version: int, **options: object) -> Target:
    host, port, community = real_snmpd
    return Target(host, port, community=community.encode(), version=version, **options)  # type: ignore[arg-type]


def moving(oid: Oid, value: Value) -> bool:
    """Values that legitimately change between two samples of a live agent."""
    return isinstance(value, Counter32 | Counter64) or oid == SYS_UPTIME


def static_view(varbinds: Sequence[VarBind]) -> list[tuple[Oid, type, Value]]:
    return [(oid, type(value), None if moving(oid, value) else value) for oid, value in varbinds]


def sample(
    reference: Callable[[], list[VarBind]], ours: Callable[[], list[VarBind]]
) -> tuple[list[VarBind], list[VarBind], list[VarBind]]:
    """(reference before, our client's answer, reference after) from a moment the agent's tables stood still."""
    for _ in range(3):
        before = reference()
        answer = ours()
        after = reference()
        if static_view(before) == static_view(after):
            return before, answer, after
    raise AssertionError("snmpd's tables kept changing between two reference samples")


def assert_matches_reference(answer: Sequence[VarBind], before: Sequence[VarBind], after: Sequence[VarBind]) -> None:
    """Same OIDs in the same order, same value types, equal static values, moving values in between."""
    assert [format_oid(oid) for oid, _ in answer] == [format_oid(oid) for oid, _ in before]
    for (oid, value), (_, low), (_, high) in zip(answer, before, after, strict=True):
        where = format_oid(oid)
        assert type(value) is type(low), f"{where}: {value!r} is not typed like net-snmp's {low!r}"
        if moving(oid, low):
            modulus = 2**64 if isinstance(low, Counter64) else 2**32
            assert (value - low) % modulus <= (high - low) % modulus, f"{where}: {value} not within [{low}, {high}]"
        else:
            assert value == low, f"{where}: client {value!r} != net-snmp {low!r}"


def column_of(entry: Oid, oid: Oid) -> int:
    assert oid[: len(entry)] == entry
    return oid[len(entry)]


async def client_get(target: Target, oids: Sequence[Oid]) -> tuple[list[VarBind], SnmpClient]:
    async with SnmpClient() as client:
        return await client.get(target, oids), client


async def client_walk(target: Target, roots: Sequence[Oid]) -> dict[Oid, list[VarBind]]:
    async with SnmpClient() as client:
        return await client.walk(target, roots)


# --------------------------------------------------------------------------- the reference parser


def test_netsnmp_output_parser_reads_every_type_the_tests_meet() -> None:
    text = (
        '.1.3.6.1.2.1.1.5.0 = STRING: "a \\"quoted\\": name"\n'
        ".1.3.6.1.2.1.1.1.0 = Hex-STRING: 4C 69 6E 75 78 20 76 6D 20 36 2E 31 38 2E 34 34 \n"
        "2D 66 63 \n"
        '.1.3.6.1.2.1.2.2.1.6.1 = ""\n'
        ".1.3.6.1.2.1.2.2.1.9.1 = 0\n"
        ".1.3.6.1.2.1.1.3.0 = Timeticks: (4711) 0:00:47.11\n"
        ".1.3.6.1.2.1.2.2.1.7.1 = INTEGER: up(1)\n"
        ".1.3.6.1.2.1.2.2.1.3.1 = INTEGER: -24\n"
        ".1.3.6.1.2.1.2.2.1.22.1 = OID: .0.0\n"
        ".1.3.6.1.2.1.4.20.1.1.127.0.0.1 = IpAddress: 127.0.0.1\n"
        ".1.3.6.1.2.1.2.2.1.10.1 = Counter32: 4294967295\n"
        ".1.3.6.1.2.1.2.2.1.5.1 = Gauge32: 10000000\n"
        ".1.3.6.1.2.1.31.1.1.1.6.1 = Counter64: 18446744073709551615\n"
        ".1.3.6.1.2.1.1.99.0 = No Such Object available on this agent at this OID\n"
        ".1.3.6.1.2.1.1.5.1 = No Such Instance currently exists at this OID\n"
        ".1.3.6.1.9 = No more variables left in this MIB View (It is past the end of the MIB tree)\n"
        "End of MIB\n"
    )
    parsed = parse_output(text)
    values = [value for _, value in parsed]
    assert [format_oid(oid) for oid, _ in parsed][:2] == ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.1.0"]
    assert values[0] == b'a "quoted": name'
    assert values[1] == b"Linux vm 6.18.44-fc"
    assert values[2] == b""
    assert values[3] == TimeTicks(0) and type(values[3]) is TimeTicks
    assert values[4] == 4711 and type(values[4]) is TimeTicks
    assert values[5:7] == [1, -24]
    assert values[7] == (0, 0)
    assert values[8] == IpAddress(b"\x7f\x00\x00\x01") and type(values[8]) is IpAddress
    assert type(values[9]) is Counter32 and values[9] == 2**32 - 1
    assert type(values[10]) is Gauge32
    assert type(values[11]) is Counter64 and values[11] == 2**64 - 1
    assert values[12:] == [NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW]
    assert len(parsed) == 15


# --------------------------------------------------------------------------- system group


@pytest.mark.parametrize("version_name", VERSIONS)
def test_client_reads_system_values_like_snmpget(real_snmpd: tuple[str, int, str], version_name: str) -> None:
    version, tool_version = VERSIONS[version_name]
    host, port, community = real_snmpd
    oids = [SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME, SYS_CONTACT, SYS_LOCATION]
    target = make_target(real_snmpd, version)

    before, answer, after = sample(
        lambda: run_tool("snmpget", tool_version, host, port, community, oids),
        lambda: asyncio.run(client_get(target, oids))[0],
    )

    assert_matches_reference(answer, before, after)
    values = dict(answer)
    uname = os.uname()  # net-snmp's sysDescr on Linux is `uname -snrvm`
    expected_descr = " ".join((uname.sysname, uname.nodename, uname.release, uname.version, uname.machine))
    assert type(values[SYS_DESCR]) is bytes and values[SYS_DESCR] == expected_descr.encode()
    assert type(values[SYS_OBJECT_ID]) is tuple and values[SYS_OBJECT_ID][: len(NET_SNMP_AGENT)] == NET_SNMP_AGENT
    assert type(values[SYS_UPTIME]) is TimeTicks and values[SYS_UPTIME] > 0
    assert values[SYS_NAME] == SNMPD_SYSNAME.encode()
    assert values[SYS_CONTACT] == SNMPD_SYSCONTACT.encode()
    assert values[SYS_LOCATION] == SNMPD_SYSLOCATION.encode()


# --------------------------------------------------------------------------- IF-MIB walks


def assert_if_mib_types(varbinds: Sequence[VarBind]) -> None:
    for oid, value in varbinds:
        for entry, types in ((IF_ENTRY, IF_ENTRY_TYPES), (IFX_ENTRY, IFX_ENTRY_TYPES)):
            if oid[: len(entry)] == entry:
                expected = types[column_of(entry, oid)]
                assert type(value) is expected, f"{format_oid(oid)}: {value!r} should be a {expected.__name__}"


def test_v2c_walk_of_if_mib_equals_snmpbulkwalk(real_snmpd: tuple[str, int, str]) -> None:
    host, port, community = real_snmpd
    target = make_target(real_snmpd, Version.V2C)
    roots = [INTERFACES, IFX_TABLE]

    def reference() -> list[VarBind]:
        return [vb for root in roots for vb in run_tool("snmpbulkwalk", "2c", host, port, community, [root])]

    def ours() -> list[VarBind]:
        walked = asyncio.run(client_walk(target, roots))
        assert list(walked) == roots
        return walked[INTERFACES] + walked[IFX_TABLE]

    before, answer, after = sample(reference, ours)

    assert_matches_reference(answer, before, after)
    assert_if_mib_types(answer)
    values = dict(answer)
    if_indexes = [value for oid, value in answer if oid[: len(IF_ENTRY) + 1] == (*IF_ENTRY, 1)]
    assert values[(*INTERFACES, 1, 0)] == len(if_indexes) >= 1  # ifNumber
    for if_index in if_indexes:  # the columns a collector relies on exist for every interface
        for column in (2, 3, 4, 5, 6, 10, 16):
            assert (*IF_ENTRY, column, if_index) in values, f"ifTable column {column} missing for ifIndex {if_index}"
        for column in (1, 6, 10, 15):
            assert (*IFX_ENTRY, column, if_index) in values, f"ifXTable column {column} missing for ifIndex {if_index}"
    # The loopback interface, checked against the kernel rather than net-snmp.
    lo = socket.if_nametoindex("lo")
    assert values[(*IF_ENTRY, 1, lo)] == lo
    assert values[(*IF_ENTRY, 2, lo)] == b"lo"
    assert values[(*IF_ENTRY, 3, lo)] == 24  # softwareLoopback
    assert values[(*IF_ENTRY, 4, lo)] == int(Path("/sys/class/net/lo/mtu").read_text())
    assert values[(*IFX_ENTRY, 1, lo)] == b"lo"


def test_v1_walk_of_if_mib_equals_snmpwalk_and_has_no_counter64(real_snmpd: tuple[str, int, str]) -> None:
    host, port, community = real_snmpd
    target = make_target(real_snmpd, Version.V1)
    roots = [INTERFACES, IFX_TABLE]

    def reference() -> list[VarBind]:
        return [vb for root in roots for vb in run_tool("snmpwalk", "1", host, port, community, [root])]

    def ours() -> list[VarBind]:
        walked = asyncio.run(client_walk(target, roots))
        return walked[INTERFACES] + walked[IFX_TABLE]

    before, answer, after = sample(reference, ours)

    assert_matches_reference(answer, before, after)
    assert_if_mib_types(answer)
    assert not [oid for oid, value in answer if isinstance(value, Counter64)]
    ifx_columns = {column_of(IFX_ENTRY, oid) for oid, _ in answer if oid[: len(IFX_ENTRY)] == IFX_ENTRY}
    assert 1 in ifx_columns and 15 in ifx_columns  # ifName, ifHighSpeed are there ...
    assert not ifx_columns & set(HC_COLUMNS)  # ... the Counter64 columns cannot be carried by v1

    # Everything v1 walks is exactly what v2c walks minus the Counter64 columns.
    v2c = asyncio.run(client_walk(make_target(real_snmpd, Version.V2C), roots))
    v2c_oids = [oid for root in roots for oid, value in v2c[root] if not isinstance(value, Counter64)]
    assert [oid for oid, _ in answer] == v2c_oids


# --------------------------------------------------------------------------- GET of many OIDs

MISSING: dict[Oid, ExceptionValue] = {
    (*SYSTEM, 99, 0): NO_SUCH_OBJECT,  # no such object in the system group
    (*SYSTEM, 5, 1): NO_SUCH_INSTANCE,  # sysName exists, instance .1 does not
    (*IF_ENTRY, 1, 99999): NO_SUCH_INSTANCE,  # no interface 99999
    (1, 3, 6, 1, 4, 1, 99999, 1, 0): NO_SUCH_OBJECT,  # an enterprise nobody implements
}


def with_missing(varbinds: list[VarBind]) -> list[VarBind]:
    """Insert the MISSING OIDs at the start, across the first chunk boundary (60) and at the end."""
    result = list(varbinds)
    missing = list(MISSING.items())
    result.insert(0, missing[0])
    result.insert(59, missing[1])
    result.insert(61, missing[2])
    result.append(missing[3])
    return result


@pytest.mark.parametrize("version_name", VERSIONS)
def test_get_of_many_oids_returns_one_varbind_per_oid_in_order(
    real_snmpd: tuple[str, int, str], version_name: str
) -> None:
    version, _ = VERSIONS[version_name]
    host, port, community = real_snmpd
    target = make_target(real_snmpd, version)
    clients: list[SnmpClient] = []
    walks: list[list[VarBind]] = []

    def reference() -> list[VarBind]:
        # snmpget takes at most 128 OIDs: net-snmp's walk of the same subtrees is the reference
        walked = [
            vb
            for root in (SYSTEM, INTERFACES, IFX_TABLE)
            for vb in run_tool("snmpbulkwalk", "2c", host, port, community, [root])
        ]
        walks.append(walked)
        expected = with_missing(walked)
        if version == Version.V1:  # v1 says noSuchName for missing OIDs and for Counter64 values
            expected = [
                (oid, NO_SUCH_OBJECT if isinstance(value, ExceptionValue | Counter64) else value)
                for oid, value in expected
            ]
        return expected

    def ours() -> list[VarBind]:
        answer, client = asyncio.run(client_get(target, [oid for oid, _ in with_missing(walks[-1])]))
        clients.append(client)
        return answer

    before, answer, after = sample(reference, ours)

    assert_matches_reference(answer, before, after)
    oids = [oid for oid, _ in answer]
    assert len(oids) > 100
    stats = clients[-1].stats
    chunks = math.ceil(len(oids) / target.max_oids_per_request)
    assert stats.timeouts == stats.too_big == stats.malformed == stats.unmatched == 0
    if version == Version.V2C:
        assert [answer[oids.index(oid)][1] for oid in MISSING] == list(MISSING.values())
        assert stats.requests == chunks
    else:
        assert [answer[oids.index(oid)][1] for oid in MISSING] == [NO_SUCH_OBJECT] * len(MISSING)
        counter64 = sum(isinstance(value, Counter64) for _, value in walks[-1])
        assert counter64 > 0
        # each noSuchName costs one more request for the rest of its chunk
        assert chunks < stats.requests <= chunks + len(MISSING) + counter64
        assert dict(answer)[SYS_NAME] == SNMPD_SYSNAME.encode()


# --------------------------------------------------------------------------- wrong community


@pytest.mark.parametrize("version_name", VERSIONS)
def test_wrong_community_times_out_and_the_client_stays_usable(
    real_snmpd: tuple[str, int, str], version_name: str
) -> None:
    version, _ = VERSIONS[version_name]
    host, port, _ = real_snmpd
    wrong = Target(host, port, community=b"not-public", version=version, timeout=0.2, retries=1)

    async def scenario() -> tuple[SnmpClient, list[VarBind]]:
        async with SnmpClient() as client:
            with pytest.raises(SnmpTimeoutError, match=f"{host}:{port} after 2 attempt"):
                await client.get(wrong, [SYS_NAME])
            return client, await client.get(make_target(real_snmpd, version), [SYS_NAME])

    client, answer = asyncio.run(scenario())

    assert answer == [(SYS_NAME, SNMPD_SYSNAME.encode())]
    assert client.stats.timeouts == 1
    assert client.stats.retransmissions == 1
    assert client.stats.responses == 1
    assert client.stats.unmatched == client.stats.malformed == 0
