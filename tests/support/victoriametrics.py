"""A real VictoriaMetrics for tests and benchmarks: the InfluxDB write endpoint stadtnetz sends to.

Started in a temp dir on a free port of 127.0.0.1 (or a given one, to come back
after an outage on the same address), stopped with SIGTERM by its own PID:
VictoriaMetrics can lose acknowledged points when it is SIGKILLed within about
10 s of a write, SIGTERM makes it flush them. Points written as line protocol
read back as series ``<measurement>_<field>`` with the tags as labels.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import Daemon, free_port


@dataclass(frozen=True, slots=True)
class ExportedSeries:
    """One series as ``/api/v1/export`` gives it: its name, labels, and raw samples (timestamps in ms)."""

    name: str
    labels: dict[str, str]
    values: list[float]
    timestamps: list[int]


class VictoriaMetrics:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.daemon: Daemon | None = None
        self.starts = 0
        self.start()

    def start(self) -> None:
        """Start it (again: same data directory, same port)."""
        self.starts += 1
        self.daemon = Daemon(
            [
                "victoria-metrics",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.directory / 'data'}",
                "-retentionPeriod=1d",
                "-search.latencyOffset=1s",
            ],
            self.directory / f"victoria-metrics-{self.starts}.log",
        )
        self.daemon.wait_ready(self.healthy, 30, "victoria-metrics")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def flush(self) -> None:
        """Make everything ingested so far visible to queries and exports."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10):
            pass

    def export(self, match: str = '{__name__=~".+"}', start: float | None = None, end: float | None = None) -> list[
        ExportedSeries
    ]:
        """Every raw sample of the series matching ``match`` (duplicates included), after a flush."""
        self.flush()
        params = {"match[]": match}
        if start is not None:
            params["start"] = f"{start:.3f}"
        if end is not None:
            params["end"] = f"{end:.3f}"
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=60) as response:
            body = response.read().decode()
        return list(_parse_export(body))

    def export_settled(
        self,
        expected: int,
        match: str = '{__name__=~".+"}',
        start: float | None = None,
        end: float | None = None,
        timeout: float = 30.0,
    ) -> list[ExportedSeries]:
        """:meth:`export`, repeated until it holds ``expected`` samples or more, or ``timeout`` seconds passed
        (then the last export, short).

        VictoriaMetrics makes what it acknowledged visible asynchronously, and ``/internal/force_flush`` does
        not wait for all of it (1.79): an export right after the last write of 497,376 values was answered held
        167,272 of them, one second later all. A count of what was written must wait for that.
        """
        deadline = time.monotonic() + timeout
        while True:
            series = self.export(match, start, end)
            if sum(len(item.timestamps) for item in series) >= expected or time.monotonic() >= deadline:
                return series
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM (it flushes what it acknowledged) and wait; by its own PID."""
        if self.daemon is not None:
            self.daemon.stop(timeout=30)
            self.daemon = None


def _parse_export(body: str) -> Iterator[ExportedSeries]:
    for line in body.splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        labels = dict(item["metric"])
        name = labels.pop("__name__")
        yield ExportedSeries(name, labels, [float(v) for v in item["values"]], [int(t) for t in item["timestamps"]])
