"""A seeded generator of a plausible simulated city network, and its inventory file.

Owns *what* the city consists of: a core ring of routers, distribution
switches hanging off the core, and the access layer below them (public WLAN
hotspots, school access points, modems of EV charging points), each with a
loopback address, district, site, coordinates, upstream device, vendor model,
interfaces, optical sensors and radios; and the EV charge points themselves
(:class:`ChargePointSpec`, one behind each charger modem: AC with two
connectors, or DC fast chargers with one, each with the static data the open
data feeds publish: an address at its place, Type 2 sockets of 22 kW or a CCS
cable of 50 or 150 kW). The same seed always gives the same city. How values
move over time lives in ``behaviour``; how devices answer SNMP lives in ``mib``
and ``snmp_agent``.

The city is "Musterstadt", a fictional mid-size German city; coordinates are
scattered around an arbitrary centre and its district names are generic.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from collectors.snmp.types import Oid
from stadtnetz.model import DEVICE_CSV_COLUMNS, ConnectorInfo

DEFAULT_DEVICES = 650  # gives 4 core routers, 26 distribution switches, 520 hotspots, 60 charger modems, 40 school APs
ADDRESS_BASE = (127, 20)  # devices live on 127.20.0.1, 127.20.0.2, ... (254 per /24, skipping .0 and .255)
CITY_CENTRE = (51.8412, 8.2634)  # arbitrary point; "Musterstadt" is fictional

KIND_CORE = "core_router"
KIND_DISTRIBUTION = "distribution_switch"
KIND_HOTSPOT = "hotspot"
KIND_SCHOOL_AP = "school_ap"
KIND_CHARGER_MODEM = "charger_modem"
KINDS = (KIND_CORE, KIND_DISTRIBUTION, KIND_HOTSPOT, KIND_SCHOOL_AP, KIND_CHARGER_MODEM)

INVENTORY_COLUMNS = (*DEVICE_CSV_COLUMNS[:10], "backhaul")  # the columns the city fills: id, kind, ... tags, backhaul

# (name, offset north km, offset east km, spread km, outer area)
DISTRICTS = (
    ("Altstadt", 0.0, 0.0, 0.6, False),
    ("Bahnhofsviertel", -0.9, 0.8, 0.5, False),
    ("Nordstadt", 2.1, 0.2, 0.9, False),
    ("Südstadt", -2.2, -0.3, 0.9, False),
    ("Oststadt", 0.3, 2.4, 0.9, False),
    ("Weststadt", -0.2, -2.5, 0.9, False),
    ("Hafen", -1.4, 2.9, 0.7, False),
    ("Lindenhof", 1.6, -1.9, 0.7, False),
    ("Kirchberg", 3.4, 2.6, 0.8, False),
    ("Auenfeld", -3.6, 2.2, 0.9, False),
    ("Gewerbegebiet Nord", 4.2, -0.8, 0.7, False),
    ("Heide (Außenbereich)", -5.5, -4.0, 1.8, True),
    ("Brockhagen (Außenbereich)", 5.8, -4.6, 1.8, True),
)
PLACES = (
    "Marktplatz", "Rathaus", "Stadtbibliothek", "ZOB", "Freibad", "Stadtpark", "Sporthalle", "Bürgerbüro",
    "Jugendzentrum", "Museum", "Theater", "Kirchplatz", "Spielplatz", "Fußgängerzone", "Bahnhof", "Hallenbad",
    "Wochenmarkt", "Seniorenzentrum", "Volkshochschule", "Friedhof", "Busbahnhof", "Parkhaus", "Stadion",
)
CITY_TOWN = "Musterstadt"
CITY_POSTCODES = {  # district -> fictional postcode
    "Altstadt": "48990", "Bahnhofsviertel": "48990", "Nordstadt": "48991", "Gewerbegebiet Nord": "48991",
    "Südstadt": "48992", "Auenfeld": "48992", "Oststadt": "48993", "Hafen": "48993", "Weststadt": "48994",
    "Lindenhof": "48994", "Kirchberg": "48995", "Heide (Außenbereich)": "48996", "Brockhagen (Außenbereich)": "48997",
}

SCHOOLS = ("Grundschule", "Gesamtschule", "Gymnasium", "Realschule", "Berufskolleg", "Förderschule")


@dataclass(frozen=True, slots=True)
class Model:
    """A device model as the simulator presents it."""

    vendor: str
    name: str
    sys_object_id: Oid
    sys_descr: str
    optics_in_dbm: bool  # True: entPhySensorType 14 (dBm, Cisco extension); False: watts (type 6)


MODELS = {
    "asr9901": Model(
        "Cisco", "ASR-9901", (1, 3, 6, 1, 4, 1, 9, 1, 2658),
        "Cisco IOS XR Software (ASR9K), Version 7.9.2", True,
    ),
    "mx204": Model(
        "Juniper", "MX204", (1, 3, 6, 1, 4, 1, 2636, 1, 1, 1, 2, 151),
        "Juniper Networks, Inc. mx204 internet router, kernel JUNOS 23.2R1", False,
    ),
    "c9300": Model(
        "Cisco", "C9300-24P", (1, 3, 6, 1, 4, 1, 9, 1, 2494),
        "Cisco IOS Software [Cupertino], Catalyst L3 Switch Software (CAT9K_IOSXE), Version 17.9.4", True,
    ),
    "ex3400": Model(
        "Juniper", "EX3400-24P", (1, 3, 6, 1, 4, 1, 2636, 1, 1, 1, 2, 129),
        "Juniper Networks, Inc. ex3400-24p Ethernet Switch, kernel JUNOS 22.4R2", False,
    ),
    "uap-ac-pro": Model(
        "Ubiquiti", "UAP-AC-Pro", (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10),  # UniFi APs answer with net-snmp's Linux OID
        "Linux U7PG2 4.4.153 #1 SMP Fri Mar 1 2024 mips", False,
    ),
    "u6-pro": Model(
        "Ubiquiti", "U6-Pro", (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10),
        "Linux U6-Pro 5.4.213 #0 SMP PREEMPT Mon Jun 3 2024 aarch64", False,
    ),
    "rut241": Model(
        "Teltonika", "RUT241", (1, 3, 6, 1, 4, 1, 48690, 1, 241),
        "Teltonika RUT241 LTE router, RUT2M_R_00.07.08", False,
    ),
}


@dataclass(frozen=True, slots=True)
class InterfaceSpec:
    index: int
    name: str
    descr: str
    alias: str
    if_type: int  # IANAifType: 6 ethernetCsmacd, 24 softwareLoopback, 71 ieee80211, 53 propVirtual, 243 wwanPP
    speed_bps: int
    mtu: int
    mac: bytes
    admin_up: bool
    peak_in_bps: float  # traffic peak of the day towards the device
    peak_out_bps: float
    optical: bool = False
    connects_to: str = ""  # id of the device at the other end, if any


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """One optical level sensor (rx or tx) of a transceiver on an optical interface."""

    entity_index: int  # entPhysicalIndex of the sensor
    port_entity_index: int  # entPhysicalIndex of the port it belongs to
    if_index: int
    name: str
    direction: str  # "rx" or "tx"
    nominal_dbm: float
    low_warning_dbm: float
    low_alarm_dbm: float


@dataclass(frozen=True, slots=True)
class RadioSpec:
    index: int
    name: str  # wifi0 / wifi1
    band: str  # "ng" (2.4 GHz) or "na" (5 GHz), UniFi notation
    ssid: str
    max_clients: int


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    id: str
    kind: str
    address: str
    port: int
    site: str
    district: str
    lat: float
    lon: float
    upstream: str | None
    model: Model
    interfaces: tuple[InterfaceSpec, ...]
    sensors: tuple[SensorSpec, ...] = ()
    radios: tuple[RadioSpec, ...] = ()
    tags: tuple[str, ...] = ()
    seed: int = 0
    sys_name: str = ""
    location: str = ""
    backhaul: str = "fibre"  # how it is connected upstream (see _backhaul)

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def shape(self) -> tuple:
        """Devices with equal shape share one sorted OID tree in the agent."""
        return (
            self.model.name,
            len(self.interfaces),
            tuple(s.entity_index for s in self.sensors),
            len(self.radios),
            tuple(i.index for i in self.interfaces),
        )


@dataclass(frozen=True, slots=True)
class ChargePointSpec:
    """One EV charge point of the city (an OCPP client), connected through its modem ``device``."""

    id: str  # the OCPP charge point id: cp-007 behind modem charger-007
    device: str  # its modem (kind charger_modem), the same site and district
    site: str
    district: str
    current: str  # "AC" or "DC"
    connectors: int
    power_w: float  # per connector while charging
    vendor: str
    model: str
    firmware: str
    register_wh: float  # what each connector's energy meter reads when the simulation starts
    # the static data the open data feeds publish (exporters/opendata/): where it stands, what its connectors are
    street: str = ""
    house_number: str = ""
    postcode: str = ""
    town: str = CITY_TOWN
    connector_info: tuple[ConnectorInfo, ...] = ()


@dataclass(slots=True)
class City:
    seed: int
    devices: list[DeviceSpec] = field(default_factory=list)
    chargers: tuple[ChargePointSpec, ...] = ()  # one behind each charger modem

    def by_id(self) -> dict[str, DeviceSpec]:
        return {device.id: device for device in self.devices}

    def count_by_kind(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for device in self.devices:
            counts[device.kind] += 1
        return counts

    def path_to_core(self, device_id: str) -> tuple[str, ...]:
        """The device and every device above it, up to its core router: what its traffic passes through."""
        by_id = self.by_id()
        path = [device_id]
        while (upstream := by_id[path[-1]].upstream) is not None:
            path.append(upstream)
        return tuple(path)


def plan_counts(total: int) -> dict[str, int]:
    """How many devices of each kind a city of ``total`` devices has (650 -> 520 hotspots)."""
    if total < 3:
        raise ValueError("a simulated city needs at least 3 devices (core, distribution, access)")
    core = 4 if total >= 60 else max(1, total // 15)
    distribution = max(1, math.ceil((total - core) / 25))
    chargers = round(total * 60 / DEFAULT_DEVICES)
    schools = round(total * 40 / DEFAULT_DEVICES)
    hotspots = total - core - distribution - chargers - schools
    return {
        KIND_CORE: core,
        KIND_DISTRIBUTION: distribution,
        KIND_HOTSPOT: hotspots,
        KIND_SCHOOL_AP: schools,
        KIND_CHARGER_MODEM: chargers,
    }


def device_address(position: int, base: tuple[int, int] = ADDRESS_BASE) -> str:
    """The address of the device at ``position`` (0-based): ``base`` gives the first two octets.

    On loopback (127.x) addresses continue into the next /16s up to 127.255.255.254; any
    other base (the network namespace's 198.19) is one /16, 65,024 devices.
    """
    third, fourth = divmod(position, 254)
    second = base[1] + third // 256
    last = 255 if base[0] == 127 else base[1]
    if second > last:
        end = "127.255.255.255" if base[0] == 127 else f"{base[0]}.{base[1]}.255.255"
        raise ValueError(f"too many simulated devices for {base[0]}.{base[1]}.0.0 - {end}")
    return f"{base[0]}.{second}.{third % 256}.{fourth + 1}"


def _stable_seed(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _mac(rng: random.Random) -> bytes:
    # Locally administered unicast addresses: never a real vendor's OUI. These are
    # infrastructure interface addresses, not client addresses.
    return bytes([0x02, *rng.randbytes(5)])


class _Builder:
    def __init__(self, seed: int, port: int, address_base: tuple[int, int] = ADDRESS_BASE) -> None:
        self.seed = seed
        self.port = port
        self.address_base = address_base
        self.rng = random.Random(seed)
        self.devices: list[DeviceSpec] = []

    def place(self, district_index: int) -> tuple[float, float]:
        _, north_km, east_km, spread_km, _ = DISTRICTS[district_index]
        north = north_km + self.rng.gauss(0, spread_km / 2)
        east = east_km + self.rng.gauss(0, spread_km / 2)
        lat = CITY_CENTRE[0] + north / 111.2
        lon = CITY_CENTRE[1] + east / (111.2 * math.cos(math.radians(CITY_CENTRE[0])))
        return round(lat, 6), round(lon, 6)

    def add(self, **fields: object) -> DeviceSpec:
        position = len(self.devices)
        device_id = str(fields["id"])
        device = DeviceSpec(
            address=device_address(position, self.address_base),
            port=self.port,
            seed=_stable_seed(self.seed, device_id),
            **fields,  # type: ignore[arg-type]
        )
        self.devices.append(device)
        return device


def _optical_port(
    rng: random.Random, index: int, name: str, alias: str, peak_bps: float, connects_to: str
) -> InterfaceSpec:
    share_in = rng.uniform(0.4, 0.6)
    return InterfaceSpec(
        index=index, name=name, descr=name, alias=alias, if_type=6, speed_bps=10_000_000_000, mtu=9216,
        mac=_mac(rng), admin_up=True, peak_in_bps=peak_bps * share_in, peak_out_bps=peak_bps * (1 - share_in),
        optical=True, connects_to=connects_to,
    )


def _sensors_for(rng: random.Random, interfaces: tuple[InterfaceSpec, ...]) -> tuple[SensorSpec, ...]:
    """rx and tx power sensors for every optical port; 10G-LR optics (thresholds from the module's DOM)."""
    sensors: list[SensorSpec] = []
    for interface in interfaces:
        if not interface.optical:
            continue
        port_entity = 1000 + interface.index
        for offset, direction in ((1, "rx"), (2, "tx")):
            nominal = rng.uniform(-9.0, -3.0) if direction == "rx" else rng.uniform(-2.5, -0.5)
            sensors.append(
                SensorSpec(
                    entity_index=port_entity * 10 + offset,
                    port_entity_index=port_entity,
                    if_index=interface.index,
                    name=f"{interface.name} {'Receive' if direction == 'rx' else 'Transmit'} Power Sensor",
                    direction=direction,
                    nominal_dbm=round(nominal, 2),
                    low_warning_dbm=-14.4 if direction == "rx" else -8.2,
                    low_alarm_dbm=-18.3 if direction == "rx" else -11.2,
                )
            )
    return tuple(sensors)


def generate_city(
    devices: int = DEFAULT_DEVICES, seed: int = 1, port: int = 1161, address_base: tuple[int, int] = ADDRESS_BASE
) -> City:
    """Generate the simulated city; equal arguments always give an equal city.

    ``address_base`` is the first two octets of the devices' addresses: 127.20 on
    loopback, 198.19 inside the simulator's network namespace (see ``simulators.netns``).
    Only the addresses depend on it; everything else is the same city.
    """
    if not (len(address_base) == 2 and all(0 <= octet <= 255 for octet in address_base)):
        raise ValueError(f"address_base must be two octets, got {address_base!r}")
    counts = plan_counts(devices)
    build = _Builder(seed, port, (address_base[0], address_base[1]))
    rng = build.rng
    urban = [i for i, d in enumerate(DISTRICTS) if not d[4]]
    outer = [i for i, d in enumerate(DISTRICTS) if d[4]]

    # Core ring: each router has two ring ports (to its neighbours) and one downlink per distribution switch.
    core_count = counts[KIND_CORE]
    distribution_count = counts[KIND_DISTRIBUTION]
    downlinks: dict[int, list[int]] = {c: [] for c in range(core_count)}
    for d in range(distribution_count):
        downlinks[d % core_count].append(d)
    core_ids = [f"core-{c + 1}" for c in range(core_count)]
    distribution_ids = [f"dist-{d + 1:03d}" for d in range(distribution_count)]
    hot_link = (0, 1) if core_count > 1 else None  # one ring link runs hot: something for capacity planning to find
    for c in range(core_count):
        model = MODELS["asr9901" if c % 2 == 0 else "mx204"]
        prefix = "TenGigE0/0/0/" if model.vendor == "Cisco" else "xe-0/1/"
        interfaces: list[InterfaceSpec] = []
        if core_count > 1:
            for r, neighbour in enumerate(((c - 1) % core_count, (c + 1) % core_count)):
                hot = hot_link is not None and {c, neighbour} == set(hot_link)
                peak = 8.7e9 if hot else rng.uniform(1.5e9, 4.0e9)
                interfaces.append(
                    _optical_port(rng, r + 1, f"{prefix}{r}", f"Ring {core_ids[neighbour]}", peak, core_ids[neighbour])
                )
        for d in downlinks[c]:
            name = f"{prefix}{len(interfaces)}"
            interfaces.append(
                _optical_port(
                    rng, len(interfaces) + 1, name, f"Uplink {distribution_ids[d]}", rng.uniform(2e8, 1.2e9),
                    distribution_ids[d],
                )
            )
        interfaces.append(
            InterfaceSpec(len(interfaces) + 1, "Loopback0" if model.vendor == "Cisco" else "lo0",
                          "Loopback0" if model.vendor == "Cisco" else "lo0", "", 24, 0, 65535, b"", True, 0.0, 0.0)
        )
        district = urban[c % len(urban)]
        lat, lon = build.place(district)
        ifs = tuple(interfaces)
        build.add(
            id=core_ids[c], kind=KIND_CORE, site=f"PoP {DISTRICTS[district][0]}", district=DISTRICTS[district][0],
            lat=lat, lon=lon, upstream=None, model=model, interfaces=ifs, sensors=_sensors_for(rng, ifs),
            tags=("backbone", "core"), sys_name=f"{core_ids[c]}.backbone.musterstadt.example",
            location=f"PoP {DISTRICTS[district][0]}, Rack 1",
        )

    # Distribution switches: two optical uplinks (to the core; the second is a cold standby), 24 copper access ports.
    distribution_districts: list[int] = []
    for d in range(distribution_count):
        outer_switch = outer and d >= distribution_count - max(1, distribution_count // 8)
        district = outer[d % len(outer)] if outer_switch else urban[d % len(urban)]
        distribution_districts.append(district)
    access_plan: list[list[tuple[str, str]]] = [[] for _ in range(distribution_count)]  # (kind, id) per switch
    kinds_in_order = (
        [(KIND_HOTSPOT, f"hs-{i + 1:04d}") for i in range(counts[KIND_HOTSPOT])]
        + [(KIND_SCHOOL_AP, f"school-ap-{i + 1:03d}") for i in range(counts[KIND_SCHOOL_AP])]
        + [(KIND_CHARGER_MODEM, f"charger-{i + 1:03d}") for i in range(counts[KIND_CHARGER_MODEM])]
    )
    for position, item in enumerate(kinds_in_order):
        access_plan[position * distribution_count // max(1, len(kinds_in_order))].append(item)
    for d in range(distribution_count):
        model = MODELS["c9300" if d % 3 else "ex3400"]
        cisco = model.vendor == "Cisco"
        core = d % core_count
        interfaces = []
        ports = max(24, len(access_plan[d]))
        for p in range(ports):
            name = f"GigabitEthernet1/0/{p + 1}" if cisco else f"ge-0/0/{p}"
            attached = access_plan[d][p] if p < len(access_plan[d]) else None
            interfaces.append(
                InterfaceSpec(
                    p + 1, name, name, attached[1] if attached else "", 6, 1_000_000_000, 1500, _mac(rng),
                    attached is not None, 0.0, 0.0, False, attached[1] if attached else "",
                )
            )
        for u in range(2):
            name = f"TenGigabitEthernet1/1/{u + 1}" if cisco else f"xe-0/2/{u}"
            peak = rng.uniform(2e8, 1.2e9) if u == 0 else 0.0
            port = _optical_port(rng, ports + u + 1, name, f"Uplink {core_ids[core]}", peak, core_ids[core])
            interfaces.append(port)
        interfaces.append(
            InterfaceSpec(ports + 3, "Vlan1" if cisco else "irb.0", "Vlan1" if cisco else "irb.0", "Management",
                          53, 1_000_000_000, 1500, _mac(rng), True, 2e4, 2e4)
        )
        district = distribution_districts[d]
        lat, lon = build.place(district)
        ifs = tuple(interfaces)
        build.add(
            id=distribution_ids[d], kind=KIND_DISTRIBUTION, site=f"Verteiler {DISTRICTS[district][0]} {d + 1}",
            district=DISTRICTS[district][0], lat=lat, lon=lon, upstream=core_ids[core], model=model, interfaces=ifs,
            sensors=_sensors_for(rng, ifs), tags=("backbone", "distribution"),
            sys_name=f"{distribution_ids[d]}.backbone.musterstadt.example",
            location=f"Verteilerschrank {DISTRICTS[district][0]} {d + 1}",
        )

    # The access layer, attached to the switch the plan assigned.
    for d, attached in enumerate(access_plan):
        district = distribution_districts[d]
        for kind, device_id in attached:
            lat, lon = build.place(district)
            district_name = DISTRICTS[district][0]
            if kind == KIND_CHARGER_MODEM:
                model = MODELS["rut241"]
                interfaces = [
                    InterfaceSpec(1, "eth0", "eth0", "LAN Ladesäule", 6, 100_000_000, 1500, _mac(rng), True,
                                  rng.uniform(2e4, 1.5e5), rng.uniform(2e4, 1.5e5)),
                    InterfaceSpec(2, "wwan0", "wwan0", "LTE backup", 243, 150_000_000, 1500, _mac(rng), True,
                                  rng.uniform(1e3, 1e4), rng.uniform(1e3, 1e4)),
                    InterfaceSpec(3, "br-lan", "br-lan", "", 6, 1_000_000_000, 1500, _mac(rng), True,
                                  rng.uniform(2e4, 1.5e5), rng.uniform(2e4, 1.5e5)),
                ]
                site = f"Ladepunkt {district_name} {rng.choice(PLACES)}"
                build.add(
                    id=device_id, kind=kind, site=site, district=district_name, lat=lat, lon=lon,
                    upstream=distribution_ids[d], model=model, interfaces=tuple(interfaces), tags=("charging",),
                    sys_name=device_id, location=site,
                )
                continue
            school = kind == KIND_SCHOOL_AP
            model = MODELS["u6-pro" if school else "uap-ac-pro"]
            # log-normal peak: most hotspots are quiet, a few are busy squares
            peak_down = min(3.5e8, math.exp(rng.gauss(math.log(1.5e7), 0.8)))
            peak_up = peak_down * rng.uniform(0.15, 0.35)
            ssid = "Musterstadt-Schulnetz" if school else "Musterstadt-Free-WLAN"
            clients = math.ceil(min(250, peak_down / 4e5)) + 3
            radios = (
                RadioSpec(1, "wifi0", "ng", ssid, max(2, clients // 3)),
                RadioSpec(2, "wifi1", "na", ssid, clients),
            )
            interfaces = [
                InterfaceSpec(1, "eth0", "eth0", "Uplink", 6, 1_000_000_000, 1500, _mac(rng), True,
                              peak_down, peak_up),
                InterfaceSpec(2, "wifi0", "wifi0", "2.4 GHz", 71, 300_000_000, 1500, _mac(rng), True,
                              peak_up * 0.3, peak_down * 0.3),
                InterfaceSpec(3, "wifi1", "wifi1", "5 GHz", 71, 867_000_000, 1500, _mac(rng), True,
                              peak_up * 0.7, peak_down * 0.7),
                InterfaceSpec(4, "br0", "br0", "", 6, 1_000_000_000, 1500, _mac(rng), True,
                              peak_down, peak_up),
            ]
            if school:
                site = f"{rng.choice(SCHOOLS)} {district_name}"
                tags: tuple[str, ...] = ("wlan", "school")
            else:
                site = f"{rng.choice(PLACES)} {district_name}"
                tags = ("wlan", "public") + (("outer-area",) if DISTRICTS[district][4] else ())
            build.add(
                id=device_id, kind=kind, site=site, district=district_name, lat=lat, lon=lon,
                upstream=distribution_ids[d], model=model, interfaces=tuple(interfaces), radios=radios, tags=tags,
                sys_name=device_id, location=site,
            )
    devices_with_backhaul = [dataclasses.replace(d, backhaul=_backhaul(seed, d)) for d in build.devices]
    return City(seed=seed, devices=devices_with_backhaul, chargers=_charge_points(seed, devices_with_backhaul))


# Access devices not on the utility's own fibre: (kind, outer area) -> shares of dsl, lte, radio. The backbone and
# the schools are on fibre; in the outer area most hotspots and charger modems hang off rented DSL or LTE.
BACKHAUL_SHARES = {
    (KIND_HOTSPOT, False): (0.08, 0.04, 0.0),
    (KIND_HOTSPOT, True): (0.45, 0.3, 0.1),
    (KIND_CHARGER_MODEM, False): (0.1, 0.15, 0.0),
    (KIND_CHARGER_MODEM, True): (0.3, 0.5, 0.0),
}


def _backhaul(seed: int, device: DeviceSpec) -> str:
    """The device's backhaul, drawn from a generator of its own so the rest of the city stays as it was."""
    outer = any(name == device.district and is_outer for name, *_, is_outer in DISTRICTS)
    shares = BACKHAUL_SHARES.get((device.kind, outer))
    if shares is None:
        return "fibre"
    draw = random.Random(_stable_seed(seed, "backhaul", device.id)).random()
    for backhaul, share in zip(("dsl", "lte", "radio"), shares, strict=True):
        if draw < share:
            return backhaul
        draw -= share
    return "fibre"


DC_SHARE = 0.2  # of the charge points: DC fast chargers (one connector); the rest AC with two
CHARGER_STREETS = (
    "Bahnhofstraße", "Marktstraße", "Kirchplatz", "Rathausplatz", "Lindenallee", "Schulstraße", "Gartenweg",
    "Poststraße", "Hauptstraße", "Am Stadtpark", "Parkstraße", "Mühlenweg",
)
TYPE2_22KW = ConnectorInfo("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32, 22_000)  # a socket of a 22 kW column
CCS = {  # DC fast chargers: a CCS cable
    50_000.0: ConnectorInfo("IEC_62196_T2_COMBO", "CABLE", "DC", 500, 125, 50_000),
    150_000.0: ConnectorInfo("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 200, 150_000),
}


def _charge_points(seed: int, devices: list[DeviceSpec]) -> tuple[ChargePointSpec, ...]:
    """One charge point behind each charger modem, drawn from its own seed (the devices do not change)."""
    points = []
    for device in devices:
        if device.kind != KIND_CHARGER_MODEM:
            continue
        rng = random.Random(_stable_seed(seed, "charge-point", device.id))
        number = device.id.removeprefix("charger-")
        if rng.random() < DC_SHARE:
            power = rng.choice((50_000.0, 150_000.0))
            current, connectors, model, firmware = "DC", 1, f"DC-{power / 1000:.0f} Sim", "3.2.1"
            register = rng.uniform(20e6, 250e6)  # a few years of fast charging
            info: tuple[ConnectorInfo, ...] = (CCS[power],)
        else:
            power = 11_000.0  # 3 x 16 A per connector, a 22 kW column
            current, connectors, model, firmware = "AC", 2, "AC-22 Sim", "1.8.4"
            register = rng.uniform(1e6, 30e6)
            info = (TYPE2_22KW, TYPE2_22KW)
        points.append(
            ChargePointSpec(
                id=f"cp-{number}", device=device.id, site=device.site, district=device.district, current=current,
                connectors=connectors, power_w=power, vendor="Musterwerk", model=model, firmware=firmware,
                register_wh=float(round(register)), street=rng.choice(CHARGER_STREETS),
                house_number=str(rng.randint(1, 40)), postcode=CITY_POSTCODES.get(device.district, "48990"),
                connector_info=info,
            )
        )
    return tuple(points)


def write_inventory_csv(city: City, path: Path) -> None:
    """Write the city as a CSV inventory (the spreadsheet form operators keep) the collector reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(INVENTORY_COLUMNS)
        for device in city.devices:
            writer.writerow(
                [
                    device.id, device.kind, device.endpoint, device.site, device.district, f"{device.lat:.6f}",
                    f"{device.lon:.6f}", device.upstream or "", device.model.name, ";".join(device.tags),
                    device.backhaul,
                ]
            )
