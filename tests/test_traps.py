"""The SNMP trap receiver against real net-snmp traffic: snmptrap and snmpinform on the wire, no mocks.

The receiver runs on an event loop in a background thread, bound to a free port
of 127.31.0.1; net-snmp's tools send from a simulated device's address with the
``--clientaddr=ADDR`` option (a snmp.conf token given on the command line).
Also: drops by reason, the answer to an inform, a flood of garbage, the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collectors.snmp.codec import (
    Message,
    Pdu,
    PduType,
    SnmpDecodeError,
    Version,
    decode_message,
    encode_message,
)
from collectors.snmp.types import TimeTicks
from collectors.traps import (
    DropReason,
    TrapEvent,
    TrapKind,
    TrapReceiver,
    TrapStatsCollector,
)
from stadtnetz.clock import Clock, ManualClock
from stadtnetz.model import Device, V3User
from stadtnetz.secrets import Secret
from tests.support.processes import wait_until

LISTEN_HOST = "127.31.0.1"
SWITCH = "127.20.0.5"  # community public
ACCESS_POINT = "127.20.0.6"  # community wlan-ro
SHARED = "127.20.0.7"  # two agents on one address, told apart by their community
MAPPED = "127.20.0.9"  # configured as an IPv4-mapped IPv6 address
STRANGER = "127.0.0.1"  # no device here

DEVICES = [
    Device(id="sw-rathaus", kind="switch", host=SWITCH),
    Device(id="ap-marktplatz", kind="wlan_ap", host=ACCESS_POINT),
    Device(id="ups-a", kind="ups", host=SHARED, port=1161),
    Device(id="ups-b", kind="ups", host=SHARED, port=1162),
    Device(id="olt-nord", kind="olt", host=f"::ffff:{MAPPED}"),
]
COMMUNITIES = {
    "sw-rathaus": [b"public"],
    "ap-marktplatz": [b"wlan-ro", b"wlan-old"],
    "ups-a": [b"ups-a"],
    "ups-b": [b"ups-b"],
    "olt-nord": [b"public"],
}
TOOL_ENV = {**os.environ, "MIBS": ""}  # Debian ships no MIB files

IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_ADMIN = "1.3.6.1.2.1.2.2.1.7"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
TRAPS = "1.3.6.1.6.3.1.1.5"


class RunningReceiver:
    """A TrapReceiver on its own event loop thread; events land in a thread-safe queue."""

    def __init__(
        self,
        clock: Clock | None = None,
        on_trap: Callable[[TrapEvent], None] | None = None,
        v3_users: tuple[V3User, ...] = (),
        communities: Callable[[Device], Any] | None = None,
    ) -> None:
        self.events: queue.Queue[TrapEvent] = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="trap-receiver", daemon=True)
        self.thread.start()
        self.receiver = TrapReceiver(
            DEVICES,
            communities or (lambda device: COMMUNITIES[device.id]),
            on_trap or self.events.put,
            clock=clock,
            receive_buffer=64 * 1024 * 1024,
            v3_users=v3_users,
        )
        started: Future[tuple[str, int]] = asyncio.run_coroutine_threadsafe(
            self.receiver.start(LISTEN_HOST, 0), self.loop
        )
        self.host, self.port = started.result(timeout=10)
        self.target = f"{self.host}:{self.port}"

    @property
    def stats(self) -> Any:
        return self.receiver.stats

    def dropped(self, reason: DropReason) -> int:
        return self.receiver.stats.dropped[reason]

    def total(self) -> int:
        stats = self.receiver.stats
        return sum(stats.received.values()) + sum(stats.dropped.values())

    def event(self, timeout: float = 3.0) -> TrapEvent:
        return self.events.get(timeout=timeout)

    def wait_total(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` datagrams have been handled in all (accepted or dropped)."""
        deadline = time.monotonic() + timeout
        while self.total() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.total()} datagrams handled, expected {count}; stats {self.stats}")
            time.sleep(0.002)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.receiver.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def receiver() -> Iterator[RunningReceiver]:
    running = RunningReceiver()
    try:
        yield running
    finally:
        running.close()


def net_snmp(tool: str, version: str, community: str, source: str, target: str, *args: str, options: str = ""):
    """Run snmptrap/snmpinform/snmpget so that its datagram leaves from ``source``."""
    argv = [tool, f"-v{version}", "-c", community, f"--clientaddr={source}", *options.split(), target, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=10, env=TOOL_ENV)


def trap(receiver: RunningReceiver, *args: str, version: str = "2c", community: str = "public", source: str = SWITCH):
    """Send one trap with snmptrap and wait until the receiver has handled it."""
    before = receiver.total()
    result = net_snmp("snmptrap", version, community, source, receiver.target, *args)
    assert result.returncode == 0, result.stderr
    receiver.wait_total(before + 1)


def udp_drops(port: int) -> int:
    """The kernel's count of datagrams dropped on the UDP socket bound to ``port`` (last column of /proc/net/udp)."""
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            return int(fields[-1])
    raise LookupError(f"no UDP socket on port {port}")


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError("VmRSS")


# --------------------------------------------------------------------------- accepted traps


def test_v2c_link_down_from_a_device_address(receiver: RunningReceiver) -> None:
    trap(
        receiver,
        "4242",
        f"{TRAPS}.3",
        f"{IF_INDEX}.7", "i", "7",
        f"{IF_ADMIN}.7", "i", "1",
        f"{IF_OPER}.7", "i", "2",
    )  # fmt: skip
    event = receiver.event()
    assert event == TrapEvent(
        device_id="sw-rathaus",
        kind=TrapKind.LINK_DOWN,
        if_index=7,
        oper_status=2,
        uptime_ticks=4242,
        trap_oid=(1, 3, 6, 1, 6, 3, 1, 1, 5, 3),
        version=Version.V2C,
        received=event.received,
        inform=False,
    )
    assert abs(event.received - time.time()) < 5
    assert receiver.stats.received[TrapKind.LINK_DOWN] == 1
    assert receiver.events.empty()


@pytest.mark.parametrize(
    ("trap_oid", "varbinds", "kind", "if_index", "oper_status"),
    [
        (f"{TRAPS}.4", [f"{IF_INDEX}.12", "i", "12", f"{IF_OPER}.12", "i", "1"], TrapKind.LINK_UP, 12, 1),
        # no ifIndex varbind: the index is the instance of ifAdminStatus / ifOperStatus
        (f"{TRAPS}.4", [f"{IF_ADMIN}.3", "i", "1", f"{IF_OPER}.3", "i", "1"], TrapKind.LINK_UP, 3, 1),
        (f"{TRAPS}.3", [f"{IF_ADMIN}.5", "i", "2"], TrapKind.LINK_DOWN, 5, None),
        (f"{TRAPS}.1", [], TrapKind.COLD_START, None, None),
        (f"{TRAPS}.2", [], TrapKind.WARM_START, None, None),
        (f"{TRAPS}.5", [], TrapKind.AUTHENTICATION_FAILURE, None, None),
        ("1.3.6.1.4.1.8072.2.3.0.1", ["1.3.6.1.4.1.8072.2.3.2.1", "i", "5"], TrapKind.OTHER, None, None),
    ],
)
def test_v2c_kinds(
    receiver: RunningReceiver,
    trap_oid: str,
    varbinds: list[str],
    kind: TrapKind,
    if_index: int | None,
    oper_status: int | None,
) -> None:
    trap(receiver, "100", trap_oid, *varbinds)
    event = receiver.event()
    assert (event.device_id, event.kind, event.if_index, event.oper_status) == (
        "sw-rathaus",
        kind,
        if_index,
        oper_status,
    )
    assert event.trap_oid == tuple(int(arc) for arc in trap_oid.split("."))
    assert event.uptime_ticks == 100
    assert receiver.stats.received[kind] == 1


def test_v1_link_down_identified_by_agent_addr(receiver: RunningReceiver) -> None:
    """The source (127.0.0.1) is no device: the v1 Trap-PDU's agent-addr names the switch."""
    trap(receiver, "", SWITCH, "2", "0", "", f"{IF_INDEX}.3", "i", "3", version="1", source=STRANGER)
    event = receiver.event()
    assert (event.device_id, event.kind, event.if_index, event.version) == (
        "sw-rathaus",
        TrapKind.LINK_DOWN,
        3,
        Version.V1,
    )
    assert event.trap_oid == (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)  # RFC 3584 3.1
    assert event.uptime_ticks is not None and not event.inform


@pytest.mark.parametrize(
    ("generic", "specific", "kind", "trap_oid"),
    [
        ("0", "0", TrapKind.COLD_START, (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)),
        ("1", "0", TrapKind.WARM_START, (1, 3, 6, 1, 6, 3, 1, 1, 5, 2)),
        ("3", "0", TrapKind.LINK_UP, (1, 3, 6, 1, 6, 3, 1, 1, 5, 4)),
        ("4", "0", TrapKind.AUTHENTICATION_FAILURE, (1, 3, 6, 1, 6, 3, 1, 1, 5, 5)),
        ("6", "17", TrapKind.OTHER, (1, 3, 6, 1, 4, 1, 8072, 0, 17)),
    ],
)
def test_v1_kinds_from_the_device_address(
    receiver: RunningReceiver, generic: str, specific: str, kind: TrapKind, trap_oid: tuple[int, ...]
) -> None:
    # agent-addr 0.0.0.0 is no device: the UDP source decides
    args = ("1.3.6.1.4.1.8072", "0.0.0.0", generic, specific, "777")
    trap(receiver, *args, version="1", source=ACCESS_POINT, community="wlan-old")
    event = receiver.event()
    assert (event.device_id, event.kind, event.trap_oid, event.uptime_ticks, event.version) == (
        "ap-marktplatz",
        kind,
        trap_oid,
        777,
        Version.V1,
    )


def test_shared_address_is_told_apart_by_community_and_mapped_addresses_match(receiver: RunningReceiver) -> None:
    trap(receiver, "", f"{TRAPS}.1", source=SHARED, community="ups-b")
    trap(receiver, "", f"{TRAPS}.1", source=SHARED, community="ups-a")
    trap(receiver, "", f"{TRAPS}.2", source=MAPPED)
    assert [receiver.event().device_id for _ in range(3)] == ["ups-b", "ups-a", "olt-nord"]


def test_inform_is_answered_and_reported(receiver: RunningReceiver) -> None:
    started = time.monotonic()
    result = net_snmp(
        "snmpinform", "2c", "public", SWITCH, receiver.target, "", f"{TRAPS}.3", f"{IF_INDEX}.9", "i", "9",
        options="-t 3 -r 0",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 1.0  # answered, not timed out (timeout 3 s)
    event = receiver.event()
    assert (event.kind, event.if_index, event.inform, event.version) == (TrapKind.LINK_DOWN, 9, True, Version.V2C)


def test_inform_response_echoes_request_id_and_varbinds(receiver: RunningReceiver) -> None:
    """RFC 3416 4.2.7, checked on the raw answer: Response, same request-id and varbinds, no error."""
    varbinds = [
        ((1, 3, 6, 1, 2, 1, 1, 3, 0), TimeTicks(55)),
        ((1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0), (1, 3, 6, 1, 6, 3, 1, 1, 5, 2)),
        ((1, 3, 6, 1, 4, 1, 8072, 9, 9), b"hallo"),
    ]
    inform = Message(Version.V2C, b"public", Pdu(PduType.INFORM, 81_234, 0, 0, varbinds))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((SWITCH, 0))
        sock.settimeout(2)
        sock.sendto(encode_message(inform), (receiver.host, receiver.port))
        data, sender = sock.recvfrom(65535)
    assert sender == (receiver.host, receiver.port)
    answer = decode_message(data)
    assert (answer.version, answer.community) == (Version.V2C, b"public")
    assert isinstance(answer.pdu, Pdu)
    assert (answer.pdu.type, answer.pdu.request_id, answer.pdu.error_status, answer.pdu.error_index) == (
        PduType.RESPONSE,
        81_234,
        0,
        0,
    )
    assert answer.pdu.varbinds == varbinds
    event = receiver.event()
    assert (event.kind, event.uptime_ticks, event.inform) == (TrapKind.WARM_START, 55, True)


def test_inform_with_a_wrong_community_gets_no_answer(receiver: RunningReceiver) -> None:
    result = net_snmp("snmpinform", "2c", "guess", SWITCH, receiver.target, "", f"{TRAPS}.1", options="-t 0.3 -r 0")
    assert result.returncode != 0
    assert receiver.dropped(DropReason.BAD_COMMUNITY) == 1
    assert receiver.events.empty()


# --------------------------------------------------------------------------- dropped datagrams


def test_unknown_source_is_dropped(receiver: RunningReceiver) -> None:
    trap(receiver, "", f"{TRAPS}.3", f"{IF_INDEX}.1", "i", "1", source=STRANGER)
    # v1 from an unknown address whose agent-addr is no device either
    trap(receiver, "", "127.20.0.99", "2", "0", "", version="1", source=STRANGER)
    assert receiver.dropped(DropReason.UNKNOWN_SOURCE) == 2
    assert sum(receiver.stats.received.values()) == 0
    assert receiver.events.empty()


def test_bad_community_is_dropped_and_logged_without_the_community(
    receiver: RunningReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="stadtnetz.traps")
    for _ in range(3):
        trap(receiver, "", f"{TRAPS}.1", community="geheim-falsch")
    trap(receiver, "", f"{TRAPS}.1", community="wlan-ro")  # the access point's community, from the switch
    assert receiver.dropped(DropReason.BAD_COMMUNITY) == 4
    assert receiver.events.empty()
    records = [r for r in caplog.records if r.name == "stadtnetz.traps"]
    assert len(records) == 1  # once per reason per minute
    assert "bad_community" in records[0].getMessage() and SWITCH in records[0].getMessage()
    assert not any("geheim" in r.getMessage() or "wlan-ro" in r.getMessage() for r in caplog.records)


def test_drop_log_is_rate_limited_per_reason_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    running = RunningReceiver(clock=clock)
    try:
        caplog.set_level(logging.WARNING, logger="stadtnetz.traps")
        for _ in range(3):
            trap(running, "", f"{TRAPS}.1", source=STRANGER)
        trap(running, "", f"{TRAPS}.1", community="nope")
        clock.advance(61)
        trap(running, "", f"{TRAPS}.1", source=STRANGER)
        messages = [r.getMessage() for r in caplog.records if r.name == "stadtnetz.traps"]
        assert len(messages) == 3, messages
        assert "dropped 1 datagram(s) as unknown_source" in messages[0]
        assert "bad_community" in messages[1]
        assert "dropped 3 datagram(s) as unknown_source" in messages[2]  # the two held back and this one
    finally:
        running.close()


def test_requests_and_responses_are_not_traps(receiver: RunningReceiver) -> None:
    result = net_snmp("snmpget", "2c", "public", SWITCH, receiver.target, "1.3.6.1.2.1.1.5.0", options="-t 0.2 -r 0")
    assert result.returncode != 0  # nothing answers a GET on the trap port
    response = Message(Version.V2C, b"public", Pdu(PduType.RESPONSE, 5, 0, 0, [((1, 3, 6, 1, 2, 1, 1, 5, 0), b"x")]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((SWITCH, 0))
        sock.sendto(encode_message(response), (receiver.host, receiver.port))
    receiver.wait_total(2)
    assert receiver.dropped(DropReason.NOT_A_TRAP) == 2
    assert receiver.events.empty()


def test_what_the_codec_rejects_is_malformed(receiver: RunningReceiver) -> None:
    v2_trap = encode_message(
        Message(
            Version.V2C,
            b"public",
            Pdu(
                PduType.TRAP_V2,
                1,
                0,
                0,
                [
                    ((1, 3, 6, 1, 2, 1, 1, 3, 0), TimeTicks(1)),
                    ((1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0), (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)),
                ],
            ),
        )
    )
    assert v2_trap[2:5] == b"\x02\x01\x01"
    v1_with_v2_pdu = v2_trap[:4] + b"\x00" + v2_trap[5:]
    with pytest.raises(SnmpDecodeError):
        decode_message(v1_with_v2_pdu)
    # a v2 trap without snmpTrapOID.0 decodes, but is no trap by RFC 3416 4.2.6
    without_trap_oid = encode_message(
        Message(Version.V2C, b"public", Pdu(PduType.TRAP_V2, 2, 0, 0, [((1, 3, 6, 1, 2, 1, 1, 3, 0), TimeTicks(1))]))
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((SWITCH, 0))
        for datagram in (v1_with_v2_pdu, without_trap_oid, b"", b"\x30\x00"):
            sock.sendto(datagram, (receiver.host, receiver.port))
    receiver.wait_total(4)
    assert receiver.dropped(DropReason.MALFORMED) == 4
    assert receiver.events.empty()
    net_snmp("snmptrap", "2c", "public", SWITCH, receiver.target, "", f"{TRAPS}.1")  # still works
    assert receiver.event().kind is TrapKind.COLD_START


def test_a_failing_callback_is_counted_and_does_not_stop_the_receiver(caplog: pytest.LogCaptureFixture) -> None:
    seen: queue.Queue[TrapEvent] = queue.Queue()

    def on_trap(event: TrapEvent) -> None:
        seen.put(event)
        if event.kind is TrapKind.LINK_DOWN:
            raise RuntimeError("state update failed")

    running = RunningReceiver(on_trap=on_trap)
    try:
        trap(running, "", f"{TRAPS}.3", f"{IF_INDEX}.2", "i", "2")
        trap(running, "", f"{TRAPS}.3", f"{IF_INDEX}.2", "i", "2")
        trap(running, "", f"{TRAPS}.4", f"{IF_INDEX}.2", "i", "2")
        assert [seen.get(timeout=3).kind for _ in range(3)] == [
            TrapKind.LINK_DOWN,
            TrapKind.LINK_DOWN,
            TrapKind.LINK_UP,
        ]
        assert running.stats.callback_errors == 2
        assert running.stats.received[TrapKind.LINK_DOWN] == 2
        failures = [r for r in caplog.records if r.name == "stadtnetz.traps" and r.exc_info]
        assert len(failures) == 1 and "state update failed" in str(failures[0].exc_info[1])
    finally:
        running.close()


def test_our_own_bug_while_handling_a_valid_trap_is_a_handler_error_not_malformed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a communities source that returns a number instead of a list: a bug on our side, after the codec accepted it
    running = RunningReceiver(communities=lambda device: 7 if device.id == "sw-rathaus" else COMMUNITIES[device.id])
    try:
        with caplog.at_level(logging.WARNING, logger="stadtnetz.traps"):
            for _ in range(3):
                trap(running, "", f"{TRAPS}.3", f"{IF_INDEX}.2", "i", "2")
            trap(running, "", f"{TRAPS}.3", f"{IF_INDEX}.2", "i", "2", community="wlan-ro", source=ACCESS_POINT)
        assert running.dropped(DropReason.HANDLER_ERROR) == 3
        assert running.dropped(DropReason.MALFORMED) == 0
        assert running.event().device_id == "ap-marktplatz"  # the receiver goes on serving the others
        warnings = [r for r in caplog.records if r.name == "stadtnetz.traps" and r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]  # rate-limited: one line for three
        assert "could not be handled" in warnings[0].getMessage() and warnings[0].exc_info is not None
    finally:
        running.close()


# --------------------------------------------------------------------------- floods


def _garbage(rng: random.Random, count: int) -> list[bytes]:
    """A mix of datagrams the codec must reject: random bytes, truncated and lying real traps, huge ones."""
    real = encode_message(
        Message(
            Version.V2C,
            b"public",
            Pdu(
                PduType.TRAP_V2,
                7,
                0,
                0,
                [
                    ((1, 3, 6, 1, 2, 1, 1, 3, 0), TimeTicks(99)),
                    ((1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0), (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)),
                    ((1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 7), 7),
                ],
            ),
        )
    )
    out: list[bytes] = []
    while len(out) < count:
        pick = rng.random()
        if pick < 0.35:
            datagram = rng.randbytes(rng.randint(0, 300))
        elif pick < 0.6:
            datagram = real[: rng.randrange(len(real))]  # truncated
        elif pick < 0.75:  # a length field that claims up to 4 GB
            at = rng.choice([1, 4, 13])
            datagram = real[:at] + b"\x84" + rng.randbytes(4) + real[at + 1 :]
        elif pick < 0.85:
            datagram = real + rng.randbytes(rng.randint(1, 40))  # trailing octets
        elif pick < 0.95:  # nested SEQUENCEs, definite or indefinite
            depth = rng.randint(1, 2000)
            datagram = b"\x30\x80" * depth if rng.random() < 0.5 else b"\x30\x84\xff\xff\xff\xff" * depth
        elif pick < 0.99:  # one flipped octet
            flipped = bytearray(real)
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            datagram = bytes(flipped)
        else:
            datagram = b"\x30\x82\xff\xff" + rng.randbytes(rng.randint(20_000, 60_000))  # a huge datagram
        try:
            decode_message(datagram)
        except SnmpDecodeError:
            out.append(datagram)  # only what really is malformed: the count must be exact
    return out


def test_flood_of_garbage_is_counted_and_memory_stays_bounded(receiver: RunningReceiver) -> None:
    rng = random.Random(1162)
    warmup, flood = _garbage(rng, 1_000), _garbage(rng, 10_000)
    assert sum(len(d) > 20_000 for d in flood) > 20
    address = (receiver.host, receiver.port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((STRANGER, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 * 1024 * 1024)

        def burst(datagrams: list[bytes], handled_before: int) -> None:
            # as fast as the socket takes them, in bursts the 64 MiB receive buffer holds whole
            for start in range(0, len(datagrams), 2_500):
                for datagram in datagrams[start : start + 2_500]:
                    sock.sendto(datagram, address)
                expected = handled_before + min(start + 2_500, len(datagrams))
                try:
                    receiver.wait_total(expected, timeout=10)
                except TimeoutError as exc:
                    raise AssertionError(f"{exc}; kernel dropped {udp_drops(receiver.port)}") from None

        burst(warmup, 0)
        rss_before = rss_bytes()
        burst(flood, len(warmup))
        rss_after = rss_bytes()
    assert udp_drops(receiver.port) == 0
    assert receiver.dropped(DropReason.MALFORMED) == 11_000
    assert receiver.total() == 11_000
    assert rss_after - rss_before < 4 * 1024 * 1024, f"RSS grew by {(rss_after - rss_before) / 1e6:.1f} MB"
    trap(receiver, "", f"{TRAPS}.3", f"{IF_INDEX}.4", "i", "4")  # still receiving
    assert (receiver.event().kind, receiver.stats.received[TrapKind.LINK_DOWN]) == (TrapKind.LINK_DOWN, 1)


# --------------------------------------------------------------------------- metrics and binding


def test_metrics_pass_promtool_with_every_label_value(receiver: RunningReceiver) -> None:
    registry = CollectorRegistry()
    registry.register(TrapStatsCollector(receiver.receiver.stats))
    trap(receiver, "", f"{TRAPS}.4", f"{IF_INDEX}.1", "i", "1")
    trap(receiver, "", f"{TRAPS}.4", source=STRANGER)
    body = generate_latest(registry)
    lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert lint.returncode == 0 and not lint.stdout and not lint.stderr, lint.stdout + lint.stderr
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    assert samples == {
        **{("stadtnetz_traps_received_total", (("trap", kind.value),)): 0.0 for kind in TrapKind},
        ("stadtnetz_traps_received_total", (("trap", "link_up"),)): 1.0,
        **{("stadtnetz_trap_packets_dropped_total", (("reason", reason.value),)): 0.0 for reason in DropReason},
        ("stadtnetz_trap_packets_dropped_total", (("reason", "unknown_source"),)): 1.0,
        ("stadtnetz_trap_callback_errors_total", ()): 0.0,
    }


def test_binds_ipv6_literals_and_picks_a_port() -> None:
    async def bind() -> tuple[tuple[str, int], tuple[str, int]]:
        first = TrapReceiver(DEVICES, lambda device: COMMUNITIES[device.id], lambda event: None)
        second = TrapReceiver(DEVICES, lambda device: COMMUNITIES[device.id], lambda event: None)
        try:
            bound = await first.start("::1", 0)
            with pytest.raises(OSError):
                await second.start("::1", bound[1])  # taken
            with pytest.raises(RuntimeError):
                await first.start("::1", 0)  # one socket per receiver
            with pytest.raises(ValueError):
                await second.start("localhost", 0)
            return bound, await second.start(LISTEN_HOST, 0)
        finally:
            first.close()
            first.close()
            second.close()

    (host6, port6), (host4, port4) = asyncio.run(bind())
    assert host6 == "::1" and port6 > 0
    assert host4 == LISTEN_HOST and port4 > 0


# --- SNMPv3 (USM), through pysnmp on the same socket ------------------------------------------------------------------

SENDER_ENGINE = "800000020109840301"  # the switch's snmpEngineID, as its traps carry it
V3_USERS = (
    V3User(
        "noc",
        "sha",
        Secret("authpass-4711", "test"),
        "aes",
        Secret("privpass-4711", "test"),
        bytes.fromhex(SENDER_ENGINE),
    ),
    V3User("watch", "sha256", Secret("authonly-0815", "test"), "none", None, bytes.fromhex(SENDER_ENGINE)),
)


def v3(
    tool: str, target: str, *args: str, user: str = "noc", auth: str = "authpass-4711"
) -> subprocess.CompletedProcess:
    security = ["-u", user, "-l", "authPriv", "-a", "SHA", "-A", auth, "-x", "AES", "-X", "privpass-4711"]
    if user == "watch":
        security = ["-u", user, "-l", "authNoPriv", "-a", "SHA-256", "-A", auth]
    engine = ["-e", f"0x{SENDER_ENGINE}"] if tool == "snmptrap" else []
    return subprocess.run(
        [tool, "-v3", *engine, *security, "-t", "2", "-r", "0", f"--clientaddr={SWITCH}", target, "", *args],
        env=TOOL_ENV,
        capture_output=True,
        text=True,
        timeout=15,
    )


@pytest.fixture
def v3_receiver() -> Iterator[RunningReceiver]:
    receiver = RunningReceiver(v3_users=V3_USERS)
    try:
        yield receiver
    finally:
        receiver.close()


def test_v3_traps_and_informs_are_authenticated_decrypted_and_classified(v3_receiver: RunningReceiver) -> None:
    sent = v3("snmptrap", v3_receiver.target, f"{TRAPS}.3", f"{IF_INDEX}.7", "i", "7", f"{IF_OPER}.7", "i", "2")
    assert sent.returncode == 0, sent.stderr
    event = v3_receiver.event()
    assert (event.device_id, event.kind, event.if_index, event.oper_status, event.version) == (
        "sw-rathaus",
        TrapKind.LINK_DOWN,
        7,
        2,
        3,
    )
    # authNoPriv with SHA-256, another user
    assert (
        v3(
            "snmptrap", v3_receiver.target, f"{TRAPS}.4", f"{IF_INDEX}.7", "i", "7", user="watch", auth="authonly-0815"
        ).returncode
        == 0
    )
    assert v3_receiver.event().kind is TrapKind.LINK_UP
    # an inform: engine-ID discovery (a Report from us), then the inform and our Response, all on one socket
    started = time.monotonic()
    informed = v3("snmpinform", v3_receiver.target, f"{TRAPS}.1")
    assert informed.returncode == 0, informed.stderr
    assert time.monotonic() - started < 1.5
    assert v3_receiver.event().kind is TrapKind.COLD_START
    assert v3_receiver.dropped(DropReason.BAD_CREDENTIALS) == 0


def test_v3_with_a_wrong_key_or_unknown_user_is_refused_and_counted(v3_receiver: RunningReceiver) -> None:
    assert v3("snmptrap", v3_receiver.target, f"{TRAPS}.3", auth="wrong-pass-1").returncode == 0
    assert v3("snmptrap", v3_receiver.target, f"{TRAPS}.3", user="mallory").returncode == 0
    wait_until(lambda: v3_receiver.dropped(DropReason.BAD_CREDENTIALS) == 2, 5, "two v3 traps refused")
    assert v3_receiver.events.empty()
    # from an address where no device is: refused before any cryptography
    subprocess.run(
        ["snmptrap", "-v3", "-e", f"0x{SENDER_ENGINE}", "-u", "noc", "-l", "authPriv", "-a", "SHA", "-A",
         "authpass-4711", "-x", "AES", "-X", "privpass-4711", f"--clientaddr={STRANGER}", v3_receiver.target, "",
         f"{TRAPS}.3"],
        env=TOOL_ENV, check=True, timeout=15, capture_output=True,
    )  # fmt: skip
    wait_until(lambda: v3_receiver.dropped(DropReason.UNKNOWN_SOURCE) == 1, 5, "the stranger's v3 trap dropped")


def test_v3_without_configured_users_is_malformed(receiver: RunningReceiver) -> None:
    assert v3("snmptrap", receiver.target, f"{TRAPS}.3").returncode == 0
    wait_until(lambda: receiver.dropped(DropReason.MALFORMED) == 1, 5, "the v3 trap counted as malformed")
