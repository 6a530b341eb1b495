"""A month of one charger's life, driven by a manual clock, and `stadtnetz report chargers` on what it left behind.

Real parts: the OCPP endpoint on 127.0.0.1 (collectors/ocpp.py) hears real OCPP-J frames over a
WebSocket, the charger board (stadtnetz/status/chargers.py) judges them, the history (stadtnetz/history/store.py)
records them in SQLite, and the report runs as a subprocess, as an operator would run it. Only
time is simulated: the manual clock is shared by the endpoint, the board and the history, so
October 2026 (31 days and, with the end of summer time, 745 hours) passes in seconds.

The expected figures are computed independently: from the list of outage and maintenance
intervals below, in plain interval arithmetic, never from the store's hourly rows.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client import generate_latest
from websockets.asyncio.client import ClientConnection, connect

from collectors.ocpp import CentralSystem
from collectors.snmp.profiles import load_profiles
from stadtnetz.app.service import Service
from stadtnetz.clock import ManualClock
from stadtnetz.config import load_inventory
from stadtnetz.history import HistoryStore
from stadtnetz.model import Charger, HistorySettings, OcppSettings
from stadtnetz.status.chargers import ChargerBoard

BERLIN = ZoneInfo("Europe/Berlin")
HEARTBEAT = 300.0


def local(day: int, hour: int, minute: int = 0, month: int = 10) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=BERLIN).timestamp()


MONTH_START, MONTH_END = local(1, 0), local(1, 0, month=11)
MAINTENANCE = (local(20, 0), local(20, 6))
# what happens to each connector, as intervals out of service [start, end)
OUTAGES = {
    1: [
        (local(3, 10), local(3, 16)),  # Faulted (GroundFailure)
        (local(10, 8), local(11, 8)),  # the charger silent for a day (from its last message)
        (local(20, 5), local(20, 7)),  # Faulted, starting in the maintenance window and outlasting it by an hour
        (local(28, 12), local(28, 12, 45)),  # the whole charger (connector 0) Faulted
    ],
    2: [
        (local(10, 8), local(11, 8)),
        (local(20, 1), local(20, 5)),  # Unavailable, inside the maintenance window
        (local(28, 12), local(28, 12, 45)),
    ],
}


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def expected(connector: int) -> tuple[float, float]:
    """(availability, counted outage minutes): (minutes - (outage - excluded)) / minutes."""
    minutes = (MONTH_END - MONTH_START) / 60
    outage = sum(end - start for start, end in OUTAGES[connector]) / 60
    excluded = sum(overlap(interval, MAINTENANCE) for interval in OUTAGES[connector]) / 60
    return (minutes - (outage - excluded)) / minutes, outage - excluded


class Charge:
    """A charge point speaking raw OCPP-J (every frame schema-valid), at the manual clock's time."""

    def __init__(self, ws: ClientConnection, clock: ManualClock, board: ChargerBoard) -> None:
        self.ws, self.clock, self.board = ws, clock, board
        self.ids = itertools.count(1)

    async def call(self, action: str, payload: dict) -> dict:
        unique = str(next(self.ids))
        await self.ws.send(json.dumps([2, unique, action, payload]))
        answer = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        assert answer[:2] == [3, unique], answer
        return answer[2]

    async def status(self, connector: int, status: str, error: str = "NoError") -> None:
        await self.call("StatusNotification", {"connectorId": connector, "errorCode": error, "status": status})

    async def at(self, moment: float, *statuses: tuple[int, str, str], heartbeat: bool = True) -> None:
        """Move the clock to ``moment``, send the statuses (and a heartbeat), let the board judge."""
        self.clock.set(moment)
        for connector, status, error in statuses:
            await self.status(connector, status, error)
        if heartbeat:
            await self.call("Heartbeat", {})
        self.board.refresh()


async def live_through_october(history: Path) -> None:
    clock = ManualClock(MONTH_START)
    settings = OcppSettings(listen=("127.0.0.1", 0), heartbeat_interval=HEARTBEAT, offline_after=3)
    central = CentralSystem(["cp-1"], auth="none", heartbeat_interval=HEARTBEAT, offline_after=3, clock=clock)
    host, port = await central.start("127.0.0.1", 0)
    store = HistoryStore(history, clock, HistorySettings(path=history), close_grace=3600)
    board = ChargerBoard(
        [Charger("cp-1", site="Parkhaus Altstadt", district="Altstadt", connectors=2)],
        central,
        settings,
        clock,
        on_change=lambda key, old, new, at, cause: store.record_transition(key, old, new, at, cause),
    )
    try:
        async with connect(f"ws://{host}:{port}/ocpp/cp-1", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            cp = Charge(ws, clock, board)
            boot = await cp.call("BootNotification", {"chargePointVendor": "Musterwerk", "chargePointModel": "AC22"})
            assert boot["status"] == "Accepted" and boot["interval"] == HEARTBEAT
            ok = "NoError"
            await cp.at(MONTH_START, (0, "Available", ok), (1, "Available", ok), (2, "Available", ok))
            await cp.at(local(3, 10), (1, "Faulted", "GroundFailure"))
            await cp.at(local(3, 16), (1, "Available", ok))
            await cp.at(local(10, 8))  # its last message before a day of silence ...
            clock.set(local(10, 8, 10))
            board.refresh()
            assert board.verdicts["cp-1"].status == "online"  # 10 min: not yet 3 x 5 min
            clock.set(local(10, 8, 16))
            board.refresh()
            assert board.verdicts["cp-1"].status == "offline"
            assert {c.open_data.value for c in board.verdicts["cp-1"].connectors} == {"out_of_service"}
            store.flush()
            await cp.at(local(11, 8))  # ... heard again
            assert board.verdicts["cp-1"].status == "online"
            await cp.at(MAINTENANCE[0])
            store.record_maintenance({"cp-1/1", "cp-1/2"}, MAINTENANCE[0])
            await cp.at(local(20, 1), (2, "Unavailable", ok))
            await cp.at(local(20, 5), (2, "Available", ok), (1, "Faulted", "OverCurrentFailure"))
            await cp.at(MAINTENANCE[1])
            store.record_maintenance(set(), MAINTENANCE[1])
            await cp.at(local(20, 7), (1, "Available", ok))
            await cp.at(local(28, 12), (0, "Faulted", "PowerSwitchFailure"))
            assert {c.availability.status.value for c in board.verdicts["cp-1"].connectors} == {"down"}
            await cp.at(local(28, 12, 45), (0, "Available", ok))
            # the rest of the month: a message every few minutes (online throughout)
            moment = local(28, 13)
            while moment < MONTH_END:
                await cp.at(moment)
                moment += 6 * 3600
            await cp.at(MONTH_END)
            store.flush()
    finally:
        await central.close()
        store.close()


def test_a_month_of_faults_silence_and_maintenance_gives_the_nevi_availability(tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    asyncio.run(live_through_october(history))
    config = tmp_path / "stadtnetz.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            history:
              path: history.sqlite
            ocpp:
              listen: 127.0.0.1:0
              heartbeat_interval: 5m
              availability_target: 99%
              auth: none
            chargers:
              - {id: cp-1, site: Parkhaus Altstadt, district: Altstadt, connectors: 2}
            """
        )
    )
    report = tmp_path / "october.csv"
    command = [sys.executable, "-m", "stadtnetz.cli", "report", "chargers", "-c", str(config), "--month", "2026-10"]
    result = subprocess.run(
        [*command, "--csv", str(report)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {int(row["connector"]): row for row in csv.DictReader(report.open(encoding="utf-8"))}
    assert set(rows) == {1, 2}
    for connector, row in rows.items():
        availability, outage_minutes = expected(connector)
        assert abs(float(row["availability_percent"]) - availability * 100) < 1e-6, (connector, row)
        assert abs(float(row["outage_minutes"]) - outage_minutes) < 1e-6, (connector, row)
        assert float(row["maintenance_minutes"]) == 360.0
        assert float(row["observed_minutes"]) == 745 * 60  # October 2026 has 745 hours (summer time ends)
        assert float(row["unobserved_minutes"]) == 0.0
        assert (row["charger"], row["site"], row["district"]) == ("cp-1", "Parkhaus Altstadt", "Altstadt")
    # outages outside maintenance; the one that began inside the window is excluded from the count
    assert (rows[1]["outages"], rows[2]["outages"]) == ("3", "2")
    # connector 1 was out 32 h 45 min, 1 h of it in maintenance: 1 - 1905 / 44700 min = 95.738 %, below the
    # 99 % target; connector 2 28 h 45 min, 4 h in maintenance: 1 - 1485 / 44700 = 96.678 %
    assert rows[1]["meets_target"] == rows[2]["meets_target"] == "no"
    assert abs(float(rows[1]["availability_percent"]) - 95.7383) < 1e-3
    assert abs(float(rows[2]["availability_percent"]) - 96.6779) < 1e-3
    # the table: worst first, marked below the target, the summary line
    table = result.stdout + result.stderr
    assert table.index("95.738 !") < table.index("96.678 !"), table
    assert "2 connectors of 1 chargers; 2 below the target of 99 %" in table
    # the service's metric over its trailing window (30 days before 1 November), from the same history
    service = Service(load_inventory(config), load_profiles(), [], clock=ManualClock(MONTH_END))
    assert service.chargers is not None
    service.chargers.refresh()
    service.charger_availability = service._read_charger_availability()
    text = generate_latest(service.registry).decode()
    window = 30 * 86400 / 60
    for connector, counted in ((1, 1905), (2, 1485)):
        line = f'stadtnetz_charger_connector_availability_ratio{{charger="cp-1",connector="{connector}"}} '
        value = float(next(row for row in text.splitlines() if row.startswith(line)).split()[-1])
        assert abs(value - (window - counted) / window) < 1e-9, (connector, value)
    assert "stadtnetz_charger_availability_target_ratio 0.99" in text


def test_report_chargers_refuses_a_bad_month_and_a_configuration_without_chargers(tmp_path: Path) -> None:
    config = tmp_path / "stadtnetz.yaml"
    config.write_text("history:\n  path: history.sqlite\ndevices:\n  - {id: a, kind: hotspot, address: 127.0.0.1}\n")
    base = [sys.executable, "-m", "stadtnetz.cli", "report", "chargers", "-c", str(config)]
    bad = subprocess.run([*base, "--month", "2026-13"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "expected a month as YYYY-MM" in bad.stderr, bad.stderr
    none = subprocess.run([*base, "--month", "2026-10"], capture_output=True, text=True, timeout=60)
    assert none.returncode == 2 and "no ocpp section with chargers" in none.stdout + none.stderr
