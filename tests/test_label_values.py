"""Label values that would trip text parsing arrive intact in /metrics and in InfluxDB, also after a trap.

A simulated hotspot's uplink gets an ifAlias full of what the text formats
escape (double quotes, a backslash, commas, ``=``, a newline, non-ASCII) and
ending in ``,state=``, so that its Prometheus rendering ends in ``,state="``.
The device is polled over the real wire, a linkDown trap marks the interface
down (the state finds the series by its ``if_index`` label), and then:
``/metrics`` passes ``promtool check metrics`` and reads back with the alias
and ``state="down"``; the line protocol written to a real VictoriaMetrics
reads back with the same alias (its newline a space, as line protocol has no
line breaks in tags) and ``state=down``. While the state kept Prometheus text
and the trap edited it as text, the trap's ``,state="`` search hit the end of
the alias and corrupted both outputs.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import pickle
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collectors.snmp.client import SnmpClient
from collectors.snmp.poller import SnmpPoller
from collectors.snmp.profiles import load_profiles
from collectors.traps import TrapEvent, TrapKind
from exporters.influx import InfluxWriter
from exporters.line_protocol import LineEncoder
from exporters.prometheus import render_state
from simulators.city import KIND_HOTSPOT
from stadtnetz.app.demo import inventory_for_city
from stadtnetz.clock import ManualClock
from stadtnetz.labels import NO_LABELS, Labels
from stadtnetz.status.state import State
from stadtnetz.status.trap_effects import apply_trap
from tests.support.simulation import ThreadedSimulation
from tests.support.victoriametrics import VictoriaMetrics

ALIAS = 'Ring "Nord", Port=3 \\ Süd\n,state='
LINK_DOWN_OID = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)


@pytest.fixture()
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path / "vm")
    try:
        yield server
    finally:
        server.stop()


def polled_state(city: ThreadedSimulation, clock: ManualClock) -> tuple[State, str]:
    """A state holding one poll of a hotspot whose uplink (ifIndex 1) has ``ALIAS`` as its ifAlias."""
    inventory = inventory_for_city(city.simulation.city, b"public", interval=60.0)
    hotspot = next(d for d in inventory.devices if d.kind == KIND_HOTSPOT)
    runtime = city.simulation.runtime.device(hotspot.id)
    uplink = runtime.spec.interfaces[0]
    assert uplink.index == 1

    def rename() -> None:
        interfaces = (dataclasses.replace(uplink, alias=ALIAS), *runtime.spec.interfaces[1:])
        runtime.spec = dataclasses.replace(runtime.spec, interfaces=interfaces)

    city.call(rename)
    state = State([hotspot], clock)
    poller = SnmpPoller(SnmpClient(), load_profiles(), state, inventory, clock)

    async def poll() -> None:
        async with SnmpClient() as client:
            poller.client = client
            await poller.poll(hotspot)

    asyncio.run(poll())
    assert state[hotspot.id].status.value == "ok", state[hotspot.id].error
    return state, hotspot.id


def oper_status(text: str, device: str) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "stadtnetz_interface_oper_status" and sample.labels["device"] == device
    ]


def test_an_awkward_alias_survives_a_trap_in_metrics_and_in_influx(victoria: VictoriaMetrics) -> None:
    clock = ManualClock(float(int(time.time())))  # VictoriaMetrics keeps only the last day
    with ThreadedSimulation(devices=8, seed=3, clock=clock) as city:
        state, device = polled_state(city, clock)
    before = oper_status(render_state(state), device)
    assert [s["alias"] for s in before if s["if_index"] == "1"] == [ALIAS]

    event = TrapEvent(
        device_id=device,
        kind=TrapKind.LINK_DOWN,
        if_index=1,
        oper_status=2,
        uptime_ticks=12_345,
        trap_oid=LINK_DOWN_OID,
        version=1,
        received=clock.time(),
        inform=False,
    )
    apply_trap(state, event)

    text = render_state(state)
    lint = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
    uplink = [s for s in oper_status(text, device) if s["if_index"] == "1"]
    assert [(s["alias"], s["state"]) for s in uplink] == [(ALIAS, "down")]
    assert f'alias="{ALIAS}"' not in text  # rendered escaped, not raw
    assert 'alias="Ring \\"Nord\\", Port=3 \\\\ Süd\\n,state="' in text

    at = clock.time()
    lines, _ = LineEncoder("s").encode(state.exported(), at)
    writer = InfluxWriter(victoria.url, "stadtwerk", "stadtnetz")
    try:
        writer.write("".join(lines).encode(), "s")
    finally:
        writer.close()
    exported = victoria.export('{__name__="interfaces_oper_status"}', start=at - 60, end=at + 60)
    tags = [series.labels for series in exported if series.labels.get("if_index") == "1"]
    assert [(t["device"], t["alias"], t["state"]) for t in tags] == [(device, ALIAS.replace("\n", " "), "down")]
    speeds = victoria.export('{__name__="interfaces_speed_bytes"}', start=at - 60, end=at + 60)
    assert ALIAS.replace("\n", " ") in {series.labels.get("alias") for series in speeds}


def test_equal_labels_are_one_object_and_copies_keep_them_intact() -> None:
    made = Labels((("if_index", "7"), ("alias", ALIAS)))
    again = Labels.of(if_index="7", alias=ALIAS)  # the next poll, or another device with the same series
    assert again is made and again.text == made.text
    assert copy.deepcopy(made) is made and pickle.loads(pickle.dumps(made)) is made
    assert NO_LABELS.text == "" and len(NO_LABELS) == 0  # a copy never rewrites the shared empty labels
    assert made.get("alias") == ALIAS and made.text.startswith(',if_index="7",alias="Ring \\"Nord\\"')
