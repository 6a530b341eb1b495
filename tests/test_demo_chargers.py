"""The simulated city's EV chargers in the demo: 60 OCPP clients on real WebSockets, their faults and the network's.

One demo (``run_demo``: the 650-device city on 127.20.x.y, the service polling
it, the city's charge points dialling the service's OCPP endpoint) for the
module, driven only through what a user has: /metrics and the control API.
Compressed for speed: a charger's activity step every 0.5 s, heartbeats
every second (offline after 3 s), polls every 4 s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from simulators.city import generate_city
from simulators.scenarios import ScenarioError, Scenarios
from tests.support.demo import ThreadedDemo, by_charger, by_labels
from tests.support.processes import wait_until
from tests.support.simulation import ThreadedSimulation

CITY = generate_city()  # the demo's default city, seed 1: what the demo must bring up
POLL_INTERVAL = 4.0


@pytest.fixture(scope="module")
def demo() -> Iterator[ThreadedDemo]:
    with ThreadedDemo(interval=POLL_INTERVAL, ocpp_port=0, heartbeat_interval=1.0, charger_tick=0.5) as running:
        # every test starts from a settled demo, whichever runs first
        wait_until(lambda: len(online(running)) == 60, 20, "60 chargers online")
        yield running


def online(demo: ThreadedDemo) -> dict[str, float]:
    return by_charger(demo.metrics(), "stadtnetz_charger_status", status="online")


def connected(demo: ThreadedDemo) -> dict[str, float]:
    return by_charger(demo.metrics(), "stadtnetz_charger_connected")


def test_the_demo_brings_up_60_chargers_with_connector_statuses_and_growing_energy(demo: ThreadedDemo) -> None:
    assert len(CITY.chargers) == 60
    wait_until(lambda: sum(connected(demo).values()) == 60, 20, "60 chargers connected")
    expected = sorted((spec.id, str(n)) for spec in CITY.chargers for n in range(spec.connectors + 1))

    def statuses() -> list[tuple[str, str]]:
        found = by_labels(demo.metrics(), "stadtnetz_charger_connector_status")
        return sorted((labels["charger"], labels["connector"]) for labels in found)

    # every connector of every charger (0: the charger itself) has its status, once reported after boot
    wait_until(lambda: statuses() == expected, 10, "a status for each of the 166 connectors")
    text = demo.metrics()
    accepted = re.search(r"^stadtnetz_ocpp_connections_total (\S+)$", text, re.MULTILINE)
    assert accepted is not None and float(accepted.group(1)) >= 60  # real WebSocket connections

    def models() -> list[tuple[str, str, str]]:
        found = by_labels(demo.metrics(), "stadtnetz_charger_info")
        return sorted((labels["charger"], labels["device"], labels["model"]) for labels in found)

    # behind its modem, as the city has it, and what it said at boot
    wanted = sorted((spec.id, spec.device, spec.model) for spec in CITY.chargers)
    wait_until(lambda: models() == wanted, 5, "each charger's modem and model")
    assert {model for _, _, model in wanted} == {"AC-22 Sim", "DC-50 Sim", "DC-150 Sim"}

    def energy() -> dict[str, float]:
        return by_charger(demo.metrics(), "stadtnetz_charger_energy_joules_total")

    # each charger reports its meters after booting: its energy counter starts from their reading
    wait_until(lambda: len(found := energy()) == 60 and all(found.values()), 5, "every charger's meter reading")
    first = energy()

    def charging_chargers() -> int:
        return sum(1 for cp_id, value in energy().items() if value > first[cp_id])

    wait_until(lambda: charging_chargers() >= 10, 10, "energy growing on at least 10 chargers")
    text = demo.metrics()
    states = re.findall(r'^stadtnetz_charger_connector_state\{[^}]*state="(\w+)"\} 1', text, re.M)
    occupied = states.count("occupied") / len(states)
    assert len(states) == 106 and 0.15 <= occupied <= 0.5, f"{occupied:.0%} of connectors occupied"
    started = by_charger(text, "stadtnetz_charger_sessions_total", event="started")
    assert sum(started.values()) >= 20


def test_a_fibre_cut_drops_the_chargers_behind_the_switch_and_repair_brings_them_back(demo: ThreadedDemo) -> None:
    switch = CITY.by_id()["charger-060"].upstream
    assert switch is not None
    behind = {spec.id for spec in CITY.chargers if switch in CITY.path_to_core(spec.device)}
    others = {spec.id for spec in CITY.chargers} - behind
    assert behind and others
    wait_until(lambda: sum(connected(demo).values()) == 60, 20, "60 chargers connected")
    status, said = demo.scenario(f"fibre-cut {switch}")
    assert status == 200 and f"{len(behind)} chargers cut off" in said
    try:
        wait_until(lambda: {c for c, v in connected(demo).items() if v == 0} == behind, 5, "the chargers behind off")
        still = connected(demo)
        assert all(still[cp_id] == 1 for cp_id in others)

        def unreachable() -> dict[str, float]:
            return by_charger(demo.metrics(), "stadtnetz_charger_status", status="unreachable", root_cause=switch)

        # silent for 3 heartbeats, their modems unreachable behind the switch: unreachable, root cause the switch
        wait_until(lambda: set(unreachable()) == behind, 3 * POLL_INTERVAL + 10, "chargers unreachable via the cut")
    finally:
        status, said = demo.scenario(f"repair {switch}")
    assert status == 200 and f"{len(behind)} chargers reconnecting" in said
    wait_until(lambda: sum(connected(demo).values()) == 60, 10, "every charger connected again")
    wait_until(lambda: set(online(demo)) >= behind, 5, "the chargers behind the switch online again")


def test_a_modem_reboot_drops_its_charger_which_reconnects_without_booting(demo: ThreadedDemo) -> None:
    boots = by_charger(demo.metrics(), "stadtnetz_charger_boots_total")["cp-012"]
    status, said = demo.scenario("reboot charger-012")
    assert status == 200 and said == "charger-012 rebooting; 1 charger disconnected"
    wait_until(lambda: connected(demo)["cp-012"] == 0, 10, "cp-012 cut off by its modem's reboot")
    wait_until(lambda: connected(demo)["cp-012"] == 1, 10, "cp-012 connected again")
    # the charger itself did not restart: no BootNotification, its connectors as they were
    text = demo.metrics()
    assert by_charger(text, "stadtnetz_charger_boots_total")["cp-012"] == boots
    assert len(by_charger(text, "stadtnetz_charger_connector_state", connector="1")) == 60


def test_charger_fault_shows_faulted_with_its_error_code_and_clear_ends_it(demo: ThreadedDemo) -> None:
    status, said = demo.scenario("charger-fault cp-007 connector=1 error=GroundFailure vendor=E-17")
    assert (status, said) == (200, "cp-007 connector 1 Faulted: GroundFailure (vendor E-17)")

    def connector_1() -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        text = demo.metrics()
        return (
            by_charger(text, "stadtnetz_charger_connector_status", connector="1", status="Faulted"),
            by_charger(
                text,
                "stadtnetz_charger_connector_error",
                connector="1",
                error_code="GroundFailure",
                vendor_error_code="E-17",
            ),
            by_charger(text, "stadtnetz_charger_connector_state", connector="1", state="out_of_service"),
        )

    wait_until(lambda: all("cp-007" in found for found in connector_1()), 5, "cp-007/1 Faulted, GroundFailure")
    assert online(demo)["cp-007"] == 1
    assert demo.scenario("charger-clear cp-007 connector=1") == (200, "cp-007 connector 1 Available again")
    wait_until(lambda: not any("cp-007" in found for found in connector_1()), 5, "cp-007/1 no longer faulted")
    errors = by_charger(demo.metrics(), "stadtnetz_charger_connector_error", connector="1", error_code="NoError")
    assert "cp-007" in errors


def test_charger_offline_and_online_while_the_modem_answers(demo: ThreadedDemo) -> None:
    status, said = demo.scenario("charger-offline cp-008")
    assert status == 200 and said == "cp-008 silent, its connection open (modem charger-008 still answers)"
    assert demo.scenario("charger-offline cp-009 connection=closed")[0] == 200

    def both(status: str) -> bool:
        found = {f["charger"]: f["status"] for f in by_labels(demo.metrics(), "stadtnetz_charger_status")}
        return found["cp-008"] == found["cp-009"] == status

    # no message for 3 heartbeats: offline, its own fault (its modem answers): not unreachable
    wait_until(lambda: both("offline"), 8, "both offline")
    root = by_charger(demo.metrics(), "stadtnetz_charger_status", status="offline", root_cause="cp-008")
    assert root == {"cp-008": 1.0}
    now = connected(demo)
    assert now["cp-008"] == 1 and now["cp-009"] == 0  # a hung charger keeps its socket
    assert demo.scenario("charger-online cp-008") == (200, "cp-008 talking again")
    assert demo.scenario("charger-online cp-009") == (200, "cp-009 talking again")
    wait_until(lambda: both("online"), 8, "both online again")
    assert connected(demo)["cp-009"] == 1


def test_charger_reboot_boots_again(demo: ThreadedDemo) -> None:
    boots = by_charger(demo.metrics(), "stadtnetz_charger_boots_total")["cp-010"]
    assert demo.scenario("charger-reboot cp-010") == (200, "cp-010 rebooting")
    wait_until(
        lambda: by_charger(demo.metrics(), "stadtnetz_charger_boots_total")["cp-010"] == boots + 1, 10, "a new boot"
    )


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("charger-fault", "charger-fault needs a charger"),
        (
            "charger-fault cp-999 connector=1 error=GroundFailure",
            "no simulated charger 'cp-999' (the city has cp-001 .. cp-060)",
        ),
        ("charger-fault charger-007 connector=1 error=GroundFailure", "no simulated charger 'charger-007'"),
        ("charger-fault cp-007 error=GroundFailure", "connector=N is required"),
        ("charger-fault cp-007 connector=3 error=GroundFailure", "no connector '3' (it has 1..2)"),
        ("charger-fault cp-007 connector=1", "error=CODE is required"),
        ("charger-fault cp-007 connector=1 error=Melted", "unknown OCPP 1.6 error code 'Melted' (one of: Connector"),
        ("charger-fault cp-007 connector=1 error=GroundFailure vendor=" + "x" * 51, "at most 50 characters"),
        ("charger-fault cp-007 connector=1 error=GroundFailure colour=red", "unknown option(s) colour"),
        ("charger-clear cp-007 connector", "expected key=value, got 'connector'"),
        ("charger-offline cp-007 connection=half", "connection= is open or closed, not 'half'"),
        ("charger-reboot cp-007 now=yes", "unknown option(s) now (allowed: none)"),
    ],
)
def test_bad_charger_commands_say_what_is_allowed(demo: ThreadedDemo, command: str, message: str) -> None:
    status, said = demo.scenario(command)
    assert status == 400 and message in said


def test_charger_commands_without_chargers_say_how_to_start_them() -> None:
    with ThreadedSimulation(devices=20, seed=3) as sim:
        scenarios = sim.call(lambda: Scenarios(sim.simulation.faults))
        with pytest.raises(
            ScenarioError, match=re.escape("no simulated chargers run here (`stadtnetz simulate --ocpp")
        ):
            sim.call(scenarios.run, "charger-reboot cp-001")


def test_the_demo_asks_chargers_for_a_password(demo: ThreadedDemo) -> None:
    """The demo takes the secure path: its 60 chargers got in with this run's password, an id alone does not."""
    import asyncio

    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    assert demo.service.inventory.ocpp is not None and demo.service.inventory.ocpp.auth == "basic"

    async def without_credentials() -> int:
        try:
            async with connect(demo.service.ocpp_url + "/cp-001", subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    assert asyncio.run(without_credentials()) == 401
    assert 'stadtnetz_ocpp_connections_refused_total{reason="missing_credentials"} 1.0' in demo.metrics()
