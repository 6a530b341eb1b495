"""CPU and wall time of one ping sweep: our ``collectors.ping.Pinger`` against fping 5.1 and icmplib 3.

A sweep is one ICMP echo request to each of N loopback addresses (127.100.0.1, 127.100.0.2, ...; the kernel
answers every one), timeout 1 s, 56 bytes of payload (fping's and icmplib's default; ours is set to match),
for N in ``--hosts`` (default 1,000 and 10,000). Three pingers, one after another in each round, the order
rotated from round to round so drift in the machine's load hits all of them alike:

1. **ours** -- :meth:`collectors.ping.Pinger.sweep` with a raw socket in this process, ``max_rate`` unlimited
   (like fping ``-i0``). A fresh pinger per round with its socket opened before the clock starts (a running
   collector keeps it open; a fresh one keeps other tools' replies, which a raw socket also receives, out of
   our numbers). CPU is this process' user+system time (``getrusage``) around the sweep, target parsing
   included. A second row (``--paced-rate``, default 2,000/s, 0 to skip) runs it at the default send rate.
2. **fping** -- ``fping -C1 -q -i0 -t 1000 -f FILE`` (/usr/bin/fping, 5.1) as a child process; CPU is its
   user+system time from ``os.wait4``, so it includes fping's process start (shown on its own as
   "fping, 1 host": that fixed cost is what fping pays per invocation, as when a collector runs it per sweep).
3. **icmplib** -- ``async_multiping(hosts, count=1, timeout=1, privileged=True)`` with its default concurrency
   (50 tasks, a raw socket each), in a worker process of its own; CPU is the worker's user+system time around
   the call (its interpreter start and imports are not counted).

Every round checks that each pinger got a reply from every host. Other work on the machine makes the numbers
noisy: the table shows the median of ``--repeat`` rounds and min..max beside it, and the load average.

The last line is ``RESULT cpu_per_host_ratio_vs_fping=<ours/fping>`` (CPU per host at 10,000 hosts, or at the
largest N asked for; below 1 means we spend less CPU per host than fping).

Run (root, or with CAP_NET_RAW; only 127.0.0.0/8 is ever pinged)::

    .venv/bin/python bench/ping_sweep.py
    .venv/bin/python bench/ping_sweep.py --hosts 1000,10000 --repeat 5
    .venv/bin/python bench/ping_sweep.py --quick   # smoke run: 100 hosts, one round (figures mean nothing)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from collectors.ping import Pinger  # noqa: E402

FPING = "/usr/bin/fping"
TIMEOUT_S = 1.0
PAYLOAD = 56  # fping's and icmplib's default payload size
MAX_HOSTS = 250 * 250 * 100


def loopback_hosts(count: int) -> list[str]:
    """``count`` distinct addresses 127.100.0.1, 127.100.0.2, ... (kernel-answered loopback only)."""
    if not 0 < count <= MAX_HOSTS:
        raise SystemExit(f"--hosts: 1..{MAX_HOSTS} per sweep")
    return [f"127.{100 + i // 62_500}.{i // 250 % 250}.{i % 250 + 1}" for i in range(count)]


@dataclass(slots=True)
class Sweep:
    """One pinger sweeping N hosts once."""

    wall_s: float
    user_s: float
    sys_s: float
    replies: int
    hosts: int

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


@dataclass(slots=True)
class Series:
    tool: str
    label: str
    hosts: int
    sweeps: list[Sweep] = field(default_factory=list)

    def per_host_us(self) -> list[float]:
        return [s.cpu_s / s.hosts * 1e6 for s in self.sweeps]

    def median_per_host_us(self) -> float:
        return statistics.median(self.per_host_us())


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# --------------------------------------------------------------------------- 1. ours


class Ours:
    def __init__(self, max_rate: float) -> None:
        self.max_rate = max_rate
        self.runner = asyncio.Runner()

    def close(self) -> None:
        self.runner.close()

    async def _sweep(self, hosts: Sequence[str]) -> Sweep:
        async with Pinger(max_rate=self.max_rate, socket_kind="raw", payload_size=PAYLOAD) as pinger:
            pinger.open_socket()
            before = resource.getrusage(resource.RUSAGE_SELF)
            wall0 = time.perf_counter()
            results = await pinger.sweep(hosts, count=1, timeout=TIMEOUT_S)
            wall = time.perf_counter() - wall0
            after = resource.getrusage(resource.RUSAGE_SELF)
        replies = sum(stats.received for stats in results.values())
        return Sweep(wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime, replies, len(hosts))

    def sweep(self, hosts: Sequence[str], workdir: Path) -> Sweep:
        return self.runner.run(self._sweep(hosts))


# --------------------------------------------------------------------------- 2. fping


class Fping:
    def close(self) -> None:
        pass

    def sweep(self, hosts: Sequence[str], workdir: Path) -> Sweep:
        targets = workdir / f"fping-{len(hosts)}.txt"
        if not targets.exists():
            targets.write_text("\n".join(hosts) + "\n")
        output = workdir / "fping.out"
        with output.open("w") as sink:
            wall0 = time.perf_counter()
            child = subprocess.Popen(
                [FPING, "-C1", "-q", "-i0", "-t", str(int(TIMEOUT_S * 1000)), "-f", str(targets)],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - wall0
            child.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4; tell Popen
        # -C1 -q prints "host : rtt" per host ("-" for no reply) on stderr
        wanted = set(hosts)
        answered = set()
        for line in output.read_text().splitlines():
            host, sep, value = line.partition(" : ")
            if sep and host.strip() in wanted and value.strip() not in ("-", ""):
                answered.add(host.strip())
        replies = len(answered)
        return Sweep(wall, usage.ru_utime, usage.ru_stime, replies, len(hosts))


# --------------------------------------------------------------------------- 3. icmplib (worker process)


def icmplib_worker() -> None:
    """Child process: one JSON command per line on stdin (a host file to sweep), one JSON answer per line."""
    from icmplib import async_multiping

    for line in sys.stdin:
        command = json.loads(line)
        hosts = Path(command["hosts_file"]).read_text().split()
        before = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        results = asyncio.run(async_multiping(hosts, count=1, timeout=TIMEOUT_S, privileged=True))
        wall = time.perf_counter() - wall0
        after = resource.getrusage(resource.RUSAGE_SELF)
        answer = {
            "wall_s": wall,
            "user_s": after.ru_utime - before.ru_utime,
            "sys_s": after.ru_stime - before.ru_stime,
            "replies": sum(1 for host in results if host.is_alive),
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


class Icmplib:
    def __init__(self, workdir: Path) -> None:
        self.stderr = (workdir / "icmplib-worker.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--icmplib-worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            cwd=REPO,
        )
        self.log_path = workdir / "icmplib-worker.log"

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()  # our own child, by its PID
            self.process.wait(10)
        self.stderr.close()

    def sweep(self, hosts: Sequence[str], workdir: Path) -> Sweep:
        targets = workdir / f"icmplib-{len(hosts)}.txt"
        if not targets.exists():
            targets.write_text("\n".join(hosts) + "\n")
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"hosts_file": str(targets)}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"icmplib worker exited ({self.process.poll()}):\n{self.log_path.read_text()[-3000:]}")
        answer: dict[str, Any] = json.loads(line)
        return Sweep(answer["wall_s"], answer["user_s"], answer["sys_s"], answer["replies"], len(hosts))


# --------------------------------------------------------------------------- the run


def print_table(series: list[Series], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"ping sweep of loopback hosts, one echo each, timeout {TIMEOUT_S:g} s, {PAYLOAD}-byte payload, "
        f"{args.repeat} round(s)",
        title_justify="left",
    )
    table.caption = (
        "CPU = user+system of the pinger's process (median of the rounds; min..max beside it); kernel = system "
        "share of that CPU (Linux splits user/system by tick samples: approximate); replies = hosts that answered, "
        "fewest of the rounds"
    )
    for header in ("hosts", "pinger", "CPU µs/host", "min..max", "CPU ms/sweep", "kernel", "wall s", "replies"):
        table.add_column(header, justify="left" if header == "pinger" else "right")
    for s in series:
        per_host = s.per_host_us()
        cpu = sum(x.cpu_s for x in s.sweeps)
        table.add_row(
            f"{s.hosts:,}",
            s.label,
            f"{s.median_per_host_us():.1f}",
            f"{min(per_host):.1f}..{max(per_host):.1f}",
            f"{statistics.median(x.cpu_s for x in s.sweeps) * 1e3:.1f}",
            f"{sum(x.sys_s for x in s.sweeps) / cpu:.0%}" if cpu else "-",
            f"{statistics.median(x.wall_s for x in s.sweeps):.3f}",
            f"{min(x.replies for x in s.sweeps):,}/{s.hosts:,}",
        )
    Console(width=150).print(table)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ping_sweep.py",
        description="CPU and wall time of one ICMP echo to each of N loopback hosts: collectors.ping vs "
        "fping 5.1 (-C1 -q -i0 -t 1000) vs icmplib 3 (async_multiping, count=1, privileged).",
        epilog="Last line: RESULT cpu_per_host_ratio_vs_fping=<ours/fping at 10,000 hosts or the largest N>",
    )
    parser.add_argument("--hosts", default="1000,10000", help="comma-separated sweep sizes (default 1000,10000)")
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds per size; the median counts (default 5)")
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=2000.0,
        help="also run ours at this max_rate (packets/s; default 2000, the Pinger default; 0 skips it)",
    )
    parser.add_argument("--no-icmplib", action="store_true", help="skip icmplib (it is the slowest by far)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every round's numbers to FILE")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 hosts, one round, every pinger")
    parser.add_argument("--icmplib-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.hosts, args.repeat = "100", 1
    try:
        args.hosts = [int(part.replace("_", "")) for part in args.hosts.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--hosts must be comma-separated integers, got {args.hosts!r}")
    if not args.hosts or min(args.hosts) < 1 or max(args.hosts) > MAX_HOSTS:
        parser.error(f"--hosts: each size must be 1..{MAX_HOSTS}")
    if args.repeat < 1 or args.paced_rate < 0:
        parser.error("--repeat must be at least 1 and --paced-rate not negative")
    return args


def run(args: argparse.Namespace, workdir: Path) -> int:
    if not Path(FPING).exists():
        raise SystemExit(f"{FPING} is missing: apt-get install -y --no-install-recommends fping")
    if not args.no_icmplib:
        try:
            import icmplib  # noqa: F401
        except ImportError:
            raise SystemExit("icmplib is missing: .venv/bin/pip install -e '.[bench]' (or make bench)") from None
    pingers: dict[str, tuple[str, Any]] = {"ours": ("ours (collectors.ping, raw, unlimited)", Ours(math.inf))}
    if args.paced_rate:
        pingers["ours_paced"] = (f"ours, max_rate {args.paced_rate:g}/s", Ours(args.paced_rate))
    pingers["fping"] = ("fping 5.1 -C1 -q -i0", Fping())
    if not args.no_icmplib:
        pingers["icmplib"] = ("icmplib 3 async_multiping", Icmplib(workdir))
    series: list[Series] = []
    fping_start = Series("fping_start", "fping, 1 host (process start)", 1)
    try:
        log("warm-up (imports, first sockets) ...")
        for _, pinger in pingers.values():
            pinger.sweep(loopback_hosts(100), workdir)
        load_before = load_average()
        for n in args.hosts:
            hosts = loopback_hosts(n)
            row = {name: Series(name, label, n) for name, (label, _) in pingers.items()}
            series.extend(row.values())
            names = list(pingers)
            for round_number in range(args.repeat):
                order = names[round_number % len(names) :] + names[: round_number % len(names)]
                for name in order:
                    result = pingers[name][1].sweep(hosts, workdir)
                    if result.replies != n:
                        raise SystemExit(f"{name}: {result.replies} of {n} hosts answered in round {round_number + 1}")
                    row[name].sweeps.append(result)
                    log(
                        f"{n:>6} hosts, round {round_number + 1}/{args.repeat}, {name:>10}: "
                        f"{result.cpu_s * 1e3:8.1f} ms CPU, {result.cpu_s / n * 1e6:6.1f} µs/host, "
                        f"{result.wall_s:6.3f} s wall"
                    )
        for _ in range(args.repeat):
            fping_start.sweeps.append(pingers["fping"][1].sweep(["127.100.0.1"], workdir))
        load_after = load_average()
    finally:
        for _, pinger in pingers.values():
            pinger.close()

    print_table([*series, fping_start], args)
    print(f"load average (1/5/15 min) before: {load_before}; after: {load_after}; cores: {os.cpu_count()}")
    start_ms = statistics.median(x.cpu_s for x in fping_start.sweeps) * 1e3
    print(f"fping's fixed cost per invocation (1 host): {start_ms:.1f} ms CPU; it is inside every fping row")
    by_key = {(s.tool, s.hosts): s for s in series}
    for n in args.hosts:
        ours, fping = by_key["ours", n], by_key["fping", n]
        spread = {
            s.tool: (max(s.per_host_us()) - min(s.per_host_us())) / s.median_per_host_us()
            for s in series
            if s.hosts == n
        }
        line = f"{n:>6} hosts: ours/fping = {ours.median_per_host_us() / fping.median_per_host_us():.2f}"
        if ("icmplib", n) in by_key:
            line += f", icmplib/ours = {by_key['icmplib', n].median_per_host_us() / ours.median_per_host_us():.1f}"
        noise = ", ".join(f"{tool} {value:.0%}" for tool, value in spread.items())
        print(f"{line}; round-to-round spread (max-min)/median: {noise}")
    result_n = 10_000 if 10_000 in args.hosts else max(args.hosts)
    ratio = by_key["ours", result_n].median_per_host_us() / by_key["fping", result_n].median_per_host_us()
    if args.json:
        payload = {
            "load_average_before": load_before,
            "load_average_after": load_after,
            "series": [
                {"tool": s.tool, "hosts": s.hosts, "sweeps": [vars_of(x) for x in s.sweeps]}
                for s in [*series, fping_start]
            ],
            "result_hosts": result_n,
            "cpu_per_host_ratio_vs_fping": ratio,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    if result_n != 10_000:
        print(f"(the ratio below is at {result_n:,} hosts: 10,000 was not among --hosts)")
    print(f"RESULT cpu_per_host_ratio_vs_fping={ratio:.3f}")
    return 0


def vars_of(sweep: Sweep) -> dict[str, float | int]:
    return {name: getattr(sweep, name) for name in ("wall_s", "user_s", "sys_s", "replies", "hosts")}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.icmplib_worker:
        icmplib_worker()
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench-ping-sweep-"))
    try:
        return run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
