"""Traps in the running service: a real net-snmp ``snmptrap`` changes what ``/metrics`` says within a second.

``stadtnetz run`` polls a simulated city (its own process) so rarely (every
300 s) that only a trap can explain a change: a warmStart makes the service
poll the device out of turn, a linkDown marks the interface down at once (and
is confirmed by the poll it triggers). Garbage sent to the trap port is
counted as malformed and changes nothing else.
"""

from __future__ import annotations

import csv
import random
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import free_port, wait_until
from tests.support.service_process import ServiceProcess
from tests.support.simulation import simulator_control_url, start_simulator_process

ENV = {"CITY_COMMUNITY": "public"}


class Running:
    def __init__(self, directory: Path) -> None:
        self.simulator, _, inventory = start_simulator_process(directory / "city", 30, seed=11, timeout=60)
        self.control = simulator_control_url(self.simulator)
        with inventory.open() as handle:
            self.rows = list(csv.DictReader(handle))
        self.trap_port = free_port(kind=socket.SOCK_DGRAM)
        config = directory / "city.yaml"
        config.write_text(
            f"settings:\n  interval: 300s\n  timeout: 1s\n  trap_listen: 127.0.0.1:{self.trap_port}\n"
            "credentials:\n  city:\n    version: 2c\n    community: ${CITY_COMMUNITY}\n"
            f"defaults:\n  credentials: city\ninventory:\n  - file: {inventory}\n"
        )
        try:
            self.service = ServiceProcess(config, directory / "service.log", env=ENV)
        except BaseException:
            self.simulator.stop()  # never leave the simulator behind when the service does not come up
            raise
        self.url = self.service.url

    def metrics(self) -> str:
        return self.service.metrics()

    def trap(self, source: str, *varbinds: str, community: str = "public") -> None:
        subprocess.run(
            [
                "snmptrap",
                "-v2c",
                "-c",
                community,
                f"--clientaddr={source}",
                f"127.0.0.1:{self.trap_port}",
                "",
                *varbinds,
            ],
            check=True,
            timeout=10,
            capture_output=True,
        )

    def stop(self) -> None:
        try:
            self.service.stop()
        finally:
            self.simulator.stop()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    service = Running(tmp_path_factory.mktemp("traps"))
    try:
        yield service
    finally:
        service.stop()


def device_statuses(metrics: str) -> dict[str, str]:
    """Each device's ``stadtnetz_device_status`` line, by device id."""
    return {
        line.split('device="')[1].split('"')[0]: line
        for line in metrics.splitlines()
        if line.startswith("stadtnetz_device_status{")
    }


def oper_state(metrics: str, device: str, if_index: int) -> str | None:
    for line in metrics.splitlines():
        if line.startswith(f'stadtnetz_interface_oper_status{{device="{device}"') and f'if_index="{if_index}"' in line:
            return line.split('state="')[1].split('"')[0]
    return None


def test_a_linkdown_trap_marks_the_interface_down_within_a_second(running: Running) -> None:
    hotspot = next(row for row in running.rows if row["kind"] == "hotspot")
    device, address = hotspot["id"], hotspot["address"].split(":")[0]
    # a warmStart: the service polls the device out of turn (its next scheduled poll is minutes away)
    running.trap(address, "1.3.6.1.6.3.1.1.5.2")
    wait_until(lambda: oper_state(running.metrics(), device, 1) == "up", 5, "the device polled after warmStart")

    request = urllib.request.Request(
        f"{running.control}/scenario", data=f"interface-down {device} ifindex=1".encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).read()
    assert oper_state(running.metrics(), device, 1) == "up"  # nothing polls it on its own for minutes
    sent = time.monotonic()
    running.trap(address, "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.1", "i", "1", "1.3.6.1.2.1.2.2.1.8.1", "i", "2")
    wait_until(lambda: oper_state(running.metrics(), device, 1) == "down", 1.0, "interface down in /metrics")
    print(f"\nlinkDown trap to /metrics: {time.monotonic() - sent:.3f} s (snmptrap's own start-up included)")

    metrics = running.metrics()
    per_device = [line for line in metrics.splitlines() if line.startswith("stadtnetz_device_traps_received_total{")]
    assert sorted((line.split('trap="')[1].split('"')[0], line.split()[-1]) for line in per_device) == [
        ("link_down", "1.0"),
        ("warm_start", "1.0"),
    ]
    assert all(f'device="{device}"' in line for line in per_device)
    lint = subprocess.run(["promtool", "check", "metrics"], input=metrics.encode(), capture_output=True, timeout=60)
    assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
    assert 'stadtnetz_traps_received_total{trap="link_down"} 1.0' in metrics
    assert 'stadtnetz_traps_received_total{trap="warm_start"} 1.0' in metrics

    # the wrong community: refused and counted, the interface stays as the device reports it
    running.trap(address, "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.2.1.2.2.1.1.1", "i", "1", community="guess")
    wait_until(
        lambda: 'stadtnetz_trap_packets_dropped_total{reason="bad_community"} 1.0' in running.metrics(),
        2,
        "the bad community counted",
    )
    assert oper_state(running.metrics(), device, 1) == "down"
    assert "guess" not in running.metrics() and "guess" not in running.service.log_path.read_text()


def test_ten_thousand_garbage_datagrams_are_counted_and_change_nothing(running: Running) -> None:
    wait_until(
        lambda: any('status="unknown"' not in line for line in device_statuses(running.metrics()).values()),
        60,
        "a device with a verdict",
    )
    before = running.metrics()
    rng = random.Random(4711)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    try:
        for _burst in range(20):
            for _ in range(500):
                sender.sendto(rng.randbytes(rng.randint(1, 300)), ("127.0.0.1", running.trap_port))
            time.sleep(0.02)  # the receive buffer holds a burst; the service empties it between bursts
    finally:
        sender.close()
    wait_until(
        lambda: 'stadtnetz_trap_packets_dropped_total{reason="malformed"} 10000.0' in running.metrics(),
        10,
        "10,000 malformed datagrams counted",
    )
    assert running.service.healthy()
    after = running.metrics()
    name = "stadtnetz_traps_received_total"
    assert [line for line in before.splitlines() if line.startswith(name)] == [
        line for line in after.splitlines() if line.startswith(name)
    ]
    # Each device keeps its verdict. A device still unknown before may have had its first poll meanwhile (every
    # device's first poll falls at its phase within the 300 s interval): that is the schedule, not the garbage.
    status_before, status_after = device_statuses(before), device_statuses(after)
    assert len(status_before) == len(running.rows)
    known = {device: line for device, line in status_before.items() if 'status="unknown"' not in line}
    assert {device: status_after[device] for device in known} == known
