"""Asyncio SNMP client (v1, v2c and v3 with USM): one UDP socket per address family for every device.

Owns talking SNMP to devices: request-id multiplexing on a shared socket,
per-request timeout and retries, bounded in-flight requests per device and
overall, GET of many OIDs (split into chunks, and split again when an agent
answers tooBig), and GETNEXT/GETBULK walks of one or more subtrees that stop at
the end of each subtree or at endOfMibView and refuse agents that loop.

SNMPv3 (:class:`Target` with ``version=3`` and a :class:`~collectors.snmp.usm.UsmUser`)
discovers each agent's engine once, then sends every request authenticated
and encrypted as the user says (:mod:`collectors.snmp.usm_manager`). Reports
are counted by kind; an unknownEngineID or notInTimeWindow Report (an agent
that restarted, or whose clock we lost) makes the client learn the engine
again and send the request once more, anything else becomes a
:class:`SnmpUsmError`.

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
    encode_request_pdu,
)
from collectors.snmp.codec_v3 import FLAG_AUTH, FLAG_PRIV, decode_v3_message, is_v3, report_kind
from collectors.snmp.oid import format_oid
from collectors.snmp.types import END_OF_MIB_VIEW, NO_SUCH_OBJECT, ExceptionValue, Oid, VarBind
from collectors.snmp.usm import UsmUser
from collectors.snmp.usm_manager import Unauthentic, UsmManager
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


# what an SNMPv3 Report that ends a request means, for the operator reading the error
_REPORT_MEANING = {
    "unknownUserName": "does not know the user",
    "wrongDigest": "refused the digest: wrong authentication key or protocol",
    "decryptionError": "cannot decrypt the request: wrong privacy key or protocol",
    "notInTimeWindow": "still finds the request outside its time window",
    "unknownEngineID": "keeps answering with another engine ID",
    "unsupportedSecLevel": "does not allow this security level for the user",
}


class SnmpUsmError(SnmpError):
    """An SNMPv3 agent refused the request with a Report (wrong user, key, level, ...)."""

    def __init__(self, kind: str, target: Target) -> None:
        meaning = _REPORT_MEANING.get(kind, "answered with a Report")
        user = target.usm.name.decode(errors="replace") if target.usm else "?"
        super().__init__(f"{target.host}:{target.port} {meaning} (Report {kind}, user {user!r})")
        self.kind = kind


class _Report:
    """The result of an exchange that the agent answered with a Report."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind


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
    usm: UsmUser | None = None  # SNMPv3: the user, protocols and passphrases
    context_name: bytes = b""  # SNMPv3: the context of every request

    def __post_init__(self) -> None:
        try:
            canonical = str(ipaddress.ip_address(self.host))
        except ValueError:
            raise ValueError(f"SNMP target host must be an IP address, got {self.host!r}") from None
        object.__setattr__(self, "host", canonical)
        if isinstance(self.community, str):
            object.__setattr__(self, "community", self.community.encode())
        if self.version not in (Version.V1, Version.V2C, Version.V3):
            raise ValueError(f"SNMP version must be 0 (v1), 1 (v2c) or 3, got {self.version!r}")
        if (self.version == Version.V3) != (self.usm is not None):
            raise ValueError("an SNMPv3 target needs a USM user, and only an SNMPv3 target takes one")
        if isinstance(self.context_name, str):
            object.__setattr__(self, "context_name", self.context_name.encode())
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
    discoveries: int = 0  # SNMPv3 engine discoveries
    reports: dict[str, int] = field(default_factory=dict)  # SNMPv3 Reports received, by kind
    unauthentic: int = 0  # SNMPv3 answers that failed our digest, time window or decryption, dropped


class _Pending:
    __slots__ = (
        "address", "attempts_left", "community", "discovery", "future", "packet", "request_id", "target", "timer",
        "version",
    )

    def __init__(
        self, target: Target, packet: bytes, future: asyncio.Future, request_id: int, discovery: bool = False
    ) -> None:
        self.target = target
        self.address = target.address
        self.community = target.community
        self.version = target.version
        self.packet = packet
        self.future = future
        self.attempts_left = target.retries
        self.timer: asyncio.TimerHandle | None = None
        self.request_id = request_id
        self.discovery = discovery


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
        self.usm = UsmManager()
        self._discoveries: dict[tuple[str, int], asyncio.Future[None]] = {}
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
        if is_v3(data):
            self._on_v3_datagram(data, address)
            return
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

    def _on_v3_datagram(self, data: bytes, address: tuple) -> None:
        try:
            message = decode_v3_message(data)
        except SnmpDecodeError:
            self.stats.malformed += 1
            return
        pending = self._pending.get(message.msg_id)
        if (
            pending is None
            or pending.version != Version.V3
            or address[0] != pending.address[0]
            or address[1] != pending.address[1]
        ):
            self.stats.unmatched += 1
            return
        user = pending.target.usm
        assert user is not None
        try:
            pdu = self.usm.open(message, data, user).pdu
            kind = report_kind(pdu) if pdu.type == PduType.REPORT else ""
            if kind == "unknownEngineID" or pending.discovery or (kind == "notInTimeWindow" and message.authenticated):
                # what the agent says its engine is now; an authenticated notInTimeWindow is believed even when
                # its boots went back (an agent that lost its state), or the agent could never be reached again
                self.usm.learn(pending.address, message)
            elif message.authenticated:
                self.usm.check_time(pending.address, message)
        except Unauthentic:
            self.stats.unauthentic += 1
            return
        except SnmpDecodeError:
            self.stats.malformed += 1
            return
        if kind:
            result: object = _Report(kind)
        elif (
            pdu.type == PduType.RESPONSE
            and not pending.discovery
            and pdu.request_id == pending.request_id
            and message.flags & (FLAG_AUTH | FLAG_PRIV) == user.flags
        ):
            self.stats.responses += 1
            result = (pdu.error_status, pdu.error_index, pdu.varbinds)
        else:
            self.stats.unmatched += 1
            return
        self._finish(pending)
        del self._pending[message.msg_id]
        if not pending.future.done():
            pending.future.set_result(result)

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
        target = pending.target
        hint = ""
        known_engine = not pending.discovery and target.address in self.usm.engines
        if target.usm is not None and target.usm.private and known_engine:
            # the engine answered its discovery; net-snmp drops what it cannot decrypt without a Report
            hint = " (the agent's engine answered before: a wrong privacy key or protocol also looks like this)"
        pending.future.set_exception(
            SnmpTimeoutError(
                f"no answer from {target.host}:{target.port} "
                f"after {target.retries + 1} attempt(s) of {target.timeout:g} s{hint}"
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
            if target.version == Version.V3:
                return await self._request_v3(target, pdu_type, list(oids), non_repeaters, max_repetitions)
            rid = self._request_id()
            packet = encode_request(
                target.version, target.community, pdu_type, rid, list(oids), non_repeaters, max_repetitions
            )
            return await self._exchange(target, rid, packet)

    async def _exchange(self, target: Target, rid: int, packet: bytes, discovery: bool = False) -> object:
        """Send ``packet`` (request-id or msgID ``rid``) with retries; the answer, a _Report, or a timeout."""
        assert self._loop is not None
        pending = _Pending(target, packet, self._loop.create_future(), rid, discovery)
        self._pending[rid] = pending
        self.stats.requests += 1
        self._send(pending)
        try:
            return await pending.future
        finally:
            if self._pending.get(rid) is pending:
                self._finish(pending)
                del self._pending[rid]

    async def _request_v3(
        self, target: Target, pdu_type: int, oids: list[Oid], non_repeaters: int, max_repetitions: int
    ) -> tuple[int, int, list[VarBind]]:
        user = target.usm
        assert user is not None
        address = target.address
        for attempt in range(3):
            if address not in self.usm.engines:
                await self._discover(target)
            rid = self._request_id()
            pdu = encode_request_pdu(pdu_type, rid, oids, non_repeaters, max_repetitions)
            packet = self.usm.request(address, user, target.context_name, rid, pdu)
            result = await self._exchange(target, rid, packet)
            if type(result) is not _Report:
                return result  # type: ignore[return-value]
            kind = result.kind  # type: ignore[attr-defined]
            self.stats.reports[kind] = self.stats.reports.get(kind, 0) + 1
            # an agent that restarted (new boots, or a new engine ID): its Report taught us the engine, again
            if kind in ("notInTimeWindow", "unknownEngineID") and attempt < 2:
                continue
            raise SnmpUsmError(kind, target)
        raise AssertionError("unreachable")

    async def _discover(self, target: Target) -> None:
        """Learn the agent's engine (RFC 3414 4); concurrent requests to one agent share one discovery."""
        address = target.address
        running = self._discoveries.get(address)
        if running is not None:
            await asyncio.shield(running)
            return
        assert self._loop is not None
        done: asyncio.Future[None] = self._loop.create_future()
        self._discoveries[address] = done
        try:
            rid = self._request_id()
            self.stats.discoveries += 1
            result = await self._exchange(target, rid, self.usm.discovery(rid), discovery=True)
            if address not in self.usm.engines:
                kind = result.kind if type(result) is _Report else "unknownReport"  # type: ignore[attr-defined]
                raise SnmpUsmError(kind, target)
            done.set_result(None)
        except BaseException as exc:
            done.set_exception(exc)
            raise
        finally:
            del self._discoveries[address]
            if not done.cancelled() and done.done():
                done.exception()  # retrieved: a discovery nobody else awaited must not warn

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
_DISCOVERIES = Family("counter", "stadtnetz_snmp_engine_discoveries", "SNMPv3 engine-ID discoveries sent.")
_REPORTS = Family(
    "counter", "stadtnetz_snmp_usm_reports", "SNMPv3 Reports answering a request, by what they report.", ("kind",)
)
_UNAUTHENTIC = Family(
    "counter",
    "stadtnetz_snmp_unauthentic_packets",
    "SNMPv3 answers that failed the digest, time window or decryption check, dropped.",
)
# always exported, so an alert on wrong keys or unknown users has a series from the start
REPORT_KINDS = ("unknownUserName", "wrongDigest", "decryptionError", "notInTimeWindow", "unknownEngineID",
                "unsupportedSecLevel")


class SnmpClientStatsCollector(ScrapeCollector):
    """Exports the SNMP client's counters (requests, timeouts, malformed packets, ...) at scrape time."""

    families = (
        _REQUESTS, _RETRANSMISSIONS, _RESPONSES, _TIMEOUTS, _MALFORMED, _UNMATCHED, _TOO_BIG, _DISCOVERIES, _REPORTS,
        _UNAUTHENTIC,
    )

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
        yield _DISCOVERIES, (), stats.discoveries
        for kind in sorted({*REPORT_KINDS, *stats.reports}):
            yield _REPORTS, (kind,), stats.reports.get(kind, 0)
        yield _UNAUTHENTIC, (), stats.unauthentic
