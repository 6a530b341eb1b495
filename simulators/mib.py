"""The SNMP view of a simulated device: which OIDs it serves, in order, and what each one reads.

Owns the mapping from OIDs to values: system group, IF-MIB ifTable/ifXTable,
ENTITY-MIB (physical entities and their alias mapping to ifIndex),
ENTITY-SENSOR-MIB optical levels, CISCO-ENTITY-SENSOR-MIB thresholds on Cisco
models, and UniFi radio/VAP tables (clients per radio) on access points.

A :class:`MibView` is a sorted list of OIDs with a getter per OID; devices of
the same shape share one view (10,000 devices need only a handful), and each
getter reads the device's :class:`~simulators.behaviour.DeviceRuntime`.
Python tuple ordering is SNMP's lexicographic order, so GETNEXT is a bisect.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from collectors.snmp.codec import encode_oid
from collectors.snmp.types import Counter32, Counter64, Gauge32, Oid, TimeTicks, Value
from simulators.behaviour import MASK32, DeviceRuntime
from simulators.city import KIND_CORE, KIND_DISTRIBUTION, DeviceSpec, SensorSpec

Getter = Callable[[DeviceRuntime, int, float], Value]

SYSTEM = (1, 3, 6, 1, 2, 1, 1)
IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_ENTRY = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
ENT_PHYSICAL_ENTRY = (1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1)
ENT_ALIAS_MAPPING_IDENTIFIER = (1, 3, 6, 1, 2, 1, 47, 1, 3, 2, 1, 2)
ENT_PHY_SENSOR_ENTRY = (1, 3, 6, 1, 2, 1, 99, 1, 1, 1)
CISCO_SENSOR_THRESHOLD_ENTRY = (1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 2, 1, 1)
UNIFI_RADIO_ENTRY = (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 1, 1)
UNIFI_VAP_ENTRY = (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 2, 1)

CONTACT = b"NOC Stadtwerke Musterstadt <noc@stadtwerke-musterstadt.example>"
SENSOR_TYPE_WATTS = 6
SENSOR_TYPE_DBM = 14  # CISCO-ENTITY-SENSOR-MIB numbering; RFC 3433 has no dBm
SCALE_MICRO = 7
SCALE_UNITS = 9
SENSOR_PRECISION = 1


@dataclass(slots=True)
class MibView:
    oids: list[Oid]
    names: list[bytes]  # the encoded OBJECT IDENTIFIER TLV of each OID
    getters: list[Getter]
    rows: list[int]
    position: dict[Oid, int]
    columns: frozenset[Oid]  # OIDs minus their instance: tells noSuchInstance from noSuchObject


# ----------------------------------------------------------------- interface getters


def _packets(rt: DeviceRuntime, row: int, now: float) -> tuple[float, float]:
    interface = rt.interfaces[row]
    octets_in, octets_out = interface.octets(rt.epoch, now)
    size = interface.octets_per_packet
    return octets_in / size, octets_out / size


def _octets_in(rt: DeviceRuntime, row: int, now: float) -> int:
    return rt.interfaces[row].octets(rt.epoch, now)[0]


def _octets_out(rt: DeviceRuntime, row: int, now: float) -> int:
    return rt.interfaces[row].octets(rt.epoch, now)[1]


def _packet_share(direction: int, share: float) -> Callable[[DeviceRuntime, int, float], int]:
    def count(rt: DeviceRuntime, row: int, now: float) -> int:
        return int(_packets(rt, row, now)[direction] * share)

    return count


def _errors(direction: int) -> Callable[[DeviceRuntime, int, float], int]:
    def count(rt: DeviceRuntime, row: int, now: float) -> int:
        return int(_packets(rt, row, now)[direction] * rt.interfaces[row].error_ratio)

    return count


def _discards(direction: int) -> Callable[[DeviceRuntime, int, float], int]:
    def count(rt: DeviceRuntime, row: int, now: float) -> int:
        return int(_packets(rt, row, now)[direction] * rt.interfaces[row].discard_ratio)

    return count


UCAST, MCAST, BCAST = 0.955, 0.03, 0.015


def _c32(count: Callable[[DeviceRuntime, int, float], int]) -> Getter:
    return lambda rt, row, now: Counter32(count(rt, row, now) & MASK32)


def _c64(count: Callable[[DeviceRuntime, int, float], int]) -> Getter:
    return lambda rt, row, now: Counter64(count(rt, row, now))


def _if_speed(rt: DeviceRuntime, row: int, now: float) -> Value:
    return Gauge32(min(rt.spec.interfaces[row].speed_bps, MASK32))


def _if_high_speed(rt: DeviceRuntime, row: int, now: float) -> Value:
    return Gauge32(rt.spec.interfaces[row].speed_bps // 1_000_000)


def _oper_status(rt: DeviceRuntime, row: int, now: float) -> Value:
    return 1 if rt.interfaces[row].oper_up else 2


def _last_change(rt: DeviceRuntime, row: int, now: float) -> Value:
    return TimeTicks(rt.ticks_at(rt.interfaces[row].last_change))


IF_TABLE_COLUMNS: dict[int, Getter] = {
    1: lambda rt, row, now: rt.spec.interfaces[row].index,
    2: lambda rt, row, now: rt.spec.interfaces[row].descr.encode(),
    3: lambda rt, row, now: rt.spec.interfaces[row].if_type,
    4: lambda rt, row, now: rt.spec.interfaces[row].mtu,
    5: _if_speed,
    6: lambda rt, row, now: rt.spec.interfaces[row].mac,
    7: lambda rt, row, now: 1 if rt.spec.interfaces[row].admin_up else 2,
    8: _oper_status,
    9: _last_change,
    10: _c32(_octets_in),
    11: _c32(_packet_share(0, UCAST)),
    12: _c32(_packet_share(0, MCAST + BCAST)),
    13: _c32(_discards(0)),
    14: _c32(_errors(0)),
    15: _c32(_packet_share(0, 1e-6)),
    16: _c32(_octets_out),
    17: _c32(_packet_share(1, UCAST)),
    18: _c32(_packet_share(1, MCAST + BCAST)),
    19: _c32(_discards(1)),
    20: _c32(_errors(1)),
    21: lambda rt, row, now: Gauge32(0),
    22: lambda rt, row, now: (0, 0),
}

IFX_TABLE_COLUMNS: dict[int, Getter] = {
    1: lambda rt, row, now: rt.spec.interfaces[row].name.encode(),
    2: _c32(_packet_share(0, MCAST)),
    3: _c32(_packet_share(0, BCAST)),
    4: _c32(_packet_share(1, MCAST)),
    5: _c32(_packet_share(1, BCAST)),
    6: _c64(_octets_in),
    7: _c64(_packet_share(0, UCAST)),
    8: _c64(_packet_share(0, MCAST)),
    9: _c64(_packet_share(0, BCAST)),
    10: _c64(_octets_out),
    11: _c64(_packet_share(1, UCAST)),
    12: _c64(_packet_share(1, MCAST)),
    13: _c64(_packet_share(1, BCAST)),
    14: lambda rt, row, now: 1,
    15: _if_high_speed,
    16: lambda rt, row, now: 2,
    17: lambda rt, row, now: 2 if rt.spec.interfaces[row].if_type in (24, 53) else 1,
    18: lambda rt, row, now: rt.spec.interfaces[row].alias.encode(),
    19: lambda rt, row, now: TimeTicks(0),
}

# ----------------------------------------------------------------- system group


def _services(spec: DeviceSpec) -> int:
    if spec.kind == KIND_CORE:
        return 78  # layers 2, 3, 4, 7
    if spec.kind == KIND_DISTRIBUTION:
        return 6  # layers 2, 3
    return 72  # hosts: layers 4, 7


SYSTEM_SCALARS: dict[int, Getter] = {
    1: lambda rt, row, now: rt.spec.model.sys_descr.encode(),
    2: lambda rt, row, now: rt.spec.model.sys_object_id,
    3: lambda rt, row, now: TimeTicks(rt.uptime_ticks(now)),
    4: lambda rt, row, now: CONTACT,
    5: lambda rt, row, now: rt.spec.sys_name.encode(),
    6: lambda rt, row, now: rt.spec.location.encode(),
    7: lambda rt, row, now: _services(rt.spec),
}

# ----------------------------------------------------------------- optics


def sensor_raw(spec: DeviceSpec, dbm: float) -> int:
    """A level in dBm as the device's entPhySensorValue (dBm x10 on Cisco, microwatts x10 elsewhere)."""
    if spec.model.optics_in_dbm:
        return round(dbm * 10**SENSOR_PRECISION)
    microwatts = 1000.0 * 10 ** (dbm / 10.0)
    return round(microwatts * 10**SENSOR_PRECISION)


def _sensor_value(rt: DeviceRuntime, row: int, now: float) -> Value:
    return sensor_raw(rt.spec, rt.optical_dbm(rt.spec.sensors[row], now))


# CISCO-ENTITY-SENSOR-MIB thresholds: (entSensorThresholdIndex, severity minor=10/major=20,
# relation lessThan=1/greaterThan=3, which level)
THRESHOLDS = ((1, 10, 1, "low_warning"), (2, 20, 1, "low_alarm"), (3, 10, 3, "high_warning"), (4, 20, 3, "high_alarm"))
HIGH_LEVELS = {"rx": (1.0, 2.5), "tx": (1.5, 3.0)}


def threshold_dbm(sensor: SensorSpec, which: str) -> float:
    if which == "low_warning":
        return sensor.low_warning_dbm
    if which == "low_alarm":
        return sensor.low_alarm_dbm
    warning, alarm = HIGH_LEVELS[sensor.direction]
    return warning if which == "high_warning" else alarm


def _threshold_value(which: str) -> Getter:
    return lambda rt, row, now: sensor_raw(rt.spec, threshold_dbm(rt.spec.sensors[row], which))


def _threshold_crossed(which: str, relation: int) -> Getter:
    def evaluate(rt: DeviceRuntime, row: int, now: float) -> Value:
        sensor = rt.spec.sensors[row]
        value = rt.optical_dbm(sensor, now)
        level = threshold_dbm(sensor, which)
        crossed = value < level if relation == 1 else value > level
        return 1 if crossed else 2

    return evaluate


def _entries(spec: DeviceSpec) -> list[tuple[Oid, Getter, int]]:
    entries: list[tuple[Oid, Getter, int]] = []
    for sub, getter in SYSTEM_SCALARS.items():
        entries.append(((*SYSTEM, sub, 0), getter, 0))
    entries.append((IF_NUMBER, lambda rt, row, now: len(rt.spec.interfaces), 0))
    for row, interface in enumerate(spec.interfaces):
        for column, getter in IF_TABLE_COLUMNS.items():
            entries.append(((*IF_ENTRY, column, interface.index), getter, row))
        for column, getter in IFX_TABLE_COLUMNS.items():
            entries.append(((*IFX_ENTRY, column, interface.index), getter, row))
    if spec.sensors:
        entries.extend(_entity_entries(spec))
    for position, radio in enumerate(spec.radios):
        entries.extend(_radio_entries(position, radio.index))
    return entries


def _const(value: Value) -> Getter:
    return lambda rt, row, now: value


def _entity_entries(spec: DeviceSpec) -> list[tuple[Oid, Getter, int]]:
    entries: list[tuple[Oid, Getter, int]] = []
    ports = sorted({(s.port_entity_index, s.if_index) for s in spec.sensors})
    by_index = {i.index: i for i in spec.interfaces}
    physical: list[tuple[int, bytes, int, int, bytes]] = [(1, spec.model.name.encode(), 0, 3, b"Chassis")]
    for entity, if_index in ports:
        name = by_index[if_index].name
        physical.append((entity, f"10GBASE-LR SFP+ {name}".encode(), 1, 10, name.encode()))
    for sensor in spec.sensors:
        physical.append((sensor.entity_index, sensor.name.encode(), sensor.port_entity_index, 8, sensor.name.encode()))
    for entity, descr, contained_in, klass, name in physical:
        entries.append(((*ENT_PHYSICAL_ENTRY, 2, entity), _const(descr), 0))
        entries.append(((*ENT_PHYSICAL_ENTRY, 4, entity), _const(contained_in), 0))
        entries.append(((*ENT_PHYSICAL_ENTRY, 5, entity), _const(klass), 0))
        entries.append(((*ENT_PHYSICAL_ENTRY, 7, entity), _const(name), 0))
    for entity, if_index in ports:
        entries.append(((*ENT_ALIAS_MAPPING_IDENTIFIER, entity, 0), _const((*IF_ENTRY, 1, if_index)), 0))
    dbm = spec.model.optics_in_dbm
    for row, sensor in enumerate(spec.sensors):
        e = sensor.entity_index
        entries.append(((*ENT_PHY_SENSOR_ENTRY, 1, e), _const(SENSOR_TYPE_DBM if dbm else SENSOR_TYPE_WATTS), row))
        entries.append(((*ENT_PHY_SENSOR_ENTRY, 2, e), _const(SCALE_UNITS if dbm else SCALE_MICRO), row))
        entries.append(((*ENT_PHY_SENSOR_ENTRY, 3, e), _const(SENSOR_PRECISION), row))
        entries.append(((*ENT_PHY_SENSOR_ENTRY, 4, e), _sensor_value, row))
        entries.append(((*ENT_PHY_SENSOR_ENTRY, 5, e), _const(1), row))
        entries.append(((*ENT_PHY_SENSOR_ENTRY, 6, e), _const(b"dBm" if dbm else b"W"), row))
        entries.append(((*ENT_PHY_SENSOR_ENTRY, 7, e), lambda rt, row, now: TimeTicks(rt.uptime_ticks(now)), row))
        entries.append(((*ENT_PHY_SENSOR_ENTRY, 8, e), _const(Gauge32(10_000)), row))
        if dbm:
            for index, severity, relation, which in THRESHOLDS:
                base = CISCO_SENSOR_THRESHOLD_ENTRY
                entries.append(((*base, 2, e, index), _const(severity), row))
                entries.append(((*base, 3, e, index), _const(relation), row))
                entries.append(((*base, 4, e, index), _threshold_value(which), row))
                entries.append(((*base, 5, e, index), _threshold_crossed(which, relation), row))
                entries.append(((*base, 6, e, index), _const(1), row))
    return entries


CHANNELS = {"ng": (1, 6, 11), "na": (36, 44, 52, 100, 112)}


def _radio_entries(position: int, index: int) -> list[tuple[Oid, Getter, int]]:
    """UniFi radio table and one VAP per radio; the radio's interface is the (position + 2)-th."""
    if_row = position + 1

    def packets(direction: int) -> Getter:
        return lambda rt, row, now: Counter32(int(_packets(rt, if_row, now)[direction]) & MASK32)

    def channel(rt: DeviceRuntime, row: int, now: float) -> Value:
        options = CHANNELS[rt.spec.radios[position].band]
        return options[rt.rng_seed % len(options)]

    def utilisation(share: float) -> Getter:
        return lambda rt, row, now: math.floor(rt.channel_utilisation(position, now) * share)

    entries: list[tuple[Oid, Getter, int]] = [
        ((*UNIFI_RADIO_ENTRY, 1, index), _const(index), 0),
        ((*UNIFI_RADIO_ENTRY, 2, index), lambda rt, row, now: rt.spec.radios[position].name.encode(), 0),
        ((*UNIFI_RADIO_ENTRY, 3, index), lambda rt, row, now: rt.spec.radios[position].band.encode(), 0),
        ((*UNIFI_RADIO_ENTRY, 4, index), packets(0), 0),
        ((*UNIFI_RADIO_ENTRY, 5, index), packets(1), 0),
        ((*UNIFI_RADIO_ENTRY, 6, index), utilisation(1.0), 0),
        ((*UNIFI_RADIO_ENTRY, 7, index), utilisation(0.35), 0),
        ((*UNIFI_RADIO_ENTRY, 8, index), utilisation(0.45), 0),
        ((*UNIFI_RADIO_ENTRY, 9, index), utilisation(0.2), 0),
        ((*UNIFI_VAP_ENTRY, 1, index), _const(index), 0),
        ((*UNIFI_VAP_ENTRY, 4, index), channel, 0),
        ((*UNIFI_VAP_ENTRY, 6, index), lambda rt, row, now: rt.spec.radios[position].ssid.encode(), 0),
        ((*UNIFI_VAP_ENTRY, 7, index), _const(f"ath{position}".encode()), 0),
        ((*UNIFI_VAP_ENTRY, 8, index), lambda rt, row, now: rt.clients(position, now), 0),
        ((*UNIFI_VAP_ENTRY, 9, index), lambda rt, row, now: rt.spec.radios[position].band.encode(), 0),
        ((*UNIFI_VAP_ENTRY, 22, index), lambda rt, row, now: 1 if rt.interfaces[if_row].oper_up else 2, 0),
    ]
    return entries


def build_view(spec: DeviceSpec) -> MibView:
    """The view for ``spec``'s shape (static values bound at build time come from this spec)."""
    entries = sorted(_entries(spec), key=lambda entry: entry[0])
    oids = [oid for oid, _, _ in entries]
    if len(set(oids)) != len(oids):
        raise ValueError(f"duplicate OIDs in the view of {spec.id}")
    return MibView(
        oids=oids,
        names=[encode_oid(oid) for oid in oids],
        getters=[getter for _, getter, _ in entries],
        rows=[row for _, _, row in entries],
        position={oid: i for i, oid in enumerate(oids)},
        columns=frozenset(oid[:-1] for oid in oids),
    )


class ViewCache:
    """One view per device shape; shapes are few, devices many."""

    def __init__(self) -> None:
        self._views: dict[tuple, MibView] = {}

    def view_for(self, spec: DeviceSpec) -> MibView:
        view = self._views.get(spec.shape)
        if view is None:
            view = self._views[spec.shape] = build_view(spec)
        return view

    def __len__(self) -> int:
        return len(self._views)
