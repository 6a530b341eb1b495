"""A child process for the SIGKILL test: writes status transitions into a history file in committed batches.

Usage: ``python -m tests.support.history_writer PATH PER_BATCH``. Batch ``b`` records
PER_BATCH transitions whose cause is ``"b:i"``, flushes them (one transaction),
and only then prints ``b``: every number printed is a committed batch. Runs
until killed.
"""

from __future__ import annotations

import sys

from stadtnetz.clock import SystemClock
from stadtnetz.history import HistoryStore
from stadtnetz.status.topology import DeviceStatus, Status

DEVICES = 50


def main() -> None:
    path, per_batch = sys.argv[1], int(sys.argv[2])
    clock = SystemClock()
    history = HistoryStore(path, clock)
    status = {f"d{n}": DeviceStatus(Status.UNKNOWN) for n in range(DEVICES)}
    batch = 0
    while True:
        for index in range(per_batch):
            device = f"d{index % DEVICES}"
            new = DeviceStatus(Status.DOWN, device) if status[device].status is Status.UP else DeviceStatus(Status.UP)
            history.record_transition(device, status[device], new, clock.time(), cause=f"{batch}:{index}")
            status[device] = new
        history.flush()
        print(batch, flush=True)
        batch += 1


if __name__ == "__main__":
    main()
