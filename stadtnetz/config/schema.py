"""The schema of the configuration file: one pydantic model per section and per entry.

Owns what each section may contain: the field names (their order is the order of the "allowed: ..." messages),
each field's type and default. The value rules are in :mod:`stadtnetz.config.rules`; turning validated sections
into settings and devices is :mod:`stadtnetz.config.sections`' job.

The ``Annotated`` aliases are imported at runtime (not under ``TYPE_CHECKING``): with ``from __future__ import
annotations`` pydantic resolves them through this module's globals.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from stadtnetz.config.rules import (
    Address,
    AgsCode,
    Amperes,
    Backhaul,
    ClockTime,
    ConnectorFormat,
    ConnectorStandard,
    CountryCode,
    DeviceId,
    Duration,
    Kind,
    Kinds,
    LanguageCode,
    Latitude,
    Listen,
    Longitude,
    Name,
    Names,
    Nuts,
    PartyId,
    Positive,
    Postcode,
    PowerType,
    Ratio,
    Retries,
    SnmpVersion,
    Tag,
    Tags,
    Text,
    Volts,
    Watts,
    Weekdays,
    _ags_list,
    _choice,
    _connectors,
    _crs,
    _detour,
    _dict_or_none,
    _engine_id,
    _euro,
    _heartbeat,
    _list_or_none,
    _mbit,
    _offline_after,
    _one_or_list,
    _opening_hours,
    _password_hash,
    _secret_reference,
    _spool_size,
    _timezone,
    _url,
)
from stadtnetz.maintenance import DEFAULT_TIMEZONE, parse_instant, parse_time_of_day, parse_weekdays
from stadtnetz.model import DEVICE_FIELDS, LICENCES, MAX_CONNECTORS, HistorySettings, OpenDataSettings
from stadtnetz.secrets import Secret

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
    "planning",
    "web",
    "opendata",
)
DEVICE_HELP = {device_field.name: device_field.help for device_field in DEVICE_FIELDS}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSpec(_Spec):
    """The top level of a configuration file; each section's items are validated on their own."""

    include: Annotated[list[Text], BeforeValidator(_one_or_list)] = Field(
        [],
        description=(
            "other YAML files, relative to this one; each is read once, a missing file or an include cycle is"
            " an error"
        ),
        examples=[["groups.yaml"]],
    )
    settings: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description="global settings (in at most one file)",
    )
    credentials: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description="named SNMP credential sets: a community (v1 / v2c) or an SNMPv3 user",
    )
    defaults: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description="for every device (in at most one file)",
    )
    groups: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description="named groups; a device belongs to the group it names, else to the group claiming its kind",
    )
    devices: Annotated[list[Any], BeforeValidator(_list_or_none)] = Field([], description="the devices, one item each")
    inventory: Annotated[list[Any], BeforeValidator(_list_or_none)] = Field(
        [],
        description="CSV files operators keep in spreadsheets (columns below)",
    )
    maintenance: Annotated[list[Any], BeforeValidator(_list_or_none)] = Field(
        [],
        description="planned work: alerts stay quiet for the devices while a window is open",
    )
    history: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description="keep history in an SQLite file (in at most one file); no path: no history",
    )
    influx: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description="also write every device's points to InfluxDB 2 (see \"InfluxDB\" below); in at most one file",
    )
    ocpp: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description="the OCPP 1.6J endpoint EV chargers dial in to; in at most one file",
    )
    chargers: Annotated[list[Any], BeforeValidator(_list_or_none)] = Field(
        [],
        description="only these charge point ids are accepted (others: HTTP 404, counted)",
    )
    planning: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description="broadband planning: the inputs of `stadtnetz export planning` (in at most one file)",
    )
    web: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description="the status page: public pages on or off, operator logins (in at most one file)",
    )
    opendata: Annotated[dict[str, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description=(
            "the public open data feeds (hotspots, chargers: see \"Open data\"): licence, which devices are hotspots,"
            " the chargers' operator; in at most one file"
        ),
    )


AuthProtocol = Literal["none", "md5", "sha", "sha224", "sha256", "sha384", "sha512"]
PrivProtocol = Literal["none", "des", "aes", "aes192", "aes256", "aes192c", "aes256c"]
SecurityLevel = Literal["noAuthNoPriv", "authNoPriv", "authPriv"]


class TrapUserSpec(_Spec):
    """An SNMPv3 user whose traps and informs are accepted (settings.trap_v3_users)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    user: Text = Field(description="the USM user name", examples=["noc"])
    auth_protocol: AuthProtocol = Field("sha", description="none, md5, sha, sha224, sha256, sha384, sha512")
    auth_key: Annotated[Secret | None, BeforeValidator(_secret_reference)] = Field(
        None,
        description="a reference only, like communities; at least 8 characters; required unless auth_protocol is none",
        examples=["${STADTNETZ_TRAP_AUTH_KEY}"],
    )
    priv_protocol: PrivProtocol = Field(
        "aes",
        description="none, des, aes, aes192, aes256, aes192c, aes256c (see credentials); privacy needs authentication",
    )
    priv_key: Annotated[Secret | None, BeforeValidator(_secret_reference)] = Field(
        None,
        description="like auth_key; required unless priv_protocol is none",
        examples=["${STADTNETZ_TRAP_PRIV_KEY}"],
    )
    engine_id: Annotated[bytes | None, BeforeValidator(_engine_id)] = Field(
        None,
        description="the sender's snmpEngineID in hex, quoted (5 to 32 bytes); needed for traps, not informs",
        examples=["0x80001f8880c71100000000000b"],
    )

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
    interval: Duration = Field(
        60.0,
        description="how often each device is polled; durations: 500ms, 30s, 5m, 1h, 1d or seconds",
    )
    timeout: Duration = Field(2.0, description="per SNMP request attempt; must be < interval (everywhere it is set)")
    retries: Retries = Field(1, description="SNMP attempts after a timed-out one (>= 0)")
    concurrency: Positive = Field(
        256,
        description="devices polled at once, plus concurrency/4 (at least 2) for the unreachable lane",
    )
    max_in_flight_per_device: Positive = Field(1, description="SNMP requests in flight per device")
    max_repetitions: Positive = Field(25, description="GETBULK max-repetitions")
    listen: Listen = Field(("127.0.0.1", 9873), description="/metrics; [::1]:9873 for IPv6, port 0 for any free port")
    profile_dirs: Annotated[list[Text], BeforeValidator(_list_or_none)] = Field(
        [],
        description="extra profile directories, relative to this file; each must exist",
        examples=[["profiles/"]],
    )
    mib_dirs: Annotated[list[Text], BeforeValidator(_list_or_none)] = Field(
        [],
        description="pysmi-compiled MIB modules, for MODULE::name in profiles",
        examples=[["mibs/"]],
    )
    ping_count: Positive = Field(5, description="echo requests per device and interval, spread over the interval")
    ping_timeout: Duration = Field(1.0, description="per echo request")
    degraded_loss: Ratio = Field(
        0.2,
        description="a responding device is degraded at this loss over its last >= 20 echoes ...",
    )
    degraded_rtt: Duration = Field(0.15, description="... or this average round-trip time")
    flap_high: Ratio = Field(0.5, description="flapping starts at this weighted share of status changes (last 21) ...")
    flap_low: Ratio = Field(0.25, description="... and ends only below this one (must be below flap_high)")
    trap_listen: Listen | None = Field(
        None,
        description="receive SNMP traps (v1/v2c, informs answered); off when not given",
        examples=["127.0.0.1:162"],
    )
    trap_community: Annotated[Secret | None, BeforeValidator(_secret_reference)] = Field(
        None,
        description="accepted besides each device's own community (optional)",
        examples=["${STADTNETZ_TRAP_COMMUNITY}"],
    )
    trap_v3_users: Annotated[list[TrapUserSpec], BeforeValidator(_list_or_none)] = Field(
        [],
        description="SNMPv3 users whose traps and informs are accepted, on the same port",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @model_validator(mode="after")
    def _flap_thresholds(self) -> SettingsSpec:
        if not 0 < self.flap_low < self.flap_high:
            raise ValueError("flap_low must be below flap_high (hysteresis: flapping starts at high, ends below low)")
        return self


class CredentialSpec(_Spec):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    version: SnmpVersion = Field(1, description="\"1\", \"2c\" (the default) or \"3\"", examples=["2c"])
    community: Secret | None = Field(
        None,
        description=(
            "v1/v2c, required there: or file:secrets/community (relative to this file); a literal value is an error"
        ),
        examples=["${STADTNETZ_SNMP_COMMUNITY}"],
    )
    user: Text | None = Field(None, description="v3, required there: the USM user name (1 to 32 octets)",
                              examples=["stadtnetz"])
    security_level: SecurityLevel = Field(
        "authPriv",
        description="v3: noAuthNoPriv, authNoPriv or authPriv (the default; what BSI IT-Grundschutz asks for)",
    )
    auth_protocol: AuthProtocol | None = Field(
        None,
        description="v3 with auth: md5, sha, sha224, sha256, sha384, sha512 (RFC 7860)",
        examples=["sha256"],
    )
    auth_key: Secret | None = Field(
        None,
        description="v3 with auth: the passphrase, a reference like community; at least 8 characters",
        examples=["${STADTNETZ_SNMP_AUTH_KEY}"],
    )
    priv_protocol: PrivProtocol | None = Field(
        None,
        description=(
            "v3 authPriv: des, aes (AES-128), aes192/aes256 (Blumenthal key extension, net-snmp's AES192/AES256)"
            " or aes192c/aes256c (Reeder's, Cisco's and net-snmp's AES192C/AES256C)"
        ),
        examples=["aes"],
    )
    priv_key: Secret | None = Field(
        None, description="v3 authPriv: like auth_key", examples=["${STADTNETZ_SNMP_PRIV_KEY}"]
    )
    context_name: Text = Field("", description="v3: the SNMP context of every request (most agents: empty)")

    _resolve_reference = field_validator("community", "auth_key", "priv_key", mode="before")(_secret_reference)

    @model_validator(mode="after")
    def _version_fields(self) -> CredentialSpec:
        v3_fields = ("user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")
        if self.version != 3:
            if self.community is None:
                raise ValueError("community is required for SNMP v1/v2c (a reference: ${ENV_VAR} or file:PATH)")
            given = [name for name in (*v3_fields, "context_name") if getattr(self, name)]
            if given:
                raise ValueError(f"{', '.join(given)}: only with version \"3\" (v1/v2c use the community)")
            return self
        if self.community is not None:
            raise ValueError("community: SNMPv3 has no community; give user, auth_* and priv_* instead")
        if self.user is None:
            raise ValueError("user is required for SNMPv3 (the USM user name)")
        if not 0 < len(self.user.encode()) <= 32:
            raise ValueError(f"user must have 1 to 32 octets, not {len(self.user.encode())}")
        auth = self.security_level != "noAuthNoPriv"
        priv = self.security_level == "authPriv"
        for needed, names in ((auth, ("auth_protocol", "auth_key")), (priv, ("priv_protocol", "priv_key"))):
            for name in names:
                value = getattr(self, name)
                if needed and value is None:
                    raise ValueError(f"{name} is required with security_level {self.security_level}")
                if not needed and value is not None:
                    raise ValueError(f"{name} is not used with security_level {self.security_level}: remove it")
        for name in ("auth_key", "priv_key"):
            key = getattr(self, name)
            if key is not None and len(key.reveal()) < 8:
                raise ValueError(f"the {name} from {key.source} is shorter than 8 characters, which USM refuses")
        return self


class LayerSpec(_Spec):
    """What ``defaults`` may set."""

    credentials: Name | None = Field(
        None,
        description="a credentials name; a device without any is not polled over SNMP (ping only)",
        examples=["public-ro"],
    )
    profiles: Names | None = Field(
        None,
        description="replaces the inherited profiles (those whose select matches the device come anyway)",
        examples=[["system", "interfaces"]],
    )
    interval: Duration | None = Field(None, description="replaces the inherited poll interval", examples=["60s"])
    timeout: Duration | None = Field(
        None,
        description="replaces the inherited timeout (must stay < interval)",
        examples=["2s"],
    )
    retries: Retries | None = Field(None, description="replaces the inherited retries", examples=[1])
    ping: bool | None = Field(
        None,
        description="false turns the ICMP probe off (it is on unless a layer says false)",
        examples=[True],
    )
    tags: Tags = Field([], description="tags accumulate: defaults, parent groups, group, device (order kept)")


class GroupSpec(LayerSpec):
    """What a group may set: everything ``defaults`` may, plus the kinds it claims and its parent."""

    kinds: Kinds = Field(
        [],
        description="devices of these kinds belong here unless they name a group; a kind is claimed by one group only",
        examples=[["core_router", "distribution_switch"]],
    )
    parent: Name | None = Field(
        None,
        description="a group inherits everything its parent sets (not kinds) and may override it",
    )


class DeviceSpec(_Spec):
    """One item of ``devices``; the fields are those of :data:`stadtnetz.model.DEVICE_FIELDS` (help text there)."""

    id: DeviceId = Field(description=DEVICE_HELP["id"], examples=["core-1"])
    kind: Kind = Field(description=DEVICE_HELP["kind"], examples=["core_router"])
    address: Address = Field(description=DEVICE_HELP["address"], examples=["127.20.0.1:1161"])
    site: Text = Field("", description=DEVICE_HELP["site"], examples=["PoP Altstadt"])
    district: Text = Field("", description=DEVICE_HELP["district"], examples=["Altstadt"])
    lat: Latitude | None = Field(None, description=DEVICE_HELP["lat"], examples=[51.84])
    lon: Longitude | None = Field(None, description=DEVICE_HELP["lon"], examples=[8.26])
    upstream: DeviceId | None = Field(None, description=DEVICE_HELP["upstream"])
    model: Text = Field("", description=DEVICE_HELP["model"], examples=["MX204"])
    group: Name | None = Field(None, description=DEVICE_HELP["group"], examples=["backbone"])
    tags: Tags = Field([], description=DEVICE_HELP["tags"], examples=[["core"]])
    profiles: Names | None = Field(
        None,
        description=DEVICE_HELP["profiles"],
        examples=[["system", "interfaces", "optics"]],
    )
    credentials: Name | None = Field(None, description=DEVICE_HELP["credentials"], examples=["public-ro"])
    backhaul: Backhaul = Field("fibre", description=DEVICE_HELP["backhaul"])
    interval: Duration | None = Field(None, description=DEVICE_HELP["interval"], examples=["30s"])
    timeout: Duration | None = Field(None, description=DEVICE_HELP["timeout"], examples=["2s"])
    retries: Retries | None = Field(None, description=DEVICE_HELP["retries"], examples=[1])
    ping: bool | None = Field(None, description=DEVICE_HELP["ping"], examples=[True])


class InventorySpec(_Spec):
    file: Text = Field(
        description="a CSV file, relative to this one (columns below)",
        examples=["example-city-inventory.csv"],
    )
    group: Name | None = Field(None, description="optional: force this group on every row (wins over the group column)")


class MatchSpec(_Spec):
    """Which devices a maintenance window covers (see :mod:`stadtnetz.maintenance`)."""

    devices: Annotated[list[DeviceId], BeforeValidator(_one_or_list)] = Field(
        [],
        description="device or charger ids; each key takes one value or a list",
        examples=[["dist-003"]],
    )
    sites: Annotated[list[Text], BeforeValidator(_one_or_list)] = Field([], description="sites (the exact text)")
    districts: Annotated[list[Text], BeforeValidator(_one_or_list)] = Field(
        [],
        description="districts (the exact text)",
    )
    kinds: Annotated[list[Kind], BeforeValidator(_one_or_list)] = Field([], description="device kinds")
    tags: Annotated[list[Tag], BeforeValidator(_one_or_list)] = Field([], description="tags")
    groups: Annotated[list[Name], BeforeValidator(_one_or_list)] = Field([], description="groups")


class MaintenanceSpec(_Spec):
    """One maintenance window: once (start, end) or recurring (every, at, duration)."""

    name: Name = Field(
        description="unique; names the silences `stadtnetz maintenance apply` makes",
        examples=["splice-nordstadt"],
    )
    reason: Text = Field(
        "",
        description="optional text, shown in the silence",
        examples=["Spleißarbeiten Trasse Nordstadt"],
    )
    match: MatchSpec = Field(
        description="which devices: keys narrow each other, the values of one key are alternatives; at least one",
    )
    timezone: Annotated[str, BeforeValidator(_timezone)] = Field(
        DEFAULT_TIMEZONE,
        description="IANA name of the window's local time; 03:00 stays 03:00 across summer time",
    )
    start: dt.datetime | None = Field(
        None,
        description="a window is once: start and end (ISO 8601; without an offset: local time) ...",
        examples=["2026-11-25T22:00+01:00"],
    )
    end: dt.datetime | None = Field(None, description="... after start", examples=["2026-11-26T04:00+01:00"])
    every: Annotated[tuple[int, ...] | None, BeforeValidator(parse_weekdays)] = Field(
        None,
        description="or recurring (never both): weekdays, or daily / weekdays / weekend ...",
        examples=[["tue"]],
    )
    at: Annotated[dt.time | None, BeforeValidator(parse_time_of_day)] = Field(
        None,
        description="... at this local time (quote it) ...",
        examples=["03:00"],
    )
    duration: Duration | None = Field(None, description="... for this long (at most a week)", examples=["2h"])

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

    transitions: Duration = Field(_DEFAULT_HISTORY.transitions_retention, description="status changes")
    outages: Duration = Field(_DEFAULT_HISTORY.outages_retention, description="the outage log")
    rollups: Duration = Field(
        _DEFAULT_HISTORY.rollups_retention,
        description="hourly min/avg/max (and p95 of utilisation) per series: the bulk",
    )
    availability: Duration = Field(
        _DEFAULT_HISTORY.availability_retention,
        description="hourly available/observed/maintenance seconds per device",
    )


class HistorySpec(_Spec):
    """The embedded SQLite history: where (relative to the file) and for how long."""

    path: Text | None = Field(
        None,
        description="the SQLite file, relative to this file",
        examples=["var/history.sqlite"],
    )
    retention: Annotated[RetentionSpec, BeforeValidator(_dict_or_none)] = Field(
        RetentionSpec(),
        description="how long rows are kept; the defaults:",
    )
    max_pending: Positive = Field(
        _DEFAULT_HISTORY.max_pending,
        description=(
            "items (a series' sample, a status change) waiting for the writer; when full (disk full, writer "
            "stuck) the oldest samples go first, then the oldest transitions: "
            "stadtnetz_history_dropped_total{reason,kind}"
        ),
    )


class InfluxSpoolSpec(_Spec):
    """``influx.spool``: where points wait until InfluxDB acknowledged them (see exporters/spool.py)."""

    path: Text = Field(
        description="a directory, relative to this file; one per stadtnetz process",
        examples=["/var/lib/stadtnetz/influx-spool"],
    )
    max_bytes: Annotated[int, BeforeValidator(_spool_size)] = Field(
        1 << 30,
        description="512MiB, 2GB or bytes (>= 1MiB); when full, the OLDEST points are dropped (counted and logged)",
        examples=["1GiB"],
    )
    fsync: Literal["always", "interval", "never"] = Field(
        "interval",
        description="always (every append), interval (every fsync_interval), never",
    )
    fsync_interval: Duration = Field(1.0, description="how often the spool is synced with fsync: interval")


class InfluxSpec(_Spec):
    """The top-level ``influx`` section (see exporters/influx.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    url: Annotated[str, BeforeValidator(_url)] = Field(
        description="the server, http or https (no user:password@ in it)",
        examples=["http://127.0.0.1:8086"],
    )
    org: Text = Field(description="the organisation", examples=["stadtwerk"])
    bucket: Text = Field(description="the bucket", examples=["stadtnetz"])
    token: Annotated[Secret | None, BeforeValidator(_secret_reference)] = Field(
        None,
        description="or file:PATH, like communities; optional for servers without auth",
        examples=["${STADTNETZ_INFLUX_TOKEN}"],
    )
    precision: Literal["s", "ms", "us", "ns"] = Field(
        "s",
        description="s, ms, us, ns; must carry every poll interval (a 500ms interval needs ms)",
    )
    batch_size: Positive = Field(5000, description="points per write request, at most")
    flush_interval: Duration = Field(1.0, description="a smaller batch waits at most this long")
    timeout: Duration = Field(10.0, description="per write request")
    max_retry_interval: Duration = Field(30.0, description="while writes fail, retries back off from 0.5 s up to this")
    gzip: bool = Field(True, description="compress write requests")
    spool: InfluxSpoolSpec = Field(
        description="points go to disk first and stay there until the server acknowledged them",
    )


class OcppTlsSpec(_Spec):
    """``ocpp.tls``: OCPP security profile 2 (wss://); both files PEM, relative to the configuration file."""

    certificate: Text = Field(description="PEM, relative to this file", examples=["/etc/stadtnetz/ocpp.crt"])
    key: Text = Field(description="PEM, its private key", examples=["/etc/stadtnetz/ocpp.key"])


class OcppSpec(_Spec):
    """The top-level ``ocpp`` section: the endpoint chargers connect to (see collectors/ocpp.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    listen: Listen = Field(
        ("127.0.0.1", 9000),
        description=(
            "chargers connect to ws://HOST:PORT/<any path>/<charger id> (wss:// with tls); loopback behind a "
            "TLS-terminating proxy, or give tls: below: over plain ws:// off loopback Basic-auth passwords "
            "travel in clear text (a WARNING)"
        ),
    )
    heartbeat_interval: Annotated[float, BeforeValidator(_heartbeat)] = Field(
        300.0,
        description="told to every charger in the BootNotification reply (whole seconds)",
        examples=["5m"],
    )
    offline_after: Annotated[float, BeforeValidator(_offline_after)] = Field(
        3.0,
        description="a charger silent this many heartbeat intervals is offline (> 1)",
        examples=[3],
    )
    password: Annotated[Secret | None, BeforeValidator(_secret_reference)] = Field(
        None,
        description=(
            "security profile 1 (HTTP Basic, user = charger id) for chargers without their own; a reference "
            "only, like communities"
        ),
        examples=["${STADTNETZ_OCPP_PASSWORD}"],
    )
    auth: Literal["basic", "none"] = Field(
        "basic",
        description=(
            "basic (the default): every charger needs a password (its own or the one above), else an error "
            "naming it; none: any charger id gets in without (a WARNING)"
        ),
    )
    tls: OcppTlsSpec | None = Field(None, description="security profile 2 (TLS 1.2+, then Basic auth inside)")
    availability_target: Ratio = Field(
        0.97,
        description="per connector; the alert and `report chargers` compare against it",
    )
    availability_window: Duration = Field(
        30 * 86400.0,
        description="the trailing window of stadtnetz_charger_connector_availability_ratio",
    )


class ConnectorSpec(_Spec):
    """One connector of a charger (``chargers[].connectors``): what OCPI's Connector and DATEX II's refill point say."""

    standard: ConnectorStandard | None = Field(
        None,
        description="OCPI ConnectorType: IEC_62196_T2 (Type 2), IEC_62196_T2_COMBO (CCS), CHADEMO, DOMESTIC_F, ...",
        examples=["IEC_62196_T2"],
    )
    format: ConnectorFormat | None = Field(
        None, description="SOCKET (bring a cable) or CABLE (attached)", examples=["SOCKET"]
    )
    power_type: PowerType | None = Field(
        None, description="AC_1_PHASE, AC_2_PHASE, AC_2_PHASE_SPLIT, AC_3_PHASE or DC", examples=["AC_3_PHASE"]
    )
    max_voltage: Volts | None = Field(
        None, description="V; line to neutral for AC_3_PHASE (230), as OCPI counts", examples=[230]
    )
    max_amperage: Amperes | None = Field(None, description="A", examples=[32])
    max_electric_power: Watts | None = Field(
        None,
        description="22kW, 150 kW or watts; only when less than voltage x amperage (x phases) gives",
        examples=["22kW"],
    )


class OpeningSpec(_Spec):
    """One period of ``chargers[].opening_hours``: these weekdays, from open to close (local time)."""

    days: Weekdays = Field(
        description="mon, tue, ... sun, a list of them, daily, weekdays or weekend", examples=["weekdays"]
    )
    open: ClockTime = Field(description="local time, quoted", examples=["07:00"])
    close: ClockTime = Field(description="later the same day; '24:00' for midnight", examples=["20:00"])

    @model_validator(mode="after")
    def _ordered(self) -> OpeningSpec:
        if self.close != "24:00" and self.close <= self.open:
            raise ValueError(f"close ({self.close}) must be after open ({self.open}) on the same day")
        return self


def _connector_entries(value: Any) -> Any:
    """A number of connectors (each without static data) or one mapping per connector."""
    if value is None:
        return []
    if isinstance(value, list):
        if not value:
            raise ValueError("expected at least one connector (a number, or one entry per connector)")
        if len(value) > MAX_CONNECTORS:
            raise ValueError(f"at most {MAX_CONNECTORS} connectors per charger (the endpoint keeps no more)")
        return value
    return [{} for _ in range(_connectors(value))]


class ChargerSpec(_Spec):
    """One entry of ``chargers``."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    id: DeviceId = Field(description="the device id rule; the last segment of the charger's URL", examples=["cp-001"])
    device: DeviceId | None = Field(
        None,
        description=(
            "optional: its modem/router among the devices: site and district come from it, and silence behind"
            " a failed modem is \"unreachable\", not \"offline\""
        ),
        examples=["charger-001"],
    )
    site: Text | None = Field(None, description="optional: overrides the modem's", examples=["Parkhaus Altstadt"])
    district: Text | None = Field(None, description="optional: overrides the modem's", examples=["Altstadt"])
    connectors: Annotated[list[ConnectorSpec], BeforeValidator(_connector_entries)] = Field(
        [],
        description=(
            "optional: the connectors it has (else the ones it reports): a number (connectors: 2), or one entry per"
            " connector, in OCPP connector order, with what the open data feeds say about it (all but"
            " max_electric_power needed to publish)"
        ),
    )
    password: Annotated[Secret | None, BeforeValidator(_secret_reference)] = Field(
        None,
        description="optional: its own password (a reference, like communities)",
        examples=["file:secrets/cp-001"],
    )
    group: Name | None = Field(None, description="optional, for maintenance windows' groups:")
    tags: Tags = Field([], description="optional, for maintenance windows' tags:", examples=[["dc"]])
    publish: bool = Field(
        False,
        description=(
            "true (default false): the charger is in the public feeds (OCPI, DATEX II AFIR); it then needs street,"
            " postcode, city, coordinates (its own or its modem's), every connector's static data and"
            " opendata.operator"
        ),
        examples=[True],
    )
    name: Text | None = Field(None, description="public name in the feeds; default: its site", examples=["Marktplatz"])
    street: Text | None = Field(None, description="street of its address (to publish)", examples=["Marktplatz"])
    house_number: Text | None = Field(None, description="optional house number", examples=["1"])
    postcode: Postcode | None = Field(None, description="postcode, quoted (to publish)", examples=["48990"])
    city: Text | None = Field(None, description="city or town (to publish)", examples=["Musterstadt"])
    lat: Latitude | None = Field(None, description="optional: its own latitude; else its modem's", examples=[51.8412])
    lon: Longitude | None = Field(None, description="optional: its own longitude; else its modem's", examples=[8.2634])
    opening_hours: Annotated[list[OpeningSpec], BeforeValidator(_opening_hours)] = Field(
        [],
        description="24/7 (the default: open around the clock) or a list of periods when it can be used",
    )


class PlanningAreaSpec(_Spec):
    """``planning.area``: the bounding box every address of the plan must lie in (a device outside: a warning)."""

    south: Latitude = Field(description="degrees north of the box's southern edge", examples=[51.74])
    west: Longitude = Field(description="degrees east of its western edge", examples=[8.13])
    north: Latitude = Field(description="... its northern edge", examples=[51.94])
    east: Longitude = Field(description="... its eastern edge", examples=[8.4])

    @model_validator(mode="after")
    def _ordered(self) -> PlanningAreaSpec:
        wrong = [
            f"{low} ({low_value:g}) must be below {high} ({high_value:g})"
            for low, low_value, high, high_value in (
                ("south", self.south, "north", self.north),
                ("west", self.west, "east", self.east),
            )
            if low_value >= high_value
        ]
        if wrong:
            raise ValueError(f"{' and '.join(wrong)}: the box is south, west, north, east in degrees")
        return self


class CostSpec(_Spec):
    """``planning.cost_per_metre``: euro per metre of new trench, by the surface it is dug through."""

    sealed: Annotated[float, BeforeValidator(_euro)] = Field(
        180.0, description="asphalt and paving (GIS-NB trassenb 11), euro per metre"
    )
    unsealed: Annotated[float, BeforeValidator(_euro)] = Field(
        70.0, description="soil, verges, fields (trassenb 12), euro per metre"
    )


class FundingSpec(_Spec):
    """``planning.funding``: the programmes' thresholds in Mbit/s that make an address's funding class."""

    white: Annotated[float, BeforeValidator(_mbit)] = Field(30.0, description='below this download: "weißer Fleck"')
    grey: Annotated[float, BeforeValidator(_mbit)] = Field(100.0, description='below this: "grauer Fleck"')
    symmetric: Annotated[float, BeforeValidator(_mbit)] = Field(
        200.0, description="Gigabit-Richtlinie 2.0: eligible without this much both ways ..."
    )
    download: Annotated[float, BeforeValidator(_mbit)] = Field(500.0, description="... or this much download")
    gigabit: Annotated[float, BeforeValidator(_mbit)] = Field(1000.0, description="from this download on: gigabit")

    @model_validator(mode="after")
    def _ordered(self) -> FundingSpec:
        rising = ("white", "grey", "download", "gigabit")
        for low, high in itertools.pairwise(rising):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"the thresholds must rise, white <= grey <= download <= gigabit: here {low} "
                    f"{getattr(self, low):g} > {high} {getattr(self, high):g}"
                )
        if not self.grey <= self.symmetric <= self.download:
            raise ValueError(
                f"symmetric must lie between grey ({self.grey:g}) and download ({self.download:g}), "
                f"not {self.symmetric:g}"
            )
        return self


class PlanningSpec(_Spec):
    """The top-level ``planning`` section: what ``stadtnetz export planning`` and ``report gaps`` read."""

    addresses: Annotated[list[Text], BeforeValidator(_one_or_list)] = Field(
        [],
        description="address lists: semicolon CSV files, relative to this one (columns below)",
        examples=[["example-city-addresses.csv"]],
    )
    routes: Text | None = Field(
        None,
        description="trench routes: GeoJSON or GeoPackage lines with from/to device ids; else straight lines",
        examples=["example-city-trenches.geojson"],
    )
    crs: Annotated[int, BeforeValidator(_crs)] = Field(
        25832, description="the export's CRS: EPSG:25832 (UTM 32N) or 25833 in the east"
    )
    area: PlanningAreaSpec | None = Field(
        None, description="every address must lie in this box; a device outside it is a warning"
    )
    ags: Annotated[list[AgsCode], BeforeValidator(_ags_list)] = Field(
        [],
        description="the Gemeindeschlüssel (8 digits, quoted) addresses may carry; empty: any",
        examples=[["05999001"]],
    )
    cost_per_metre: Annotated[CostSpec, BeforeValidator(_dict_or_none)] = Field(
        CostSpec(), description="trench cost by surface"
    )
    default_surface: Literal["sealed", "unsealed"] = Field(
        "sealed", description="for addresses whose list gives no oberflaeche"
    )
    detour: Annotated[float, BeforeValidator(_detour)] = Field(
        1.3, description="trench metres per metre of straight line where no route is known (>= 1)"
    )
    window: Duration = Field(30 * 86400.0, description="p95 utilisation and availability over this trailing window")
    headroom: Ratio = Field(0.3, description="a backbone span whose p95 leaves less of its capacity free is short")
    funding: Annotated[FundingSpec, BeforeValidator(_dict_or_none)] = Field(
        FundingSpec(), description="the funding classes' thresholds (Mbit/s)"
    )


_DEFAULT_OPENDATA = OpenDataSettings()


class OperatorSpec(_Spec):
    """``opendata.operator``: the charge point operator the charger feeds name (OCPI party, DATEX II operator)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: Text = Field(description="the name people know", examples=["Stadtwerke Musterstadt"])
    legal_name: Text = Field("", description="the official name (AFIR asks for it); default: name",
                             examples=["Stadtwerke Musterstadt GmbH"])
    country_code: CountryCode = Field("DE", description="ISO 3166-1 alpha-2 of the operator (OCPI country_code)")
    party_id: PartyId = Field(
        description="3 letters or digits: the E-Mobility operator id after the country (DE*SWM), OCPI's party_id",
        examples=["SWM"],
    )
    website: Annotated[str, BeforeValidator(_url)] | None = Field(
        None, description="optional: http(s) URL", examples=["https://www.stadtwerke-musterstadt.example"]
    )
    phone: Text = Field("", description="optional: the helpdesk's number (AFIR: contact)", examples=["+49 800 0000000"])
    email: Text = Field("", description="optional: the helpdesk's address",
                        examples=["ladeservice@stadtwerke-musterstadt.example"])


class OpenDataSpec(_Spec):
    """The top-level ``opendata`` section: what the public feeds publish and under which licence."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    licence: Annotated[str, BeforeValidator(_choice(tuple(LICENCES), "licence"))] = Field(
        _DEFAULT_OPENDATA.licence,
        description=f"of every feed: {', '.join(LICENCES)}",
    )
    attribution: Text = Field(
        "",
        description="the source note users of a by-licence give (Quellenvermerk); default: the operator's name",
        examples=["Stadtwerke Musterstadt"],
    )
    hotspot_kinds: Kinds = Field(
        list(_DEFAULT_OPENDATA.hotspot_kinds),
        description="devices of these kinds are the public WLAN hotspots in the hotspot feeds",
    )
    hotspot_tags: Tags = Field([], description="optional: only those carrying one of these tags", examples=[["public"]])
    time_zone: Annotated[str, BeforeValidator(_timezone)] = Field(
        _DEFAULT_OPENDATA.time_zone, description="IANA name: the chargers' local time (OCPI time_zone)"
    )
    nuts: Nuts | None = Field(
        None,
        description="optional: the chargers' NUTS region; DATEX II AFIR asks for NUTS 1 (DEA: NRW)",
        examples=["DEA"],
    )
    language: LanguageCode = Field(_DEFAULT_OPENDATA.language, description="of the feeds' texts (ISO 639-1)")
    test: bool = Field(False, description="true: the data are a test; DATEX II's informationStatus says test, not real")
    operator: OperatorSpec | None = Field(
        None, description="the chargers' operator; needed once a charger says publish: true"
    )


# What the configuration reference (README.md, rendered by stadtnetz.config.reference) shows per section, in the
# order of FileSpec: the section's model and how its items are written: "one" (a mapping), "dict" (named items, the
# third element the example name) or "list" (items in a list). Sections not named here (include) are plain fields.
class WebUserSpec(_Spec):
    """``web.users.NAME``: an operator login of the status page (HTTP Basic)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    password_hash: Annotated[Secret, BeforeValidator(_password_hash)] = Field(
        description=(
            "${ENV_VAR} or file:PATH holding the hash `stadtnetz web hash-password` prints ($scrypt$...); a hash, "
            "never the password"
        ),
        examples=["${STADTNETZ_WEB_NOC_HASH}"],
    )


class MapImageSpec(_Spec):
    """``web.map_image``: a background image (e.g. an exported city map) under the status map's points."""

    url: Text = Field(
        description="loaded by the browser, never by stadtnetz: a path on this server's proxy or a tile server's URL",
        examples=["/static/musterstadt.png"],
    )
    south: Latitude = Field(description="the latitude of the image's lower edge", examples=[51.74])
    west: Longitude = Field(description="the longitude of its left edge", examples=[8.13])
    north: Latitude = Field(description="... its upper edge", examples=[51.94])
    east: Longitude = Field(description="... its right edge", examples=[8.4])

    @model_validator(mode="after")
    def _ordered(self) -> MapImageSpec:
        if self.south >= self.north or self.west >= self.east:
            raise ValueError("south must be below north and west below east (degrees)")
        return self


class WebSpec(_Spec):
    """The top-level ``web`` section: the status page's audiences (see "Status page" in the README)."""

    public: bool = Field(
        False,
        description=(
            "serve the public pages (/public, its map, feed, badge, /api/public/status and the open data feeds): "
            "hotspot and charger availability only, never a login"
        ),
    )
    users: Annotated[dict[Name, Any], BeforeValidator(_dict_or_none)] = Field(
        {},
        description=(
            "operator logins (HTTP Basic) for /, /devices/*, /api/*, each {password_hash: ${ENV} or file:PATH} "
            "holding what `stadtnetz web hash-password` prints; none: those pages answer only requests from "
            "loopback (others 403)"
        ),
        examples=[{"noc": {"password_hash": "${STADTNETZ_WEB_NOC_HASH}"}}],
    )
    metrics_login: bool = Field(
        False,
        description="/metrics asks for a login too (give Prometheus basic_auth); /healthz never does",
    )
    title: Text = Field("stadtnetz", description="the pages' heading", examples=["Stadtnetz Musterstadt"])
    public_kinds: Kinds = Field(["hotspot"], description="device kinds the public page shows as public WLAN")
    incidents: Positive = Field(20, description="incidents on the overview, in /api/incidents and the feeds")
    map_image: MapImageSpec | None = Field(None, description="optional background image of the map; none: plain")


REFERENCE_SECTIONS: dict[str, tuple[Literal["one", "dict", "list"], type[_Spec], str]] = {
    "settings": ("one", SettingsSpec, ""),
    "credentials": ("dict", CredentialSpec, "public-ro"),
    "defaults": ("one", LayerSpec, ""),
    "groups": ("dict", GroupSpec, "backbone"),
    "devices": ("list", DeviceSpec, ""),
    "inventory": ("list", InventorySpec, ""),
    "maintenance": ("list", MaintenanceSpec, ""),
    "history": ("one", HistorySpec, ""),
    "influx": ("one", InfluxSpec, ""),
    "ocpp": ("one", OcppSpec, ""),
    "chargers": ("list", ChargerSpec, ""),
    "planning": ("one", PlanningSpec, ""),
    "web": ("one", WebSpec, ""),
    "opendata": ("one", OpenDataSpec, ""),
}
