"""Asyncio SNMP v1/v2c client: one UDP socket per address family for every device.

Owns talking SNMP to devices: request-id multiplexing on a shared socket,
per-request timeout and retries, bounded in-flight requests per device and
overall, GET of many OIDs (split into chunks, and split again when an agent
answers tooBig), and GETNEXT/GETBULK walks of one or more subtrees that stop at
the end of each subtree or at endOfMibView and refuse agents that loop.

Results are ``(oid, value)`` pairs with the SNMP type kept in the value's
Python type (see :mod:`collectors.snmp.types`). Responses that cannot be
decoded, come from the wrong address or answer no outstanding request are
counted in :class:`ClientStats` and dropped; they never disturb other requests.
:class:`SnmpClientStatsCollector` exports those counters to Prometheus at scrape time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from collectors.snmp.codec import (
    ErrorStatus,
    PduType,
    SnmpDecodeError,
    Version,
    decode_message,
    encode_request,
)
from collectors.snmp.oid import format_oid
from collectors.snmp.types import END_OF_MIB_VIEW, NO_SUCH_OBJECT, ExceptionValue, Oid, VarBind
from stadtnetz.own_metrics import Family, ScrapeCollector

RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
MAX_WALK_VARBINDS = 1_000_000


class SnmpError(Exception):
    """Base of every error the client raises."""


class SnmpTimeoutError(SnmpError):
    """No response after all retries."""


class SnmpResponseError(SnmpError):
    """The agent answered with a non-zero error-status."""

    def __init__(self, status: int, index: int, oid: Oid | None) -> None:
        try:
            first, *rest = ErrorStatus(status).name.lower().split("_")
            name = first + "".join(part.title() for part in rest)  # RFC 3416 spelling: genErr, noSuchName
        except ValueError:
            name = f"error-status {status}"
        where = f" at {format_oid(oid)}" if oid else ""
        super().__init__(f"agent answered {name}{where}")
        self.status = status
        self.index = index
        self.oid = oid


class SnmpProtocolError(SnmpError):
    """The agent's answer breaks the protocol (wrong varbind count, a walk that loops)."""


@dataclass(frozen=True, slots=True)
class Target:
    """One SNMP agent and how to talk to it. ``host`` must be an IP address literal."""

    host: str
    port: int = 161
    community: bytes = field(default=b"public", repr=False)
    version: int = Version.V2C
    timeout: float = 1.0
    retries: int = 1
    max_repetitions: int = 25
    max_oids_per_request: int = 60

    def __post_init__(self) -> None:
        try:
            canonical = str(ipaddress.ip_address(self.host))
        except ValueError:
            raise ValueError(f"SNMP target host must be an IP address, got {self.host!r}") from None
        object.__setattr__(self, "host", canonical)
        if isinstance(self.community, str):
            object.__setattr__(self, "community", self.community.encode())
        if self.version not in (Version.V1, Version.V2C):
            raise ValueError(f"SNMP version must be 0 (v1) or 1 (v2c), got {self.version!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} out of range")
        if self.timeout <= 0 or self.retries < 0:
            raise ValueError("timeout must be positive and retries not negative")
        if self.max_repetitions < 1 or self.max_oids_per_request < 1:
            raise ValueError("max_repetitions and max_oids_per_request must be at least 1")

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)


@dataclass(slots=True)
class ClientStats:
    """Counters a collector exports about its own SNMP traffic."""

    requests: int = 0
    retransmissions: int = 0
    responses: int = 0
    timeouts: int = 0
    malformed: int = 0
    unmatched: int = 0
    too_big: int = 0
    send_errors: int = 0


class _Pending:
    __slots__ = ("address", "attempts_left", "community", "future", "packet", "target", "timer", "version")

    def __init__(self, target: Target, packet: bytes, future: asyncio.Future[tuple[int, int, list[VarBind]]]) -> None:
        self.target = target
        self.address = target.address
        self.community = target.community
        self.version = target.version
        self.packet = packet
        self.future = future
        self.attempts_left = target.retries
        self.timer: asyncio.TimerHandle | None = None


class SnmpClient:
    """Shared-socket SNMP client. Use as ``async with SnmpClient() as client:``."""

    def __init__(self, max_in_flight: int = 512, max_in_flight_per_device: int = 1) -> None:
        if max_in_flight < 1 or max_in_flight_per_device < 1:
            raise ValueError("in-flight limits must be at least 1")
        self.stats = ClientStats()
        self._max_in_flight_per_device = max_in_flight_per_device
        self._global_slots = asyncio.Semaphore(max_in_flight)
        self._device_slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._sockets: dict[int, socket.socket] = {}
        self._pending: dict[int, _Pending] = {}
        self._next_request_id = random.randrange(1, 2**30)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def __aenter__(self) -> SnmpClient:
        self._loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        for pending in list(self._pending.values()):
            self._finish(pending)
            if not pending.future.done():
                pending.future.set_exception(SnmpError("SNMP client closed"))
        self._pending.clear()
        for sock in self._sockets.values():
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()

    # ------------------------------------------------------------------ socket

    def _socket_for(self, family: int) -> socket.socket:
        sock = self._sockets.get(family)
        if sock is None:
            if self._closed:
                raise SnmpError("SNMP client closed")
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
                if option is None:
                    continue
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER_BYTES)
                    break
                except OSError:  # SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped by rmem_max
                    continue
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
            self._loop.add_reader(sock.fileno(), self._on_readable, sock)
            self._sockets[family] = sock
        return sock

    def _on_readable(self, sock: socket.socket) -> None:
        recvfrom = sock.recvfrom
        while True:
            try:
                data, address = recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable reported on the socket: the timeout handles it
                continue
            self._on_datagram(data, address)

    def _on_datagram(self, data: bytes, address: tuple) -> None:
        try:
            message = decode_message(data)
        except SnmpDecodeError:
            self.stats.malformed += 1
            return
        pdu = message.pdu
        pending = self._pending.get(getattr(pdu, "request_id", -1))
        if (
            pending is None
            or pdu.type != PduType.RESPONSE
            or address[0] != pending.address[0]
            or address[1] != pending.address[1]
            or message.version != pending.version
            or message.community != pending.community
        ):
            self.stats.unmatched += 1
            return
        self.stats.responses += 1
        self._finish(pending)
        del self._pending[pdu.request_id]
        if not pending.future.done():
            pending.future.set_result((pdu.error_status, pdu.error_index, pdu.varbinds))

    def _finish(self, pending: _Pending) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None

    def _send(self, pending: _Pending) -> None:
        try:
            self._sockets[pending.target.family].sendto(pending.packet, pending.address)
        except OSError:  # a full send buffer or unreachable network: count it, the timer retries
            self.stats.send_errors += 1
        assert self._loop is not None
        pending.timer = self._loop.call_later(pending.target.timeout, self._on_timeout, pending)

    def _on_timeout(self, pending: _Pending) -> None:
        pending.timer = None
        if pending.future.done():
            return
        if pending.attempts_left > 0:
            pending.attempts_left -= 1
            self.stats.retransmissions += 1
            self._send(pending)
            return
        self.stats.timeouts += 1  # the awaiting request() removes it from _pending
        pending.future.set_exception(
            SnmpTimeoutError(
                f"no answer from {pending.target.host}:{pending.target.port} "
                f"after {pending.target.retries + 1} attempt(s) of {pending.target.timeout:g} s"
            )
        )

    def _request_id(self) -> int:
        rid = self._next_request_id
        self._next_request_id = rid + 1 if rid < 2**31 - 2 else 1
        return rid

    # ------------------------------------------------------------------ one request

    async def request(
        self,
        target: Target,
        pdu_type: int,
        oids: Sequence[Oid],
        non_repeaters: int = 0,
        max_repetitions: int = 0,
    ) -> tuple[int, int, list[VarBind]]:
        """Send one PDU and return ``(error_status, error_index, varbinds)`` of the response.

        Retransmits the same request-id on timeout (a late first answer is
        accepted) and raises :class:`SnmpTimeoutError` when all attempts are spent.
        """
        slots = self._device_slots.get(target.address)
        if slots is None:
            slots = self._device_slots[target.address] = asyncio.Semaphore(self._max_in_flight_per_device)
        # The device's slot first: a request queued behind its own device must not hold a
        # global slot meanwhile, or a slow device's queue starves every other device.
        async with slots, self._global_slots:
            self._socket_for(target.family)
            rid = self._request_id()
            packet = encode_request(
                target.version, target.community, pdu_type, rid, list(oids), non_repeaters, max_repetitions
            )
            assert self._loop is not None
            pending = _Pending(target, packet, self._loop.create_future())
            self._pending[rid] = pending
            self.stats.requests += 1
            self._send(pending)
            try:
                return await pending.future
            finally:
                if self._pending.get(rid) is pending:
                    self._finish(pending)
                    del self._pending[rid]

    # ------------------------------------------------------------------ GET

    async def get(self, target: Target, oids: Sequence[Oid]) -> list[VarBind]:
        """GET any number of OIDs; the answer has one varbind per OID, in order.

        Splits into requests of ``target.max_oids_per_request`` and halves a
        request whenever the agent answers tooBig. In SNMPv1 an OID the agent
        reports as noSuchName is answered with NO_SUCH_OBJECT and the rest are
        asked again, so one missing OID does not hide the others.
        """
        result: list[VarBind] = []
        size = target.max_oids_per_request
        for start in range(0, len(oids), size):
            result.extend(await self._get_chunk(target, list(oids[start : start + size])))
        return result

    async def _get_chunk(self, target: Target, oids: list[Oid]) -> list[VarBind]:
        status, index, varbinds = await self.request(target, PduType.GET, oids)
        if status == ErrorStatus.TOO_BIG:
            self.stats.too_big += 1
            if len(oids) == 1:
                raise SnmpResponseError(status, 1, oids[0])
            half = len(oids) // 2
            return await self._get_chunk(target, oids[:half]) + await self._get_chunk(target, oids[half:])
        if status == ErrorStatus.NO_SUCH_NAME and target.version == Version.V1 and 1 <= index <= len(oids):
            missing = index - 1
            rest = oids[:missing] + oids[missing + 1 :]
            answered = await self._get_chunk(target, rest) if rest else []
            answered.insert(missing, (oids[missing], NO_SUCH_OBJECT))
            return answered
        if status:
            raise SnmpResponseError(status, index, oids[index - 1] if 1 <= index <= len(oids) else None)
        if len(varbinds) != len(oids):
            raise SnmpProtocolError(f"asked for {len(oids)} OIDs, the agent answered {len(varbinds)}")
        return varbinds

    # ------------------------------------------------------------------ walks

    async def walk(self, target: Target, roots: Sequence[Oid]) -> dict[Oid, list[VarBind]]:
        """Walk every subtree in ``roots`` at once; return each root's varbinds in OID order.

        SNMPv2c uses GETBULK with all unfinished subtrees in one request; SNMPv1
        uses GETNEXT with one varbind per unfinished subtree. A subtree ends at
        the first OID outside it, at endOfMibView, or (v1) at noSuchName. An
        agent whose next OID is not greater than the previous one is refused
        with :class:`SnmpProtocolError` instead of being followed forever.
        """
        results: dict[Oid, list[VarBind]] = {root: [] for root in roots}
        # (root, first OID after the subtree, last OID seen): root < oid < upper is "inside the subtree"
        cursors: list[tuple[Oid, Oid, Oid]] = [
            (root, (*root[:-1], root[-1] + 1), root) for root in dict.fromkeys(roots) if root
        ]
        max_repetitions = target.max_repetitions
        total = 0
        while cursors:
            oids = [last for _, _, last in cursors]
            if target.version == Version.V1:
                status, index, varbinds = await self.request(target, PduType.GET_NEXT, oids)
                if status == ErrorStatus.NO_SUCH_NAME and 1 <= index <= len(cursors):
                    del cursors[index - 1]  # v1's way of saying: nothing after this OID
                    continue
            else:
                status, index, varbinds = await self.request(target, PduType.GET_BULK, oids, 0, max_repetitions)
                if status == ErrorStatus.TOO_BIG and max_repetitions > 1:
                    self.stats.too_big += 1
                    max_repetitions = max(1, max_repetitions // 2)
                    continue
            if status:
                raise SnmpResponseError(status, index, oids[index - 1] if 1 <= index <= len(oids) else None)
            if not varbinds:
                raise SnmpProtocolError("the agent answered a walk request with no varbinds")
            width = len(cursors)
            still_open: list[tuple[Oid, Oid, Oid]] = []
            progressed = False
            for column, (root, upper, last) in enumerate(cursors):
                collected = results[root]
                before = len(collected)
                finished = False
                # a response holds rows of one varbind per open subtree: this subtree's are every width-th
                for oid, value in varbinds[column::width] if width > 1 else varbinds:
                    if last < oid < upper and value is not END_OF_MIB_VIEW:
                        collected.append((oid, value))
                        last = oid
                        continue
                    if value is END_OF_MIB_VIEW or oid >= upper:
                        finished = True
                        break
                    raise SnmpProtocolError(
                        f"agent loops: {format_oid(oid)} does not follow {format_oid(last)} in a walk"
                    )
                added = len(collected) - before
                total += added
                progressed = progressed or finished or added > 0
                if not finished:
                    still_open.append((root, upper, last))
            if total > MAX_WALK_VARBINDS:
                raise SnmpProtocolError(f"walk exceeded {MAX_WALK_VARBINDS} varbinds")
            if not progressed:
                raise SnmpProtocolError("the agent's answer made no progress in the walk")
            cursors = still_open
        return results

    async def walk_one(self, target: Target, root: Oid) -> list[VarBind]:
        """Walk one subtree; see :meth:`walk`. Like ``snmpwalk``, an empty subtree falls back to
        a GET of ``root`` itself, so walking a scalar instance such as sysName.0 returns it."""
        walked = (await self.walk(target, [root]))[root]
        if not walked:
            answer = await self.get(target, [root])
            walked = [(oid, value) for oid, value in answer if not isinstance(value, ExceptionValue)]
        return walked


_REQUESTS = Family("counter", "stadtnetz_snmp_requests", "SNMP requests sent (first transmissions).")
_RETRANSMISSIONS = Family("counter", "stadtnetz_snmp_retransmissions", "SNMP requests sent again after a timeout.")
_RESPONSES = Family("counter", "stadtnetz_snmp_responses", "SNMP responses matched to a request.")
_TIMEOUTS = Family("counter", "stadtnetz_snmp_timeouts", "SNMP requests that got no answer after all retries.")
_MALFORMED = Family("counter", "stadtnetz_snmp_malformed_packets", "Datagrams that were not valid SNMP, dropped.")
_UNMATCHED = Family(
    "counter", "stadtnetz_snmp_unmatched_packets", "SNMP responses matching no outstanding request, dropped."
)
_TOO_BIG = Family("counter", "stadtnetz_snmp_too_big", "tooBig answers that made the client split a request.")


class SnmpClientStatsCollector(ScrapeCollector):
    """Exports the SNMP client's counters (requests, timeouts, malformed packets, ...) at scrape time."""

    families = (_REQUESTS, _RETRANSMISSIONS, _RESPONSES, _TIMEOUTS, _MALFORMED, _UNMATCHED, _TOO_BIG)

    def __init__(self, client: SnmpClient) -> None:
        self.client = client

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        stats = self.client.stats
        yield _REQUESTS, (), stats.requests
        yield _RETRANSMISSIONS, (), stats.retransmissions
        yield _RESPONSES, (), stats.responses
        yield _TIMEOUTS, (), stats.timeouts
        yield _MALFORMED, (), stats.malformed
        yield _UNMATCHED, (), stats.unmatched
        yield _TOO_BIG, (), stats.too_big
