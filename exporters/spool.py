"""The durable spool of the InfluxDB exporter: points reach the disk before they are sent, and leave it only acked.

Owns one directory of append-only segment files and nothing else: it does not
know line protocol or HTTP. The exporter appends a record (a batch of
line-protocol lines) and the sender (``exporters.influx``) takes the oldest
unacknowledged records with :meth:`Spool.peek`, sends them, and calls
:meth:`Spool.ack` when the server answered 2xx (or :meth:`Spool.release` to try
again later). A segment is deleted only once every record in it was
acknowledged; whatever is unsent when the process stops (or is killed) is sent
by the next process, in order, after it opened the directory.

**Files.** ``<seq>.seg`` (20 decimal digits, so names sort in order),
``cursor`` (how far the oldest segment was acknowledged) and ``.lock`` (held
with ``flock`` while a process uses the directory; a second process is refused).

**Segment format** (little-endian)::

    segment header, 16 bytes:  magic b"STNSPOOL" | version u8 (1) | precision u8 (0 ns, 1 us, 2 ms, 3 s) | 6 zero bytes
    then records, each:        length u32 | crc32 u32 | points u32 | time f64 | payload (length bytes)

``length`` is the payload's size, ``points`` how many points (lines) it holds,
``time`` the Unix time of its oldest point (for the age metric), and ``crc32``
(zlib) covers ``points``, ``time`` and the payload. A record is written with one
``write`` call; ``fsync`` follows the policy:

* ``always``: after every append (and the directory after a segment is created
  or deleted), so an acknowledged :meth:`Spool.append` survives a power cut;
* ``interval``: at most ``fsync_interval`` seconds after an append
  (:meth:`Spool.sync_if_due`, called on append and by the exporter's timer);
  a killed *process* loses nothing (the data is in the page cache), a power cut
  at most that interval;
* ``never``: the operating system writes back when it likes.

**Recovery.** On open every segment is read and every record checked: a record
whose header or payload runs past the end of the file (a process killed in the
middle of a write) or whose CRC does not match is cut off with everything after
it (``truncate``), logged with the bytes removed, and never replayed; a file
shorter than a segment header is deleted (it holds nothing). New records always
go to a new segment.

**Acknowledgement.** ``cursor`` holds ``<seq> <offset>``: segments before
``seq`` and records of ``seq`` before ``offset`` were acknowledged. It is
replaced atomically after every ack (not fsynced: if it is lost, the records
since the last durable cursor are sent again, and InfluxDB overwrites a point
with the same series and timestamp, so a repeat changes nothing).

**When full** (``max_bytes``: all segment files together): the *oldest*
segment is dropped to make room, its unsent points counted in
``dropped["spool_full"]`` and logged with the time range lost. Monitoring data
lose value with age: after an outage longer than the spool holds, operators need
the most recent hours (current status, alert evaluation, the curve leading up to
now) far more than the first ones, and a ring keeps the one gap at the old end
instead of cutting the present off. A single append larger than the spool can
ever hold is refused and counted the same way. Nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

log = logging.getLogger("stadtnetz.influx.spool")

FsyncPolicy = Literal["always", "interval", "never"]
FSYNC_POLICIES: tuple[str, ...] = ("always", "interval", "never")
PRECISIONS: tuple[str, ...] = ("ns", "us", "ms", "s")

MAGIC = b"STNSPOOL"
VERSION = 1
SEGMENT_HEADER = struct.Struct("<8sBB6x")
RECORD_HEADER = struct.Struct("<IIId")
MAX_RECORD = 256 << 20  # a length above this is not one we wrote: garbage
MAX_SEGMENT_BYTES = 64 << 20
SEGMENT_SUFFIX = ".seg"
CURSOR = "cursor"
LOCK = ".lock"


class SpoolError(OSError):
    """The spool directory cannot be used (in use by another process, not writable, ...)."""


@dataclass(slots=True)
class _Record:
    offset: int  # of the record header in its segment file
    size: int  # header + payload
    points: int
    time: float
    appended: float = -math.inf  # monotonic time of the append (recovered records: long ago)


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    precision: str
    size: int = SEGMENT_HEADER.size
    records: list[_Record] = field(default_factory=list)
    acked: int = 0  # records acknowledged (only the oldest segment has any)
    sealed: bool = True  # no more appends (every segment but the active one)

    @property
    def unacked_points(self) -> int:
        return sum(record.points for record in self.records[self.acked :])


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive unacknowledged records of one segment, as the sender sends them in one request."""

    segment: int
    first: int  # index of the first record in the segment
    count: int  # records
    points: int
    payload: bytes  # the records' payloads, concatenated (line protocol, each line ending in a newline)
    precision: str
    oldest: float  # Unix time of the oldest point


@dataclass(slots=True)
class SpoolStats:
    """What the spool did since it was opened (the exporter exports these as metrics)."""

    appended_points: int = 0
    acked_points: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: {"spool_full": 0, "rejected": 0, "disk_error": 0})
    truncated_bytes: int = 0  # torn or corrupt records cut off at open
    recovered_points: int = 0  # unsent points found at open


def segment_name(seq: int) -> str:
    return f"{seq:020d}{SEGMENT_SUFFIX}"


def encode_record(payload: bytes, points: int, oldest: float) -> bytes:
    """One record as written to a segment: header (length, CRC, points, time) and payload."""
    tail = struct.pack("<Id", points, oldest)
    crc = zlib.crc32(payload, zlib.crc32(tail))
    return RECORD_HEADER.pack(len(payload), crc, points, oldest) + payload


class Spool:
    """Append-only segment files with length+CRC framing; see the module docstring for the format and policies.

    Thread-safe: the exporter appends from the event loop's worker threads while
    the sender peeks and acknowledges from its own thread.
    """

    def __init__(
        self,
        directory: Path | str,
        max_bytes: int,
        fsync: FsyncPolicy | str = "interval",
        fsync_interval: float = 1.0,
        precision: str = "ns",
        segment_bytes: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {fsync!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if max_bytes < 2 * (SEGMENT_HEADER.size + RECORD_HEADER.size):
            raise ValueError(f"max_bytes {max_bytes} is too small for a spool")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.fsync: str = fsync
        self.fsync_interval = fsync_interval
        self.precision = precision
        self.segment_bytes = segment_bytes or max(4096, min(MAX_SEGMENT_BYTES, max_bytes // 16))
        self.stats = SpoolStats()
        self._monotonic = monotonic
        self._wall = wall
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._segments: list[_Segment] = []
        self._bytes = 0
        self._pending_points = 0
        self._next_seq = 1
        self._active_fd: int | None = None
        self._read_fd: tuple[int, int] | None = None  # (seq, fd) of the segment being read
        self._dirty = False
        self._last_sync = monotonic()
        self._inflight: Batch | None = None
        self._orphaned = False  # the in-flight batch's segment was dropped while it was being sent
        self._closed = False
        self._lock_fd = self._acquire_directory()
        try:
            self._recover()
        except BaseException:
            os.close(self._lock_fd)
            raise

    # --- opening ------------------------------------------------------------------------------------------------

    def _acquire_directory(self) -> int:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SpoolError(exc.errno, f"cannot use spool directory {self.directory}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolError(
                f"spool directory {self.directory} is in use by another process; "
                "give each stadtnetz process a spool directory of its own"
            ) from None
        return fd

    def _read_cursor(self) -> tuple[int, int]:
        try:
            seq_text, offset_text = (self.directory / CURSOR).read_text().split()
            return int(seq_text), int(offset_text)
        except (OSError, ValueError):
            return 0, 0

    def _recover(self) -> None:
        cursor_seq, cursor_offset = self._read_cursor()
        self._next_seq = cursor_seq + 1  # sequence numbers are never reused (the cursor refers to one)
        names = sorted(p for p in self.directory.iterdir() if p.name.endswith(SEGMENT_SUFFIX))
        for path in names:
            try:
                seq = int(path.name.removesuffix(SEGMENT_SUFFIX))
            except ValueError:
                log.warning("spool: ignoring %s (not a segment name)", path)
                continue
            self._next_seq = max(self._next_seq, seq + 1)
            if seq < cursor_seq:  # acknowledged, its deletion did not survive
                path.unlink(missing_ok=True)
                continue
            segment = self._scan(seq, path)
            if segment is None:
                continue
            if seq == cursor_seq:
                boundaries = {record.offset for record in segment.records}
                boundaries.add(segment.size)
                if cursor_offset in boundaries:
                    segment.acked = sum(1 for record in segment.records if record.offset < cursor_offset)
            if segment.acked == len(segment.records):
                path.unlink(missing_ok=True)  # nothing left to send in it
                continue
            self._segments.append(segment)
            self._bytes += segment.size
        pending = self._pending_points = sum(segment.unacked_points for segment in self._segments)
        self.stats.recovered_points = pending
        if pending:
            oldest = self._segments[0].records[self._segments[0].acked].time
            log.info(
                "spool %s: %d unsent points in %d segments (%d bytes, oldest from %s) will be sent first",
                self.directory,
                pending,
                len(self._segments),
                self._bytes,
                time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(oldest)),
            )

    def _scan(self, seq: int, path: Path) -> _Segment | None:
        """Read a segment, checking every record; cut off a torn or corrupt tail. None: nothing usable."""
        data = path.read_bytes()
        if len(data) < SEGMENT_HEADER.size:
            log.warning(
                "spool: %s holds %d bytes, less than a segment header (torn at creation); removed", path, len(data)
            )
            path.unlink(missing_ok=True)
            return None
        magic, version, code = SEGMENT_HEADER.unpack_from(data)
        if magic != MAGIC or version != VERSION or code >= len(PRECISIONS):
            bad = path.with_name(path.name + ".bad")
            log.error("spool: %s is not a stadtnetz spool segment (version %d); moved aside to %s", path, version, bad)
            path.rename(bad)
            return None
        segment = _Segment(seq, path, PRECISIONS[code])
        offset = SEGMENT_HEADER.size
        while offset < len(data):
            problem = ""
            if offset + RECORD_HEADER.size > len(data):
                problem = "a torn record header"
            else:
                length, crc, points, stamp = RECORD_HEADER.unpack_from(data, offset)
                end = offset + RECORD_HEADER.size + length
                if length > MAX_RECORD or points == 0:
                    problem = "a corrupt record header"
                elif end > len(data):
                    problem = f"a torn record ({end - len(data)} bytes missing)"
                else:
                    payload = memoryview(data)[offset + RECORD_HEADER.size : end]
                    if zlib.crc32(payload, zlib.crc32(data[offset + 8 : offset + 20])) != crc:
                        problem = "a record whose CRC does not match"
            if problem:
                cut = len(data) - offset
                log.warning(
                    "spool: %s: %s at byte %d; cut off %d bytes there (never replayed)", path, problem, offset, cut
                )
                self.stats.truncated_bytes += cut
                with open(path, "r+b") as handle:
                    handle.truncate(offset)
                    os.fsync(handle.fileno())
                break
            segment.records.append(_Record(offset, RECORD_HEADER.size + length, points, stamp))
            offset = end
        segment.size = offset
        return segment

    # --- appending ----------------------------------------------------------------------------------------------

    def append(self, payload: bytes, points: int, oldest: float) -> bool:
        """Write one record (``points`` lines of line protocol, the oldest at Unix time ``oldest``).

        Returns True once it is in the segment file (and fsynced under ``always``);
        False if it was refused because it is larger than the whole spool (counted as
        dropped). Raises OSError if the disk refused it (counted as ``disk_error``).
        """
        if points <= 0 or not payload:
            raise ValueError("a record holds at least one point")
        record = encode_record(payload, points, oldest)
        with self._lock:
            if self._closed:
                raise SpoolError("the spool is closed")
            if len(record) + SEGMENT_HEADER.size > self.max_bytes:
                self._count_drop("spool_full", points)
                log.error(
                    "spool full: a batch of %d points (%d bytes) is larger than the whole spool (max_bytes %d); "
                    "dropped it; raise influx.spool.max_bytes",
                    points,
                    len(record),
                    self.max_bytes,
                )
                return False
            active = self._active()
            need = len(record)
            if active is None or (active.records and active.size + len(record) > self.segment_bytes):
                need += SEGMENT_HEADER.size
            while self._segments and self._bytes + need > self.max_bytes:
                self._drop_oldest()
                active = self._active()
                if active is None:
                    need = len(record) + SEGMENT_HEADER.size
            try:
                segment = self._writable(len(record))
                offset = segment.size
                try:
                    self._write_all(record)
                except OSError:
                    with contextlib.suppress(OSError):
                        os.ftruncate(self._active_fd, offset)  # type: ignore[arg-type]
                    raise
            except OSError as exc:
                self._count_drop("disk_error", points)
                log.error("spool: cannot write %d points to %s: %s; they are lost", points, self.directory, exc)
                raise
            segment.records.append(_Record(offset, len(record), points, oldest, self._monotonic()))
            segment.size += len(record)
            self._bytes += len(record)
            self._pending_points += points
            self.stats.appended_points += points
            self._dirty = True
            if self.fsync == "always":
                self._sync_locked()
            else:
                self.sync_if_due()
            self._changed.notify_all()
        return True

    def _active(self) -> _Segment | None:
        if self._segments and not self._segments[-1].sealed:
            return self._segments[-1]
        return None

    def _writable(self, record_size: int) -> _Segment:
        """The active segment, rolled over to a new one when the record would make it too large."""
        active = self._active()
        if active is not None and active.records and active.size + record_size > self.segment_bytes:
            self._seal(active)
            active = None
        if active is None:
            seq = self._next_seq
            self._next_seq += 1
            path = self.directory / segment_name(seq)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            try:
                header = SEGMENT_HEADER.pack(MAGIC, VERSION, PRECISIONS.index(self.precision))
                os.write(fd, header)
            except OSError:
                os.close(fd)
                path.unlink(missing_ok=True)
                raise
            self._active_fd = fd
            active = _Segment(seq, path, self.precision, sealed=False)
            self._segments.append(active)
            self._bytes += active.size
            if self.fsync == "always":
                self._sync_directory()
        return active

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._active_fd, view)  # type: ignore[arg-type]
            view = view[written:]

    def _seal(self, segment: _Segment) -> None:
        if segment.sealed:
            return
        if self._active_fd is not None:
            if self.fsync != "never" and self._dirty:
                os.fsync(self._active_fd)
                self._dirty = False
                self._last_sync = self._monotonic()
            os.close(self._active_fd)
            self._active_fd = None
        segment.sealed = True

    def sync_if_due(self) -> None:
        """Under ``interval``: fsync if something was appended and ``fsync_interval`` has passed."""
        with self._lock:
            if self.fsync == "interval" and self._dirty and self._monotonic() - self._last_sync >= self.fsync_interval:
                self._sync_locked()

    def _sync_locked(self) -> None:
        if self._dirty and self._active_fd is not None:
            os.fsync(self._active_fd)
        self._dirty = False
        self._last_sync = self._monotonic()

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- dropping when full -------------------------------------------------------------------------------------

    def _count_drop(self, reason: str, points: int) -> None:
        self.stats.dropped[reason] = self.stats.dropped.get(reason, 0) + points

    def _drop_oldest(self) -> None:
        segment = self._segments[0]
        self._seal(segment)
        lost = segment.unacked_points
        if self._inflight is not None and self._inflight.segment == segment.seq and not self._orphaned:
            lost -= self._inflight.points  # counted when the server answers: sent, or dropped
            self._orphaned = True
        unsent = segment.records[segment.acked :]
        self._count_drop("spool_full", lost)
        self._pending_points -= segment.unacked_points
        self._remove(segment)
        if unsent:
            log.warning(
                "spool full (%d of max_bytes %d): dropped the oldest segment %s with %d unsent points from %s to %s; "
                "%d points dropped since start; the InfluxDB server is not taking points: check it, or raise "
                "influx.spool.max_bytes",
                self._bytes + segment.size,
                self.max_bytes,
                segment.path.name,
                lost,
                time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(unsent[0].time)),
                time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(unsent[-1].time)),
                self.stats.dropped["spool_full"],
            )

    def _remove(self, segment: _Segment) -> None:
        """Delete a sealed segment (acknowledged, or dropped)."""
        if self._read_fd is not None and self._read_fd[0] == segment.seq:
            os.close(self._read_fd[1])
            self._read_fd = None
        self._segments.remove(segment)
        self._bytes -= segment.size
        segment.path.unlink(missing_ok=True)
        if self.fsync == "always":
            self._sync_directory()

    # --- sending ------------------------------------------------------------------------------------------------

    def peek(self, max_points: int) -> Batch | None:
        """The oldest unacknowledged records of the oldest segment, up to ``max_points`` (at least one record).

        One batch is in flight at a time: until it is acknowledged or released,
        ``peek`` returns None.
        """
        with self._lock:
            if self._closed or self._inflight is not None or not self._segments:
                return None
            segment = self._segments[0]
            records = segment.records[segment.acked :]
            if not records:
                return None
            chosen = [records[0]]
            points = records[0].points
            for record in records[1:]:
                if points + record.points > max_points:
                    break
                chosen.append(record)
                points += record.points
            start = chosen[0].offset
            end = chosen[-1].offset + chosen[-1].size
            raw = os.pread(self._reader(segment), end - start, start)
            payload = b"".join(raw[r.offset - start + RECORD_HEADER.size : r.offset - start + r.size] for r in chosen)
            batch = Batch(
                segment.seq,
                segment.acked,
                len(chosen),
                points,
                payload,
                segment.precision,
                min(r.time for r in chosen),
            )
            self._inflight, self._orphaned = batch, False
            return batch

    def _reader(self, segment: _Segment) -> int:
        if self._read_fd is not None and self._read_fd[0] != segment.seq:
            os.close(self._read_fd[1])
            self._read_fd = None
        if self._read_fd is None:
            self._read_fd = (segment.seq, os.open(segment.path, os.O_RDONLY))
        return self._read_fd[1]

    def ack(self, batch: Batch, rejected: int = 0) -> None:
        """The server acknowledged ``batch``: advance past it; delete its segment once all of it is acknowledged.

        ``rejected``: how many of its points the server refused for good (a batch sent in parts, some of
        which were refused); they are counted as dropped (``rejected``), the rest as acknowledged.
        """
        with self._lock:
            self._finish(batch)
            if rejected:
                self._count_drop("rejected", rejected)
            self.stats.acked_points += batch.points - rejected
            if self._orphaned:
                self._orphaned = False  # its segment was dropped meanwhile; the points arrived all the same
                return
            self._advance(batch)

    def _advance(self, batch: Batch) -> None:
        segment = self._segments[0]
        segment.acked = batch.first + batch.count
        self._pending_points -= batch.points
        if segment.acked == len(segment.records):
            self._seal(segment)
            self._remove(segment)
            self._write_cursor(segment.seq + 1, SEGMENT_HEADER.size)
        else:
            self._write_cursor(segment.seq, segment.records[segment.acked].offset)
        self._changed.notify_all()

    def release(self, batch: Batch) -> None:
        """Sending ``batch`` failed: it stays first in line (or, if its segment was dropped meanwhile, is counted)."""
        with self._lock:
            self._finish(batch)
            if self._orphaned:
                self._orphaned = False
                self._count_drop("spool_full", batch.points)

    def reject(self, batch: Batch) -> None:
        """The server refused ``batch`` for good (e.g. 400: not valid): drop it, counted as ``rejected``."""
        with self._lock:
            self._finish(batch)
            self._count_drop("rejected", batch.points)
            if self._orphaned:
                self._orphaned = False
                return
            self._advance(batch)

    def _finish(self, batch: Batch) -> None:
        if self._inflight is not batch:
            raise ValueError("not the batch in flight")
        self._inflight = None

    def _write_cursor(self, seq: int, offset: int) -> None:
        temporary = self.directory / f"{CURSOR}.tmp"
        temporary.write_text(f"{seq} {offset}\n")
        os.replace(temporary, self.directory / CURSOR)

    def wait(self, min_points: int, max_age: float, interrupted: Callable[[], bool] = lambda: False) -> None:
        """Block until ``min_points`` unacknowledged points wait, or the oldest of them was appended ``max_age``
        seconds ago, or ``interrupted()`` is true after :meth:`wake`."""
        with self._changed:
            while not (self._closed or interrupted() or self._pending_points >= min_points):
                appended = self._oldest_append()
                if appended is None:
                    self._changed.wait()
                    continue
                left = appended + max_age - self._monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def _oldest_append(self) -> float | None:
        for segment in self._segments:
            if segment.acked < len(segment.records):
                return segment.records[segment.acked].appended
        return None

    def wake(self) -> None:
        """Wake whoever is in :meth:`wait` (it returns if its ``interrupted()`` is now true)."""
        with self._changed:
            self._changed.notify_all()

    # --- state --------------------------------------------------------------------------------------------------

    @property
    def bytes(self) -> int:
        """Bytes of all segment files together."""
        return self._bytes

    @property
    def pending_points(self) -> int:
        """Points appended and not yet acknowledged (nor dropped)."""
        return self._pending_points

    def oldest_time(self) -> float | None:
        """Unix time of the oldest unacknowledged point, None when everything was acknowledged."""
        with self._lock:
            for segment in self._segments:
                if segment.acked < len(segment.records):
                    return segment.records[segment.acked].time
            return None

    def oldest_age(self) -> float:
        oldest = self.oldest_time()
        return 0.0 if oldest is None else max(0.0, self._wall() - oldest)

    def segments(self) -> list[str]:
        """The names of the segment files, oldest first."""
        with self._lock:
            return [segment.path.name for segment in self._segments]

    def close(self) -> None:
        """Stop: fsync and close the files (nothing is deleted; the next open sends what is left)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                active = self._active()
                if active is not None:
                    self._seal(active)
            finally:
                if self._read_fd is not None:
                    os.close(self._read_fd[1])
                    self._read_fd = None
                os.close(self._lock_fd)
                self._changed.notify_all()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
