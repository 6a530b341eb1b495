"""Configuration and inventory: every kind of broken configuration names its file, line and field.

Each broken case writes a small YAML (and CSV) file into ``tmp_path`` and checks
the exact file, line (found by a marker in the written text, so the expectation
is read off the file itself), field path and a phrase of the message. Some run
``stadtnetz check`` as a subprocess, as an operator would. Then inheritance,
CSV import, the example city, and that a secret never leaks.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stadtnetz.config import ConfigError, ConfigIssue, load_inventory
from stadtnetz.model import Inventory

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "example-city.yaml"
ENV = {"COMMUNITY": "public"}
PROFILES = {"system", "interfaces", "optics", "unifi_clients"}
SECRET = "s3cr3t-c0mmunity"

# a valid head that broken cases extend: credentials and defaults every device can use
HEAD = """\
credentials:
  ro:
    version: 2c
    community: ${COMMUNITY}
defaults:
  credentials: ro
  profiles: [system, interfaces]
"""
DEVICE = """\
  - id: core-1
    kind: core_router
    address: 127.20.0.1:1161
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(path: Path, marker: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``marker`` in the written file."""
    hits = [number for number, line in enumerate(path.read_text().splitlines(), 1) if marker in line]
    assert len(hits) >= occurrence, f"{marker!r} is not in {path}"
    return hits[occurrence - 1]


def issues_of(path: Path, known_profiles: set[str] | None = PROFILES, environ: dict | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_inventory(path, known_profiles=known_profiles, environ=ENV if environ is None else environ)
    assert str(caught.value).splitlines() == [str(issue) for issue in caught.value.issues]
    return caught.value.issues


def assert_issue(issues: list[ConfigIssue], file: Path, line: int | None, field: str, phrase: str) -> ConfigIssue:
    matching = [issue for issue in issues if issue.field == field]
    assert matching, f"no issue for {field!r}; got:\n" + "\n".join(map(str, issues))
    issue = matching[0]
    assert (issue.file, issue.line) == (file, line), str(issue)
    assert phrase in issue.message, str(issue)
    return issue


def run_check(path: Path, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **ENV, **(env or {}), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env=environment,
    )


# --- the schema: keys, types, values ----------------------------------------------------------------------------------


def test_unknown_device_field_names_the_allowed_ones_and_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "    adress: 127.0.0.1\n")
    issue = assert_issue(issues_of(path), path, line_of(path, "adress:"), "devices[0].adress", "unknown field 'adress'")
    assert "allowed: id, kind, address" in issue.message
    assert "did you mean 'address'?" in issue.message


def test_unknown_top_level_section(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "device:\n" + DEVICE)
    issue = assert_issue(issues_of(path), path, line_of(path, "device:"), "device", "unknown field 'device'")
    assert "allowed: include, settings, credentials, defaults, groups, devices, inventory" in issue.message


def test_unknown_settings_key(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "settings:\n  intervall: 30s\n" + HEAD + "devices:\n" + DEVICE)
    issue = assert_issue(issues_of(path), path, 2, "settings.intervall", "unknown field 'intervall'")
    assert "did you mean 'interval'?" in issue.message


def test_missing_required_device_field_points_at_the_device(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n  - id: core-1\n    address: 127.20.0.1\n")
    assert_issue(
        issues_of(path),
        path,
        line_of(path, "- id: core-1"),
        "devices[0].kind",
        "missing required field 'kind' (required: id, kind, address)",
    )


def test_wrong_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        HEAD + "devices:\n" + DEVICE + "    retries: three\n    tags: core\n    site: [a, b]\n",
    )
    issues = issues_of(path)
    assert_issue(issues, path, line_of(path, "retries:"), "devices[0].retries", "expected a whole number >= 0")
    assert_issue(issues, path, line_of(path, "tags:"), "devices[0].tags", "expected a list")
    assert_issue(issues, path, line_of(path, "site:"), "devices[0].site", "expected text, got a list")


@pytest.mark.parametrize("value", ["30 seconds", "5 min", "abc", "-5s", "yes"])
def test_bad_duration(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "c.yaml", f"settings:\n  interval: {value}\n" + HEAD + "devices:\n" + DEVICE)
    issue = assert_issue(issues_of(path), path, 2, "settings.interval", "duration")
    assert "'500ms', '30s', '5m', '1h', '7d', or a number of seconds" in issue.message


@pytest.mark.parametrize("value", ["0", "0s", "-30", "0ms"])
def test_interval_must_be_positive(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "  interval: " + value + "\ndevices:\n" + DEVICE)
    assert_issue(issues_of(path), path, line_of(path, "interval:"), "defaults.interval", "greater than 0")


def test_timeout_not_less_than_interval_in_settings(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "settings:\n  interval: 5s\n  timeout: 5s\n" + HEAD + "devices:\n" + DEVICE)
    assert_issue(
        issues_of(path),
        path,
        3,
        "settings.timeout",
        "timeout 5s must be less than interval 5s (timeout set here",
    )


def test_timeout_not_less_than_inherited_interval_is_reported_once_at_the_group(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        "settings:\n  timeout: 3s\n"
        + HEAD
        + "groups:\n  fast:\n    kinds: [core_router]\n    interval: 2s\ndevices:\n"
        + DEVICE
        + DEVICE.replace("core-1", "core-2").replace(".1:", ".2:"),
    )
    issues = issues_of(path)
    issue = assert_issue(issues, path, line_of(path, "interval: 2s"), "groups.fast.interval", "timeout 3s must be less")
    assert "timeout from settings" in issue.message
    assert len(issues) == 1, issues  # not once per device


@pytest.mark.parametrize(
    ("value", "phrase"),
    [("2", "use '1', '2c' or '3'"), ("v4", "use '1', '2c' or '3'"), ("'3.0'", "use '1', '2c' or '3'")],
)
def test_bad_snmp_version(tmp_path: Path, value: str, phrase: str) -> None:
    path = write(tmp_path, "c.yaml", HEAD.replace("version: 2c", f"version: {value}") + "devices:\n" + DEVICE)
    assert_issue(issues_of(path), path, 3, "credentials.ro.version", phrase)


def test_listen_must_be_host_and_port(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "settings:\n  listen: 127.0.0.1\n" + HEAD + "devices:\n" + DEVICE)
    assert_issue(issues_of(path), path, 2, "settings.listen", "expected host:port, e.g. 127.0.0.1:9873")


def test_listen_accepts_ipv6_in_brackets(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "settings:\n  listen: '[::1]:9900'\n" + HEAD + "devices:\n" + DEVICE)
    settings = load_inventory(path, environ=ENV).settings
    assert (settings.listen_host, settings.listen_port) == ("::1", 9900)


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "    address: 127.20.0.2\n")
    first = line_of(path, "address:")
    assert_issue(
        issues_of(path),
        path,
        line_of(path, "address:", 2),
        "devices[0].address",
        f"duplicate key 'address' (first at line {first})",
    )


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n  - id: core-1\n    kind: [core_router\n")
    issues = issues_of(path)
    assert issues[0].file == path and issues[0].field == "(yaml syntax)"
    assert issues[0].line is not None and issues[0].line >= line_of(path, "kind:")
    assert "fix the YAML syntax" in issues[0].message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "- id: core-1\n")
    assert_issue(issues_of(path), path, 1, "(top level)", "expected a mapping with the sections include, settings")


# --- references, groups, devices ---------------------------------------------------------------------------------


def test_unknown_credentials_reference(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "    credentials: backbone-ro\n")
    assert_issue(
        issues_of(path),
        path,
        line_of(path, "credentials: backbone-ro"),
        "devices[0].credentials",
        "unknown credentials 'backbone-ro' (defined: ro)",
    )


def test_unknown_profile_only_when_profiles_are_known(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "    profiles: [system, optcs]\n")
    assert_issue(
        issues_of(path),
        path,
        line_of(path, "optcs"),
        "devices[0].profiles[1]",
        "unknown profile 'optcs' (available: interfaces, optics, system, unifi_clients)",
    )
    assert load_inventory(path, known_profiles=None, environ=ENV).devices[0].profiles == ("system", "optcs")


def test_profiles_of_the_configs_own_profile_dirs_are_known(tmp_path: Path) -> None:
    write(tmp_path, "profiles/ups.yaml", "# a profile\n")
    path = write(
        tmp_path,
        "c.yaml",
        "settings:\n  profile_dirs: [profiles/]\n" + HEAD + "devices:\n" + DEVICE + "    profiles: [system, ups]\n",
    )
    inventory = load_inventory(path, known_profiles={"system", "interfaces"}, environ=ENV)
    assert inventory.devices[0].profiles == ("system", "ups")
    assert inventory.settings.profile_dirs == (str((tmp_path / "profiles").resolve()),)


def test_missing_profile_dir(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "settings:\n  profile_dirs: [nowhere/]\n" + HEAD + "devices:\n" + DEVICE)
    assert_issue(issues_of(path), path, 2, "settings.profile_dirs[0]", "does not exist")


def test_unknown_group_and_parent(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        HEAD + "groups:\n  schools:\n    parent: wifi\ndevices:\n" + DEVICE + "    group: backbone\n",
    )
    issues = issues_of(path)
    assert_issue(issues, path, line_of(path, "parent: wifi"), "groups.schools.parent", "unknown parent group 'wifi'")
    assert_issue(
        issues,
        path,
        line_of(path, "group: backbone"),
        "devices[0].group",
        "unknown group 'backbone' (defined: schools)",
    )


def test_group_parent_cycle_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        HEAD + "groups:\n  a:\n    parent: c\n  b:\n    parent: a\n  c:\n    parent: b\ndevices:\n" + DEVICE,
    )
    issues = issues_of(path)
    assert_issue(issues, path, line_of(path, "parent: c"), "groups.a.parent", "group parent cycle: a -> c -> b -> a")
    assert len(issues) == 1


def test_kind_claimed_by_two_groups(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        HEAD + "groups:\n  wlan:\n    kinds: [hotspot]\n  public:\n    kinds: [school_ap, hotspot]\n"
        "devices:\n" + DEVICE,
    )
    issue = assert_issue(
        issues_of(path),
        path,
        line_of(path, "kinds: [school_ap"),
        "groups.public.kinds[1]",
        "kind 'hotspot' is already claimed by group 'wlan'",
    )
    assert f"{path}:{line_of(path, 'kinds: [hotspot]')}" in issue.message


def test_duplicate_device_ids_inline(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + DEVICE.replace(".1:", ".2:"))
    assert_issue(
        issues_of(path),
        path,
        line_of(path, "- id: core-1", 2),
        "devices[1].id",
        f"duplicate device id 'core-1' (first defined at {path}:{line_of(path, '- id: core-1')})",
    )


def test_duplicate_device_id_between_yaml_and_csv(tmp_path: Path) -> None:
    csv = write(tmp_path, "inv.csv", "id,kind,address\nhs-1,hotspot,127.20.0.5\ncore-1,core_router,127.20.0.6\n")
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "inventory:\n  - file: inv.csv\n")
    assert_issue(issues_of(path), csv, 3, "inventory[0] row 3 (core-1): id", "duplicate device id 'core-1'")


@pytest.mark.parametrize("device_id", ["core 1", "-core", "kern/1", "ä1"])
def test_invalid_device_id(tmp_path: Path, device_id: str) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE.replace("core-1", f"'{device_id}'"))
    assert_issue(
        issues_of(path),
        path,
        line_of(path, "- id:"),
        "devices[0].id",
        "use letters, digits, '.', '_' and '-'",
    )


@pytest.mark.parametrize(
    ("address", "phrase"),
    [
        ("127.20.0.300", "invalid address"),
        ("core-1.example", "invalid address"),
        ("127.20.0.1:0", "invalid port '0'"),
        ("127.20.0.1:70000", "invalid port '70000'"),
        ("127.20.0.1:snmp", "invalid port 'snmp'"),
        ("'[127.20.0.1]:161'", "only IPv6 addresses go in brackets"),
        ("'[2001:db8::1'", "invalid address"),
    ],
)
def test_invalid_address(tmp_path: Path, address: str, phrase: str) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE.replace("127.20.0.1:1161", address))
    assert_issue(issues_of(path), path, line_of(path, "address:"), "devices[0].address", phrase)


def test_addresses_and_ports_are_split(tmp_path: Path) -> None:
    devices = "".join(
        DEVICE.replace("core-1", f"d{index}").replace("127.20.0.1:1161", address)
        for index, address in enumerate(["192.0.2.1", "192.0.2.1:1161", "2001:db8::1", "'[2001:db8::2]:1162'"])
    )
    inventory = load_inventory(write(tmp_path, "c.yaml", HEAD + "devices:\n" + devices), environ=ENV)
    assert [(d.host, d.port) for d in inventory.devices] == [
        ("192.0.2.1", 161),
        ("192.0.2.1", 1161),
        ("2001:db8::1", 161),
        ("2001:db8::2", 1162),
    ]
    assert inventory.devices[3].endpoint == "[2001:db8::2]:1162"


def test_coordinates_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "    lat: 91.5\n    lon: -180.5\n")
    issues = issues_of(path)
    assert_issue(
        issues, path, line_of(path, "lat:"), "devices[0].lat", "latitude 91.5 is out of range: must be between"
    )
    assert_issue(issues, path, line_of(path, "lon:"), "devices[0].lon", "between -180 and 180")


def test_upstream_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "    upstream: core-0\n")
    assert_issue(
        issues_of(path),
        path,
        line_of(path, "upstream:"),
        "devices[0].upstream",
        "unknown device 'core-0': upstream must be the id of another device",
    )


def test_upstream_cycle_is_named(tmp_path: Path) -> None:
    csv = write(
        tmp_path,
        "inv.csv",
        "id,kind,address,upstream\ndist-1,distribution_switch,127.20.0.2,core-1\nhs-1,hotspot,127.20.0.3,dist-1\n",
    )
    path = write(
        tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "    upstream: hs-1\ninventory:\n  - file: inv.csv\n"
    )
    issues = issues_of(path)
    assert_issue(
        issues,
        path,
        line_of(path, "upstream: hs-1"),
        "devices[0].upstream",
        "upstream cycle: core-1 -> hs-1 -> dist-1 -> core-1",
    )
    assert len(issues) == 1 and csv.exists()


def test_device_upstream_of_itself(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "    upstream: core-1\n")
    assert_issue(issues_of(path), path, line_of(path, "upstream:"), "devices[0].upstream", "cycle: core-1 -> core-1")


# --- secrets ---------------------------------------------------------------------------------------------------------


def test_literal_secret_is_an_error_and_not_repeated(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD.replace("${COMMUNITY}", SECRET) + "devices:\n" + DEVICE)
    issues = issues_of(path)
    assert_issue(issues, path, 4, "credentials.ro.community", "a literal community is not allowed")
    assert SECRET not in "\n".join(map(str, issues))


def test_unset_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE)
    assert_issue(
        issues_of(path, environ={}),
        path,
        4,
        "credentials.ro.community",
        "environment variable COMMUNITY is not set; export it",
    )


def test_unreadable_secret_file(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD.replace("${COMMUNITY}", "file:secrets/community") + "devices:\n" + DEVICE)
    assert_issue(
        issues_of(path),
        path,
        4,
        "credentials.ro.community",
        f"cannot read secret file {tmp_path / 'secrets' / 'community'}: No such file",
    )


def test_secret_file_relative_to_the_config(tmp_path: Path) -> None:
    write(tmp_path, "secrets/community", SECRET + "\n")
    path = write(tmp_path, "c.yaml", HEAD.replace("${COMMUNITY}", "file:secrets/community") + "devices:\n" + DEVICE)
    inventory = load_inventory(path, environ={})
    assert inventory.credentials["ro"].community.reveal() == SECRET
    assert SECRET not in repr(inventory)


# --- includes ------------------------------------------------------------------------------------------------------


def test_include_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "include: [groups.yaml, more/missing.yaml]\n" + HEAD + "devices:\n" + DEVICE)
    write(tmp_path, "groups.yaml", "groups:\n  backbone:\n    kinds: [core_router]\n")
    assert_issue(
        issues_of(path),
        path,
        1,
        "include[1]",
        f"cannot read configuration file {tmp_path / 'more/missing.yaml'}: No such file or directory",
    )


def test_include_cycle(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "include: [sub/a.yaml]\n" + HEAD + "devices:\n" + DEVICE)
    a = write(tmp_path, "sub/a.yaml", "include: [b.yaml]\n")
    b = write(tmp_path, "sub/b.yaml", "groups: {}\ninclude:\n  - ../c.yaml\n")
    assert_issue(issues_of(path), b, 3, "include[0]", f"include cycle: {path} -> {a} -> {b} -> {path};")


def test_included_files_report_their_own_file_and_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "include: [parts/devices.yaml]\n" + HEAD)
    part = write(tmp_path, "parts/devices.yaml", "devices:\n" + DEVICE + "    lat: 200\n")
    assert_issue(issues_of(path), part, line_of(part, "lat:"), "devices[0].lat", "out of range")


def test_group_defined_twice_across_includes(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "include: [g.yaml]\n" + HEAD + "groups:\n  wlan: {}\ndevices:\n" + DEVICE)
    g = write(tmp_path, "g.yaml", "groups:\n  wlan:\n    kinds: [hotspot]\n")
    assert_issue(
        issues_of(path),
        path,
        line_of(path, "wlan:"),
        "groups.wlan",
        f"group 'wlan' is already defined at {g}:2",
    )


def test_a_file_included_twice_is_read_once(tmp_path: Path) -> None:
    write(tmp_path, "credentials.yaml", HEAD)
    write(tmp_path, "wlan.yaml", "include: [credentials.yaml]\ngroups:\n  wlan: {kinds: [hotspot]}\n")
    path = write(tmp_path, "c.yaml", "include: [credentials.yaml, wlan.yaml]\ndevices:\n" + DEVICE)
    inventory = load_inventory(path, environ=ENV)
    assert list(inventory.credentials) == ["ro"] and inventory.groups == {"wlan": ()}


def test_yaml_merge_keys_keep_the_lines_of_explicit_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        HEAD + "devices:\n  - &hs {id: hs-1, kind: hotspot, address: 10.0.0.1, interval: 30s}\n"
        "  - <<: *hs\n    id: hs-2\n    address: 10.0.0.256\n",
    )
    assert_issue(issues_of(path), path, line_of(path, "10.0.0.256"), "devices[1].address", "invalid address")
    path.write_text(path.read_text().replace("10.0.0.256", "10.0.0.2"))
    hs2 = load_inventory(path, environ=ENV).by_id()["hs-2"]
    assert (hs2.kind, hs2.host, hs2.interval) == ("hotspot", "10.0.0.2", 30.0)


# --- CSV -------------------------------------------------------------------------------------------------------------


def test_csv_file_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "inventory:\n  - file: nowhere.csv\n")
    issues = issues_of(path)
    assert_issue(issues, path, 9, "inventory[0].file", f"cannot read CSV file {tmp_path / 'nowhere.csv'}")
    assert len(issues) == 1  # no extra "empty inventory"


def test_csv_header_missing_required_column(tmp_path: Path) -> None:
    csv = write(tmp_path, "inv.csv", "id,kind,host\ncore-1,core_router,127.20.0.1\n")
    path = write(tmp_path, "c.yaml", HEAD + "inventory:\n  - file: inv.csv\n")
    issue = assert_issue(issues_of(path), csv, 1, "inventory[0] header", "missing required column 'address'")
    assert "required: id, kind, address; optional: site, district" in issue.message


def test_csv_semicolon_separated_header(tmp_path: Path) -> None:
    csv = write(tmp_path, "inv.csv", "id;kind;address\ncore-1;core_router;127.20.0.1\n")
    path = write(tmp_path, "c.yaml", HEAD + "inventory:\n  - file: inv.csv\n")
    assert_issue(issues_of(path), csv, 1, "inventory[0] header", "save the spreadsheet as CSV with ','")


def test_csv_bad_values_carry_the_csv_line(tmp_path: Path) -> None:
    csv = write(
        tmp_path,
        "inv.csv",
        "id,kind,address,lat,lon,upstream,tags\n"
        "core-1,core_router,127.20.0.1:1161,51.84,8.26,,backbone;core\n"
        '"dist-1",distribution_switch,127.20.0.2:1161,"51,84",8.26,core-1,\n'
        "hs-1,hotspot,127.20.0.999,51.8,8.2,dist-1,wlan\n"
        "\n"
        "hs-2,Hotspot,127.20.0.4,51.8,8.2,dist-1,bad tag\n",
    )
    path = write(tmp_path, "c.yaml", HEAD + "inventory:\n  - file: inv.csv\n")
    issues = issues_of(path)
    assert_issue(issues, csv, 3, "inventory[0] row 3 (dist-1): lat", "expected a number with a decimal point")
    assert_issue(issues, csv, 4, "inventory[0] row 4 (hs-1): address", "invalid address '127.20.0.999'")
    assert_issue(issues, csv, 6, "inventory[0] row 6 (hs-2): kind", "a kind is a lowercase identifier")
    assert_issue(issues, csv, 6, "inventory[0] row 6 (hs-2): tags", "invalid tag 'bad tag'")
    assert len(issues) == 4  # hs-2's upstream dist-1 is still known although dist-1 is broken
    assert str(issues[1]) == (
        f"{csv}:4: inventory[0] row 4 (hs-1): address: invalid address '127.20.0.999': expected an IPv4 or IPv6 "
        "address with an optional port, e.g. 192.0.2.10, 192.0.2.10:1161, 2001:db8::1 or [2001:db8::1]:1161"
    )


def test_csv_missing_cells(tmp_path: Path) -> None:
    csv = write(tmp_path, "inv.csv", "id,kind,address\ncore-1,,127.20.0.1\n,hotspot,127.20.0.2\n")
    path = write(tmp_path, "c.yaml", HEAD + "inventory:\n  - file: inv.csv\n")
    issues = issues_of(path)
    assert_issue(issues, csv, 2, "inventory[0] row 2 (core-1): kind", "missing kind (required columns: id, kind")
    assert_issue(issues, csv, 3, "inventory[0] row 3: id", "missing id")


def test_csv_unknown_columns_are_warnings(tmp_path: Path) -> None:
    csv = write(tmp_path, "inv.csv", "id,kind,address,owner\ncore-1,core_router,127.20.0.1,Stadtwerke\n")
    path = write(tmp_path, "c.yaml", HEAD + "inventory:\n  - file: inv.csv\n")
    inventory = load_inventory(path, environ=ENV)
    assert inventory.warnings == [
        f"{csv}:1: inventory[0] header: unknown column 'owner' is ignored (known columns: id, kind, address, site, "
        "district, lat, lon, upstream, model, tags, group, profiles, credentials, backhaul)"
    ]


def test_empty_inventory(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices: []\n")
    assert_issue(issues_of(path), path, line_of(path, "devices:"), "devices", "the inventory has no devices")


def test_all_issues_of_a_file_are_collected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        "settings:\n  retries: -1\n  listen: nowhere\n" + HEAD + "groups:\n  g:\n    kinds: [hotspot]\n    parent: g\n"
        "devices:\n" + DEVICE + "    lat: 100\n    group: nope\n    upstream: ghost\n",
    )
    issues = issues_of(path)
    # ordered by line
    assert [(issue.line, issue.field) for issue in issues] == [
        (2, "settings.retries"),
        (3, "settings.listen"),
        (line_of(path, "parent: g"), "groups.g.parent"),
        (line_of(path, "lat: 100"), "devices[0].lat"),
        (line_of(path, "group: nope"), "devices[0].group"),
        (line_of(path, "upstream: ghost"), "devices[0].upstream"),
    ]
    assert "group parent cycle: g -> g" in issues[2].message


# --- the check command ------------------------------------------------------------------------------------------------


def test_check_command_reports_errors_with_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE + "    adress: x\n    lat: north\n")
    result = run_check(path)
    assert result.returncode == 2, result
    output = result.stdout + result.stderr
    assert f"{path}:{line_of(path, 'adress:')}: devices[0].adress: unknown field 'adress'" in output
    assert f"{path}:{line_of(path, 'lat:')}: devices[0].lat: expected a number" in output
    assert "Traceback" not in output


def test_check_command_csv_and_include_errors(tmp_path: Path) -> None:
    csv = write(tmp_path, "inv.csv", "id,kind,address\nhs-1,hotspot,127.20.0.1:99999\n")
    path = write(tmp_path, "c.yaml", "include: [gone.yaml]\n" + HEAD + "inventory:\n  - file: inv.csv\n")
    result = run_check(path)
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert f"{path}:1: include[0]: cannot read configuration file" in output
    assert f"{csv}:2: inventory[0] row 2 (hs-1): address: invalid port '99999'" in output
    assert "Traceback" not in output


def test_check_command_missing_config_file(tmp_path: Path) -> None:
    result = run_check(tmp_path / "nope.yaml")
    assert result.returncode == 2
    assert f"{tmp_path / 'nope.yaml'}: (file): cannot read configuration file" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_check_command_yaml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "devices:\n  - id: a\n   kind: b\n")
    result = run_check(path)
    assert result.returncode == 2
    assert f"{path}:3: (yaml syntax):" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# --- inheritance -----------------------------------------------------------------------------------------------------

LAYERS = """\
settings:
  interval: 2m
  timeout: 1s
  retries: 1
credentials:
  a:
    community: ${COMMUNITY}
  b:
    community: ${COMMUNITY}
defaults:
  credentials: a
  profiles: [system]
  retries: 2
  tags: [city]
groups:
  wlan:
    kinds: [hotspot]
    profiles: [system, interfaces]
    interval: 30s
    tags: [wlan, public]
  schools:
    parent: wlan
    kinds: [school_ap]
    credentials: b
    timeout: 3s
    tags: [school, wlan]
  backbone:
    kinds: [core_router]
    retries: 4
devices:
  - {id: ap-1, kind: school_ap, address: 10.0.0.1, tags: [gym, city]}
  - {id: ap-2, kind: school_ap, address: 10.0.0.2, retries: 5, interval: 10s, profiles: [system, unifi_clients]}
  - {id: hs-1, kind: hotspot, address: 10.0.0.3}
  - {id: hs-2, kind: hotspot, address: 10.0.0.4, group: backbone}
  - {id: cm-1, kind: charger_modem, address: 10.0.0.5}
"""


def test_inheritance_settings_defaults_parent_group_device(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "c.yaml", LAYERS), known_profiles=PROFILES, environ=ENV)
    devices = inventory.by_id()
    ap1, ap2, hs1, hs2, cm1 = (devices[name] for name in ("ap-1", "ap-2", "hs-1", "hs-2", "cm-1"))
    # school AP: interval and profiles from the parent group, credentials and timeout from its group,
    # retries from defaults; tags accumulate in order defaults, parent, group, device (no repeats)
    assert (ap1.group, ap1.credentials, ap1.interval, ap1.timeout, ap1.retries) == ("schools", "b", 30.0, 3.0, 2)
    assert ap1.profiles == ("system", "interfaces")
    assert ap1.tags == ("city", "wlan", "public", "school", "gym")
    # the device wins
    assert (ap2.interval, ap2.retries, ap2.profiles) == (10.0, 5, ("system", "unifi_clients"))
    # parent group alone
    assert (hs1.group, hs1.credentials, hs1.interval, hs1.timeout, hs1.retries) == ("wlan", "a", 30.0, 1.0, 2)
    assert hs1.tags == ("city", "wlan", "public")
    # a named group beats the group claiming the kind
    assert (hs2.group, hs2.retries, hs2.interval, hs2.profiles) == ("backbone", 4, 120.0, ("system",))
    # no group: settings and defaults
    assert (cm1.group, cm1.credentials, cm1.interval, cm1.timeout, cm1.retries, cm1.tags) == (
        None,
        "a",
        120.0,
        1.0,
        2,
        ("city",),
    )
    assert inventory.groups == {"wlan": ("hs-1",), "schools": ("ap-1", "ap-2"), "backbone": ("hs-2",)}


def test_built_in_defaults_without_settings(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "c.yaml", HEAD + "devices:\n" + DEVICE), environ=ENV)
    device = inventory.devices[0]
    assert (device.interval, device.timeout, device.retries, device.port) == (60.0, 2.0, 1, 1161)
    assert (inventory.settings.listen_host, inventory.settings.listen_port) == ("127.0.0.1", 9873)


def test_csv_group_column_beats_the_kind_claim_and_a_forced_group_beats_both(tmp_path: Path) -> None:
    write(
        tmp_path,
        "inv.csv",
        "id,kind,address,group,tags,profiles,credentials,site,district,lat,lon,upstream,model\n"
        "hs-1,hotspot,127.20.0.1:1161,,wlan;public,,,Marktplatz,Altstadt,51.84,8.26,,UAP-AC-Pro\n"
        "hs-2,hotspot,127.20.0.2:1161,events,,system;unifi_clients,b,,,,,hs-1,\n",
    )
    write(tmp_path, "forced.csv", "id,kind,address,group\nhs-3,hotspot,127.20.0.3,events\nhs-4,hotspot,127.20.0.4,\n")
    config = LAYERS.split("devices:")[0] + (
        "  events:\n    interval: 15s\ninventory:\n  - file: inv.csv\n  - file: forced.csv\n    group: schools\n"
    )
    path = write(tmp_path, "c.yaml", config)
    inventory = load_inventory(path, known_profiles=PROFILES, environ=ENV)
    devices = inventory.by_id()
    hs1, hs2, hs3, hs4 = (devices[name] for name in ("hs-1", "hs-2", "hs-3", "hs-4"))
    assert (hs1.group, hs1.host, hs1.port, hs1.site, hs1.district, hs1.lat, hs1.lon, hs1.model) == (
        "wlan",
        "127.20.0.1",
        1161,
        "Marktplatz",
        "Altstadt",
        51.84,
        8.26,
        "UAP-AC-Pro",
    )
    assert hs1.tags == ("city", "wlan", "public")
    assert (hs2.group, hs2.interval, hs2.credentials, hs2.upstream) == ("events", 15.0, "b", "hs-1")
    assert hs2.profiles == ("system", "unifi_clients")
    assert hs3.group == hs4.group == "schools"
    assert inventory.warnings == [
        f"{tmp_path / 'forced.csv'}:2: inventory[1] row 2 (hs-3): group: the row names group 'events' but "
        "inventory[1].group forces 'schools'; the forced group wins (remove one of them)"
    ]


def test_unknown_forced_group_is_reported_once(tmp_path: Path) -> None:
    write(tmp_path, "inv.csv", "id,kind,address\nhs-1,hotspot,127.20.0.1\nhs-2,hotspot,127.20.0.2\n")
    path = write(tmp_path, "c.yaml", HEAD + "inventory:\n  - file: inv.csv\n    group: wifi\n")
    issues = issues_of(path)
    assert_issue(issues, path, 10, "inventory[0].group", "unknown group 'wifi'")
    assert len(issues) == 1


# --- the example city and secrets --------------------------------------------------------------------------------


def test_example_city_loads() -> None:
    inventory = load_inventory(EXAMPLE, known_profiles=PROFILES, environ={"STADTNETZ_SNMP_COMMUNITY": "public"})
    kinds = [device.kind for device in inventory.devices]
    assert len(inventory.devices) == 650
    assert kinds.count("hotspot") == 520
    assert {name: len(ids) for name, ids in inventory.groups.items()} == {
        "backbone": 30,
        "wlan": 520,
        "schools": 40,
        "charging": 60,
    }
    devices = inventory.by_id()
    core, school = devices["core-1"], devices["school-ap-001"]
    assert (core.host, core.port, core.interval, core.upstream) == ("127.20.0.1", 1161, 30.0, None)
    assert core.profiles == ("system", "interfaces", "optics")
    assert school.profiles == ("system", "interfaces", "unifi_clients")  # from its parent group wlan
    assert all(device.port == 1161 and device.credentials == "public-ro" for device in inventory.devices)
    assert inventory.credentials["public-ro"].community.reveal() == "public"
    assert inventory.warnings == []


def test_secret_never_shows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    environ = {"STADTNETZ_SNMP_COMMUNITY": SECRET}
    inventory = load_inventory(EXAMPLE, known_profiles=PROFILES, environ=environ)
    assert isinstance(inventory, Inventory)
    assert inventory.credentials["public-ro"].community.reveal() == SECRET
    assert SECRET not in repr(inventory)
    assert SECRET not in repr(inventory.credentials) + str(inventory.credentials["public-ro"].community)

    # a broken configuration that resolves the secret: neither the errors nor the logs repeat it
    broken = write(
        tmp_path,
        "c.yaml",
        EXAMPLE.read_text().replace("example-city-inventory.csv", str(REPO / "config/example-city-inventory.csv"))
        + "devices:\n  - {id: x, kind: hotspot, address: nowhere}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_inventory(broken, known_profiles=PROFILES, environ=environ)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.issues)
    assert SECRET not in caplog.text

    ok = run_check(EXAMPLE, env=environ)
    assert ok.returncode == 0, ok.stderr
    assert "650 devices" in ok.stdout and "public-ro" in ok.stdout and "env" in ok.stdout
    failed = run_check(broken, env=environ)
    assert failed.returncode == 2
    assert f"{broken}:" in failed.stderr
    for output in (ok.stdout, ok.stderr, failed.stdout, failed.stderr):
        assert SECRET not in output
        assert "Traceback" not in output


# --- traps ----------------------------------------------------------------------------------------------------------


def test_trap_settings_load_with_their_secrets_from_references(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "city.yaml",
        HEAD
        + """\
settings:
  trap_listen: 127.0.0.1:1162
  trap_community: ${TRAP}
  trap_v3_users:
    - {user: noc, auth_key: "${AUTH}", priv_key: file:priv.key, engine_id: '0x800000020109840301'}
    - {user: watch, auth_protocol: sha256, auth_key: "${AUTH}", priv_protocol: none}
devices:
"""
        + DEVICE,
    )
    (tmp_path / "priv.key").write_text("priv-secret-77\n")
    settings = load_inventory(
        path, known_profiles=PROFILES, environ={**ENV, "TRAP": "t-c", "AUTH": "auth-secret-1"}
    ).settings
    assert settings.trap_listen == ("127.0.0.1", 1162)
    assert settings.trap_community is not None and settings.trap_community.reveal() == "t-c"
    noc, watch = settings.trap_v3_users
    assert (noc.name, noc.auth_protocol, noc.priv_protocol, noc.engine_id) == (
        "noc",
        "sha",
        "aes",
        bytes.fromhex("800000020109840301"),
    )
    assert noc.priv_key is not None and noc.priv_key.reveal() == "priv-secret-77"
    assert (watch.auth_protocol, watch.priv_protocol, watch.priv_key, watch.engine_id) == ("sha256", "none", None, None)
    assert "secret" not in repr(settings)


def test_trap_user_mistakes_name_the_line_and_never_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "city.yaml",
        HEAD
        + """\
settings:
  trap_v3_users:
    - {user: literal, auth_key: my-secret-key-1}
    - {user: short, auth_key: "${SHORT}", priv_protocol: none}
    - {user: nopriv, auth_key: "${AUTH}"}
    - {user: backwards, auth_protocol: none, priv_key: "${AUTH}"}
    - {user: hex, auth_key: "${AUTH}", priv_protocol: none, engine_id: 0x800000020109840301}
    - {user: proto, auth_protocol: sha1, auth_key: "${AUTH}", priv_protocol: none}
devices:
"""
        + DEVICE,
    )
    issues = issues_of(path, environ={**ENV, "SHORT": "1234567", "AUTH": "auth-secret-1"})
    text = "\n".join(map(str, issues))
    assert_issue(issues, path, line_of(path, "literal"), "settings.trap_v3_users[0].auth_key", "a literal key is not")
    assert_issue(issues, path, line_of(path, "short"), "settings.trap_v3_users[1]", "shorter than 8 characters")
    assert_issue(issues, path, line_of(path, "nopriv"), "settings.trap_v3_users[2]", "priv_key is required with aes")
    assert_issue(
        issues, path, line_of(path, "backwards"), "settings.trap_v3_users[3]", "privacy without authentication"
    )
    assert_issue(issues, path, line_of(path, "user: hex"), "settings.trap_v3_users[4].engine_id", "in quotes")
    assert_issue(issues, path, line_of(path, "user: proto"), "settings.trap_v3_users[5].auth_protocol", "sha256")
    assert "my-secret-key-1" not in text and "1234567" not in text and "auth-secret-1" not in text


# --- ocpp.auth: charger ids closed by default ------------------------------------------------------------------------

CHARGERS = """\
chargers:
  - {id: cp-001, password: "${CP1_PASSWORD}"}
  - {id: cp-002}
  - {id: cp-003}
"""
CHARGER_ENV = {**ENV, "CP1_PASSWORD": "cp1-Passw0rd-x", "SHARED": "shared-Passw0rd-y"}


def test_a_charger_without_any_password_is_an_error_naming_it_and_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "city.yaml", HEAD + "devices:\n" + DEVICE + "ocpp:\n  listen: 127.0.0.1:9000\n" + CHARGERS)
    issues = issues_of(path, environ=CHARGER_ENV)
    issue = assert_issue(issues, path, line_of(path, "cp-002"), "chargers[1]", "no password for charger(s) 'cp-002'")
    assert "'cp-003'" in issue.message and "'cp-001'" not in issue.message
    assert "auth: none" in issue.message and "ocpp.password" in issue.message
    assert "cp1-Passw0rd-x" not in "\n".join(map(str, issues))
    # `stadtnetz check` says the same, exit code 2
    result = run_check(path, env=CHARGER_ENV)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{path}:{line_of(path, 'cp-002')}: chargers[1]: no password for charger(s)" in result.stdout + result.stderr


def test_a_shared_password_or_an_explicit_auth_none_loads(tmp_path: Path) -> None:
    shared = write(
        tmp_path,
        "shared.yaml",
        HEAD + "devices:\n" + DEVICE + 'ocpp:\n  listen: 127.0.0.1:9000\n  password: "${SHARED}"\n' + CHARGERS,
    )
    inventory = load_inventory(shared, known_profiles=PROFILES, environ=CHARGER_ENV)
    assert inventory.ocpp is not None and inventory.ocpp.auth == "basic"
    passwords = {charger.id: charger.password.reveal() for charger in inventory.chargers if charger.password}
    assert passwords == {"cp-001": "cp1-Passw0rd-x", "cp-002": "shared-Passw0rd-y", "cp-003": "shared-Passw0rd-y"}
    opened = write(
        tmp_path,
        "open.yaml",
        HEAD + "devices:\n" + DEVICE + "ocpp:\n  listen: 127.0.0.1:9000\n  auth: none\n" + CHARGERS,
    )
    inventory = load_inventory(opened, known_profiles=PROFILES, environ=CHARGER_ENV)
    assert inventory.ocpp is not None and inventory.ocpp.auth == "none"
    result = run_check(opened, env=CHARGER_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    text = " ".join((result.stdout + result.stderr).split())
    assert "warning: OCPP endpoint accepts any charger id without credentials (ocpp.auth: none; 2 of 3" in text
    assert "cp1-Passw0rd-x" not in text


def test_an_unknown_auth_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "city.yaml",
        HEAD + "devices:\n" + DEVICE + "ocpp:\n  listen: 127.0.0.1:9000\n  auth: open\n" + CHARGERS,
    )
    assert_issue(issues_of(path, environ=CHARGER_ENV), path, line_of(path, "auth: open"), "ocpp.auth", "'basic'")


@pytest.mark.parametrize(
    ("listen", "tls", "warned"),
    [
        ("0.0.0.0:9000", False, True),
        ("[::]:9000", False, True),
        ("127.0.0.2:9000", False, False),
        ("[::1]:9000", False, False),
        ("0.0.0.0:9000", True, False),
    ],
)
def test_check_warns_when_basic_auth_would_travel_in_clear_text(
    tmp_path: Path, listen: str, tls: bool, warned: bool
) -> None:
    """Nothing is bound: `stadtnetz check` only reads the configuration."""
    ocpp = f'ocpp:\n  listen: "{listen}"\n  password: "${{SHARED}}"\n'
    if tls:
        from tests.test_chargers_service import self_signed

        self_signed(tmp_path)
        ocpp += "  tls: {certificate: ocpp.crt, key: ocpp.key}\n"
    path = write(tmp_path, "city.yaml", HEAD + "devices:\n" + DEVICE + ocpp + CHARGERS)
    result = run_check(path, env=CHARGER_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    text = " ".join((result.stdout + result.stderr).split())
    assert ("uses HTTP Basic auth over plain ws://: charger passwords travel in clear text" in text) is warned, text
    assert "accepts any charger id" not in text and "shared-Passw0rd-y" not in text
