"""SNMP profiles: what to read from a kind of device and how to turn it into metrics.

Owns profile files (``config/profiles/*.yaml`` plus directories the
configuration names): their schema and validation (errors name file, line and
field), resolution of symbolic MIB names (``IF-MIB::ifName``) through pysnmp,
selection of the profiles that apply to a device (by its kind, its
sysObjectID prefix, or because its configuration names them), compilation
into one :class:`PollPlan` per set of profiles, and evaluation of a poll's
raw varbinds into :class:`~stadtnetz.model.Reading` objects for the state.

A profile file::

    description: IF-MIB interfaces
    select: {kinds: [hotspot], sys_object_ids: [1.3.6.1.4.1.9]}   # automatic selection (optional)
    scalars:                       # single instances, read with one GET
      - metric: uptime_seconds     # exported as stadtnetz_uptime_seconds
        oid: SNMPv2-MIB::sysUpTime.0
        type: gauge                # gauge | counter | enum | info
        scale: 0.01
        help: ...
    info:                          # one series with value 1 whose labels carry text
      - metric: device_info
        labels: {sys_descr: SNMPv2-MIB::sysDescr.0}
    tables:
      - name: interfaces
        columns: {name: 1.3.6.1.2.1.31.1.1.1.1, in_octets: 1.3.6.1.2.1.31.1.1.1.6, ...}   # walked
        rows: in_octets            # the column whose instances are the table's rows
        index: [if_index]          # label names for the components of a row's index
        where: {column: type, in: [6, 14]}        # keep only some rows (or {label: ..., in: [...]})
        labels: {interface: {column: name, fallback: {column: descr}}, _hidden: ...}
        speed: {column: high_speed, scale: 125000}   # bytes/s: bounds counter rates, base of utilisation
        metrics:
          - metric: interface_receive_bytes        # counters get _total
            type: counter
            value: {column: in_octets, fallback: {column: in_octets_32}}
            unit: bytes
            utilisation: {metric: interface_utilisation_ratio, direction: receive}

Expressions (labels, values, speed): a column name, or a mapping with
``column`` (value of that column at the row's index, or at ``index``),
``index`` (``{component: K}`` = the K-th component of the row's index, or any
expression whose value becomes an index: an integer ``n`` is ``(n,)``, an OID
value contributes its last arc), ``suffix`` (arcs appended to the index),
``fallback`` (used when the value is missing), ``map`` (raw value -> text),
``scale`` (multiply); or ``{label: L, match: {regex: text}}`` on an earlier
label; or ``{entity_sensor: {value: E, scale: E, precision: E, type: E}}``
with an expression for each part (ENTITY-SENSOR-MIB: raw x 10^(3(scale-9)) /
10^precision; ``unit: dbm`` converts watts (type 6) to dBm and keeps dBm
(type 14, Cisco's extension)).
Labels whose name starts with ``_`` are computed but not exported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from collectors.snmp.oid import format_oid, parse_oid
from collectors.snmp.types import Counter32, Counter64, ExceptionValue, Oid, Value, VarBind
from stadtnetz.labels import NO_LABELS, Labels
from stadtnetz.model import DEVICE_LABELS, MetricDef, MetricKind, Reading
from stadtnetz.profile_files import BUILTIN_PROFILE_DIR, profile_names  # noqa: F401 - re-exported

METRIC_PREFIX = "stadtnetz_"
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_OBJECT_ID = (1, 3, 6, 1, 2, 1, 1, 2, 0)
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_LABEL_NAME = re.compile(r"^_?[a-z][a-z0-9_]*$")
RESERVED_LABELS = frozenset(DEVICE_LABELS) | {"state"}


class ProfileError(ValueError):
    """Invalid profile files; ``str()`` is one ``FILE:LINE: field: message`` line per problem."""

    def __init__(self, issues: list[str]) -> None:
        super().__init__("\n".join(issues))
        self.issues = issues


# ----------------------------------------------------------------------------- YAML with line numbers


class _Located:
    """Parsed YAML data plus the line of every path in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[tuple, int] = {}
        self._constructor = yaml.SafeLoader("")

    def load(self) -> Any:
        try:
            node = yaml.compose(self.path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 0
            problem = getattr(exc, "problem", None) or exc
            raise ProfileError([f"{self.path}:{line}: (yaml syntax): {problem}"]) from None
        except OSError as exc:
            raise ProfileError([f"{self.path}: cannot read: {exc.strerror}"]) from None
        return None if node is None else self._convert(node, ())

    def _convert(self, node: yaml.Node, path: tuple) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)  # a mapping's key line is recorded first
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node)
                if key in result:
                    raise ProfileError(
                        [f"{self.path}:{key_node.start_mark.line + 1}: {_dotted((*path, key))}: duplicate key"]
                    )
                self.lines[(*path, key)] = key_node.start_mark.line + 1  # errors point at the key, not a block below
                result[key] = self._convert(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def where(self, path: tuple) -> str:
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut])
            if line is not None:
                return f"{self.path}:{line}"
        return str(self.path)


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


class _ProfileSpecError(Exception):
    def __init__(self, path: tuple, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


# ----------------------------------------------------------------------------- MIB names


@cache
def _mib_view(mib_dirs: tuple[str, ...]) -> Any:
    from pysnmp.smi import builder, view

    mib_builder = builder.MibBuilder()
    if mib_dirs:
        mib_builder.add_mib_sources(*(builder.DirMibSource(d) for d in mib_dirs))
    return view.MibViewController(mib_builder)


def resolve_oid(text: str, mib_dirs: Sequence[str] = ()) -> Oid:
    """A numeric OID, or ``MODULE::object[.instance]`` resolved through pysnmp's MIB modules."""
    text = str(text).strip()
    if "::" not in text:
        return parse_oid(text)
    module, _, rest = text.partition("::")
    name, _, instance = rest.partition(".")
    try:
        from pysnmp.smi.rfc1902 import ObjectIdentity

        identity = ObjectIdentity(module, name).resolve_with_mib(_mib_view(tuple(mib_dirs)))
        base = tuple(identity.get_oid())
    except Exception as exc:  # pysnmp raises many kinds; all mean "cannot resolve"
        hint = (
            f"MIB module {module} is not available to pysnmp: use the numeric OID, or compile the MIB "
            f"with pysmi (mibdump {module}) into a directory listed in settings.mib_dirs"
            if "not found" in str(exc) or "MibNotFound" in type(exc).__name__
            else f"cannot resolve {text}: {exc}"
        )
        raise ValueError(hint) from None
    return base + (parse_oid(instance) if instance else ())


# ----------------------------------------------------------------------------- expressions


@dataclass(slots=True)
class Row:
    """What expressions see while one table row is evaluated."""

    index: tuple[int, ...]
    columns: Mapping[str, Mapping[tuple[int, ...], Value]]
    labels: dict[str, str] = field(default_factory=dict)


Expr = Callable[[Row], Any]


def _as_index(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return (int(value),)
    if isinstance(value, tuple) and value:
        return (value[-1],)
    return None


def label_text(value: Any) -> str:
    """A raw SNMP value as label text."""
    if isinstance(value, bytes):
        return value.rstrip(b"\x00").decode("utf-8", "replace")
    if isinstance(value, tuple):
        return format_oid(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Compiler:
    def __init__(self, columns: set[str], labels_so_far: list[str]) -> None:
        self.columns = columns
        self.labels = labels_so_far

    def value(self, spec: Any, path: tuple) -> Expr:
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict):
            raise _ProfileSpecError(path, "expected a column name or a mapping with column/label/entity_sensor")
        allowed = {
            "column",
            "index",
            "suffix",
            "fallback",
            "map",
            "scale",
            "label",
            "match",
            "default",
            "entity_sensor",
            "unit",
        }
        unknown = set(spec) - allowed
        if unknown:
            raise _ProfileSpecError(path, f"unknown key(s) {sorted(unknown)} (allowed: {sorted(allowed)})")
        if "label" in spec:
            return self._match(spec, path)
        if "entity_sensor" in spec:
            return self._sensor(spec, path)
        if "column" not in spec:
            raise _ProfileSpecError(path, "needs one of: column, label, entity_sensor")
        name = spec["column"]
        if name not in self.columns:
            raise _ProfileSpecError(
                (*path, "column"), f"unknown column {name!r} (this table has: {sorted(self.columns)})"
            )
        index = self.index(spec.get("index"), (*path, "index"))
        raw_suffix = spec.get("suffix") or ()
        if not isinstance(raw_suffix, list | tuple) or not all(isinstance(a, int) and a >= 0 for a in raw_suffix):
            raise _ProfileSpecError((*path, "suffix"), "suffix must be a list of non-negative integers")
        suffix = tuple(raw_suffix)
        fallback = self.value(spec["fallback"], (*path, "fallback")) if "fallback" in spec else None
        mapping = spec.get("map")
        if mapping is not None and not isinstance(mapping, dict):
            raise _ProfileSpecError((*path, "map"), "map must be a mapping of raw values to text")
        lookup = {str(k): str(v) for k, v in mapping.items()} if mapping else None
        scale = spec.get("scale")
        if scale is not None and not isinstance(scale, int | float):
            raise _ProfileSpecError((*path, "scale"), "scale must be a number")

        def evaluate(row: Row) -> Any:
            at = index(row)
            found = None if at is None else row.columns[name].get(at + suffix if suffix else at)
            if found is None or isinstance(found, ExceptionValue):
                return fallback(row) if fallback is not None else None
            if lookup is not None:
                return lookup.get(label_text(found), label_text(found))
            if scale is not None and isinstance(found, int | float):
                return found * scale
            return found

        return evaluate

    def index(self, spec: Any, path: tuple) -> Callable[[Row], tuple[int, ...] | None]:
        if spec is None:
            return lambda row: row.index
        if isinstance(spec, dict) and set(spec) == {"component"}:
            k = spec["component"]
            if not isinstance(k, int) or k < 0:
                raise _ProfileSpecError(path, "component must be a non-negative integer")
            return lambda row: (row.index[k],) if k < len(row.index) else None
        inner = self.value(spec, path)
        return lambda row: _as_index(inner(row))

    def _match(self, spec: dict, path: tuple) -> Expr:
        label = spec["label"]
        if label not in self.labels:
            raise _ProfileSpecError(
                (*path, "label"), f"label {label!r} is not defined before this one (known: {self.labels})"
            )
        patterns = spec.get("match")
        if not isinstance(patterns, dict) or not patterns:
            raise _ProfileSpecError((*path, "match"), "match must map regular expressions to label values")
        compiled = []
        for pattern, result in patterns.items():
            try:
                compiled.append((re.compile(str(pattern)), str(result)))
            except re.error as exc:
                raise _ProfileSpecError((*path, "match", pattern), f"invalid regular expression: {exc}") from None
        default = spec.get("default")

        def evaluate(row: Row) -> Any:
            text = row.labels.get(label, "")
            for regex, result in compiled:
                if regex.search(text):
                    return result
            return default

        return evaluate

    def _sensor(self, spec: dict, path: tuple) -> Expr:
        parts = spec["entity_sensor"]
        if not isinstance(parts, dict) or set(parts) != {"value", "scale", "precision", "type"}:
            raise _ProfileSpecError(
                (*path, "entity_sensor"), "needs exactly: value, scale, precision, type (expressions)"
            )
        if set(spec) - {"entity_sensor", "unit"}:
            raise _ProfileSpecError(path, "entity_sensor takes only unit: beside it; give each part its own index")
        unit = spec.get("unit")
        if unit not in (None, "dbm"):
            raise _ProfileSpecError((*path, "unit"), "unit must be dbm (or absent for the sensor's own base unit)")
        raw_e, scale_e, precision_e, type_e = (
            self.value(parts[k], (*path, "entity_sensor", k)) for k in ("value", "scale", "precision", "type")
        )

        def evaluate(row: Row) -> float | None:
            raw, scale, precision, kind = raw_e(row), scale_e(row), precision_e(row), type_e(row)
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in (raw, scale, precision, kind)):
                return None
            if abs(raw) >= 1_000_000_000:  # RFC 3433: +/-1e9 means out of range
                return None
            base = raw * 10.0 ** (3 * (scale - 9)) / 10.0**precision
            if unit != "dbm":
                return base
            if kind == 14:  # dBm (CISCO-ENTITY-SENSOR-MIB numbering)
                return base
            if kind == 6:  # watts
                return 10.0 * math.log10(base * 1000.0) if base > 0 else None
            return None

        return evaluate


# ----------------------------------------------------------------------------- compiled profiles


@dataclass(slots=True)
class _MetricPlan:
    metric: MetricDef
    value: Expr
    states: dict[str, str] | None = None  # enum: raw value text -> state name
    utilisation: MetricDef | None = None
    direction: str = ""


@dataclass(slots=True)
class _ScalarPlan:
    oid: Oid
    metric: MetricDef
    scale: float | None
    states: dict[str, str] | None


@dataclass(slots=True)
class _InfoPlan:
    metric: MetricDef
    labels: list[tuple[str, Oid]]


@dataclass(slots=True)
class _TablePlan:
    name: str
    columns: dict[str, Oid]
    rows: str
    index_names: list[str]
    labels: list[tuple[str, Expr]]
    where_column: tuple[str, frozenset[str]] | None
    where_label: tuple[str, frozenset[str]] | None
    speed: Expr | None
    metrics: list[_MetricPlan]


@dataclass(slots=True)
class Profile:
    name: str
    source: Path
    description: str
    kinds: frozenset[str]
    sys_object_ids: tuple[Oid, ...]
    scalars: list[_ScalarPlan]
    info: list[_InfoPlan]
    tables: list[_TablePlan]

    def selected_by(self, kind: str, sys_object_id: Oid | None) -> bool:
        if "*" in self.kinds or kind in self.kinds:
            return True
        return sys_object_id is not None and any(sys_object_id[: len(p)] == p for p in self.sys_object_ids)


_KIND_NAMES = {
    "gauge": MetricKind.GAUGE,
    "counter": MetricKind.COUNTER,
    "enum": MetricKind.ENUM,
    "info": MetricKind.INFO,
}


class ProfileLibrary:
    """All profiles known to the service, and the poll plans compiled from them."""

    def __init__(self, profiles: dict[str, Profile]) -> None:
        self.profiles = profiles
        self._plans: dict[tuple[str, ...], PollPlan] = {}

    def names(self) -> set[str]:
        return set(self.profiles)

    def select(self, named: Sequence[str], kind: str, sys_object_id: Oid | None) -> tuple[str, ...]:
        """The profiles for a device: those its configuration names plus those selecting it."""
        chosen = list(dict.fromkeys(named))
        for name, profile in sorted(self.profiles.items()):
            if name not in chosen and profile.selected_by(kind, sys_object_id):
                chosen.append(name)
        return tuple(chosen)

    def plan(self, names: tuple[str, ...]) -> PollPlan:
        plan = self._plans.get(names)
        if plan is None:
            missing = [n for n in names if n not in self.profiles]
            if missing:
                raise KeyError(f"unknown profile(s): {', '.join(missing)}")
            plan = self._plans[names] = PollPlan([self.profiles[n] for n in names])
        return plan


class PollPlan:
    """What to ask a device (one GET, one multi-subtree walk) and how to read the answer."""

    def __init__(self, profiles: list[Profile]) -> None:
        self.profiles = profiles
        scalar_oids = [SYS_UPTIME, SYS_OBJECT_ID]
        roots: list[Oid] = []
        for profile in profiles:
            scalar_oids.extend(s.oid for s in profile.scalars)
            for info in profile.info:
                scalar_oids.extend(oid for _, oid in info.labels)
            for table in profile.tables:
                roots.extend(table.columns.values())
        self.scalar_oids: list[Oid] = list(dict.fromkeys(scalar_oids))
        self.walk_roots: list[Oid] = list(dict.fromkeys(roots))

    def evaluate(self, scalars: list[VarBind], walked: Mapping[Oid, list[VarBind]]) -> list[Reading]:
        """Turn one poll's answers into readings (rows without a value for a metric are skipped)."""
        got = {oid: value for oid, value in scalars if not isinstance(value, ExceptionValue)}
        by_root: dict[Oid, dict[tuple[int, ...], Value]] = {}
        for root, varbinds in walked.items():
            cut = len(root)
            by_root[root] = {oid[cut:]: value for oid, value in varbinds}
        readings: list[Reading] = []
        for profile in self.profiles:
            for scalar in profile.scalars:
                value = got.get(scalar.oid)
                if value is not None:
                    reading = _scalar_reading(scalar, value)
                    if reading is not None:
                        readings.append(reading)
            for info in profile.info:
                pairs = [(name, got.get(oid)) for name, oid in info.labels]
                if any(v is not None for _, v in pairs):
                    labels = Labels((name, label_text(v)) for name, v in pairs if v is not None)
                    readings.append(Reading(info.metric, labels, 1.0))
            for table in profile.tables:
                readings.extend(_evaluate_table(table, by_root))
        return readings


def _number(value: Value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _scalar_reading(scalar: _ScalarPlan, value: Value) -> Reading | None:
    metric = scalar.metric
    if metric.kind is MetricKind.ENUM:
        state = (scalar.states or {}).get(label_text(value), label_text(value))
        return Reading(metric, Labels((("state", state),)), 1.0)
    number = _number(value)
    if number is None:
        return None
    if metric.kind is MetricKind.COUNTER:
        return Reading(metric, NO_LABELS, value, bits=_bits(value))  # type: ignore[arg-type]
    return Reading(metric, NO_LABELS, number * scalar.scale if scalar.scale is not None else number)


def _bits(value: Value) -> int:
    kind = type(value)
    if kind is Counter64:
        return 64
    if kind is Counter32:
        return 32
    return 0  # a counter column that is not a Counter type: no wrap handling


def _evaluate_table(table: _TablePlan, by_root: Mapping[Oid, dict[tuple[int, ...], Value]]) -> list[Reading]:
    columns = {name: by_root.get(root, {}) for name, root in table.columns.items()}
    readings: list[Reading] = []
    if table.where_column is not None:
        where_name, where_values = table.where_column
        where_col = columns[where_name]
    for index in columns[table.rows]:
        if table.where_column is not None and label_text(where_col.get(index)) not in where_values:
            continue
        row = Row(index, columns)
        for position, name in enumerate(table.index_names):
            if position == len(table.index_names) - 1:
                row.labels[name] = ".".join(map(str, index[position:]))
            elif position < len(index):
                row.labels[name] = str(index[position])
        for name, expr in table.labels:
            value = expr(row)
            row.labels[name] = "" if value is None else label_text(value)
        if table.where_label is not None and row.labels.get(table.where_label[0]) not in table.where_label[1]:
            continue
        row_labels = Labels((name, text) for name, text in row.labels.items() if not name.startswith("_"))
        speed = table.speed(row) if table.speed is not None else None
        speed_value = float(speed) if isinstance(speed, int | float) and speed > 0 else 0.0
        for plan in table.metrics:
            raw = plan.value(row)
            if raw is None:
                continue
            kind = plan.metric.kind
            if kind is MetricKind.COUNTER:
                if not isinstance(raw, int) or isinstance(raw, bool):
                    continue
                readings.append(
                    Reading(
                        plan.metric,
                        row_labels,
                        raw,
                        bits=_bits(raw),
                        speed=speed_value,
                        utilisation=plan.utilisation,
                        direction=plan.direction,
                    )
                )
            elif kind is MetricKind.ENUM:
                state = (plan.states or {}).get(label_text(raw), label_text(raw))
                readings.append(Reading(plan.metric, row_labels.plus("state", state), 1.0))
            elif kind is MetricKind.INFO:
                readings.append(Reading(plan.metric, row_labels.plus("value", label_text(raw)), 1.0))
            else:
                number = _number(raw)
                if number is not None and math.isfinite(number):
                    readings.append(Reading(plan.metric, row_labels, number))
    return readings


# ----------------------------------------------------------------------------- loading


class _Loader:
    def __init__(self, mib_dirs: Sequence[str], metrics: dict[str, MetricDef]) -> None:
        self.mib_dirs = tuple(mib_dirs)
        self.metrics = metrics  # name -> definition, shared by all profiles: one meaning per name

    def metric(self, name: Any, kind: MetricKind, help_text: Any, unit: Any, path: tuple) -> MetricDef:
        if not isinstance(name, str) or not _NAME.match(name):
            raise _ProfileSpecError(path, f"metric name {name!r} must match [a-z_][a-z0-9_]*")
        if kind is MetricKind.COUNTER and name.endswith("_total"):
            raise _ProfileSpecError(path, f"counter {name!r}: leave out _total, it is added on export")
        full = METRIC_PREFIX + name
        definition = MetricDef(full, kind, str(help_text or name.replace("_", " ")), str(unit or ""))
        known = self.metrics.get(full)
        if known is not None and (known.kind is not kind):
            raise _ProfileSpecError(
                path, f"metric {name!r} is already defined as a {known.kind.value} by another profile"
            )
        if known is not None:
            return known
        self.metrics[full] = definition
        return definition

    def oid(self, text: Any, path: tuple) -> Oid:
        try:
            return resolve_oid(str(text), self.mib_dirs)
        except ValueError as exc:
            raise _ProfileSpecError(path, str(exc)) from None

    def kind(self, text: Any, path: tuple) -> MetricKind:
        try:
            return _KIND_NAMES[str(text)]
        except KeyError:
            raise _ProfileSpecError(path, f"type {text!r} is not one of {sorted(_KIND_NAMES)}") from None

    def states(self, spec: Any, path: tuple) -> dict[str, str] | None:
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise _ProfileSpecError(path, "states must map raw values to state names")
        return {str(k): str(v) for k, v in spec.items()}

    @staticmethod
    def _list(value: Any, path: tuple) -> list:
        """A list from YAML (absent: empty); anything else is an error, never iterated as one."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise _ProfileSpecError(path, "must be a list")
        return value

    def profile(self, name: str, source: Path, data: Any) -> Profile:
        if not isinstance(data, dict):
            raise _ProfileSpecError((), "a profile is a mapping with description, select, scalars, info, tables")
        allowed = {"description", "select", "scalars", "info", "tables"}
        for key in data:
            if key not in allowed:
                raise _ProfileSpecError((key,), f"unknown key {key!r} (allowed: {sorted(allowed)})")
        select = data.get("select") or {}
        if not isinstance(select, dict) or set(select) - {"kinds", "sys_object_ids"}:
            raise _ProfileSpecError(("select",), "select takes kinds: [...] and/or sys_object_ids: [...]")
        kinds = frozenset(str(k) for k in self._list(select.get("kinds"), ("select", "kinds")))
        prefixes = tuple(
            self.oid(p, ("select", "sys_object_ids", i))
            for i, p in enumerate(self._list(select.get("sys_object_ids"), ("select", "sys_object_ids")))
        )
        scalars = [self.scalar(s, ("scalars", i)) for i, s in enumerate(self._list(data.get("scalars"), ("scalars",)))]
        info = [self.info(s, ("info", i)) for i, s in enumerate(self._list(data.get("info"), ("info",)))]
        tables = [self.table(t, ("tables", i)) for i, t in enumerate(self._list(data.get("tables"), ("tables",)))]
        return Profile(name, source, str(data.get("description") or ""), kinds, prefixes, scalars, info, tables)

    def _keys(self, spec: Any, allowed: set[str], required: set[str], path: tuple) -> dict:
        if not isinstance(spec, dict):
            raise _ProfileSpecError(path, f"expected a mapping with {sorted(required)}")
        for key in spec:
            if key not in allowed:
                raise _ProfileSpecError((*path, key), f"unknown key {key!r} (allowed: {sorted(allowed)})")
        for key in required:
            if key not in spec:
                raise _ProfileSpecError(path, f"missing {key!r}")
        return spec

    def scalar(self, spec: Any, path: tuple) -> _ScalarPlan:
        spec = self._keys(spec, {"metric", "oid", "type", "scale", "help", "unit", "states"}, {"metric", "oid"}, path)
        kind = self.kind(spec.get("type", "gauge"), (*path, "type"))
        if kind is MetricKind.INFO:
            raise _ProfileSpecError((*path, "type"), "info metrics go under info:, with labels")
        metric = self.metric(spec["metric"], kind, spec.get("help"), spec.get("unit"), (*path, "metric"))
        scale = spec.get("scale")
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float)):
            raise _ProfileSpecError((*path, "scale"), "scale must be a number")
        return _ScalarPlan(
            self.oid(spec["oid"], (*path, "oid")),
            metric,
            None if scale is None else float(scale),
            self.states(spec.get("states"), (*path, "states")),
        )

    def info(self, spec: Any, path: tuple) -> _InfoPlan:
        spec = self._keys(spec, {"metric", "labels", "help"}, {"metric", "labels"}, path)
        metric = self.metric(spec["metric"], MetricKind.INFO, spec.get("help"), "", (*path, "metric"))
        if not spec["metric"].endswith("_info"):
            raise _ProfileSpecError((*path, "metric"), "info metric names end in _info")
        labels = spec["labels"]
        if not isinstance(labels, dict) or not labels:
            raise _ProfileSpecError((*path, "labels"), "labels map label names to OIDs")
        return _InfoPlan(
            metric,
            [(self.label_name(k, (*path, "labels", k)), self.oid(v, (*path, "labels", k))) for k, v in labels.items()],
        )

    def label_name(self, name: Any, path: tuple) -> str:
        if not isinstance(name, str) or not _LABEL_NAME.match(name):
            raise _ProfileSpecError(path, f"label name {name!r} must match _?[a-z][a-z0-9_]*")
        if name in RESERVED_LABELS:
            raise _ProfileSpecError(
                path, f"label {name!r} is set by stadtnetz itself (reserved: {sorted(RESERVED_LABELS)})"
            )
        return name

    def table(self, spec: Any, path: tuple) -> _TablePlan:
        allowed = {"name", "columns", "rows", "index", "where", "labels", "speed", "metrics"}
        spec = self._keys(spec, allowed, {"name", "columns", "rows", "metrics"}, path)
        columns_spec = spec["columns"]
        if not isinstance(columns_spec, dict) or not columns_spec:
            raise _ProfileSpecError((*path, "columns"), "columns map names to column OIDs")
        columns = {str(k): self.oid(v, (*path, "columns", k)) for k, v in columns_spec.items()}
        if not isinstance(spec["rows"], str) or spec["rows"] not in columns:
            raise _ProfileSpecError((*path, "rows"), f"rows must name one of the columns {sorted(columns)}")
        index_names = [
            self.label_name(n, (*path, "index", i))
            for i, n in enumerate(self._list(spec.get("index"), (*path, "index")))
        ]
        labels: list[tuple[str, Expr]] = []
        known: list[str] = list(index_names)
        labels_spec = spec.get("labels") or {}
        if not isinstance(labels_spec, dict):
            raise _ProfileSpecError((*path, "labels"), "labels map label names to expressions")
        for label, expr in labels_spec.items():
            label_path = (*path, "labels", label)
            name = self.label_name(label, label_path)
            labels.append((name, _Compiler(set(columns), known).value(expr, label_path)))
            known.append(name)
        where_column = where_label = None
        if "where" in spec:
            where = self._keys(spec["where"], {"column", "label", "in"}, {"in"}, (*path, "where"))
            values = frozenset(label_text(v) for v in self._list(where["in"], (*path, "where", "in")))
            if "column" in where:
                if where["column"] not in columns:
                    raise _ProfileSpecError((*path, "where", "column"), f"unknown column {where['column']!r}")
                where_column = (where["column"], values)
            elif "label" in where:
                if where["label"] not in known:
                    raise _ProfileSpecError((*path, "where", "label"), f"unknown label {where['label']!r}")
                where_label = (where["label"], values)
            else:
                raise _ProfileSpecError((*path, "where"), "where needs column: or label:")
        speed = _Compiler(set(columns), known).value(spec["speed"], (*path, "speed")) if "speed" in spec else None
        metrics = [
            self.table_metric(m, (*path, "metrics", i), set(columns), known)
            for i, m in enumerate(self._list(spec["metrics"], (*path, "metrics")))
        ]
        return _TablePlan(
            str(spec["name"]), columns, spec["rows"], index_names, labels, where_column, where_label, speed, metrics
        )

    def table_metric(self, spec: Any, path: tuple, columns: set[str], labels: list[str]) -> _MetricPlan:
        allowed = {"metric", "type", "value", "unit", "help", "states", "utilisation"}
        spec = self._keys(spec, allowed, {"metric", "value"}, path)
        kind = self.kind(spec.get("type", "gauge"), (*path, "type"))
        metric = self.metric(spec["metric"], kind, spec.get("help"), spec.get("unit"), (*path, "metric"))
        value = _Compiler(columns, labels).value(spec["value"], (*path, "value"))
        utilisation, direction = None, ""
        if "utilisation" in spec:
            if kind is not MetricKind.COUNTER:
                raise _ProfileSpecError((*path, "utilisation"), "utilisation derives from a counter's rate")
            u = self._keys(
                spec["utilisation"], {"metric", "direction"}, {"metric", "direction"}, (*path, "utilisation")
            )
            utilisation = self.metric(
                u["metric"],
                MetricKind.GAUGE,
                "Share of the interface's speed in use",
                "ratio",
                (*path, "utilisation", "metric"),
            )
            direction = str(u["direction"])
        return _MetricPlan(metric, value, self.states(spec.get("states"), (*path, "states")), utilisation, direction)


def load_profiles(extra_dirs: Sequence[Path] = (), mib_dirs: Sequence[str] = ()) -> ProfileLibrary:
    """Load every profile (built-in, then ``extra_dirs``; a later file of the same name replaces an earlier one)."""
    files: dict[str, Path] = {}
    for directory in (BUILTIN_PROFILE_DIR, *extra_dirs):
        if directory.is_dir():
            for path in sorted(directory.glob("*.yaml")):
                files[path.stem] = path
    issues: list[str] = []
    profiles: dict[str, Profile] = {}
    loader = _Loader(mib_dirs, {})
    for name, path in files.items():
        located = _Located(path)
        try:
            data = located.load()
            profiles[name] = loader.profile(name, path, data)
        except ProfileError as exc:
            issues.extend(exc.issues)
        except _ProfileSpecError as problem:
            issues.append(f"{located.where(problem.path)}: {_dotted(problem.path)}: {problem.message}")
    if issues:
        raise ProfileError(issues)
    return ProfileLibrary(profiles)
