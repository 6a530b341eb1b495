"""Asyncio ICMP echo ("ping") for many hosts: one ICMP socket per address family for every target.

Owns the ping collector's wire part: opening the ICMP sockets (an unprivileged
datagram socket where ``net.ipv4.ping_group_range`` allows it, else a raw socket,
else :class:`PingPermissionError` saying how to grant either), packing echo
requests (IPv4 type 8, ICMPv6 type 128), matching echo replies to the probes in
flight, per-probe timeouts, a global send-rate limit shared by all targets, and
per-target round statistics (:class:`PingStats`: loss, RTT min/avg/max, jitter).
What to ping and when, and what the numbers mean for a device, belong to the
scheduler and the state.

Matching is strict. A reply counts only if it is an echo reply from the probed
address with our identifier (raw sockets; a datagram socket's identifier is set
by the kernel, which also delivers only replies carrying it), a sequence number
still in flight for that address, our payload (which starts with a random
per-pinger cookie), and, on raw IPv4, a valid checksum. Raw sockets see every
ICMP packet of the host: other processes' pings, our own echo requests on
loopback. A kernel filter (``ICMP_FILTER`` / ``ICMP6_FILTER``) keeps most of that
away; what still arrives is counted in :class:`PingerStats` as ``unmatched``
(well-formed, not ours or no longer awaited) or ``malformed`` (truncated, bad
header or checksum) and dropped. Nothing a peer sends can raise.

Sequence numbers come from one 16-bit counter per socket, shared by all
targets; outstanding probes are keyed by address and sequence, and a pair still
in flight is never reused. RTTs are ``time.monotonic_ns()`` at receive minus at
send, so they include the event loop's delay in noticing the reply.

Cost per probe is kept low: the echo packet is pre-packed once per socket (only
sequence and checksum change, the checksum updated incrementally), a round of
probes shares one future and one timeout timer over a FIFO of deadlines, raw
IPv4 replies are matched on int keys taken straight from the IP header, sends
go out in batches between which the loop drains replies, and paced or spread
sending wakes the loop in coalesced batches (``BURST_S``, ``SLACK_S``).
"""

from __future__ import annotations

import asyncio
import errno
import heapq
import itertools
import math
import os
import socket
import struct
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from time import monotonic_ns

__all__ = ["PingError", "PingPermissionError", "PingStats", "Pinger", "PingerStats"]

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
ICMPV6_ECHO_REQUEST = 128
ICMPV6_ECHO_REPLY = 129
SOL_RAW = 255  # <linux/socket.h>; the socket module does not export it
ICMP_FILTER = 1  # <linux/icmp.h>: SOL_RAW option, bit n set = drop ICMP type n (n < 32)
ICMP6_FILTER = 1  # <netinet/icmp6.h>: IPPROTO_ICMPV6 option, 256-bit map, bit set = drop that type

RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
SEND_BATCH = 128  # probes sent per turn of the event loop before replies are drained again
BACKOFF_S = 0.001  # wait after a full send buffer
# Every sleep and wake-up of the event loop costs CPU (60-250 µs each, measured on the 2-core VM: cold caches
# after every sleep), so sending is coalesced: the token bucket holds BURST_S worth of packets and the pump
# waits for a batch of tokens, and scheduled (spread) probes due within SLACK_S are released together, so a
# pinger wakes at most ~1/SLACK_S times a second however many probes it schedules.
BURST_S = 0.02
SLACK_S = 0.01
MAX_PAYLOAD = 65_000
COOKIE_BYTES = 8
SOCKET_KINDS = ("auto", "dgram", "raw")
PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"
MAX_CACHED_TARGETS = 1_000_000

_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
_RAW4_PLAIN = struct.Struct("!12xI4xBBHHH")  # a 20-byte IPv4 header's source address, then _HEADER
_CHECKSUM_ID_SEQ = struct.Struct("!HHH")
_SEQ = struct.Struct("!H")


class PingError(Exception):
    """Base of the pinger's own errors (other than permissions)."""


class PingPermissionError(PermissionError):
    """No ICMP socket of any permitted kind can be opened; the message says how to allow one."""


@dataclass(slots=True)
class PingStats:
    """One round of probes to one target."""

    sent: int
    received: int
    rtts: list[float] = field(default_factory=list)  # seconds, in probe order, answered probes only

    @property
    def loss(self) -> float:
        """Share of probes not answered, 0..1 (nan when nothing was sent)."""
        return (self.sent - self.received) / self.sent if self.sent else math.nan

    @property
    def rtt_min(self) -> float:
        return min(self.rtts) if self.rtts else math.nan

    @property
    def rtt_avg(self) -> float:
        return sum(self.rtts) / len(self.rtts) if self.rtts else math.nan

    @property
    def rtt_max(self) -> float:
        return max(self.rtts) if self.rtts else math.nan

    @property
    def jitter(self) -> float:
        """Mean absolute difference of consecutive RTTs (seconds); nan with fewer than two answers."""
        rtts = self.rtts
        if len(rtts) < 2:
            return math.nan
        return sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (len(rtts) - 1)


@dataclass(slots=True)
class PingerStats:
    """Counters a collector exports about its own ICMP traffic (all targets, all rounds)."""

    sent: int = 0  # echo requests handed to the kernel
    received: int = 0  # replies matched to a probe in flight
    timeouts: int = 0  # probes that got no reply within their timeout
    unmatched: int = 0  # well-formed ICMP that answers no probe in flight (others' pings, late replies, duplicates)
    malformed: int = 0  # truncated packets, bad IP header, bad checksum
    send_errors: int = 0  # probes the kernel refused (no route, ...): counted as lost at once
    deferred: int = 0  # sends postponed because the socket's send buffer was full


# A probe in flight: (round, slot in round.rtts, send time in monotonic ns, key, the outstanding dict holding
# it). A plain tuple: it is made once per probe, on the hot path. The key is (address, sequence), except on raw
# IPv4 sockets, where it is the int ``address << 16 | sequence`` (the address straight from the IP header).
_Entry = tuple  # tuple[_Round, int, int, tuple[str, int] | int, dict]


class _Target:
    """A host literal resolved once: canonical address (as ``recvfrom`` reports it), family, sockaddr,
    and for IPv4 ``key_base``, the address as an int shifted left by 16 (raw IPv4 keys add the sequence)."""

    __slots__ = ("address", "family", "key_base", "sockaddr")

    def __init__(self, address: str, family: int, sockaddr: tuple, key_base: int = 0) -> None:
        self.address = address
        self.family = family
        self.sockaddr = sockaddr
        self.key_base = key_base


def _resolve(host: str) -> _Target:
    if not isinstance(host, str):
        raise TypeError(f"ping host must be a str IP address literal, got {type(host).__name__}")
    if ":" in host:
        try:
            info = socket.getaddrinfo(host, 0, socket.AF_INET6, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
        except (socket.gaierror, UnicodeError):
            raise ValueError(f"ping host must be an IP address literal, got {host!r}") from None
        sockaddr = info[0][4]
        address = socket.getnameinfo(sockaddr, socket.NI_NUMERICHOST)[0]
        return _Target(address, socket.AF_INET6, (address, 0, sockaddr[2], sockaddr[3]))
    try:
        packed = socket.inet_pton(socket.AF_INET, host)
    except (OSError, UnicodeError):
        raise ValueError(f"ping host must be an IP address literal, got {host!r}") from None
    address = socket.inet_ntop(socket.AF_INET, packed)
    return _Target(address, socket.AF_INET, (address, 0), int.from_bytes(packed, "big") << 16)


_TARGETS: dict[str, _Target] = {}  # host string -> resolved target, shared by every Pinger (immutable values)


def _checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum of ``data`` (0 when ``data`` already holds a valid checksum)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _sum16(data: bytes) -> int:
    """One's complement sum of ``data`` as 16-bit big-endian words, folded to 16 bits."""
    return ~_checksum(data) & 0xFFFF


def _free_sequence(channel: _Channel, target: _Target, seq: int) -> tuple[int, tuple[str, int] | int] | None:
    """The next sequence number after ``seq`` not in flight to ``target`` (and its key); None if all are."""
    outstanding = channel.outstanding
    for _ in range(0xFFFF):
        seq = (seq + 1) & 0xFFFF
        key = channel.key(target, seq)
        if key not in outstanding:
            return seq, key
    return None


def _ping_group_range() -> str:
    try:
        with open(PING_GROUP_RANGE) as handle:
            return " ".join(handle.read().split())
    except OSError:
        return "?"


def _permission_message(family: int, kind: str, failures: list[str]) -> str:
    python = os.path.realpath(sys.executable)
    groups = sorted({os.getegid(), *os.getgroups()})
    fam = "IPv6" if family == socket.AF_INET6 else "IPv4"
    asked = "" if kind == "auto" else f' (socket_kind="{kind}" was forced)'
    return (
        f"cannot open an ICMP socket for {fam}{asked}: {'; '.join(failures)}. Allow one of:\n"
        f"  * unprivileged ICMP datagram sockets (no capability needed; IPv4 and IPv6): "
        f'sysctl -w net.ipv4.ping_group_range="0 2147483647" '
        f'(now "{_ping_group_range()}"; your group ids {groups} must fall inside it; '
        f"persist it in /etc/sysctl.d/60-ping.conf)\n"
        f"  * raw ICMP sockets: setcap cap_net_raw+ep {python} "
        f"(every script this interpreter runs gets the capability), or AmbientCapabilities=CAP_NET_RAW "
        f"in the systemd unit, or run as root with CAP_NET_RAW (containers: --cap-add=NET_RAW)"
    )


class _Channel:
    """The ICMP socket of one address family and the probes in flight on it."""

    __slots__ = (
        "family",
        "ident",
        "int_keys",
        "kind",
        "outstanding",
        "pack",
        "packet",
        "payload",
        "reply_base",
        "request_base",
        "sendto",
        "seq",
        "sock",
    )

    def __init__(self, family: int, kind: str, sock: socket.socket, ident: int, payload: bytes) -> None:
        self.family = family
        self.kind = kind
        self.sock = sock
        self.sendto = sock.sendto
        self.ident = ident
        self.payload = payload
        self.outstanding: dict[tuple[str, int] | int, _Entry] = {}
        self.seq = int.from_bytes(os.urandom(2), "big")
        request_type = ICMPV6_ECHO_REQUEST if family == socket.AF_INET6 else ICMP_ECHO_REQUEST
        self.packet = bytearray(_HEADER.pack(request_type, 0, 0, ident, 0) + payload)
        # Raw IPv4 is the one case where we compute the checksum (the kernel does it for ICMPv6 and for
        # datagram sockets): one's complement sums of everything but the checksum and sequence fields.
        self.request_base = _sum16(_HEADER.pack(request_type, 0, 0, ident, 0) + payload)
        self.reply_base = _sum16(_HEADER.pack(ICMP_ECHO_REPLY, 0, 0, ident, 0) + payload)
        self.pack = family == socket.AF_INET and kind == "raw"
        self.int_keys = self.pack  # raw IPv4 reads the source from the IP header: int keys, no strings

    def key(self, target: _Target, seq: int) -> tuple[str, int] | int:
        """The key of probe ``seq`` to ``target`` in ``outstanding`` (inlined on the hot path)."""
        return target.key_base | seq if self.int_keys else (target.address, seq)


class _Round:
    """One ``ping()``/``sweep()`` call: ``count`` probes to each of ``n`` targets, one future for all of them.

    Probes are numbered ``k`` in send order (probe ``k // n`` of target ``k % n``); probe ``k`` is due at
    ``start_ns + k * step_ns``. Answers go to ``rtts[target * count + probe]``.
    """

    __slots__ = (
        "channels",
        "count",
        "done",
        "expiry",
        "future",
        "n",
        "pending",
        "released",
        "rtts",
        "start_ns",
        "step_ns",
        "targets",
        "timeout_ns",
        "timer",
        "total",
    )

    def __init__(
        self,
        targets: list[_Target],
        channels: list[_Channel],
        count: int,
        spread: float,
        timeout: float,
        future: asyncio.Future[None],
    ) -> None:
        self.targets = targets
        self.channels = channels
        self.n = len(targets)
        self.count = count
        self.total = self.n * count
        self.pending = self.total
        self.released = 0
        self.start_ns = monotonic_ns()
        self.step_ns = spread * 1e9 / self.total if spread > 0 else 0.0
        self.timeout_ns = int(timeout * 1e9)
        self.rtts: list[float | None] = [None] * self.total
        self.future = future
        # probes in flight, in send order (their deadlines only grow within a round): see _Entry
        self.expiry: deque[_Entry] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.done = False


class Pinger:
    """ICMP echo to any number of hosts. Use as ``async with Pinger() as pinger:``.

    ``max_rate`` caps echo requests per second over all targets (a token bucket holding
    ``BURST_S`` = 20 ms worth of tokens, at least one); ``math.inf`` removes the cap. ``socket_kind`` is
    ``"auto"`` (datagram socket if permitted, else raw), ``"dgram"`` or ``"raw"``. ``payload_size``
    bytes follow the 8-byte ICMP header; the first eight are a random cookie of this pinger.
    ``icmp_filter`` installs the kernel filter that keeps everything but echo replies away from raw
    sockets (turn it off only to observe the traffic a raw socket would otherwise see).
    """

    def __init__(
        self,
        max_rate: float = 2000.0,
        socket_kind: str = "auto",
        payload_size: int = 16,
        *,
        icmp_filter: bool = True,
        receive_buffer: int = RECEIVE_BUFFER_BYTES,
    ) -> None:
        if not max_rate > 0:
            raise ValueError(f"max_rate must be positive (math.inf for no limit), got {max_rate!r}")
        if socket_kind not in SOCKET_KINDS:
            raise ValueError(f"socket_kind must be one of {', '.join(SOCKET_KINDS)}, got {socket_kind!r}")
        if not 0 <= payload_size <= MAX_PAYLOAD:
            raise ValueError(f"payload_size must be 0..{MAX_PAYLOAD}, got {payload_size!r}")
        self.stats = PingerStats()
        self.kind: dict[int, str] = {}
        self.max_rate = float(max_rate)
        self.socket_kind = socket_kind
        self.icmp_filter = icmp_filter
        self._receive_buffer = receive_buffer
        cookie = os.urandom(COOKIE_BYTES)
        self._payload = (cookie + bytes(i & 0xFF for i in range(payload_size)))[:payload_size]
        self._ident = int.from_bytes(os.urandom(2), "big")
        self._recv_size = 60 + 8 + max(payload_size, 1500)
        self._channels: dict[int, _Channel] = {}
        self._rounds: set[_Round] = set()
        self._ready: deque[list] = deque()  # [round, first probe, end]: probes due, waiting for tokens
        self._queued = 0  # probes in self._ready
        self._schedule: list[tuple[float, int, _Round]] = []  # heap: (next due ns, order, round)
        self._order = 0
        self._limited = math.isfinite(self.max_rate)
        self._rate_per_ns = self.max_rate / 1e9
        self._burst = max(1.0, self.max_rate * BURST_S) if self._limited else math.inf
        self._tokens = self._burst
        self._tokens_at = monotonic_ns()
        self._pump_handle: asyncio.Handle | None = None
        self._pump_at: float = 0.0  # loop time the pump is scheduled for (0: soon)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def __aenter__(self) -> Pinger:
        self._loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the sockets; rounds still running raise :class:`PingError`."""
        self._closed = True
        if self._pump_handle is not None:
            self._pump_handle.cancel()
            self._pump_handle = None
        for rnd in list(self._rounds):
            self._abandon(rnd)
            if not rnd.future.done():
                rnd.future.set_exception(PingError("pinger closed"))
        self._ready.clear()
        self._queued = 0
        self._schedule.clear()
        for channel in self._channels.values():
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(channel.sock.fileno())
            channel.sock.close()
        self._channels.clear()

    # ------------------------------------------------------------------ sockets

    def open_socket(self, family: int = socket.AF_INET) -> str:
        """Open the ICMP socket for ``family`` now (else the first probe does); return its kind.

        Raises :class:`PingPermissionError` when no kind of ICMP socket is permitted.
        """
        return self._channel(family).kind

    def _channel(self, family: int) -> _Channel:
        channel = self._channels.get(family)
        if channel is not None:
            return channel
        if self._closed:
            raise PingError("pinger closed")
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise ValueError(f"family must be socket.AF_INET or socket.AF_INET6, got {family!r}")
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
        kinds = ("dgram", "raw") if self.socket_kind == "auto" else (self.socket_kind,)
        failures: list[str] = []
        denied = False
        sock = None
        kind = ""
        for kind in kinds:
            try:
                sock = socket.socket(family, socket.SOCK_DGRAM if kind == "dgram" else socket.SOCK_RAW, proto)
                break
            except PermissionError as exc:
                denied = True
                reason = (
                    "net.ipv4.ping_group_range excludes our group" if kind == "dgram" else "no CAP_NET_RAW capability"
                )
                failures.append(f"{kind} socket: {exc.strerror} ({reason})")
            except OSError as exc:  # no IPv6 in this kernel, no ping sockets, ...: try the next kind
                failures.append(f"{kind} socket: {exc.strerror or exc}")
        if sock is None:
            if denied:
                raise PingPermissionError(_permission_message(family, self.socket_kind, failures))
            fam = "IPv6" if family == socket.AF_INET6 else "IPv4"
            raise PingError(f"cannot open an ICMP socket for {fam}: {'; '.join(failures)}")
        try:
            sock.setblocking(False)
            self._set_receive_buffer(sock)
            if kind == "raw" and self.icmp_filter:
                if family == socket.AF_INET:
                    sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~(1 << ICMP_ECHO_REPLY) & 0xFFFFFFFF))
                else:
                    words = [0xFFFFFFFF] * 8
                    words[ICMPV6_ECHO_REPLY >> 5] &= ~(1 << (ICMPV6_ECHO_REPLY & 31)) & 0xFFFFFFFF
                    sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *words))
            channel = _Channel(family, kind, sock, self._ident, self._payload)
            drain = self._drain_raw4 if family == socket.AF_INET and kind == "raw" else self._drain
            self._loop.add_reader(sock.fileno(), drain, channel)
        except BaseException:
            sock.close()
            raise
        self._channels[family] = channel
        self.kind[family] = kind
        return channel

    def _set_receive_buffer(self, sock: socket.socket) -> None:
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if option is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, self._receive_buffer)
                return
            except OSError:  # SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped by net.core.rmem_max
                continue

    def _target(self, host: str) -> _Target:
        target = _TARGETS.get(host)
        if target is None:
            target = _resolve(host)
            if len(_TARGETS) >= MAX_CACHED_TARGETS:
                _TARGETS.clear()
            _TARGETS[host] = target
        return target

    # ------------------------------------------------------------------ receiving

    def _drain_raw4(self, channel: _Channel) -> None:
        """Read everything queued on a raw IPv4 socket: IP header (the source address is taken from it), then ICMP."""
        recv = channel.sock.recv
        size = self._recv_size
        outstanding = channel.outstanding
        ident = channel.ident
        payload = channel.payload
        reply_length = 8 + len(payload)
        reply_base = channel.reply_base
        unpack_plain = _RAW4_PLAIN.unpack_from
        unpack_header = _HEADER.unpack_from
        received = unmatched = malformed = 0
        while True:
            try:
                data = recv(size)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # an error queued on the socket is reported once; the timeouts handle it
                continue
            now = monotonic_ns()
            length = len(data)
            if length >= 28 and data[0] == 0x45:  # IPv4 without options: nearly every packet
                ihl = 20
                source, kind, code, checksum, their_ident, seq = unpack_plain(data)
            else:
                ihl = (data[0] & 0x0F) << 2 if length else 0
                if length < 28 or data[0] >> 4 != 4 or ihl < 20 or length < ihl + 8:
                    malformed += 1
                    continue
                source = int.from_bytes(data[12:16], "big")
                kind, code, checksum, their_ident, seq = unpack_header(data, ihl)
            if kind == ICMP_ECHO_REPLY and their_ident == ident and length - ihl == reply_length and not code:
                if not data.endswith(payload):
                    unmatched += 1
                    continue
                expected = reply_base + seq
                expected = ~((expected & 0xFFFF) + (expected >> 16)) & 0xFFFF
                if checksum != expected and _checksum(data[ihl:]):
                    malformed += 1
                    continue
                entry = outstanding.pop((source << 16) | seq, None)
                if entry is None:
                    unmatched += 1
                    continue
                rnd = entry[0]
                rnd.rtts[entry[1]] = (now - entry[2]) * 1e-9
                received += 1
                rnd.pending -= 1
                if not rnd.pending:
                    self._finish(rnd)
                continue
            # not one of ours: classify only
            total_length = (data[2] << 8) | data[3]
            if total_length == length and _checksum(data[ihl:]):
                malformed += 1
            else:
                unmatched += 1
        stats = self.stats
        stats.received += received
        stats.unmatched += unmatched
        stats.malformed += malformed

    def _drain(self, channel: _Channel) -> None:
        """Read everything queued on a socket that delivers ICMP without the IP header (IPv6, datagram)."""
        recvfrom = channel.sock.recvfrom
        size = self._recv_size
        outstanding = channel.outstanding
        ident = channel.ident if channel.kind == "raw" else -1  # the kernel sets a datagram socket's identifier
        payload = channel.payload
        reply_length = 8 + len(payload)
        reply_type = ICMPV6_ECHO_REPLY if channel.family == socket.AF_INET6 else ICMP_ECHO_REPLY
        unpack_from = _HEADER.unpack_from
        received = unmatched = malformed = 0
        while True:
            try:
                data, address = recvfrom(size)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue
            now = monotonic_ns()
            if len(data) < 8:
                malformed += 1
                continue
            kind, code, _, their_ident, seq = unpack_from(data)
            if (
                kind != reply_type
                or code
                or (ident >= 0 and their_ident != ident)
                or len(data) != reply_length
                or not data.endswith(payload)
            ):
                unmatched += 1
                continue
            entry = outstanding.pop((address[0], seq), None)
            if entry is None:
                unmatched += 1
                continue
            rnd = entry[0]
            rnd.rtts[entry[1]] = (now - entry[2]) * 1e-9
            received += 1
            rnd.pending -= 1
            if not rnd.pending:
                self._finish(rnd)
        stats = self.stats
        stats.received += received
        stats.unmatched += unmatched
        stats.malformed += malformed

    # ------------------------------------------------------------------ rounds

    def _finish(self, rnd: _Round) -> None:
        rnd.done = True
        self._rounds.discard(rnd)
        if rnd.timer is not None:
            rnd.timer.cancel()
            rnd.timer = None
        rnd.expiry.clear()
        if not rnd.future.done():
            rnd.future.set_result(None)

    def _abandon(self, rnd: _Round) -> None:
        """Forget a round that is cancelled or closed: its probes in flight stop being awaited."""
        rnd.done = True
        self._rounds.discard(rnd)
        if rnd.timer is not None:
            rnd.timer.cancel()
            rnd.timer = None
        for entry in rnd.expiry:
            outstanding, key = entry[4], entry[3]
            if outstanding.get(key) is entry:
                del outstanding[key]
        rnd.expiry.clear()

    def _expire(self, rnd: _Round) -> None:
        """Timer of a round: every probe whose deadline passed without an answer is lost."""
        rnd.timer = None
        if rnd.done:
            return
        now = monotonic_ns()
        expiry = rnd.expiry
        timeout_ns = rnd.timeout_ns
        timeouts = 0
        while expiry:
            entry = expiry[0]
            outstanding, key = entry[4], entry[3]
            if entry[2] + timeout_ns > now:
                if outstanding.get(key) is entry:
                    break
                expiry.popleft()  # answered already; look past it for the next deadline
                continue
            expiry.popleft()
            if outstanding.get(key) is entry:
                del outstanding[key]
                timeouts += 1
        self.stats.timeouts += timeouts
        rnd.pending -= timeouts
        if not rnd.pending:
            self._finish(rnd)
        elif expiry:
            assert self._loop is not None
            rnd.timer = self._loop.call_at((expiry[0][2] + timeout_ns) * 1e-9, self._expire, rnd)

    def _wake_pump(self, when_ns: float | None = None) -> None:
        """Make sure the pump runs at ``when_ns`` (monotonic ns) or earlier; ``None`` means soon."""
        loop = self._loop
        assert loop is not None
        handle = self._pump_handle
        if when_ns is None:
            if handle is not None:
                if self._pump_at == 0.0:
                    return
                handle.cancel()
            self._pump_at = 0.0
            self._pump_handle = loop.call_soon(self._pump)
            return
        when = when_ns * 1e-9
        if handle is not None:
            if self._pump_at <= when:
                return
            handle.cancel()
        self._pump_at = when
        self._pump_handle = loop.call_at(when, self._pump)

    def _pump(self) -> None:
        """Release due probes into the ready queue and send as many as the token bucket allows."""
        self._pump_handle = None
        if self._closed:
            return
        now = monotonic_ns()
        ready = self._ready
        schedule = self._schedule
        horizon = now + SLACK_S * 1e9  # release what is due within the slack too: fewer wake-ups
        while schedule and schedule[0][0] <= horizon:
            _, order, rnd = heapq.heappop(schedule)
            if rnd.done:
                continue
            first = rnd.released
            last = rnd.total
            if rnd.step_ns:
                last = min(last, max(first + 1, int((horizon - rnd.start_ns) / rnd.step_ns) + 1))
            ready.append([rnd, first, last])
            self._queued += last - first
            rnd.released = last
            if last < rnd.total:
                heapq.heappush(schedule, (rnd.start_ns + last * rnd.step_ns, order, rnd))

        budget = SEND_BATCH
        if self._limited:
            tokens = self._tokens + (now - self._tokens_at) * self._rate_per_ns
            if tokens > self._burst:
                tokens = self._burst
            self._tokens_at = now
            budget = min(budget, int(tokens))
        else:
            tokens = math.inf
        sent, blocked = self._send_ready(budget)
        tokens -= sent
        if self._limited:
            self._tokens = tokens

        if ready:
            if blocked:  # the send buffer is full: try again a little later
                self._wake_pump(now + BACKOFF_S * 1e9)
            elif tokens >= 1:  # stopped at SEND_BATCH: replies are drained, then the next batch goes
                self._wake_pump()
            else:  # wait for a batch's worth of tokens, not for each one: one wake-up per burst
                wanted = min(self._burst, self._queued, SEND_BATCH)
                self._wake_pump(now + (wanted - tokens) / self._rate_per_ns)
        elif schedule:
            self._wake_pump(schedule[0][0])

    def _send_ready(self, budget: int) -> tuple[int, bool]:
        """Send up to ``budget`` ready probes; return how many were sent and whether the send buffer filled."""
        ready = self._ready
        assert self._loop is not None
        call_at = self._loop.call_at
        expire = self._expire
        stats = self.stats
        sent = errors = 0
        blocked = False
        while ready and sent < budget and not blocked:
            span = ready[0]  # [round, next probe, end]: consecutive probes of one round
            rnd, k, end = span
            first = k
            if not rnd.done:
                n = rnd.n
                count = rnd.count
                targets = rnd.targets
                channels = rnd.channels
                append_expiry = rnd.expiry.append
                timeout_ns = rnd.timeout_ns
                stop = min(end, k + budget - sent)
                while k < stop:
                    j = k % n
                    target = targets[j]
                    channel = channels[j]
                    outstanding = channel.outstanding
                    seq = channel.seq
                    key = target.key_base | seq if channel.int_keys else (target.address, seq)
                    if key in outstanding:
                        free = _free_sequence(channel, target, seq)
                        if free is None:  # 65,536 probes to one address in flight: no sequence number left
                            errors += 1
                            self._lost(rnd)
                            k += 1
                            continue
                        seq, key = free
                    channel.seq = (seq + 1) & 0xFFFF
                    packet = channel.packet
                    if channel.pack:
                        checksum = channel.request_base + seq
                        _CHECKSUM_ID_SEQ.pack_into(
                            packet, 2, ~((checksum & 0xFFFF) + (checksum >> 16)) & 0xFFFF, channel.ident, seq
                        )
                    else:
                        _SEQ.pack_into(packet, 6, seq)
                    sent_at = monotonic_ns()
                    try:
                        channel.sendto(packet, target.sockaddr)
                    except (BlockingIOError, InterruptedError):
                        blocked = True
                        break
                    except OSError as exc:
                        if exc.errno == errno.ENOBUFS:  # the device queue is full: transient, like EAGAIN
                            blocked = True
                            break
                        errors += 1  # no route, unreachable, not permitted: this probe is lost
                        self._lost(rnd)
                        k += 1
                        continue
                    entry = (rnd, j * count + k // n, sent_at, key, outstanding)
                    outstanding[key] = entry
                    append_expiry(entry)
                    if rnd.timer is None:
                        rnd.timer = call_at((sent_at + timeout_ns) * 1e-9, expire, rnd)
                    sent += 1
                    k += 1
            else:
                k = end  # a cancelled round: drop its remaining probes
            self._queued -= k - first
            if k >= end:
                ready.popleft()
            else:
                span[1] = k
        if blocked:
            stats.deferred += 1
        stats.sent += sent
        stats.send_errors += errors
        return sent, blocked

    def _lost(self, rnd: _Round) -> None:
        rnd.pending -= 1
        if not rnd.pending:
            self._finish(rnd)

    async def _run(self, hosts: Sequence[str], count: int, spread: float, timeout: float) -> list[PingStats]:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an integer of at least 1, got {count!r}")
        if not 0 <= spread < math.inf:
            raise ValueError(f"spread must be a finite number of seconds >= 0, got {spread!r}")
        if not 0 < timeout < math.inf:
            raise ValueError(f"timeout must be a positive finite number of seconds, got {timeout!r}")
        if self._closed:
            raise PingError("pinger closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise PingError("a Pinger belongs to the event loop it was first used on")
        targets = [self._target(host) for host in hosts]
        if not targets:
            return []
        by_family = {family: self._channel(family) for family in {target.family for target in targets}}
        channels = [by_family[target.family] for target in targets]
        rnd = _Round(targets, channels, count, spread, timeout, loop.create_future())
        self._rounds.add(rnd)
        self._order += 1
        heapq.heappush(self._schedule, (rnd.start_ns, self._order, rnd))
        self._wake_pump()
        try:
            await rnd.future
        finally:
            if not rnd.done:  # cancelled
                self._abandon(rnd)
        rtts = rnd.rtts
        if count == 1:
            return [PingStats(1, 0, []) if rtt is None else PingStats(1, 1, [rtt]) for rtt in rtts]
        results = []
        for start in range(0, rnd.total, count):
            answered = [rtt for rtt in rtts[start : start + count] if rtt is not None]
            results.append(PingStats(count, len(answered), answered))
        return results

    # ------------------------------------------------------------------ public

    async def ping(self, host: str, count: int = 1, spread: float = 0.0, timeout: float = 1.0) -> PingStats:
        """Send ``count`` echo requests to ``host`` (an IP literal), probe ``i`` at ``i * spread / count``
        seconds (up to ``SLACK_S`` = 10 ms early), each awaited for up to ``timeout`` seconds after it was sent."""
        return (await self._run([host], count, spread, timeout))[0]

    async def sweep(
        self, hosts: Sequence[str], count: int = 1, spread: float = 0.0, timeout: float = 1.0
    ) -> dict[str, PingStats]:
        """Ping every host (duplicates once) as one round; the result maps each host string to its stats.

        Probe ``i`` of the ``j``-th of ``n`` hosts is due at ``(i + j / n) * spread / count`` seconds: every
        host's probes are ``spread / count`` apart and the hosts are staggered evenly in between, so the
        round's packets are spread evenly over ``spread`` (and never faster than ``max_rate``).
        """
        unique = list(dict.fromkeys(hosts))
        return dict(zip(unique, await self._run(unique, count, spread, timeout), strict=True))
