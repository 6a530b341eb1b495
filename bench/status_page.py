"""The status page under load while the city of 10,000 devices is polled every 60 s: requests/s, latency, polls
on time.

The simulated city (``stadtnetz simulate``) and the collector (``stadtnetz run``, ``web.public: true``) each run in
their own process, as in ``bench/capacity.py`` (its helpers are reused). After a warm-up interval:

1. **idle**: for ``--seconds`` nobody asks for a page; the share of polls that started within 1 s of their due
   time is read from the scheduler's lag histogram (``stadtnetz_scheduler_lag_seconds``, the difference of two
   scrapes), as capacity.py reads "polls starting on time";
2. **load**: a load generator in its own process (``wrk`` when installed, else an asyncio client with the same
   number of connections) asks for ``/api/public/status`` for ``--seconds``, then for ``/public`` (gzip, as
   browsers ask); requests/s and p50/p99 latency of each, and the share of polls on time over both windows.

Last line: ``RESULT public_json_rps=<x> public_page_rps=<y> polls_on_time=<share under load>
polls_on_time_idle=<share>``. ``--quick``: 200 devices polled every 3 s, 3 s per window, figures meaningless.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capacity import start_collector  # bench/ is on sys.path when this runs as a script

from tests.support.simulation import start_simulator_process

ON_TIME = 1.0  # seconds of lag within which a poll counts as on time (a bucket bound of the histogram)


def lag_buckets(url: str) -> dict[float, float]:
    """The scheduler's cumulative lag histogram: bucket bound -> count."""
    text = urllib.request.urlopen(url, timeout=60).read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("stadtnetz_scheduler_lag_seconds_bucket{"):
            bound = line.split('le="')[1].split('"')[0]
            found[float(bound)] = float(line.rsplit(" ", 1)[1])
    return found


def on_time_share(before: dict[float, float], after: dict[float, float]) -> tuple[float, int]:
    total = after[float("inf")] - before.get(float("inf"), 0.0)
    within = after[ON_TIME] - before.get(ON_TIME, 0.0)
    return (within / total if total else float("nan")), int(total)


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        return float("nan")
    return float(match[1]) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[match[2]]


def run_wrk(url: str, seconds: float, connections: int, gzip: bool) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if gzip:
        command += ["-H", "Accept-Encoding: gzip"]
    output = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    p50 = _seconds(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)[1])
    p99 = _seconds(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)[1])
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": float(errors[1]) if errors else 0.0}


CLIENT = r"""
import asyncio, json, sys, time
import aiohttp

async def main(url, seconds, connections, gzip):
    latencies, errors = [], 0
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        async def worker():
            nonlocal errors
            while time.monotonic() < deadline:
                start = time.perf_counter()
                async with session.get(url, headers=headers, auto_decompress=False) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - start)
        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - began
    latencies.sort()
    print(json.dumps({"rps": len(latencies) / elapsed, "p50": latencies[len(latencies) // 2],
                      "p99": latencies[int(len(latencies) * 0.99)], "errors": errors}))

asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"))
"""


def run_client(url: str, seconds: float, connections: int, gzip: bool) -> dict[str, float]:
    """The asyncio load generator, in its own process (so it does not share the collector's core budget blindly)."""
    output = subprocess.run(
        [sys.executable, "-c", CLIENT, url, str(seconds), str(connections), "1" if gzip else "0"],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    return json.loads(output)


def load(url: str, seconds: float, connections: int, gzip: bool, tool: str) -> dict[str, float]:
    return run_wrk(url, seconds, connections, gzip) if tool == "wrk" else run_client(url, seconds, connections, gzip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each window")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client", choices=("auto", "wrk", "asyncio"), default="auto")
    parser.add_argument("--quick", action="store_true", help="smoke run at a tiny size (figures mean nothing)")
    args = parser.parse_args()
    warmup = args.interval + 5
    if args.quick:
        args.devices, args.interval, args.seconds, args.connections = 200, 3.0, 3.0, 8
        warmup = args.interval + 2
    tool = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "asyncio")

    with tempfile.TemporaryDirectory(prefix="stadtnetz-status-bench-") as tmp:
        workdir = Path(tmp)
        simulator, _, inventory = start_simulator_process(workdir, args.devices)
        collector = None
        try:
            collector, base = start_collector(
                workdir, inventory, args.interval, "status", "web:\n  public: true\n  title: Stadtnetz Musterstadt\n",
                timeout=180,
            )
            time.sleep(warmup)  # every device polled once
            page_bytes = len(urllib.request.urlopen(base + "public", timeout=60).read())
            json_bytes = len(urllib.request.urlopen(base + "api/public/status", timeout=60).read())
            operator = []
            for _ in range(3):
                started = time.perf_counter()
                urllib.request.urlopen(base, timeout=120).read()
                operator.append(time.perf_counter() - started)
                time.sleep(1.1)  # a new snapshot each time: a fresh render

            metrics = base + "metrics"
            cpu0 = collector.cpu_seconds()
            before = lag_buckets(metrics)
            time.sleep(args.seconds)
            idle, idle_polls = on_time_share(before, lag_buckets(metrics))
            idle_cpu = (collector.cpu_seconds() - cpu0) / args.seconds

            before = lag_buckets(metrics)
            cpu0 = collector.cpu_seconds()
            json_load = load(base + "api/public/status", args.seconds, args.connections, True, tool)
            page_load = load(base + "public", args.seconds, args.connections, True, tool)
            loaded_cpu = (collector.cpu_seconds() - cpu0) / (2 * args.seconds)
            loaded, loaded_polls = on_time_share(before, lag_buckets(metrics))
            health = urllib.request.urlopen(base + "healthz", timeout=10).read().decode()
        finally:
            if collector is not None:
                collector.stop()
            simulator.stop()

    print(f"{args.devices} devices polled every {args.interval:g} s; load: {tool}, {args.connections} connections, "
          f"{args.seconds:g} s per window, gzip")
    print(f"/public: {page_bytes / 1e3:.0f} kB ({page_load['rps']:.0f} req/s, p50 {page_load['p50'] * 1e3:.1f} ms, "
          f"p99 {page_load['p99'] * 1e3:.1f} ms, {page_load['errors']:.0f} errors)")
    print(f"/api/public/status: {json_bytes / 1e3:.0f} kB ({json_load['rps']:.0f} req/s, "
          f"p50 {json_load['p50'] * 1e3:.1f} ms, p99 {json_load['p99'] * 1e3:.1f} ms, "
          f"{json_load['errors']:.0f} errors)")
    print(f"operator overview (map of every device), fresh render and transfer: median "
          f"{statistics.median(operator):.2f} s")
    print(f"polls started within {ON_TIME:g} s of their due time: idle {idle:.1%} of {idle_polls}, under load "
          f"{loaded:.1%} of {loaded_polls}; collector CPU idle {idle_cpu:.0%}, under load {loaded_cpu:.0%} of a core")
    print(f"health: {health}")
    print(f"RESULT public_json_rps={json_load['rps']:.0f} public_page_rps={page_load['rps']:.0f} "
          f"polls_on_time={loaded:.4f} polls_on_time_idle={idle:.4f}")


if __name__ == "__main__":
    main()
