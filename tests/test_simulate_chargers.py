"""``stadtnetz simulate --ocpp URL``: the city's chargers dial a real OCPP central system on 127.0.0.1.

The central system is :class:`collectors.ocpp.CentralSystem` in this process;
the simulator is a child process, on loopback and in a network namespace of
its own (root), from where its chargers still reach the host's loopback.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.ocpp import CentralSystem
from simulators.city import generate_city
from stadtnetz.secrets import Secret
from tests.support.processes import Daemon
from tests.support.simulation import REPO

PASSWORD = "sim-Shared-Passw0rd-42"


def simulate_with_chargers(directory: Path, url: str, *extra: str) -> Daemon:
    command = [sys.executable, "-m", "stadtnetz.cli", "simulate", "--devices", "100", "--port", "0"]
    return Daemon(
        [*command, "--control", "off", "--ocpp", url, "--ocpp-password", "${SIM_OCPP_PASSWORD}", *extra],
        directory / "simulate.log",
        cwd=REPO,
        env={"PYTHONUNBUFFERED": "1", "SIM_OCPP_PASSWORD": PASSWORD},
    )


@pytest.mark.parametrize("netns", [False, True], ids=["loopback", "netns"])
def test_simulate_runs_the_city_chargers_against_a_central_system(tmp_path: Path, netns: bool) -> None:
    """With --netns the simulator's thread lives in its namespace; its chargers still dial the host's loopback.

    The central system asks every charger for the shared password (auth basic): --ocpp-password gives it them.
    """
    city = generate_city(100)
    ids = [spec.id for spec in city.chargers]
    assert len(ids) == 9

    async def scenario() -> tuple[int, str]:
        central = CentralSystem(ids, passwords=dict.fromkeys(ids, Secret(PASSWORD)), heartbeat_interval=1)
        host, port = await central.start("127.0.0.1", 0)
        url = f"ws://{host}:{port}/ocpp"
        simulator = simulate_with_chargers(tmp_path, url, *(["--netns"] if netns else []))
        try:
            deadline = time.monotonic() + 20
            while not all(s.connected and s.boots for s in central.snapshot().values()):
                assert time.monotonic() < deadline, f"chargers did not connect:\n{simulator.log_tail()}"
                assert simulator.alive(), simulator.log_tail()
                await asyncio.sleep(0.1)
            booted = sum(1 for s in central.snapshot().values() if s.boots)
        finally:
            await asyncio.to_thread(simulator.stop)  # the loop serves the chargers' closing handshakes meanwhile
            await central.close()
        return booted, simulator.log_path.read_text()

    booted, log = asyncio.run(scenario())
    assert booted == 9
    ready = re.search(r"^ready: 100 devices .* chargers 9 (ws://127\.0\.0\.1:\d+/ocpp)$", log, re.MULTILINE)
    assert ready is not None, log
    assert "9 chargers (9 AC, 0 DC; 18 connectors) dial " in log
    assert PASSWORD not in log


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ws://192.0.2.7:9000/ocpp", "only dial loopback addresses (127.0.0.0/8), not 192.0.2.7"),
        ("ws://localhost:9000/ocpp", "names are not looked up"),
        ("http://127.0.0.1:9000/ocpp", "is not a WebSocket URL"),
        ("ws://127.0.0.1/ocpp", "needs a port"),
    ],
)
def test_simulate_refuses_a_central_system_off_loopback(url: str, message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", "simulate", "--ocpp", url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2 and message in " ".join(result.stderr.split()), result.stderr


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("hunter2-Literal", "give a reference, ${ENV_VAR} or file:PATH, not the password itself"),
        ("${STADTNETZ_TEST_UNSET_PASSWORD}", "environment variable STADTNETZ_TEST_UNSET_PASSWORD is not set"),
    ],
)
def test_simulate_takes_the_charger_password_by_reference_only(reference: str, message: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stadtnetz.cli",
            "simulate",
            "--ocpp",
            "ws://127.0.0.1:9/ocpp",
            "--ocpp-password",
            reference,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    text = " ".join(result.stderr.split())
    assert result.returncode == 2 and message in text, result.stderr
    assert "hunter2" not in result.stderr
