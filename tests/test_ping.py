"""The ping collector's wire part against the real kernel.

On the host's loopback the kernel answers every echo to 127.0.0.0/8 and ::1, so every probe must come back.
Raw sockets are tested here; datagram ("ping") sockets are off on this machine, so they, hosts that never
answer and missing permissions are tested in network namespaces the tests create
(:mod:`tests.support.netns_ping`). A raw socket of the test's own (:class:`EchoCapture`) watches the echo
requests crossing loopback, to check what the pinger puts on the wire and when, independently of the pinger.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import TypeVar

import pytest
from scapy.layers.inet import ICMP
from scapy.packet import Raw

from collectors.ping import Pinger, PingError, PingerStats, PingStats
from tests.support.netns_ping import run_scenario

NEEDS_ROOT = pytest.mark.needs_root("raw ICMP sockets and network namespaces (unprivileged ICMP is off on Debian)")

T = TypeVar("T")
V4, V6 = socket.AF_INET, socket.AF_INET6
# Loopback answers in ~0.1 ms, but an RTT includes the event loop's delay in reading the reply: on a busy 2-core
# machine single RTTs of a big burst reached 80 ms. Every RTT must be below RTT_LIMIT, their median below RTT_TYPICAL.
RTT_LIMIT = 0.25
RTT_TYPICAL = 0.01


def run(scenario: Awaitable[T], limit: float = 15.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario, limit)

    return asyncio.run(bounded())


def loopback_hosts(count: int, second: int) -> list[str]:
    """``count`` distinct addresses 127.<second>.y.z (z from 1), kept apart from other tests by ``second``."""
    return [f"127.{second}.{i // 250}.{i % 250 + 1}" for i in range(count)]


def assert_all_answered(stats: PingStats, count: int) -> None:
    assert (stats.sent, stats.received, stats.loss) == (count, count, 0.0)
    assert len(stats.rtts) == count
    assert all(0 < rtt < RTT_LIMIT for rtt in stats.rtts), stats.rtts
    assert statistics.median(stats.rtts) < RTT_TYPICAL, stats.rtts
    assert stats.rtt_min == min(stats.rtts) <= stats.rtt_avg <= stats.rtt_max == max(stats.rtts)


SO_TIMESTAMPNS = 35  # <asm-generic/socket.h>; the socket module does not export it (nor SCM_TIMESTAMPNS, the same)


@dataclass(frozen=True, slots=True)
class Captured:
    at: float  # kernel receive time (CLOCK_REALTIME, s) of the request on loopback: compare differences only
    destination: str
    icmp: bytes  # ICMP header + payload, as on the wire

    @property
    def ident(self) -> int:
        return struct.unpack_from("!H", self.icmp, 4)[0]

    @property
    def seq(self) -> int:
        return struct.unpack_from("!H", self.icmp, 6)[0]


class EchoCapture:
    """The test's own raw IPv4 ICMP socket, without filter: records every echo request seen on loopback,
    with the kernel's receive timestamp (so a busy event loop does not blur the times)."""

    def __init__(self) -> None:
        self.sock = socket.socket(V4, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.requests: list[Captured] = []

    async def __aenter__(self) -> EchoCapture:
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.sleep(0.01)  # let the last requests be read
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()

    def _read(self) -> None:
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(65535, 64)
            except BlockingIOError:
                return
            stamps = [d for level, kind, d in ancillary if (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMPNS)]
            seconds, nanoseconds = struct.unpack("@qq", stamps[0])
            ihl = (data[0] & 0x0F) * 4
            if data[ihl] == 8:
                at = seconds + nanoseconds * 1e-9
                self.requests.append(Captured(at, socket.inet_ntoa(data[16:20]), data[ihl:]))

    def to(self, destination: str, ident: int | None = None) -> list[Captured]:
        return [c for c in self.requests if c.destination == destination and ident in (None, c.ident)]


def echo_reply(ident: int, seq: int, payload: bytes, checksum: int | None = None) -> bytes:
    """An ICMP echo reply (type 0), with a correct checksum unless one is given (scapy computes it)."""
    packet = bytes(ICMP(type=0, code=0, id=ident, seq=seq) / Raw(payload))
    if checksum is not None:
        packet = packet[:2] + struct.pack("!H", checksum) + packet[4:]
    return packet


def dgram_permitted() -> bool:
    with open("/proc/sys/net/ipv4/ping_group_range") as handle:
        low, high = map(int, handle.read().split())
    return any(low <= gid <= high for gid in {os.getegid(), *os.getgroups()})


# --------------------------------------------------------------------------- statistics


def test_ping_stats_loss_rtts_and_jitter() -> None:
    stats = PingStats(sent=5, received=4, rtts=[0.001, 0.003, 0.002, 0.006])
    assert stats.loss == pytest.approx(0.2)
    assert (stats.rtt_min, stats.rtt_max) == (0.001, 0.006)
    assert stats.rtt_avg == pytest.approx(0.003)
    assert stats.jitter == pytest.approx((0.002 + 0.001 + 0.004) / 3)  # |3-1|, |2-3|, |6-2| ms
    one = PingStats(sent=3, received=1, rtts=[0.004])
    assert one.loss == pytest.approx(2 / 3) and one.rtt_avg == 0.004 and math.isnan(one.jitter)
    none = PingStats(sent=2, received=0, rtts=[])
    assert none.loss == 1.0
    assert all(math.isnan(v) for v in (none.rtt_min, none.rtt_avg, none.rtt_max, none.jitter))


# --------------------------------------------------------------------------- loopback, raw sockets


@NEEDS_ROOT
@pytest.mark.parametrize("payload_size", [0, 5, 16, 37])
def test_echo_request_on_the_wire_is_what_scapy_builds(payload_size: int) -> None:
    async def scenario() -> tuple[PingStats, list[Captured]]:
        async with EchoCapture() as capture, Pinger(socket_kind="raw", payload_size=payload_size) as pinger:
            stats = await pinger.ping("127.31.0.1", count=3)
        return stats, capture.to("127.31.0.1")

    stats, requests = run(scenario())
    assert_all_answered(stats, 3)
    ours = [c for c in requests if len(c.icmp) == 8 + payload_size]
    assert len(ours) >= 3
    ours = [c for c in ours if c.ident == ours[-1].ident][-3:]
    for captured in ours:
        # scapy computes the checksum itself: the bytes must be identical, checksum included
        payload = captured.icmp[8:]
        assert captured.icmp == bytes(ICMP(type=8, code=0, id=captured.ident, seq=captured.seq) / Raw(payload))
    seqs = [c.seq for c in ours]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(3)]  # one shared counter, no gaps for one host
    assert len({c.icmp[8 : 8 + min(payload_size, 8)] for c in ours}) == 1  # the cookie is the pinger's


@NEEDS_ROOT
def test_auto_prefers_a_datagram_socket_and_falls_back_to_raw() -> None:
    async def scenario() -> dict[int, str]:
        async with Pinger() as pinger:
            assert_all_answered(await pinger.ping("127.0.0.1", count=2), 2)
            return dict(pinger.kind)

    assert run(scenario()) == {V4: "dgram" if dgram_permitted() else "raw"}


@NEEDS_ROOT
def test_loopback_v4_and_v6_every_echo_answered() -> None:
    async def scenario() -> tuple[PingStats, PingStats, PingerStats, dict[int, str]]:
        async with Pinger(socket_kind="raw") as pinger:
            v4 = await pinger.ping("127.0.0.1", count=6)
            v6 = await pinger.ping("::1", count=6)
            return v4, v6, pinger.stats, pinger.kind

    v4, v6, stats, kinds = run(scenario())
    for result in (v4, v6):
        assert_all_answered(result, 6)
        rtts = result.rtts
        assert result.jitter == pytest.approx(sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / 5)
    assert kinds == {V4: "raw", V6: "raw"}
    assert (stats.sent, stats.received, stats.timeouts, stats.send_errors) == (12, 12, 0, 0)


@NEEDS_ROOT
def test_sweep_of_2000_loopback_hosts_returns_every_host() -> None:
    hosts = [*loopback_hosts(2000, 32), "::1"]
    hosts_with_duplicates = [*hosts, hosts[0], hosts[-1]]

    async def scenario() -> tuple[dict[str, PingStats], PingerStats, float]:
        async with Pinger(socket_kind="raw", max_rate=math.inf) as pinger:
            start = time.monotonic()
            results = await pinger.sweep(hosts_with_duplicates, timeout=2.0)
            return results, pinger.stats, time.monotonic() - start

    results, stats, elapsed = run(scenario())
    assert list(results) == hosts  # every host once, in the order given
    for host in hosts:
        assert (results[host].sent, results[host].received, results[host].loss) == (1, 1, 0.0)
        assert 0 < results[host].rtt_min < RTT_LIMIT
    assert statistics.median(r.rtts[0] for r in results.values()) < RTT_TYPICAL
    assert (stats.sent, stats.received, stats.timeouts, stats.send_errors) == (2001, 2001, 0, 0)
    assert elapsed < 1.5  # all answered: the sweep ends with the last reply, not at the timeout


@NEEDS_ROOT
def test_count_and_timeout_apply_per_host_in_a_sweep() -> None:
    async def scenario() -> dict[str, PingStats]:
        async with Pinger(socket_kind="raw", max_rate=math.inf) as pinger:
            return await pinger.sweep(loopback_hosts(50, 33), count=4, timeout=0.5)

    results = run(scenario())
    assert len(results) == 50
    for stats in results.values():
        assert_all_answered(stats, 4)


# --------------------------------------------------------------------------- timing: spread and rate


@NEEDS_ROOT
def test_spread_spaces_probes_evenly() -> None:
    async def scenario() -> tuple[PingStats, dict[str, PingStats], float, list[Captured]]:
        async with EchoCapture() as capture, Pinger(socket_kind="raw", max_rate=math.inf) as pinger:
            start = time.monotonic()
            single = await pinger.ping("127.34.0.1", count=5, spread=0.5)
            elapsed = time.monotonic() - start
            sweep = await pinger.sweep(["127.34.1.1", "127.34.1.2", "127.34.1.3", "127.34.1.4"], count=2, spread=0.4)
        return single, sweep, elapsed, capture.requests

    single, sweep, elapsed, requests = run(scenario())
    # Times are the kernel's, as the requests crossed loopback. On a busy machine one probe can leave late
    # (the loop got the CPU late: 57 ms seen under two busy loops), so gaps are judged by their median and
    # by never bunching up; the schedule is absolute, so a late probe does not shift the ones after it.
    assert_all_answered(single, 5)
    assert 0.38 <= elapsed < 0.6  # the last probe leaves at 4/5 of the spread
    times = [c.at for c in requests if c.destination == "127.34.0.1"]
    assert len(times) == 5
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.median(gaps) == pytest.approx(0.1, abs=0.02), gaps  # 0.5 s / 5 probes
    assert min(gaps) > 0.03 and 0.37 < times[-1] - times[0] < 0.5, gaps
    # a sweep staggers hosts inside each probe's slot: host j's probe i at (i + j/4) * 0.4 / 2 seconds
    for stats in sweep.values():
        assert_all_answered(stats, 2)
    by_host = [[c.at for c in requests if c.destination == f"127.34.1.{j + 1}"] for j in range(4)]
    assert all(len(sent) == 2 for sent in by_host), by_host
    firsts = [sent[0] for sent in by_host]
    stagger = [b - a for a, b in itertools.pairwise(firsts)]
    assert all(gap > 0.01 for gap in stagger), stagger  # host order, never all at once
    assert statistics.median(stagger) == pytest.approx(0.05, abs=0.02), stagger
    repeat = [second - first for first, second in by_host]
    assert statistics.median(repeat) == pytest.approx(0.2, abs=0.03), repeat  # each host's probes 0.4 / 2 apart
    assert 0.3 < by_host[-1][1] - firsts[0] < 0.45  # the whole round: (1 + 3/4) * 0.2 s


@NEEDS_ROOT
def test_rate_limit_holds_for_a_sweep() -> None:
    hosts = loopback_hosts(400, 35)

    async def scenario() -> tuple[dict[str, PingStats], float, list[Captured]]:
        async with EchoCapture() as capture, Pinger(socket_kind="raw", max_rate=200) as pinger:
            start = time.monotonic()
            results = await pinger.sweep(hosts, timeout=1.0)
            return results, time.monotonic() - start, capture.requests

    results, elapsed, requests = run(scenario())
    assert all(stats.received == 1 for stats in results.values())
    assert 1.9 <= elapsed < 2.6  # 400 probes at 200/s, a burst of 4
    times = sorted(c.at for c in requests if c.destination in set(hosts))
    assert len(times) == 400
    # a token bucket of 200/s holding 20 ms worth (4): in any window of w seconds at most 4 + 200 * w probes
    # (plus one for the window's edges); over 0.5 s that is the rate, over 50 ms it is the burst
    for width in (0.5, 0.05):
        most = max(bisect.bisect_left(times, start + width) - i for i, start in enumerate(times))
        assert most <= 4 + 200 * width + 1, (width, most)


# --------------------------------------------------------------------------- what else a raw socket sees


@NEEDS_ROOT
def test_without_the_kernel_filter_our_own_requests_are_seen_and_ignored() -> None:
    async def scenario() -> tuple[PingStats, PingerStats]:
        async with Pinger(socket_kind="raw", icmp_filter=False) as pinger:
            stats = await pinger.ping("127.36.0.1", count=5)
            stats6 = await pinger.ping("::1", count=5)
            assert_all_answered(stats6, 5)
            return stats, pinger.stats

    stats, counters = run(scenario())
    assert_all_answered(stats, 5)
    assert counters.unmatched >= 10  # our 10 echo requests crossed loopback and reached our own raw sockets
    assert (counters.received, counters.malformed) == (10, 0)


@NEEDS_ROOT
def test_other_processes_pings_are_counted_and_ignored() -> None:
    hosts = loopback_hosts(20, 37)
    fping = subprocess.Popen(
        ["fping", "-q", "-C", "40", "-p", "10", "-i", "1", *hosts],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    async def scenario() -> tuple[dict[str, PingStats], PingerStats]:
        async with Pinger(socket_kind="raw", max_rate=math.inf) as pinger:
            await asyncio.sleep(0.05)  # fping is under way
            results = await pinger.sweep(hosts, count=10, spread=0.3)
            return results, pinger.stats

    try:
        results, counters = run(scenario())
    finally:
        fping.wait(30)
    assert fping.returncode == 0  # fping got all its answers too
    for stats in results.values():
        assert_all_answered(stats, 10)
    assert (counters.sent, counters.received) == (200, 200)  # not one of fping's replies was taken for ours
    assert counters.unmatched > 50  # fping's replies to the same hosts reached our raw socket


@NEEDS_ROOT
def test_forged_and_broken_replies_are_counted_and_never_matched() -> None:
    async def scenario() -> tuple[PingerStats, PingerStats, PingStats]:
        async with EchoCapture() as capture, Pinger(socket_kind="raw") as pinger:
            assert_all_answered(await pinger.ping("127.38.0.1"), 1)
            await pinger.ping("::1")
            request = capture.to("127.38.0.1")[-1]  # what an observer on the host learns about us
            ident, payload = request.ident, request.icmp[8:]
            before = replace(pinger.stats)
            injector = socket.socket(V4, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            injector6 = socket.socket(V6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            with injector, injector6:
                good = echo_reply(ident, request.seq + 1000, payload)
                injector.sendto(good, ("127.38.0.1", 0))  # well-formed, but no such probe in flight: unmatched
                injector.sendto(echo_reply(ident ^ 1, request.seq, payload), ("127.38.0.1", 0))  # not our id
                injector.sendto(echo_reply(ident, request.seq, payload[:-1] + b"?"), ("127.38.0.1", 0))  # not ours
                bad = (struct.unpack_from("!H", good, 2)[0] + 1) & 0xFFFF
                injector.sendto(echo_reply(ident, request.seq + 1000, payload, bad), ("127.38.0.1", 0))  # malformed
                injector.sendto(b"\x00\x00\x12\x34garbage!", ("127.38.0.1", 0))  # type 0, wrong checksum: malformed
                injector6.sendto(b"\x81\x00\x00\x00", ("::1", 0))  # a 4-byte ICMPv6 "echo reply": malformed
            # the same socket queues the forgeries before the next real reply: one more ping drains them
            after_ping = await pinger.ping("127.38.0.1", count=2)
            await pinger.ping("::1")
            return before, pinger.stats, after_ping

    before, after, stats = run(scenario())
    assert_all_answered(stats, 2)
    assert after.malformed - before.malformed == 3
    assert after.unmatched - before.unmatched >= 3  # other processes' pings may add to it, never subtract
    assert after.received - before.received == 3  # exactly the real replies


# --------------------------------------------------------------------------- sequence numbers, lifecycle


@NEEDS_ROOT
def test_sequence_wraps_and_skips_pairs_still_in_flight() -> None:
    async def scenario() -> tuple[list[PingStats], list[int], PingStats, list[int], PingStats, list[int]]:
        async with EchoCapture() as capture, Pinger(socket_kind="raw") as pinger:
            pinger.open_socket(V4)
            channel = pinger._channels[V4]
            channel.seq = 0xFFFE
            singles = [await pinger.ping("127.39.0.1") for _ in range(4)]
            single_seqs = [c.seq for c in capture.to("127.39.0.1", channel.ident)]
            channel.seq = 0xFFFE
            burst = await pinger.ping("127.39.0.3", count=4)  # all four in flight at once
            burst_seqs = [c.seq for c in capture.to("127.39.0.3", channel.ident)]
            # pretend (127.39.0.2, 7) and (127.39.0.2, 8) are still in flight: the next probe must take 9
            target = pinger._target("127.39.0.2")
            blocked = [channel.key(target, 7), channel.key(target, 8)]
            for key in blocked:
                channel.outstanding[key] = ()
            channel.seq = 7
            skipped = await pinger.ping("127.39.0.2")
            for key in blocked:
                del channel.outstanding[key]
            skipped_seqs = [c.seq for c in capture.to("127.39.0.2", channel.ident)]
            return singles, single_seqs, burst, burst_seqs, skipped, skipped_seqs

    singles, single_seqs, burst, burst_seqs, skipped, skipped_seqs = run(scenario())
    for stats in singles:
        assert_all_answered(stats, 1)
    assert single_seqs == [0xFFFE, 0xFFFF, 0, 1]
    assert_all_answered(burst, 4)
    assert burst_seqs == [0xFFFE, 0xFFFF, 0, 1]
    assert_all_answered(skipped, 1)
    assert skipped_seqs == [9]


@NEEDS_ROOT
def test_cancelled_and_closed_rounds_leave_nothing_behind() -> None:
    async def scenario() -> None:
        pinger = Pinger(socket_kind="raw", max_rate=50)
        async with pinger:
            task = asyncio.create_task(pinger.sweep(loopback_hosts(200, 40)))  # 4 s at 50/s
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert pinger._channels[V4].outstanding == {}
            sent = pinger.stats.sent
            assert 5 <= sent <= 20
            await asyncio.sleep(0.2)
            assert pinger.stats.sent == sent  # nothing more goes out for a cancelled round
            assert_all_answered(await pinger.ping("127.40.9.1"), 1)  # the pinger still works
            running = asyncio.create_task(pinger.ping("127.40.9.2", count=20, spread=2.0))
            await asyncio.sleep(0.1)
        with pytest.raises(PingError, match="closed"):
            await running
        with pytest.raises(PingError, match="closed"):
            await pinger.ping("127.0.0.1")

    run(scenario())


@pytest.mark.parametrize("host", ["localhost", "127.1", "127.0.0.256", "::g", "", "10.0.0.1/8"])
def test_hosts_must_be_ip_literals(host: str) -> None:
    async def scenario() -> None:
        async with Pinger(socket_kind="raw") as pinger:
            with pytest.raises(ValueError, match="IP address literal"):
                await pinger.ping(host)

    run(scenario())


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="socket_kind"):
        Pinger(socket_kind="icmp")
    with pytest.raises(ValueError, match="max_rate"):
        Pinger(max_rate=0)
    with pytest.raises(ValueError, match="payload_size"):
        Pinger(payload_size=-1)

    async def scenario() -> None:
        async with Pinger(socket_kind="raw") as pinger:
            for kwargs in ({"count": 0}, {"timeout": 0}, {"spread": -1.0}, {"timeout": math.inf}):
                with pytest.raises(ValueError):
                    await pinger.ping("127.0.0.1", **kwargs)
            assert await pinger.sweep([]) == {}

    run(scenario())


# --------------------------------------------------------------------------- in network namespaces


@NEEDS_ROOT
def test_datagram_sockets_in_a_namespace_that_permits_them() -> None:
    result = run_scenario("dgram")
    assert result["auto_kind"] == {"v4": "dgram"}
    assert result["kind"] == {"v4": "dgram", "v6": "dgram"}
    for family in ("v4", "v6"):
        stats = result[family]
        assert (stats["sent"], stats["received"], stats["loss"]) == (4, 4, 0.0)
        assert all(0 < rtt < RTT_LIMIT for rtt in stats["rtts"])
        rtts = stats["rtts"]
        assert stats["jitter"] == pytest.approx(sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / 3)
    assert (result["sweep_hosts"], result["sweep_received"]) == (300, 300)
    assert result["fping_exit"] == 0
    assert result["busy_received"] == 100
    assert result["busy_unmatched"] == 0  # the kernel hands a datagram socket only replies with its identifier
    counters = result["stats"]
    assert counters["sent"] == counters["received"] == 408
    assert counters["unmatched"] == counters["malformed"] == counters["timeouts"] == 0


@NEEDS_ROOT
@pytest.mark.parametrize("kind", ["raw", "dgram"])
def test_hosts_that_never_answer_time_out(kind: str) -> None:
    result = run_scenario("silent", kind)
    assert result["kind"] == {"v4": kind, "v6": kind}
    # one round, answering and silent hosts interleaved: every answer lands on the host that gave it
    mixed = result["mixed"]
    for host in ("127.0.0.1", "127.0.0.2", "::1"):
        assert (mixed[host]["sent"], mixed[host]["received"]) == (3, 3)
        assert all(0 < rtt < RTT_LIMIT for rtt in mixed[host]["rtts"])
    assert (mixed["10.99.0.2"]["received"], mixed["10.99.0.2"]["loss"]) == (0, 1.0)
    # cancelling a round with 20 probes in flight forgets them; their timeouts never fire
    assert result["cancelled"] is True
    assert (result["in_flight_before_cancel"], result["in_flight_after_cancel"]) == (20, 0)
    assert result["timeouts_after_cancel"] == 0
    # the kernel ignoring every echo: loopback v4 and v6, and the address nobody holds
    for name in ("lo4", "lo6", "veth"):
        stats = result[name]
        assert (stats["sent"], stats["received"], stats["loss"], stats["rtts"]) == (2, 0, 1.0, [])
        assert all(math.isnan(stats[key]) for key in ("rtt_min", "rtt_avg", "rtt_max", "jitter"))
        assert 0.29 <= stats["elapsed"] < 0.6  # each probe waits its 0.3 s, both at once
    assert set(result["sweep"]) == {"127.0.0.1", "127.0.0.2", "::1", "10.99.0.2"}
    assert all(stats["loss"] == 1.0 for stats in result["sweep"].values())
    assert 0.29 <= result["sweep_elapsed"] < 0.6
    counters = result["stats"]
    assert (counters["sent"], counters["timeouts"], counters["received"], counters["send_errors"]) == (10, 10, 0, 0)
    # nothing else in this namespace pings; a raw socket's own echo requests are kept out by the kernel filter
    assert result["unmatched_total"] == 0


# what reaches the socket at all: a datagram socket gets only replies carrying its identifier; the raw socket's
# kernel filter drops echo requests; a raw IPv4 socket never gets ICMP shorter than 8 bytes, ICMPv6 does
DELIVERED = {
    ("raw", "filter"): {"wrong_ident": 1, "echo_request": 0, "short_v4": 0, "short_v6": 1},
    ("raw", "nofilter"): {"wrong_ident": 1, "echo_request": 1, "short_v4": 0, "short_v6": 1},
    ("dgram", "filter"): {"wrong_ident": 0, "echo_request": 0, "short_v4": 0, "short_v6": 0},
}


@NEEDS_ROOT
@pytest.mark.parametrize(("kind", "icmp_filter"), list(DELIVERED))
def test_forged_replies_never_answer_a_probe(kind: str, icmp_filter: str) -> None:
    result = run_scenario("forgery", kind, icmp_filter)
    assert result["kind"] == {"v4": kind, "v6": kind}
    delivered = DELIVERED[kind, icmp_filter]
    for family in ("v4", "v6"):
        outcome = result[family]
        for forgery in ("wrong_source", "wrong_ident", "wrong_seq", "wrong_payload", "echo_request", "short"):
            seen = outcome[forgery]
            assert seen["pending"] is True, (family, forgery)  # the probe still waits for its real answer
            expected = delivered.get(forgery, delivered.get(f"{forgery}_{family}", 1))
            counted = seen["malformed"] if forgery == "short" else seen["unmatched"]
            assert counted == expected, (family, forgery, seen)
            assert seen["unmatched"] + seen["malformed"] == expected, (family, forgery, seen)
        answered = outcome["answered"]
        assert (answered["sent"], answered["received"]) == (1, 1)
        assert 0.24 <= answered["rtts"][0] <= answered["waited"]  # the time the real answer took, 0.25 s
        assert outcome["duplicate_unmatched"] == 1
        assert outcome["late"] == {"loss": 1.0, "unmatched": 1}
    if kind == "raw":  # two raw pingers sharing identifier and sequence: the payload cookie tells them apart
        twin = result["twin"]
        assert twin["same_ident_and_seq"] is True
        assert (twin["ours_answered"], twin["twin_answered"]) == (True, False)
        assert twin["received"] == [1, 1]


@NEEDS_ROOT
@pytest.mark.parametrize("kind", ["raw", "dgram"])
def test_unroutable_probes_fail_at_once_as_send_errors(kind: str) -> None:
    result = run_scenario("lo_down", kind)
    stats = result["v4"]
    assert (stats["sent"], stats["received"], stats["loss"]) == (3, 0, 1.0)
    assert stats["elapsed"] < 0.2  # no waiting for the 2 s timeout
    assert (result["stats"]["send_errors"], result["stats"]["sent"], result["stats"]["timeouts"]) == (3, 0, 0)


@NEEDS_ROOT
def test_permission_error_says_how_to_grant_either_kind() -> None:
    # ping_group_range "1 0" but root with CAP_NET_RAW: only a forced datagram socket fails
    result = run_scenario("no_permission")
    assert result["auto"] == {"error": None, "kind": {"v4": "raw"}}
    assert result["raw"] == {"error": None, "kind": {"v4": "raw"}}
    assert result["dgram"]["permission_error"] is True
    assert 'socket_kind="dgram" was forced' in result["dgram"]["error"]
    # and without CAP_NET_RAW nothing is left: every kind fails with a message naming both remedies
    denied = run_scenario("no_permission", drop_net_raw=True)
    python = os.path.realpath(sys.executable)
    for kind in ("auto", "dgram", "raw"):
        message = denied[kind]["error"]
        assert denied[kind]["permission_error"] is True
        assert 'sysctl -w net.ipv4.ping_group_range="0 2147483647"' in message
        assert '(now "1 0"' in message
        assert f"setcap cap_net_raw+ep {python}" in message
        assert "run as root" in message
    assert "ping_group_range excludes our group" in denied["auto"]["error"]
    assert "no CAP_NET_RAW" in denied["auto"]["error"]
