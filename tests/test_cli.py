"""The command line as a user meets it: the README's demo command, --help and --version, exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import Daemon, wait_until

REPO = Path(__file__).resolve().parent.parent
COMMANDS = ["simulate", "demo", "run", "check", "poll", "dashboards", "dashboards build", "dashboards upload"]


def stadtnetz(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", *args], capture_output=True, text=True, timeout=60, env=env, cwd=REPO
    )


def test_make_demo_serves_every_hotspot_and_charger_within_30_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    demo = Daemon(
        ["make", "-s", "demo", "DEMO_ARGS=--listen 127.0.0.1:0 --sim-port 0"], tmp_path / "demo.log", cwd=REPO
    )
    try:
        url: list[str] = []

        def announced() -> bool:
            found = re.search(r"metrics: (http://\S+/metrics)", demo.log_path.read_text(errors="replace"))
            if found:
                url.append(found.group(1))
            return bool(found)

        demo.wait_ready(announced, 30, "demo")

        def hotspots() -> int:
            body = urllib.request.urlopen(url[0], timeout=10).read().decode()
            return len(set(re.findall(r'stadtnetz_wlan_clients\{device="([^"]+)",kind="hotspot"', body)))

        wait_until(lambda: hotspots() >= 520, 30 - (time.monotonic() - started), "520 hotspots on /metrics")
        # and the city's 60 chargers on the service's OCPP endpoint (as root: inside the demo's namespace)
        assert "60 chargers (46 AC, 14 DC; 106 connectors) on ws://127.0.0.1:" in demo.log_path.read_text()
        body = urllib.request.urlopen(url[0], timeout=10).read().decode()
        assert len(re.findall(r'^stadtnetz_charger_connected\{charger="cp-\d+"\} 1', body, re.MULTILINE)) == 60
        assert time.monotonic() - started < 30
    finally:
        demo.stop()


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_everywhere(command: str) -> None:
    result = stadtnetz(*command.split(), "--help")
    assert result.returncode == 0
    assert "Usage: " in result.stdout and "--help" in result.stdout


def test_version() -> None:
    result = stadtnetz("--version")
    assert result.returncode == 0 and re.search(r"stadtnetz, version \d+\.\d+", result.stdout)


def test_configuration_errors_exit_2_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("devices:\n  - id: a\n    kind: hotspot\n    adress: 127.0.0.1\n")
    for args in (["check", "-c", str(config)], ["run", "-c", str(config)], ["poll", "-c", str(config), "a"]):
        result = stadtnetz(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert f"{config}:4: devices[0].adress: unknown field" in result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert stadtnetz("run", "-c", str(REPO / "config/example-city.yaml"), "--shard", "4/3").returncode == 2
    assert stadtnetz("demo", "--listen", "nowhere").returncode == 2
    assert stadtnetz("no-such-command").returncode == 2


def test_poll_names_unknown_devices_and_similar_ones() -> None:
    env = {"STADTNETZ_SNMP_COMMUNITY": "public", "PATH": "/usr/bin:/bin"}
    result = stadtnetz("poll", "-c", str(REPO / "config/example-city.yaml"), "hs-001", env=env)
    assert result.returncode == 2
    assert "no device 'hs-001'" in result.stderr and "hs-0010" in result.stderr


def test_poll_of_a_silent_device_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "one.yaml"
    (tmp_path / "community").write_text("public\n")
    # 127.77.0.1: nobody answers SNMP there (loopback, no simulator)
    config.write_text(
        "settings:\n  timeout: 300ms\n  retries: 0\n"
        "credentials:\n  c:\n    community: file:community\n"
        "devices:\n  - id: nobody\n    kind: hotspot\n    address: 127.77.0.1:1161\n    credentials: c\n"
    )
    result = stadtnetz("poll", "-c", str(config), "nobody")
    assert result.returncode == 1
    assert "nobody (127.77.0.1:1161): timeout" in result.stderr


def test_prometheus_example_config_is_valid() -> None:
    result = subprocess.run(
        ["promtool", "check", "config", str(REPO / "config/prometheus.example.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
