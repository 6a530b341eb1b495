"""What the embedded history (stadtnetz.history) costs: on the poll loop, in the writer, per hour, on disk.

The simulated city (650 devices by default, 520 of them hotspots) is polled
once over SNMP for real layouts and values; then a :class:`ManualClock` drives
a day of poll rounds (``--rounds-per-hour``, with the values jittered each
round so utilisation histograms fill realistically) through the store:

* ``record_samples`` on the poll loop: per call, per device and per sample;
* the writer's work per gauge sample (accumulating rollups), in the flushes
  that write no hour;
* the flush that writes a finished hour (rollups and availability of every
  device) in one transaction;
* ``record_transition`` per call;
* the file: the series dictionary (written once) and the growth per day.

Last line: ``RESULT record_us_per_sample=<x> writer_us_per_sample=<y> hourly_flush_ms=<z> mb_per_day=<w>``.
``--quick``: the same at a tiny size (50 devices, 2 hours of 30 rounds), a smoke run whose figures mean nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.snmp.client import SnmpClient
from collectors.snmp.poller import SnmpPoller
from collectors.snmp.profiles import load_profiles
from stadtnetz.app.demo import inventory_for_city
from stadtnetz.clock import ManualClock, SystemClock
from stadtnetz.history import HOUR, HistoryStore
from stadtnetz.model import MetricKind
from stadtnetz.status.state import State
from stadtnetz.status.topology import UNKNOWN, DeviceStatus, Status
from tests.support.simulation import ThreadedSimulation


async def poll_city(state: State, inventory: object, devices: list) -> None:
    library = load_profiles()
    async with SnmpClient() as client:
        poller = SnmpPoller(client, library, state, inventory, SystemClock())  # type: ignore[arg-type]
        limit = asyncio.Semaphore(64)

        async def one(device: object) -> None:
            async with limit:
                await poller.poll(device)  # type: ignore[arg-type]

        for _ in range(2):  # twice, so utilisation (a rate) is known
            await asyncio.gather(*(one(d) for d in devices))
            await asyncio.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=650)
    parser.add_argument("--rounds-per-hour", type=int, default=60, help="poll rounds per hour (60: every minute)")
    parser.add_argument("--hours", type=int, default=6, help="simulated hours (the file size is scaled to a day)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 devices, 2 hours of 30 rounds")
    args = parser.parse_args()
    if args.quick:
        args.devices, args.rounds_per_hour, args.hours = 50, 30, 2

    with ThreadedSimulation(devices=args.devices, seed=1) as simulation:
        inventory = inventory_for_city(simulation.simulation.city, b"public", interval=60, listen_port=0)
        live = State(inventory.devices, SystemClock())
        asyncio.run(poll_city(live, inventory, inventory.devices))
    polled = [d for d in live.devices.values() if d.last_poll is not None]
    gauges = sum(1 for d in polled for metric, _ in d.keys if metric.kind is MetricKind.GAUGE)
    samples_per_round = sum(len(d.values) for d in polled)
    print(f"{len(polled)} devices polled: {samples_per_round} series, {gauges} of them gauges (rolled up)")

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "history.sqlite"
        start = 1_790_000_000 // HOUR * HOUR
        clock = ManualClock(start)
        history = HistoryStore(path, clock, close_grace=60)
        state = State(inventory.devices, clock)
        for device in polled:  # the live layouts and values, in a state on the manual clock
            target = state.devices[device.device.id]
            target.layout, target.values, target.last_poll = device.layout, device.values, 0.0
        # the gauges of each device with their polled values: jittered every round (the rest stays as polled)
        base = {
            d.device.id: [(slot, d.values[slot]) for slot, (m, _) in enumerate(d.keys) if m.kind is MetricKind.GAUGE]
            for d in polled
        }
        transition_times = []
        for device in polled:
            began = time.perf_counter()
            history.record_transition(device.device.id, UNKNOWN, DeviceStatus(Status.UP), start)
            transition_times.append(time.perf_counter() - began)
        record, writer, hourly, hourly_rows = [], [], [], []
        step = HOUR / args.rounds_per_hour
        rng = random.Random(1)
        for hour in range(args.hours):
            for round_ in range(args.rounds_per_hour):
                clock.set(start + hour * HOUR + round_ * step + 1)
                for device in polled:  # a new poll round: fresh values
                    values, original = state.devices[device.device.id].values, base[device.device.id]
                    for slot, value in original:
                        values[slot] = value * (0.5 + rng.random())
                    state.devices[device.device.id].last_poll = clock.monotonic()
                    state.devices[device.device.id].last_seen = clock.time()
                began = time.perf_counter()
                history.record_samples(state, clock.time())
                record.append(time.perf_counter() - began)
                if round_ % max(1, args.rounds_per_hour // 30) == 0:  # the writer every 2 minutes of city time
                    written = history.stats.written_rollups
                    began = time.perf_counter()
                    history.flush()
                    elapsed = time.perf_counter() - began
                    if history.stats.written_rollups > written:
                        hourly.append(elapsed)
                        hourly_rows.append(history.stats.written_rollups - written)
                    else:
                        writer.append(elapsed)
        clock.set(start + args.hours * HOUR + 61)
        began = time.perf_counter()
        history.flush()
        hourly.append(time.perf_counter() - began)
        history.close()
        db = sqlite3.connect(path)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = path.stat().st_size
        # bytes per table and index (dbstat): what grows by the hour, and the series dictionary, which does not
        pages = dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        db.close()
    once = sum(v for k, v in pages.items() if "series" in k)
    hourly_bytes = (pages.get("rollups", 0) + pages.get("availability", 0) + pages.get("transitions", 0)) / args.hours

    flush_every = max(1, args.rounds_per_hour // 30)
    record_us = statistics.median(record) / samples_per_round * 1e6
    writer_us = statistics.median(writer) / (flush_every * gauges) * 1e6
    hourly_ms = statistics.median(hourly) * 1000
    mb_per_day = hourly_bytes * 24 / 1e6

    def per_day(table: str) -> float:
        return pages.get(table, 0) / args.hours * 24 / 1e6

    print(
        f"record_samples: {statistics.median(record) * 1000:.2f} ms per round of {len(polled)} devices "
        f"({record_us:.3f} us per sample, {statistics.median(record) / len(polled) * 1e6:.1f} us per device)"
    )
    print(f"record_transition: {statistics.median(transition_times) * 1e6:.2f} us per call")
    print(f"writer: {writer_us:.2f} us per gauge sample (accumulating rollups; flushes without a finished hour)")
    print(
        f"hourly flush: {hourly_ms:.0f} ms for {statistics.median(hourly_rows):.0f} rollup rows and "
        f"{len(polled)} availability rows ({args.rounds_per_hour} samples per series and hour)"
    )
    print(
        f"file: {size / 1e6:.1f} MB after {args.hours} h, of which {once / 1e6:.1f} MB the series dictionary "
        f"(written once); growth {mb_per_day:.1f} MB per day (rollups {per_day('rollups'):.1f}, "
        f"availability {per_day('availability'):.2f}), "
        f"{mb_per_day * 400 / 1000:.1f} GB per 400 days"
    )
    print(
        f"RESULT record_us_per_sample={record_us:.3f} writer_us_per_sample={writer_us:.2f} "
        f"hourly_flush_ms={hourly_ms:.0f} mb_per_day={mb_per_day:.1f}"
    )


if __name__ == "__main__":
    main()
