"""The OCPP 1.6J endpoint (collectors/ocpp.py) with simulated chargers (simulators/chargers.py).

Real WebSocket traffic on 127.0.0.1, no mocks: simulated chargers are OCPP
clients of the ``ocpp`` package; what a charger may not do is sent raw over a
plain ``websockets`` client. The heartbeat interval is 1 s so that offline
detection (3 x heartbeat without a message) takes seconds.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from collectors.ocpp import CentralSystem, ErrorReason, OcppCollector, RefusedReason
from simulators.chargers import ChargerBehaviour, SimulatedCharger
from stadtnetz.secrets import Secret

HOST = "127.0.0.1"
BUSY = ChargerBehaviour(connectors=2, tick=0.1, start_probability=0.5, stop_probability=0.15, power_w=36_000.0)
PASSWORD = "s3cr3t-Passw0rd-for-cp-7"
TS = "2026-11-22T08:00:00Z"
STATUS_FRAME = '[2, "s0", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}]'


@asynccontextmanager
async def endpoint(ids: list[str], **options: object) -> AsyncIterator[tuple[CentralSystem, str]]:
    """An endpoint for ``ids``; open (auth none) unless the options say otherwise: most tests are not about auth."""
    options.setdefault("auth", "none")
    central = CentralSystem(ids, heartbeat_interval=1, **options)  # type: ignore[arg-type]
    host, port = await central.start(HOST, 0)
    try:
        yield central, f"ws://{host}:{port}/ocpp"
    finally:
        await central.close()


@asynccontextmanager
async def chargers(base: str, *specs: tuple[str, dict]) -> AsyncIterator[list[SimulatedCharger]]:
    sims = [SimulatedCharger(cp_id, base, seed=7, **options) for cp_id, options in specs]
    for sim in sims:
        sim.start()
    try:
        yield sims
    finally:
        for sim in sims:
            await sim.stop()


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.05)


def metrics(central: CentralSystem) -> str:
    registry = CollectorRegistry()
    registry.register(OcppCollector(central))
    return generate_latest(registry).decode()


def check_promtool(text: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: scripts/install-test-deps.sh installs it (Debian: prometheus)"
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


async def raw_call(ws: object, frame: str) -> list:
    await ws.send(frame)  # type: ignore[attr-defined]
    return json.loads(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[attr-defined]


def test_chargers_report_connectors_energy_and_sessions(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> tuple[str, list[str]]:
        async with (
            endpoint(["cp-001", "cp-002"]) as (central, base),
            chargers(base, ("cp-001", {"behaviour": BUSY}), ("cp-002", {"behaviour": BUSY})) as sims,
        ):
            for sim in sims:
                await sim.wait_booted()
                assert sim.heartbeat_interval == 1.0  # as the central system answered
            await eventually(lambda: all(c.energy_wh > 0 for c in central.snapshot().values()), "energy")
            first = central.snapshot()["cp-001"].energy_wh
            await eventually(lambda: central.snapshot()["cp-001"].energy_wh > first, "energy growing")
            await eventually(
                lambda: all(s.stats.sessions_stopped >= 1 for s in sims), "a session started and stopped on each"
            )
            for sim in sims:
                await sim.go_silent()  # freeze the counts to compare them
            await asyncio.sleep(0.3)
            snapshot = central.snapshot()
            for sim in sims:
                charger = snapshot[sim.id]
                assert charger.connected and charger.online and charger.boots == 1
                assert charger.vendor == "Musterwerk"
                assert [c.connector for c in charger.connectors] == [0, 1, 2]
                assert charger.sessions_started == sim.stats.sessions_started >= 1
                assert charger.sessions_stopped == sim.stats.sessions_stopped >= 1
                registers = sum(int(c.register_wh * 10) / 10 for c in sim.connectors.values())
                assert charger.energy_wh == pytest.approx(registers, abs=2.0)
                assert charger.meter_resets == 0
            text = metrics(central)
            tags = [tag for sim in sims for tag in sim.stats.id_tags]
            assert central.stats.messages["StartTransaction"] == sum(s.stats.sessions_started for s in sims)
            return text, tags

    text, tags = asyncio.run(scenario())
    assert 'stadtnetz_charger_connected{charger="cp-001"} 1.0' in text
    assert 'stadtnetz_charger_online{charger="cp-002"} 1.0' in text
    assert 'stadtnetz_charger_connector_status{charger="cp-001",connector="0",status="Available"} 1.0' in text
    assert 'stadtnetz_charger_sessions_total{charger="cp-001",event="started"}' in text
    assert "stadtnetz_charger_energy_joules_total" in text
    check_promtool(text)
    # personal data: no idTag in the metrics or anywhere in the log
    assert tags
    for tag in tags:
        assert tag not in text
        assert tag not in caplog.text


def test_unknown_id_and_missing_subprotocol_are_refused_and_counted() -> None:
    async def scenario() -> None:
        async with endpoint(["cp-001"]) as (central, base):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"{base}/cp-999", subprotocols=["ocpp1.6"]):
                    pass
            assert refused.value.response.status_code == 404
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"{base}/", subprotocols=["ocpp1.6"]):
                    pass
            assert refused.value.response.status_code == 404
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"{base}/cp-001"):  # no ocpp1.6 offered
                    pass
            assert refused.value.response.status_code == 400
            assert central.stats.refused[RefusedReason.UNKNOWN_CHARGER] == 2
            assert central.stats.refused[RefusedReason.NO_SUBPROTOCOL] == 1
            assert not central.snapshot()["cp-001"].connected
            text = metrics(central)
            assert 'stadtnetz_ocpp_connections_refused_total{reason="unknown_charger"} 2.0' in text
            assert "cp-999" not in text  # refused ids do not become series

    asyncio.run(scenario())


def test_basic_auth_per_charger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with (
            endpoint(["cp-007", "cp-008"], passwords={"cp-007": Secret(PASSWORD)}) as (central, base),
            chargers(base, ("cp-007", {"password": PASSWORD}), ("cp-008", {})) as (good, open_one),
        ):
            await good.wait_booted()
            await open_one.wait_booted()  # no password configured for it: none asked
            with pytest.raises(InvalidStatus) as refused:
                token = base64.b64encode(b"cp-007:wrong-password").decode()
                async with connect(
                    f"{base}/cp-007", subprotocols=["ocpp1.6"], additional_headers={"Authorization": f"Basic {token}"}
                ):
                    pass
            assert refused.value.response.status_code == 401
            with pytest.raises(InvalidStatus) as refused:
                token = base64.b64encode(f"cp-008:{PASSWORD}".encode()).decode()  # another charger's name
                async with connect(
                    f"{base}/cp-007", subprotocols=["ocpp1.6"], additional_headers={"Authorization": f"Basic {token}"}
                ):
                    pass
            assert refused.value.response.status_code == 401
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"{base}/cp-007", subprotocols=["ocpp1.6"]):
                    pass
            assert refused.value.response.status_code == 401
            assert central.stats.refused[RefusedReason.BAD_CREDENTIALS] == 2
            assert central.stats.refused[RefusedReason.MISSING_CREDENTIALS] == 1
            # a simulated charger with the wrong password never gets in
            async with chargers(base, ("cp-007", {"password": "nope"})) as (bad,):
                await eventually(lambda: bad.stats.connect_failures >= 1, "refused simulated charger")
                assert not bad.booted.is_set()
            assert central.snapshot()["cp-007"].boots == 1
            assert 'reason="bad_credentials"} 3.0' in metrics(central)

    asyncio.run(scenario())
    assert PASSWORD not in caplog.text
    assert "wrong-password" not in caplog.text


def test_charger_ids_are_closed_by_default() -> None:
    """Without auth="none" every charger needs a password: none may connect on its id alone."""
    with pytest.raises(ValueError, match=r"auth is basic: no password for charge point\(s\) cp-002, cp-003"):
        CentralSystem(["cp-001", "cp-002", "cp-003"], passwords={"cp-001": Secret(PASSWORD)})

    async def scenario() -> None:
        central = CentralSystem(["cp-001"], passwords={"cp-001": Secret(PASSWORD)}, heartbeat_interval=1)
        host, port = await central.start(HOST, 0)
        try:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://{host}:{port}/ocpp/cp-001", subprotocols=["ocpp1.6"]):
                    pass
            assert refused.value.response.status_code == 401
            assert central.stats.refused[RefusedReason.MISSING_CREDENTIALS] == 1
            assert not central.snapshot()["cp-001"].connected
        finally:
            await central.close()

    asyncio.run(scenario())


def test_bad_messages_get_callerror_and_the_endpoint_keeps_serving(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    personal = "CARD-0123456789-ABCDEFG"  # too long for an idTag (20): a schema violation that quotes it

    async def scenario() -> None:
        async with (
            endpoint(["cp-001", "cp-002"]) as (central, base),
            chargers(base, ("cp-002", {"behaviour": BUSY})) as (other,),
        ):
            await other.wait_booted()
            async with connect(f"{base}/cp-001", subprotocols=["ocpp1.6"]) as ws:
                await raw_call(ws, STATUS_FRAME)  # its statuses known: the endpoint asks for nothing
                answer = await raw_call(ws, '[2, "u1", "BootNotification", {"chargePointVendor": 7}]')
                assert answer[:3] == [4, "u1", "TypeConstraintViolation"]
                answer = await raw_call(ws, '[2, "u2", "BootNotification", {"chargePointVendor": "x"}]')
                assert answer[:3] == [4, "u2", "ProtocolError"]  # chargePointModel is required
                start = {"connectorId": 1, "idTag": personal, "meterStart": 0, "timestamp": "2026-11-22T08:00:00Z"}
                answer = await raw_call(ws, json.dumps([2, "u3", "StartTransaction", start]))
                assert answer[:3] == [4, "u3", "TypeConstraintViolation"]
                assert personal not in json.dumps(answer)
                answer = await raw_call(ws, "{this is not json")
                assert answer[0] == 4 and answer[2] == "FormatViolation"
                answer = await raw_call(ws, '{"not": "a list"}')
                assert answer[0] == 4 and answer[2] == "ProtocolError"
                # OCPP-J 1.6: an action that is recognised but not taken is NotSupported (Reset is the central
                # system's to send), one that is not known at all NotImplemented
                answer = await raw_call(ws, '[2, "u4", "Reset", {"type": "Soft"}]')
                assert answer[:3] == [4, "u4", "NotSupported"]
                answer = await raw_call(ws, '[2, "u4b", "FooBar", {}]')
                assert answer[:3] == [4, "u4b", "NotImplemented"]
                answer = await raw_call(
                    ws,
                    '[2, "u5", "StatusNotification", '
                    '{"connectorId": 999, "errorCode": "NoError", "status": "Available"}]',
                )
                assert answer[:3] == [4, "u5", "PropertyConstraintViolation"]
                # the same connection still works
                answer = await raw_call(ws, '[2, "u6", "Heartbeat", {}]')
                assert answer[:2] == [3, "u6"] and "currentTime" in answer[2]
                start["idTag"] = "SHORT-TAG-1"
                answer = await raw_call(ws, json.dumps([2, "u7", "StartTransaction", start]))
                assert answer[0] == 3 and answer[2]["idTagInfo"] == {"status": "Accepted"}
            errors = central.stats.errors
            assert errors[ErrorReason.SCHEMA] == 3
            assert errors[ErrorReason.INVALID_JSON] == 1
            assert errors[ErrorReason.PROTOCOL] == 1
            assert errors[ErrorReason.NOT_IMPLEMENTED] == 2
            assert errors[ErrorReason.BAD_VALUE] == 1
            assert central.snapshot()["cp-001"].sessions_started == 1
            # and the other charger was served all along
            before = central.stats.messages["Heartbeat"]
            await eventually(lambda: central.stats.messages["Heartbeat"] > before, "another heartbeat")
            assert central.snapshot()["cp-002"].online
            text = metrics(central)
            assert 'stadtnetz_ocpp_errors_total{reason="schema"} 3.0' in text
            assert personal not in text and "SHORT-TAG-1" not in text

    asyncio.run(scenario())
    assert personal not in caplog.text and "SHORT-TAG-1" not in caplog.text


def test_energy_register_reset_keeps_the_total_growing() -> None:
    def meter(unique_id: str, wh: str, unit: str = "Wh") -> str:
        sample = {"value": wh, "measurand": "Energy.Active.Import.Register", "unit": unit}
        payload = {"connectorId": 1, "meterValue": [{"timestamp": "2026-11-22T08:00:00Z", "sampledValue": [sample]}]}
        return json.dumps([2, unique_id, "MeterValues", payload])

    async def scenario() -> None:
        async with endpoint(["cp-001"]) as (central, base), connect(f"{base}/cp-001", subprotocols=["ocpp1.6"]) as ws:
            await raw_call(ws, STATUS_FRAME)
            for unique_id, value, unit in (("a", "1000", "Wh"), ("b", "1.5", "kWh"), ("c", "200", "Wh")):
                assert (await raw_call(ws, meter(unique_id, value, unit)))[0] == 3
            charger = central.snapshot()["cp-001"]
            assert charger.energy_wh == 1700.0  # 1500 before the reset, 200 since
            assert charger.meter_resets == 1
            assert (await raw_call(ws, meter("d", "-5")))[2] == "PropertyConstraintViolation"
            assert 'stadtnetz_charger_energy_joules_total{charger="cp-001"} 6.12e+06' in metrics(central)

    asyncio.run(scenario())


def test_silent_charger_goes_offline_after_three_heartbeats() -> None:
    async def scenario() -> None:
        async with (
            endpoint(["cp-001", "cp-002", "cp-003"]) as (central, base),
            chargers(base, ("cp-001", {}), ("cp-002", {}), ("cp-003", {})) as (quiet, talking, dropped),
        ):
            for sim in (quiet, talking, dropped):
                await sim.wait_booted()
            await quiet.go_silent()  # keeps the socket open
            await dropped.go_silent(drop_connection=True)
            silent_since = time.monotonic()
            await eventually(lambda: not central.snapshot()["cp-003"].connected, "dropped socket seen", 2)
            assert central.snapshot()["cp-003"].online  # a closed socket alone does not make it offline
            await eventually(lambda: not central.snapshot()["cp-001"].online, "silent charger offline", 5)
            assert time.monotonic() - silent_since > 2.5  # k x heartbeat = 3 s after its last message
            snapshot = central.snapshot()
            assert snapshot["cp-001"].connected  # still connected, yet offline
            assert not snapshot["cp-003"].online
            assert snapshot["cp-002"].online  # heartbeats kept it online
            text = metrics(central)
            assert 'stadtnetz_charger_online{charger="cp-001"} 0.0' in text
            assert 'stadtnetz_charger_connected{charger="cp-001"} 1.0' in text
            assert 'stadtnetz_charger_online{charger="cp-002"} 1.0' in text
            await quiet.resume()
            await dropped.resume()
            await eventually(lambda: central.snapshot()["cp-001"].online, "resumed charger online", 3)
            await eventually(lambda: central.snapshot()["cp-003"].online, "dropped charger back", 5)
            assert central.snapshot()["cp-003"].boots == 1  # it reconnected; it did not restart
            assert central.snapshot()["cp-003"].online

    asyncio.run(scenario())


def test_faulted_connector_and_reboot() -> None:
    async def scenario() -> None:
        async with endpoint(["cp-001"]) as (central, base), chargers(base, ("cp-001", {})) as (sim,):
            await sim.wait_booted()
            await sim.fault(2, "GroundFailure", vendor_error_code="E-GF-17")
            connector = central.snapshot()["cp-001"].connector(2)
            assert connector is not None
            assert (connector.status, connector.error_code, connector.vendor_error_code) == (
                "Faulted",
                "GroundFailure",
                "E-GF-17",
            )
            text = metrics(central)
            assert 'stadtnetz_charger_connector_status{charger="cp-001",connector="2",status="Faulted"} 1.0' in text
            assert (
                'stadtnetz_charger_connector_error{charger="cp-001",connector="2",error_code="GroundFailure",'
                'vendor_error_code="E-GF-17"} 1.0' in text
            )
            assert text.count('stadtnetz_charger_connector_status{charger="cp-001",connector="2"') == 1  # enum style
            check_promtool(text)
            await sim.reboot()
            await eventually(lambda: central.snapshot()["cp-001"].boots == 2, "second boot")
            await eventually(
                lambda: central.snapshot()["cp-001"].connector(2).status == "Available",  # type: ignore[union-attr]
                "connector available after the reboot",
            )
            assert central.snapshot()["cp-001"].connector(2).error_code == "NoError"  # type: ignore[union-attr]
            assert central.snapshot()["cp-001"].connected

    asyncio.run(scenario())


def malformed_frames(count: int, seed: int = 7) -> list[str | bytes]:
    """``count`` broken frames of every kind, seeded: none of them is a valid OCPP 1.6 CALL."""
    rng = random.Random(seed)
    valid = '[2, "v", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}]'
    makers: list[Callable[[int], str | bytes]] = [
        lambda i: "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(1, 80))),  # not JSON
        lambda i: valid[: rng.randrange(1, len(valid) - 1)],  # cut short
        lambda i: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))),  # binary junk
        lambda i: json.dumps(rng.choice([{"a": i}, i, "text", None, [], [2], [9, f"m{i}", "Heartbeat", {}]])),
        lambda i: json.dumps([2, i, "Heartbeat", {}]),  # unique id not a string
        lambda i: json.dumps([2, f"m{i}", rng.choice(["FooBar", "Reset", "", "heartbeat"]), {}]),  # unknown action
        lambda i: json.dumps([2, f"m{i}", "StatusNotification", {"connectorId": "one", "status": "Broken"}]),
        lambda i: json.dumps(
            [2, f"m{i}", "BootNotification", {"chargePointVendor": "V" * 21, "chargePointModel": "M"}]
        ),
        lambda i: json.dumps([2, f"m{i}", "MeterValues", {"connectorId": 1, "meterValue": "lots"}]),
        lambda i: json.dumps(
            [
                2,
                f"m{i}",
                "StatusNotification",
                {"connectorId": 10_000 + i, "errorCode": "NoError", "status": "Available"},
            ]
        ),  # schema-valid, connector out of range
        lambda i: json.dumps(rng.choice([[3, f"m{i}", {}], [4, f"m{i}", "GenericError", "", {}]])),  # unsolicited
        lambda i: "[" * 3000 + "]" * 3000,  # nesting deeper than a parser likes
        lambda i: json.dumps([2, f"m{i}", "Heartbeat", {"unexpected": True}]),  # additional property
        lambda i: f'[2, "m{i}", "Heartbeat", {{"n": {"9" * 4301}}}]',  # an integer Python will not read
        lambda i: json.dumps(
            [2, f"m{i}", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 10**400, "timestamp": TS}]
        ),  # schema-valid, a meter beyond any float
        lambda i: json.dumps(
            [2, f"m{i}", "StopTransaction", {"transactionId": i, "meterStop": -(10**400), "timestamp": TS}]
        ),  # schema-valid, a meter beyond any float and negative
        lambda i: json.dumps(
            [2, f"m{i}", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": -i - 1, "timestamp": TS}]
        ),  # schema-valid, a negative meter
    ]
    return [makers[i % len(makers)](i) for i in range(count)]


# the OCPP-J 1.6 CALLERROR codes that blame the sender (InternalError and GenericError blame nobody)
CHARGER_FAULTS = frozenset(
    {
        "FormatViolation",
        "ProtocolError",
        "TypeConstraintViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "NotImplemented",
        "NotSupported",
    }
)


def test_a_thousand_malformed_frames_are_answered_or_dropped_while_the_others_are_served() -> None:
    frames = malformed_frames(1000)

    async def scenario() -> None:
        async with (
            endpoint(["cp-001", "cp-002"]) as (central, base),
            chargers(base, ("cp-002", {"behaviour": BUSY})) as (other,),
        ):
            await other.wait_booted()
            answered = dropped = 0
            async with connect(f"{base}/cp-001", subprotocols=["ocpp1.6"]) as ws:
                await raw_call(ws, STATUS_FRAME)  # its statuses known: the endpoint asks for nothing
                for number, frame in enumerate(frames):
                    await ws.send(frame)
                    # a valid Heartbeat after each: whatever comes before its answer answers the frame
                    await ws.send(json.dumps([2, f"probe-{number}", "Heartbeat", {}]))
                    replies = []
                    while True:
                        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        if reply[1] == f"probe-{number}":
                            assert reply[0] == 3, reply
                            break
                        replies.append(reply)
                    assert len(replies) <= 1 and all(r[0] == 4 for r in replies), (frame, replies)
                    # a malformed frame is the charger's fault, never the endpoint's: no InternalError, ever
                    assert all(r[2] in CHARGER_FAULTS for r in replies), (str(frame)[:200], replies)
                    answered += len(replies)
                    dropped += not replies
            assert answered + dropped == 1000
            assert answered > 800  # only the unsolicited CALLRESULTs and CALLERRORs go unanswered
            assert sum(central.stats.errors.values()) == 1000  # every one counted once, by its reason
            assert central.stats.errors[ErrorReason.HANDLER] == 0
            assert central.stats.messages["Heartbeat"] >= 1000
            assert central.snapshot()["cp-002"].online and other.stats.connections == 1

    asyncio.run(scenario())


def test_a_charger_that_reconnects_without_booting_is_asked_for_its_statuses_once() -> None:
    async def scenario() -> None:
        async with endpoint(["cp-001"]) as (central, base):
            async with connect(f"{base}/cp-001", subprotocols=["ocpp1.6"]) as ws:
                # no BootNotification (the endpoint restarted, the charger did not): a heartbeat ...
                answer = await raw_call(ws, '[2, "h1", "Heartbeat", {}]')
                assert answer[:2] == [3, "h1"]
                # ... and the endpoint's one CALL: TriggerMessage(StatusNotification)
                request = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert request[0] == 2 and request[2:] == ["TriggerMessage", {"requestedMessage": "StatusNotification"}]
                await ws.send(json.dumps([3, request[1], {"status": "Accepted"}]))
                for connector, status in ((0, "Available"), (1, "Charging")):
                    payload = {"connectorId": connector, "errorCode": "NoError", "status": status}
                    answer = await raw_call(ws, json.dumps([2, f"s{connector}", "StatusNotification", payload]))
                    assert answer[:2] == [3, f"s{connector}"]
                # asked once per connection, answers are not counted as errors
                answer = await raw_call(ws, '[2, "h2", "Heartbeat", {}]')
                assert answer[:2] == [3, "h2"]
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.3)
            snapshot = central.snapshot()["cp-001"]
            assert snapshot.connector(1) is not None and snapshot.connector(1).status == "Charging"
            assert central.stats.status_requests == 1
            assert sum(central.stats.errors.values()) == 0

    asyncio.run(scenario())


def test_after_a_restart_of_the_endpoint_a_simulated_charger_reconnects_and_is_asked_for_its_statuses() -> None:
    async def scenario() -> None:
        first = CentralSystem(["cp-001"], heartbeat_interval=1, auth="none")
        host, port = await first.start(HOST, 0)
        base = f"ws://{host}:{port}/ocpp"
        async with chargers(base, ("cp-001", {"behaviour": BUSY})) as (sim,):
            await sim.wait_booted()
            await eventually(lambda: first.snapshot()["cp-001"].connector(2) is not None, "statuses heard")
            await first.close()  # the service restarts; the charger does not
            second = CentralSystem(["cp-001"], heartbeat_interval=1, auth="none")
            await second.start(HOST, port)
            try:
                await eventually(lambda: second.snapshot()["cp-001"].connector(2) is not None, "statuses again", 8)
                snapshot = second.snapshot()["cp-001"]
                assert snapshot.boots == 0 and snapshot.online  # no BootNotification: it only reconnected
                assert second.stats.status_requests == 1
                assert sum(second.stats.errors.values()) == 0
            finally:
                await second.close()

    asyncio.run(scenario())
