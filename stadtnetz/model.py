"""The shared vocabulary: devices, credentials, settings, and the status of a device's polling.

Owns the plain data types every room of the house uses. Configuration
produces them, collectors and the scheduler consume them, exporters label
their output with them. No behaviour beyond small derived properties.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from stadtnetz.labels import Labels
from stadtnetz.secrets import Secret

if TYPE_CHECKING:
    from stadtnetz.maintenance import MaintenanceWindow

DEFAULT_SNMP_PORT = 161
BACKHAULS = ("fibre", "dsl", "lte", "radio")  # how a device is connected upstream (broadband planning)


class PollStatus(enum.Enum):
    """How the last SNMP poll of a device went."""

    UNKNOWN = "unknown"  # not polled yet
    OK = "ok"
    TIMEOUT = "timeout"  # the device did not answer
    ERROR = "error"  # it answered, but with an error (or something we could not use)


@dataclass(frozen=True, slots=True)
class V3User:
    """An SNMPv3 (USM) user: one we poll as (credentials) or whose traps and informs are accepted."""

    name: str
    auth_protocol: str = "sha"  # none, md5, sha, sha224, sha256, sha384, sha512
    auth_key: Secret | None = None
    priv_protocol: str = "aes"  # none, des, aes, aes192, aes256 (Blumenthal), aes192c, aes256c (Reeder)
    priv_key: Secret | None = None
    engine_id: bytes | None = None  # the sender's snmpEngineID: needed for its traps (not for informs)

    def __repr__(self) -> str:
        return f"V3User(name={self.name!r}, auth={self.auth_protocol}, priv={self.priv_protocol}, keys=***)"


@dataclass(frozen=True, slots=True)
class SnmpCredentials:
    """A named SNMP credential set; devices refer to it by name: a community (v1/v2c) or a USM user (v3)."""

    name: str
    version: int  # 0 = v1, 1 = v2c, 3 = v3 (the wire values)
    community: Secret | None = None  # v1 / v2c
    user: V3User | None = None  # v3: the user, its protocols and keys
    context_name: str = ""  # v3

    def __repr__(self) -> str:
        if self.user is not None:
            return f"SnmpCredentials(name={self.name!r}, version=3, user={self.user!r})"
        return f"SnmpCredentials(name={self.name!r}, version={self.version}, community=***)"

    @property
    def security_level(self) -> str:
        """noAuthNoPriv, authNoPriv or authPriv (v3); "community" for v1/v2c."""
        if self.user is None:
            return "community"
        if self.user.priv_protocol != "none":
            return "authPriv"
        return "authNoPriv" if self.user.auth_protocol != "none" else "noAuthNoPriv"


@dataclass(frozen=True, slots=True)
class Device:
    """One device of the inventory, after groups and defaults have been applied."""

    id: str
    kind: str
    host: str  # an IP address literal
    port: int = DEFAULT_SNMP_PORT
    site: str = ""
    district: str = ""
    lat: float | None = None
    lon: float | None = None
    upstream: str | None = None
    tags: tuple[str, ...] = ()
    group: str | None = None
    profiles: tuple[str, ...] = ()
    credentials: str | None = None  # name of an SnmpCredentials set
    interval: float = 60.0  # seconds between polls
    timeout: float = 2.0  # seconds per SNMP request attempt
    retries: int = 1
    ping: bool = True  # also probe it with ICMP echo (latency, loss, jitter; reachability)
    model: str = ""
    backhaul: str = "fibre"  # how it is connected upstream: one of BACKHAULS

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """The values of :data:`DEVICE_LABELS`, in that order: what every series of the device is labelled with."""
        return (self.id, self.kind, self.site, self.district)


@dataclass(frozen=True, slots=True)
class DeviceField:
    """One field of a device as the configuration writes it: a key of a ``devices:`` item, perhaps a CSV column."""

    name: str
    help: str  # what the configuration reference says about it
    required: bool = False
    csv: bool = True  # also a column of CSV inventories
    is_list: bool = False  # a list in YAML; ';'-separated in a CSV cell


# The one list of a device's fields, in the order of the CSV header. The typed classes still spell them out
# (Device, config.inventory.DeviceEntry and its Layer, config.schema.DeviceSpec); tests/test_device_fields.py holds
# each of them, and each list derived from this one, to it.
DEVICE_FIELDS = (
    DeviceField("id", "unique over the whole inventory (CSV files too): [A-Za-z0-9][A-Za-z0-9._-]*", required=True),
    DeviceField("kind", "lowercase identifier, [a-z][a-z0-9_]*; a group may claim the kind", required=True),
    DeviceField(
        "address",
        "IPv4/IPv6 literal with an optional port ([2001:db8::1]:1161 with a port); default port 161",
        required=True,
    ),
    DeviceField("site", "optional text, a label of every series of the device"),
    DeviceField("district", "optional text, a label of every series of the device"),
    DeviceField("lat", "optional latitude, -90..90"),
    DeviceField("lon", "optional longitude, -180..180"),
    DeviceField("upstream", "optional: the id of the device this one hangs off (no cycles)"),
    DeviceField("model", "optional text, e.g. the hardware model"),
    DeviceField("tags", "optional; tags accumulate: defaults, parent groups, group, device (order kept)", is_list=True),
    DeviceField("group", "optional; else the group claiming its kind; else none"),
    DeviceField("profiles", "optional: replaces the inherited profiles", is_list=True),
    DeviceField("credentials", "optional: a credentials name, replaces the inherited one"),
    DeviceField("backhaul", "how the device is connected upstream: fibre (the default), dsl, lte or radio"),
    DeviceField("interval", "optional: replaces the inherited poll interval", csv=False),
    DeviceField("timeout", "optional: replaces the inherited timeout (must stay < interval)", csv=False),
    DeviceField("retries", "optional: replaces the inherited retries", csv=False),
    DeviceField("ping", "optional: false turns the ICMP probe off for this device", csv=False),
)
DEVICE_CSV_COLUMNS = tuple(device_field.name for device_field in DEVICE_FIELDS if device_field.csv)
DEVICE_LABELS = ("device", "kind", "site", "district")  # the identity labels of every series; values: Device.identity


@dataclass(frozen=True, slots=True)
class Settings:
    """Global settings of the service."""

    interval: float = 60.0
    timeout: float = 2.0
    retries: int = 1
    concurrency: int = 256  # devices polled at the same time, at most
    max_in_flight_per_device: int = 1
    max_repetitions: int = 25
    listen_host: str = "127.0.0.1"
    listen_port: int = 9873
    profile_dirs: tuple[str, ...] = ()  # extra directories of profile YAML files
    mib_dirs: tuple[str, ...] = ()  # directories of pysmi-compiled MIB modules (for MODULE::name in profiles)
    ping_count: int = 5  # echo requests per device and interval, spread over the interval
    ping_timeout: float = 1.0
    degraded_loss: float = 0.2  # a responding device with this ping loss or more is degraded ...
    degraded_rtt: float = 0.15  # ... or with this average round-trip time (seconds) or more
    flap_high: float = 0.5  # flapping starts at this weighted share of state changes ...
    flap_low: float = 0.25  # ... and ends below this one
    trap_listen: tuple[str, int] | None = None  # where SNMP traps are received; None: not at all
    trap_community: Secret | None = None  # accepted in traps besides each device's own community
    trap_v3_users: tuple[V3User, ...] = ()  # SNMPv3 users whose traps and informs are accepted


DAY = 86400.0


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """Where the embedded history (:mod:`stadtnetz.history`) lives and how long it keeps what."""

    path: Path | None = None  # the SQLite file; None: no history is kept
    transitions_retention: float = 400 * DAY  # seconds each kind of row is kept
    outages_retention: float = 400 * DAY
    rollups_retention: float = 90 * DAY  # hourly series rollups: ~16 MB a day for 650 devices (bench/history_write.py)
    availability_retention: float = 400 * DAY  # hourly availability seconds: a year and a month to compare
    max_pending: int = 500_000  # items queued for the writer at most; beyond, the oldest are dropped (store.py)

    @property
    def enabled(self) -> bool:
        return self.path is not None


SURFACES = ("sealed", "unsealed")  # what a new trench is dug through: asphalt and paving, or soil (GIS-NB 11 / 12)


@dataclass(frozen=True, slots=True)
class FundingThresholds:
    """The funding programmes' bandwidth thresholds in Mbit/s, which make an address's funding class."""

    white: float = 30.0  # below this download: "weißer Fleck"
    grey: float = 100.0  # below this: "grauer Fleck"
    symmetric: float = 200.0  # Gigabit-Richtlinie 2.0: eligible without a service of this much both ways ...
    download: float = 500.0  # ... or of this much download
    gigabit: float = 1000.0  # from this download on: gigabit


@dataclass(frozen=True, slots=True)
class PlanningSettings:
    """What the broadband-planning export needs beyond the devices: the area, address lists, routes and costs."""

    address_files: tuple[Path, ...] = ()  # semicolon CSV address lists (stadtnetz.config.addresses), absolute
    routes: Path | None = None  # GeoJSON or GeoPackage of trench routes between devices; None: straight lines
    crs: int = 25832  # the export's projected CRS: ETRS89 / UTM 32N (25833 in the east)
    area: tuple[float, float, float, float] | None = None  # south, west, north, east in degrees; None: no check
    ags: tuple[str, ...] = ()  # the Gemeindeschlüssel addresses may carry; empty: any 8-digit one
    cost_per_metre: tuple[tuple[str, float], ...] = (("sealed", 180.0), ("unsealed", 70.0))  # euro per trench metre
    default_surface: str = "sealed"  # for an address whose list gives none
    detour: float = 1.3  # trench metres per metre of straight line, where no route is known
    window: float = 30 * DAY  # p95 utilisation and availability over this trailing window
    headroom: float = 0.3  # a backbone span whose p95 leaves less than this share of its capacity is short
    funding: FundingThresholds = field(default_factory=FundingThresholds)

    def cost(self, surface: str) -> float:
        return dict(self.cost_per_metre)[surface]


@dataclass(frozen=True, slots=True)
class Address:
    """One address of a planning address list: a building to be served, and the service it has today."""

    id: str  # stable and unique: the list's id column, else derived from AGS, postcode, street and number
    street: str
    house_number: str
    postcode: str
    town: str
    ags: str  # Amtlicher Gemeindeschlüssel, 8 digits
    lat: float
    lon: float
    download_mbit_s: float | None = None  # the best service available today; None: not known
    upload_mbit_s: float | None = None
    technology: str = ""  # ftth, fttb, kabel, vdsl, adsl, lte, 5g, satellit, keine; "" not known
    surface: str = "sealed"  # what a trench to it is dug through (SURFACES)
    source: str = ""  # FILE:LINE it was read from


@dataclass(frozen=True, slots=True)
class WebUser:
    """An operator who may log in to the status page: the name and a password hash (stadtnetz.passwords)."""

    name: str
    password_hash: Secret  # from ${ENV} or file:PATH; a hash, never a password

    def __repr__(self) -> str:
        return f"WebUser(name={self.name!r}, password_hash=***)"


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The status page's two audiences (stadtnetz.app.web): what is public, who may see the operator pages."""

    public: bool = False  # serve the public pages, feeds and API (/public, /api/public/...)
    users: tuple[WebUser, ...] = ()  # operator logins (HTTP Basic); none: operator pages on loopback only
    metrics_login: bool = False  # /metrics needs a login too (Prometheus then scrapes with basic_auth)
    title: str = "stadtnetz"  # the pages' heading, e.g. "Stadtnetz Musterstadt"
    public_kinds: tuple[str, ...] = ("hotspot",)  # device kinds shown on the public page as public WLAN
    tile_url: str | None = None  # a background image the browser loads under the map (none by default)
    tile_bounds: tuple[float, float, float, float] | None = None  # south, west, north, east the image covers
    incidents: int = 20  # incidents on the overview and in the feeds


@dataclass(frozen=True, slots=True)
class InfluxSpool:
    """Where the InfluxDB exporter keeps points until the server has acknowledged them (exporters/spool.py)."""

    path: str  # a directory, absolute (the configuration names it relative to its file)
    max_bytes: int = 1 << 30  # when full, the oldest segment is dropped (counted and logged)
    fsync: str = "interval"  # always (every append), interval (every fsync_interval), never (the OS decides)
    fsync_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class InfluxSettings:
    """The InfluxDB 2 write endpoint the exporter sends every device's points to (exporters/influx.py)."""

    url: str
    org: str
    bucket: str
    spool: InfluxSpool
    token: Secret | None = None  # from ${ENV} or file:PATH; never logged
    precision: str = "s"  # s, ms, us, ns: of the timestamps written
    batch_size: int = 5000  # points per write request, at most
    flush_interval: float = 1.0  # a batch smaller than batch_size waits at most this long
    timeout: float = 10.0  # per write request
    max_retry_interval: float = 30.0  # while writes fail, retries back off from 0.5 s up to this
    gzip: bool = True

    def __repr__(self) -> str:
        return f"InfluxSettings(url={self.url!r}, org={self.org!r}, bucket={self.bucket!r}, token=***)"


# --- open data: what the public feeds say about chargers beyond what OCPP reports (exporters/opendata/) ---------

# OCPI 2.2.1's ConnectorType, ConnectorFormat and PowerType: the vocabulary the configuration writes connectors in
CONNECTOR_STANDARDS = (
    "CHADEMO", "CHAOJI", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E", "DOMESTIC_F",
    "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K", "DOMESTIC_L", "DOMESTIC_M", "DOMESTIC_N",
    "DOMESTIC_O", "GBT_AC", "GBT_DC", "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
    "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2", "IEC_62196_T2_COMBO",
    "IEC_62196_T3A", "IEC_62196_T3C", "NEMA_5_20", "NEMA_6_30", "NEMA_6_50", "NEMA_10_30", "NEMA_10_50",
    "NEMA_14_30", "NEMA_14_50", "PANTOGRAPH_BOTTOM_UP", "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S",
)
CONNECTOR_FORMATS = ("SOCKET", "CABLE")
POWER_TYPES = ("AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC")
# ISO 3166-1 alpha-2 -> alpha-3 of the EU/EEA and neighbours (AFIR's area): OCPI's Location.country is alpha-3
COUNTRY_ALPHA3 = {
    "AT": "AUT", "BE": "BEL", "BG": "BGR", "CH": "CHE", "CY": "CYP", "CZ": "CZE", "DE": "DEU", "DK": "DNK",
    "EE": "EST", "ES": "ESP", "FI": "FIN", "FR": "FRA", "GB": "GBR", "GR": "GRC", "HR": "HRV", "HU": "HUN",
    "IE": "IRL", "IS": "ISL", "IT": "ITA", "LI": "LIE", "LT": "LTU", "LU": "LUX", "LV": "LVA", "MT": "MLT",
    "NL": "NLD", "NO": "NOR", "PL": "POL", "PT": "PRT", "RO": "ROU", "SE": "SWE", "SI": "SVN", "SK": "SVK",
}
# the licences open data may be published under: id -> (name, URL of its text)
LICENCES = {
    "dl-de/by-2-0": ("Datenlizenz Deutschland - Namensnennung - Version 2.0", "https://www.govdata.de/dl-de/by-2-0"),
    "dl-de/zero-2-0": ("Datenlizenz Deutschland - Zero - Version 2.0", "https://www.govdata.de/dl-de/zero-2-0"),
    "CC0-1.0": ("Creative Commons Zero 1.0 Universal", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "CC-BY-4.0": ("Creative Commons Attribution 4.0 International", "https://creativecommons.org/licenses/by/4.0/"),
    "ODbL-1.0": ("Open Data Commons Open Database License 1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
}


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    """What one connector of a charger is, for the open data feeds (OCPI's Connector; a DATEX II refill point's).

    Empty fields are not known (a configuration that only counts its connectors); a published charger has them all
    but ``max_electric_power``, which then is what voltage and amperage give (three phases: three times that).
    """

    standard: str = ""  # one of CONNECTOR_STANDARDS
    format: str = ""  # one of CONNECTOR_FORMATS
    power_type: str = ""  # one of POWER_TYPES
    max_voltage: int | None = None  # V (line to neutral for AC_3_PHASE, as OCPI has it)
    max_amperage: int | None = None  # A
    max_electric_power: int | None = None  # W, when less than voltage x amperage allows

    @property
    def complete(self) -> bool:
        return bool(self.standard and self.format and self.power_type) and None not in (
            self.max_voltage,
            self.max_amperage,
        )

    @property
    def power(self) -> int | None:
        """The most power it delivers, in W: the configured limit, else voltage x amperage x phases."""
        if self.max_electric_power is not None:
            return self.max_electric_power
        if self.max_voltage is None or self.max_amperage is None:
            return None
        phases = {"AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2, "AC_3_PHASE": 3}.get(self.power_type, 1)
        return self.max_voltage * self.max_amperage * phases


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """When a charger can be used: ``periods`` of (weekday 0 = Monday, "HH:MM" from, "HH:MM" to) in local time;
    none: around the clock (24/7)."""

    periods: tuple[tuple[int, str, str], ...] = ()

    @property
    def always(self) -> bool:
        return not self.periods


@dataclass(frozen=True, slots=True)
class Operator:
    """The charge point operator (CPO) the feeds name: OCPI's country_code and party_id, DATEX II's operator."""

    name: str
    party_id: str  # three letters or digits (ISO 15118 / eMI3 operator id after the country: DE*SWM)
    country_code: str = "DE"  # ISO 3166-1 alpha-2
    legal_name: str = ""  # the official name (AFIR asks for both); "": the name
    website: str = ""
    phone: str = ""  # the helpdesk (AFIR: contact)
    email: str = ""

    @property
    def operator_id(self) -> str:
        """The eMI3 / BDEW E-Mobility operator id, e.g. ``DE*SWM``."""
        return f"{self.country_code}*{self.party_id}"


@dataclass(frozen=True, slots=True)
class OpenDataSettings:
    """The ``opendata`` section: the public feeds' licence, which devices are hotspots, the chargers' operator."""

    licence: str = "dl-de/by-2-0"  # a key of LICENCES
    attribution: str = ""  # the source note a "by" licence asks users to give; "": the operator's name
    hotspot_kinds: tuple[str, ...] = ("hotspot",)  # devices of these kinds are the public hotspots ...
    hotspot_tags: tuple[str, ...] = ()  # ... carrying one of these tags, if any are given
    operator: Operator | None = None  # needed once any charger is published
    time_zone: str = "Europe/Berlin"  # the chargers' (OCPI Location.time_zone)
    nuts: str = ""  # the chargers' NUTS region (DATEX II asks for at least the NUTS 1 code: DEA is NRW)
    language: str = "de"  # of the texts in the feeds (ISO 639-1)
    test: bool = False  # the data are a test (a simulated city): DATEX II's informationStatus says so


@dataclass(frozen=True, slots=True)
class Charger:
    """One EV charging point of the inventory: it dials in to the OCPP endpoint (collectors/ocpp.py).

    ``device`` names its modem or router among the inventory's devices, if that is
    monitored: the charger then takes its site and district, and its place in the
    topology (a charger that falls silent while its modem is down is *unreachable*,
    root cause the modem's). ``kind`` and ``group`` make maintenance windows match
    chargers as they match devices.
    """

    id: str  # the charge point id, the last segment of the URL path it connects to
    device: str | None = None
    site: str = ""
    district: str = ""
    connectors: int | None = None  # the connectors it has; None: those it reports
    password: Secret | None = None  # OCPP security profile 1 (HTTP Basic); None: none asked
    tags: tuple[str, ...] = ()
    kind: str = "charger"
    group: str | None = None
    # open data (exporters/opendata/): only a charger with publish=True appears in the public feeds
    publish: bool = False
    name: str = ""  # shown to the public; "": its site
    street: str = ""
    house_number: str = ""
    postcode: str = ""
    city: str = ""
    lat: float | None = None  # its own, else its modem's
    lon: float | None = None
    opening_hours: OpeningHours = field(default_factory=OpeningHours)
    connector_info: tuple[ConnectorInfo, ...] = ()  # connector n is item n-1; () not known

    def __repr__(self) -> str:
        password = "***" if self.password is not None else "None"
        return f"Charger(id={self.id!r}, device={self.device!r}, site={self.site!r}, password={password})"


@dataclass(frozen=True, slots=True)
class OcppSettings:
    """The OCPP 1.6J central-system endpoint chargers connect to, and what makes a charger available."""

    listen: tuple[str, int] = ("127.0.0.1", 9000)  # chargers connect to ws(s)://HOST:PORT/<any path>/<charger id>
    heartbeat_interval: float = 300.0  # told to chargers in the BootNotification reply
    offline_after: float = 3.0  # offline after this many heartbeat intervals without any message
    tls_certificate: Path | None = None  # security profile 2 (wss): PEM certificate chain and key
    tls_key: Path | None = None
    availability_target: float = 0.97  # per connector over availability_window; alerts and reports mark below
    availability_window: float = 30 * DAY
    # basic: every charger presents a password (its own or the shared one); none: ids alone get in (explicit)
    auth: Literal["basic", "none"] = "basic"

    @property
    def tls(self) -> bool:
        return self.tls_certificate is not None


@dataclass(slots=True)
class Inventory:
    """Everything the service needs to know about the city network to poll it."""

    settings: Settings = field(default_factory=Settings)
    credentials: dict[str, SnmpCredentials] = field(default_factory=dict)
    devices: list[Device] = field(default_factory=list)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group name -> device ids
    warnings: list[str] = field(default_factory=list)  # "FILE:LINE: field: message", e.g. ignored CSV columns
    maintenance: list[MaintenanceWindow] = field(default_factory=list)  # planned work, see stadtnetz.maintenance
    history: HistorySettings = field(default_factory=HistorySettings)  # the embedded history, off by default
    influx: InfluxSettings | None = None  # write every device's points to InfluxDB (exporters.influx)
    ocpp: OcppSettings | None = None  # the OCPP endpoint for chargers; None: not started
    chargers: list[Charger] = field(default_factory=list)  # EV charging points (OCPP), not polled
    planning: PlanningSettings | None = None  # the broadband-planning inputs; None: no planning section
    web: WebSettings = field(default_factory=WebSettings)  # the status page's audiences (public, users)
    opendata: OpenDataSettings = field(default_factory=OpenDataSettings)  # the public feeds (exporters/opendata/)

    def by_id(self) -> dict[str, Device]:
        return {device.id: device for device in self.devices}


class MetricKind(enum.Enum):
    GAUGE = "gauge"
    COUNTER = "counter"  # monotonic; exported with a _total suffix
    INFO = "info"  # value 1, the information is in the labels
    ENUM = "enum"  # value 1, the current state is the "state" label
    SUMMARY = "summary"  # quantile series plus _sum and _count


@dataclass(frozen=True, slots=True, eq=False)
class MetricDef:
    """One metric family as exported: ``name`` is the full name without a ``_total`` suffix.

    Compared and hashed by identity: each family has exactly one definition object
    (the profile loader hands out the same one for the same name), and identity keeps
    the state's lookups cheap.
    """

    name: str
    kind: MetricKind
    help: str
    unit: str = ""

    @property
    def exported_name(self) -> str:
        return f"{self.name}_total" if self.kind is MetricKind.COUNTER else self.name


@dataclass(slots=True)
class Reading:
    """One observed value of one series of a device, as a collector hands it to the state.

    ``labels`` is the series' own label set (structured, values unescaped; ``NO_LABELS``
    for none); the device's labels are added by the state.
    """

    metric: MetricDef
    labels: Labels
    value: float
    bits: int = 0  # counters: 32 or 64 (the width at which the device's counter wraps)
    speed: float = 0.0  # counters of bytes: the interface's speed in bytes per second (0: unknown)
    utilisation: MetricDef | None = None  # derive this ratio gauge from the counter's rate / speed
    direction: str = ""  # the utilisation series' direction label


# --- what collectors report, shared with the core that judges it -------------------------------------------

MAX_CONNECTORS = 32  # OCPP connector ids above this are counted as errors and not kept


@dataclass(frozen=True, slots=True)
class ConnectorSnapshot:
    connector: int
    status: str
    error_code: str
    vendor_error_code: str
    since: float = 0.0  # wall time of the StatusNotification that said so


@dataclass(frozen=True, slots=True)
class ChargerSnapshot:
    """A charger's state at one moment, as the service and tests read it."""

    id: str
    connected: bool
    online: bool  # a message arrived within offline_after x heartbeat interval
    last_message: float | None
    connectors: tuple[ConnectorSnapshot, ...]
    energy_wh: float
    meter_resets: int
    sessions_started: int
    sessions_stopped: int
    boots: int
    vendor: str
    model: str
    firmware: str

    def connector(self, number: int) -> ConnectorSnapshot | None:
        return next((c for c in self.connectors if c.connector == number), None)


class TrapKind(enum.StrEnum):
    """What a trap says happened; the values are the ``trap`` label of the metrics."""

    LINK_DOWN = "link_down"
    LINK_UP = "link_up"
    COLD_START = "cold_start"
    WARM_START = "warm_start"
    AUTHENTICATION_FAILURE = "authentication_failure"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class TrapEvent:
    """One accepted trap or inform from a known device.

    ``trap_oid`` is the v2 ``snmpTrapOID.0``; for a v1 trap it is the equivalent
    RFC 3584 3.1 gives (``snmpTraps.(generic+1)``, or ``enterprise.0.specific``).
    ``uptime_ticks`` is the agent's sysUpTime.0 varbind (v2) or time-stamp (v1),
    in hundredths of a second. ``received`` is wall time (seconds since the epoch).
    """

    device_id: str
    kind: TrapKind
    if_index: int | None
    oper_status: int | None  # ifOperStatus (1 up, 2 down, ...) if the trap carries it
    uptime_ticks: int | None
    trap_oid: tuple[int, ...]  # an OID
    version: int  # 0 = v1, 1 = v2c (the wire values)
    received: float
    inform: bool
