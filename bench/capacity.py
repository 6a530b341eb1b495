"""Capacity of the collector: a 10,000-device city polled every 60 s, and /metrics rendering.

Two measurements, one run:

1. The collector (``stadtnetz run``) polls the simulated city (``stadtnetz
   simulate``, its own process) every 60 s. After one warm-up interval the
   collector's CPU (user + system from /proc) is read over ``--intervals``
   intervals: its share of one core, its RSS, the state's memory per device,
   and the time ``/metrics`` takes to render and serve.
2. Rendering the same 100,000 samples with our exporter and with
   prometheus_client's ``generate_latest`` (labelled Gauge/Counter objects
   already holding their values, its cheapest path).

Last line: ``RESULT cpu_share_10k=<x> render_ratio_vs_prometheus_client=<y> rss_mb=<z>``
(cpu share: of one core; render ratio: prometheus_client time / ours).

``--quick`` runs the same code at a tiny size (100 devices every 3 s, one measured interval, 5,000
samples rendered), a smoke run of a few seconds whose figures mean nothing.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from exporters.prometheus import render_state
from stadtnetz.clock import SystemClock
from stadtnetz.labels import Labels
from stadtnetz.model import Device, MetricDef, MetricKind, Reading
from stadtnetz.status.state import State
from tests.support.processes import Daemon, free_port
from tests.support.simulation import start_simulator_process

SERIES_PER_DEVICE = 50


def synthetic_state(samples: int) -> tuple[State, list[tuple[MetricDef, str, str, float]]]:
    """A state holding ``samples`` series (50 per device), and the same series as plain tuples."""
    devices = [
        Device(
            id=f"hs-{i:05d}",
            kind="hotspot",
            host="127.0.0.1",
            site=f"Marktplatz {i % 97}",
            district="Altstadt",
            credentials="city",  # polled over SNMP: /metrics shows SNMP series only of such devices
        )
        for i in range(samples // SERIES_PER_DEVICE)
    ]
    state = State(devices, SystemClock())
    metrics = [MetricDef(f"stadtnetz_bench_gauge_{m}", MetricKind.GAUGE, "a gauge") for m in range(5)] + [
        MetricDef(f"stadtnetz_bench_counter_{m}", MetricKind.COUNTER, "a counter") for m in range(5)
    ]
    flat = []
    for n, device in enumerate(devices):
        readings = []
        for interface in range(SERIES_PER_DEVICE // len(metrics)):
            labels = Labels.of(if_index=str(interface + 1), interface=f"eth{interface}")
            for m, metric in enumerate(metrics):
                value = float(n * 1000 + interface * 10 + m) + 0.25
                counter = metric.kind is MetricKind.COUNTER
                readings.append(Reading(metric, labels, int(value) if counter else value, bits=64 if counter else 0))
                flat.append((metric, device.id, f"eth{interface}", value))
        state.record_poll(device.id, readings, 1000, None, 0.001)
    return state, flat


def render_comparison(samples: int, repeat: int) -> tuple[float, float]:
    state, flat = synthetic_state(samples)
    registry = CollectorRegistry()
    families: dict[str, Gauge | Counter] = {}
    labelnames = ["device", "kind", "site", "district", "if_index", "interface"]
    for metric, device_id, interface, value in flat:
        family = families.get(metric.name)
        if family is None:
            cls = Counter if metric.kind is MetricKind.COUNTER else Gauge
            family = families[metric.name] = cls(metric.name, metric.help, labelnames, registry=registry)
        child = family.labels(device_id, "hotspot", "x", "Altstadt", interface[3:], interface)
        if isinstance(child, Counter):
            child.inc(int(value))
        else:
            child.set(value)
    ours, theirs = [], []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        body = render_state(state)
        ours.append(time.perf_counter() - start)
        gc.collect()
        start = time.perf_counter()
        generate_latest(registry)
        theirs.append(time.perf_counter() - start)
    rendered = sum(1 for line in body.splitlines() if line.startswith("stadtnetz_bench_"))
    if rendered != len(flat):
        raise SystemExit(f"our exporter rendered {rendered} of the {len(flat)} series in the state")
    return statistics.median(ours), statistics.median(theirs)


def state_bytes_per_device(devices: int = 1000) -> float:
    """Memory the state holds per device of 30 series (tracemalloc), the inventory's Device objects excluded."""
    metrics = [MetricDef(f"stadtnetz_m{m}", MetricKind.COUNTER if m % 2 else MetricKind.GAUGE, "") for m in range(6)]
    devs = [
        Device(id=f"hs-{i:05d}", kind="hotspot", host="127.0.0.1", site="Marktplatz", district="Altstadt")
        for i in range(devices)
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    state = State(devs, SystemClock())
    for device in devs:  # each poll builds its readings afresh, as the poller does
        readings = [
            Reading(metric, Labels.of(if_index=str(i), interface=f"eth{i}"), 12345, bits=64)
            for i in range(5)
            for metric in metrics
        ]
        state.record_poll(device.id, readings, 1000, None, 0.001)
    del readings
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert all(len(state[d.id].keys) == 30 for d in devs)
    return (after - before) / devices


def _lag_quantile(exposition: str, quantile: float) -> float:
    """A quantile of stadtnetz_scheduler_lag_seconds from the collector's own histogram."""
    buckets = []
    for line in exposition.splitlines():
        if line.startswith("stadtnetz_scheduler_lag_seconds_bucket{"):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if count >= quantile * total:
            return bound
    return float("nan")


def start_collector(
    workdir: Path, inventory: Path, interval: float, name: str, extra: str = "", timeout: float = 120
) -> tuple[Daemon, str]:
    """``stadtnetz run`` polling ``inventory`` every ``interval`` s (``extra``: more YAML), once it answers
    /healthz; the collector and its base URL (``http://127.0.0.1:PORT/``). Also used by bench/status_page.py."""
    listen = free_port()
    config = workdir / f"{name}.yaml"
    config.write_text(
        "settings:\n"
        f"  interval: {interval}s\n  timeout: 2s\n  retries: 1\n  concurrency: 256\n"
        f"  listen: 127.0.0.1:{listen}\n"
        "credentials:\n  city:\n    version: 2c\n    community: ${BENCH_COMMUNITY}\n"
        "defaults:\n  credentials: city\n"
        f"inventory:\n  - file: {inventory}\n" + extra
    )
    collector = Daemon(
        [sys.executable, "-m", "stadtnetz.cli", "run", "-c", str(config)],
        workdir / "collector.log",
        env={"BENCH_COMMUNITY": "public"},
    )
    base = f"http://127.0.0.1:{listen}/"

    def serving() -> bool:
        try:
            urllib.request.urlopen(base + "healthz", timeout=2).read()
            return True
        except OSError:
            return False

    try:
        collector.wait_ready(serving, timeout, "collector")
    except BaseException:
        collector.stop()
        raise
    return collector, base


def collector_capacity(
    devices: int, interval: float, intervals: int, warmup: float, workdir: Path
) -> dict[str, float]:
    simulator, _, inventory = start_simulator_process(workdir, devices)
    collector = None
    try:
        collector, base = start_collector(workdir, inventory, interval, "capacity")
        url = base + "metrics"
        time.sleep(warmup)  # every device polled once
        cpu0, wall0 = collector.cpu_seconds(), time.monotonic()
        time.sleep(interval * intervals)
        cpu1, wall1 = collector.cpu_seconds(), time.monotonic()
        renders, gzipped = [], []
        size = compressed = 0
        for _ in range(3):
            start = time.perf_counter()
            size = len(urllib.request.urlopen(url, timeout=60).read())
            renders.append(time.perf_counter() - start)
            start = time.perf_counter()  # as Prometheus asks for it
            request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
            compressed = len(urllib.request.urlopen(request, timeout=60).read())
            gzipped.append(time.perf_counter() - start)
        lag = _lag_quantile(urllib.request.urlopen(url, timeout=60).read().decode(), 0.99)
        rss = int(Path(f"/proc/{collector.pid}/status").read_text().split("VmRSS:")[1].split()[0]) / 1024
        health = urllib.request.urlopen(url.replace("metrics", "healthz"), timeout=5).read().decode()
        return {
            "cpu_share": (cpu1 - cpu0) / (wall1 - wall0),
            "rss_mb": rss,
            "scrape_seconds": statistics.median(renders),
            "scrape_gzip_seconds": statistics.median(gzipped),
            "metrics_mb": size / 1e6,
            "metrics_gzip_mb": compressed / 1e6,
            "lag_p99": lag,
            "health": health,  # type: ignore[dict-item]
        }
    finally:
        if collector is not None:
            collector.stop()
        simulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--intervals", type=int, default=2, help="measured intervals after one warm-up interval")
    parser.add_argument("--samples", type=int, default=100_000, help="samples for the render comparison")
    parser.add_argument("--skip-collector", action="store_true", help="only the render and memory measurements")
    parser.add_argument("--quick", action="store_true", help="smoke run at a tiny size (figures mean nothing)")
    args = parser.parse_args()
    warmup = args.interval + 5
    if args.quick:
        args.devices, args.interval, args.intervals, args.samples = 100, 3.0, 1, 5_000
        warmup = args.interval + 1

    ours, theirs = render_comparison(args.samples, repeat=2 if args.quick else 5)
    per_device = state_bytes_per_device(100 if args.quick else 1000)
    print(
        f"render {args.samples} samples: ours {ours * 1e3:.1f} ms, prometheus_client {theirs * 1e3:.1f} ms "
        f"({theirs / ours:.1f}x)"
    )
    print(f"state memory per device with 30 series: {per_device:.0f} bytes")
    share = rss = float("nan")
    if not args.skip_collector:
        with tempfile.TemporaryDirectory(prefix="stadtnetz-capacity-") as tmp:
            result = collector_capacity(args.devices, args.interval, args.intervals, warmup, Path(tmp))
        share, rss = result["cpu_share"], result["rss_mb"]
        print(
            f"collector, {args.devices} devices every {args.interval:g} s: "
            f"CPU {share:.1%} of one core, RSS {rss:.0f} MB"
        )
        print(
            f"/metrics: {result['metrics_mb']:.1f} MB in {result['scrape_seconds']:.2f} s; gzip (as Prometheus asks) "
            f"{result['metrics_gzip_mb']:.1f} MB in {result['scrape_gzip_seconds']:.2f} s; "
            f"99% of polls started within {result['lag_p99']:g} s of their due time"
        )
        print(f"health: {result['health']}")
    print(f"RESULT cpu_share_10k={share:.3f} render_ratio_vs_prometheus_client={theirs / ours:.2f} rss_mb={rss:.0f}")


if __name__ == "__main__":
    main()
