"""The SNMP client against small misbehaving agents: what a collector sees when devices go wrong.

Each agent is an asyncio UDP endpoint in the test's own event loop, bound to its own 127.77.x.y
address on a port the kernel picks, and answers with our codec. The well-behaved base agent
implements GET, GETNEXT and GETBULK over a sorted MIB (v1 and v2c semantics); subclasses break
one rule each: silence, late answers, tooBig, loops, truncated GETBULKs, stray datagrams, error
statuses. Every agent records the requests it received and how many it held unanswered at once.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import os
import socket
import time
from collections.abc import Awaitable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import pytest

from collectors.snmp.client import (
    SnmpClient,
    SnmpProtocolError,
    SnmpResponseError,
    SnmpTimeoutError,
    Target,
)
from collectors.snmp.codec import (
    ErrorStatus,
    Message,
    Pdu,
    PduType,
    Version,
    decode_message,
    encode_message,
)
from collectors.snmp.oid import format_oid
from collectors.snmp.types import END_OF_MIB_VIEW, NO_SUCH_OBJECT, Counter32, Counter64, Gauge32, Oid, Value, VarBind

T = TypeVar("T")

SYS_DESCR: Oid = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_NAME: Oid = (1, 3, 6, 1, 2, 1, 1, 5, 0)
INTERFACES: Oid = (1, 3, 6, 1, 2, 1, 2)
IF_ENTRY: Oid = (*INTERFACES, 2, 1)
RMON: Oid = (1, 3, 6, 1, 2, 1, 20)  # shares the text prefix "1.3.6.1.2.1.2" with INTERFACES
IFX_ENTRY: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
IFX_TABLE: Oid = IFX_ENTRY[:-1]
LAST_SUBTREE: Oid = (1, 3, 6, 1, 6, 3, 1)  # the last objects in the agent's MIB
BEYOND: Oid = (1, 3, 6, 1, 9)  # after everything the agent has


def build_mib() -> dict[Oid, Value]:
    mib: dict[Oid, Value] = {SYS_DESCR: b"misbehaving test agent", SYS_NAME: b"agent"}
    mib[(*INTERFACES, 1, 0)] = 7
    for row in range(1, 8):
        mib[(*IF_ENTRY, 1, row)] = row
        mib[(*IF_ENTRY, 2, row)] = f"port{row}".encode()
        mib[(*IF_ENTRY, 5, row)] = Gauge32(1_000_000_000)
        mib[(*IF_ENTRY, 10, row)] = Counter32(1000 * row)
        mib[(*IFX_ENTRY, 1, row)] = f"Gi0/{row}".encode()
        mib[(*IFX_ENTRY, 6, row)] = Counter64(2**40 + row)
        mib[(*IFX_ENTRY, 10, row)] = Counter64(2**41 + row)
    for index in range(1, 4):
        mib[(*RMON, 1, index)] = index
    for index in range(1, 6):
        mib[(*LAST_SUBTREE, index, 0)] = Counter32(index)
    return mib


MIB = build_mib()


def subtree(root: Oid, mib: Mapping[Oid, Value] = MIB) -> list[VarBind]:
    """The expected walk of ``root``: every object strictly inside it, in OID order."""
    return [(oid, mib[oid]) for oid in sorted(mib) if len(oid) > len(root) and oid[: len(root)] == root]


_host_numbers = itertools.count(os.getpid() % 200 * 250)


def fresh_host() -> str:
    """A loopback address no other agent in this run uses."""
    number = next(_host_numbers) % 50_000
    return f"127.77.{number // 250}.{number % 250 + 1}"


def run(scenario: Awaitable[T], limit: float = 15.0) -> T:
    """Run one scenario in a fresh event loop; a hang fails the test instead of blocking the suite."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario, limit)

    return asyncio.run(bounded())


# --------------------------------------------------------------------------- the agents


@dataclass
class Reply:
    varbinds: list[VarBind]
    error_status: int = 0
    error_index: int = 0


class InFlight:
    """Requests received but not yet answered, now and at the peak."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1


class Agent(asyncio.DatagramProtocol):
    """A well-behaved SNMP v1/v2c agent over ``mib``; subclasses override ``handle`` or ``respond``."""

    def __init__(
        self,
        mib: Mapping[Oid, Value] = MIB,
        *,
        community: bytes = b"public",
        delay: float = 0.0,
        shared: InFlight | None = None,
    ) -> None:
        self.mib = dict(mib)
        self.sorted_oids = sorted(mib)
        self.community = community
        self.delay = delay
        self.requests: list[Message] = []
        self.replies: list[Reply] = []
        self.in_flight = InFlight()
        self.shared = shared
        self.transport: asyncio.DatagramTransport | None = None
        self.host = ""
        self.port = 0
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Agent:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(fresh_host(), 0))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.transport is not None:
            self.transport.close()
        if self.errors:  # a broken test agent must not pass for a client timeout
            raise AssertionError(f"the test agent itself failed: {self.errors!r}")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.host, self.port = self.transport.get_extra_info("sockname")[:2]

    def target(self, **options: Any) -> Target:
        return Target(self.host, self.port, **options)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = decode_message(data)
        self.requests.append(message)
        task = asyncio.get_running_loop().create_task(self._serve(message, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, message: Message, addr: tuple[str, int]) -> None:
        counters = [self.in_flight] if self.shared is None else [self.in_flight, self.shared]
        for counter in counters:
            counter.enter()
        try:
            await self.handle(message, addr)
        except Exception as exc:
            self.errors.append(exc)
        finally:
            for counter in counters:
                counter.leave()

    async def handle(self, message: Message, addr: tuple[str, int]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = self.respond(message)
        if reply is not None:
            self.send_reply(message, addr, reply)

    # -- sending

    def send_reply(self, message: Message, addr: tuple[str, int], reply: Reply) -> None:
        self.replies.append(reply)
        self.send(addr, response_bytes(message, reply))

    def send(self, addr: tuple[str, int], data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)

    # -- the MIB

    def respond(self, message: Message) -> Reply | None:
        if message.community != self.community:
            return None  # like snmpd: silence
        pdu = message.pdu
        assert isinstance(pdu, Pdu)
        oids = [oid for oid, _ in pdu.varbinds]
        v1 = message.version == Version.V1
        if pdu.type == PduType.GET_BULK:
            return Reply(self.bulk(oids, pdu.non_repeaters, pdu.max_repetitions))
        varbinds: list[VarBind] = []
        for index, oid in enumerate(oids, 1):
            if pdu.type == PduType.GET:
                found: VarBind | None = (oid, self.mib[oid]) if oid in self.mib else None
                if v1 and found is not None and type(found[1]) is Counter64:
                    found = None  # SNMPv1 cannot carry Counter64 (RFC 2576 4.1.2.1)
                missing: VarBind = (oid, NO_SUCH_OBJECT)
            else:
                found = self.next(oid)
                while v1 and found is not None and type(found[1]) is Counter64:
                    found = self.next(found[0])  # a v1 GETNEXT skips Counter64 objects
                missing = (oid, END_OF_MIB_VIEW)
            if found is None and v1:
                return Reply(list(pdu.varbinds), ErrorStatus.NO_SUCH_NAME, index)
            varbinds.append(found or missing)
        return Reply(varbinds)

    def next(self, oid: Oid) -> VarBind | None:
        position = bisect.bisect_right(self.sorted_oids, oid)
        if position == len(self.sorted_oids):
            return None
        following = self.sorted_oids[position]
        return following, self.mib[following]

    def next_or_end(self, oid: Oid) -> VarBind:
        return self.next(oid) or (oid, END_OF_MIB_VIEW)

    def bulk(self, oids: Sequence[Oid], non_repeaters: int, max_repetitions: int) -> list[VarBind]:
        result = [self.next_or_end(oid) for oid in oids[:non_repeaters]]
        cursors = list(oids[non_repeaters:])
        for _ in range(max_repetitions):
            row = [self.next_or_end(oid) for oid in cursors]
            result += row
            cursors = [oid for oid, _ in row]
            if all(value is END_OF_MIB_VIEW for _, value in row):
                break
        return result


def response_bytes(
    message: Message,
    reply: Reply,
    *,
    request_id: int | None = None,
    community: bytes | None = None,
    version: int | None = None,
    pdu_type: int = PduType.RESPONSE,
) -> bytes:
    """The encoded answer to ``message``; keyword arguments forge single fields."""
    pdu = message.pdu
    assert isinstance(pdu, Pdu)
    answer = Pdu(
        pdu_type,
        pdu.request_id if request_id is None else request_id,
        reply.error_status,
        reply.error_index,
        reply.varbinds,
    )
    return encode_message(
        Message(
            message.version if version is None else version,
            message.community if community is None else community,
            answer,
        )
    )


def request_ids(agent: Agent) -> list[int]:
    return [message.pdu.request_id for message in agent.requests]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- timeouts and retries


class SilentAgent(Agent):
    async def handle(self, message: Message, addr: tuple[str, int]) -> None:
        return None


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_silent_agent_gets_retries_plus_one_attempts_then_timeout(retries: int) -> None:
    timeout = 0.1

    async def scenario() -> tuple[SilentAgent, SnmpClient, float]:
        async with SilentAgent() as agent, SnmpClient() as client:
            started = time.monotonic()
            with pytest.raises(SnmpTimeoutError, match=f"after {retries + 1} attempt"):
                await client.get(agent.target(timeout=timeout, retries=retries), [SYS_NAME])
            elapsed = time.monotonic() - started
            await asyncio.sleep(2 * timeout)  # nothing more is sent after the error
            return agent, client, elapsed

    agent, client, elapsed = run(scenario())

    assert len(agent.requests) == retries + 1
    assert len(set(request_ids(agent))) == 1  # a retransmission repeats the request
    assert (retries + 1) * timeout * 0.9 <= elapsed < (retries + 1) * timeout + 1.0
    assert client.stats.requests == 1
    assert client.stats.retransmissions == retries
    assert client.stats.timeouts == 1
    assert client.stats.responses == 0


class LateFirstAnswerAgent(Agent):
    """Answers only the first transmission of a request, once the client has retransmitted it."""

    def __init__(self) -> None:
        super().__init__()
        self.retransmitted: dict[int, asyncio.Event] = {}

    async def handle(self, message: Message, addr: tuple[str, int]) -> None:
        request_id = message.pdu.request_id  # type: ignore[union-attr]
        if request_id in self.retransmitted:
            self.retransmitted[request_id].set()  # stay silent to the retransmission
            return
        retransmitted = self.retransmitted[request_id] = asyncio.Event()
        await retransmitted.wait()
        self.send_reply(message, addr, self.respond(message))  # type: ignore[arg-type]


def test_late_answer_to_the_first_transmission_is_accepted_after_a_retransmission() -> None:
    timeout = 0.25

    async def scenario() -> tuple[LateFirstAnswerAgent, SnmpClient, list[VarBind], float]:
        async with LateFirstAnswerAgent() as agent, SnmpClient() as client:
            started = time.monotonic()
            answer = await client.get(agent.target(timeout=timeout, retries=3), [SYS_NAME, SYS_DESCR])
            return agent, client, answer, time.monotonic() - started

    agent, client, answer, elapsed = run(scenario())

    assert answer == [(SYS_NAME, MIB[SYS_NAME]), (SYS_DESCR, MIB[SYS_DESCR])]
    assert len(agent.requests) == 2  # the first transmission and one retransmission
    assert len(agent.replies) == 1
    assert client.stats.retransmissions == 1
    assert client.stats.timeouts == 0
    assert client.stats.responses == 1
    assert timeout <= elapsed < 2 * timeout  # accepted at once, not after the retransmission's own timeout


def test_silent_device_does_not_delay_requests_to_a_live_one() -> None:
    """More requests to a dead device than the global bound must not hold the live device's requests back."""
    silent_timeout = 1.0

    async def scenario() -> tuple[float, list[VarBind], list[bool]]:
        async with (
            SilentAgent() as silent,
            Agent() as live,
            SnmpClient(max_in_flight=4, max_in_flight_per_device=1) as client,
        ):
            dead = silent.target(timeout=silent_timeout, retries=0)
            stuck = [asyncio.create_task(client.get(dead, [SYS_NAME])) for _ in range(8)]
            await asyncio.sleep(0.05)  # all of them queued or in flight
            started = time.monotonic()
            answer = await client.get(live.target(timeout=2.0, retries=0), [SYS_NAME])
            elapsed = time.monotonic() - started
            still_waiting = [not task.done() for task in stuck]
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
            return elapsed, answer, still_waiting

    elapsed, answer, still_waiting = run(scenario())

    assert answer == [(SYS_NAME, MIB[SYS_NAME])]
    assert elapsed < 0.25 * silent_timeout, f"the live device waited {elapsed:.2f} s behind the silent one"
    assert all(still_waiting)  # the silent device's requests were really outstanding meanwhile


# --------------------------------------------------------------------------- tooBig


class TooBigAgent(Agent):
    """Answers tooBig when a GET asks for more than ``max_get`` OIDs or a GETBULK could return
    more than ``max_bulk`` varbinds (varbinds x max-repetitions)."""

    def __init__(self, max_get: int = 1000, max_bulk: int = 100_000) -> None:
        super().__init__()
        self.max_get = max_get
        self.max_bulk = max_bulk

    def respond(self, message: Message) -> Reply | None:
        pdu = message.pdu
        assert isinstance(pdu, Pdu)
        too_big = (pdu.type == PduType.GET and len(pdu.varbinds) > self.max_get) or (
            pdu.type == PduType.GET_BULK and len(pdu.varbinds) * pdu.max_repetitions > self.max_bulk
        )
        if too_big:
            return Reply(list(pdu.varbinds), ErrorStatus.TOO_BIG, 0)
        return super().respond(message)


def test_get_answered_too_big_is_split_and_returns_every_oid_in_order() -> None:
    present = sorted(MIB)
    oids = [oid for pair in zip(present, [(*oid[:-1], 999) for oid in present], strict=True) for oid in pair][:50]
    expected = [(oid, MIB.get(oid, NO_SUCH_OBJECT)) for oid in oids]

    async def scenario() -> tuple[TooBigAgent, SnmpClient, list[VarBind]]:
        async with TooBigAgent(max_get=7) as agent, SnmpClient() as client:
            return agent, client, await client.get(agent.target(max_oids_per_request=60), oids)

    agent, client, answer = run(scenario())

    assert answer == expected
    assert all(type(value) is type(wanted) for (_, value), (_, wanted) in zip(answer, expected, strict=True))
    sizes = [len(message.pdu.varbinds) for message in agent.requests]
    assert sizes[0] == 50
    answered = [
        [oid for oid, _ in message.pdu.varbinds] for message in agent.requests if len(message.pdu.varbinds) <= 7
    ]
    assert [oid for chunk in answered for oid in chunk] == oids  # every OID asked exactly once in a fitting request
    assert client.stats.too_big == len(agent.requests) - len(answered) > 0


def test_single_oid_too_big_raises_instead_of_splitting_forever() -> None:
    async def scenario() -> tuple[TooBigAgent, SnmpResponseError]:
        async with TooBigAgent(max_get=0) as agent, SnmpClient() as client:
            with pytest.raises(SnmpResponseError) as raised:
                await client.get(agent.target(), [SYS_NAME, SYS_DESCR, (*IF_ENTRY, 1, 1)])
            return agent, raised.value

    agent, error = run(scenario())

    assert error.status == ErrorStatus.TOO_BIG
    assert "tooBig" in str(error)
    assert len(agent.requests) <= 5


def test_getbulk_answered_too_big_reduces_max_repetitions() -> None:
    roots = [IF_ENTRY, IFX_TABLE]

    async def scenario() -> tuple[TooBigAgent, SnmpClient, dict[Oid, list[VarBind]]]:
        async with TooBigAgent(max_bulk=12) as agent, SnmpClient() as client:
            return agent, client, await client.walk(agent.target(max_repetitions=25), roots)

    agent, client, walked = run(scenario())

    assert walked == {root: subtree(root) for root in roots}
    repetitions = [message.pdu.max_repetitions for message in agent.requests]
    assert repetitions[:3] == [25, 12, 6]  # halved after each tooBig until 2 x 6 varbinds fit
    assert set(repetitions[3:]) == {6}  # and kept small for the rest of the walk
    assert all(message.pdu.type == PduType.GET_BULK for message in agent.requests)
    assert client.stats.too_big == 2


# --------------------------------------------------------------------------- walks that loop


class LoopingAgent(Agent):
    """Answers GETNEXT/GETBULK with OIDs that do not advance."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def respond(self, message: Message) -> Reply | None:
        pdu = message.pdu
        assert isinstance(pdu, Pdu)
        first_row = (*IF_ENTRY, 1, 1)
        asked = [oid for oid, _ in pdu.varbinds]
        if self.mode == "bulk-repeats-within-response":
            return Reply([(first_row, 1)] * (len(asked) * max(pdu.max_repetitions, 1)))
        if self.mode in ("bulk-goes-back", "next-goes-back"):
            return Reply([(first_row, 1) for _ in asked])  # always the start of the table again
        if self.mode == "next-stays":  # GETNEXT answers with the OID it was asked about
            return Reply([(oid if oid != IF_ENTRY else first_row, 1) for oid in asked])
        if self.mode == "bulk-goes-backwards-in-response":
            return Reply([((*IF_ENTRY, 1, 9 - row), 1) for row in range(min(pdu.max_repetitions, 5))])
        raise AssertionError(self.mode)


@pytest.mark.parametrize(
    ("mode", "version"),
    [
        ("bulk-repeats-within-response", Version.V2C),
        ("bulk-goes-backwards-in-response", Version.V2C),
        ("bulk-goes-back", Version.V2C),
        ("next-goes-back", Version.V1),
        ("next-stays", Version.V1),
    ],
)
def test_walk_of_a_looping_agent_fails_promptly(mode: str, version: int) -> None:
    async def scenario() -> tuple[LoopingAgent, SnmpProtocolError, float]:
        async with LoopingAgent(mode) as agent, SnmpClient() as client:
            started = time.monotonic()
            with pytest.raises(SnmpProtocolError, match="loops") as raised:
                await client.walk(agent.target(version=version), [IF_ENTRY])
            return agent, raised.value, time.monotonic() - started

    agent, error, elapsed = run(scenario(), limit=5.0)

    assert len(agent.requests) <= 2
    assert elapsed < 1.0
    assert format_oid((*IF_ENTRY, 1)) in str(error)


# --------------------------------------------------------------------------- where walks end


@pytest.mark.parametrize("version", [Version.V2C, Version.V1])
def test_walk_ends_on_end_of_mib_view_and_on_leaving_the_subtree(version: int) -> None:
    roots = [INTERFACES, LAST_SUBTREE, BEYOND, (1, 3, 6, 1, 2, 1, 3), IFX_TABLE]

    async def scenario() -> tuple[Agent, dict[Oid, list[VarBind]]]:
        async with Agent() as agent, SnmpClient() as client:
            return agent, await client.walk(agent.target(version=version, max_repetitions=4), roots)

    agent, walked = run(scenario())

    assert list(walked) == roots
    assert walked[INTERFACES] == subtree(INTERFACES)  # stops before 1.3.6.1.2.1.20 (RMON), same text prefix
    assert not [oid for oid, _ in walked[INTERFACES] if oid[:7] == RMON]
    assert walked[LAST_SUBTREE] == subtree(LAST_SUBTREE)  # ends at the end of the MIB view
    assert walked[BEYOND] == []
    assert walked[(1, 3, 6, 1, 2, 1, 3)] == []  # nothing there: the next OID is already outside
    without_counter64 = [vb for vb in subtree(IFX_TABLE) if type(vb[1]) is not Counter64]
    assert walked[IFX_TABLE] == (subtree(IFX_TABLE) if version == Version.V2C else without_counter64)
    if version == Version.V2C:
        assert any(value is END_OF_MIB_VIEW for reply in agent.replies for _, value in reply.varbinds)
        assert all(message.pdu.type == PduType.GET_BULK for message in agent.requests)
        assert len(agent.requests[0].pdu.varbinds) == len(roots)  # all subtrees in one request


def test_v1_getnext_walk_ends_on_no_such_name() -> None:
    roots = [IF_ENTRY, LAST_SUBTREE, BEYOND]

    async def scenario() -> tuple[Agent, SnmpClient, dict[Oid, list[VarBind]]]:
        async with Agent() as agent, SnmpClient() as client:
            return agent, client, await client.walk(agent.target(version=Version.V1), roots)

    agent, client, walked = run(scenario())

    assert walked == {IF_ENTRY: subtree(IF_ENTRY), LAST_SUBTREE: subtree(LAST_SUBTREE), BEYOND: []}
    no_such_name = [reply for reply in agent.replies if reply.error_status == ErrorStatus.NO_SUCH_NAME]
    assert len(no_such_name) == 2  # once for BEYOND at once, once at the end of LAST_SUBTREE
    assert all(message.pdu.type == PduType.GET_NEXT for message in agent.requests)
    assert client.stats.timeouts == 0


class TruncatingAgent(Agent):
    """Returns only the first ``cap`` varbinds of every GETBULK answer (as agents do near their size limit)."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.truncated = 0

    def respond(self, message: Message) -> Reply | None:
        reply = super().respond(message)
        assert reply is not None
        if len(reply.varbinds) > self.cap:
            self.truncated += 1
            reply.varbinds = reply.varbinds[: self.cap]
        return reply


@pytest.mark.parametrize("cap", [1, 2, 5, 7])
def test_walk_handles_truncated_getbulk_responses(cap: int) -> None:
    roots = [INTERFACES, IFX_TABLE, LAST_SUBTREE]  # 3 columns: caps 1, 2, 5, 7 end in partial rows

    async def scenario() -> tuple[TruncatingAgent, dict[Oid, list[VarBind]]]:
        async with TruncatingAgent(cap) as agent, SnmpClient() as client:
            return agent, await client.walk(agent.target(max_repetitions=10), roots)

    agent, walked = run(scenario())

    assert walked == {root: subtree(root) for root in roots}
    assert agent.truncated > 0


# --------------------------------------------------------------------------- stray datagrams


class StrayDatagramAgent(Agent):
    """Before its real answer, sends garbage and answers the client must not take."""

    async def handle(self, message: Message, addr: tuple[str, int]) -> None:
        pdu = message.pdu
        assert isinstance(pdu, Pdu)
        forged = Reply([(oid, b"forged") for oid, _ in pdu.varbinds])
        wrong_version = Version.V1 if message.version == Version.V2C else Version.V2C
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:  # asyncio drops empty datagrams
            raw.bind((self.host, 0))
            raw.sendto(b"", addr)
        self.send(addr, b"\x30\x03\x02\x01")  # truncated BER
        self.send(addr, os.urandom(64).replace(b"\x30", b"\x31"))  # not even a SEQUENCE
        self.send(addr, response_bytes(message, forged, request_id=pdu.request_id + 1))
        self.send(addr, response_bytes(message, forged, community=b"private"))
        self.send(addr, response_bytes(message, forged, version=wrong_version))
        self.send(addr, response_bytes(message, forged, pdu_type=PduType.GET))
        for other in ((self.host, 0), (fresh_host(), self.port)):  # wrong source port, wrong source address
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer:
                spoofer.bind(other)
                spoofer.sendto(response_bytes(message, forged), addr)
        await asyncio.sleep(0.05)  # the stray datagrams are all processed before the real answer
        self.send_reply(message, addr, self.respond(message))  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [Version.V2C, Version.V1])
def test_stray_datagrams_are_counted_and_dropped_and_the_real_answer_is_accepted(version: int) -> None:
    async def scenario() -> tuple[SnmpClient, list[VarBind]]:
        async with StrayDatagramAgent() as agent, SnmpClient() as client:
            return client, await client.get(agent.target(version=version, timeout=2.0, retries=0), [SYS_NAME])

    client, answer = run(scenario())

    assert answer == [(SYS_NAME, MIB[SYS_NAME])]
    assert client.stats.malformed == 3
    assert client.stats.unmatched == 6  # wrong request-id, community, version, PDU type, source port, address
    assert client.stats.responses == 1
    assert client.stats.retransmissions == client.stats.timeouts == 0


# --------------------------------------------------------------------------- in-flight bounds


@pytest.mark.parametrize("per_device", [1, 3])
def test_per_device_in_flight_bound_is_never_exceeded(per_device: int) -> None:
    requests = 30
    oids = [(*IF_ENTRY, 10, row % 7 + 1) for row in range(requests)]

    async def scenario() -> tuple[Agent, list[list[VarBind]]]:
        async with Agent(delay=0.01) as agent, SnmpClient(max_in_flight_per_device=per_device) as client:
            target = agent.target(timeout=5.0)
            return agent, await asyncio.gather(*(client.get(target, [oid]) for oid in oids))

    agent, answers = run(scenario())

    assert answers == [[(oid, MIB[oid])] for oid in oids]
    assert len(agent.requests) == requests
    assert agent.in_flight.peak == per_device


def test_global_in_flight_bound_is_never_exceeded_across_devices() -> None:
    devices, per_device_requests = 4, 15
    everywhere = InFlight()

    async def scenario() -> tuple[list[Agent], list[list[VarBind]]]:
        async with AsyncExitStack() as stack:
            agents = [await stack.enter_async_context(Agent(delay=0.01, shared=everywhere)) for _ in range(devices)]
            client = await stack.enter_async_context(SnmpClient(max_in_flight=5, max_in_flight_per_device=3))
            calls = [
                client.get(agent.target(timeout=5.0), [SYS_NAME, (*IF_ENTRY, 2, n % 7 + 1)])
                for n in range(per_device_requests)
                for agent in agents
            ]
            return agents, await asyncio.gather(*calls)

    agents, answers = run(scenario())

    assert len(answers) == devices * per_device_requests
    assert all(answer[0] == (SYS_NAME, MIB[SYS_NAME]) for answer in answers)
    assert everywhere.peak == 5
    assert all(agent.in_flight.peak <= 3 for agent in agents)
    assert sum(len(agent.requests) for agent in agents) == devices * per_device_requests


# --------------------------------------------------------------------------- error statuses


class ErrorAgent(Agent):
    """Answers every request with one error-status pointing at the second varbind."""

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status

    def respond(self, message: Message) -> Reply | None:
        return Reply(list(message.pdu.varbinds), self.status, 2)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (ErrorStatus.GEN_ERR, "genErr"),
        (ErrorStatus.NO_ACCESS, "noAccess"),
        (ErrorStatus.NO_SUCH_NAME, "noSuchName"),  # only v1 turns noSuchName into NO_SUCH_OBJECT
        (ErrorStatus.RESOURCE_UNAVAILABLE, "resourceUnavailable"),
        (99, "error-status 99"),
    ],
)
def test_error_status_raises_a_response_error_naming_it(status: int, name: str) -> None:
    oids = [SYS_DESCR, SYS_NAME, (*IF_ENTRY, 1, 1)]

    async def scenario() -> tuple[SnmpResponseError, SnmpResponseError]:
        async with ErrorAgent(status) as agent, SnmpClient() as client:
            with pytest.raises(SnmpResponseError) as get_error:
                await client.get(agent.target(), oids)
            with pytest.raises(SnmpResponseError) as walk_error:
                await client.walk(agent.target(), [INTERFACES, IFX_TABLE])
            return get_error.value, walk_error.value

    get_error, walk_error = run(scenario())

    assert get_error.status == status
    assert get_error.index == 2
    assert get_error.oid == SYS_NAME
    assert name in str(get_error) and format_oid(SYS_NAME) in str(get_error)
    assert walk_error.status == status
    assert walk_error.oid == IFX_TABLE
    assert name in str(walk_error)


class ShortAnswerAgent(Agent):
    """Leaves the last varbind out of every GET answer."""

    def respond(self, message: Message) -> Reply | None:
        reply = super().respond(message)
        assert reply is not None
        reply.varbinds = reply.varbinds[:-1]
        return reply


def test_get_answer_with_missing_varbinds_is_a_protocol_error() -> None:
    async def scenario() -> SnmpProtocolError:
        async with ShortAnswerAgent() as agent, SnmpClient() as client:
            with pytest.raises(SnmpProtocolError) as raised:
                await client.get(agent.target(), [SYS_DESCR, SYS_NAME, (*IF_ENTRY, 1, 1)])
            return raised.value

    error = run(scenario())

    assert "asked for 3 OIDs, the agent answered 2" in str(error)
