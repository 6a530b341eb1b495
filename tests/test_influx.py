"""InfluxDB export through a durable spool: nothing is lost while the server is down, not even across a SIGKILL.

The spool is tested on real files (torn tails, replay order, deletion only after
an acknowledgement, the size bound and its counter, fsync policies, one process
per directory). Everything that talks to a server talks to a real
VictoriaMetrics (its InfluxDB write endpoint) started here in a temp dir on a
free port and stopped with SIGTERM: the points the service writes read back
with the values and labels /metrics shows for the same state; the service run
as operators run it (``stadtnetz run``) writes every device; and in the outage
test the server is gone for a while, the service is SIGKILLed and restarted in
the middle of it, and once the server is back every point any of the two
processes produced is in it exactly once. Beside it, influxdb-client's own
batching writer loses what is pending when it is closed while the server is down.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import math
import os
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from exporters import spool as spool_module
from exporters.influx import InfluxExporter, InfluxStatsCollector, InfluxWriter, Sender
from exporters.line_protocol import LineEncoder, escape_tag, measurement_field, timestamp
from exporters.prometheus import render_state
from exporters.spool import RECORD_HEADER, SEGMENT_HEADER, Spool, SpoolError, encode_record
from stadtnetz.clock import ManualClock
from stadtnetz.config import ConfigError, load_inventory
from stadtnetz.labels import Labels
from stadtnetz.model import Device, InfluxSettings, InfluxSpool, MetricDef, MetricKind, Reading
from stadtnetz.status.state import State
from tests.support.nginx import ReverseProxy
from tests.support.processes import Daemon, free_port, wait_until
from tests.support.simulation import start_simulator_process
from tests.support.victoriametrics import ExportedSeries, VictoriaMetrics

LONG = os.environ.get("STADTNETZ_LONG_TESTS") == "1"
TOKEN = "influx-t0ken-4711-do-not-leak"
INTERVAL = 2


def lines_payload(first: int, count: int) -> bytes:
    return b"".join(f"m,device=d v={i}i {1_790_000_000 + i}\n".encode() for i in range(first, first + count))


def drain(spool: Spool, max_points: int = 1000) -> list[bytes]:
    """Take and acknowledge everything in the spool; the payloads in the order they came."""
    payloads = []
    while (batch := spool.peek(max_points)) is not None:
        payloads.append(batch.payload)
        spool.ack(batch)
    return payloads


def values_in(payloads: list[bytes]) -> list[int]:
    return [int(m) for m in re.findall(rb" v=(\d+)i ", b"".join(payloads))]


# --- the spool on real files --------------------------------------------------------------------------------------


def test_spool_replays_in_order_after_reopen_across_segments(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20, "never", precision="s", segment_bytes=600) as spool:
        for record in range(40):
            assert spool.append(lines_payload(record * 5, 5), 5, 1_790_000_000 + record * 5)
        assert len(spool.segments()) > 5  # rolled over many times
    with Spool(tmp_path, 1 << 20, "never", precision="s", segment_bytes=600) as spool:
        assert spool.pending_points == 200 and spool.stats.recovered_points == 200
        assert spool.oldest_time() == 1_790_000_000
        payloads = drain(spool, max_points=12)
        assert values_in(payloads) == list(range(200))
        assert spool.segments() == [] and spool.bytes == 0 and spool.pending_points == 0
    assert not list(tmp_path.glob("*.seg"))


def test_spool_deletes_a_segment_only_after_every_record_was_acknowledged(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20, "always", precision="s", segment_bytes=400) as spool:
        for record in range(6):
            spool.append(lines_payload(record * 3, 3), 3, 1_790_000_000.0)
        first = spool.segments()[0]
        batch = spool.peek(3)
        assert batch is not None and values_in([batch.payload]) == [0, 1, 2]
        assert spool.peek(3) is None  # one batch in flight at a time
        spool.release(batch)  # the write failed: nothing moves
        assert spool.segments()[0] == first and spool.pending_points == 18
        batch = spool.peek(3)
        assert batch is not None and values_in([batch.payload]) == [0, 1, 2]
        spool.ack(batch)
        assert spool.segments()[0] == first  # the segment still holds unacknowledged records
        assert (tmp_path / first).exists()
        while spool.segments() and spool.segments()[0] == first:
            batch = spool.peek(3)
            assert batch is not None
            spool.ack(batch)
        assert not (tmp_path / first).exists()
        remaining = spool.pending_points
        batch = spool.peek(3)  # acknowledged, then the process dies: the cursor says how far
        assert batch is not None
        spool.ack(batch)
    with Spool(tmp_path, 1 << 20, "always", precision="s", segment_bytes=400) as spool:
        assert spool.pending_points == remaining - 3
        assert values_in(drain(spool)) == list(range(18 - remaining + 3, 18))  # no repeats, nothing skipped


def test_spool_truncates_a_torn_or_corrupt_tail_and_never_replays_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    record = encode_record(lines_payload(100, 4), 4, 1_790_000_100.0)
    cuts = [3, RECORD_HEADER.size - 1, RECORD_HEADER.size + 5, len(record) - 1]
    for number, cut in enumerate(cuts):
        directory = tmp_path / f"cut-{number}"
        with Spool(directory, 1 << 20, "always", precision="s") as spool:
            spool.append(lines_payload(0, 4), 4, 1_790_000_000.0)
            (name,) = spool.segments()
        path = directory / name
        good_size = path.stat().st_size
        with path.open("ab") as handle:  # what a SIGKILL in the middle of a write leaves
            handle.write(record[:cut])
        with (
            caplog.at_level(logging.WARNING, "stadtnetz.influx.spool"),
            Spool(directory, 1 << 20, precision="s") as spool,
        ):
            assert path.stat().st_size == good_size
            assert spool.stats.truncated_bytes == cut
            assert spool.pending_points == 4
            spool.append(lines_payload(4, 2), 2, 1_790_000_004.0)  # and it goes on
            assert values_in(drain(spool)) == [0, 1, 2, 3, 4, 5]
        assert "cut off" in caplog.text
    # a whole record whose payload was damaged: the CRC tells
    directory = tmp_path / "crc"
    with Spool(directory, 1 << 20, "always", precision="s") as spool:
        spool.append(lines_payload(0, 4), 4, 1_790_000_000.0)
        spool.append(lines_payload(4, 4), 4, 1_790_000_004.0)
        (name,) = spool.segments()
    data = bytearray((directory / name).read_bytes())
    data[-3] ^= 0x01
    (directory / name).write_bytes(bytes(data))
    with Spool(directory, 1 << 20, precision="s") as spool:
        assert spool.pending_points == 4
        assert values_in(drain(spool)) == [0, 1, 2, 3]
    # a file too short for a segment header holds nothing: removed
    (directory / "00000000000000000099.seg").write_bytes(b"STN")
    with Spool(directory, 1 << 20, precision="s") as spool:
        assert spool.segments() == []


_KILLED_WRITER = """
import sys
from exporters.spool import Spool
spool = Spool(sys.argv[1], 1 << 30, "never", precision="s", segment_bytes=8 << 20)
filler = b"f x=1i 0\\n" * 200_000  # 1.8 MB per record: the process spends its time inside write()
print("ready", flush=True)
number = 0
while True:
    spool.append(b"m,device=d v=%di 0\\n" % number + filler, 200_001, float(number))
    number += 1
"""


def test_spool_survives_sigkill_in_the_middle_of_appends(tmp_path: Path) -> None:
    """A real process appending 1.8 MB records as fast as it can, SIGKILLed: what is on disk replays whole and in
    order, and a record the kill tore is cut off (it happens in most runs; the hand-made tears above always)."""
    torn = 0
    for attempt in range(4):
        directory = tmp_path / f"run-{attempt}"
        writer = subprocess.Popen(
            [sys.executable, "-c", _KILLED_WRITER, str(directory)],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        try:
            assert writer.stdout is not None and writer.stdout.readline().strip() == b"ready"
            time.sleep(0.2 + 0.07 * attempt)
        finally:
            writer.send_signal(signal.SIGKILL)  # our own child, by its PID
            writer.wait()
        with Spool(directory, 1 << 30, precision="s") as spool:
            torn += spool.stats.truncated_bytes > 0
            records, rest = divmod(spool.pending_points, 200_001)
            assert records >= 1 and rest == 0
            assert values_in(drain(spool, max_points=1)) == list(range(records))  # every record whole, in order
    print(f"{torn} of 4 SIGKILLs tore a record")


def test_spool_full_drops_the_oldest_segment_counts_and_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    record_size = len(encode_record(lines_payload(0, 10), 10, 0.0))
    max_bytes = 8 * 1024
    with (
        caplog.at_level(logging.WARNING, "stadtnetz.influx.spool"),
        Spool(tmp_path, max_bytes, "never", precision="s", segment_bytes=1024) as spool,
    ):
        appended = 0
        while appended < 100 * 10:
            assert spool.append(lines_payload(appended, 10), 10, 1_790_000_000.0 + appended)
            appended += 10
            assert spool.bytes <= max_bytes
        dropped = spool.stats.dropped["spool_full"]
        assert dropped > 0 and dropped % 10 == 0
        assert dropped + spool.pending_points == appended  # every point is either waiting or counted
        assert values_in(drain(spool, 10_000)) == list(range(dropped, appended))  # the newest are kept
        registry = CollectorRegistry()
        exporter = InfluxExporter.__new__(InfluxExporter)
        exporter.spool, exporter.sender = spool, None
        registry.register(InfluxStatsCollector(exporter))
        text = generate_latest(registry).decode()
        assert f'stadtnetz_influx_points_dropped_total{{reason="spool_full"}} {float(dropped)}' in text
        # a batch larger than the whole spool is refused, and counted
        assert not spool.append(b"x" * max_bytes, 7, 0.0)
        assert spool.stats.dropped["spool_full"] == dropped + 7
    assert "spool full" in caplog.text and "dropped the oldest segment" in caplog.text
    assert record_size < 1024


def test_spool_counts_a_batch_in_flight_when_its_segment_is_dropped(tmp_path: Path) -> None:
    with Spool(tmp_path, 4096, "never", precision="s", segment_bytes=512) as spool:
        spool.append(lines_payload(0, 5), 5, 0.0)
        in_flight = spool.peek(5)
        assert in_flight is not None
        for first in range(5, 200, 5):
            spool.append(lines_payload(first, 5), 5, 0.0)
        dropped_before = spool.stats.dropped["spool_full"]
        spool.ack(in_flight)  # it arrived although its segment was dropped meanwhile: sent, not dropped
        assert spool.stats.dropped["spool_full"] == dropped_before
        assert spool.stats.acked_points == 5
        assert dropped_before + 5 + spool.pending_points == 200


@pytest.mark.parametrize("policy", ["always", "interval", "never"])
def test_spool_fsync_policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(spool_module.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    now = [100.0]
    with Spool(tmp_path, 1 << 20, policy, fsync_interval=5.0, precision="s", monotonic=lambda: now[0]) as spool:
        synced.clear()
        for i in range(4):
            spool.append(lines_payload(i, 1), 1, 0.0)
            now[0] += 1.0
        after_appends = len(synced)
        now[0] += 5.0
        spool.sync_if_due()
        after_timer = len(synced)
    # always: each of the 4 appends, and the directory once the segment file was created
    expected = {"always": (5, 5), "interval": (0, 1), "never": (0, 0)}[policy]
    assert (after_appends, after_timer) == expected
    with Spool(tmp_path, 1 << 20, policy, precision="s") as spool:
        assert values_in(drain(spool)) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="fsync must be one of"):
        Spool(tmp_path / "other", 1 << 20, "sometimes")


def test_spool_directory_belongs_to_one_process(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20), pytest.raises(SpoolError, match="in use by another process"):
        Spool(tmp_path, 1 << 20)
    with Spool(tmp_path, 1 << 20):  # released on close
        pass


def test_spool_keeps_the_precision_each_segment_was_written_with(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20, precision="s") as spool:
        spool.append(b"m v=1i 1790000000\n", 1, 1_790_000_000.0)
    with Spool(tmp_path, 1 << 20, precision="ms") as spool:  # the configuration changed between two runs
        spool.append(b"m v=2i 1790000001000\n", 1, 1_790_000_001.0)
        batches = []
        while (batch := spool.peek(10)) is not None:
            batches.append((batch.precision, batch.payload))
            spool.ack(batch)
    assert batches == [("s", b"m v=1i 1790000000\n"), ("ms", b"m v=2i 1790000001000\n")]


def test_segment_format_is_as_documented(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20, "always", precision="ms") as spool:
        spool.append(b"m v=1 5\n", 1, 1_790_000_000.5)
        (name,) = spool.segments()
    data = (tmp_path / name).read_bytes()
    assert name == "00000000000000000001.seg"
    assert data[:16] == b"STNSPOOL" + bytes([1, 2]) + bytes(6)
    length, crc, points, oldest = struct.unpack_from("<IIId", data, SEGMENT_HEADER.size)
    assert (length, points, oldest) == (8, 1, 1_790_000_000.5)
    assert crc == zlib.crc32(b"m v=1 5\n", zlib.crc32(struct.pack("<Id", 1, 1_790_000_000.5)))
    assert data[SEGMENT_HEADER.size + RECORD_HEADER.size :] == b"m v=1 5\n"


# --- line protocol --------------------------------------------------------------------------------------------------


def test_measurements_tags_and_fields() -> None:
    def metric(name: str, kind: MetricKind = MetricKind.GAUGE) -> MetricDef:
        return MetricDef(name, kind, name)

    assert measurement_field(metric("stadtnetz_interface_receive_bytes", MetricKind.COUNTER)) == (
        "interfaces",
        "receive_bytes_total",
    )
    assert measurement_field(metric("stadtnetz_optical_power_dbm")) == ("optics", "power_dbm")
    assert measurement_field(metric("stadtnetz_wlan_clients")) == ("wlan", "clients")
    assert measurement_field(metric("stadtnetz_device_info", MetricKind.INFO)) == ("device", "info")
    assert measurement_field(metric("stadtnetz_uptime_seconds")) == ("device", "uptime_seconds")
    assert escape_tag('Markt, Platz=1 "A"\\') == 'Markt\\,\\ Platz\\=1\\ "A"\\\\'
    assert escape_tag("Ring\nNord\r") == "Ring\\ Nord\\ "  # a line break becomes an escaped space, not the tags' end
    assert timestamp(1_790_000_000.5, "ns") == 1_790_000_000_500_000_000
    assert timestamp(1_790_000_002.0, "s") == 1_790_000_002

    clock = ManualClock(1_790_000_000.0)
    device = Device("hs 1", "hotspot", "127.0.0.1", site="Markt, Platz", district="", credentials="c")
    state = State([device], clock)
    rx = MetricDef("stadtnetz_interface_receive_bytes", MetricKind.COUNTER, "rx")
    util = MetricDef("stadtnetz_interface_utilisation_ratio", MetricKind.GAUGE, "u")
    speed = MetricDef("stadtnetz_interface_speed_bytes", MetricKind.GAUGE, "s")
    clients = MetricDef("stadtnetz_wlan_clients", MetricKind.GAUGE, "c")
    labels = Labels.of(if_index="1", interface="eth0")
    readings = [
        Reading(rx, labels, 1000, bits=64, speed=1e6, utilisation=util, direction="receive"),
        Reading(speed, labels, 1e6),
        Reading(clients, Labels.of(band="5GHz", ssid="Frei WLAN"), 4),
    ]
    state.record_poll("hs 1", readings, 100, None, 0.01)
    clock.advance(10)
    readings[0].value = 6000
    state.record_poll("hs 1", readings, 1100, None, 0.02)
    lines, values = LineEncoder("s").encode(state.exported(), 1_790_000_010.0)
    assert sorted(lines) == sorted(
        [
            "device,device=hs\\ 1,kind=hotspot,site=Markt\\,\\ Platz,status=unknown,snmp_status=ok "
            "status_code=0i,flapping=0i,maintenance=0i,state_change_ratio=0.0,"
            "last_seen_timestamp_seconds=1790000010.0,poll_duration_seconds=0.02 1790000010\n",
            "interfaces,device=hs\\ 1,kind=hotspot,site=Markt\\,\\ Platz,if_index=1,interface=eth0 "
            "receive_bytes_total=6000i,speed_bytes=1000000.0 1790000010\n",
            "interfaces,device=hs\\ 1,kind=hotspot,site=Markt\\,\\ Platz,if_index=1,interface=eth0,direction=receive "
            "utilisation_ratio=0.0005 1790000010\n",
            "wlan,device=hs\\ 1,kind=hotspot,site=Markt\\,\\ Platz,band=5GHz,ssid=Frei\\ WLAN clients=4.0 1790000010\n",
        ]
    )
    assert values == 6 + 2 + 1 + 1
    # the first poll has no rate yet: NaN is left out, the line keeps its other fields
    state.record_poll("hs 1", readings, 100_000, None, 0.01)  # a reboot: the rate is unknown again
    lines, _ = LineEncoder("s").encode(state.exported(), 1_790_000_020.0)
    assert not any("utilisation_ratio" in line for line in lines)


# --- configuration ------------------------------------------------------------------------------------------------


CONFIG_HEAD = """\
credentials:
  ro:
    version: 2c
    community: ${COMMUNITY}
defaults:
  credentials: ro
devices:
  - id: core-1
    kind: core_router
    address: 127.20.0.1:1161
"""


def test_config_influx_section(tmp_path: Path) -> None:
    path = tmp_path / "city.yaml"
    path.write_text(
        CONFIG_HEAD
        + textwrap.dedent("""\
        influx:
          url: http://127.0.0.1:8086/
          org: stadtwerk
          bucket: stadtnetz
          token: ${INFLUX_TOKEN}
          precision: ms
          batch_size: 2000
          flush_interval: 500ms
          spool:
            path: var/spool
            max_bytes: 2GiB
            fsync: always
        """)
    )
    inventory = load_inventory(path, environ={"COMMUNITY": "public", "INFLUX_TOKEN": TOKEN})
    influx = inventory.influx
    assert influx is not None
    assert (influx.url, influx.org, influx.bucket, influx.precision) == (
        "http://127.0.0.1:8086",
        "stadtwerk",
        "stadtnetz",
        "ms",
    )
    assert (influx.batch_size, influx.flush_interval, influx.gzip) == (2000, 0.5, True)
    assert influx.spool == InfluxSpool(str(tmp_path / "var" / "spool"), 2 << 30, "always", 1.0)
    assert influx.token is not None and influx.token.reveal() == TOKEN
    assert TOKEN not in repr(influx) and TOKEN not in repr(inventory)


def line_of(path: Path, marker: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if marker in line)


@pytest.mark.parametrize(
    ("body", "marker", "field", "message"),
    [
        ("  token: " + TOKEN + "\n", "token:", "influx.token", "a literal token is not allowed"),
        ("  precision: minutes\n", "precision:", "influx.precision", "'s', 'ms', 'us' or 'ns'"),
        ("  url: ftp://host\n", "url:", "influx.url", "expected the server's URL"),
        ("  url: http://admin:" + TOKEN + "@127.0.0.1:8086\n", "url:", "influx.url", "credentials in the URL"),
        ("  url: https://" + TOKEN + "@influx.example:8086\n", "url:", "influx.url", "https://influx.example:8086"),
        ("  spool: {path: s, max_bytes: 10KiB}\n", "spool:", "influx.spool.max_bytes", "at least 1MiB"),
        ("  spool: {path: s, fsync: sometimes}\n", "spool:", "influx.spool.fsync", "'always', 'interval' or 'never'"),
        ("  batchsize: 10\n", "batchsize:", "influx.batchsize", "did you mean 'batch_size'"),
    ],
)
def test_config_influx_errors_name_file_and_line(
    tmp_path: Path, body: str, marker: str, field: str, message: str
) -> None:
    base = {"url": "  url: http://127.0.0.1:8086\n", "spool": "  spool: {path: spool}\n"}
    lines = ["influx:\n", "  org: o\n", "  bucket: b\n"]
    for key, default in base.items():
        if not body.startswith(f"  {key}:"):
            lines.append(default)
    lines.append(body)
    path = tmp_path / "city.yaml"
    path.write_text(CONFIG_HEAD + "".join(lines))
    with pytest.raises(ConfigError) as caught:
        load_inventory(path, environ={"COMMUNITY": "public"})
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field) == (path, line_of(path, marker), field)
    assert message in issue.message
    assert TOKEN not in str(caught.value)


def test_config_precision_must_carry_the_poll_interval(tmp_path: Path) -> None:
    path = tmp_path / "city.yaml"
    path.write_text(
        "settings:\n  interval: 1500ms\n  timeout: 1s\n"
        + CONFIG_HEAD
        + "influx:\n  url: http://127.0.0.1:8086\n  org: o\n  bucket: b\n  precision: s\n  spool: {path: spool}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_inventory(path, environ={"COMMUNITY": "public"})
    (issue,) = caught.value.issues
    assert (issue.line, issue.field) == (line_of(path, "precision:"), "influx.precision")
    assert "1.5 s" in issue.message and "finer precision" in issue.message


# --- against a real server ------------------------------------------------------------------------------------------


@pytest.fixture()
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path / "victoria-metrics")
    try:
        yield server
    finally:
        server.stop()


def samples_at(series: list[ExportedSeries], stamp_ms: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for item in series:
        for value, stamp in zip(item.values, item.timestamps, strict=True):
            if stamp == stamp_ms:
                key = (item.name, frozenset(item.labels.items()))
                assert key not in found, f"{key} twice at {stamp_ms}"
                found[key] = value
    return found


PROMETHEUS_PREFIXES = (
    ("stadtnetz_interface_", "interfaces_"),
    ("stadtnetz_optical_", "optics_"),
    ("stadtnetz_wlan_", "wlan_"),
    ("stadtnetz_device_", "device_"),
    ("stadtnetz_", "device_"),
)
STATUS_LINE_TAGS = {"status", "snmp_status", "root_cause"}
STATUS_CODE = {"unknown": 0, "up": 1, "degraded": 2, "down": 3, "unreachable": 4}


def influx_name(prometheus_name: str) -> str:
    """What a /metrics series is called in VictoriaMetrics after going through InfluxDB line protocol."""
    for prefix, replacement in PROMETHEUS_PREFIXES:
        if prometheus_name.startswith(prefix):
            return replacement + prometheus_name[len(prefix) :]
    raise AssertionError(prometheus_name)


def test_points_read_back_with_the_values_and_labels_of_metrics(tmp_path: Path, victoria: VictoriaMetrics) -> None:
    """One state, rendered as /metrics and written through the exporter: every sample the same, both ways."""
    from prometheus_client.parser import text_string_to_metric_families

    from collectors.snmp.profiles import load_profiles
    from stadtnetz.app.demo import inventory_for_city
    from stadtnetz.app.service import Service
    from tests.support.simulation import ThreadedSimulation

    async def scenario(city: ThreadedSimulation) -> tuple[str, float, int]:
        inventory = inventory_for_city(city.simulation.city, b"public", interval=INTERVAL, listen_port=0)
        inventory.influx = InfluxSettings(
            url=victoria.url,
            org="stadtwerk",
            bucket="stadtnetz",
            spool=InfluxSpool(str(tmp_path / "spool")),
            precision="ms",
            flush_interval=0.2,
        )
        service = Service(inventory, load_profiles(), inventory.devices, listen_host="127.0.0.1", ping=False)
        await service.start()
        exporter = service.influx
        assert exporter is not None and exporter.spool is not None
        try:
            states = service.state.exported()
            deadline = time.monotonic() + 30
            while not all(s.status.value == "ok" and s.last_poll is not None for s in states) or any(
                s.value(m, labels) != s.value(m, labels)  # a NaN: no second poll yet
                for s in states
                for m, labels in s.keys
                if m.name == "stadtnetz_interface_utilisation_ratio"
            ):
                assert time.monotonic() < deadline, "the city was not polled twice"
                await asyncio.sleep(0.2)
            at = math.floor(time.time()) + 0.321  # between the snapshots on the poll schedule
            text = render_state(service.state)  # no await before the snapshot encodes: the same state
            snapshot = await exporter.snapshot(at, states)
            while exporter.spool.pending_points:
                assert time.monotonic() < deadline + 30, "the points were not sent"
                await asyncio.sleep(0.1)
            return text, at, snapshot.values
        finally:
            await service.stop()

    with ThreadedSimulation(devices=30, seed=5) as city:
        text, at, values = asyncio.run(scenario(city))
    found = samples_at(victoria.export_settled(values, start=at - 1, end=at + 1), round(at * 1000))
    assert len(found) == values
    unmatched = dict(found)
    compared = Counter[str]()
    status_series = {(dict(labels)["device"]): (key, labels) for key, labels in found if key == "device_status_code"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if v}
            device = labels["device"]
            if sample.name in ("stadtnetz_device_snmp_status", "stadtnetz_device_status"):
                name, tags = status_series[device]
                tags_dict = dict(tags)
                if sample.name == "stadtnetz_device_snmp_status":
                    assert tags_dict["snmp_status"] == labels["status"]
                else:
                    assert tags_dict["status"] == labels["status"]
                    assert tags_dict.get("root_cause", "") == labels.get("root_cause", "")
                    assert found[name, tags] == STATUS_CODE[labels["status"]]
                    del unmatched[name, tags]
                compared[sample.name] += 1
                continue
            name = influx_name(sample.name)
            candidates = [
                key
                for key in found
                if key[0] == name
                and set(labels.items()) <= key[1]
                and {k for k, _ in key[1]} - set(labels) <= STATUS_LINE_TAGS
            ]
            assert len(candidates) == 1, (sample, candidates)
            # VictoriaMetrics keeps about 12 significant digits (a Unix time with ns: 1795332181.8938994 reads
            # back as 1795332181.8939); whole numbers (counters, client counts) come back exactly
            stored = found[candidates[0]]
            if sample.value == int(sample.value):
                assert stored == sample.value, (sample, stored)
            else:
                assert math.isclose(stored, sample.value, rel_tol=1e-11), (sample, stored)
            del unmatched[candidates[0]]
            compared[sample.name] += 1
    assert not unmatched, f"in VictoriaMetrics but not in /metrics: {sorted(unmatched)[:5]}"
    for family in ("interface_receive_bytes_total", "optical_power_dbm", "wlan_clients", "device_info"):
        assert compared[f"stadtnetz_{family}"] > 0, family
    assert sum(compared.values()) > 1000
    print(f"{sum(compared.values())} /metrics samples of 30 devices equal to {len(found)} values read back")


# --- the service as operators run it --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, str]]]:
    """A simulated city of 24 devices in its own process; yields its inventory rows (the CSV it wrote)."""
    directory = tmp_path_factory.mktemp("city")
    simulator, _, inventory = start_simulator_process(directory, 24, seed=9, timeout=60)
    try:
        with inventory.open() as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            row["_csv"] = str(inventory)
        yield rows
    finally:
        simulator.stop()


def write_config(directory: Path, rows: list[dict[str, str]], server: VictoriaMetrics, **spool: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "city.yaml"
    spool_options = "".join(f"    {key}: {value}\n" for key, value in spool.items())
    config.write_text(
        f"settings:\n  interval: {INTERVAL}s\n  timeout: 500ms\n  retries: 1\n"
        "credentials:\n  city:\n    version: 2c\n    community: ${CITY_COMMUNITY}\n"
        "defaults:\n  credentials: city\n  ping: false\n"
        f"inventory:\n  - file: {rows[0]['_csv']}\n"
        f"influx:\n  url: {server.url}\n  org: stadtwerk\n  bucket: stadtnetz\n  token: ${{INFLUX_TOKEN}}\n"
        "  precision: s\n  flush_interval: 200ms\n  max_retry_interval: 1s\n"
        f"  spool:\n    path: spool\n{spool_options}"
    )
    return config


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


class RunningService:
    """``stadtnetz run -c CONFIG`` as a child process, with debug logging (the snapshot lines are debug)."""

    def __init__(self, config: Path, log: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.daemon = Daemon(
            [
                sys.executable,
                "-m",
                "stadtnetz.cli",
                "run",
                "-c",
                str(config),
                "--listen",
                f"127.0.0.1:{port}",
                "--log-level",
                "debug",
            ],
            log,
            env={"CITY_COMMUNITY": "public", "INFLUX_TOKEN": TOKEN},
            cwd=Path(__file__).resolve().parents[1],
        )
        self.daemon.wait_ready(self.healthy, 30, "stadtnetz run")

    def healthy(self) -> bool:
        try:
            return json.loads(get(f"{self.url}/healthz"))["status"] == "ok"
        except (OSError, ValueError):
            return False

    def metric(self, name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", get(f"{self.url}/metrics"), re.MULTILINE)
        assert match, name
        return float(match.group(1))

    def snapshots(self) -> list[tuple[int, int, int]]:
        """(timestamp, points, values) of every snapshot this process logged as spooled."""
        return [
            (int(at), int(points), int(values))
            for at, points, values in SNAPSHOT_LINE.findall(self.log.read_text(errors="replace"))
        ]


SNAPSHOT_LINE = re.compile(r"influx snapshot at (\d+): (\d+) points \((\d+) values\) of \d+ devices spooled$", re.M)


def test_the_service_writes_every_device(tmp_path: Path, city: list[dict[str, str]], victoria: VictoriaMetrics) -> None:
    config = write_config(tmp_path, city, victoria)
    service = RunningService(config, tmp_path / "service.log", free_port())
    try:

        def every_device_twice() -> bool:
            series = victoria.export('{__name__="device_status_code",snmp_status="ok"}')
            per_device = Counter(item.labels["device"] for item in series for _ in item.timestamps)
            return len(per_device) == len(city) and min(per_device.values()) >= 2

        wait_until(every_device_twice, 30, "every device in VictoriaMetrics twice")
        metrics = get(f"{service.url}/metrics")
        lint = subprocess.run(["promtool", "check", "metrics"], input=metrics.encode(), capture_output=True, timeout=60)
        assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
        assert service.metric("stadtnetz_influx_points_sent_total") > 0
        assert service.metric("stadtnetz_influx_write_errors_total") == 0
        for name in ("spool_bytes", "spool_oldest_point_age_seconds", "points_failed_total"):
            assert f"stadtnetz_influx_{name} " in metrics
        assert 'stadtnetz_influx_points_dropped_total{reason="spool_full"} 0.0' in metrics
        # a second process on the same spool directory is refused, with the reason
        second = subprocess.run(
            [sys.executable, "-m", "stadtnetz.cli", "run", "-c", str(config), "--listen", f"127.0.0.1:{free_port()}"],
            env={**os.environ, "CITY_COMMUNITY": "public", "INFLUX_TOKEN": TOKEN},
            capture_output=True,
            text=True,
            timeout=60,
        )
        said = " ".join((second.stdout + second.stderr).split())  # the console wraps long lines
        assert second.returncode == 1 and "is in use by another process" in said, said
    finally:
        service.daemon.stop()
    rows = {row["id"]: row for row in city}
    series = victoria.export()
    names = {item.name for item in series}
    assert {"interfaces_receive_bytes_total", "interfaces_utilisation_ratio", "wlan_clients", "optics_power_dbm"} <= (
        names
    )
    for item in series:
        row = rows[item.labels["device"]]
        for tag in ("kind", "site", "district"):
            assert item.labels.get(tag, "") == row[tag], (item, tag)
        assert all(stamp % (INTERVAL * 1000) == 0 for stamp in item.timestamps)  # on the poll schedule
    # what does not change reads the same in /metrics and in VictoriaMetrics
    speeds = {
        (m["device"], m["interface"]): float(v)
        for m, v in (
            (dict(re.findall(r'(\w+)="([^"]*)"', labels)), value)
            for labels, value in re.findall(r"^stadtnetz_interface_speed_bytes\{(.*)\} (\S+)$", metrics, re.M)
        )
    }
    stored = {
        (item.labels["device"], item.labels["interface"]): set(item.values)
        for item in series
        if item.name == "interfaces_speed_bytes"
    }
    assert stored and stored == {key: {value} for key, value in speeds.items()}
    log = service.log.read_text(errors="replace")
    assert TOKEN not in log and TOKEN not in metrics
    assert "writing points to InfluxDB" in log


def run_outage(tmp_path: Path, city: list[dict[str, str]], outage: float) -> dict[str, int]:
    """The server away for ``outage`` seconds, the service SIGKILLed and restarted in the middle of it."""
    server = VictoriaMetrics(tmp_path / "victoria-metrics")
    config = write_config(tmp_path, city, server)
    port = free_port()
    services: list[RunningService] = []
    try:
        first = RunningService(config, tmp_path / "service-1.log", port)
        services.append(first)
        wait_until(lambda: len(first.snapshots()) >= 3 and first.metric("stadtnetz_influx_spool_points") == 0, 30, "")
        server.stop()  # SIGTERM: the outage begins
        began = time.monotonic()
        wait_until(lambda: time.monotonic() - began >= outage / 3, outage, "a third of the outage")
        seen = len(first.snapshots())
        wait_until(lambda: len(first.snapshots()) > seen, 3 * INTERVAL, "a snapshot during the outage")
        time.sleep(INTERVAL / 2)  # between two snapshots: the log knows what the spool holds
        assert first.metric("stadtnetz_influx_points_failed_total") > 0
        first.daemon.signal(signal.SIGKILL)  # our own child, by its PID
        first.daemon.process.wait(10)
        second = RunningService(config, tmp_path / "service-2.log", port)
        services.append(second)
        wait_until(lambda: time.monotonic() - began >= outage, outage + 30, "the end of the outage")
        waiting = second.metric("stadtnetz_influx_spool_points")
        assert waiting > 0 and second.metric("stadtnetz_influx_write_errors_total") > 0
        assert second.metric("stadtnetz_influx_spool_oldest_point_age_seconds") >= outage * 0.6
        server.start()  # back, with everything it had before
        wait_until(lambda: second.metric("stadtnetz_influx_spool_points") == 0, 60, "the spool sent")
        seen = len(second.snapshots())
        wait_until(lambda: len(second.snapshots()) > seen, 3 * INTERVAL, "a snapshot after the outage")
        second.daemon.stop()  # SIGTERM: the last points are sent on the way out
        produced = first.snapshots() + second.snapshots()
        series = server.export_settled(sum(values for _, _, values in produced))
    finally:
        for service in services:
            service.daemon.stop()
        server.stop()
    recovered = re.search(r"spool .*: (\d+) unsent points in", second.log.read_text(errors="replace"))
    assert recovered is not None and int(recovered.group(1)) > 0, "the restarted service found nothing to send"
    per_stamp = Counter[int]()
    repeats = 0
    for item in series:
        counts = Counter(item.timestamps)
        repeats += sum(n - 1 for n in counts.values())
        for stamp, n in counts.items():
            per_stamp[stamp // 1000] += n
    expected = {stamp: values for stamp, _, values in produced}
    assert len(expected) == len(produced), "two snapshots with one timestamp"
    assert repeats == 0, f"{repeats} samples arrived more than once"
    missing = {
        stamp: expected[stamp] - per_stamp.get(stamp, 0)
        for stamp in expected
        if per_stamp.get(stamp) != expected[stamp]
    }
    assert not missing, f"snapshots not found whole (timestamp: values missing): {missing}"
    assert set(per_stamp) == set(expected), f"found points nobody logged: {set(per_stamp) - set(expected)}"
    summary = {
        "snapshots": len(produced),
        "points": sum(points for _, points, _ in produced),
        "values": sum(expected.values()),
        "found_values": sum(per_stamp.values()),
        "recovered_points": int(recovered.group(1)),
        "waiting_at_return": int(waiting),
    }
    print(f"outage {outage:g} s: {summary}")
    return summary


def test_outage_with_a_sigkill_loses_nothing_and_repeats_nothing(tmp_path: Path, city: list[dict[str, str]]) -> None:
    """The server is away 10 s in the default run, 60 s with STADTNETZ_LONG_TESTS=1 (the issue's figure)."""
    summary = run_outage(tmp_path, city, 60.0 if LONG else 10.0)
    assert summary["found_values"] == summary["values"]


# --- a server that finds a batch too large (HTTP 413) --------------------------------------------------------------


def test_a_batch_too_large_for_the_server_is_split_not_dropped(tmp_path: Path, victoria: VictoriaMetrics) -> None:
    # nginx in front of the database with a small body limit, as many InfluxDB servers run: it answers 413
    proxy = ReverseProxy(tmp_path / "nginx", victoria.url, max_body="16k")
    base = int(time.time()) - 3600  # all in the past: the server ignores points from the future
    count = 2000  # ~70 KB of line protocol in one record: four times the limit
    spool = Spool(tmp_path / "spool", 1 << 22, "interval", precision="s")
    batch = b"".join(f"split,device=d{i % 20} value={i}i {base + i}\n".encode() for i in range(count))
    spool.append(batch, count, base)
    huge = f"split,device=huge note=\"{'x' * 20_000}\",value=1i {base}\n"  # one line alone over the limit
    spool.append(huge.encode(), 1, base)
    writer = InfluxWriter(proxy.url, "o", "stadtnetz", timeout=5, gzip=False)
    sender = Sender(spool, writer.write, batch_size=10_000, flush_interval=0.1, retry_max=0.2)
    sender.start()
    try:
        wait_until(lambda: spool.pending_points == 0, 30, "the spool sent")
        sender.close(drain=0)
        stored = victoria.export_settled(count, '{__name__="split_value"}')
    finally:
        writer.close()
        spool.close()
        proxy.stop()
    server_values = sorted(int(v) for series in stored for v in series.values if series.labels["device"] != "huge")
    assert server_values == list(range(count))  # every point of the large batch arrived, once
    assert spool.stats.dropped["rejected"] == 1  # only the line that is too large even alone
    assert sender.stats.split_requests >= 2 and sender.stats.points_sent == count
    registry = CollectorRegistry()
    registry.register(InfluxStatsCollector(_StatsOnly(spool, sender)))
    text = generate_latest(registry).decode()
    assert f"stadtnetz_influx_write_requests_split_total {float(sender.stats.split_requests)}" in text
    assert 'stadtnetz_influx_points_dropped_total{reason="rejected"} 1.0' in text


class _StatsOnly:
    """What InfluxStatsCollector reads of an exporter: its spool and sender."""

    def __init__(self, spool: Spool, sender: Sender) -> None:
        self.spool, self.sender = spool, sender


# --- influxdb-client's own batching writer, side by side ------------------------------------------------------------


def test_influxdb_client_loses_pending_points_on_close_while_the_server_is_down_the_spool_does_not(
    tmp_path: Path,
) -> None:
    from influxdb_client import InfluxDBClient, WriteOptions

    port = free_port()  # nothing listens there yet: the server is down
    url = f"http://127.0.0.1:{port}"
    base = int(time.time()) - 3600  # within the server's retention (1 day): older points it would discard
    count = 300
    theirs = [f"theirs,device=d{i % 10} value={i}i {base + i}" for i in range(count)]
    ours = [f"ours,device=d{i % 10} value={i}i {base + i}\n" for i in range(count)]

    # influxdb-client's batching writer: the server is down when it is closed
    failed: list[int] = []
    client = InfluxDBClient(url=url, token="t", org="o")
    options = WriteOptions(  # all 300 points wait in its buffer (batch_size 1000) when close() is called
        batch_size=1000,
        flush_interval=2_000,  # its timer thread keeps the interpreter alive this long at exit
        retry_interval=100,
        max_retries=2,
        max_retry_delay=200,
        max_retry_time=2_000,
        max_close_wait=10_000,
    )
    api = client.write_api(
        write_options=options, error_callback=lambda conf, data, exc: failed.append(len(data.splitlines()))
    )
    api.write("stadtnetz", "o", theirs, write_precision="s")
    api.close()  # flushes what is pending: fails, retries, gives up
    client.close()

    # ours: the spool and its sender, the same server down, closed the same way
    spool = Spool(tmp_path / "spool", 1 << 20, "interval", precision="s")
    writer = InfluxWriter(url, "o", "stadtnetz", timeout=2)
    sender = Sender(spool, writer.write, batch_size=100, flush_interval=0.1, retry_max=0.2)
    sender.start()
    for first in range(0, count, 50):
        spool.append("".join(ours[first : first + 50]).encode(), 50, base + first)
    time.sleep(1.0)
    sender.close(drain=1.0)
    spool.close()
    assert sender.stats.points_sent == 0 and sender.stats.points_failed > 0

    server = VictoriaMetrics(tmp_path / "victoria-metrics", port=port)  # the server comes back
    try:
        spool = Spool(tmp_path / "spool", 1 << 20, "interval", precision="s")  # the next start
        sender = Sender(spool, writer.write, batch_size=100, flush_interval=0.1, retry_max=0.2)
        sender.start()
        wait_until(lambda: spool.pending_points == 0, 30, "the spool sent")
        sender.close(drain=0)
        spool.close()
        writer.close()
        with InfluxDBClient(url=url, token="t", org="o") as client, client.write_api(write_options=options) as api:
            api.write("stadtnetz", "o", f"theirs,device=d0 value=1i {base + count}", write_precision="s")  # works now
        stored = {
            name: sum(len(s.timestamps) for s in server.export_settled(least, f'{{__name__="{name}_value"}}'))
            for name, least in (("theirs", 1), ("ours", count))
        }
    finally:
        server.stop()
    print(f"influxdb-client reported {sum(failed)} points as failed; stored: {stored} of {count} each")
    assert sum(failed) == count  # it knew, and dropped them
    assert stored == {"theirs": 1, "ours": count}  # theirs: only the point written after the server came back
