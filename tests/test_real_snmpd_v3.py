"""The SNMPv3 side of the snmpd test harness (tests/support/real_snmpd.py), checked with net-snmp's own tools.

Every auth x priv combination Debian's net-snmp supports answers ``snmpget -v3`` as its user; a
restart keeps the engine ID and raises snmpEngineBoots by one; a new engine ID restarts at boots 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.netsnmp import parse_output
from tests.support.real_snmpd import (
    NETSNMP_AUTH,
    NETSNMP_PRIV,
    SNMP_ENGINE_BOOTS_OID,
    SNMP_ENGINE_ID_OID,
    SNMPD_SYSNAME,
    SnmpdInstance,
    SnmpdV3User,
    launch_snmpd,
    restart_snmpd,
    snmp_tool_v3,
)

SYS_NAME = "1.3.6.1.2.1.1.5.0"
ENGINE_ID = bytes.fromhex("80001f8804") + b"h16-harness"


def all_users() -> list[SnmpdV3User]:
    users = [SnmpdV3User("u_none")]
    for auth in NETSNMP_AUTH:
        users.append(SnmpdV3User(f"u_{auth}", auth, f"auth-{auth}-pass"))
        for priv in NETSNMP_PRIV:
            users.append(SnmpdV3User(f"u_{auth}_{priv}", auth, f"auth-{auth}-pass", priv, f"priv-{priv}-pass"))
    return users


USERS = all_users()


@pytest.fixture(scope="module")
def v3_snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpdInstance]:
    instance = launch_snmpd(tmp_path_factory.mktemp("snmpd-v3"), users=USERS, engine_id=ENGINE_ID)
    try:
        yield instance
    finally:
        instance.stop()


def get(instance: SnmpdInstance, user: SnmpdV3User, *oids: str) -> dict[str, object]:
    result = snmp_tool_v3("snmpget", instance, user, oids, timeout=1.0)
    assert result.returncode == 0, f"snmpget as {user.name}: {result.stderr.strip()}"
    return {".".join(map(str, oid)): value for oid, value in parse_output(result.stdout)}


def test_users_and_protocol_names_cover_every_combination() -> None:
    assert len(USERS) == 1 + 6 + 6 * 6
    assert {u.security_level for u in USERS} == {"noAuthNoPriv", "authNoPriv", "authPriv"}
    line = SnmpdV3User("noc", "sha256", "auth-secret", "aes256c", "priv-secret")
    assert line.create_user_line() == "createUser noc SHA-256 auth-secret AES256C priv-secret\n"
    assert line.rouser_line() == "rouser noc priv\n"
    assert SnmpdV3User("ro", "md5", "auth-secret").rouser_line() == "rouser ro auth\n"
    assert SnmpdV3User("anon").create_user_line() == "createUser anon\n"
    for bad in (dict(auth="sha1"), dict(priv="3des"), dict(auth="sha", auth_pass="short")):
        with pytest.raises(ValueError):
            SnmpdV3User("x", **{"auth": "sha", "auth_pass": "long-enough", **bad})  # type: ignore[arg-type]


def test_every_combination_answers_snmpget_v3(v3_snmpd: SnmpdInstance) -> None:
    failed = []
    for user in USERS:
        result = snmp_tool_v3("snmpget", v3_snmpd, user, [SYS_NAME], timeout=1.0)
        answer = parse_output(result.stdout) if result.returncode == 0 else []
        if [value for _, value in answer] != [SNMPD_SYSNAME.encode()]:
            failed.append(f"{user.name}: {result.stderr.strip() or result.stdout.strip()}")
    assert not failed, failed


def test_the_agent_tells_aes192_from_aes192c(v3_snmpd: SnmpdInstance) -> None:
    """Blumenthal and Reeder key extension give different keys: the other one gets no answer."""
    for name, wrong in (("u_sha_aes192", "aes192c"), ("u_sha_aes256c", "aes256")):
        user = next(u for u in USERS if u.name == name)
        result = snmp_tool_v3(
            "snmpget",
            v3_snmpd,
            SnmpdV3User(name, "sha", user.auth_pass, wrong, user.priv_pass),
            [SYS_NAME],
            timeout=0.5,
        )
        assert result.returncode != 0 and "Timeout" in result.stderr


def test_restart_raises_engine_boots_and_a_new_engine_id_starts_at_one(tmp_path: Path) -> None:
    user = SnmpdV3User("noc", "sha", "auth-secret", "aes", "priv-secret")
    instance = launch_snmpd(tmp_path, users=[user], engine_id=ENGINE_ID)
    port, persistent_dir = instance.port, instance.persistent_dir
    try:
        first = get(instance, user, SNMP_ENGINE_ID_OID, SNMP_ENGINE_BOOTS_OID)
        assert instance.engine_id == ENGINE_ID == first[SNMP_ENGINE_ID_OID]
        instance = restart_snmpd(instance)
        second = get(instance, user, SNMP_ENGINE_ID_OID, SNMP_ENGINE_BOOTS_OID)
        instance = restart_snmpd(instance)
        third = get(instance, user, SNMP_ENGINE_BOOTS_OID)
        assert second[SNMP_ENGINE_ID_OID] == ENGINE_ID
        assert second[SNMP_ENGINE_BOOTS_OID] == first[SNMP_ENGINE_BOOTS_OID] + 1  # type: ignore[operator]
        assert third[SNMP_ENGINE_BOOTS_OID] == first[SNMP_ENGINE_BOOTS_OID] + 2  # type: ignore[operator]
        assert (instance.port, instance.persistent_dir) == (port, persistent_dir)

        new_id = bytes.fromhex("80001f8804") + b"h16-replaced"
        instance = restart_snmpd(instance, engine_id=new_id)  # a replaced device: fresh persistent state
        replaced = get(instance, user, SNMP_ENGINE_ID_OID, SNMP_ENGINE_BOOTS_OID)
        assert instance.engine_id == new_id == replaced[SNMP_ENGINE_ID_OID]
        assert replaced[SNMP_ENGINE_BOOTS_OID] == 1
        assert instance.restarts == 3 and instance.port == port and instance.persistent_dir != persistent_dir
        old_engine = snmp_tool_v3("snmpget", instance, user, [SYS_NAME], "-e", f"0x{ENGINE_ID.hex()}", timeout=0.5)
        assert old_engine.returncode != 0  # it knows no user of the old engine ID
    finally:
        instance.stop()


def test_a_new_engine_id_with_the_old_persistent_state_still_answers_the_old_engine_id(tmp_path: Path) -> None:
    """net-snmp keeps the users it persisted, localized to the old engine ID, and serves them."""
    user = SnmpdV3User("noc", "sha", "auth-secret", "aes", "priv-secret")
    instance = launch_snmpd(tmp_path, users=[user], engine_id=ENGINE_ID)
    try:
        new_id = bytes.fromhex("80001f8804") + b"h16-renamed"
        instance = restart_snmpd(instance, engine_id=new_id, keep_persistent=True)
        assert get(instance, user, SNMP_ENGINE_ID_OID)[SNMP_ENGINE_ID_OID] == new_id
        old_engine = snmp_tool_v3("snmpget", instance, user, [SYS_NAME], "-e", f"0x{ENGINE_ID.hex()}", timeout=0.5)
        assert old_engine.returncode == 0 and parse_output(old_engine.stdout)[0][1] == SNMPD_SYSNAME.encode()
    finally:
        instance.stop()
