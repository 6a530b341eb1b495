"""Our SNMPv3 client (collectors.snmp.client with collectors.snmp.usm) against a real net-snmp snmpd (issue 16).

One snmpd serves a user for every auth x priv combination Debian's net-snmp 5.9.3 supports (all 43 of
the project's names, see tests/support/real_snmpd.py) and a v2c community. For every combination our
client's GET equals what v2c returns, its walk of the system group equals ``snmpbulkwalk -v3`` as the same
user, and an IF-MIB poll gives the rows v2c gives. Then what goes wrong in the field: a wrong
authentication key, a wrong privacy key, an unknown user, a security level the user does not have, and an
agent that reboots (same engine ID, snmpEngineBoots + 1) or comes back with a new engine ID, each followed
by a request that works again on the same client; and the counters of all that in /metrics, without a
passphrase in them. snmpd serves this machine's real interfaces: counters are compared between two samples
(tests/test_snmp_client_real.py's approach and helpers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from collectors.snmp.client import (
    SnmpClient,
    SnmpClientStatsCollector,
    SnmpResponseError,
    SnmpTimeoutError,
    SnmpUsmError,
    Target,
)
from collectors.snmp.codec import Version
from collectors.snmp.types import Oid, VarBind
from collectors.snmp.usm import UsmUser
from tests.support.netsnmp import parse_output, run_tool
from tests.support.real_snmpd import (
    NETSNMP_AUTH,
    NETSNMP_PRIV,
    SNMP_ENGINE_BOOTS_OID,
    SnmpdInstance,
    SnmpdV3User,
    launch_snmpd,
    restart_snmpd,
    snmp_tool_v3,
)
from tests.test_snmp_client_real import (
    IFX_TABLE,
    INTERFACES,
    SYS_DESCR,
    SYS_NAME,
    SYSTEM,
    assert_if_mib_types,
    assert_matches_reference,
    sample,
)

ENGINE_ID = bytes.fromhex("80001f8804") + b"h16-netsnmp"
SNMP_IN_ASN_PARSE_ERRS: Oid = (1, 3, 6, 1, 2, 1, 11, 6, 0)
USM_STATS_DECRYPTION_ERRORS: Oid = (1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0)


def agent_user(auth: str, priv: str) -> SnmpdV3User:
    """The agent's user for one combination; every user has passphrases of its own."""
    if auth == "none":
        return SnmpdV3User("u_none")
    if priv == "none":
        return SnmpdV3User(f"u_{auth}", auth, f"A-{auth}-secret")
    return SnmpdV3User(f"u_{auth}_{priv}", auth, f"A-{auth}-{priv}-secret", priv, f"P-{auth}-{priv}-secret")


COMBINATIONS = [
    ("none", "none"),
    *((auth, "none") for auth in NETSNMP_AUTH),
    *((auth, priv) for auth in NETSNMP_AUTH for priv in NETSNMP_PRIV),
]
USERS = {agent_user(auth, priv).name: agent_user(auth, priv) for auth, priv in COMBINATIONS}
SECRETS = [s for user in USERS.values() for s in (user.auth_pass, user.priv_pass) if s is not None]


def usm_user(user: SnmpdV3User, **changes: str) -> UsmUser:
    """The manager's side of an agent user; ``changes`` replace fields (a wrong key, another name)."""
    fields: dict[str, str | None] = {
        "name": user.name,
        "auth_protocol": user.auth,
        "auth_key": user.auth_pass,
        "priv_protocol": user.priv,
        "priv_key": user.priv_pass,
        **changes,
    }
    return UsmUser(
        name=str(fields["name"]).encode(),
        auth_protocol=str(fields["auth_protocol"]),
        auth_key=None if fields["auth_key"] is None else str(fields["auth_key"]).encode(),
        priv_protocol=str(fields["priv_protocol"]),
        priv_key=None if fields["priv_key"] is None else str(fields["priv_key"]).encode(),
    )


def v3_target(agent: SnmpdInstance, user: UsmUser, **options: object) -> Target:
    return Target(agent.host, agent.port, version=Version.V3, usm=user, **options)  # type: ignore[arg-type]


def v2c_target(agent: SnmpdInstance) -> Target:
    return Target(agent.host, agent.port, community=agent.community.encode(), version=Version.V2C)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpdInstance]:
    instance = launch_snmpd(tmp_path_factory.mktemp("snmpd-v3"), users=list(USERS.values()), engine_id=ENGINE_ID)
    try:
        yield instance
    finally:
        instance.stop()


def combination_id(combination: tuple[str, str]) -> str:
    return agent_user(*combination).name


async def get(target: Target, oids: list[Oid]) -> list[VarBind]:
    async with SnmpClient() as client:
        return await client.get(target, oids)


async def walk(target: Target, roots: list[Oid]) -> dict[Oid, list[VarBind]]:
    async with SnmpClient() as client:
        return await client.walk(target, roots)


def netsnmp_v3_walk(agent: SnmpdInstance, user: SnmpdV3User, root: Oid) -> list[VarBind]:
    result = snmp_tool_v3("snmpbulkwalk", agent, user, [".".join(map(str, root))])
    assert result.returncode == 0, f"snmpbulkwalk as {user.name}: {result.stderr.strip()}"
    return parse_output(result.stdout)


def agent_counter(agent: SnmpdInstance, oid: Oid) -> int:
    [(_, value)] = run_tool("snmpget", "2c", agent.host, agent.port, agent.community, [oid])
    return int(value)  # type: ignore[call-overload]


# --------------------------------------------------------------------------- every combination


@pytest.mark.parametrize("combination", COMBINATIONS, ids=combination_id)
def test_get_as_every_user_equals_v2c(agent: SnmpdInstance, combination: tuple[str, str]) -> None:
    user = agent_user(*combination)
    oids = [SYS_NAME, SYS_DESCR]

    answer = asyncio.run(get(v3_target(agent, usm_user(user)), oids))

    assert answer == asyncio.run(get(v2c_target(agent), oids))
    assert answer[0] == (SYS_NAME, b"stadtnetz-test")


@pytest.mark.parametrize("combination", COMBINATIONS, ids=combination_id)
def test_system_walk_as_every_user_equals_snmpbulkwalk_v3(agent: SnmpdInstance, combination: tuple[str, str]) -> None:
    user = agent_user(*combination)
    target = v3_target(agent, usm_user(user))

    before, answer, after = sample(
        lambda: netsnmp_v3_walk(agent, user, SYSTEM), lambda: asyncio.run(walk(target, [SYSTEM]))[SYSTEM]
    )

    assert_matches_reference(answer, before, after)
    assert len(answer) > 8  # sysDescr .. sysServices and the sysORTable


@pytest.mark.parametrize("combination", COMBINATIONS, ids=combination_id)
def test_if_mib_poll_as_every_user_gives_the_rows_of_v2c(agent: SnmpdInstance, combination: tuple[str, str]) -> None:
    target = v3_target(agent, usm_user(agent_user(*combination)))
    roots = [INTERFACES, IFX_TABLE]

    def v2c() -> list[VarBind]:
        return [vb for root in roots for vb in run_tool("snmpbulkwalk", "2c", agent.host, agent.port, "public", [root])]

    def ours() -> list[VarBind]:
        walked = asyncio.run(walk(target, roots))
        return walked[INTERFACES] + walked[IFX_TABLE]

    before, answer, after = sample(v2c, ours)

    assert_matches_reference(answer, before, after)
    assert_if_mib_types(answer)
    assert any(oid[: len(IFX_TABLE)] == IFX_TABLE for oid, _ in answer)


# --------------------------------------------------------------------------- wrong keys, unknown users


def test_wrong_auth_key_is_a_wrong_digest_report_and_the_right_key_works_on_the_same_client(
    agent: SnmpdInstance, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = USERS["u_sha256_aes"]
    wrong = v3_target(agent, usm_user(user, auth_key="not-the-auth-key"), timeout=0.5, retries=0)

    async def scenario() -> tuple[SnmpClient, SnmpUsmError, list[VarBind]]:
        async with SnmpClient() as client:
            with pytest.raises(SnmpUsmError) as failure:
                await client.get(wrong, [SYS_NAME])
            return client, failure.value, await client.get(v3_target(agent, usm_user(user)), [SYS_NAME])

    client, error, answer = asyncio.run(scenario())

    assert error.kind == "wrongDigest"
    assert client.stats.reports["wrongDigest"] == 1
    assert answer == [(SYS_NAME, b"stadtnetz-test")]
    assert client.stats.timeouts == 0
    assert "not-the-auth-key" not in str(error) + repr(error) + caplog.text
    assert str(user.auth_pass) not in caplog.text


def test_wrong_priv_key_gets_no_answer_from_net_snmp_and_the_right_key_works_on_the_same_client(
    agent: SnmpdInstance,
) -> None:
    """net-snmp 5.9.3 sends no decryptionError Report for a wrong privacy key: AES-CFB and DES-CBC
    "decrypt" anything into garbage, the garbage is no scopedPDU, snmpd counts snmpInASNParseErrs
    (usmStatsDecryptionErrors stays where it was) and drops the message. The client sees a timeout."""
    user = USERS["u_sha_aes"]
    wrong = v3_target(agent, usm_user(user, priv_key="not-the-priv-key"), timeout=0.3, retries=1)
    parse_errors = agent_counter(agent, SNMP_IN_ASN_PARSE_ERRS)
    decryption_errors = agent_counter(agent, USM_STATS_DECRYPTION_ERRORS)

    async def scenario() -> tuple[SnmpClient, list[VarBind]]:
        async with SnmpClient() as client:
            with pytest.raises(SnmpTimeoutError):
                await client.get(wrong, [SYS_NAME])
            return client, await client.get(v3_target(agent, usm_user(user)), [SYS_NAME])

    client, answer = asyncio.run(scenario())

    assert client.stats.timeouts == 1
    assert sum(client.stats.reports.values()) == 0
    assert answer == [(SYS_NAME, b"stadtnetz-test")]
    assert agent_counter(agent, SNMP_IN_ASN_PARSE_ERRS) == parse_errors + 2  # the request and its retry
    assert agent_counter(agent, USM_STATS_DECRYPTION_ERRORS) == decryption_errors


def test_unknown_user_is_an_unknown_user_name_report_and_a_known_user_works_on_the_same_client(
    agent: SnmpdInstance,
) -> None:
    stranger = usm_user(USERS["u_sha"], name="u_nobody")

    async def scenario() -> tuple[SnmpClient, SnmpUsmError, list[VarBind]]:
        async with SnmpClient() as client:
            with pytest.raises(SnmpUsmError) as failure:
                await client.get(v3_target(agent, stranger, timeout=0.5, retries=0), [SYS_NAME])
            return client, failure.value, await client.get(v3_target(agent, usm_user(USERS["u_sha"])), [SYS_NAME])

    client, error, answer = asyncio.run(scenario())

    assert error.kind == "unknownUserName"
    assert client.stats.reports["unknownUserName"] == 1
    assert answer == [(SYS_NAME, b"stadtnetz-test")]


def test_a_security_level_the_user_does_not_have_is_an_unsupported_sec_level_report(agent: SnmpdInstance) -> None:
    """u_sha has authentication only; asked for authPriv, snmpd answers usmStatsUnsupportedSecLevels."""
    user = USERS["u_sha"]
    with_priv = usm_user(user, priv_protocol="aes", priv_key="some-priv-key")

    async def scenario() -> tuple[SnmpClient, SnmpUsmError, list[VarBind]]:
        async with SnmpClient() as client:
            with pytest.raises(SnmpUsmError) as failure:
                await client.get(v3_target(agent, with_priv, timeout=0.5, retries=0), [SYS_NAME])
            return client, failure.value, await client.get(v3_target(agent, usm_user(user)), [SYS_NAME])

    client, error, answer = asyncio.run(scenario())

    assert error.kind == "unsupportedSecLevel"
    assert client.stats.reports["unsupportedSecLevel"] == 1
    assert answer == [(SYS_NAME, b"stadtnetz-test")]


# --------------------------------------------------------------------------- the agent reboots


def agent_boots(agent: SnmpdInstance, user: SnmpdV3User) -> int:
    result = snmp_tool_v3("snmpget", agent, user, [SNMP_ENGINE_BOOTS_OID])
    assert result.returncode == 0, result.stderr
    [(_, value)] = parse_output(result.stdout)
    return int(value)  # type: ignore[call-overload]


def test_a_rebooted_agent_and_one_with_a_new_engine_id_answer_the_same_client_again(tmp_path: Path) -> None:
    """A reboot (same engine ID, snmpEngineBoots + 1) makes snmpd answer our old boots/time with a
    notInTimeWindow Report; a replaced agent (new engine ID, no users of the old one) with an
    unknownEngineID Report. Either way the client takes the engine from the Report and sends again:
    the same request succeeds, the Report is counted, and no discovery request is needed (the
    discoveries counter stays at the first one)."""
    user = SnmpdV3User("noc", "sha256", "reboot-auth-secret", "aes", "reboot-priv-secret")
    agents = [launch_snmpd(tmp_path, users=[user], engine_id=ENGINE_ID)]
    target = v3_target(agents[0], usm_user(user), timeout=1.0, retries=1)
    new_engine = bytes.fromhex("80001f8804") + b"h16-replaced"
    seen: dict[str, object] = {"boots": agent_boots(agents[0], user)}

    async def scenario() -> SnmpClient:
        async with SnmpClient() as client:
            assert await client.get(target, [SYS_NAME]) == [(SYS_NAME, b"stadtnetz-test")]
            seen["first"] = (client.stats.discoveries, dict(client.stats.reports))

            agents.append(restart_snmpd(agents[-1]))  # blocks the loop while no request is out
            seen["rebooted boots"] = agent_boots(agents[-1], user)
            assert await client.get(target, [SYS_NAME]) == [(SYS_NAME, b"stadtnetz-test")]
            seen["reboot"] = (client.stats.discoveries, dict(client.stats.reports))

            agents.append(restart_snmpd(agents[-1], engine_id=new_engine))
            assert await client.get(target, [SYS_NAME]) == [(SYS_NAME, b"stadtnetz-test")]
            return client

    try:
        client = asyncio.run(scenario())
    finally:
        agents[-1].stop()

    assert seen["first"] == (1, {})
    assert seen["rebooted boots"] == seen["boots"] + 1  # type: ignore[operator]
    discoveries_after_reboot, reports_after_reboot = seen["reboot"]  # type: ignore[misc]
    assert {k: v for k, v in reports_after_reboot.items() if v} == {"notInTimeWindow": 1}
    assert agents[-1].engine_id == new_engine
    assert {k: v for k, v in client.stats.reports.items() if v} == {"notInTimeWindow": 1, "unknownEngineID": 1}
    assert client.stats.discoveries == discoveries_after_reboot == 1
    assert client.stats.requests == 6  # discovery + GET, then each GET sent twice
    assert client.stats.timeouts == 0


# --------------------------------------------------------------------------- /metrics


def test_usm_reports_are_exported_without_any_secret(agent: SnmpdInstance) -> None:
    user = USERS["u_sha512_aes256c"]
    wrong = v3_target(agent, usm_user(user, auth_key="exported-wrong-key"), timeout=0.5, retries=0)

    async def scenario() -> SnmpClient:
        async with SnmpClient() as client:
            for _ in range(3):
                with pytest.raises(SnmpUsmError):
                    await client.get(wrong, [SYS_NAME])
            await client.get(v3_target(agent, usm_user(user)), [SYS_NAME])
            return client

    client = asyncio.run(scenario())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnmpClientStatsCollector(client))
    text = generate_latest(registry).decode()

    assert 'stadtnetz_snmp_usm_reports_total{kind="wrongDigest"} 3.0' in text
    assert "stadtnetz_snmp_engine_discoveries_total 1.0" in text
    for secret in ("exported-wrong-key", *SECRETS):
        assert secret not in text


def test_a_lower_level_than_the_agent_grants_is_an_authorization_error(agent: SnmpdInstance) -> None:
    """u_sha_aes may read only with privacy (``rouser u_sha_aes priv``); asked at authNoPriv, the
    message is authentic, so snmpd's access control answers with error-status authorizationError."""
    user = USERS["u_sha_aes"]
    without_priv = usm_user(user, priv_protocol="none", priv_key=None)  # type: ignore[arg-type]

    async def scenario() -> tuple[SnmpClient, SnmpResponseError]:
        async with SnmpClient() as client:
            with pytest.raises(SnmpResponseError) as failure:
                await client.get(v3_target(agent, without_priv, timeout=0.5, retries=0), [SYS_NAME])
            return client, failure.value

    client, error = asyncio.run(scenario())

    assert error.status == 16 and "authorizationError" in str(error)
    assert sum(client.stats.reports.values()) == 0
