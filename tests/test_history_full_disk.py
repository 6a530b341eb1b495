"""A full disk under the history must cost history, never polling: the real service on a tiny tmpfs.

The service (``stadtnetz run``, a child process) polls a simulated city every
second and keeps its history on a 4 MiB tmpfs the test mounts. The test fills
the file system, cuts a fibre (status transitions the store cannot commit),
and checks what a user sees: polls start on time and ``/metrics`` answers
quickly throughout, ``/healthz`` says the history is degraded (HTTP 200: a
probe must not restart the poller), the oldest samples are dropped and counted
as ``write_failed`` while the transitions are kept, and once space is freed the
history is written again by itself, the outage log complete. Needs root (mount).
"""

from __future__ import annotations

import contextlib
import csv
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stadtnetz import history as store
from stadtnetz.status.topology import Status
from tests.support.processes import Daemon, wait_until
from tests.support.service_process import ServiceProcess
from tests.support.simulation import REPO, simulator_control_url, start_simulator_process

ENV = {"COMMUNITY": "public"}
MAX_PENDING = 3000  # items: a few of the city's sample rounds (30 devices, ~40 series each)


def get(url: str) -> tuple[int, bytes, float]:
    began = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), time.monotonic() - began
    except urllib.error.HTTPError as error:
        return error.code, error.read(), time.monotonic() - began


def metrics(port: int) -> tuple[dict[tuple[str, tuple[tuple[str, str], ...]], float], float]:
    """Every sample of /metrics by (name, labels), and how long the answer took."""
    status, body, took = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found, took


def healthz(port: int) -> tuple[int, dict]:
    status, body, _ = get(f"http://127.0.0.1:{port}/healthz")
    return status, json.loads(body)


def scenario(control: str, command: str) -> None:
    request = urllib.request.Request(f"{control}/scenario", data=command.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def fill(directory: Path) -> Path:
    """Write zeros into ``directory`` until the file system is full."""
    filler = directory / "filler"
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    with contextlib.suppress(OSError):
        handle.close()
    return filler


def lag_buckets(found: dict) -> dict[str, float]:
    return {
        dict(labels)["le"]: v for (name, labels), v in found.items() if name == "stadtnetz_scheduler_lag_seconds_bucket"
    }


@pytest.mark.needs_root("the test mounts a tiny tmpfs to fill up")
def test_a_full_disk_drops_history_but_polling_metrics_and_health_carry_on(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    try:
        run(tmp_path, disk)
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def run(tmp_path: Path, disk: Path) -> None:
    simulator, _, inventory = start_simulator_process(tmp_path / "city", 30, seed=11, timeout=60)
    try:
        control = simulator_control_url(simulator)
        with inventory.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        switch = next(row["id"] for row in rows if row["kind"] == "distribution_switch")
        config = tmp_path / "city.yaml"
        config.write_text(
            "settings:\n  interval: 1s\n  timeout: 300ms\n  retries: 1\n"
            "credentials:\n  city:\n    community: ${COMMUNITY}\n"
            "defaults:\n  credentials: city\n  ping: false\n"
            "inventory:\n  - file: city/inventory.csv\n"
            f"history:\n  path: {disk / 'history.sqlite'}\n  max_pending: {MAX_PENDING}\n",
            encoding="utf-8",
        )
        service = ServiceProcess(config, tmp_path / "service.log", env=ENV, cwd=REPO, wait=False)
        try:
            check(service.port, control, switch, disk, service.daemon)
        finally:
            service.stop(timeout=15)
        assert service.daemon.process.returncode == 0, service.daemon.log_tail()
    finally:
        simulator.stop()
    # the outage that began while the disk was full is in the file, opened and closed
    db = store.connect(disk / "history.sqlite", create=False)
    try:
        changes = [(t.device, t.old, t.new) for t in store.transitions(db, time.time() - 3600, time.time() + 3600)]
        assert (switch, Status.UP, Status.DOWN) in changes and (switch, Status.DOWN, Status.UP) in changes
        (cut,) = [o for o in store.outages(db, 0, time.time() + 3600) if o.device == switch]
        assert cut.end is not None and cut.end > cut.start
    finally:
        db.close()


def dropped(found: dict, reason: str, kind: str) -> float:
    return found.get(("stadtnetz_history_dropped_total", (("kind", kind), ("reason", reason))), 0.0)


def check(port: int, control: str, switch: str, disk: Path, service: Daemon) -> None:
    def every_device_up() -> bool:
        with contextlib.suppress(OSError, ValueError):
            status, body, _ = get(f"http://127.0.0.1:{port}/api/devices")
            return status == 200 and {d["status"] for d in json.loads(body)} == {"up"}
        return False

    service.wait_ready(every_device_up, 30, "every device up")
    wait_until(lambda: metrics(port)[0][("stadtnetz_history_written_transitions_total", ())] >= 30, 10, "first writes")
    status, health = healthz(port)
    assert status == 200 and health["status"] == "ok" and health["history"]["ok"] is True, health
    before, _ = metrics(port)
    started = time.monotonic()

    filler = fill(disk)
    scenario(control, f"fibre-cut {switch}")  # transitions to commit, on a full disk
    slowest = 0.0

    def dropping() -> bool:
        nonlocal slowest
        found, took = metrics(port)
        slowest = max(slowest, took)
        return dropped(found, "write_failed", "samples") > 0

    wait_until(dropping, 20, "samples dropped as write_failed", interval=0.2)
    status, health = healthz(port)
    assert status == 200 and health["status"] == "degraded", health
    assert (
        health["history"]["ok"] is False and f"disk full at {disk / 'history.sqlite'}" in health["history"]["problem"]
    )
    assert "disk full at" in health["detail"]
    scenario(control, f"repair {switch}")  # more transitions: they are queued, samples make room for them
    for _ in range(10):  # keep scraping while full: /metrics stays quick
        _, took = metrics(port)
        slowest = max(slowest, took)
        time.sleep(0.3)
    during, _ = metrics(port)
    text = get(f"http://127.0.0.1:{port}/metrics")[1]
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
    full_seconds = time.monotonic() - started
    assert during[("stadtnetz_history_write_failing", ())] == 1
    assert dropped(during, "write_failed", "transitions") == 0  # transitions are kept, samples dropped
    assert dropped(during, "queue_full", "samples") == dropped(during, "writer_dead", "samples") == 0
    assert during[("stadtnetz_history_pending", ())] <= MAX_PENDING + 200  # bounded: the queue and one failed batch
    # polls started on time all along: every poll started within 100 ms of its due time, 30 a second
    polls = (
        during[("stadtnetz_scheduler_lag_seconds_count", ())] - before[("stadtnetz_scheduler_lag_seconds_count", ())]
    )
    late = polls - (lag_buckets(during)["0.1"] - lag_buckets(before)["0.1"])
    assert polls >= 30 * (full_seconds - 2) and late == 0, (polls, late, full_seconds)
    assert slowest < 0.5, f"/metrics took {slowest:.3f} s while the disk was full"

    filler.unlink()  # room again: writing resumes by itself
    written = during[("stadtnetz_history_written_transitions_total", ())]
    wait_until(
        lambda: (
            (found := metrics(port)[0])[("stadtnetz_history_write_failing", ())] == 0
            and found[("stadtnetz_history_written_transitions_total", ())] > written
        ),
        20,
        "history written again",
        interval=0.2,
    )
    status, health = healthz(port)
    assert status == 200 and health["status"] == "ok" and health["history"]["ok"] is True, health
    log = service.log_path.read_text(errors="replace")
    assert "dropped" in log and "reason write_failed" in log and "writing history again" in log
