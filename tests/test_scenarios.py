"""Named fault scenarios: commands, scenario files with times, and the simulator's control API."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from simulators.scenarios import COMMANDS, ScenarioError, Scenarios, load_scenario_file
from tests.support.processes import Daemon
from tests.support.simulation import REPO, ThreadedSimulation


@pytest.fixture(scope="module")
def city() -> ThreadedSimulation:
    with ThreadedSimulation(devices=60, seed=4) as simulation:
        yield simulation


def run(city: ThreadedSimulation, command: str) -> str:
    scenarios = city.call(lambda: Scenarios(city.simulation.faults))
    return city.call(scenarios.run, command)


def silent(city: ThreadedSimulation, device_id: str) -> bool:
    runtime = city.simulation.runtime
    return city.call(lambda: runtime.device(device_id).silent(runtime.clock.time()))


def test_fibre_cut_silences_the_subtree_and_repair_brings_it_back(city: ThreadedSimulation) -> None:
    switch = "dist-002"
    below = [d.id for d in city.simulation.city.devices if d.upstream == switch]
    runtime = city.simulation.runtime
    upstream = runtime.device(switch).spec.upstream
    facing = [i for i in runtime.device(upstream).interfaces if i.spec.connects_to == switch]
    assert len(facing) == 1 and not facing[0].forced_down
    said = run(city, f"fibre-cut {switch}")
    assert "devices silent" in said and f"{upstream} ifIndex {facing[0].spec.index} down" in said
    assert silent(city, switch) and all(silent(city, d) for d in below)
    assert not silent(city, "dist-001") and not silent(city, upstream)
    assert facing[0].forced_down  # loss of light at the other end of the fibre
    assert "answering again" in run(city, f"repair {switch}")
    assert not silent(city, switch) and not any(silent(city, d) for d in below)
    assert not facing[0].forced_down


def test_degrade_parses_shares_and_durations(city: ThreadedSimulation) -> None:
    assert run(city, "degrade hs-0003 loss=30% rtt=80ms") == "hs-0003 degraded: 30% loss, +80 ms round trip"
    device = city.simulation.runtime.device("hs-0003")
    assert (device.extra_loss, device.extra_rtt) == (0.3, 0.08)
    run(city, "restore hs-0003")
    assert (device.extra_loss, device.extra_rtt) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("", "empty command"),
        ("explode hs-0001", "unknown scenario 'explode'"),
        ("fibre-cut", "fibre-cut needs a device"),
        ("fibre-cut nowhere", "no simulated device 'nowhere'"),
        ("degrade hs-0001 loss=3", "at most 1"),
        ("degrade hs-0001 rtt=fast", "invalid duration"),
        ("degrade hs-0001 jitter=2ms", "unknown option(s) jitter"),
        ("reboot hs-0001 downtime", "expected key=value"),
        ("interface-down hs-0001 ifindex=99", "no interface with ifIndex 99"),
    ],
)
def test_bad_commands_say_what_is_allowed(city: ThreadedSimulation, command: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        run(city, command)


def test_flap_toggles_and_ends() -> None:
    with ThreadedSimulation(devices=10, seed=2) as sim:
        scenarios = sim.call(lambda: Scenarios(sim.simulation.faults))
        sim.call(scenarios.run, "flap hs-0001 period=200ms times=3")
        seen = []
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            seen.append(silent(sim, "hs-0001"))
            time.sleep(0.05)
        changes = sum(1 for a, b in itertools.pairwise(seen) if a != b)
        assert 4 <= changes <= 7  # silent and back three times
        assert seen[-1] is False  # and answering at the end


def test_scenario_files_name_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("# a fibre cut and its repair\n0 fibre-cut dist-001\n90s repair dist-001  # the splice\n")
    assert load_scenario_file(good) == [(0.0, "fibre-cut dist-001"), (90.0, "repair dist-001")]
    bad = tmp_path / "bad.txt"
    bad.write_text("0 fibre-cut dist-001\nsoon repair dist-001\n")
    with pytest.raises(ScenarioError, match=re.escape(f"{bad}:2: invalid duration 'soon'")):
        load_scenario_file(bad)
    bad.write_text("\n\n10s melt dist-001\n")
    with pytest.raises(ScenarioError, match=re.escape(f"{bad}:3: unknown scenario 'melt'")):
        load_scenario_file(bad)


def test_play_runs_events_at_their_times() -> None:
    with ThreadedSimulation(devices=10, seed=2) as sim:
        scenarios = sim.call(lambda: Scenarios(sim.simulation.faults))
        done: list[tuple[float, str]] = []
        started = time.monotonic()

        async def play() -> None:
            await scenarios.play(
                [(0.3, "repair hs-0001"), (0.0, "silence hs-0001")],
                lambda text: done.append((time.monotonic() - started, text)),
            )

        asyncio.run_coroutine_threadsafe(play(), sim._loop).result(5)
        assert [text for _, text in done] == [
            "scenario at 0 s: hs-0001 silent",
            "scenario at 0.3 s: repaired hs-0001: 1 devices answering again",
        ]
        assert done[1][0] >= 0.3


def test_control_api_of_a_running_simulator(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.txt"
    scenario.write_text("0 silence hs-0002\n")
    simulator = Daemon(
        [
            sys.executable,
            "-m",
            "stadtnetz.cli",
            "simulate",
            "--devices",
            "20",
            "--port",
            "0",
            "--control",
            "127.0.0.1:0",
            "--scenario",
            str(scenario),
        ],
        tmp_path / "simulate.log",
        cwd=REPO,
        env={"PYTHONUNBUFFERED": "1"},
    )
    try:
        simulator.wait_ready(lambda: "control http" in simulator.log_path.read_text(), 30, "simulator")
        url = re.search(r"control (http://\S+)", simulator.log_path.read_text()).group(1)  # type: ignore[union-attr]
        listing = json.loads(urllib.request.urlopen(f"{url}/scenarios", timeout=5).read())
        assert set(listing) == set(COMMANDS)

        def cli(*command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "stadtnetz.cli", "scenario", url, *command],
                capture_output=True,
                text=True,
                timeout=30,
                cwd=REPO,
            )

        result = cli("fibre-cut", "dist-001")
        assert result.returncode == 0 and "fibre cut at dist-001" in result.stdout
        result = cli("degrade", "hs-0001", "loss=3")
        assert result.returncode == 2 and "[loss=30%] [rtt=80ms]" in result.stderr.replace("\n", " ")
        assert "scenario at 0 s: hs-0002 silent" in simulator.log_path.read_text()
    finally:
        simulator.stop()
    unreachable = subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", "scenario", "http://127.0.0.1:1", "silence", "x"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert unreachable.returncode == 1 and "cannot reach the simulator" in unreachable.stderr
