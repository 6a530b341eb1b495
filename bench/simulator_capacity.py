"""How much CPU the simulated city needs to answer one IF-MIB poll of every device.

Starts ``stadtnetz simulate --devices N`` (default 10,000) as its own process,
polls every device once with our client the way snmp_exporter's ``if_mib``
module does (GET sysUpTime.0, walk interfaces and ifXTable), and reads the
simulator's CPU time from /proc before and after. Repeats the round and
reports the median. Last line:
``RESULT simulator_devices=<n> cpu_seconds_per_round=<x> cpu_ms_per_device_poll=<y>``
(``--quick``: 100 devices, 2 rounds, a smoke run whose figures mean nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.snmp.client import SnmpClient, Target
from tests.support.processes import process_cpu_seconds
from tests.support.simulation import start_simulator_process

SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
IF_MIB_ROOTS = [(1, 3, 6, 1, 2, 1, 2), (1, 3, 6, 1, 2, 1, 31, 1, 1)]


def read_targets(inventory: Path) -> list[Target]:
    targets = []
    with inventory.open() as handle:
        for row in csv.DictReader(handle):
            host, port = row["address"].rsplit(":", 1)
            targets.append(Target(host, int(port), timeout=5.0, retries=2))
    return targets


async def poll_round(client: SnmpClient, targets: list[Target], concurrency: int) -> int:
    slots = asyncio.Semaphore(concurrency)

    async def poll(target: Target) -> int:
        async with slots:
            await client.get(target, [SYS_UPTIME])
            walked = await client.walk(target, IF_MIB_ROOTS)
            return 1 + sum(len(v) for v in walked.values())

    return sum(await asyncio.gather(*(poll(t) for t in targets)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 devices, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.devices, args.rounds = 100, 2

    with tempfile.TemporaryDirectory(prefix="stadtnetz-bench-") as tmp:
        simulator, _, inventory = start_simulator_process(Path(tmp), args.devices)
        try:
            targets = read_targets(inventory)

            async def run() -> list[tuple[float, float, int]]:
                rounds = []
                async with SnmpClient(max_in_flight=args.concurrency) as client:
                    for _ in range(args.rounds):
                        cpu0, wall0 = process_cpu_seconds(simulator.pid), time.perf_counter()
                        varbinds = await poll_round(client, targets, args.concurrency)
                        rounds.append(
                            (process_cpu_seconds(simulator.pid) - cpu0, time.perf_counter() - wall0, varbinds)
                        )
                    if client.stats.timeouts:
                        print(f"warning: {client.stats.timeouts} requests timed out", file=sys.stderr)
                return rounds

            rounds = asyncio.run(run())
        finally:
            simulator.stop()

    cpu = statistics.median(r[0] for r in rounds)
    wall = statistics.median(r[1] for r in rounds)
    varbinds = rounds[0][2]
    print(f"simulated devices            {len(targets):>10}")
    print(f"varbinds per round           {varbinds:>10}")
    print(f"simulator CPU per round      {cpu:>10.2f} s   (median of {len(rounds)} rounds)")
    print(f"simulator CPU per device     {cpu / len(targets) * 1e3:>10.3f} ms")
    print(f"simulator CPU per varbind    {cpu / varbinds * 1e6:>10.2f} us")
    print(f"wall time per round          {wall:>10.2f} s")
    print(f"share of one core at a 60 s poll interval: {cpu / 60:.1%}")
    print(
        f"RESULT simulator_devices={len(targets)} cpu_seconds_per_round={cpu:.2f} "
        f"cpu_ms_per_device_poll={cpu / len(targets) * 1e3:.3f}"
    )


if __name__ == "__main__":
    main()
