"""The schema of the configuration file: one pydantic model per section and per entry.

Owns what each section may contain: the field names (their order is the order of the "allowed: ..." messages),
each field's type and default. The value rules are in :mod:`stadtnetz.config.rules`; turning validated sections
into settings and devices is :mod:`stadtnetz.config.sections`' job.

The ``Annotated`` aliases are imported at runtime (not under ``TYPE_CHECKING``): with ``from __future__ import
annotations`` pydantic resolves them through this module's globals.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from stadtnetz.config.rules import (
    Address,
    DeviceId,
    Duration,
    Kind,
    Kinds,
    Latitude,
    Listen,
    Longitude,
    Name,
    Names,
    Positive,
    Ratio,
    Retries,
    SnmpVersion,
    Tag,
    Tags,
    Text,
    _connectors,
    _dict_or_none,
    _engine_id,
    _heartbeat,
    _list_or_none,
    _offline_after,
    _one_or_list,
    _secret_reference,
    _spool_size,
    _timezone,
    _url,
)
from stadtnetz.maintenance import DEFAULT_TIMEZONE, parse_instant, parse_time_of_day, parse_weekdays
from stadtnetz.model import DEVICE_FIELDS, HistorySettings
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
)
DEVICE_HELP = {device_field.name: device_field.help for device_field in DEVICE_FIELDS}


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
    """One item of ``devices``; the fields are those of :data:`stadtnetz.model.DEVICE_FIELDS` (help text there)."""

    id: DeviceId = Field(description=DEVICE_HELP["id"])
    kind: Kind = Field(description=DEVICE_HELP["kind"])
    address: Address = Field(description=DEVICE_HELP["address"])
    site: Text = Field("", description=DEVICE_HELP["site"])
    district: Text = Field("", description=DEVICE_HELP["district"])
    lat: Latitude | None = Field(None, description=DEVICE_HELP["lat"])
    lon: Longitude | None = Field(None, description=DEVICE_HELP["lon"])
    upstream: DeviceId | None = Field(None, description=DEVICE_HELP["upstream"])
    model: Text = Field("", description=DEVICE_HELP["model"])
    group: Name | None = Field(None, description=DEVICE_HELP["group"])
    tags: Tags = Field([], description=DEVICE_HELP["tags"])
    profiles: Names | None = Field(None, description=DEVICE_HELP["profiles"])
    credentials: Name | None = Field(None, description=DEVICE_HELP["credentials"])
    interval: Duration | None = Field(None, description=DEVICE_HELP["interval"])
    timeout: Duration | None = Field(None, description=DEVICE_HELP["timeout"])
    retries: Retries | None = Field(None, description=DEVICE_HELP["retries"])
    ping: bool | None = Field(None, description=DEVICE_HELP["ping"])


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
