"""SNMP trap receiver: receive, authenticate and classify v1/v2c/v3 traps and informs.

Owns the trap port and nothing else. Each datagram is decoded with the strict
codec, matched to a known :class:`~stadtnetz.model.Device` (by its UDP source
address; for an SNMPv1 Trap-PDU from an unknown source by its agent-addr),
authenticated by community, classified (linkDown, linkUp, coldStart,
warmStart, authenticationFailure, anything else) and handed to the
``on_trap`` callback as a :class:`TrapEvent`. This module does not touch the
service's state: what an event means for a device is the callback's business.
An accepted v2c InformRequest is answered with a Response (RFC 3416 4.2.7).

Everything else is counted in :class:`TrapStats` and dropped: datagrams the
codec rejects and SNMPv2 traps without snmpTrapOID.0 (``malformed``), traps
from no known device (``unknown_source``), traps whose community the device
does not accept (``bad_community``) and non-trap PDUs such as GetRequest or
Response (``not_a_trap``). A valid message that our own code then fails on is
``handler_error`` (a bug here, logged at WARNING with its traceback; never counted
against the device as ``malformed``). Drops are logged
on the ``stadtnetz.traps`` logger at most once per reason per minute, with a
count; a community is never logged. :class:`TrapStatsCollector` exports the
counters to Prometheus at scrape time.

Bounded memory: every datagram is handled to the end inside
``datagram_received``; nothing is queued or buffered here, so a trap flood
costs CPU, never memory (beyond the socket's kernel receive buffer, and at
most ``MAX_UNSENT_ANSWER_BYTES`` of inform answers the socket has not taken yet).

SNMPv3 datagrams (when USM users are configured) go, after the source check,
to :mod:`collectors.traps_v3` (pysnmp, on this same socket); refused ones are
``bad_credentials``. Without users they are ``malformed``, as to the codec.

Not handled: retransmitted informs are answered and reported again (no
duplicate suppression); no per-source rate limit.
"""

from __future__ import annotations

import asyncio
import enum
import hmac
import ipaddress
import logging
import socket
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from collectors.snmp.codec import (
    Message,
    Pdu,
    PduType,
    TrapV1Pdu,
    Version,
    decode_message,
    encode_pdu_message,
    encode_varbinds,
)
from collectors.snmp.types import Oid, VarBind
from collectors.traps_v3 import V3TrapDecoder, is_v3
from stadtnetz.clock import Clock, SystemClock
from stadtnetz.log_limit import LogLimiter
from stadtnetz.model import Device, TrapEvent, TrapKind, V3User
from stadtnetz.own_metrics import Family, ScrapeCollector

log = logging.getLogger("stadtnetz.traps")

RECEIVE_BUFFER_BYTES: Final = 4 * 1024 * 1024
MAX_UNSENT_ANSWER_BYTES: Final = 1024 * 1024  # inform answers waiting for the socket; beyond: not answered
LOG_INTERVAL: Final = 60.0  # seconds between two log lines about the same kind of drop

SYS_UPTIME_0: Final[Oid] = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID_0: Final[Oid] = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
SNMP_TRAPS: Final[Oid] = (1, 3, 6, 1, 6, 3, 1, 1, 5)  # coldStart is .1 ... authenticationFailure .5
IF_INDEX: Final[Oid] = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)
IF_ADMIN_STATUS: Final[Oid] = (1, 3, 6, 1, 2, 1, 2, 2, 1, 7)
IF_OPER_STATUS: Final[Oid] = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)
_ENTERPRISE_SPECIFIC: Final = 6  # v1 generic-trap enterpriseSpecific


class DropReason(enum.StrEnum):
    """Why a datagram on the trap port was dropped; the ``reason`` label of the metrics."""

    MALFORMED = "malformed"
    UNKNOWN_SOURCE = "unknown_source"
    BAD_COMMUNITY = "bad_community"
    BAD_CREDENTIALS = "bad_credentials"  # SNMPv3: unknown user, wrong key, not in the time window
    NOT_A_TRAP = "not_a_trap"
    HANDLER_ERROR = "handler_error"  # a valid message our own code failed on: a bug here, not the device's fault


# v1 generic-trap numbers (RFC 1157) and v2 snmpTrapOID values (RFC 3418) of the kinds we know
_V1_KINDS: Final = {
    0: TrapKind.COLD_START,
    1: TrapKind.WARM_START,
    2: TrapKind.LINK_DOWN,
    3: TrapKind.LINK_UP,
    4: TrapKind.AUTHENTICATION_FAILURE,
}
_V2_KINDS: Final = {(*SNMP_TRAPS, generic + 1): kind for generic, kind in _V1_KINDS.items()}
_TRAP_PDUS: Final = frozenset((PduType.TRAP_V1, PduType.TRAP_V2, PduType.INFORM))


@dataclass(slots=True)
class TrapStats:
    """Counters of the trap port; every key of both dicts is always present."""

    received: dict[TrapKind, int] = field(default_factory=lambda: dict.fromkeys(TrapKind, 0))
    dropped: dict[DropReason, int] = field(default_factory=lambda: dict.fromkeys(DropReason, 0))
    callback_errors: int = 0


_RECEIVED = Family(
    "counter", "stadtnetz_traps_received", "SNMP traps and informs accepted from known devices, by kind.", ("trap",)
)
_DROPPED = Family(
    "counter", "stadtnetz_trap_packets_dropped", "Datagrams on the trap port that were dropped, by reason.", ("reason",)
)
_CALLBACK_ERRORS = Family(
    "counter", "stadtnetz_trap_callback_errors", "Accepted traps whose handler raised an exception."
)


class TrapStatsCollector(ScrapeCollector):
    """Exports a trap receiver's counters at scrape time (register it with a CollectorRegistry)."""

    families = (_RECEIVED, _DROPPED, _CALLBACK_ERRORS)

    def __init__(self, stats: TrapStats) -> None:
        self.stats = stats

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        stats = self.stats
        for kind in TrapKind:
            yield _RECEIVED, [kind.value], stats.received[kind]
        for reason in DropReason:
            yield _DROPPED, [reason.value], stats.dropped[reason]
        yield _CALLBACK_ERRORS, (), stats.callback_errors


def _address_key(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address literal as a comparable key: zone dropped, IPv4-mapped IPv6 as IPv4."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _interface(varbinds: list[VarBind]) -> tuple[int | None, int | None]:
    """(ifIndex, ifOperStatus) from a trap's varbinds, each None if absent."""
    if_index: int | None = None
    instance: int | None = None
    oper_status: int | None = None
    for oid, value in varbinds:
        if len(oid) != 11:
            continue
        column = oid[:10]
        if column == IF_INDEX:
            if if_index is None:
                if_index = value if type(value) is int and value > 0 else oid[10]
        elif column == IF_OPER_STATUS:
            if instance is None:
                instance = oid[10]
            if oper_status is None and type(value) is int:
                oper_status = value
        elif column == IF_ADMIN_STATUS and instance is None:
            instance = oid[10]
    return (if_index if if_index is not None else instance), oper_status


class _TrapProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: TrapReceiver) -> None:
        self._receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self._receiver._datagram(data, addr)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP unreachable after answering an inform
        log.debug("trap socket error: %s", exc)


class TrapReceiver:
    """Listens on one UDP socket for v1/v2c traps and informs; calls ``on_trap`` for each accepted one.

    ``communities(device)`` gives the communities accepted from a device (raw
    bytes); it is asked for every trap, so a changed secret takes effect at once.
    ``on_trap`` runs on the event loop, synchronously, inside the datagram's
    handling: it must be quick and must not block. An exception it raises is
    counted and logged, and the receiver carries on.
    """

    def __init__(
        self,
        devices: Iterable[Device],
        communities: Callable[[Device], Collection[bytes]],
        on_trap: Callable[[TrapEvent], None],
        *,
        clock: Clock | None = None,
        receive_buffer: int = RECEIVE_BUFFER_BYTES,
        v3_users: Iterable[V3User] = (),
    ) -> None:
        self.stats = TrapStats()
        self._v3_users = list(v3_users)
        self._v3: V3TrapDecoder | None = None
        self._communities = communities
        self._on_trap = on_trap
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._receive_buffer = receive_buffer
        self._limiter = LogLimiter(self._clock, LOG_INTERVAL)
        self._transport: asyncio.DatagramTransport | None = None
        # several devices may share an address (one agent per port): the community tells them apart
        self._by_address: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, list[Device]] = {}
        for device in devices:
            key = _address_key(device.host)
            if key is None:
                log.warning(
                    "device %s: host %r is not an IP address; its traps cannot be matched", device.id, device.host
                )
                continue
            self._by_address.setdefault(key, []).append(device)

    # ------------------------------------------------------------------ socket

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Bind the trap socket on ``host`` (an IPv4 or IPv6 literal) and ``port`` (0: any free one).

        Returns the address actually bound.
        """
        if self._transport is not None:
            raise RuntimeError("trap receiver already started")
        try:
            family = socket.AF_INET6 if ipaddress.ip_address(host.split("%", 1)[0]).version == 6 else socket.AF_INET
        except ValueError:
            raise ValueError(f"trap listen host must be an IP address, got {host!r}") from None
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
                if option is None:
                    continue
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, self._receive_buffer)
                    break
                except OSError:  # SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped by rmem_max
                    continue
            sock.bind((host, port))
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(lambda: _TrapProtocol(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        self._transport = transport
        if self._v3_users:
            self._v3 = V3TrapDecoder(self._v3_users, self._send)
        bound = sock.getsockname()
        return bound[0], bound[1]

    def close(self) -> None:
        """Stop listening; safe to call more than once."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # ------------------------------------------------------------------ one datagram

    def _send(self, data: bytes, addr: tuple) -> None:
        transport = self._transport
        # asyncio queues what the kernel will not take at once; do not let unanswerable informs pile up there
        if transport is not None and transport.get_write_buffer_size() < MAX_UNSENT_ANSWER_BYTES:
            transport.sendto(data, addr)

    def _datagram(self, data: bytes, addr: tuple) -> None:
        if self._v3 is not None and is_v3(data):
            self._v3_datagram(self._v3, data, addr)
            return
        try:
            message = decode_message(data)
        except Exception:  # the codec raises SnmpDecodeError; anything else is malformed all the same
            self._drop(DropReason.MALFORMED, addr, "not a valid SNMP v1/v2c message")
            return
        try:
            self._message(message, addr)
        except Exception:  # the codec accepted it, so this is our bug: never let it stop the receiver
            self.stats.dropped[DropReason.HANDLER_ERROR] += 1
            count = self._limiter.due(DropReason.HANDLER_ERROR.value)
            if count:
                log.warning(
                    "trap port: %d valid message(s) could not be handled since the last report (a bug in "
                    "stadtnetz, please report it); latest from %s",
                    count,
                    addr[0],
                    exc_info=True,
                )

    def _message(self, message: Message, addr: tuple) -> None:
        pdu = message.pdu
        if pdu.type not in _TRAP_PDUS:
            self._drop(DropReason.NOT_A_TRAP, addr, f"a {PduType(pdu.type).name} PDU")
            return
        source = _address_key(addr[0])
        candidates = self._by_address.get(source) if source is not None else None
        if candidates is None and isinstance(pdu, TrapV1Pdu):
            candidates = self._by_address.get(ipaddress.IPv4Address(bytes(pdu.agent_addr)))
        if not candidates:
            self._drop(DropReason.UNKNOWN_SOURCE, addr, "no device with this address")
            return
        device = self._authenticate(candidates, message.community)
        if device is None:
            names = ", ".join(d.id for d in candidates)
            self._drop(DropReason.BAD_COMMUNITY, addr, f"community not accepted for {names}")
            return
        event = self._classify(device, message, pdu)
        if event is None:
            self._drop(DropReason.MALFORMED, addr, "SNMPv2 trap without snmpTrapOID.0")
            return
        if event.inform:
            assert isinstance(pdu, Pdu)
            self._answer(message, pdu, addr)
        self._deliver(event, device)

    def _v3_datagram(self, v3: V3TrapDecoder, data: bytes, addr: tuple) -> None:
        source = _address_key(addr[0])
        candidates = self._by_address.get(source) if source is not None else None
        if not candidates:  # checked before any cryptography: strangers cost nothing and get no Report
            self._drop(DropReason.UNKNOWN_SOURCE, addr, "no device with this address (SNMPv3)")
            return
        try:
            notifications, refused = v3.feed(data, addr)
        except Exception:
            log.debug("SNMPv3 datagram from %s could not be processed", addr[0], exc_info=True)
            self._drop(DropReason.MALFORMED, addr, "an SNMPv3 message that could not be processed")
            return
        if refused:
            self._drop(DropReason.BAD_CREDENTIALS, addr, "SNMPv3 user, key or time window not accepted")
            return
        device = candidates[0]
        for varbinds in notifications:
            pdu = Pdu(PduType.TRAP_V2, 0, 0, 0, varbinds)
            event = self._classify(device, Message(3, b"", pdu), pdu)
            if event is None:
                self._drop(DropReason.MALFORMED, addr, "SNMPv3 notification without snmpTrapOID.0")
                continue
            self._deliver(event, device)

    def _deliver(self, event: TrapEvent, device: Device) -> None:
        self.stats.received[event.kind] += 1
        try:
            self._on_trap(event)
        except Exception:
            self.stats.callback_errors += 1
            count = self._limiter.due("callback")
            if count:
                log.exception("trap handler failed (%d time(s) since the last report), trap from %s", count, device.id)

    def _authenticate(self, candidates: list[Device], community: bytes) -> Device | None:
        for device in candidates:
            try:
                accepted = self._communities(device)
            except Exception:
                log.exception("communities of device %s could not be read; its traps are refused", device.id)
                continue
            # compare every accepted community in constant time: no early exit on the first byte
            if any(hmac.compare_digest(candidate, community) for candidate in accepted):
                return device
        return None

    def _classify(self, device: Device, message: Message, pdu: Pdu | TrapV1Pdu) -> TrapEvent | None:
        received = self._clock.time()
        if isinstance(pdu, TrapV1Pdu):
            kind = _V1_KINDS.get(pdu.generic_trap, TrapKind.OTHER)
            if 0 <= pdu.generic_trap < _ENTERPRISE_SPECIFIC:
                trap_oid: Oid = (*SNMP_TRAPS, pdu.generic_trap + 1)
            else:
                trap_oid = (*pdu.enterprise, 0, pdu.specific_trap & 0xFFFFFFFF)
            uptime: int | None = int(pdu.time_stamp)
        else:
            found: Oid | None = None
            uptime = None
            for oid, value in pdu.varbinds:
                if oid == SNMP_TRAP_OID_0 and found is None and type(value) is tuple:
                    found = value
                elif oid == SYS_UPTIME_0 and uptime is None and isinstance(value, int) and value >= 0:
                    uptime = int(value)
            if found is None:
                return None
            trap_oid = found
            kind = _V2_KINDS.get(trap_oid, TrapKind.OTHER)
        if_index, oper_status = _interface(pdu.varbinds)
        return TrapEvent(
            device_id=device.id,
            kind=kind,
            if_index=if_index,
            oper_status=oper_status,
            uptime_ticks=uptime,
            trap_oid=trap_oid,
            version=message.version,
            received=received,
            inform=pdu.type == PduType.INFORM,
        )

    def _answer(self, message: Message, pdu: Pdu, addr: tuple) -> None:
        """The Response to an InformRequest: same request-id and varbinds, no error (RFC 3416 4.2.7)."""
        response = encode_pdu_message(
            Version.V2C, message.community, PduType.RESPONSE, pdu.request_id, 0, 0, encode_varbinds(pdu.varbinds)
        )
        self._send(response, addr)

    def _drop(self, reason: DropReason, addr: tuple, what: str) -> None:
        self.stats.dropped[reason] += 1
        count = self._limiter.due(reason.value)
        if count:
            log.warning(
                "trap port: dropped %d datagram(s) as %s since the last report; latest from %s: %s",
                count,
                reason.value,
                addr[0],
                what,
            )
