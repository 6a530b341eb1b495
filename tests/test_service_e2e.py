"""The service end to end, as operators run it: `stadtnetz simulate`, `stadtnetz run -c FILE`, a real Prometheus.

Every process is a real one, talking over loopback: the simulated city, the
collector (one, or three shards), and Prometheus scraping the collector. The
SNMP community is a recognisable secret that must never leak into what the
collector serves or logs.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import Daemon, free_port, wait_until
from tests.support.prometheus import Prometheus
from tests.support.simulation import start_simulator_process

SECRET = "s3cr3t-c0mmunity-4711"
DEVICES = 120
INTERVAL = 4


def stadtnetz(*args: str) -> list[str]:
    return [sys.executable, "-m", "stadtnetz.cli", *args]


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[dict[str, str]]]]:
    """A simulated city in its own process; yields its directory and inventory rows."""
    directory = tmp_path_factory.mktemp("city")
    simulator, _, inventory = start_simulator_process(directory, DEVICES, seed=3, community=SECRET, timeout=60)
    try:
        config = directory / "city.yaml"
        config.write_text(
            f"settings:\n  interval: {INTERVAL}s\n  timeout: 1s\n  retries: 1\n"
            "credentials:\n  city:\n    version: 2c\n    community: ${CITY_COMMUNITY}\n"
            "defaults:\n  credentials: city\n"
            "inventory:\n  - file: inventory.csv\n"
        )
        with inventory.open() as handle:
            rows = list(csv.DictReader(handle))
        yield config, rows
    finally:
        simulator.stop()


def start_collector(config: Path, directory: Path, *extra: str) -> tuple[Daemon, str]:
    port = free_port()
    collector = Daemon(
        stadtnetz("run", "-c", str(config), "--listen", f"127.0.0.1:{port}", "--log-level", "debug", *extra),
        directory / f"collector-{port}.log",
        env={"CITY_COMMUNITY": SECRET},
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return json.loads(get(f"{url}/healthz"))["status"] == "ok"
        except (OSError, ValueError):
            return False

    collector.wait_ready(healthy, 30, "collector")
    return collector, url


def test_prometheus_scrapes_every_hotspot(city: tuple[Path, list[dict[str, str]]], tmp_path: Path) -> None:
    config, rows = city
    hotspots = {row["id"] for row in rows if row["kind"] == "hotspot"}
    collector, url = start_collector(config, tmp_path)
    prometheus = Prometheus(
        tmp_path / "prometheus",
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n"
        "scrape_configs:\n  - job_name: stadtnetz\n"
        f"    static_configs:\n      - targets: ['{url.removeprefix('http://')}']\n",
    )
    try:
        wait_until(prometheus.targets_up, 30, "prometheus scrape target up")
        query = 'count by (device) (stadtnetz_wlan_clients{kind="hotspot"})'

        def all_hotspots() -> bool:
            return {r["metric"]["device"] for r in prometheus.query(query)} == hotspots

        wait_until(all_hotspots, 40, "every simulated hotspot in Prometheus")
        # two radios per hotspot, client counts are whole numbers, traffic rates are real
        per_device = prometheus.query(query)
        assert all(r["value"][1] == "2" for r in per_device)

        uplink_rates = 'rate(stadtnetz_interface_receive_bytes_total{kind="hotspot",interface="eth0"}[20s])'

        def rates_known() -> bool:  # two polls of every hotspot have been scraped
            result = prometheus.query(uplink_rates)
            return len(result) == len(hotspots) and all(float(r["value"][1]) > 0 for r in result)

        wait_until(rates_known, 40, "receive rates of every hotspot uplink")
        assert all(float(r["value"][1]) < 125_000_000 for r in prometheus.query(uplink_rates))  # < 1 Gbit/s

        body = get(f"{url}/metrics")
        lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60)
        assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
        assert b"stadtnetz_snmp_malformed_packets_total" in body and b"stadtnetz_poll_duration_seconds_bucket" in body

        # the community never leaks: not in what is served, not in the log
        served = body + get(f"{url}/healthz") + get(f"{url}/api/devices") + get(f"{url}/")
        assert SECRET.encode() not in served
        collector.stop()
        assert SECRET not in collector.log_path.read_text(errors="replace")
        assert "polling" in collector.log_path.read_text(errors="replace")
    finally:
        prometheus.stop()
        collector.stop()


def test_three_shards_cover_the_inventory_exactly_once(city: tuple[Path, list[dict[str, str]]], tmp_path: Path) -> None:
    config, rows = city
    shards = [start_collector(config, tmp_path, "--shard", f"{i}/3") for i in (1, 2, 3)]
    try:
        owned = [[d["id"] for d in json.loads(get(f"{url}/api/devices"))] for _, url in shards]
        every = [device for shard in owned for device in shard]
        assert sorted(every) == sorted(row["id"] for row in rows)  # each device in exactly one shard
        assert all(len(shard) > DEVICES / 6 for shard in owned)

        def all_polled() -> bool:
            states = [d for _, url in shards for d in json.loads(get(f"{url}/api/devices"))]
            return all(d["snmp_status"] == "ok" for d in states)

        wait_until(all_polled, 3 * INTERVAL + 10, "every device polled by its shard")
        started = time.monotonic()
        seen = [
            {
                line.split(b'device="')[1].split(b'"')[0]
                for line in get(f"{url}/metrics").splitlines()
                if line.startswith(b"stadtnetz_uptime_seconds{")
            }
            for _, url in shards
        ]
        assert sum(len(s) for s in seen) == DEVICES and not (
            seen[0] & seen[1] or seen[1] & seen[2] or seen[0] & seen[2]
        )
        assert time.monotonic() - started < 10
    finally:
        for collector, _ in shards:
            collector.stop()
