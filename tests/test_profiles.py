"""SNMP profiles: loading and its errors, MIB names, selection, poll plans and evaluation.

Loading errors are checked as the exact ``FILE:LINE: field: message`` line an
operator reads. Evaluation is checked on hand-made varbinds (no network), and
at the end on what our client reads from the simulated city on a frozen clock,
compared with what the simulator holds.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from collectors.snmp.client import SnmpClient, Target
from collectors.snmp.profiles import (
    SYS_OBJECT_ID,
    SYS_UPTIME,
    PollPlan,
    ProfileError,
    ProfileLibrary,
    load_profiles,
    profile_names,
    resolve_oid,
)
from collectors.snmp.types import (
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    Counter32,
    Counter64,
    Gauge32,
    Oid,
    TimeTicks,
    Value,
    VarBind,
)
from simulators.city import KIND_CHARGER_MODEM, KIND_CORE, KIND_DISTRIBUTION, KIND_HOTSPOT, DeviceSpec
from simulators.mib import HIGH_LEVELS
from stadtnetz.clock import ManualClock
from stadtnetz.labels import escape_label
from stadtnetz.model import MetricKind, Reading
from tests.support.simulation import ThreadedSimulation

BUILTIN = {"interfaces", "optics", "system", "unifi_clients"}
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)

# IF-MIB columns as the built-in interfaces profile names them
IF_DESCR = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)
IF_TYPE = (1, 3, 6, 1, 2, 1, 2, 2, 1, 3)
IF_SPEED = (1, 3, 6, 1, 2, 1, 2, 2, 1, 5)
IF_ADMIN_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 7)
IF_OPER_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)
IF_IN_OCTETS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 10)
IF_IN_ERRORS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 14)
IF_OUT_OCTETS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 16)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_HC_IN_OCTETS = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6)
IF_HC_OUT_OCTETS = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10)
IF_HIGH_SPEED = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15)
IF_ALIAS = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18)
IF_INDEX = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)

# ENTITY-MIB, ENTITY-SENSOR-MIB and CISCO-ENTITY-SENSOR-MIB columns of the optics profile
SENSOR_TYPE = (1, 3, 6, 1, 2, 1, 99, 1, 1, 1, 1)
SENSOR_SCALE = (1, 3, 6, 1, 2, 1, 99, 1, 1, 1, 2)
SENSOR_PRECISION = (1, 3, 6, 1, 2, 1, 99, 1, 1, 1, 3)
SENSOR_VALUE = (1, 3, 6, 1, 2, 1, 99, 1, 1, 1, 4)
ENTITY_CONTAINED_IN = (1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 4)
ENTITY_NAME = (1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 7)
ALIAS_MAPPING = (1, 3, 6, 1, 2, 1, 47, 1, 3, 2, 1, 2)
THRESHOLD_SEVERITY = (1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 2, 1, 1, 2)
THRESHOLD_RELATION = (1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 2, 1, 1, 3)
THRESHOLD_VALUE = (1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 2, 1, 1, 4)
WATTS, CELSIUS, DBM = 6, 8, 14
MICRO, UNITS = 7, 9

# UBNT-UniFi-MIB columns of the unifi_clients profile
VAP_SSID = (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 2, 1, 6)
VAP_STATIONS = (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 2, 1, 8)
VAP_RADIO = (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 2, 1, 9)

CISCO = (1, 3, 6, 1, 4, 1, 9)
CISCO_ASR = (1, 3, 6, 1, 4, 1, 9, 1, 2658)
JUNIPER_MX = (1, 3, 6, 1, 4, 1, 2636, 1, 1, 1, 2, 151)
# 2026-06-10 10:00 CET (UTC+1) as epoch seconds
FROZEN_AT = 1_781_046_000.0 + 10 * 3600


# ------------------------------------------------------------------ helpers


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(directory: Path) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        load_profiles([directory])
    assert str(caught.value) == "\n".join(caught.value.issues)
    return caught.value.issues


def walked(plan: PollPlan, columns: Mapping[Oid, Mapping[tuple[int, ...], Value]]) -> dict[Oid, list[VarBind]]:
    """What a walk of ``plan``'s roots would return if the device held ``columns`` (root -> index -> value)."""
    result: dict[Oid, list[VarBind]] = {root: [] for root in plan.walk_roots}
    for root, rows in columns.items():
        assert root in result, f"{root} is not walked by the plan"
        result[root] = [((*root, *index), value) for index, value in sorted(rows.items())]
    return result


_LABEL = re.compile(r',([a-z_][a-z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"')
_UNESCAPE = {'\\"': '"', "\\\\": "\\", "\\n": "\n"}


def labels_of(reading: Reading) -> dict[str, str]:
    """A reading's labels as a mapping; fails unless their rendering is valid Prometheus text-format labels
    that read back as the same pairs."""
    text = reading.labels.text
    assert re.fullmatch(f"(?:{_LABEL.pattern})*", text), text
    pairs = [(m[1], re.sub(r'\\["\\n]', lambda e: _UNESCAPE[e[0]], m[2])) for m in _LABEL.finditer(text)]
    assert pairs == list(reading.labels.pairs), text
    labels = dict(pairs)
    assert len(labels) == len(pairs), f"a label appears twice: {text}"
    return labels


def of_metric(readings: list[Reading], name: str) -> list[Reading]:
    return [r for r in readings if r.metric.name == name]


def keyed(readings: list[Reading], name: str, label: str) -> dict[str, Reading]:
    """The readings of one metric by the value of one label (which must be unique among them)."""
    chosen = of_metric(readings, name)
    by_label = {labels_of(r)[label]: r for r in chosen}
    assert len(by_label) == len(chosen), f"{name}: label {label} is not unique"
    return by_label


def only(readings: list[Reading], name: str, **labels: str) -> Reading:
    matching = [r for r in of_metric(readings, name) if labels.items() <= labels_of(r).items()]
    assert len(matching) == 1, f"{name} {labels}: {[r.labels for r in of_metric(readings, name)]}"
    return matching[0]


@pytest.fixture(scope="module")
def library() -> ProfileLibrary:
    return load_profiles()


# ------------------------------------------------------------------ loading: built-ins and replacing them


def test_builtin_profiles_load_and_define_the_exported_metrics(library: ProfileLibrary) -> None:
    assert library.names() == BUILTIN == profile_names()
    metrics = {
        d.metric.name: d.metric.kind
        for profile in library.profiles.values()
        for table in profile.tables
        for d in table.metrics
    }
    assert metrics["stadtnetz_interface_receive_bytes"] is MetricKind.COUNTER
    assert metrics["stadtnetz_interface_oper_status"] is MetricKind.ENUM
    assert metrics["stadtnetz_optical_power_dbm"] is MetricKind.GAUGE
    assert metrics["stadtnetz_wlan_clients"] is MetricKind.GAUGE
    system = library.profiles["system"]
    assert [s.oid for s in system.scalars] == [SYS_UPTIME]
    assert [oid for _, oid in system.info[0].labels] == [SYS_NAME, SYS_OBJECT_ID, SYS_DESCR]


def test_a_profile_in_an_extra_dir_replaces_the_builtin_of_the_same_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "optics.yaml",
        "description: site optics\nselect: {kinds: [hotspot]}\n"
        "scalars:\n  - {metric: laser_bias_amperes, oid: 1.3.6.1.4.1.99999.1.0}\n",
    )
    library = load_profiles([tmp_path])
    optics = library.profiles["optics"]
    assert optics.source == path and optics.description == "site optics"
    assert optics.tables == [] and [s.metric.name for s in optics.scalars] == ["stadtnetz_laser_bias_amperes"]
    assert library.select((), KIND_HOTSPOT, None) == ("interfaces", "optics", "system", "unifi_clients")
    assert library.select((), KIND_CORE, None) == ("interfaces", "system")
    assert profile_names([tmp_path]) == BUILTIN
    # the other built-ins are still there, from the built-in directory
    assert library.profiles["system"].source.parent.name == "profiles"
    assert library.profiles["system"].source.parent != tmp_path


# ------------------------------------------------------------------ loading errors, exact text

TABLE = "tables:\n  - name: t\n    columns: {a: 1.3.6.1.4.1.99999.1.1, b: 1.3.6.1.4.1.99999.1.2}\n"

LOADING_ERRORS = [
    pytest.param(
        "scalars:\n  - metric: up\n   oid: 1.3.6.1.2.1.1.3.0\n",
        "3: (yaml syntax): expected <block end>, but found '<block mapping start>'",
        id="yaml-syntax",
    ),
    pytest.param(
        "tables:\n  - name: t\n    columns:\n      a: 1.3.6.1.4.1.99999.1.1\n      a: 1.3.6.1.4.1.99999.1.2\n",
        "5: tables[0].columns.a: duplicate key",
        id="duplicate-key",
    ),
    pytest.param(
        "description: x\nscalar:\n  - metric: up\n    oid: 1.3.6.1.2.1.1.3.0\n",
        "2: scalar: unknown key 'scalar' (allowed: ['description', 'info', 'scalars', 'select', 'tables'])",
        id="unknown-top-level-key",
    ),
    pytest.param(
        TABLE + "    rows: a\n    metrics: []\n    label: {x: a}\n",
        "6: tables[0].label: unknown key 'label' "
        "(allowed: ['columns', 'index', 'labels', 'metrics', 'name', 'rows', 'speed', 'where'])",
        id="unknown-table-key",
    ),
    pytest.param(
        "scalars:\n  - metric: Uptime-Seconds\n    oid: 1.3.6.1.2.1.1.3.0\n",
        "2: scalars[0].metric: metric name 'Uptime-Seconds' must match [a-z_][a-z0-9_]*",
        id="metric-name-invalid",
    ),
    pytest.param(
        TABLE + "    rows: a\n    metrics:\n      - {metric: frames_total, type: counter, value: a}\n",
        "6: tables[0].metrics[0].metric: counter 'frames_total': leave out _total, it is added on export",
        id="counter-named-total",
    ),
    pytest.param(
        TABLE + "    rows: a\n    metrics:\n      - metric: level\n        value: {column: c, fallback: a}\n",
        "7: tables[0].metrics[0].value.column: unknown column 'c' (this table has: ['a', 'b'])",
        id="unknown-column",
    ),
    pytest.param(
        TABLE + "    rows: a\n    labels:\n      x: {column: b, fallback: {column: nope}}\n    metrics: []\n",
        "6: tables[0].labels.x.fallback.column: unknown column 'nope' (this table has: ['a', 'b'])",
        id="unknown-column-in-fallback",
    ),
    pytest.param(
        TABLE + "    rows: c\n    metrics: []\n",
        "4: tables[0].rows: rows must name one of the columns ['a', 'b']",
        id="rows-not-a-column",
    ),
    pytest.param(
        TABLE + "    rows: a\n    index: [slot]\n    labels:\n"
        "      kind_of: {label: name, match: {x: y}}\n      name: b\n    metrics: []\n",
        "7: tables[0].labels.kind_of.label: label 'name' is not defined before this one (known: ['slot'])",
        id="label-defined-later",
    ),
    pytest.param(
        TABLE + "    rows: a\n    labels:\n      name: b\n      group: {label: name, match: {'^(up': uplink}}\n"
        "    metrics: []\n",
        "7: tables[0].labels.group.match.^(up: invalid regular expression: "
        "missing ), unterminated subpattern at position 1",
        id="invalid-regex",
    ),
    pytest.param(
        TABLE + "    rows: a\n    labels:\n      device: b\n    metrics: []\n",
        "6: tables[0].labels.device: label 'device' is set by stadtnetz itself "
        "(reserved: ['device', 'district', 'kind', 'site', 'state'])",
        id="reserved-label",
    ),
    pytest.param(
        "tables:\n  - name: t\n    columns:\n      name: IF-MIB::ifName\n    rows: name\n    metrics: []\n",
        "4: tables[0].columns.name: MIB module IF-MIB is not available to pysnmp: use the numeric OID, "
        "or compile the MIB with pysmi (mibdump IF-MIB) into a directory listed in settings.mib_dirs",
        id="if-mib-unresolvable",
    ),
    pytest.param(
        "scalars:\n  - metric: temperature\n    oid: 1.3.6.1.4.1.99999.1.0\n    type: histogram\n",
        "4: scalars[0].type: type 'histogram' is not one of ['counter', 'enum', 'gauge', 'info']",
        id="bad-type",
    ),
    pytest.param(
        TABLE + "    rows: a\n    metrics:\n      - metric: level\n        value: a\n"
        "        utilisation: {metric: level_ratio, direction: receive}\n",
        "8: tables[0].metrics[0].utilisation: utilisation derives from a counter's rate",
        id="utilisation-on-gauge",
    ),
    pytest.param(
        TABLE + "    rows: a\n    metrics:\n      - metric: power_dbm\n"
        "        value: {entity_sensor: {value: a, scale: b, precision: b}, unit: dbm}\n",
        "7: tables[0].metrics[0].value.entity_sensor: needs exactly: value, scale, precision, type (expressions)",
        id="entity-sensor-missing-type",
    ),
    pytest.param(
        "info:\n  - metric: firmware\n    labels: {version: 1.3.6.1.4.1.99999.2.0}\n",
        "2: info[0].metric: info metric names end in _info",
        id="info-without-_info",
    ),
]


@pytest.mark.parametrize(("text", "expected"), LOADING_ERRORS)
def test_loading_error_names_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "broken.yaml", text)
    assert issues_of(tmp_path) == [f"{path}:{expected}"]


MALFORMED = [
    pytest.param(
        "scalars:\n  - metric: temperature\n    oid: 1.3.6.1.4.1.99999.1.0\n    scale: tenth\n",
        "4: scalars[0].scale: scale must be a number",
        id="scalar-scale-not-a-number",
    ),
    pytest.param("scalars: 5\n", "1: scalars: must be a list", id="scalars-not-a-list"),
    pytest.param("select: {kinds: hotspot}\n", "1: select.kinds: must be a list", id="select-kinds-not-a-list"),
    pytest.param(
        TABLE + "    rows: [a]\n    metrics: []\n",
        "4: tables[0].rows: rows must name one of the columns ['a', 'b']",
        id="rows-a-list",
    ),
    pytest.param(
        TABLE + "    rows: a\n    index: slot\n    metrics: []\n",
        "5: tables[0].index: must be a list",
        id="index-not-a-list",
    ),
    pytest.param(
        TABLE + "    rows: a\n    labels: [a]\n    metrics: []\n",
        "5: tables[0].labels: labels map label names to expressions",
        id="labels-not-a-mapping",
    ),
    pytest.param(
        TABLE + "    rows: a\n    where: {column: a, in: 6}\n    metrics: []\n",
        "5: tables[0].where.in: must be a list",
        id="where-in-not-a-list",
    ),
    pytest.param(TABLE + "    rows: a\n    metrics: 5\n", "5: tables[0].metrics: must be a list", id="metrics"),
    pytest.param(
        TABLE + "    rows: a\n    labels: {x: {column: a, suffix: 1}}\n    metrics: []\n",
        "5: tables[0].labels.x.suffix: suffix must be a list of non-negative integers",
        id="suffix-not-a-list",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_shapes_are_reported_like_any_other_error(tmp_path: Path, text: str, expected: str) -> None:
    # Not a TypeError/ValueError escaping the loader (which `stadtnetz check` would show as a traceback),
    # and never a silently misread value (a string iterated as a list of characters).
    path = write(tmp_path, "broken.yaml", text)
    assert issues_of(tmp_path) == [f"{path}:{expected}"]


def test_one_metric_name_cannot_be_a_gauge_in_one_profile_and_a_counter_in_another(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "scalars:\n  - {metric: frames, oid: 1.3.6.1.4.1.99999.1.0, type: gauge}\n")
    second = write(
        tmp_path,
        "b.yaml",
        "description: b\nscalars:\n  - {metric: frames, oid: 1.3.6.1.4.1.99999.2.0, type: counter}\n",
    )
    assert issues_of(tmp_path) == [
        f"{second}:3: scalars[0].metric: metric 'frames' is already defined as a gauge by another profile"
    ]
    # the same kind twice is fine, and both profiles share one definition
    write(tmp_path, "b.yaml", "scalars:\n  - {metric: frames, oid: 1.3.6.1.4.1.99999.2.0, type: gauge}\n")
    library = load_profiles([tmp_path])
    assert library.profiles["a"].scalars[0].metric is library.profiles["b"].scalars[0].metric
    # against a built-in: uptime_seconds is the system profile's gauge
    write(tmp_path, "b.yaml", "scalars:\n  - {metric: uptime_seconds, oid: 1.3.6.1.4.1.99999.2.0, type: counter}\n")
    assert issues_of(tmp_path) == [
        f"{second}:2: scalars[0].metric: metric 'uptime_seconds' is already defined as a gauge by another profile"
    ]


def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    first = write(tmp_path, "a_syntax.yaml", "description: 'open\n")
    second = write(tmp_path, "b_type.yaml", "scalars:\n  - {metric: x, oid: 1.3.6.1.4.1.99999.1.0, type: float}\n")
    write(tmp_path, "c_fine.yaml", "scalars:\n  - {metric: fine, oid: 1.3.6.1.4.1.99999.3.0}\n")
    third = write(tmp_path, "d_mib.yaml", "description: d\nscalars:\n  - {metric: name, oid: 'IF-MIB::ifName.1'}\n")
    fourth = write(tmp_path, "e_top.yaml", "scalars: []\nmetrics: []\n")
    issues = issues_of(tmp_path)
    assert issues == [
        f"{first}:2: (yaml syntax): found unexpected end of stream",
        f"{second}:2: scalars[0].type: type 'float' is not one of ['counter', 'enum', 'gauge', 'info']",
        f"{third}:3: scalars[0].oid: MIB module IF-MIB is not available to pysnmp: use the numeric OID, "
        "or compile the MIB with pysmi (mibdump IF-MIB) into a directory listed in settings.mib_dirs",
        f"{fourth}:2: metrics: unknown key 'metrics' (allowed: ['description', 'info', 'scalars', 'select', 'tables'])",
    ]


# ------------------------------------------------------------------ MIB names


def test_symbolic_names_resolve_through_snmpv2_mib() -> None:
    assert resolve_oid("SNMPv2-MIB::sysUpTime.0") == (1, 3, 6, 1, 2, 1, 1, 3, 0)
    assert resolve_oid("SNMPv2-MIB::sysName.0") == (1, 3, 6, 1, 2, 1, 1, 5, 0)
    assert resolve_oid(" SNMPv2-MIB::sysDescr ") == (1, 3, 6, 1, 2, 1, 1, 1)
    assert resolve_oid("SNMPv2-MIB::sysORDescr.3") == (1, 3, 6, 1, 2, 1, 1, 9, 1, 3, 3)


def test_numeric_oids_with_and_without_leading_dot() -> None:
    assert resolve_oid("1.3.6.1.2.1.1.5.0") == resolve_oid(".1.3.6.1.2.1.1.5.0") == SYS_NAME
    with pytest.raises(ValueError, match=r"'six' is not a non-negative number"):
        resolve_oid("1.3.six.1")
    with pytest.raises(ValueError, match="empty OID"):
        resolve_oid(".")
    with pytest.raises(ValueError, match=r"sub-identifier 4294967296 exceeds 2\*\*32-1"):
        resolve_oid("1.3.6.4294967296")


def test_unresolvable_names_say_why() -> None:
    with pytest.raises(ValueError) as missing_module:
        resolve_oid("IF-MIB::ifName")
    assert str(missing_module.value) == (
        "MIB module IF-MIB is not available to pysnmp: use the numeric OID, or compile the MIB with pysmi "
        "(mibdump IF-MIB) into a directory listed in settings.mib_dirs"
    )
    with pytest.raises(ValueError, match=r"^cannot resolve SNMPv2-MIB::sysNoSuchThing\.0: "):
        resolve_oid("SNMPv2-MIB::sysNoSuchThing.0")


# ------------------------------------------------------------------ selection and plans


def test_profiles_selected_by_kind(library: ProfileLibrary) -> None:
    assert library.select((), KIND_HOTSPOT, None) == ("interfaces", "system", "unifi_clients")
    assert library.select((), "school_ap", None) == ("interfaces", "system", "unifi_clients")
    assert library.select((), KIND_CORE, CISCO_ASR) == ("interfaces", "optics", "system")
    assert library.select((), KIND_DISTRIBUTION, None) == ("interfaces", "optics", "system")
    assert library.select((), KIND_CHARGER_MODEM, None) == ("interfaces", "system")


def test_sys_object_id_selection_needs_the_sys_object_id(tmp_path: Path) -> None:
    write(tmp_path, "cisco.yaml", "select: {sys_object_ids: [1.3.6.1.4.1.9]}\nscalars:\n")
    write(
        tmp_path,
        "cisco_cpu.yaml",
        "select:\n  sys_object_ids: [.1.3.6.1.4.1.9.1.2658]\n"
        "scalars:\n  - {metric: cpu_ratio, oid: 1.3.6.1.4.1.9.9.109.1.1.1.1.7.1, scale: 0.01}\n",
    )
    library = load_profiles([tmp_path])
    assert library.profiles["cisco"].sys_object_ids == (CISCO,)
    assert library.select((), KIND_CORE, None) == ("interfaces", "optics", "system")
    assert library.select((), KIND_CORE, CISCO_ASR) == ("cisco", "cisco_cpu", "interfaces", "optics", "system")
    assert library.select((), KIND_CORE, (1, 3, 6, 1, 4, 1, 9, 1, 2494)) == (
        "cisco",
        "interfaces",
        "optics",
        "system",
    )
    assert library.select((), KIND_CORE, JUNIPER_MX) == ("interfaces", "optics", "system")
    # a prefix of arcs, not of text: enterprise 99 is not Cisco's 9
    assert library.select((), KIND_CORE, (1, 3, 6, 1, 4, 1, 99, 1)) == ("interfaces", "optics", "system")
    assert library.select((), KIND_CORE, CISCO) == ("cisco", "interfaces", "optics", "system")


def test_named_profiles_are_always_included_first(library: ProfileLibrary) -> None:
    assert library.select(("optics",), KIND_HOTSPOT, None) == ("optics", "interfaces", "system", "unifi_clients")
    assert library.select(("unifi_clients", "optics", "unifi_clients"), KIND_CHARGER_MODEM, None) == (
        "unifi_clients",
        "optics",
        "interfaces",
        "system",
    )
    assert library.select(("system",), KIND_CORE, None) == ("system", "interfaces", "optics")


def test_plans_are_compiled_once_per_profile_set(library: ProfileLibrary) -> None:
    hotspot = library.plan(library.select((), KIND_HOTSPOT, None))
    assert library.plan(("interfaces", "system", "unifi_clients")) is hotspot
    assert library.plan(("interfaces", "optics", "system")) is not hotspot
    assert [p.name for p in hotspot.profiles] == ["interfaces", "system", "unifi_clients"]
    # one GET: sysUpTime and sysObjectID always (the poller needs them), then every scalar once
    assert library.plan(("system",)).scalar_oids == [SYS_UPTIME, SYS_OBJECT_ID, SYS_NAME, SYS_DESCR]
    assert library.plan(("interfaces",)).scalar_oids == [SYS_UPTIME, SYS_OBJECT_ID]
    assert library.plan(("system",)).walk_roots == []
    # one walk: every column once, even when two tables share it
    optics = library.plan(("optics",))
    assert len(optics.walk_roots) == len(set(optics.walk_roots)) == 11
    assert {SENSOR_VALUE, THRESHOLD_VALUE, IF_NAME, ALIAS_MAPPING} <= set(optics.walk_roots)
    assert len(hotspot.walk_roots) == 16 + 3 + 2  # IF-MIB, UniFi VAP and radio columns
    with pytest.raises(KeyError, match="unknown profile"):
        library.plan(("system", "ups"))


# ------------------------------------------------------------------ evaluation on hand-made varbinds


def interface_columns() -> dict[Oid, dict[tuple[int, ...], Value]]:
    """ifIndex 1 eth0 (64-bit), 2 a loopback, 3 wwan0 (32-bit only), 4 with noSuchInstance in ifName and ifHC*."""
    return {
        IF_DESCR: {(1,): b"eth0", (2,): b"lo", (3,): b"wwan0", (4,): b"GigabitEthernet0/4"},
        IF_TYPE: {(1,): 6, (2,): 24, (3,): 243, (4,): 6},
        IF_SPEED: {(1,): Gauge32(1_000_000_000), (2,): Gauge32(0), (3,): Gauge32(150_000_000), (4,): Gauge32(0)},
        IF_ADMIN_STATUS: {(1,): 1, (2,): 1, (3,): 1, (4,): 2},
        IF_OPER_STATUS: {(1,): 1, (2,): 1, (3,): 7, (4,): 9},
        IF_IN_OCTETS: {(1,): Counter32(705_032_704), (2,): Counter32(5), (3,): Counter32(4_000_000_000), (4,): 12},
        IF_OUT_OCTETS: {(1,): Counter32(1), (2,): Counter32(5), (3,): Counter32(3), (4,): Counter32(77)},
        IF_IN_ERRORS: {(1,): Counter32(3), (2,): Counter32(0), (3,): NO_SUCH_INSTANCE},
        IF_NAME: {(1,): b"eth0", (2,): b"lo", (3,): b"wwan0", (4,): NO_SUCH_INSTANCE},
        IF_HC_IN_OCTETS: {(1,): Counter64(5_000_000_000), (2,): Counter64(5), (4,): NO_SUCH_INSTANCE},
        IF_HC_OUT_OCTETS: {(1,): Counter64(2**64 - 1), (2,): Counter64(5), (4,): NO_SUCH_INSTANCE},
        IF_HIGH_SPEED: {(1,): Gauge32(1000), (2,): Gauge32(0), (4,): Gauge32(0)},
        IF_ALIAS: {(1,): b'Uplink "Nord" \\ Halle\n2', (2,): b"", (3,): b"LTE backup\x00\x00"},
    }


def test_interfaces_prefer_64_bit_counters_and_fall_back_to_32_bit(library: ProfileLibrary) -> None:
    plan = library.plan(("interfaces",))
    readings = plan.evaluate([], walked(plan, interface_columns()))
    received = keyed(readings, "stadtnetz_interface_receive_bytes", "if_index")
    assert set(received) == {"1", "3", "4"}  # the loopback (ifType 24) is left out
    assert (received["1"].value, received["1"].bits) == (5_000_000_000, 64)
    assert (received["3"].value, received["3"].bits) == (4_000_000_000, 32)
    # noSuchInstance in ifHCInOctets counts as missing: the 32-bit column is used; a plain INTEGER has no width
    assert (received["4"].value, received["4"].bits) == (12, 0)
    sent = keyed(readings, "stadtnetz_interface_transmit_bytes", "if_index")
    assert (sent["1"].value, sent["1"].bits) == (2**64 - 1, 64)
    assert (sent["4"].value, sent["4"].bits) == (77, 32)
    for reading in (*received.values(), *sent.values()):
        assert reading.metric.kind is MetricKind.COUNTER
        assert reading.utilisation is not None and reading.utilisation.name == "stadtnetz_interface_utilisation_ratio"
    assert received["1"].direction == "receive" and sent["1"].direction == "transmit"
    # speed in bytes/s: ifHighSpeed (Mbit/s) x 125000, else ifSpeed (bit/s) / 8; 0 means unknown
    assert [received[i].speed for i in ("1", "3", "4")] == [125_000_000.0, 18_750_000.0, 0.0]
    speeds = keyed(readings, "stadtnetz_interface_speed_bytes", "if_index")
    assert {i: r.value for i, r in speeds.items()} == {"1": 125_000_000.0, "3": 18_750_000.0, "4": 0.0}
    # a counter column absent for a row, or noSuchInstance there, gives no reading for that row
    assert set(keyed(readings, "stadtnetz_interface_receive_errors", "if_index")) == {"1"}
    assert only(readings, "stadtnetz_interface_receive_errors", if_index="1").value == 3
    assert not any(labels_of(r)["if_index"] == "2" for r in readings)


def test_interface_labels_fall_back_and_enum_states_become_a_state_label(library: ProfileLibrary) -> None:
    plan = library.plan(("interfaces",))
    readings = plan.evaluate([], walked(plan, interface_columns()))
    names = {
        i: labels_of(r)["interface"] for i, r in keyed(readings, "stadtnetz_interface_speed_bytes", "if_index").items()
    }
    assert names == {"1": "eth0", "3": "wwan0", "4": "GigabitEthernet0/4"}  # ifName, else ifDescr
    assert labels_of(only(readings, "stadtnetz_interface_speed_bytes", if_index="3"))["alias"] == "LTE backup"
    assert labels_of(only(readings, "stadtnetz_interface_speed_bytes", if_index="4"))["alias"] == "GigabitEthernet0/4"
    oper = keyed(readings, "stadtnetz_interface_oper_status", "if_index")
    assert {i: labels_of(r)["state"] for i, r in oper.items()} == {"1": "up", "3": "lower_layer_down", "4": "9"}
    assert all(r.value == 1.0 and r.metric.kind is MetricKind.ENUM for r in oper.values())
    admin = keyed(readings, "stadtnetz_interface_admin_status", "if_index")
    assert {i: labels_of(r)["state"] for i, r in admin.items()} == {"1": "up", "3": "up", "4": "down"}
    assert oper["3"].labels.text == ',if_index="3",interface="wwan0",alias="LTE backup",state="lower_layer_down"'


def test_label_values_are_escaped_for_the_prometheus_text_format(library: ProfileLibrary) -> None:
    assert escape_label('a "b" \\ c\nd') == 'a \\"b\\" \\\\ c\\nd'
    assert escape_label("plain") == "plain"
    plan = library.plan(("interfaces",))
    reading = only(
        plan.evaluate([], walked(plan, interface_columns())), "stadtnetz_interface_speed_bytes", if_index="1"
    )
    assert reading.labels.text == ',if_index="1",interface="eth0",alias="Uplink \\"Nord\\" \\\\ Halle\\n2"'
    assert labels_of(reading)["alias"] == 'Uplink "Nord" \\ Halle\n2'


def optics_columns() -> dict[Oid, dict[tuple[int, ...], Value]]:
    """Sensors of three ports (entity 1001 -> ifIndex 5, 1002 -> 6, 1003 unmapped) and a temperature sensor."""
    sensors = {
        # entity: (type, scale, precision, raw, name, port entity)
        10011: (WATTS, MICRO, 1, 1000, b"xe-0/1/0 Receive Power Sensor", 1001),
        10012: (DBM, UNITS, 1, -23, b"xe-0/1/0 Transmit Power Sensor", 1001),
        10021: (WATTS, MICRO, 1, 1_000_000_000, b"xe-0/1/1 Receive Power Sensor", 1002),
        10022: (DBM, UNITS, 1, -1_000_000_000, b"xe-0/1/1 Transmit Power Sensor", 1002),
        10023: (WATTS, MICRO, 1, 0, b"xe-0/1/1 Lane 2 rx power", 1002),
        10031: (WATTS, UNITS, 3, 2, b"Port 3 TX power", 1003),
        20: (CELSIUS, UNITS, 0, 41, b"Chassis temperature", 1),
    }
    columns: dict[Oid, dict[tuple[int, ...], Value]] = {
        SENSOR_TYPE: {},
        SENSOR_SCALE: {},
        SENSOR_PRECISION: {},
        SENSOR_VALUE: {},
        ENTITY_NAME: {(1001,): b"xe-0/1/0", (1002,): b"xe-0/1/1", (1003,): b"port 3"},
        ENTITY_CONTAINED_IN: {(1001,): 1, (1002,): 1, (1003,): 1},
        ALIAS_MAPPING: {(1001, 0): (*IF_INDEX, 5), (1002, 0): (*IF_INDEX, 6)},
        IF_NAME: {(5,): b"xe-0/1/0", (6,): b"xe-0/1/1", (1001,): b"wrong: the port entity, not its ifIndex"},
        THRESHOLD_SEVERITY: {(10012, 1): 10, (10011, 2): 20, (10011, 3): 1},
        THRESHOLD_RELATION: {(10012, 1): 1, (10011, 2): 2, (10011, 3): 3},
        THRESHOLD_VALUE: {(10012, 1): -82, (10011, 2): 158, (10011, 3): 1_000_000_000},
    }
    for entity, (kind, scale, precision, raw, name, port) in sensors.items():
        columns[SENSOR_TYPE][(entity,)] = kind
        columns[SENSOR_SCALE][(entity,)] = scale
        columns[SENSOR_PRECISION][(entity,)] = precision
        columns[SENSOR_VALUE][(entity,)] = raw
        columns[ENTITY_NAME][(entity,)] = name
        columns[ENTITY_CONTAINED_IN][(entity,)] = port
    return columns


def test_optical_levels_follow_the_entity_chain_to_the_interface_and_convert_to_dbm(library: ProfileLibrary) -> None:
    plan = library.plan(("optics",))
    readings = plan.evaluate([], walked(plan, optics_columns()))
    levels = keyed(readings, "stadtnetz_optical_power_dbm", "sensor_index")
    # +/-1e9 is "out of range" (RFC 3433); 0 W has no level in dBm; the temperature sensor is not optical
    assert set(levels) == {"10011", "10012", "10031"}
    # 1000 x 10^-6 W / 10^1 = 100 uW = -10 dBm
    assert levels["10011"].value == pytest.approx(-10.0, abs=1e-9)
    assert levels["10012"].value == pytest.approx(-2.3, abs=1e-9)  # dBm (type 14) kept as it is
    assert levels["10031"].value == pytest.approx(3.0103, abs=1e-4)  # 2 mW
    assert labels_of(levels["10011"]) == {
        "sensor_index": "10011",
        "sensor": "xe-0/1/0 Receive Power Sensor",
        "interface": "xe-0/1/0",
        "direction": "receive",
    }
    assert labels_of(levels["10012"])["interface"] == "xe-0/1/0"
    assert labels_of(levels["10012"])["direction"] == "transmit"
    # a port without an alias mapping: no interface, and \btx\b matched in any case
    assert labels_of(levels["10031"])["interface"] == ""
    assert labels_of(levels["10031"])["direction"] == "transmit"
    assert levels["10011"].metric.unit == "dbm"


def test_optical_thresholds_use_their_sensors_scale_precision_and_type(library: ProfileLibrary) -> None:
    plan = library.plan(("optics",))
    thresholds = of_metric(plan.evaluate([], walked(plan, optics_columns())), "stadtnetz_optical_threshold_dbm")
    by_index = {(labels_of(r)["sensor_index"], labels_of(r)["threshold_index"]): r for r in thresholds}
    assert set(by_index) == {("10012", "1"), ("10011", "2")}  # the out-of-range threshold is left out
    tx_warning = by_index[("10012", "1")]
    assert tx_warning.value == pytest.approx(-8.2, abs=1e-9)
    assert labels_of(tx_warning) == {
        "sensor_index": "10012",
        "threshold_index": "1",
        "sensor": "xe-0/1/0 Transmit Power Sensor",
        "interface": "xe-0/1/0",
        "direction": "transmit",
        "severity": "warning",
        "bound": "low",
    }
    rx_alarm = by_index[("10011", "2")]
    assert rx_alarm.value == pytest.approx(-18.013, abs=1e-3)  # 15.8 uW
    assert (labels_of(rx_alarm)["severity"], labels_of(rx_alarm)["bound"]) == ("alarm", "low")
    assert labels_of(rx_alarm)["interface"] == "xe-0/1/0"


def test_wlan_bands_are_mapped_and_ssids_kept(library: ProfileLibrary) -> None:
    plan = library.plan(("unifi_clients",))
    columns: dict[Oid, dict[tuple[int, ...], Value]] = {
        VAP_STATIONS: {(1,): 7, (2,): 23, (3,): 0},
        VAP_RADIO: {(1,): b"ng", (2,): b"na", (3,): b"ad"},
        VAP_SSID: {(1,): b"Musterstadt-Free-WLAN", (2,): b"Musterstadt-Free-WLAN", (3,): b"Labor"},
        (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 1, 1, 3): {(1,): b"ng", (2,): b"na"},
        (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 1, 1, 6): {(1,): 42, (2,): NO_SUCH_INSTANCE},
    }
    readings = plan.evaluate([], walked(plan, columns))
    clients = keyed(readings, "stadtnetz_wlan_clients", "vap_index")
    assert {i: (labels_of(r)["band"], r.value) for i, r in clients.items()} == {
        "1": ("2.4GHz", 7.0),
        "2": ("5GHz", 23.0),
        "3": ("ad", 0.0),  # not in the map: the raw text
    }
    assert labels_of(clients["1"])["ssid"] == "Musterstadt-Free-WLAN"
    busy = of_metric(readings, "stadtnetz_wlan_channel_utilisation_ratio")
    assert [(labels_of(r)["band"], r.value) for r in busy] == [("2.4GHz", pytest.approx(0.42))]


CUSTOM = """\
description: test table with every kind of expression
scalars:
  - {metric: boots, oid: 1.3.6.1.4.1.99999.1.1.0, type: counter}
  - {metric: temperature_celsius, oid: 1.3.6.1.4.1.99999.1.2.0, scale: 0.1}
  - metric: power_supply
    oid: 1.3.6.1.4.1.99999.1.3.0
    type: enum
    states: {1: ok, 2: failed}
info:
  - metric: firmware_info
    labels: {version: 1.3.6.1.4.1.99999.1.4.0, build: 1.3.6.1.4.1.99999.1.5.0}
tables:
  - name: ports
    columns:
      name: 1.3.6.1.4.1.99999.2.1.1
      medium: 1.3.6.1.4.1.99999.2.1.2
      level: 1.3.6.1.4.1.99999.2.1.3
      state: 1.3.6.1.4.1.99999.2.1.4
    rows: level
    index: [slot, port]
    where: {label: medium, in: [fibre, copper, 3]}
    labels:
      _name: name
      role: {label: _name, match: {"^up": uplink, "(?i)^acc": access}, default: other}
      medium: {column: medium, map: {1: fibre, 2: copper}}
      slot_name: {column: name, index: {component: 0}, suffix: [0, 1]}
    metrics:
      - {metric: port_level, value: {column: level, scale: 0.5}}
      - {metric: port_state, type: enum, value: state, states: {1: up, 2: down}}
      - {metric: port_errors, type: counter, value: {column: level, index: {component: 1}}}
"""


def test_custom_profile_expressions(tmp_path: Path) -> None:
    write(tmp_path, "custom.yaml", CUSTOM)
    plan = load_profiles([tmp_path]).plan(("custom",))
    base = (1, 3, 6, 1, 4, 1, 99999, 2, 1)
    columns: dict[Oid, dict[tuple[int, ...], Value]] = {
        (*base, 1): {
            (1, 1): b"uplink-a",
            (1, 2): b"Access 2",
            (1, 3): b"mgmt",
            (2, 1): b"upper",
            (2, 2): b"spare",
            (1, 0, 1): b"slot one",
            (2, 0, 1): NO_SUCH_OBJECT,
        },
        (*base, 2): {(1, 1): 1, (1, 2): 2, (2, 1): 3, (2, 2): 2},
        (*base, 3): {
            (1, 1): 10,
            (1, 2): Gauge32(7),
            (1, 3): 1,
            (2, 1): Counter64(9),
            (2, 2): 8,
            (1,): 5,
            (2,): Counter32(6),
        },
        (*base, 4): {(1, 1): 1, (1, 2): 2},
    }
    scalars: list[VarBind] = [
        (SYS_UPTIME, TimeTicks(100)),
        ((1, 3, 6, 1, 4, 1, 99999, 1, 1, 0), Counter32(12)),
        ((1, 3, 6, 1, 4, 1, 99999, 1, 2, 0), 415),
        ((1, 3, 6, 1, 4, 1, 99999, 1, 3, 0), 2),
        ((1, 3, 6, 1, 4, 1, 99999, 1, 4, 0), b"7.1"),
        ((1, 3, 6, 1, 4, 1, 99999, 1, 5, 0), NO_SUCH_INSTANCE),
    ]
    readings = plan.evaluate(scalars, walked(plan, columns))
    assert only(readings, "stadtnetz_boots").value == 12 and only(readings, "stadtnetz_boots").bits == 32
    assert only(readings, "stadtnetz_temperature_celsius").value == pytest.approx(41.5)
    assert only(readings, "stadtnetz_power_supply").labels.text == ',state="failed"'
    assert only(readings, "stadtnetz_firmware_info").labels.text == ',version="7.1"'  # build: noSuchInstance, left out

    levels = of_metric(readings, "stadtnetz_port_level")
    # where on a label: rows without a medium ((1, 3) and the rows (1,), (2,) of the level column) are left out;
    # "spare" matches no pattern and gets the default role, medium 3 is not in the map and stays as it is
    assert [r.labels.text for r in levels] == [
        ',slot="1",port="1",role="uplink",medium="fibre",slot_name="slot one"',
        ',slot="1",port="2",role="access",medium="copper",slot_name="slot one"',
        ',slot="2",port="1",role="uplink",medium="3",slot_name=""',
        ',slot="2",port="2",role="other",medium="copper",slot_name=""',
    ]
    assert [r.value for r in levels] == [5.0, 3.5, 4.5, 4.0]
    states = of_metric(readings, "stadtnetz_port_state")
    assert [labels_of(r)["state"] for r in states] == ["up", "down"]  # rows (2, 1) and (2, 2) have no state
    errors = of_metric(readings, "stadtnetz_port_errors")
    # the value at index (port,): level[(1,)] = 5 (an INTEGER: no counter width), level[(2,)] = Counter32(6)
    assert [(labels_of(r)["slot"], labels_of(r)["port"], r.value, r.bits) for r in errors] == [
        ("1", "1", 5, 0),
        ("1", "2", 6, 32),
        ("2", "1", 5, 0),
        ("2", "2", 6, 32),
    ]
    assert not [name for r in readings for name in labels_of(r) if name.startswith("_")]  # _name: computed only


def test_scalars_info_and_exception_values(library: ProfileLibrary) -> None:
    plan = library.plan(("system",))
    readings = plan.evaluate(
        [
            (SYS_UPTIME, TimeTicks(123_456)),
            (SYS_OBJECT_ID, CISCO_ASR),
            (SYS_NAME, b'core-1 "a"'),
            (SYS_DESCR, NO_SUCH_OBJECT),
        ],
        {},
    )
    assert [(r.metric.name, r.value) for r in readings] == [
        ("stadtnetz_uptime_seconds", pytest.approx(1234.56)),
        ("stadtnetz_device_info", 1.0),
    ]
    assert readings[1].labels.text == ',sys_name="core-1 \\"a\\"",sys_object_id="1.3.6.1.4.1.9.1.2658"'
    # nothing answered: no readings at all
    nothing = [(SYS_UPTIME, NO_SUCH_INSTANCE), (SYS_OBJECT_ID, NO_SUCH_OBJECT), (SYS_NAME, NO_SUCH_INSTANCE)]
    assert plan.evaluate(nothing, {}) == []


# ------------------------------------------------------------------ against the simulated city


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(FROZEN_AT)


@pytest.fixture(scope="module")
def city(clock: ManualClock) -> Iterator[ThreadedSimulation]:
    with ThreadedSimulation(devices=30, seed=5, clock=clock) as simulation:
        yield simulation


def devices_of(city: ThreadedSimulation, kind: str) -> list[DeviceSpec]:
    return [d for d in city.simulation.city.devices if d.kind == kind]


def poll(city: ThreadedSimulation, library: ProfileLibrary, spec: DeviceSpec) -> tuple[tuple[str, ...], list[Reading]]:
    """Poll like the poller: select without the sysObjectID, then again with the one the device reported."""

    async def run(plan: PollPlan) -> tuple[list[VarBind], dict[Oid, list[VarBind]]]:
        target = Target(spec.address, spec.port)
        async with SnmpClient() as client:
            return await client.get(target, plan.scalar_oids), await client.walk(target, plan.walk_roots)

    first = library.select((), spec.kind, None)
    scalars, _ = asyncio.run(run(library.plan(first)))
    sys_object_id = dict(scalars)[SYS_OBJECT_ID]
    assert sys_object_id == spec.model.sys_object_id
    names = library.select((), spec.kind, sys_object_id)  # type: ignore[arg-type]
    plan = library.plan(names)
    scalars, walk = asyncio.run(run(plan))
    return names, plan.evaluate(scalars, walk)


def check_system_and_interfaces(city: ThreadedSimulation, spec: DeviceSpec, readings: list[Reading]) -> None:
    now = city.simulation.runtime.clock.time()
    runtime = city.simulation.runtime.device(spec.id)
    counters = city.call(lambda: [i.octets(runtime.epoch, now) for i in runtime.interfaces])
    assert only(readings, "stadtnetz_uptime_seconds").value == pytest.approx(runtime.uptime_ticks(now) / 100)
    assert labels_of(only(readings, "stadtnetz_device_info")) == {
        "sys_name": spec.sys_name,
        "sys_object_id": ".".join(map(str, spec.model.sys_object_id)),
        "sys_descr": spec.model.sys_descr,
    }
    received = keyed(readings, "stadtnetz_interface_receive_bytes", "interface")
    sent = keyed(readings, "stadtnetz_interface_transmit_bytes", "interface")
    expected = {i.name for i in spec.interfaces if i.if_type != 24}
    assert set(received) == set(sent) == expected
    assert len(expected) >= 3
    for position, interface in enumerate(spec.interfaces):
        if interface.if_type == 24:
            assert not any(labels_of(r).get("interface") == interface.name for r in readings)
            continue
        got = received[interface.name]
        # an empty ifAlias is a value (the fallback to ifDescr is for a missing one)
        assert labels_of(got) == {
            "if_index": str(interface.index),
            "interface": interface.name,
            "alias": interface.alias,
        }
        assert (got.value, sent[interface.name].value) == counters[position]
        assert got.bits == 64 and got.speed == interface.speed_bps / 8
        oper = only(readings, "stadtnetz_interface_oper_status", interface=interface.name)
        assert labels_of(oper)["state"] == ("up" if interface.admin_up else "down")


@pytest.mark.parametrize("kind", [KIND_CORE, KIND_DISTRIBUTION])
def test_simulated_backbone_optics(
    city: ThreadedSimulation, library: ProfileLibrary, clock: ManualClock, kind: str
) -> None:
    devices = devices_of(city, kind)
    assert {d.model.optics_in_dbm for d in devices} == {True, False}  # Cisco (dBm) and Juniper (watts) both
    for spec in devices:
        names, readings = poll(city, library, spec)
        assert names == ("interfaces", "optics", "system")
        check_system_and_interfaces(city, spec, readings)
        runtime = city.simulation.runtime.device(spec.id)
        if_names = {i.index: i.name for i in spec.interfaces}
        levels = keyed(readings, "stadtnetz_optical_power_dbm", "sensor")
        assert set(levels) == {s.name for s in spec.sensors}
        assert len(spec.sensors) >= 4
        thresholds = of_metric(readings, "stadtnetz_optical_threshold_dbm")
        for sensor in spec.sensors:
            level = levels[sensor.name]
            direction = "receive" if sensor.direction == "rx" else "transmit"
            assert labels_of(level) == {
                "sensor_index": str(sensor.entity_index),
                "sensor": sensor.name,
                "interface": if_names[sensor.if_index],
                "direction": direction,
            }
            assert level.value == pytest.approx(runtime.optical_dbm(sensor, clock.time()), abs=0.15)
            own = [r for r in thresholds if labels_of(r)["sensor"] == sensor.name]
            if not spec.model.optics_in_dbm:
                assert own == []
                continue
            expected = {
                ("warning", "low"): sensor.low_warning_dbm,
                ("alarm", "low"): sensor.low_alarm_dbm,
                ("warning", "high"): HIGH_LEVELS[sensor.direction][0],
                ("alarm", "high"): HIGH_LEVELS[sensor.direction][1],
            }
            got = {(labels_of(r)["severity"], labels_of(r)["bound"]): r.value for r in own}
            assert got == pytest.approx(expected, abs=1e-9)
            assert all(labels_of(r)["interface"] == if_names[sensor.if_index] for r in own)
            assert all(labels_of(r)["direction"] == direction for r in own)
            if sensor.direction == "rx":
                assert got[("warning", "low")] == pytest.approx(-14.4)
        if not spec.model.optics_in_dbm:
            assert thresholds == []


def test_simulated_hotspot_clients(city: ThreadedSimulation, library: ProfileLibrary, clock: ManualClock) -> None:
    spec = devices_of(city, KIND_HOTSPOT)[0]
    names, readings = poll(city, library, spec)
    assert names == ("interfaces", "system", "unifi_clients")
    check_system_and_interfaces(city, spec, readings)
    runtime = city.simulation.runtime.device(spec.id)
    clients = keyed(readings, "stadtnetz_wlan_clients", "band")
    assert set(clients) == {"2.4GHz", "5GHz"}
    for position, radio in enumerate(spec.radios):
        reading = clients["2.4GHz" if radio.band == "ng" else "5GHz"]
        assert reading.value == runtime.clients(position, clock.time())
        assert labels_of(reading)["ssid"] == radio.ssid
    assert sum(r.value for r in clients.values()) > 0
    busy = keyed(readings, "stadtnetz_wlan_channel_utilisation_ratio", "band")
    for position, radio in enumerate(spec.radios):
        expected = runtime.channel_utilisation(position, clock.time()) / 100
        assert busy["2.4GHz" if radio.band == "ng" else "5GHz"].value == pytest.approx(expected)
    assert of_metric(readings, "stadtnetz_optical_power_dbm") == []


def test_simulated_charger_modem(city: ThreadedSimulation, library: ProfileLibrary) -> None:
    spec = devices_of(city, KIND_CHARGER_MODEM)[0]
    names, readings = poll(city, library, spec)
    assert names == ("interfaces", "system")
    check_system_and_interfaces(city, spec, readings)
    assert set(keyed(readings, "stadtnetz_interface_receive_bytes", "interface")) == {"eth0", "wwan0", "br-lan"}
    assert {r.metric.name for r in readings} == {
        "stadtnetz_uptime_seconds",
        "stadtnetz_device_info",
        "stadtnetz_interface_receive_bytes",
        "stadtnetz_interface_transmit_bytes",
        "stadtnetz_interface_receive_errors",
        "stadtnetz_interface_transmit_errors",
        "stadtnetz_interface_receive_discards",
        "stadtnetz_interface_transmit_discards",
        "stadtnetz_interface_speed_bytes",
        "stadtnetz_interface_oper_status",
        "stadtnetz_interface_admin_status",
    }
