"""The simulated city on the real wire: what it contains, what it answers, and how faults change it.

The simulator runs on a frozen (manual) clock so what net-snmp's tools and our
client read can be compared with what the simulator holds, value for value.
"""

from __future__ import annotations

import asyncio
import csv
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.snmp.client import SnmpClient, SnmpTimeoutError, Target
from collectors.snmp.codec import PduType, Version
from collectors.snmp.types import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    Counter32,
    Counter64,
    Oid,
    Value,
    VarBind,
)
from simulators.behaviour import MASK32
from simulators.city import (
    INVENTORY_COLUMNS,
    KIND_CHARGER_MODEM,
    KIND_CORE,
    KIND_DISTRIBUTION,
    KIND_HOTSPOT,
    KIND_SCHOOL_AP,
    generate_city,
    plan_counts,
    write_inventory_csv,
)
from stadtnetz.clock import ManualClock
from tests.support import netsnmp
from tests.support.simulation import ThreadedSimulation

SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
IF_OPER_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)
IF_IN_OCTETS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 10)
IF_HC_IN_OCTETS = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6)
IF_HIGH_SPEED = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15)
SENSOR_ENTRY = (1, 3, 6, 1, 2, 1, 99, 1, 1, 1)
ALIAS_MAPPING = (1, 3, 6, 1, 2, 1, 47, 1, 3, 2, 1, 2)
CISCO_THRESHOLDS = (1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 2, 1, 1)
VAP_STATIONS = (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 2, 1, 8)
VAP_RADIO = (1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 2, 1, 9)
# 2026-06-10 00:00 CET (UTC+1) as epoch seconds
MIDNIGHT = 1_781_046_000.0


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(MIDNIGHT + 10 * 3600)


@pytest.fixture(scope="module")
def city(clock: ManualClock) -> Iterator[ThreadedSimulation]:
    with ThreadedSimulation(devices=60, seed=11, clock=clock) as simulation:
        yield simulation


def first_of(sim: ThreadedSimulation, kind: str) -> str:
    return next(d.id for d in sim.simulation.city.devices if d.kind == kind)


def truth(sim: ThreadedSimulation, device_id: str) -> list[VarBind]:
    """Every OID the simulator holds for a device, with its value right now, in order."""

    def read() -> list[VarBind]:
        runtime = sim.simulation.runtime.device(device_id)
        view = sim.simulation.agent.views.view_for(runtime.spec)
        now = sim.simulation.runtime.clock.time()
        return [(oid, view.getters[i](runtime, view.rows[i], now)) for i, oid in enumerate(view.oids)]

    return sim.call(read)


def target(sim: ThreadedSimulation, device_id: str, **options: object) -> Target:
    address, port = sim.endpoint(device_id).split(":")
    return Target(address, int(port), **options)  # type: ignore[arg-type]


def get(sim: ThreadedSimulation, device_id: str, oids: list[Oid], **options: object) -> list[Value]:
    async def run() -> list[Value]:
        async with SnmpClient() as client:
            return [value for _, value in await client.get(target(sim, device_id, **options), oids)]

    return asyncio.run(run())


def walk(sim: ThreadedSimulation, device_id: str, root: Oid) -> list[VarBind]:
    async def run() -> list[VarBind]:
        async with SnmpClient() as client:
            return await client.walk_one(target(sim, device_id), root)

    return asyncio.run(run())


# ------------------------------------------------------------------ the city itself


def test_default_city_has_the_promised_composition() -> None:
    city = generate_city()
    counts = city.count_by_kind()
    assert counts == {
        KIND_CORE: 4,
        KIND_DISTRIBUTION: 26,
        KIND_HOTSPOT: 520,
        KIND_SCHOOL_AP: 40,
        KIND_CHARGER_MODEM: 60,
    }
    for total in (3, 17, 650, 2500, 10_000):
        assert sum(plan_counts(total).values()) == total


def test_each_charger_modem_has_one_seeded_charge_point_behind_it() -> None:
    city = generate_city()
    modems = [d for d in city.devices if d.kind == KIND_CHARGER_MODEM]
    assert [(c.id, c.device) for c in city.chargers] == [(f"cp-{m.id[-3:]}", m.id) for m in modems]
    by_id = city.by_id()
    for charger in city.chargers:
        assert (charger.site, charger.district) == (by_id[charger.device].site, by_id[charger.device].district)
        assert (charger.current, charger.connectors) in {("AC", 2), ("DC", 1)}
        assert charger.power_w in ((11_000,) if charger.current == "AC" else (50_000, 150_000))
        assert charger.register_wh > 0
    assert 6 <= sum(c.current == "DC" for c in city.chargers) <= 20  # about a fifth fast chargers
    switch = by_id["charger-001"].upstream
    assert switch is not None and city.path_to_core("charger-001") == ("charger-001", switch, by_id[switch].upstream)
    assert generate_city().chargers == city.chargers
    assert generate_city(seed=2).chargers != city.chargers


def test_city_is_a_tree_under_the_core_with_unique_loopback_addresses() -> None:
    city = generate_city(300, seed=5)
    by_id = city.by_id()
    assert len({d.address for d in city.devices}) == len(city.devices)
    for device in city.devices:
        assert device.address.startswith("127.") and not device.address.endswith((".0", ".255"))
        if device.kind == KIND_CORE:
            assert device.upstream is None
            continue
        path, current = [], device
        while current.upstream is not None:  # reaches the core without a cycle
            assert current.upstream in by_id, f"{current.id} names unknown upstream {current.upstream}"
            assert current.id not in path
            path.append(current.id)
            current = by_id[current.upstream]
        assert current.kind == KIND_CORE
        expected_parent = KIND_CORE if device.kind == KIND_DISTRIBUTION else KIND_DISTRIBUTION
        assert by_id[device.upstream].kind == expected_parent  # type: ignore[index]


def test_same_seed_same_city_and_inventory_file(tmp_path: Path) -> None:
    write_inventory_csv(generate_city(120, seed=9), tmp_path / "a.csv")
    write_inventory_csv(generate_city(120, seed=9), tmp_path / "b.csv")
    write_inventory_csv(generate_city(120, seed=10), tmp_path / "c.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    rows = list(csv.DictReader((tmp_path / "a.csv").open()))
    assert tuple(rows[0]) == INVENTORY_COLUMNS
    assert len(rows) == 120
    hotspot = next(r for r in rows if r["kind"] == KIND_HOTSPOT)
    host, port = hotspot["address"].split(":")
    assert host.startswith("127.20.") and port == "1161"
    assert 51.5 < float(hotspot["lat"]) < 52.2 and 7.9 < float(hotspot["lon"]) < 8.7
    assert hotspot["upstream"].startswith("dist-")


# ------------------------------------------------------------------ net-snmp against the simulator


def net_snmp(city: ThreadedSimulation, tool: str, version: str, device: str, *oids: Oid) -> list[VarBind]:
    host = city.endpoint(device).split(":")[0]
    return netsnmp.run_tool(tool, version, host, city.port, "public", oids)


@pytest.mark.parametrize("kind", [KIND_CORE, KIND_DISTRIBUTION, KIND_HOTSPOT, KIND_CHARGER_MODEM])
def test_net_snmp_walks_return_what_the_simulator_holds(city: ThreadedSimulation, kind: str) -> None:
    device = first_of(city, kind)
    expected = truth(city, device)
    bulk = net_snmp(city, "snmpbulkwalk", "2c", device, (1, 3, 6, 1))
    # walking to the end of the agent's tree ends with one endOfMibView line, as with a real snmpd
    assert bulk[-1][1] is END_OF_MIB_VIEW
    assert bulk[:-1] == expected
    stepwise = net_snmp(city, "snmpwalk", "2c", device, (1, 3, 6, 1))
    assert stepwise[:-1] == expected
    # SNMPv1 cannot carry Counter64: the agent skips those objects
    v1 = net_snmp(city, "snmpwalk", "1", device, (1, 3, 6, 1))
    assert v1 == [(oid, value) for oid, value in expected if type(value) is not Counter64]


def test_net_snmp_get_distinguishes_missing_instance_from_missing_object(city: ThreadedSimulation) -> None:
    device = first_of(city, KIND_HOTSPOT)
    answers = net_snmp(city, "snmpget", "2c", device, SYS_NAME, (*IF_IN_OCTETS, 99), (1, 3, 6, 1, 9, 9, 9))
    assert [value for _, value in answers] == [device.encode(), NO_SUCH_INSTANCE, NO_SUCH_OBJECT]


def test_our_client_reads_the_same_as_net_snmp(city: ThreadedSimulation) -> None:
    device = first_of(city, KIND_DISTRIBUTION)
    ours = walk(city, device, (1, 3, 6, 1))
    assert ours == truth(city, device)


# ------------------------------------------------------------------ GETBULK and message size


def test_getbulk_non_repeaters_repetitions_and_end_of_mib(city: ThreadedSimulation) -> None:
    device = first_of(city, KIND_HOTSPOT)
    expected = truth(city, device)
    oids = [oid for oid, _ in expected]

    async def run() -> tuple[list[VarBind], list[VarBind]]:
        async with SnmpClient() as client:
            t = target(city, device)
            _, _, first = await client.request(
                t,
                PduType.GET_BULK,
                [(1, 3, 6, 1, 2, 1, 1), (1, 3, 6, 1, 2, 1, 2, 2, 1, 2), (1, 3, 6, 1, 2, 1, 2, 2, 1, 3)],
                non_repeaters=1,
                max_repetitions=3,
            )
            _, _, last = await client.request(t, PduType.GET_BULK, [oids[-2]], 0, 5)
            return first, last

    first, last = asyncio.run(run())
    index = {oid: i for i, oid in enumerate(oids)}
    assert first[0][0] == (1, 3, 6, 1, 2, 1, 1, 1, 0)  # the non-repeater: one GETNEXT
    # then 3 rows of (ifDescr.n, ifType.n), interleaved
    assert [oid[-2:] for oid, _ in first[1:]] == [(2, 1), (3, 1), (2, 2), (3, 2), (2, 3), (3, 3)]
    assert all(value == dict(expected)[oid] for oid, value in first)
    # one real varbind left, then a whole row of endOfMibView and the agent stops
    assert last[0] == expected[index[oids[-1]]]
    assert last[1][1] is END_OF_MIB_VIEW and len(last) == 2


def test_responses_respect_the_maximum_message_size() -> None:
    with ThreadedSimulation(devices=10, seed=3, clock=ManualClock(MIDNIGHT), max_message_size=484) as sim:
        device = first_of(sim, KIND_DISTRIBUTION)
        sizes: list[int] = []

        async def run() -> tuple[list[VarBind], list[Value]]:
            async with SnmpClient() as client:
                original = client._on_datagram

                def record(data: bytes, address: tuple) -> None:
                    sizes.append(len(data))
                    original(data, address)

                client._on_datagram = record  # type: ignore[method-assign]
                t = target(sim, device, max_repetitions=50)
                walked = await client.walk_one(t, (1, 3, 6, 1, 2, 1, 2))
                many = [(*IF_HC_IN_OCTETS, i) for i in range(1, 25)] * 3
                got = [v for _, v in await client.get(t, many)]
                assert client.stats.too_big > 0  # the agent said tooBig and the client split the request
                return walked, got

        walked, got = asyncio.run(run())
        assert max(sizes) <= 484
        assert walked == [vb for vb in truth(sim, device) if vb[0][:7] == (1, 3, 6, 1, 2, 1, 2)]
        assert all(type(v) is Counter64 for v in got) and len(got) == 72


# ------------------------------------------------------------------ faults


def test_silent_device_does_not_answer_until_restored(city: ThreadedSimulation) -> None:
    device = first_of(city, KIND_SCHOOL_AP)
    city.call(city.simulation.faults.silence, device)
    with pytest.raises(SnmpTimeoutError):
        get(city, device, [SYS_NAME], timeout=0.2, retries=1)
    city.call(city.simulation.faults.restore, device)
    assert get(city, device, [SYS_NAME]) == [device.encode()]


def test_slow_device_answers_late() -> None:
    with ThreadedSimulation(devices=5, seed=2) as sim:
        device = first_of(sim, KIND_HOTSPOT)
        sim.call(sim.simulation.faults.slow, device, 0.4)
        started = time.perf_counter()
        assert get(sim, device, [SYS_NAME], timeout=2.0) == [device.encode()]
        assert time.perf_counter() - started >= 0.4
        with pytest.raises(SnmpTimeoutError):
            get(sim, device, [SYS_NAME], timeout=0.2, retries=0)


def test_interface_down_stops_its_counters_and_up_resumes_without_a_jump(
    city: ThreadedSimulation, clock: ManualClock
) -> None:
    device = first_of(city, KIND_HOTSPOT)
    oids = [(*IF_OPER_STATUS, 1), (*IF_HC_IN_OCTETS, 1)]
    status, before = get(city, device, oids)
    assert status == 1
    city.call(city.simulation.faults.interface_down, device, 1)
    status, at_down = get(city, device, oids)
    clock.advance(600)
    status_later, still = get(city, device, oids)
    assert (status, status_later) == (2, 2) and still == at_down >= before
    city.call(city.simulation.faults.interface_up, device, 1)
    clock.advance(60)
    status, after = get(city, device, oids)
    assert status == 1
    rate = (after - still) / 60 * 8
    assert 0 < rate < 1e9  # resumed at the old value: no jump across the down period


def test_reboot_restarts_uptime_and_counters(city: ThreadedSimulation, clock: ManualClock) -> None:
    device = first_of(city, KIND_CHARGER_MODEM)
    uptime, octets = get(city, device, [SYS_UPTIME, (*IF_HC_IN_OCTETS, 1)])
    assert uptime > 3 * 86400 * 100
    city.call(city.simulation.faults.reboot, device, 30.0)
    with pytest.raises(SnmpTimeoutError):
        get(city, device, [SYS_UPTIME], timeout=0.2, retries=0)
    clock.advance(90)
    uptime_after, octets_after = get(city, device, [SYS_UPTIME, (*IF_HC_IN_OCTETS, 1)])
    assert 59 * 100 <= uptime_after <= 61 * 100  # up for the 60 s after its 30 s downtime
    assert octets_after < octets and octets_after < 60 * 1.5e5  # restarted from zero


def test_counter_wrap_wraps_the_32_bit_counter_on_time(city: ThreadedSimulation, clock: ManualClock) -> None:
    device = first_of(city, KIND_DISTRIBUTION)
    runtime = city.simulation.runtime.device(device)
    uplink = next(i.spec.index for i in runtime.interfaces if i.spec.optical and i.spec.peak_in_bps > 0)
    oids = [(*IF_IN_OCTETS, uplink), (*IF_HC_IN_OCTETS, uplink)]
    city.call(city.simulation.faults.counter_wrap, device, 20.0, uplink)
    low32, hc = get(city, device, oids)
    assert type(low32) is Counter32 and low32 == hc & MASK32
    assert low32 > 2**32 - 2e9 / 8 * 21  # within 20 s of its wrap at this link's rate
    clock.advance(40)
    low32_after, hc_after = get(city, device, oids)
    assert low32_after < low32  # it wrapped ...
    assert low32_after == hc_after & MASK32 and hc_after > hc  # ... and the 64-bit counter just kept counting


def test_optics_degrade_over_time(city: ThreadedSimulation, clock: ManualClock) -> None:
    device = first_of(city, KIND_CORE)
    runtime = city.simulation.runtime.device(device)
    sensor = next(s for s in runtime.spec.sensors if s.direction == "rx")
    oid = (*SENSOR_ENTRY, 4, sensor.entity_index)
    kind, scale, precision, before = get(
        city,
        device,
        [
            (*SENSOR_ENTRY, 1, sensor.entity_index),
            (*SENSOR_ENTRY, 2, sensor.entity_index),
            (*SENSOR_ENTRY, 3, sensor.entity_index),
            oid,
        ],
    )
    city.call(city.simulation.faults.degrade_optics, device, sensor.if_index, 6.0)
    clock.advance(3600)
    (after,) = get(city, device, [oid])
    city.call(city.simulation.faults.repair_optics, device, sensor.if_index)
    assert kind == 14 and scale == 9  # Cisco: dBm in units
    dbm_before = before * 10 ** (3 * (scale - 9)) / 10**precision
    dbm_after = after * 10 ** (3 * (scale - 9)) / 10**precision
    assert 5.5 < dbm_before - dbm_after < 6.5


# ------------------------------------------------------------------ what operators read


def test_optical_levels_are_plausible_and_mapped_to_ports(city: ThreadedSimulation) -> None:
    for kind in (KIND_CORE, KIND_DISTRIBUTION):
        for device in [d for d in city.simulation.city.devices if d.kind == kind][:2]:
            sensors = walk(city, device.id, SENSOR_ENTRY)
            columns: dict[int, dict[int, Value]] = {}
            for oid, value in sensors:
                columns.setdefault(oid[len(SENSOR_ENTRY)], {})[oid[-1]] = value
            for entity, sensor_type in columns[1].items():
                raw, scale, precision = columns[4][entity], columns[2][entity], columns[3][entity]
                value = raw * 10 ** (3 * (scale - 9)) / 10**precision  # type: ignore[operator]
                dbm = value if sensor_type == 14 else 10 * __import__("math").log10(value * 1000)
                assert -12.0 < dbm < 0.5, (device.id, entity, dbm)
            aliases = dict(walk(city, device.id, ALIAS_MAPPING))
            optical_ifs = {i.index for i in device.interfaces if i.optical}
            assert {target[-1] for target in aliases.values()} == optical_ifs  # type: ignore[index]
            thresholds = walk(city, device.id, CISCO_THRESHOLDS)
            assert bool(thresholds) == device.model.optics_in_dbm


def test_traffic_follows_day_and_night(city: ThreadedSimulation, clock: ManualClock) -> None:
    hotspots = [d.id for d in city.simulation.city.devices if d.kind == KIND_HOTSPOT][:8]

    def total_rate() -> float:
        first = [get(city, h, [(*IF_HC_IN_OCTETS, 1)])[0] for h in hotspots]
        clock.advance(60)
        second = [get(city, h, [(*IF_HC_IN_OCTETS, 1)])[0] for h in hotspots]
        return sum(b - a for a, b in zip(first, second, strict=True)) * 8 / 60

    day = clock.time() // 86400 * 86400 + 86400 - 3600  # next local midnight
    clock.set(day + 4 * 3600)
    night = total_rate()
    clock.set(day + 19.5 * 3600)
    evening = total_rate()
    assert evening > 4 * night > 0
    speeds = [get(city, h, [(*IF_HIGH_SPEED, 1)])[0] for h in hotspots]
    assert evening / len(hotspots) < min(speeds) * 1e6  # type: ignore[operator]


def test_clients_per_radio_on_unifi_oids(city: ThreadedSimulation, clock: ManualClock) -> None:
    hotspots = [d.id for d in city.simulation.city.devices if d.kind == KIND_HOTSPOT][:10]
    radios = [v for _, v in walk(city, hotspots[0], VAP_RADIO)]
    assert radios == [b"ng", b"na"]

    def clients() -> list[int]:
        counts = []
        for h in hotspots:
            values = [v for _, v in walk(city, h, VAP_STATIONS)]
            assert len(values) == 2 and all(type(v) is int and v >= 0 for v in values)
            counts.extend(values)  # type: ignore[arg-type]
        return counts

    day = clock.time() // 86400 * 86400 + 86400 - 3600
    clock.set(day + 4 * 3600)
    night = clients()
    clock.set(day + 19 * 3600)
    evening = clients()
    assert sum(evening) > 3 * sum(night)
    assert sum(evening[1::2]) > sum(evening[0::2])  # more clients on 5 GHz than on 2.4 GHz


# ------------------------------------------------------------------ robustness


def test_garbage_wrong_community_and_unknown_addresses_are_counted_and_dropped(city: ThreadedSimulation) -> None:
    device = first_of(city, KIND_HOTSPOT)
    address = city.endpoint(device).split(":")[0]
    stats = city.simulation.agent.stats
    before = (stats.malformed, stats.bad_community, stats.unknown_destination)
    rng = random.Random(4)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(500):
            sock.sendto(rng.randbytes(rng.randrange(0, 300)), (address, city.port))
        sock.sendto(b"\x30\x00", ("127.20.250.250", city.port))
    with pytest.raises(SnmpTimeoutError):
        get(city, device, [SYS_NAME], community=b"wrong", timeout=0.2, retries=0)
    assert get(city, device, [SYS_NAME]) == [device.encode()]  # still serving
    after = (stats.malformed, stats.bad_community, stats.unknown_destination)
    assert after[0] - before[0] >= 490  # random bytes are almost never a valid message
    assert after[1] > before[1] and after[2] > before[2]


def test_ten_thousand_devices_on_one_socket() -> None:
    with ThreadedSimulation(devices=10_000, seed=1) as sim:
        devices = sim.simulation.city.devices
        sample = [*random.Random(1).sample(devices, 150), devices[-1]]

        async def run() -> list[Value]:
            async with SnmpClient() as client:
                answers = await asyncio.gather(
                    *(client.get(Target(d.address, d.port, version=Version.V2C), [SYS_NAME]) for d in sample)
                )
            return [vb[0][1] for vb in answers]

        assert asyncio.run(run()) == [d.sys_name.encode() for d in sample]


def test_walking_a_scalar_instance_returns_it_like_snmpwalk(city: ThreadedSimulation) -> None:
    device = first_of(city, KIND_HOTSPOT)
    assert walk(city, device, SYS_NAME) == [(SYS_NAME, device.encode())]
    assert walk(city, device, (1, 3, 6, 1, 2, 1, 1, 99)) == []  # nothing there: empty, no error
