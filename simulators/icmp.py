"""The simulated devices' side of the wire inside the simulator's network namespace: a TUN responder.

Owns answering, in userspace, every IPv4 packet the namespace routes into the
TUN device (``sim0``, see :mod:`simulators.netns`): ICMP echo requests get echo
replies (same identifier, sequence number and payload), UDP datagrams to the
SNMP port go to the SNMP agent's :meth:`~simulators.snmp_agent.SnmpAgentServer.respond`
and its answer goes back from the device's address and port. Each device's
simulated link (:meth:`~simulators.behaviour.DeviceRuntime.link_delay`: base
latency, jitter, loss, a ``degrade`` fault) decides whether and when the answer
is written back, scheduled with ``loop.call_later``; a silent device (fault,
reboot downtime) answers neither ping nor SNMP. SNMP answers are also late by
a ``slow`` fault (a busy agent), pings are not.

Every packet is checked before it is answered: IPv4 header length, total
length and header checksum, then the ICMP checksum or the UDP length and
checksum. Anything malformed, not for a simulated device, a fragment, another
protocol, ICMP type or UDP port is dropped and counted in :class:`ResponderStats`.
Replies carry correct IPv4, ICMP and UDP checksums.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections import Counter
from dataclasses import dataclass, field

from simulators.behaviour import CityRuntime, DeviceRuntime
from simulators.snmp_agent import SnmpAgentServer

PROTOCOL_ICMP = 1
PROTOCOL_UDP = 17
ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
REPLY_TTL = 64
READ_SIZE = 65535
MAX_READS_PER_WAKEUP = 64  # then yield to the loop so due answers go out; epoll reports the rest at once
# The loop's timers wake through epoll, whose timeout has millisecond granularity: answers are written
# in batches per millisecond, and one due in under half a millisecond at once (the responder's own
# processing, tens of microseconds, stands in for it).
TIMER_GRANULARITY = 0.001

_IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
_UDP_HEADER = struct.Struct("!HHHH")
_NATIVE_WORD = struct.Struct("=H")


def _ones_complement_sum(data: bytes | bytearray) -> int:
    """The 16-bit ones' complement sum of ``data`` (RFC 1071), words taken in *native* byte order.

    The sum is byte-order independent: summing native words gives the byte-swapped
    sum on little-endian machines, and writing it back with native order puts the
    right bytes on the wire. ``sum`` over a ``memoryview`` cast runs in C.
    """
    if len(data) & 1:
        data = bytes(data) + b"\0"
    total = sum(memoryview(data).cast("H"))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def internet_checksum(data: bytes | bytearray) -> bytes:
    """The two checksum octets to put into a header whose checksum field is zero in ``data``."""
    return _NATIVE_WORD.pack(~_ones_complement_sum(data) & 0xFFFF)


def checksum_valid(data: bytes | bytearray) -> bool:
    """True if ``data``, checksum field included, sums to all ones."""
    return _ones_complement_sum(data) == 0xFFFF


def _pseudo_header(source: bytes, destination: bytes, protocol: int, length: int) -> bytes:
    return source + destination + struct.pack("!BBH", 0, protocol, length)


def udp_checksum(source: bytes, destination: bytes, segment: bytes | bytearray) -> bytes:
    """The UDP checksum of ``segment`` (header with checksum zero + data); 0 is sent as 0xFFFF (RFC 768)."""
    value = internet_checksum(_pseudo_header(source, destination, PROTOCOL_UDP, len(segment)) + bytes(segment))
    return b"\xff\xff" if value == b"\0\0" else value


@dataclass(slots=True)
class ResponderStats:
    """What the responder saw; ``reasons`` counts drops (malformed or unsupported) by reason."""

    packets: int = 0
    echo_requests: int = 0
    echo_replies: int = 0
    snmp_requests: int = 0
    snmp_replies: int = 0
    lost: int = 0  # dropped by a device's simulated link
    silent: int = 0  # addressed to a silent device
    unknown_destination: int = 0  # a well-formed packet to an address no device has
    not_ipv4: int = 0  # IPv6 and other versions
    unsupported: int = 0  # fragments, other protocols, ICMP types, UDP ports
    malformed: int = 0
    read_errors: int = 0
    write_errors: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


class TunResponder:
    """Answers ICMP echo and SNMP for every device of ``city`` on the TUN fd ``fd`` (which it owns and closes)."""

    def __init__(self, city: CityRuntime, agent: SnmpAgentServer, fd: int) -> None:
        if agent.city is not city:
            raise ValueError("the SNMP agent must be attached to the same city (SnmpAgentServer.attach)")
        self.city = city
        self.agent = agent
        self.stats = ResponderStats()
        self._fd: int | None = fd
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ident = 0
        self._due: dict[int, list[tuple[bytes, bool]]] = {}  # millisecond of the loop's clock -> answers due then

    @property
    def fd(self) -> int | None:
        return self._fd

    def start(self) -> None:
        """Start reading the TUN device on the running loop (call from the loop's thread)."""
        if self._fd is None:
            raise RuntimeError("the responder is closed")
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd, self._on_readable)

    def close(self) -> None:
        """Stop reading and close the TUN fd (the device disappears with it); pending answers are dropped."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(fd)
        self._due.clear()
        os.close(fd)

    # ------------------------------------------------------------ wire

    def _on_readable(self) -> None:
        for _ in range(MAX_READS_PER_WAKEUP):
            fd = self._fd
            if fd is None:
                return
            try:
                packet = os.read(fd, READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.stats.read_errors += 1
                return
            self.handle_packet(packet)

    def _write(self, packet: bytes, echo: bool) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            os.write(fd, packet)
        except OSError:
            self.stats.write_errors += 1
            return
        if echo:
            self.stats.echo_replies += 1
        else:
            self.stats.snmp_replies += 1
            self.agent.stats.responses += 1

    def _answer(self, packet: bytes, delay: float, echo: bool) -> None:
        """Write ``packet`` after ``delay`` seconds, in a batch per millisecond (one timer each).

        The batch is due at the start of its millisecond and epoll wakes up to a
        millisecond late, so on average an answer goes out when it is due.
        """
        if delay < TIMER_GRANULARITY / 2:
            self._write(packet, echo)
            return
        loop = self._loop
        assert loop is not None
        slot = int((loop.time() + delay) * 1000.0)
        batch = self._due.get(slot)
        if batch is None:
            batch = self._due[slot] = []
            loop.call_at(slot / 1000.0, self._flush, slot)
        batch.append((packet, echo))

    def _flush(self, slot: int) -> None:
        for packet, echo in self._due.pop(slot, ()):
            self._write(packet, echo)

    def _drop(self, reason: str, malformed: bool = True) -> None:
        if malformed:
            self.stats.malformed += 1
        else:
            self.stats.unsupported += 1
        self.stats.reasons[reason] += 1

    def _ipv4(self, source: bytes, destination: bytes, protocol: int, payload: bytes | bytearray) -> bytes:
        self._ident = (self._ident + 1) & 0xFFFF
        header = bytearray(
            _IPV4_HEADER.pack(0x45, 0, 20 + len(payload), self._ident, 0, REPLY_TTL, protocol, 0, source, destination)
        )
        header[10:12] = internet_checksum(header)
        return bytes(header) + bytes(payload)

    # ------------------------------------------------------------ packets

    def handle_packet(self, packet: bytes) -> None:
        """Check one IPv4 packet from the TUN device and answer, drop or count it."""
        stats = self.stats
        stats.packets += 1
        if not packet or packet[0] >> 4 != 4:
            stats.not_ipv4 += 1
            return
        size = len(packet)
        if size < 20:
            self._drop("truncated IPv4 header")
            return
        header_length = (packet[0] & 0x0F) * 4
        if header_length < 20 or header_length > size:
            self._drop("bad IPv4 header length")
            return
        total_length = packet[2] << 8 | packet[3]
        if total_length < header_length or total_length > size:
            self._drop("bad IPv4 total length")
            return
        if not checksum_valid(packet[:header_length]):
            self._drop("bad IPv4 header checksum")
            return
        if (packet[6] << 8 | packet[7]) & 0x3FFF:  # more fragments, or an offset: we do not reassemble
            self._drop("IPv4 fragment", malformed=False)
            return
        device = self.city.by_address.get(packet[16:20])
        if device is None:
            stats.unknown_destination += 1
            return
        protocol = packet[9]
        body = packet[header_length:total_length]
        if protocol == PROTOCOL_ICMP:
            self._icmp(device, packet[12:16], packet[16:20], body)
        elif protocol == PROTOCOL_UDP:
            self._udp(device, packet[12:16], packet[16:20], body)
        else:
            self._drop(f"IP protocol {protocol}", malformed=False)

    def _icmp(self, device: DeviceRuntime, source: bytes, destination: bytes, message: bytes) -> None:
        if len(message) < 8:
            self._drop("truncated ICMP message")
            return
        if not checksum_valid(message):
            self._drop("bad ICMP checksum")
            return
        if message[0] != ICMP_ECHO_REQUEST or message[1] != 0:
            self._drop(f"ICMP type {message[0]} code {message[1]}", malformed=False)
            return
        self.stats.echo_requests += 1
        if device.silent(self.city.clock.time()):
            self.stats.silent += 1
            return
        delay = device.link_delay()
        if delay is None:
            self.stats.lost += 1
            return
        reply = bytearray(message)
        reply[0] = ICMP_ECHO_REPLY
        reply[2:4] = b"\0\0"
        reply[2:4] = internet_checksum(reply)
        self._answer(self._ipv4(destination, source, PROTOCOL_ICMP, reply), delay, echo=True)

    def _udp(self, device: DeviceRuntime, source: bytes, destination: bytes, segment: bytes) -> None:
        if len(segment) < 8:
            self._drop("truncated UDP header")
            return
        source_port, destination_port, length, checksum = _UDP_HEADER.unpack_from(segment)
        if length < 8 or length > len(segment):
            self._drop("bad UDP length")
            return
        segment = segment[:length]
        if checksum and not checksum_valid(_pseudo_header(source, destination, PROTOCOL_UDP, length) + segment):
            self._drop("bad UDP checksum")
            return
        if destination_port != device.spec.port:
            self._drop(f"UDP port {destination_port}", malformed=False)
            return
        self.stats.snmp_requests += 1
        now = self.city.clock.time()
        if device.silent(now):
            self.stats.silent += 1
            self.agent.stats.silent_drops += 1
            return
        link = device.link_delay()
        if link is None:
            self.stats.lost += 1
            self.agent.stats.lost += 1
            return
        self.agent.stats.requests += 1
        response = self.agent.respond(device, segment[8:], now)
        if response is None:  # malformed SNMP, wrong community: the agent counted it
            return
        answer = bytearray(_UDP_HEADER.pack(destination_port, source_port, 8 + len(response), 0)) + response
        answer[6:8] = udp_checksum(destination, source, answer)
        self._answer(self._ipv4(destination, source, PROTOCOL_UDP, answer), device.delay + link, echo=False)
