"""The configuration file: YAML schema, loading, includes, secret references, and errors with file:line.

Owns reading ONE YAML file (and the files it includes) into a
:class:`stadtnetz.model.Inventory`, checking it against the schema below with
pydantic models, and reporting *every* problem of the configuration at once as
a :class:`ConfigError` whose lines read ``FILE:LINE: FIELD: MESSAGE``. Line
numbers come from composing the YAML (``yaml.compose``) and mapping every field
path to its node's start mark; pydantic's error locations are mapped back onto
that map. Resolving devices (inheritance, CSV import, upstream checks) is
:mod:`stadtnetz.config.inventory`'s job; this module feeds it validated sections.

The format (every section optional, but the inventory must end up with at
least one device)::

    include: [groups.yaml]            # other YAML files, relative to this one; each is read once,
                                      # a missing file or an include cycle is an error
    settings:                         # global settings, in at most one file
      interval: 60s                   # durations: "500ms", "30s", "5m", "1h" or a number of seconds (> 0)
      timeout: 2s                     # per SNMP request attempt; must be < interval (everywhere it is set)
      retries: 1                      # whole number >= 0
      concurrency: 256                # devices polled at once, >= 1
      max_in_flight_per_device: 1     # >= 1
      max_repetitions: 25             # GETBULK max-repetitions, >= 1
      listen: 127.0.0.1:9873          # host:port of /metrics ([::1]:9873 for IPv6)
      profile_dirs: [profiles/]       # extra profile directories, relative to this file; must exist
      mib_dirs: [mibs/]               # pysmi-compiled MIB modules for symbolic names in profiles
      ping_count: 5                   # echo requests per device and interval, spread over the interval
      ping_timeout: 1s                # per echo request
      degraded_loss: 20%              # a responding device is degraded at this ping loss ...
      degraded_rtt: 150ms             # ... or this average round-trip time
      flap_high: 50%                  # flapping starts at this weighted share of state changes (last 21)
      flap_low: 25%                   # ... and ends below this one
      trap_listen: 127.0.0.1:162      # receive SNMP traps here (v1/v2c); off when not given
      trap_community: ${STADTNETZ_TRAP_COMMUNITY}  # accepted besides each device's own community (optional)
      trap_v3_users:                  # SNMPv3 users whose traps and informs are accepted (on the same port)
        - user: noc
          auth_protocol: sha          # none, md5, sha, sha224, sha256, sha384, sha512
          auth_key: ${STADTNETZ_TRAP_AUTH_KEY}   # references only, as communities
          priv_protocol: aes          # none, des, aes, aes192, aes256
          priv_key: ${STADTNETZ_TRAP_PRIV_KEY}
          engine_id: '0x80001f8880c71100000000000b'  # the sender's snmpEngineID (needed for traps, not informs)
    credentials:                      # named SNMP credential sets
      public-ro:
        version: 2c                   # "1" or "2c" (default 2c); SNMPv3 comes later
        community: ${STADTNETZ_SNMP_COMMUNITY}   # or file:secrets/community (relative to this file);
                                                 # a literal value is an error
    defaults:                         # applies to every device; in at most one file
      credentials: public-ro
      profiles: [system, interfaces]
      interval: 60s                   # also: timeout, retries, tags
    groups:
      backbone:
        kinds: [core_router, distribution_switch]  # devices of these kinds belong here unless they name a
                                                   # group; a kind may be claimed by one group only
        credentials: backbone-ro      # also: profiles, interval, timeout, retries, tags
        parent: null                  # a group inherits everything its parent sets (not kinds) and may override
    devices:
      - id: core-1                    # [A-Za-z0-9][A-Za-z0-9._-]*, unique over the whole inventory (CSV too)
        kind: core_router             # lowercase identifier: [a-z][a-z0-9_]*
        address: 127.20.0.1:1161      # IPv4/IPv6 literal, optional :port ([2001:db8::1]:1161); default port 161
        site: PoP Altstadt            # optional text: site, district, model
        lat: 51.84                    # -90..90; lon -180..180
        upstream: null                # id of the device this one hangs off (no cycles)
        group: backbone               # optional; else the group claiming its kind; else none
        tags: [core]                  # accumulate: defaults, parent groups, group, device (order kept)
        # optional overrides: profiles, credentials, interval, timeout, retries
    inventory:                        # CSV files operators keep in spreadsheets, relative to this file
      - file: example-city-inventory.csv
        group: null                   # optional: force this group on every row (wins over the group column)
    maintenance:                      # planned work (stadtnetz.maintenance); alerts stay quiet while open
      - name: splice-nordstadt        # unique; names the silences `stadtnetz maintenance apply` makes
        reason: Spleißarbeiten        # optional text, shown in the silence
        match: {devices: [dist-003]}  # devices, sites, districts, kinds, tags, groups: keys narrow each other,
                                      # the values of one key are alternatives
        start: 2026-11-25T22:00+01:00 # once: start and end (ISO 8601; without an offset: local time)
        end: 2026-11-26T04:00+01:00
      - name: hotspot-firmware
        match: {kinds: [hotspot], districts: [Altstadt]}
        every: [tue]                  # recurring: weekdays (or daily, weekdays, weekend) ...
        at: "03:00"                   # ... at this local time (quoted) ...
        duration: 2h                  # ... for this long
        timezone: Europe/Berlin       # the default
    history:                          # the embedded history (stadtnetz.history); in at most one file
      path: history.sqlite            # SQLite file, relative to this file; not given: no history is kept
      retention:                      # how long rows are kept (durations, "400d" style); the defaults:
        transitions: 400d             # status changes
        outages: 400d                 # the outage log
        rollups: 90d                  # hourly series rollups (the bulk: ~16 MB a day for 650 devices)
        availability: 400d            # hourly availability seconds per device (small)
      max_pending: 500000             # items (one series' sample, one status change) waiting for the writer; when
                                      # full (disk full, writer stuck) the OLDEST samples are dropped, then transitions
    influx:                           # write every device's points to InfluxDB 2 (exporters.influx); in one file
      url: http://127.0.0.1:8086      # the server (http or https)
      org: stadtwerk
      bucket: stadtnetz
      token: ${STADTNETZ_INFLUX_TOKEN}  # or file:PATH; a literal token is an error (optional: servers without auth)
      precision: s                    # s, ms, us, ns; must carry every poll interval (500ms needs ms)
      batch_size: 5000                # points per write request, at most
      flush_interval: 1s              # a smaller batch waits at most this long
      timeout: 10s                    # per write request
      max_retry_interval: 30s         # while writes fail, retries back off from 0.5 s up to this
      gzip: true
      spool:                          # points go to disk first and stay until the server acknowledged them
        path: var/influx-spool        # a directory, relative to this file; one per stadtnetz process
        max_bytes: 1GiB               # 512MiB, 2GB, or bytes (>= 1MiB); when full the OLDEST points are dropped
        fsync: interval               # always (every append), interval (every fsync_interval), never
        fsync_interval: 1s
    ocpp:                             # the OCPP 1.6J endpoint EV chargers dial in to (collectors.ocpp); in one file
      listen: 127.0.0.1:9000          # chargers connect to ws://HOST:PORT/<any path>/<charger id>
      heartbeat_interval: 5m          # told to chargers at boot (whole seconds)
      offline_after: 3                # silent for this many heartbeat intervals: offline (> 1)
      password: ${STADTNETZ_OCPP_PASSWORD}  # security profile 1 (HTTP Basic) for every charger without its own
      auth: basic                     # the default: every charger must have a password (its own or the one
                                      # above), else an error; none: any charger id gets in without (a WARNING)
      tls:                            # security profile 2 (wss://); both PEM files, relative to this file
        certificate: tls/ocpp.crt
        key: tls/ocpp.key
      availability_target: 97%        # per connector over the window (alerts and `report chargers` mark below)
      availability_window: 30d        # of the stadtnetz_charger_connector_availability_ratio metric
    chargers:                         # the charge points; only these ids are accepted
      - id: cp-001                    # the charge point id (device id rule), the last segment of its URL
        device: charger-001           # optional: its modem/router among the devices (site, district, topology)
        site: Parkhaus Altstadt       # optional; default the modem's; also district
        connectors: 2                 # optional: the connectors it has (else those it reports)
        password: file:secrets/cp-001 # optional: its own Basic-auth password (a reference, as communities)
        tags: [dc]                    # optional, for maintenance windows (as group:)

Names of groups, credential sets, profiles and tags follow the device id rule.
CSV columns: ``id,kind,address`` required; ``site,district,lat,lon,upstream,
model,tags,group,profiles,credentials`` optional (``tags`` and ``profiles``
are ``;``-separated); unknown columns are ignored and reported as warnings
(:attr:`stadtnetz.model.Inventory.warnings`).

Inheritance: built-in defaults -> ``settings`` -> ``defaults`` -> the group's
parent chain (root first) -> the group -> the device (the device wins).

Secrets: a community is only ever a reference; the resolved value lives in a
:class:`stadtnetz.secrets.Secret` and no message, repr or log line of this
module contains it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import os
import re
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stadtnetz.config import inventory as inv
from stadtnetz.config.ocpp_security import server_tls_context
from stadtnetz.maintenance import (
    DEFAULT_TIMEZONE,
    DeviceMatch,
    MaintenanceWindow,
    Recurrence,
    parse_instant,
    parse_time_of_day,
    parse_weekdays,
)
from stadtnetz.model import (
    MAX_CONNECTORS,
    Charger,
    Device,
    HistorySettings,
    InfluxSettings,
    InfluxSpool,
    Inventory,
    OcppSettings,
    Settings,
    SnmpCredentials,
    V3User,
)
from stadtnetz.profile_files import profile_names
from stadtnetz.secrets import Secret, SecretError, is_reference, resolve
from stadtnetz.units import describe, parse_duration, parse_ratio, parse_size

log = logging.getLogger(__name__)

MAX_YAML_NODES = 1_000_000  # guards against alias bombs ("billion laughs")
SECTIONS = (
    "include",
    "settings",
    "credentials",
    "defaults",
    "groups",
    "devices",
    "inventory",
    "maintenance",
    "history",
    "influx",
    "ocpp",
    "chargers",
)


# --- issues -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem of the configuration: where it is and what is wrong (and what is allowed)."""

    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{place}: {self.field}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; ``issues`` holds every problem found, ``str()`` one per line."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


class _Collector:
    """Collects errors and warnings (an :class:`inventory.Reporter`) and orders them by file and line."""

    def __init__(self) -> None:
        self.errors: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []
        self.file_order: dict[Path, int] = {}

    def register(self, file: Path) -> None:
        self.file_order.setdefault(file, len(self.file_order))

    def error(self, where: inv.Where, message: str) -> None:
        self.errors.append(ConfigIssue(where.file, where.line, where.field, message))

    def warning(self, where: inv.Where, message: str) -> None:
        self.warnings.append(ConfigIssue(where.file, where.line, where.field, message))

    def ordered(self, issues: list[ConfigIssue]) -> list[ConfigIssue]:
        last = len(self.file_order)
        return sorted(issues, key=lambda issue: (self.file_order.get(issue.file, last), issue.line or 0))


# --- YAML with line numbers ---------------------------------------------------------------------------------------


def join_path(base: str, *loc: str | int) -> str:
    """Field path text: ``devices`` + 3 + ``address`` -> ``devices[3].address``."""
    path = base
    for part in loc:
        separator = "" if isinstance(part, int) or not path else "."
        path = f"{path}[{part}]" if isinstance(part, int) else f"{path}{separator}{part}"
    return path


_LAST_SEGMENT = re.compile(r"(\.[^.\[\]]*|\[\d+\])$")


@dataclass(slots=True)
class _Document:
    """A parsed YAML file: its plain data and the line of every field path in it."""

    file: Path
    data: Any
    lines: dict[str, int]

    def line(self, path: str) -> int | None:
        """The line of ``path``, or of its nearest ancestor that is in the file."""
        probe = path
        while True:
            if probe in self.lines:
                return self.lines[probe]
            shorter = _LAST_SEGMENT.sub("", probe)
            if shorter == probe:
                return self.lines.get("")
            probe = shorter

    def where(self, path: str) -> inv.Where:
        return inv.Where(self.file, self.line(path), path or "(top level)")

    def origin(self, path: str) -> inv.Origin:
        return inv.Origin(self.file, self.line(path), path, self.lines)


class _TooLargeError(Exception):
    pass


class _Builder:
    """Turns a composed node tree into plain data, recording lines and rejecting duplicate keys."""

    MERGE_TAG = "tag:yaml.org,2002:merge"
    MAP_TAG = "tag:yaml.org,2002:map"
    SEQ_TAG = "tag:yaml.org,2002:seq"

    def __init__(self, file: Path, reporter: _Collector) -> None:
        self.file = file
        self.reporter = reporter
        self.lines: dict[str, int] = {}
        self.constructor = yaml.SafeLoader("")
        self.active: set[int] = set()
        self.count = 0

    def issue(self, node: Node, path: str, message: str) -> None:
        self.reporter.error(inv.Where(self.file, node.start_mark.line + 1, path or "(top level)"), message)

    def build(self, node: Node, path: str) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES:
            raise _TooLargeError
        if isinstance(node, ScalarNode):
            try:
                return self.constructor.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                problem = getattr(exc, "problem", None) or "cannot read this value"
                self.issue(node, path, f"{problem}; use plain YAML values (text, numbers, lists, mappings)")
                return None
        if id(node) in self.active:
            self.issue(node, path, "an alias refers to a node that contains it; YAML aliases must not be recursive")
            return None
        if node.tag not in (self.MAP_TAG, self.SEQ_TAG):
            self.issue(node, path, f"unsupported YAML tag {node.tag!r}; use plain lists and mappings")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                items = []
                for index, item in enumerate(node.value):
                    item_path = join_path(path, index)
                    self.lines.setdefault(item_path, item.start_mark.line + 1)
                    items.append(self.build(item, item_path))
                return items
            assert isinstance(node, MappingNode)
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: MappingNode, path: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == self.MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.issue(key_node, path, "keys must be plain names, not lists or mappings")
                continue
            key = str(key_node.value)
            key_path = join_path(path, key)
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.issue(
                    key_node,
                    key_path,
                    f"duplicate key {key!r} (first at line {first_line[key]}); each key may appear once in a mapping",
                )
                continue
            first_line[key] = line
            self.lines.setdefault(key_path, line)  # explicit keys come first; merged ones never move them
            result[key] = self.build(value_node, key_path)
        for merge in merges:  # YAML merge keys: explicit keys win, earlier merges win over later ones
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.issue(source, path, "'<<' merges a mapping (or a list of mappings) into this one")
                    continue
                for key, value in self.build(source, path).items():
                    result.setdefault(key, value)
        return result


def _parse_yaml(file: Path, text: str, reporter: _Collector) -> _Document | None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = "; ".join(part for part in (exc.context, exc.problem) if part)
        reporter.error(
            inv.Where(file, mark.line + 1 if mark else None, "(yaml syntax)"),
            f"{problem or 'invalid YAML'}; fix the YAML syntax here (indentation, ':' after keys, quotes)",
        )
        return None
    except yaml.YAMLError as exc:
        reporter.error(inv.Where(file, None, "(yaml syntax)"), f"invalid YAML ({type(exc).__name__}); fix the syntax")
        return None
    builder = _Builder(file, reporter)
    if root is None:
        return _Document(file, {}, {"": 1})
    builder.lines[""] = root.start_mark.line + 1
    try:
        data = builder.build(root, "")
    except _TooLargeError:
        reporter.error(
            inv.Where(file, None, "(top level)"),
            f"the file expands to more than {MAX_YAML_NODES} values (aliases?); write the configuration out",
        )
        return None
    return _Document(file, data, builder.lines)


# --- value rules for the schema -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected text, got {describe(value)}")
    return str(value)


def _checked(rule: Any) -> Any:
    def validate(value: Any) -> str:
        text = _text(value)
        message = rule(text)
        if message:
            raise ValueError(message)
        return text

    return validate


def _whole(minimum: int) -> Any:
    def validate(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number >= {minimum}, got {describe(value)}")
        if value < minimum:
            raise ValueError(f"must be a whole number >= {minimum}, got {value}")
        return value

    return validate


def _coordinate(what: str) -> Any:
    def validate(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, e.g. 51.84, got {describe(value)}")
        message = inv.check_coordinate(float(value), what)
        if message:
            raise ValueError(message)
        return float(value)

    return validate


def _address(value: Any) -> tuple[str, int]:
    return inv.parse_address(_text(value))


_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")
_LISTEN_RULE = (
    "expected host:port, e.g. 127.0.0.1:9873, 0.0.0.0:9873 or [::1]:9873 (port 1-65535, or 0 for any free port)"
)


def parse_listen(value: Any) -> tuple[str, int]:
    text = _text(value).strip()
    if text.startswith("["):
        try:
            host, port = inv.parse_address(text) if "]:" in text else ("", 0)
        except ValueError:
            host, port = "", 0
        if not port:
            raise ValueError(f"invalid listen address {text!r}: {_LISTEN_RULE}")
        return host, port
    host, colon, port_text = text.rpartition(":")
    if not colon or not host or ":" in host or not _HOSTNAME.fullmatch(host):
        raise ValueError(f"invalid listen address {text!r}: {_LISTEN_RULE}")
    if port_text == "0":
        return host, 0  # the operating system picks a free port; the service prints which
    try:
        return host, inv.parse_port(port_text)
    except ValueError:
        raise ValueError(f"invalid listen address {text!r}: {_LISTEN_RULE}") from None


def _snmp_version(value: Any) -> int:
    text = str(value).strip().lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text in ("1", "v1"):
        return 0
    if text in ("2c", "v2c"):
        return 1
    if text in ("3", "v3"):
        raise ValueError("SNMPv3 is not supported yet (it comes in a later release); use '1' or '2c'")
    raise ValueError(f"unsupported SNMP version {describe(value)}: use '1' or '2c' (SNMPv3 comes later)")


def _list_or_none(value: Any) -> Any:
    return [] if value is None else value


def _dict_or_none(value: Any) -> Any:
    return {} if value is None else value


def _one_or_list(value: Any) -> Any:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_text)]
DeviceId = Annotated[str, BeforeValidator(_checked(inv.check_device_id))]
Name = Annotated[str, BeforeValidator(_checked(inv.check_name))]
Tag = Annotated[str, BeforeValidator(_checked(lambda text: inv.check_name(text, "tag")))]
Kind = Annotated[str, BeforeValidator(_checked(inv.check_kind))]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Retries = Annotated[int, BeforeValidator(_whole(0))]
Positive = Annotated[int, BeforeValidator(_whole(1))]
Ratio = Annotated[float, BeforeValidator(parse_ratio)]
Address = Annotated[tuple[str, int], BeforeValidator(_address)]
Listen = Annotated[tuple[str, int], BeforeValidator(parse_listen)]
Latitude = Annotated[float, BeforeValidator(_coordinate("lat"))]
Longitude = Annotated[float, BeforeValidator(_coordinate("lon"))]
SnmpVersion = Annotated[int, BeforeValidator(_snmp_version)]
Names = Annotated[list[Name], BeforeValidator(_list_or_none)]
Tags = Annotated[list[Tag], BeforeValidator(_list_or_none)]
Kinds = Annotated[list[Kind], BeforeValidator(_list_or_none)]


# --- the schema ----------------------------------------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSpec(_Spec):
    """The top level of a configuration file; each section's items are validated on their own."""

    include: Annotated[list[Text], BeforeValidator(_one_or_list)] = []
    settings: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = {}
    credentials: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = {}
    defaults: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = {}
    groups: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = {}
    devices: Annotated[list[Any], BeforeValidator(_list_or_none)] = []
    inventory: Annotated[list[Any], BeforeValidator(_list_or_none)] = []
    maintenance: Annotated[list[Any], BeforeValidator(_list_or_none)] = []
    history: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = {}
    influx: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = {}
    ocpp: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = {}
    chargers: Annotated[list[Any], BeforeValidator(_list_or_none)] = []


def _secret_reference(value: Any, info: ValidationInfo) -> Secret:
    """A community given as ${ENV_VAR} or file:PATH, resolved; the value itself is refused."""
    # never put ``value`` into a message: it may be the secret itself
    what = "key" if (info.field_name or "").endswith("_key") else "community"
    if info.field_name in ("token", "password"):
        what = info.field_name
    if not isinstance(value, str) or not is_reference(value):
        raise ValueError(
            f"a literal {what} is not allowed: write a reference, ${{ENV_VAR}} or file:PATH "
            "(relative to this file), and keep the value itself out of the configuration"
        )
    context = info.context or {}
    try:
        secret = resolve(value, context.get("base_dir"), context.get("environ"))
    except SecretError as exc:
        hint = (
            "export it before starting stadtnetz, or use file:PATH"
            if value.startswith("$")
            else f"the file must be readable and hold the {what} on its first line"
        )
        raise ValueError(f"{exc}; {hint}") from None
    if not secret.reveal():
        raise ValueError(f"the {what} from {secret.source} is empty; it must hold the {what}")
    return secret


def _engine_id(value: Any) -> bytes:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("write the engine ID in quotes, e.g. '0x80001f88...': unquoted, YAML reads 0x... as a number")
    text = _text(value).lower().removeprefix("0x")
    try:
        engine_id = bytes.fromhex(text)
    except ValueError:
        raise ValueError("expected the sender's snmpEngineID in hex, e.g. 0x80001f8880c71100000000000b") from None
    if not 5 <= len(engine_id) <= 32:
        raise ValueError(f"an snmpEngineID has 5 to 32 bytes, this one {len(engine_id)}")
    return engine_id


class TrapUserSpec(_Spec):
    """An SNMPv3 user whose traps and informs are accepted (settings.trap_v3_users)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    user: Text
    auth_protocol: Literal["none", "md5", "sha", "sha224", "sha256", "sha384", "sha512"] = "sha"
    auth_key: Annotated[Secret | None, BeforeValidator(_secret_reference)] = None
    priv_protocol: Literal["none", "des", "aes", "aes192", "aes256"] = "aes"
    priv_key: Annotated[Secret | None, BeforeValidator(_secret_reference)] = None
    engine_id: Annotated[bytes | None, BeforeValidator(_engine_id)] = None

    @model_validator(mode="after")
    def _keys(self) -> TrapUserSpec:
        for protocol, key, name in (
            (self.auth_protocol, self.auth_key, "auth_key"),
            (self.priv_protocol, self.priv_key, "priv_key"),
        ):
            if protocol != "none" and key is None:
                raise ValueError(f"{name} is required with {protocol} (a reference: ${{ENV_VAR}} or file:PATH)")
            if key is not None and len(key.reveal()) < 8:
                raise ValueError(f"the {name} from {key.source} is shorter than 8 characters, which USM refuses")
        if self.auth_protocol == "none" and self.priv_protocol != "none":
            raise ValueError("privacy without authentication does not exist in SNMPv3: set auth_protocol too")
        return self


class SettingsSpec(_Spec):
    interval: Duration = 60.0
    timeout: Duration = 2.0
    retries: Retries = 1
    concurrency: Positive = 256
    max_in_flight_per_device: Positive = 1
    max_repetitions: Positive = 25
    listen: Listen = ("127.0.0.1", 9873)
    profile_dirs: Annotated[list[Text], BeforeValidator(_list_or_none)] = []
    mib_dirs: Annotated[list[Text], BeforeValidator(_list_or_none)] = []
    ping_count: Positive = 5
    ping_timeout: Duration = 1.0
    degraded_loss: Ratio = 0.2
    degraded_rtt: Duration = 0.15
    flap_high: Ratio = 0.5
    flap_low: Ratio = 0.25
    trap_listen: Listen | None = None
    trap_community: Annotated[Secret | None, BeforeValidator(_secret_reference)] = None
    trap_v3_users: Annotated[list[TrapUserSpec], BeforeValidator(_list_or_none)] = []

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @model_validator(mode="after")
    def _flap_thresholds(self) -> SettingsSpec:
        if not 0 < self.flap_low < self.flap_high:
            raise ValueError("flap_low must be below flap_high (hysteresis: flapping starts at high, ends below low)")
        return self


class CredentialSpec(_Spec):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    version: SnmpVersion = 1
    community: Secret

    _resolve_reference = field_validator("community", mode="before")(_secret_reference)


class LayerSpec(_Spec):
    """What ``defaults`` may set."""

    credentials: Name | None = None
    profiles: Names | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: Retries | None = None
    ping: bool | None = None
    tags: Tags = []


class GroupSpec(LayerSpec):
    """What a group may set: everything ``defaults`` may, plus the kinds it claims and its parent."""

    kinds: Kinds = []
    parent: Name | None = None


class DeviceSpec(_Spec):
    id: DeviceId
    kind: Kind
    address: Address
    site: Text = ""
    district: Text = ""
    lat: Latitude | None = None
    lon: Longitude | None = None
    upstream: DeviceId | None = None
    model: Text = ""
    group: Name | None = None
    tags: Tags = []
    profiles: Names | None = None
    credentials: Name | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: Retries | None = None
    ping: bool | None = None


class InventorySpec(_Spec):
    file: Text
    group: Name | None = None


class MatchSpec(_Spec):
    """Which devices a maintenance window covers (see :mod:`stadtnetz.maintenance`)."""

    devices: Annotated[list[DeviceId], BeforeValidator(_one_or_list)] = []
    sites: Annotated[list[Text], BeforeValidator(_one_or_list)] = []
    districts: Annotated[list[Text], BeforeValidator(_one_or_list)] = []
    kinds: Annotated[list[Kind], BeforeValidator(_one_or_list)] = []
    tags: Annotated[list[Tag], BeforeValidator(_one_or_list)] = []
    groups: Annotated[list[Name], BeforeValidator(_one_or_list)] = []


def _timezone(value: Any) -> str:
    text = _text(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r}: use an IANA name like Europe/Berlin") from None
    return text


class MaintenanceSpec(_Spec):
    """One maintenance window: once (start, end) or recurring (every, at, duration)."""

    name: Name
    reason: Text = ""
    match: MatchSpec
    timezone: Annotated[str, BeforeValidator(_timezone)] = DEFAULT_TIMEZONE
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    every: Annotated[tuple[int, ...] | None, BeforeValidator(parse_weekdays)] = None
    at: Annotated[dt.time | None, BeforeValidator(parse_time_of_day)] = None
    duration: Duration | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _instant(cls, value: Any, info: ValidationInfo) -> dt.datetime:
        return parse_instant(value, info.data.get("timezone", DEFAULT_TIMEZONE))

    @model_validator(mode="after")
    def _schedule(self) -> MaintenanceSpec:
        if self.match == MatchSpec():
            raise ValueError("match: name at least one of devices, sites, districts, kinds, tags, groups")
        once = self.start is not None or self.end is not None
        recurring = self.every is not None or self.at is not None
        if once and recurring:
            raise ValueError("give either start and end (once) or every, at and duration (recurring), not both")
        if once:
            if self.start is None or self.end is None:
                raise ValueError("a one-off window needs both start and end")
            if self.end <= self.start:
                raise ValueError(f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()})")
            if self.duration is not None:
                raise ValueError("duration belongs to recurring windows; a one-off window ends at end")
        elif recurring or self.duration is not None:
            if self.every is None or self.at is None or self.duration is None:
                raise ValueError("a recurring window needs every (weekdays), at (local time) and duration")
            if self.duration > 7 * 86400:
                raise ValueError("duration: a recurring window lasts at most a week")
        else:
            raise ValueError("say when: start and end, or every, at and duration")
        return self


_DEFAULT_HISTORY = HistorySettings()


class RetentionSpec(_Spec):
    """How long the history keeps each kind of row (see :mod:`stadtnetz.history`)."""

    transitions: Duration = _DEFAULT_HISTORY.transitions_retention
    outages: Duration = _DEFAULT_HISTORY.outages_retention
    rollups: Duration = _DEFAULT_HISTORY.rollups_retention
    availability: Duration = _DEFAULT_HISTORY.availability_retention


class HistorySpec(_Spec):
    """The embedded SQLite history: where (relative to the file) and for how long."""

    path: Text | None = None
    retention: Annotated[RetentionSpec, BeforeValidator(_dict_or_none)] = RetentionSpec()
    max_pending: Positive = _DEFAULT_HISTORY.max_pending


MIN_SPOOL_BYTES = 1 << 20


def _url(value: Any) -> str:
    text = _text(value).strip()
    parts = urllib.parse.urlsplit(text)
    if "@" in parts.netloc:
        # never echo ``text``: the part before the @ is a user name and perhaps a password
        raise ValueError(
            "credentials in the URL are not allowed (they would show in `stadtnetz check`, logs and errors): "
            f"write the URL without user:password@ ({parts.scheme or 'http'}://{parts.netloc.rpartition('@')[2]}) "
            "and give InfluxDB's API token as token: ${ENV_VAR} or token: file:PATH"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"expected the server's URL, e.g. http://127.0.0.1:8086 (http or https), got {text!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"invalid port in {text!r}: 1-65535") from None
    return text.rstrip("/")


def _spool_size(value: Any) -> int:
    size = parse_size(value)
    if size < MIN_SPOOL_BYTES:
        raise ValueError(f"a spool needs at least 1MiB ({MIN_SPOOL_BYTES} bytes), got {size}")
    return size


class InfluxSpoolSpec(_Spec):
    """``influx.spool``: where points wait until InfluxDB acknowledged them (see exporters/spool.py)."""

    path: Text
    max_bytes: Annotated[int, BeforeValidator(_spool_size)] = 1 << 30
    fsync: Literal["always", "interval", "never"] = "interval"
    fsync_interval: Duration = 1.0


class InfluxSpec(_Spec):
    """The top-level ``influx`` section (see exporters/influx.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    url: Annotated[str, BeforeValidator(_url)]
    org: Text
    bucket: Text
    token: Annotated[Secret | None, BeforeValidator(_secret_reference)] = None
    precision: Literal["s", "ms", "us", "ns"] = "s"
    batch_size: Positive = 5000
    flush_interval: Duration = 1.0
    timeout: Duration = 10.0
    max_retry_interval: Duration = 30.0
    gzip: bool = True
    spool: InfluxSpoolSpec


def _offline_after(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number of heartbeat intervals greater than 1, e.g. 3, got {describe(value)}")
    if not 1 < value <= 100:
        raise ValueError(f"a multiple of the heartbeat interval greater than 1 (and at most 100), got {value}")
    return float(value)


def _heartbeat(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds < 1 or seconds != round(seconds):
        raise ValueError("chargers are told whole seconds: at least 1s, e.g. 5m")
    return seconds


def _connectors(value: Any) -> int:
    number = _whole(1)(value)
    if number > MAX_CONNECTORS:
        raise ValueError(f"at most {MAX_CONNECTORS} connectors per charger (the endpoint keeps no more)")
    return number


class OcppTlsSpec(_Spec):
    """``ocpp.tls``: OCPP security profile 2 (wss://); both files PEM, relative to the configuration file."""

    certificate: Text
    key: Text


class OcppSpec(_Spec):
    """The top-level ``ocpp`` section: the endpoint chargers connect to (see collectors/ocpp.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    listen: Listen = ("127.0.0.1", 9000)
    heartbeat_interval: Annotated[float, BeforeValidator(_heartbeat)] = 300.0
    offline_after: Annotated[float, BeforeValidator(_offline_after)] = 3.0
    password: Annotated[Secret | None, BeforeValidator(_secret_reference)] = None
    auth: Literal["basic", "none"] = "basic"
    tls: OcppTlsSpec | None = None
    availability_target: Ratio = 0.97
    availability_window: Duration = 30 * 86400.0


class ChargerSpec(_Spec):
    """One entry of ``chargers``."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    id: DeviceId
    device: DeviceId | None = None
    site: Text | None = None
    district: Text | None = None
    connectors: Annotated[int, BeforeValidator(_connectors)] | None = None
    password: Annotated[Secret | None, BeforeValidator(_secret_reference)] = None
    group: Name | None = None
    tags: Tags = []


# --- pydantic errors -> issues -------------------------------------------------------------------------------------

_TYPE_MESSAGES = {
    "dict_type": "expected a mapping (key: value lines)",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "list_type": "expected a list ([a, b] or one '- item' per line)",
    "tuple_type": "expected a list ([a, b] or one '- item' per line)",
    "string_type": "expected text",
}


def _message(error: Mapping[str, Any], model: type[BaseModel], sensitive: bool) -> str:
    kind = error["type"]
    loc = error["loc"]
    fields = list(model.model_fields)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = fields if len(loc) == 1 else []
        message = f"unknown field {key!r}"
        if allowed:
            message += f" (allowed: {', '.join(allowed)})"
            close = difflib.get_close_matches(key, allowed, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        return message
    if kind == "missing":
        required = [name for name, info in model.model_fields.items() if info.is_required()]
        return f"missing required field {loc[-1]!r} (required: {', '.join(required)})"
    if kind in ("value_error", "assertion_error"):
        return str(error["ctx"]["error"])
    if kind in _TYPE_MESSAGES:
        message = _TYPE_MESSAGES[kind]
        if not loc and kind.startswith("model"):
            message = f"expected a mapping with the fields {', '.join(fields)}"
        return message if sensitive else f"{message}, got {describe(error['input'])}"
    return str(error["msg"])


# --- loading -------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _SectionOnce:
    """``settings`` and ``defaults`` may be written in one file only; remembers where."""

    where: inv.Where | None = None


class _Loader:
    def __init__(self, environ: Mapping[str, str], reporter: _Collector) -> None:
        self.environ = dict(environ)
        self.reporter = reporter
        self.stack: list[tuple[Path, Path]] = []  # (resolved, as written) of the files being read
        self.loaded: set[Path] = set()
        self.settings = Settings()
        self.base = inv.Layer(origin=inv.Origin(Path("<settings>"), None, "settings"))
        self.defaults = inv.Layer(origin=inv.Origin(Path("<defaults>"), None, "defaults"))
        self.settings_seen = _SectionOnce()
        self.defaults_seen = _SectionOnce()
        self.credentials: dict[str, SnmpCredentials] = {}
        self.credential_origin: dict[str, inv.Where] = {}
        self.groups: dict[str, inv.GroupEntry] = {}
        self.entries: list[inv.DeviceEntry] = []
        self.csv_sources: list[inv.CsvSource] = []
        self.device_items = 0
        self.unreadable = False  # a file could not be read or parsed: its devices are unknown
        self.root_devices_where: inv.Where | None = None
        self.maintenance: list[tuple[MaintenanceSpec, _Document, str]] = []
        self.history = HistorySettings()
        self.history_seen = _SectionOnce()
        self.influx_seen = _SectionOnce()
        self.influx: tuple[InfluxSettings, _Document] | None = None
        self.ocpp_seen = _SectionOnce()
        self.ocpp: tuple[OcppSettings, Secret | None] | None = None
        self.chargers: list[tuple[ChargerSpec, _Document, str]] = []

    # files and includes

    def load_file(self, path: Path, included_from: inv.Where | None) -> None:
        key = path.resolve()
        if any(active == key for active, _ in self.stack):
            chain = [str(written) for _, written in self.stack] + [str(path)]
            assert included_from is not None
            self.reporter.error(
                included_from, f"include cycle: {' -> '.join(chain)}; a file cannot include itself, even indirectly"
            )
            return
        if key in self.loaded:
            return  # each file is read once, however often it is included
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            where = included_from or inv.Where(path, None, "(file)")
            hint = "; include paths are relative to the including file" if included_from else ""
            self.reporter.error(where, f"cannot read configuration file {path}: {reason}{hint}")
            self.unreadable = True
            return
        self.loaded.add(key)
        self.reporter.register(path)
        self.stack.append((key, path))
        try:
            document = _parse_yaml(path, text, self.reporter)
            if document is None:
                self.unreadable = True
            else:
                self.process(document)
        finally:
            self.stack.pop()

    def validate(
        self, document: _Document, path: str, model: type[BaseModel], raw: Any, context: dict | None = None
    ) -> Any:
        """Validate ``raw`` (at ``path`` of ``document``) with ``model``; report every error, return None on any."""
        spec, failed = self.validate_partly(document, path, model, raw, context)
        return None if failed else spec

    def validate_partly(
        self,
        document: _Document,
        path: str,
        model: type[BaseModel],
        raw: Any,
        context: dict | None = None,
        placeholders: Mapping[str, Any] | None = None,
    ) -> tuple[Any, set[str] | None]:
        """Validate and report; returns (spec, None) if valid, else (spec of the valid fields or None, failed fields).

        The partial spec lets reference checks (groups, upstream, credentials)
        still run on the fields that are fine, so one run reports everything.
        Required fields that failed are replaced by ``placeholders`` (or no
        partial spec is made).
        """
        try:
            return model.model_validate(raw, context=context), None
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        for error in errors:
            field_path = join_path(path, *error["loc"])
            # never echo a secret
            sensitive = (
                path.startswith("credentials")
                or "community" in field_path
                or field_path == "influx.token"
                or "password" in field_path
            )
            self.reporter.error(document.where(field_path), _message(error, model, sensitive))
        failed = {str(error["loc"][0]) for error in errors if error["loc"]}
        if not isinstance(raw, dict) or any(not error["loc"] for error in errors):
            return None, failed
        partial = {key: value for key, value in raw.items() if key not in failed}
        for name, info in model.model_fields.items():
            if info.is_required() and name not in partial:
                if not placeholders or name not in placeholders:
                    return None, failed
                partial[name] = placeholders[name]
        try:
            return model.model_validate(partial, context=context), failed
        except ValidationError:  # pragma: no cover - every failing field was removed
            return None, failed

    def process(self, document: _Document) -> None:
        data = document.data
        if not isinstance(data, dict):
            self.reporter.error(
                document.where(""),
                f"expected a mapping with the sections {', '.join(SECTIONS)}, got {describe(data)}",
            )
            return
        self.validate(document, "", FileSpec, data)
        includes = _one_or_list(data.get("include"))
        if isinstance(includes, list):
            for index, name in enumerate(includes):
                if isinstance(name, str) and name.strip():
                    where = document.where(join_path("include", index))
                    self.load_file(Path(os.path.normpath(document.file.parent / name.strip())), where)
        if isinstance(data.get("settings"), dict):
            self.process_settings(document, data["settings"])
        if isinstance(data.get("credentials"), dict):
            for name, raw in data["credentials"].items():
                self.process_credentials(document, name, raw)
        if isinstance(data.get("defaults"), dict):
            self.process_defaults(document, data["defaults"])
        if isinstance(data.get("groups"), dict):
            for name, raw in data["groups"].items():
                self.process_group(document, name, raw)
        if "devices" in data and self.root_devices_where is None and len(self.stack) == 1:
            self.root_devices_where = document.where("devices")
        if isinstance(data.get("devices"), list):
            for index, raw in enumerate(data["devices"]):
                self.process_device(document, join_path("devices", index), raw)
        if isinstance(data.get("inventory"), list):
            for index, raw in enumerate(data["inventory"]):
                path = join_path("inventory", index)
                spec = self.validate(document, path, InventorySpec, raw)
                if spec is not None:
                    self.csv_sources.append(
                        inv.CsvSource(index, document.file.parent / spec.file, document.origin(path), spec.group)
                    )
        if "influx" in data and isinstance(data["influx"] or {}, dict):
            self.process_influx(document, data["influx"] or {})
        if isinstance(data.get("maintenance"), list):
            for index, raw in enumerate(data["maintenance"]):
                path = join_path("maintenance", index)
                spec = self.validate(document, path, MaintenanceSpec, raw)
                if spec is not None:
                    self.maintenance.append((spec, document, path))
        if isinstance(data.get("history"), dict):
            self.process_history(document, data["history"])
        if "ocpp" in data and isinstance(data["ocpp"] or {}, dict):
            self.process_ocpp(document, data["ocpp"] or {})
        if isinstance(data.get("chargers"), list):
            context = {"base_dir": document.file.parent, "environ": self.environ}
            for index, raw in enumerate(data["chargers"]):
                path = join_path("chargers", index)
                spec = self.validate(document, path, ChargerSpec, raw, context)
                if spec is not None:
                    self.chargers.append((spec, document, path))

    def once(self, seen: _SectionOnce, document: _Document, section: str) -> bool:
        where = document.where(section)
        if seen.where is not None:
            self.reporter.error(where, f"{section} is already given in {seen.where}; write {section} in one file only")
            return False
        seen.where = where
        return True

    # sections

    def directories(self, document: _Document, field: str, names: list[str], what: str) -> list[str]:
        """Directories named in settings, made absolute (relative to the file); each must exist."""
        directories: list[str] = []
        for index, name in enumerate(names):
            directory = (document.file.parent / name).resolve()
            if not directory.is_dir():
                self.reporter.error(
                    document.where(join_path(f"settings.{field}", index)),
                    f"{what} directory {directory} does not exist; paths are relative to this file",
                )
            directories.append(str(directory))
        return directories

    def process_settings(self, document: _Document, raw: dict) -> None:
        if not self.once(self.settings_seen, document, "settings"):
            return
        context = {"base_dir": document.file.parent, "environ": self.environ}
        spec, _ = self.validate_partly(document, "settings", SettingsSpec, raw, context)
        if spec is None:
            return
        directories = self.directories(document, "profile_dirs", spec.profile_dirs, "profile")
        mib_directories = self.directories(document, "mib_dirs", spec.mib_dirs, "MIB module")
        self.settings = Settings(
            interval=spec.interval,
            timeout=spec.timeout,
            retries=spec.retries,
            concurrency=spec.concurrency,
            max_in_flight_per_device=spec.max_in_flight_per_device,
            max_repetitions=spec.max_repetitions,
            listen_host=spec.listen[0],
            listen_port=spec.listen[1],
            profile_dirs=tuple(directories),
            mib_dirs=tuple(mib_directories),
            ping_count=spec.ping_count,
            ping_timeout=spec.ping_timeout,
            degraded_loss=spec.degraded_loss,
            degraded_rtt=spec.degraded_rtt,
            flap_high=spec.flap_high,
            flap_low=spec.flap_low,
            trap_listen=spec.trap_listen,
            trap_community=spec.trap_community,
            trap_v3_users=tuple(
                V3User(u.user, u.auth_protocol, u.auth_key, u.priv_protocol, u.priv_key, u.engine_id)
                for u in spec.trap_v3_users
            ),
        )
        explicit = spec.model_fields_set
        self.base = inv.Layer(
            origin=document.origin("settings"),
            interval=spec.interval if "interval" in explicit else None,
            timeout=spec.timeout if "timeout" in explicit else None,
            retries=spec.retries if "retries" in explicit else None,
        )

    def process_history(self, document: _Document, raw: dict) -> None:
        if not self.once(self.history_seen, document, "history"):
            return
        spec = self.validate(document, "history", HistorySpec, raw)
        if spec is None:
            return
        path = None
        if spec.path is not None and spec.path.strip():
            path = Path(os.path.normpath(document.file.parent / spec.path.strip()))
            if not path.parent.is_dir():
                self.reporter.error(
                    document.where("history.path"),
                    f"directory {path.parent} does not exist; create it (paths are relative to this file)",
                )
                return
            if path.is_dir():
                self.reporter.error(document.where("history.path"), f"{path} is a directory; name a file in it")
                return
        self.history = HistorySettings(
            path=path,
            transitions_retention=spec.retention.transitions,
            outages_retention=spec.retention.outages,
            rollups_retention=spec.retention.rollups,
            availability_retention=spec.retention.availability,
            max_pending=spec.max_pending,
        )

    def process_influx(self, document: _Document, raw: dict) -> None:
        if not self.once(self.influx_seen, document, "influx"):
            return
        context = {"base_dir": document.file.parent, "environ": self.environ}
        spec = self.validate(document, "influx", InfluxSpec, raw, context)
        if spec is None:
            return
        spool_path = Path(os.path.abspath(document.file.parent / spec.spool.path))
        if spool_path.exists() and not spool_path.is_dir():
            self.reporter.error(
                document.where("influx.spool.path"),
                f"{spool_path} exists and is not a directory; the spool needs a directory of its own",
            )
            return
        spool = InfluxSpool(str(spool_path), spec.spool.max_bytes, spec.spool.fsync, spec.spool.fsync_interval)
        self.influx = (
            InfluxSettings(
                url=spec.url,
                org=spec.org,
                bucket=spec.bucket,
                spool=spool,
                token=spec.token,
                precision=spec.precision,
                batch_size=spec.batch_size,
                flush_interval=spec.flush_interval,
                timeout=spec.timeout,
                max_retry_interval=spec.max_retry_interval,
                gzip=spec.gzip,
            ),
            document,
        )

    def process_ocpp(self, document: _Document, raw: dict) -> None:
        if not self.once(self.ocpp_seen, document, "ocpp"):
            return
        context = {"base_dir": document.file.parent, "environ": self.environ}
        spec = self.validate(document, "ocpp", OcppSpec, raw, context)
        if spec is None:
            return
        certificate = key = None
        if spec.tls is not None:
            certificate = Path(os.path.abspath(document.file.parent / spec.tls.certificate))
            key = Path(os.path.abspath(document.file.parent / spec.tls.key))
            try:
                server_tls_context(certificate, key)
            except (OSError, ssl.SSLError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.reporter.error(
                    document.where("ocpp.tls"),
                    f"cannot use the certificate {certificate} with the key {key}: {reason} "
                    "(PEM files, paths relative to this file, the key matching the certificate)",
                )
                return
        settings = OcppSettings(
            listen=spec.listen,
            heartbeat_interval=spec.heartbeat_interval,
            offline_after=spec.offline_after,
            tls_certificate=certificate,
            tls_key=key,
            availability_target=spec.availability_target,
            availability_window=spec.availability_window,
            auth=spec.auth,
        )
        self.ocpp = (settings, spec.password)

    def resolve_chargers(self, devices: list[Device]) -> list[Charger]:
        """The chargers, their modem references checked and site and district taken from the modem."""
        by_id = {device.id: device for device in devices}
        chargers: list[Charger] = []
        first: dict[str, inv.Where] = {}
        for spec, document, path in self.chargers:
            where = document.where(path)
            if self.ocpp is None:
                if self.ocpp_seen.where is None:  # (an ocpp section with errors has been reported already)
                    self.reporter.error(
                        where,
                        "chargers need an ocpp section: where they connect (ocpp.listen) and how often they report",
                    )
                return []
            if spec.id in first:
                self.reporter.error(
                    document.where(join_path(path, "id")),
                    f"charger {spec.id!r} is already declared at {first[spec.id]}; charger ids must be unique",
                )
                continue
            first[spec.id] = where
            modem = None
            if spec.device is not None:
                modem = by_id.get(spec.device)
                if modem is None:
                    close = difflib.get_close_matches(spec.device, sorted(by_id), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    self.reporter.error(
                        document.where(join_path(path, "device")),
                        f"unknown device {spec.device!r} (the charger's modem must be a device of the inventory){hint}",
                    )
                    continue
            chargers.append(
                Charger(
                    id=spec.id,
                    device=spec.device,
                    site=spec.site if spec.site is not None else (modem.site if modem else ""),
                    district=spec.district if spec.district is not None else (modem.district if modem else ""),
                    connectors=spec.connectors,
                    password=spec.password if spec.password is not None else self.ocpp[1],
                    tags=tuple(spec.tags),
                    group=spec.group,
                )
            )
        self.check_charger_passwords(chargers)
        if self.ocpp is not None and not self.chargers and self.ocpp_seen.where is not None:
            self.reporter.warning(
                self.ocpp_seen.where, "no chargers are declared (chargers:): the OCPP endpoint is not started"
            )
        return chargers

    def check_charger_passwords(self, chargers: list[Charger]) -> None:
        """ocpp.auth basic (the default): a charger without a password, its own or ocpp.password, is an error."""
        if self.ocpp is None or self.ocpp[0].auth != "basic":
            return
        without = [charger.id for charger in chargers if charger.password is None]
        if not without:
            return
        where = {spec.id: document.where(path) for spec, document, path in reversed(self.chargers)}
        shown = ", ".join(repr(cp_id) for cp_id in without[:5])
        if len(without) > 5:
            shown += f" and {len(without) - 5} more"
        self.reporter.error(
            where[without[0]],
            f"no password for charger(s) {shown}: ocpp.auth is basic (the default), so anyone reaching the "
            "endpoint could connect as a charger without one; give ocpp.password (shared) or a password per "
            "charger (references: ${ENV_VAR} or file:PATH), or write auth: none under ocpp to accept charger "
            "ids without credentials",
        )

    def check_influx_precision(self, devices: list[Device]) -> None:
        """Every poll interval must be a whole number of the precision's units, or snapshots share timestamps."""
        if self.influx is None:
            return
        settings, document = self.influx
        unit = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[settings.precision]
        for interval in sorted({device.interval for device in devices}):
            steps = interval / unit
            if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
                example = next(device.id for device in devices if device.interval == interval)
                self.reporter.error(
                    document.where("influx.precision"),
                    f"precision {settings.precision} cannot carry the poll interval of {interval:g} s "
                    f"(device {example!r}): snapshots would share or shift timestamps; use a finer precision "
                    "(ms, us or ns)",
                )
                return

    def process_credentials(self, document: _Document, name: str, raw: Any) -> None:
        path = join_path("credentials", name)
        if message := inv.check_name(name, "credentials name"):
            self.reporter.error(document.where(path), message)
            return
        if name in self.credential_origin:
            self.reporter.error(
                document.where(path),
                f"credentials {name!r} are already defined at {self.credential_origin[name]}; "
                "each name may be defined once",
            )
            return
        self.credential_origin[name] = document.where(path)
        context = {"base_dir": document.file.parent, "environ": self.environ}
        spec = self.validate(document, path, CredentialSpec, raw, context)
        if spec is not None:
            self.credentials[name] = SnmpCredentials(name=name, version=spec.version, community=spec.community)

    def process_defaults(self, document: _Document, raw: dict) -> None:
        if not self.once(self.defaults_seen, document, "defaults"):
            return
        spec, _ = self.validate_partly(document, "defaults", LayerSpec, raw)
        if spec is not None:
            self.defaults = _layer(spec, document.origin("defaults"))

    def process_group(self, document: _Document, name: str, raw: Any) -> None:
        path = join_path("groups", name)
        if message := inv.check_name(name, "group name"):
            self.reporter.error(document.where(path), message)
            return
        if name in self.groups:
            first = self.groups[name].layer.origin.at()
            self.reporter.error(
                document.where(path),
                f"group {name!r} is already defined at {first}; each group may be defined once",
            )
            return
        spec, _ = self.validate_partly(document, path, GroupSpec, {} if raw is None else raw)
        if spec is None:  # keep the name known, so devices naming it get no follow-up errors
            self.groups[name] = inv.GroupEntry(name, inv.Layer(origin=document.origin(path)))
            return
        self.groups[name] = inv.GroupEntry(name, _layer(spec, document.origin(path)), tuple(spec.kinds), spec.parent)

    def process_device(self, document: _Document, path: str, raw: Any) -> None:
        self.device_items += 1
        origin = document.origin(path)
        # a device with a bad field keeps its valid ones (marked broken): its id still counts for duplicates
        # and upstream links, and its references are still checked
        spec, failed = self.validate_partly(document, path, DeviceSpec, raw, placeholders=_DEVICE_PLACEHOLDERS)
        if spec is None:
            return
        host, port = spec.address
        self.entries.append(
            inv.DeviceEntry(
                id=spec.id,
                layer=_layer(spec, origin),
                kind="" if failed and "kind" in failed else spec.kind,
                host=host,
                port=port,
                site=spec.site,
                district=spec.district,
                lat=spec.lat,
                lon=spec.lon,
                upstream=spec.upstream,
                model=spec.model,
                group=spec.group,
                broken=failed is not None,
            )
        )

    def maintenance_windows(
        self, devices: list[Device], groups: Mapping[str, Any], chargers: list[Charger]
    ) -> list[MaintenanceWindow]:
        """The declared windows, their references to devices (chargers too) and groups checked."""
        known = {device.id for device in devices} | {charger.id for charger in chargers}
        windows: list[MaintenanceWindow] = []
        first: dict[str, inv.Where] = {}
        for spec, document, path in self.maintenance:
            where = document.where(path)
            if spec.name in first:
                self.reporter.error(
                    document.where(join_path(path, "name")),
                    f"maintenance window {spec.name!r} is already declared at {first[spec.name]}; names must be unique",
                )
                continue
            first[spec.name] = where
            for field_name, names, pool, what in (
                ("devices", spec.match.devices, known, "device"),
                ("groups", spec.match.groups, set(groups), "group"),
            ):
                for index, name in enumerate(names):
                    if name not in pool:
                        close = difflib.get_close_matches(name, sorted(pool), n=1)
                        hint = f"; did you mean {close[0]!r}?" if close else ""
                        self.reporter.error(
                            document.where(join_path(path, "match", field_name, index)),
                            f"unknown {what} {name!r}{hint}",
                        )
            match = DeviceMatch(*(frozenset(getattr(spec.match, key)) for key in MatchSpec.model_fields))
            recurrence = None
            if spec.every is not None and spec.at is not None and spec.duration is not None:
                recurrence = Recurrence(spec.every, spec.at, spec.duration)
            window = MaintenanceWindow(
                name=spec.name,
                match=match,
                reason=spec.reason,
                start=spec.start,
                end=spec.end,
                recurrence=recurrence,
                timezone=spec.timezone,
                where=str(where),
            )
            if not any(match.matches(item) for item in [*devices, *chargers]):
                self.reporter.warning(
                    document.where(join_path(path, "match")), "matches no device or charger of the inventory"
                )
            windows.append(window)
        return windows

    def read_inventories(self) -> bool:
        """Read every CSV inventory; False if any file (YAML or CSV) was unusable."""
        usable = not self.unreadable
        for source in self.csv_sources:
            if source.group is not None and source.group not in self.groups:
                defined = ", ".join(self.groups) or "none; add them under groups:"
                self.reporter.error(source.origin.at("group"), f"unknown group {source.group!r} (defined: {defined})")
                source = inv.CsvSource(source.index, source.file, source.origin, None)
            self.reporter.register(source.file)
            rows = inv.read_csv(source, self.reporter)
            if rows is None:
                usable = False
            else:
                self.device_items += len(rows)
                self.entries.extend(rows)
        return usable


_DEVICE_PLACEHOLDERS = {"kind": "invalid", "address": "0.0.0.0"}  # stand-ins in a broken device's partial spec


def _layer(spec: LayerSpec | GroupSpec | DeviceSpec, origin: inv.Origin) -> inv.Layer:
    return inv.Layer(
        origin=origin,
        credentials=spec.credentials,
        profiles=tuple(spec.profiles) if spec.profiles is not None else None,
        interval=spec.interval,
        timeout=spec.timeout,
        retries=spec.retries,
        ping=spec.ping,
        tags=tuple(spec.tags),
    )


def load_inventory(
    path: Path, known_profiles: set[str] | None = None, environ: Mapping[str, str] | None = None
) -> Inventory:
    """Load the configuration at ``path`` (and its includes) into a resolved :class:`Inventory`.

    ``known_profiles``: profile names that exist besides those in the
    configuration's own ``settings.profile_dirs`` (which are added); None skips
    the profile reference check. ``environ`` replaces ``os.environ`` for
    ``${VAR}`` secret references. Raises :class:`ConfigError` listing every
    problem found; warnings (e.g. ignored CSV columns) end up in
    ``Inventory.warnings``.
    """
    path = Path(path)
    reporter = _Collector()
    loader = _Loader(os.environ if environ is None else environ, reporter)
    loader.load_file(path, None)
    files_usable = loader.read_inventories()
    extra_profiles = profile_names([Path(d) for d in loader.settings.profile_dirs])
    profiles = None if known_profiles is None else set(known_profiles) | extra_profiles
    devices, groups = inv.resolve(
        loader.base,
        loader.defaults,
        loader.groups,
        loader.entries,
        set(loader.credential_origin),
        profiles,
        reporter,
    )
    chargers = loader.resolve_chargers(devices)
    maintenance = loader.maintenance_windows(devices, groups, chargers)
    loader.check_influx_precision(devices)
    if loader.device_items == 0 and not loader.chargers and files_usable:
        reporter.error(
            loader.root_devices_where or inv.Where(path, None, "devices"),
            "the inventory has no devices: add entries under devices: or a CSV file under inventory:",
        )
    if reporter.errors:
        raise ConfigError(reporter.ordered(reporter.errors))
    warnings = [str(issue) for issue in reporter.ordered(reporter.warnings)]
    log.debug(
        "loaded %s: %d devices, %d groups, %d credential sets, %d warnings",
        path,
        len(devices),
        len(groups),
        len(loader.credentials),
        len(warnings),
    )
    return Inventory(
        settings=loader.settings,
        credentials=loader.credentials,
        devices=devices,
        groups=groups,
        warnings=warnings,
        maintenance=maintenance,
        history=loader.history,
        influx=loader.influx[0] if loader.influx is not None else None,
        ocpp=loader.ocpp[0] if loader.ocpp is not None and chargers else None,
        chargers=chargers,
    )
