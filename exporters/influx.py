"""InfluxDB 2 exporter: every device's series as line protocol, through a durable spool, written with influxdb-client.

Owns turning the state into points and getting them to the server without
losing any. Once per poll interval (at the wall-clock multiples of the shortest
device interval, so timestamps fall on the poll schedule) a snapshot of the
state is encoded and appended to the spool (:mod:`exporters.spool`) *before*
anything is sent; a sender thread takes the spool's records in order, writes
them through influxdb-client's write service, one synchronous request at a time
(gzip level 1, the configured precision, at most ``batch_size`` points per
request), retries with exponential backoff while the server is down or answers
5xx, 429, 401, 403 or 404 (a wrong token or bucket can be fixed without losing
points), and acknowledges a record to the spool only on a 2xx answer; 400 and
422 mean the server will never take those points: they are dropped, logged and
counted as ``rejected``. 413 (body too large for the server's limit) sends the
batch again in halves of its lines, down to single lines, so only a line that
alone is too large is dropped as ``rejected``. On stop it sends for a few seconds more if it
can, then leaves the rest on disk for the next start. influxdb-client's own
batching writer is not used: it drops a batch when its retries run out and
what is pending when it is closed while the server is down (``tests/test_influx.py``
shows it side by side).

What a snapshot becomes (measurements, fields, tags, one line per device and tag set) is
:mod:`exporters.line_protocol`.

**Metrics** (:class:`InfluxStatsCollector`): ``stadtnetz_influx_spool_bytes``,
``stadtnetz_influx_spool_points``, ``stadtnetz_influx_spool_oldest_point_age_seconds``,
``stadtnetz_influx_points_spooled_total``, ``stadtnetz_influx_points_sent_total``,
``stadtnetz_influx_points_failed_total`` (in attempts that failed; retried),
``stadtnetz_influx_points_dropped_total{reason}`` (``spool_full``; ``rejected``:
the server refused them as invalid, 400/422, or a single line over its size
limit, 413; ``disk_error``: the spool could not write them),
``stadtnetz_influx_write_errors_total``, ``stadtnetz_influx_write_requests_split_total``
(413 answers whose batch was sent again in halves),
``stadtnetz_influx_spool_truncated_bytes_total``.

The token is a :class:`stadtnetz.secrets.Secret`, revealed only to the client
object; no log line, error or metric carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip as gzip_module
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from exporters.line_protocol import LineEncoder, timestamp
from exporters.spool import Spool
from stadtnetz.clock import Clock
from stadtnetz.model import InfluxSettings
from stadtnetz.own_metrics import Family, ScrapeCollector
from stadtnetz.secrets import Secret
from stadtnetz.status.state import DeviceState, State

log = logging.getLogger("stadtnetz.influx")

BATCH_DEVICES = 250  # devices encoded between two returns to the event loop
REJECTED_STATUSES = frozenset({400, 413, 422})  # the server will never take these points
DRAIN_SECONDS = 5.0  # on stop, keep sending this long (if the server answers)
WARN_EVERY_SECONDS = 300.0  # while writes keep failing, one warning this often

# --- writing -------------------------------------------------------------------------------------------------------


class WriteRejectedError(Exception):
    """The server refused the points for good (400, 422): sending them again cannot help."""


class PayloadTooLargeError(WriteRejectedError):
    """HTTP 413: the request body is larger than the server takes; smaller parts of it may well be taken."""


class InfluxWriter:
    """One write request per call through influxdb-client's write service (``POST /api/v2/write``).

    No retries of its own (the :class:`Sender` retries, and never drops). The
    body is gzip-compressed here at ``gzip_level`` (default 1) and sent with
    ``Content-Encoding: gzip``: the client's own ``enable_gzip`` always uses
    level 9, which costs about 5 µs of CPU per point against 1 µs at level 1 for
    a body about 25 % larger (``bench/influx_write.py``).
    """

    def __init__(
        self,
        url: str,
        org: str,
        bucket: str,
        token: Secret | None = None,
        timeout: float = 10.0,
        gzip: bool = True,
        gzip_level: int = 1,
    ) -> None:
        from influxdb_client import InfluxDBClient, WriteService

        self.url, self.org, self.bucket = url, org, bucket
        self.gzip_level = gzip_level if gzip else 0
        self._client = InfluxDBClient(
            url=url,
            token=token.reveal() if token is not None else "",
            org=org,
            timeout=int(timeout * 1000),
            enable_gzip=False,  # compressed here, at our level
            retries=False,
        )
        self._service = WriteService(self._client.api_client)

    def write(self, payload: bytes, precision: str) -> None:
        """Send ``payload`` (line protocol); raise on anything but a 2xx answer."""
        from influxdb_client.rest import ApiException

        options: dict[str, str] = {}
        if self.gzip_level:
            payload = gzip_module.compress(payload, compresslevel=self.gzip_level, mtime=0)
            options["content_encoding"] = "gzip"
        try:
            self._service.post_write(
                org=self.org,
                bucket=self.bucket,
                body=payload,
                precision=precision,
                content_type="text/plain; charset=utf-8",
                **options,
            )
        except ApiException as exc:
            if exc.status == 413:
                raise PayloadTooLargeError(f"HTTP 413: {getattr(exc, 'message', '') or exc.reason}") from None
            if exc.status in REJECTED_STATUSES:
                raise WriteRejectedError(f"HTTP {exc.status}: {getattr(exc, 'message', '') or exc.reason}") from None
            raise

    def close(self) -> None:
        self._client.close()


def describe_error(exc: BaseException) -> str:
    """A short reason for a failed write, for the log (never the request headers, so never the token)."""
    status = getattr(exc, "status", None)
    if status is not None:
        message = getattr(exc, "message", "") or getattr(exc, "reason", "") or ""
        return f"HTTP {status} {message}".strip()
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


@dataclass(slots=True)
class SenderStats:
    points_sent: int = 0
    points_failed: int = 0
    write_errors: int = 0
    requests: int = 0
    split_requests: int = 0  # batches the server found too large (413), sent again in halves


class Sender:
    """Sends the spool's records in order on a thread of its own; see the module docstring.

    ``write(payload, precision)`` sends one request and raises on failure
    (:class:`WriteRejectedError` when the server will never take the points).
    """

    def __init__(
        self,
        spool: Spool,
        write: Callable[[bytes, str], None],
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        where: str = "InfluxDB",
    ) -> None:
        self.spool, self._write = spool, write
        self.batch_size, self.flush_interval = batch_size, flush_interval
        self.retry_min, self.retry_max = retry_min, retry_max
        self.where = where
        self.stats = SenderStats()
        self._stop = False
        self._drain_until: float | None = None
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None
        self._failures = 0
        self._last_warning = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="influx-sender", daemon=True)
        self._thread.start()

    def close(self, drain: float = DRAIN_SECONDS, timeout: float = 15.0) -> None:
        """Stop: keep sending for up to ``drain`` seconds while the server takes points, then leave the rest on
        disk. Returns once the thread ended (or ``drain + timeout`` seconds passed)."""
        self._drain_until = time.monotonic() + drain
        if drain <= 0:
            self._stop = True
        self._wakeup.set()
        self.spool.wake()
        if self._thread is not None:
            self._thread.join(drain + timeout)
            if self._thread.is_alive():
                log.warning("influx: the sender did not stop within %.0f s (a request hangs?)", drain + timeout)

    def _interrupted(self) -> bool:
        return self._stop or self._drain_until is not None

    def _run(self) -> None:
        try:
            while not self._stop:
                draining = self._drain_until is not None
                if draining and (time.monotonic() >= self._drain_until or self.spool.pending_points == 0):
                    break
                if not draining:  # a full batch, or the oldest point waited flush_interval
                    self.spool.wait(self.batch_size, self.flush_interval, self._interrupted)
                    if self._stop:
                        break
                batch = self.spool.peek(self.batch_size)
                if batch is None:
                    if self._drain_until is not None:
                        break
                    continue
                try:
                    refused = self._send(batch.payload, batch.precision)
                except WriteRejectedError as exc:
                    self.spool.reject(batch)
                    log.error(
                        "influx: %s refused %d points for good (%s); dropped them (counted as rejected)",
                        self.where,
                        batch.points,
                        exc,
                    )
                except Exception as exc:
                    self.spool.release(batch)
                    self.stats.points_failed += batch.points
                    self.stats.write_errors += 1
                    if self._drain_until is not None:
                        log.info(
                            "influx: stopping with %d points in the spool (%s); they are sent after the next start",
                            self.spool.pending_points,
                            describe_error(exc),
                        )
                        break
                    self._failed(exc)
                else:
                    self.spool.ack(batch, rejected=refused)
                    self.stats.points_sent += batch.points - refused
                    if refused:
                        log.error(
                            "influx: %s refused %d of %d points for good even in parts of one line; dropped "
                            "them (counted as rejected)",
                            self.where,
                            refused,
                            batch.points,
                        )
                    if self._failures:
                        log.info(
                            "influx: writing to %s works again after %d failed attempts over %.0f s; "
                            "sending the %d spooled points",
                            self.where,
                            self._failures,
                            time.monotonic() - (self._failing_since or time.monotonic()),
                            self.spool.pending_points,
                        )
                        self._failures, self._failing_since = 0, None
        except Exception:  # pragma: no cover - a bug; the points stay in the spool
            log.exception("influx: the sender stopped on an unexpected error; points stay in the spool")

    def _send(self, payload: bytes, precision: str) -> int:
        """Send ``payload``; on 413 send it again in halves of its lines, down to single lines.

        Returns the number of lines the server refused for good (a single line still too large, or a part
        refused as invalid once the batch was split); raises :class:`WriteRejectedError` when the whole
        payload is refused, anything else when a request failed (then the whole batch is sent again later:
        parts the server took before are sent twice, as after a crash between a 2xx and the acknowledgement).
        """
        self.stats.requests += 1
        try:
            self._write(payload, precision)
            return 0
        except PayloadTooLargeError:
            lines = payload.splitlines(keepends=True)
            if len(lines) < 2:
                raise
            self.stats.split_requests += 1
            half = len(lines) // 2
            refused = 0
            for part in (b"".join(lines[:half]), b"".join(lines[half:])):
                try:
                    refused += self._send(part, precision)
                except WriteRejectedError:
                    refused += part.count(b"\n")
            return refused

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self._failures += 1
        if self._failing_since is None:
            self._failing_since = now
        delay = min(self.retry_max, self.retry_min * 2 ** min(self._failures - 1, 30))
        delay *= random.uniform(0.8, 1.0)
        retry_after = getattr(exc, "retry_after", None)
        with contextlib.suppress(TypeError, ValueError):
            if retry_after is not None:
                delay = min(self.retry_max, max(delay, float(retry_after)))
        if self._failures == 1 or now - self._last_warning >= WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning(
                "influx: writing to %s failed (%s); %d points wait in the spool (%d bytes), retrying in %.1f s",
                self.where,
                describe_error(exc),
                self.spool.pending_points,
                self.spool.bytes,
                delay,
            )
        else:
            log.debug("influx: write failed again (%s); retrying in %.1f s", describe_error(exc), delay)
        self._wakeup.wait(delay)  # set only by close(): then the loop drains or ends


# --- the exporter --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one snapshot put into the spool."""

    at: float
    devices: int
    points: int  # lines
    values: int  # fields
    dropped: int  # points the spool refused


class InfluxExporter:
    """Snapshots of the state into the spool every poll interval, and the sender that empties it.

    ``writer``: anything with ``write(payload, precision)`` and ``close()``;
    by default an :class:`InfluxWriter` for ``settings``.
    """

    def __init__(
        self,
        state: State,
        settings: InfluxSettings,
        clock: Clock,
        writer: Any = None,
        retry_max: float | None = None,
    ) -> None:
        self.state, self.settings, self.clock = state, settings, clock
        self.encoder = LineEncoder(settings.precision)
        self.writer = writer
        self.retry_max = settings.max_retry_interval if retry_max is None else retry_max
        self.spool: Spool | None = None
        self.sender: Sender | None = None
        self.snapshots = 0
        self.points_spooled = 0
        exported = [s.device.interval for s in state.devices.values() if s.exported]
        self.period = min(exported, default=60.0)
        self._slots: dict[str, int] = {}
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Open the spool (recovering what a previous process left), start the sender and the snapshots."""
        spool_settings = self.settings.spool
        self.spool = await asyncio.to_thread(
            Spool,
            spool_settings.path,
            spool_settings.max_bytes,
            spool_settings.fsync,
            spool_settings.fsync_interval,
            self.settings.precision,
            None,
            time.monotonic,
            self.clock.time,
        )
        if self.writer is None:
            self.writer = InfluxWriter(
                self.settings.url,
                self.settings.org,
                self.settings.bucket,
                self.settings.token,
                self.settings.timeout,
                self.settings.gzip,
            )
        self.sender = Sender(
            self.spool,
            self.writer.write,
            self.settings.batch_size,
            self.settings.flush_interval,
            retry_max=self.retry_max,
            where=self.settings.url,
        )
        self.sender.start()
        self._tasks.append(asyncio.create_task(self._snapshots(), name="influx-snapshots"))
        if spool_settings.fsync == "interval":
            self._tasks.append(asyncio.create_task(self._fsync_timer(), name="influx-fsync"))
        log.info(
            "writing points to InfluxDB %s (org %s, bucket %s) every %g s through the spool %s",
            self.settings.url,
            self.settings.org,
            self.settings.bucket,
            self.period,
            spool_settings.path,
        )

    async def stop(self) -> None:
        """Finish the snapshot under way, send for a few seconds more if the server answers, close the spool."""
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.sender is not None:
            await asyncio.to_thread(self.sender.close, DRAIN_SECONDS, self.settings.timeout + 5)
        if self.spool is not None:
            left = self.spool.pending_points
            await asyncio.to_thread(self.spool.close)
            if left:
                log.info("influx: %d points stay in the spool %s for the next start", left, self.settings.spool.path)
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()

    def next_snapshot(self, now: float) -> float:
        """The first multiple of the snapshot period after ``now``."""
        return (math.floor(now / self.period + 1e-9) + 1) * self.period

    async def _snapshots(self) -> None:
        while not self._stopping.is_set():
            now = self.clock.time()
            at = self.next_snapshot(now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(0.0, at - now))
            if self._stopping.is_set():
                return
            try:
                await self.snapshot(at)
            except Exception:  # a bug must not end the snapshots for good
                log.exception("influx: the snapshot at %s failed", at)

    async def _fsync_timer(self) -> None:
        assert self.spool is not None
        interval = self.settings.spool.fsync_interval
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)
            await asyncio.to_thread(self.spool.sync_if_due)

    def due(self, at: float) -> list[DeviceState]:
        """The exported devices whose poll interval has a new slot at ``at`` (all of them, at one interval)."""
        due = []
        for state in self.state.devices.values():
            if not state.exported:
                continue
            slot = math.floor(at / state.device.interval + 1e-9)
            if self._slots.get(state.device.id) != slot:
                self._slots[state.device.id] = slot
                due.append(state)
        return due

    async def snapshot(self, at: float, devices: list[DeviceState] | None = None) -> Snapshot:
        """Encode ``devices`` (by default those due at ``at``) and append them to the spool, ``batch_size``
        points per record. Up to :data:`BATCH_DEVICES` devices are encoded before the first ``await``."""
        if devices is None:
            devices = self.due(at)
        pending: list[str] = []
        points = values = dropped = 0
        for start in range(0, len(devices), BATCH_DEVICES):
            lines, count = self.encoder.encode(devices[start : start + BATCH_DEVICES], at)
            pending.extend(lines)
            values += count
            while len(pending) >= self.settings.batch_size:
                stored, lost = await self.append(pending[: self.settings.batch_size], at)
                points, dropped = points + stored, dropped + lost
                del pending[: self.settings.batch_size]
            await asyncio.sleep(0)
        if pending:
            stored, lost = await self.append(pending, at)
            points, dropped = points + stored, dropped + lost
        self.snapshots += 1
        self.points_spooled += points
        result = Snapshot(at, len(devices), points, values, dropped)
        log.debug(
            "influx snapshot at %s: %d points (%d values) of %d devices spooled%s",
            timestamp(at, self.settings.precision),
            points,
            values,
            len(devices),
            f", {dropped} points dropped" if dropped else "",
        )
        return result

    async def append(self, lines: list[str], at: float) -> tuple[int, int]:
        """Append lines as one spool record; (points stored, points lost)."""
        assert self.spool is not None
        try:
            stored = await asyncio.to_thread(self.spool.append, "".join(lines).encode(), len(lines), at)
        except OSError:
            return 0, len(lines)  # logged and counted by the spool
        return (len(lines), 0) if stored else (0, len(lines))


_SPOOL_BYTES = Family("gauge", "stadtnetz_influx_spool_bytes", "Bytes of the InfluxDB spool's segment files on disk.")
_SPOOL_POINTS = Family("gauge", "stadtnetz_influx_spool_points", "Points in the spool not yet acknowledged.")
_SPOOL_OLDEST = Family(
    "gauge",
    "stadtnetz_influx_spool_oldest_point_age_seconds",
    "Age of the oldest point in the spool not yet acknowledged by InfluxDB (0 when none).",
)
_POINTS_SPOOLED = Family("counter", "stadtnetz_influx_points_spooled", "Points appended to the spool.")
_POINTS_SENT = Family("counter", "stadtnetz_influx_points_sent", "Points InfluxDB acknowledged (2xx).")
_POINTS_FAILED = Family(
    "counter", "stadtnetz_influx_points_failed", "Points in write attempts that failed; they are retried."
)
_WRITE_ERRORS = Family("counter", "stadtnetz_influx_write_errors", "Write requests to InfluxDB that failed (retried).")
_REQUESTS_SPLIT = Family(
    "counter",
    "stadtnetz_influx_write_requests_split",
    "Write requests InfluxDB found too large (HTTP 413), sent again in halves.",
)
_SPOOL_TRUNCATED = Family(
    "counter",
    "stadtnetz_influx_spool_truncated_bytes",
    "Bytes of torn or corrupt records cut off the spool when it was opened (never replayed).",
)
_POINTS_DROPPED = Family(
    "counter",
    "stadtnetz_influx_points_dropped",
    "Points that will never reach InfluxDB, by reason: spool_full (the oldest segment made room), "
    "rejected (the server refused them as invalid, or one line alone was too large), "
    "disk_error (the spool could not write them).",
    ("reason",),
)


class InfluxStatsCollector(ScrapeCollector):
    """The exporter's and its spool's numbers, at scrape time."""

    families = (
        _SPOOL_BYTES,
        _SPOOL_POINTS,
        _SPOOL_OLDEST,
        _POINTS_SPOOLED,
        _POINTS_SENT,
        _POINTS_FAILED,
        _WRITE_ERRORS,
        _REQUESTS_SPLIT,
        _SPOOL_TRUNCATED,
        _POINTS_DROPPED,
    )

    def __init__(self, exporter: InfluxExporter) -> None:
        self.exporter = exporter

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        spool, sender = self.exporter.spool, self.exporter.sender
        stats = sender.stats if sender is not None else SenderStats()
        yield _SPOOL_BYTES, (), spool.bytes if spool else 0
        yield _SPOOL_POINTS, (), spool.pending_points if spool else 0
        yield _SPOOL_OLDEST, (), spool.oldest_age() if spool else 0.0
        yield _POINTS_SPOOLED, (), spool.stats.appended_points if spool else 0
        yield _POINTS_SENT, (), stats.points_sent
        yield _POINTS_FAILED, (), stats.points_failed
        yield _WRITE_ERRORS, (), stats.write_errors
        yield _REQUESTS_SPLIT, (), stats.split_requests
        yield _SPOOL_TRUNCATED, (), spool.stats.truncated_bytes if spool else 0
        reasons = spool.stats.dropped if spool else {"spool_full": 0, "rejected": 0, "disk_error": 0}
        for reason, count in sorted(reasons.items()):
            yield _POINTS_DROPPED, [reason], count
