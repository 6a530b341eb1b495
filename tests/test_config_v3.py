"""SNMPv3 credentials in the configuration: what loads, what `check` shows, and every mistake named by file,
line and field, with the keys never in an error, a repr or `check`'s output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.snmp.poller import usm_user
from stadtnetz.config import load_inventory
from tests.test_config import DEVICE, PROFILES, assert_issue, issues_of, line_of, write

AUTH = "auth-passphrase-1"
PRIV = "priv-passphrase-2"
ENV = {"COMMUNITY": "public", "AUTH": AUTH, "PRIV": PRIV, "SHORT": "seven77"}

V3 = """\
credentials:
  noc:
    version: "3"
    user: stadtnetz
    auth_protocol: sha256
    auth_key: ${AUTH}
    priv_protocol: aes
    priv_key: ${PRIV}
defaults:
  credentials: noc
  profiles: [system, interfaces]
devices:
"""


def config(tmp_path: Path, replace: tuple[str, str] | None = None, extra: str = "") -> Path:
    text = V3 if replace is None else V3.replace(*replace)
    return write(tmp_path, "c.yaml", text.replace("defaults:", extra + "defaults:") + DEVICE)


def test_v3_credentials_load_into_the_pollers_user(tmp_path: Path) -> None:
    inventory = load_inventory(config(tmp_path), known_profiles=PROFILES, environ=ENV)
    credentials = inventory.credentials["noc"]
    assert (credentials.version, credentials.security_level, credentials.community) == (3, "authPriv", None)
    user = usm_user(credentials.user)
    assert (user.name, user.auth_protocol, user.auth_key, user.priv_protocol, user.priv_key) == (
        b"stadtnetz", "sha256", AUTH.encode(), "aes", PRIV.encode()
    )
    assert AUTH not in repr(inventory.credentials) and PRIV not in repr(user)


@pytest.mark.parametrize(
    ("level", "fields", "expected"),
    [
        ("authNoPriv", {"auth_protocol": "sha512", "auth_key": "${AUTH}"}, ("sha512", "none")),
        ("noAuthNoPriv", {}, ("none", "none")),
        ("authPriv", {"auth_protocol": "md5", "auth_key": "${AUTH}", "priv_protocol": "aes256c",
                      "priv_key": "${PRIV}"}, ("md5", "aes256c")),
    ],
)
def test_every_security_level_loads(tmp_path: Path, level: str, fields: dict, expected: tuple) -> None:
    body = "".join(f"    {key}: {value}\n" for key, value in fields.items())
    text = f'credentials:\n  noc:\n    version: "3"\n    user: u\n    security_level: {level}\n{body}'
    path = write(tmp_path, "c.yaml", text + V3[V3.index("defaults:") :] + DEVICE)
    credentials = load_inventory(path, known_profiles=PROFILES, environ=ENV).credentials["noc"]
    assert credentials.security_level == level
    assert (credentials.user.auth_protocol, credentials.user.priv_protocol) == expected


@pytest.mark.parametrize(
    ("replace", "marker", "field", "phrase"),
    [
        (("    priv_key: ${PRIV}\n", ""), "noc:", "credentials.noc", "priv_key is required with security_level"),
        (("    user: stadtnetz\n", ""), "noc:", "credentials.noc", "user is required for SNMPv3"),
        (("user: stadtnetz", "user: " + "x" * 33), "noc:", "credentials.noc", "user must have 1 to 32 octets"),
        (("auth_key: ${AUTH}", "auth_key: hunter2hunter2"), "auth_key:", "credentials.noc.auth_key",
         "a literal key is not allowed"),
        (("priv_key: ${PRIV}", "priv_key: ${SHORT}"), "noc:", "credentials.noc", "shorter than 8 characters"),
        (("auth_protocol: sha256", "auth_protocol: sha3"), "auth_protocol:", "credentials.noc.auth_protocol", "sha256"),
        (("priv_protocol: aes", "priv_protocol: 3des"), "priv_protocol:", "credentials.noc.priv_protocol", "aes192c"),
        (("    user: stadtnetz\n", "    user: stadtnetz\n    community: ${COMMUNITY}\n"), "noc:", "credentials.noc",
         "SNMPv3 has no community"),
        (('version: "3"', "version: 2c"), "noc:", "credentials.noc", "community is required for SNMP v1/v2c"),
        (("    user: stadtnetz\n", "    user: stadtnetz\n    security_level: authNoPriv\n"), "noc:",
         "credentials.noc", "priv_protocol is not used with security_level authNoPriv"),
        (("    user: stadtnetz\n", "    user: stadtnetz\n    security_level: authpriv\n"), "security_level:",
         "credentials.noc.security_level", "authPriv"),
    ],
)
def test_v3_mistakes_name_file_line_and_field(
    tmp_path: Path, replace: tuple[str, str], marker: str, field: str, phrase: str
) -> None:
    path = config(tmp_path, replace)
    issues = issues_of(path, environ=ENV)
    issue = assert_issue(issues, path, line_of(path, marker), field, phrase)
    for secret in (AUTH, PRIV, "hunter2hunter2", ENV["SHORT"]):
        assert secret not in str(issue)


def test_v2c_credentials_refuse_v3_fields(tmp_path: Path) -> None:
    text = "credentials:\n  ro:\n    version: 2c\n    community: ${COMMUNITY}\n    user: noc\n"
    path = write(tmp_path, "c.yaml", text + "defaults:\n  credentials: ro\n  profiles: [system]\ndevices:\n" + DEVICE)
    assert_issue(issues_of(path, environ=ENV), path, line_of(path, "ro:"), "credentials.ro", 'only with version "3"')


def test_check_shows_the_security_level_and_never_a_key(tmp_path: Path) -> None:
    path = config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV, "COLUMNS": "200"},
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if " noc " in line)
    assert "authPriv sha256/aes user stadtnetz" in row and "env" in row, row
    assert AUTH not in result.stdout + result.stderr and PRIV not in result.stdout + result.stderr
