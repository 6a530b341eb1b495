"""One UDP socket that answers SNMP v1/v2c (and v3) for every simulated device, each on its own loopback address.

Owns the SNMP agent side of the simulated city. The socket is bound to the
wildcard address on one port; the destination address of every request is
read with IP_PKTINFO and selects the device, and the answer is sent *from*
that address, so 10,000 devices cost one socket. Requests to any address that
is not a simulated device (on loopback, so only from this machine) are
dropped and counted. Answers are delayed or lost as the device's simulated
link says (:meth:`DeviceRuntime.link_delay`; on loopback links are ideal until
a ``degrade`` fault). Inside the simulator's network namespace there is no
socket: the TUN responder (:mod:`simulators.icmp`) hands datagrams to :meth:`SnmpAgentServer.respond`.

Semantics follow RFC 3416: GET answers noSuchObject/noSuchInstance, GETNEXT
and GETBULK walk the device's whole tree in lexicographic order across tables
and answer endOfMibView at the end, GETBULK responses are truncated to the
maximum message size (default 1472 octets, like an agent behind a 1500-byte
MTU), an oversized GET/GETNEXT answer becomes tooBig. SNMPv1 gets noSuchName
instead of exception values. Malformed datagrams and wrong communities are
counted and dropped, never answered. SNMPv3 requests go through the devices' USM
engines (:mod:`simulators.snmp_v3`) when users are configured, to the same PDU logic.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from collectors.snmp.codec import (
    ErrorStatus,
    PduType,
    SnmpDecodeError,
    SnmpEncodeError,
    Version,
    decode_message,
    encode_oid,
    encode_pdu_message,
    encode_sequence,
    encode_varbind,
)
from collectors.snmp.codec_v3 import is_v3
from collectors.snmp.types import END_OF_MIB_VIEW, NO_SUCH_INSTANCE, NO_SUCH_OBJECT, Counter64, Oid, Value, VarBind
from collectors.snmp.usm import UsmUser
from simulators.behaviour import CityRuntime, DeviceRuntime
from simulators.mib import MibView, ViewCache
from simulators.snmp_v3 import V3Engines

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux value; Python 3.11 does not export it
DEFAULT_MAX_MESSAGE_SIZE = 1472
_MESSAGE_OVERHEAD = 48  # SEQUENCE, version, PDU header, request-id, error fields: upper bound without community
MAX_REPETITIONS_CAP = 500


@dataclass(slots=True)
class AgentStats:
    requests: int = 0
    responses: int = 0
    malformed: int = 0
    bad_community: int = 0
    unknown_destination: int = 0
    silent_drops: int = 0
    unsupported: int = 0
    lost: int = 0  # dropped by the device's simulated link (loss)


class SnmpAgentServer:
    """Serves every device of a :class:`CityRuntime` on one UDP port.

    Call :meth:`bind` first (``port=0`` picks a free port), then :meth:`serve`.
    """

    def __init__(
        self,
        port: int = 1161,
        community: bytes | None = b"public",  # None: SNMPv3 only
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        bind_host: str = "0.0.0.0",
        v3_users: Sequence[UsmUser] = (),
    ) -> None:
        self.port = port
        self.community = community
        self.v3 = V3Engines(v3_users, max_message_size) if v3_users else None
        self.max_message_size = max_message_size
        self.bind_host = bind_host
        self.stats = AgentStats()
        self.views = ViewCache()
        self.city: CityRuntime | None = None
        self._device_views: dict[str, MibView] = {}
        self._socket: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> int:
        """Bind the socket; return the port it is bound to."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if option is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, 8 * 1024 * 1024)
                break
            except OSError:
                continue
        try:
            sock.bind((self.bind_host, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno,
                f"cannot bind the simulated city's SNMP socket to UDP port {self.port}: {exc.strerror}. "
                "Choose another port with --port.",
            ) from None
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._socket = sock
        return self.port

    async def serve(self, city: CityRuntime) -> None:
        """Start answering for every device of ``city`` (returns at once; answers come from the event loop)."""
        if self._socket is None:
            self.bind()
        assert self._socket is not None
        self.attach(city)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._socket.fileno(), self._on_readable)

    def attach(self, city: CityRuntime) -> None:
        """Serve ``city``'s devices through :meth:`respond` without a socket (the TUN responder's way)."""
        self.city = city
        for rt in city.devices.values():  # build views up front: no first-request stall
            self._device_views[rt.spec.id] = self.views.view_for(rt.spec)

    async def close(self) -> None:
        if self._socket is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None

    # ------------------------------------------------------------ wire

    def _on_readable(self) -> None:
        sock = self._socket
        city = self.city
        if sock is None or city is None:
            return
        while True:
            try:
                data, ancillary, _flags, source = sock.recvmsg(65535, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            destination = None
            for level, kind, payload in ancillary:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(payload) >= 12:
                    destination = payload[8:12]  # struct in_pktinfo: ifindex, spec_dst, addr (header destination)
            device = city.by_address.get(destination) if destination else None
            if device is None:
                self.stats.unknown_destination += 1
                continue
            self.handle(device, data, destination, source)

    def handle(self, device: DeviceRuntime, data: bytes, destination: bytes, source: tuple[str, int]) -> None:
        assert self.city is not None
        now = self.city.clock.time()
        if device.silent(now):
            self.stats.silent_drops += 1
            return
        link = device.link_delay()  # the simulated link: on loopback only what a degrade fault set
        if link is None:
            self.stats.lost += 1
            return
        self.stats.requests += 1
        response = self.respond(device, data, now)
        if response is None:
            return
        delay = device.delay + link
        if delay > 0:
            assert self._loop is not None
            self._loop.call_later(delay, self._send, response, destination, source)
        else:
            self._send(response, destination, source)

    def _send(self, response: bytes, destination: bytes, source: tuple[str, int]) -> None:
        if self._socket is None:
            return
        pktinfo = struct.pack("=I4s4s", 0, destination, b"\0\0\0\0")
        try:
            self._socket.sendmsg([response], [(socket.IPPROTO_IP, IP_PKTINFO, pktinfo)], 0, source)
            self.stats.responses += 1
        except OSError:
            pass  # the client went away; UDP has no one to tell

    # ------------------------------------------------------------ SNMP semantics

    def respond(self, device: DeviceRuntime, data: bytes, now: float) -> bytes | None:
        """The encoded response to one request datagram, or None when it must be dropped."""
        if is_v3(data):
            if self.v3 is None:
                self.stats.unsupported += 1
                return None
            try:
                return self.v3.respond(device, data, now, lambda device, pdu, limit: self._answer(
                    device, pdu.type, pdu.varbinds, pdu.non_repeaters, pdu.max_repetitions, False, now, limit
                ))
            except (SnmpDecodeError, SnmpEncodeError):
                self.stats.malformed += 1
                return None
        try:
            message = decode_message(data)
        except SnmpDecodeError:
            self.stats.malformed += 1
            return None
        if message.community != self.community:
            self.stats.bad_community += 1
            return None
        pdu = message.pdu
        if pdu.type not in (PduType.GET, PduType.GET_NEXT, PduType.GET_BULK, PduType.SET):
            self.stats.unsupported += 1
            return None
        limit = self.max_message_size - _MESSAGE_OVERHEAD - len(message.community)
        v1 = message.version == Version.V1
        try:
            status, index, varbinds = self._answer(
                device, pdu.type, pdu.varbinds, pdu.non_repeaters, pdu.max_repetitions, v1, now, limit
            )
            return encode_pdu_message(
                message.version, message.community, PduType.RESPONSE, pdu.request_id, status, index,
                encode_sequence(varbinds),
            )
        except SnmpEncodeError:
            self.stats.malformed += 1
            return None

    def _answer(
        self,
        device: DeviceRuntime,
        pdu_type: int,
        request: list[VarBind],
        non_repeaters: int,
        max_repetitions: int,
        v1: bool,
        now: float,
        limit: int,
    ) -> tuple[int, int, list[bytes]]:
        """(error-status, error-index, encoded varbinds) answering one request PDU; any SNMP version."""
        view = self._device_views[device.spec.id]
        names = [oid for oid, _ in request]
        status, index, varbinds = 0, 0, []
        if pdu_type == PduType.SET:
            status = ErrorStatus.NO_SUCH_NAME if v1 else ErrorStatus.NOT_WRITABLE
            index = 1 if names else 0
            varbinds = [encode_varbind(encode_oid(oid), value) for oid, value in request]
        elif pdu_type == PduType.GET_BULK:
            bulk = self._bulk(view, device, names, non_repeaters, max_repetitions, now, limit)
            if bulk is None:
                status, varbinds = ErrorStatus.TOO_BIG, []
            else:
                varbinds = bulk
        else:
            status, index, varbinds = self._get_or_next(view, device, names, pdu_type == PduType.GET, v1, now)
            if not status and sum(map(len, varbinds)) > limit:
                status, index, varbinds = ErrorStatus.TOO_BIG, 0, []
        if status and status != ErrorStatus.TOO_BIG and pdu_type != PduType.SET:
            # errors echo the request's varbinds (RFC 3416 4.2.1, RFC 1157 4.1.2)
            varbinds = [encode_varbind(encode_oid(oid), None) for oid in names]
        return status, index, varbinds

    def _get_or_next(
        self, view: MibView, device: DeviceRuntime, names: list[Oid], exact: bool, v1: bool, now: float
    ) -> tuple[int, int, list[bytes]]:
        out: list[bytes] = []
        oids, getters, rows, tlvs = view.oids, view.getters, view.rows, view.names
        for number, oid in enumerate(names, start=1):
            if exact:
                position = view.position.get(oid)
                if position is None:
                    if v1:
                        return ErrorStatus.NO_SUCH_NAME, number, []
                    missing = NO_SUCH_INSTANCE if oid[:-1] in view.columns else NO_SUCH_OBJECT
                    out.append(encode_varbind(encode_oid(oid), missing))
                    continue
            else:
                position = bisect_right(oids, oid)
                if v1:  # SNMPv1 cannot carry Counter64: GETNEXT skips such objects (RFC 2576 4.1.2.1)
                    while position < len(oids) and type(getters[position](device, rows[position], now)) is Counter64:
                        position += 1
                if position >= len(oids):
                    if v1:
                        return ErrorStatus.NO_SUCH_NAME, number, []
                    out.append(encode_varbind(encode_oid(oid), END_OF_MIB_VIEW))
                    continue
            value: Value = getters[position](device, rows[position], now)
            if v1 and type(value) is Counter64:
                return ErrorStatus.NO_SUCH_NAME, number, []
            out.append(encode_varbind(tlvs[position], value))
        return 0, 0, out

    def _bulk(
        self,
        view: MibView,
        device: DeviceRuntime,
        names: list[Oid],
        non_repeaters: int,
        max_repetitions: int,
        now: float,
        limit: int,
    ) -> list[bytes] | None:
        """GETBULK (RFC 3416 4.2.3), truncated to ``limit`` octets of varbinds; None if nothing fits."""
        oids, getters, rows, tlvs = view.oids, view.getters, view.rows, view.names
        count = len(oids)
        non_repeaters = max(0, min(non_repeaters, len(names)))
        repetitions = max(0, min(max_repetitions, MAX_REPETITIONS_CAP))
        out: list[bytes] = []
        size = 0

        def take(position: int, requested: Oid) -> bytes:
            if position >= count:
                return encode_varbind(encode_oid(requested), END_OF_MIB_VIEW)
            return encode_varbind(tlvs[position], getters[position](device, rows[position], now))

        for oid in names[:non_repeaters]:
            encoded = take(bisect_right(oids, oid), oid)
            size += len(encoded)
            if size > limit:
                return None
            out.append(encoded)
        repeaters = names[non_repeaters:]
        cursors = [bisect_right(oids, oid) for oid in repeaters]
        last_names = list(repeaters)
        for _ in range(repetitions if repeaters else 0):
            at_end = all(cursor >= count for cursor in cursors)
            for column, cursor in enumerate(cursors):
                encoded = take(cursor, last_names[column])
                size += len(encoded)
                if size > limit:
                    return out if out else None
                out.append(encoded)
                if cursor < count:
                    last_names[column] = oids[cursor]
                cursors[column] = cursor + 1
            if at_end:
                break  # a whole row of endOfMibView has been sent: the agent may stop (RFC 3416 4.2.3)
        return out
