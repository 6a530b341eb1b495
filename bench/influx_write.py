"""Points per second and CPU per 10,000 points into VictoriaMetrics: through our spool, and through influxdb-client.

The same line protocol goes to the same VictoriaMetrics (started here, in a temp dir on a free port of
127.0.0.1, its InfluxDB endpoint ``/api/v2/write``) by each writer in turn:

1. **ours** -- what the exporter does: the lines of one snapshot joined into records of ``--batch`` lines and
   appended to a :class:`exporters.spool.Spool` (``fsync: interval``, 1 s: the default), while the
   :class:`exporters.influx.Sender` thread reads them back and writes them with influxdb-client's write
   service, gzip level 1 (:class:`exporters.influx.InfluxWriter`), acknowledging each request to the spool.
   Rows also for ``fsync: always`` and for gzip level 9 (what influxdb-client's ``enable_gzip`` uses), so the
   share of each choice shows.
2. **influxdb-client** -- its batching ``write_api`` (``WriteOptions(batch_size=--batch, flush_interval=1000)``,
   ``enable_gzip=True``), given the same lines as a list of strings, then ``close()``, which returns once
   every batch is written.

Input: a synthetic city of ``--devices`` hotspots and switches (interfaces, WLAN radios, status) encoded by
:class:`exporters.line_protocol.LineEncoder` into ``--points`` lines (several snapshots of the city), outside the
measurement; every run gets timestamps of its own (hours ago: within the server's retention), and its
points are counted in VictoriaMetrics afterwards (a run that stored fewer values than it sent fails the bench).
A run is timed from the first line handed over until the last point is acknowledged; CPU is this process'
user + system time (``getrusage``, all threads) over the same span, VictoriaMetrics' CPU is shown beside it.
Rounds are interleaved, the order rotated each round; the table shows the median and min..max.

The last line is ``RESULT spool_overhead_ratio=<ours CPU per point / influxdb-client's>`` (the default row;
target <= 1.5).

Run::

    .venv/bin/python bench/influx_write.py
    .venv/bin/python bench/influx_write.py --points 400000 --repeat 5
    .venv/bin/python bench/influx_write.py --quick   # smoke run: 200 devices, 5,000 points, 1 round
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from exporters.influx import InfluxWriter, Sender  # noqa: E402
from exporters.line_protocol import LineEncoder  # noqa: E402
from exporters.spool import Spool  # noqa: E402
from stadtnetz.clock import SystemClock  # noqa: E402
from stadtnetz.labels import NO_LABELS, Labels  # noqa: E402
from stadtnetz.model import Device, MetricDef, MetricKind, Reading  # noqa: E402
from stadtnetz.status.state import State  # noqa: E402
from tests.support.processes import process_cpu_seconds  # noqa: E402
from tests.support.victoriametrics import VictoriaMetrics  # noqa: E402

RX = MetricDef("stadtnetz_interface_receive_bytes", MetricKind.COUNTER, "rx")
TX = MetricDef("stadtnetz_interface_transmit_bytes", MetricKind.COUNTER, "tx")
ERRORS = MetricDef("stadtnetz_interface_receive_errors", MetricKind.COUNTER, "errors")
SPEED = MetricDef("stadtnetz_interface_speed_bytes", MetricKind.GAUGE, "speed")
UTILISATION = MetricDef("stadtnetz_interface_utilisation_ratio", MetricKind.GAUGE, "utilisation")
OPER = MetricDef("stadtnetz_interface_oper_status", MetricKind.ENUM, "oper")
CLIENTS = MetricDef("stadtnetz_wlan_clients", MetricKind.GAUGE, "clients")
CHANNEL = MetricDef("stadtnetz_wlan_channel_utilisation_ratio", MetricKind.GAUGE, "channel")
UPTIME = MetricDef("stadtnetz_uptime_seconds", MetricKind.GAUGE, "uptime")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def synthetic_state(devices: int) -> State:
    """A city of hotspots (3 interfaces, 2 radios) and switches (24 interfaces), each polled twice."""
    clock = SystemClock()
    inventory = [
        Device(
            f"hs-{i:05d}" if i % 20 else f"sw-{i:05d}",
            "hotspot" if i % 20 else "distribution_switch",
            "127.0.0.1",
            site=f"Standort {i // 7} Altstadt",
            district=("Altstadt", "Nordstadt", "Südviertel")[i % 3],
            credentials="city",
        )
        for i in range(devices)
    ]
    state = State(inventory, clock)
    for round_number in range(2):
        for index, device in enumerate(inventory):
            readings = [Reading(UPTIME, NO_LABELS, 360_000.0 + round_number * 60)]
            for interface in range(24 if device.kind == "distribution_switch" else 3):
                labels = Labels.of(if_index=str(interface + 1), interface=f"eth{interface}")
                traffic = (index + 1) * (interface + 1) * (round_number + 1) * 1_000_003
                readings += [
                    Reading(RX, labels, traffic, 64, 125e6, UTILISATION, "receive"),
                    Reading(TX, labels, traffic // 3, 64, 125e6, UTILISATION, "transmit"),
                    Reading(ERRORS, labels, round_number, 64),
                    Reading(SPEED, labels, 125e6),
                    Reading(OPER, labels.plus("state", "up"), 1.0),
                ]
            if device.kind == "hotspot":
                for band in ("2.4GHz", "5GHz"):
                    readings.append(Reading(CLIENTS, Labels.of(band=band, ssid="Musterstadt-Free-WLAN"), index % 17))
                    readings.append(Reading(CHANNEL, Labels.of(band=band), 0.25))
            state.record_poll(device.id, readings, 36_000_000 + round_number * 6000, None, 0.01)
    return state


def make_input(state: State, points: int, start: float) -> tuple[list[str], int, float, float]:
    """Whole snapshots of ``state``, one second apart from ``start``, until at least ``points`` lines;
    (lines, values, first timestamp, last timestamp)."""
    encoder = LineEncoder("s")
    lines: list[str] = []
    values = 0
    at = start
    while len(lines) < points:
        snapshot, count = encoder.encode(state.exported(), at)
        lines += snapshot
        values += count
        at += 1
    return lines, values, start, at - 1


@dataclass(slots=True)
class Run:
    wall_s: float
    cpu_s: float
    server_cpu_s: float
    points: int
    stored: int
    values: int

    @property
    def cpu_per_10k_ms(self) -> float:
        return self.cpu_s / self.points * 10_000 * 1e3

    @property
    def points_per_s(self) -> float:
        return self.points / self.wall_s


@dataclass(slots=True)
class Series:
    name: str
    label: str
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.runs)

    def spread(self, attribute: str) -> tuple[float, float]:
        values = [getattr(run, attribute) for run in self.runs]
        return min(values), max(values)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ours(fsync: str, gzip_level: int) -> Callable[[VictoriaMetrics, list[str], int, Path], None]:
    def write(server: VictoriaMetrics, lines: list[str], batch: int, workdir: Path) -> None:
        directory = Path(tempfile.mkdtemp(prefix="spool-", dir=workdir))
        spool = Spool(directory, 4 << 30, fsync, 1.0, "s")
        writer = InfluxWriter(server.url, "stadtwerk", "stadtnetz", gzip_level=gzip_level)
        sender = Sender(spool, writer.write, batch_size=batch, flush_interval=1.0, retry_max=1.0)
        sender.start()
        first = 0
        while first < len(lines):
            chunk = lines[first : first + batch]
            spool.append("".join(chunk).encode(), len(chunk), 0.0)
            first += batch
        sender.close(drain=600)  # like influxdb-client's close(): send what is left without waiting flush_interval
        if spool.pending_points:
            raise SystemExit(f"ours: {spool.pending_points} points were not acknowledged")
        spool.close()
        writer.close()
        if sender.stats.write_errors:
            raise SystemExit(f"ours: {sender.stats.write_errors} write errors")
        shutil.rmtree(directory, ignore_errors=True)

    return write


def influxdb_client_batching(server: VictoriaMetrics, lines: list[str], batch: int, workdir: Path) -> None:
    from influxdb_client import InfluxDBClient, WriteOptions

    errors: list[BaseException] = []
    with InfluxDBClient(url=server.url, token="bench", org="stadtwerk", enable_gzip=True) as client:
        api = client.write_api(
            write_options=WriteOptions(batch_size=batch, flush_interval=1_000),
            error_callback=lambda _conf, _data, exc: errors.append(exc),
        )
        api.write("stadtnetz", "stadtwerk", lines, write_precision="s")
        api.close()  # returns once every batch was written
    if errors:
        raise SystemExit(f"influxdb-client: {len(errors)} batches failed: {errors[0]}")


def stored_values(server: VictoriaMetrics, first: float, last: float, expected: int) -> int:
    """The values VictoriaMetrics holds between ``first`` and ``last``, once it shows ``expected`` (or after 30 s:
    fewer means points were lost). It ingests asynchronously: counted at once, the count raced it."""
    series = server.export_settled(expected, '{__name__=~"(interfaces|wlan|device)_.+"}', start=first, end=last)
    return sum(len(item.timestamps) for item in series)


def run_one(
    server: VictoriaMetrics,
    write: Callable[[VictoriaMetrics, list[str], int, Path], None],
    state: State,
    args: argparse.Namespace,
    start: float,
    workdir: Path,
) -> Run:
    lines, values, first, last = make_input(state, args.points, start)
    assert server.daemon is not None
    server_before = process_cpu_seconds(server.daemon.pid)
    cpu_before, wall_before = cpu_seconds(), time.perf_counter()
    write(server, lines, args.batch, workdir)
    wall, cpu = time.perf_counter() - wall_before, cpu_seconds() - cpu_before
    server_cpu = process_cpu_seconds(server.daemon.pid) - server_before
    stored = stored_values(server, first, last, values)
    if stored != values:
        raise SystemExit(f"VictoriaMetrics stored {stored} of the {values} values sent")
    return Run(wall, cpu, server_cpu, len(lines), stored, values)


def print_table(series: list[Series], args: argparse.Namespace) -> None:
    print(
        f"\n{series[0].runs[0].points:,} points a run ({args.devices:,} devices per snapshot), "
        f"batches of {args.batch:,}, gzip, precision s; median of {args.repeat} rounds (min..max); "
        f"{os.cpu_count()} cores"
    )
    header = f"{'writer':<56} {'points/s':>10} {'CPU per 10,000 points':>26} {'VictoriaMetrics CPU':>20} {'stored':>8}"
    print(header)
    print("-" * len(header))
    for item in series:
        low, high = item.spread("cpu_per_10k_ms")
        cpu = f"{item.median('cpu_per_10k_ms'):6.1f} ms ({low:.1f}..{high:.1f})"
        server = statistics.median(run.server_cpu_s / run.points * 10_000 * 1e3 for run in item.runs)
        stored = "all" if all(run.stored == run.values for run in item.runs) else "MISSING"
        print(f"{item.label:<56} {item.median('points_per_s'):>10,.0f} {cpu:>26} {server:>17.1f} ms {stored:>8}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200_000, help="points (lines) per run")
    parser.add_argument("--devices", type=int, default=2_000, help="devices in the synthetic city")
    parser.add_argument("--batch", type=int, default=5_000, help="points per write request")
    parser.add_argument("--repeat", type=int, default=3, help="rounds")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 200 devices, 5,000 points in batches of 1,000, one round"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.devices, args.points, args.batch, args.repeat = 200, 5_000, 1_000, 1
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-influx-write-"))
    writers: dict[str, tuple[str, Callable[[VictoriaMetrics, list[str], int, Path], None]]] = {
        "ours": ("ours: spool (fsync interval) + sender, gzip 1", ours("interval", 1)),
        "ours_always": ("ours: spool (fsync always) + sender, gzip 1", ours("always", 1)),
        "ours_gzip9": ("ours: spool (fsync interval) + sender, gzip 9", ours("interval", 9)),
        "client": ("influxdb-client batching write_api, gzip (9)", influxdb_client_batching),
    }
    server = VictoriaMetrics(workdir / "victoria-metrics")
    try:
        log(f"synthetic city of {args.devices} devices ...")
        state = synthetic_state(args.devices)
        start = float(int(time.time()) - 4 * 3600)  # every run 100 s later; all in the past, within retention
        log("warm-up ...")
        warm = argparse.Namespace(**{**vars(args), "points": min(args.points, 20_000)})
        for _, write in writers.values():
            run_one(server, write, state, warm, start, workdir)
            start += 100
        series = {name: Series(name, label) for name, (label, _) in writers.items()}
        names = list(writers)
        for round_number in range(args.repeat):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                run = run_one(server, writers[name][1], state, args, start, workdir)
                start += 100
                series[name].runs.append(run)
                log(
                    f"round {round_number + 1}/{args.repeat} {name:>12}: {run.points_per_s:>9,.0f} points/s, "
                    f"{run.cpu_per_10k_ms:6.1f} ms CPU per 10,000 points, {run.wall_s:5.2f} s"
                )
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(list(series.values()), args)
    ratio = series["ours"].median("cpu_per_10k_ms") / series["client"].median("cpu_per_10k_ms")
    speed = series["ours"].median("points_per_s") / series["client"].median("points_per_s")
    print(f"ours / influxdb-client: CPU per point {ratio:.2f}, points per second {speed:.2f}")
    print(f"RESULT spool_overhead_ratio={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
