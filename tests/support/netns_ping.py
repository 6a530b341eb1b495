"""Ping scenarios that need a network of their own, run inside a fresh network namespace.

The tests call :func:`run_scenario`, which starts ``unshare --net -- python -m tests.support.netns_ping SCENARIO``
(optionally under ``setpriv --bounding-set -net_raw``, to take CAP_NET_RAW away). Inside, this module sets the
namespace up (loopback, ``net.ipv4.ping_group_range``, ``icmp_echo_ignore_all``, a veth pair), runs
:class:`collectors.ping.Pinger` and prints one JSON object. Sysctls written here belong to the namespace; it
disappears with the process, so nothing needs cleaning up and the host's network is never touched. The script
refuses to run in the namespace of the test process that started it.

Addresses used: 127.0.0.0/8 and ::1 of the namespace's own loopback, fd00::1 and fd00::2 added to it, and
10.99.0.2-21 behind a veth whose peer has no address (nobody answers); all of them exist only inside the
namespace. Forged replies (scenario ``forgery``) are sent from the namespace's own raw sockets to those addresses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from collectors.ping import (
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    ICMPV6_ECHO_REPLY,
    ICMPV6_ECHO_REQUEST,
    Pinger,
    PingPermissionError,
    PingStats,
)
from tests.support.root import require_root

REPO = Path(__file__).resolve().parents[2]
HOST_NETNS_ENV = "STADTNETZ_TEST_HOST_NETNS"
ALL_GROUPS = "0 2147483647"
NO_GROUPS = "1 0"
SILENT_V4 = "10.99.0.2"  # behind veth v0 (10.99.0.1/24); the peer v1 has no address, so ARP never resolves


def run_scenario(scenario: str, *args: str, drop_net_raw: bool = False, timeout: float = 30.0) -> dict[str, Any]:
    """Run ``scenario`` in a new network namespace and return what it printed (test side)."""
    require_root("a network namespace of its own (`unshare --net`) with raw ICMP sockets")
    command = ["unshare", "--net", "--"]
    if drop_net_raw:
        command += ["setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--"]
    command += [sys.executable, "-m", "tests.support.netns_ping", scenario, *args]
    env = {**os.environ, HOST_NETNS_ENV: os.readlink("/proc/self/ns/net")}
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- inside the namespace


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def _sysctl(name: str, value: str) -> None:
    Path("/proc/sys", *name.split(".")).write_text(value)


def _setup(*, lo_up: bool = True, ping_group: str = ALL_GROUPS, echo_ignore: bool = False, veth: bool = False) -> None:
    if os.readlink("/proc/self/ns/net") == os.environ.get(HOST_NETNS_ENV):
        raise SystemExit("netns_ping: still in the test's network namespace; run me under `unshare --net`")
    _sysctl("net.ipv4.ping_group_range", ping_group)
    if echo_ignore:
        _sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        _sysctl("net.ipv6.icmp.echo_ignore_all", "1")
    if lo_up:
        _sh("ip", "link", "set", "lo", "up")
    if veth:
        _sh("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        _sh("ip", "addr", "add", "10.99.0.1/24", "dev", "v0")
        _sh("ip", "link", "set", "v0", "up")
        _sh("ip", "link", "set", "v1", "up")


def _stats(stats: PingStats) -> dict[str, Any]:
    return {
        **dataclasses.asdict(stats),
        "loss": stats.loss,
        "rtt_min": stats.rtt_min,
        "rtt_avg": stats.rtt_avg,
        "rtt_max": stats.rtt_max,
        "jitter": stats.jitter,
    }


def _kinds(pinger: Pinger) -> dict[str, str]:
    return {("v6" if family == 10 else "v4"): kind for family, kind in pinger.kind.items()}


async def _timed(coro: Any) -> tuple[Any, float]:
    start = time.monotonic()
    result = await coro
    return result, time.monotonic() - start


async def scenario_dgram() -> dict[str, Any]:
    """Datagram sockets where ping_group_range allows them: loopback v4 and v6, a sweep, fping alongside."""
    _setup()
    out: dict[str, Any] = {}
    async with Pinger() as auto:
        auto.open_socket()
        out["auto_kind"] = _kinds(auto)
    async with Pinger(socket_kind="dgram", max_rate=math.inf) as pinger:
        out["v4"] = _stats(await pinger.ping("127.0.0.1", count=4))
        out["v6"] = _stats(await pinger.ping("::1", count=4))
        hosts = [f"127.0.{i // 200}.{i % 200 + 1}" for i in range(300)]
        sweep = await pinger.sweep(hosts)
        out["sweep_hosts"] = len(sweep)
        out["sweep_received"] = sum(s.received for s in sweep.values())
        # fping (raw socket) pings the same hosts meanwhile: a datagram socket never sees its replies
        fping = subprocess.Popen(
            ["fping", "-q", "-C", "30", "-p", "10", "-i", "1", *hosts[:20]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await asyncio.sleep(0.1)
            before = dataclasses.replace(pinger.stats)
            busy = await pinger.sweep(hosts[:20], count=5, spread=0.2)
            out["busy_received"] = sum(s.received for s in busy.values())
            out["busy_unmatched"] = pinger.stats.unmatched - before.unmatched
        finally:
            fping.wait(30)
        out["fping_exit"] = fping.returncode
        out["kind"] = _kinds(pinger)
        out["stats"] = dataclasses.asdict(pinger.stats)
    return out


async def scenario_silent(kind: str) -> dict[str, Any]:
    """Hosts that never answer: an address behind a veth with no peer, then the kernel ignoring every echo."""
    _setup(veth=True)
    out: dict[str, Any] = {}
    async with Pinger(socket_kind=kind) as pinger:
        # answering and silent hosts in one round: the answers land on the right hosts
        mixed = await pinger.sweep(["127.0.0.1", SILENT_V4, "127.0.0.2", "::1"], count=3, timeout=0.3)
        out["mixed"] = {host: _stats(stats) for host, stats in mixed.items()}
        # a round cancelled while its probes are in flight leaves nothing behind, and nothing times out later
        silent = [f"10.99.0.{i}" for i in range(2, 22)]
        task = asyncio.create_task(pinger.sweep(silent, timeout=0.4))
        await asyncio.sleep(0.1)
        in_flight = sum(len(channel.outstanding) for channel in pinger._channels.values())
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            out["cancelled"] = True
        before = dataclasses.replace(pinger.stats)
        out["in_flight_before_cancel"] = in_flight
        out["in_flight_after_cancel"] = sum(len(channel.outstanding) for channel in pinger._channels.values())
        await asyncio.sleep(0.5)
        out["timeouts_after_cancel"] = pinger.stats.timeouts - before.timeouts

        _sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        _sysctl("net.ipv6.icmp.echo_ignore_all", "1")
        before = dataclasses.replace(pinger.stats)
        for name, host in (("lo4", "127.0.0.1"), ("lo6", "::1"), ("veth", SILENT_V4)):
            stats, elapsed = await _timed(pinger.ping(host, count=2, timeout=0.3))
            out[name] = {**_stats(stats), "elapsed": elapsed}
        sweep, elapsed = await _timed(pinger.sweep(["127.0.0.1", "127.0.0.2", "::1", SILENT_V4], timeout=0.3))
        out["sweep"] = {host: _stats(stats) for host, stats in sweep.items()}
        out["sweep_elapsed"] = elapsed
        out["kind"] = _kinds(pinger)
        out["stats"] = {name: value - getattr(before, name) for name, value in dataclasses.asdict(pinger.stats).items()}
        out["unmatched_total"] = pinger.stats.unmatched
    return out


def _checksum(data: bytes) -> int:
    data += b"\0" * (len(data) % 2)
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _icmp(family: int, kind: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An ICMP message; the checksum is ours for IPv4, the kernel's for ICMPv6 (it overwrites the field)."""
    packet = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + payload
    if family == socket.AF_INET:
        packet = packet[:2] + struct.pack("!H", _checksum(packet)) + packet[4:]
    return packet


class _Capture:
    """A raw socket of our own, without filter: the echo requests the pinger sends, as they arrive."""

    def __init__(self, family: int) -> None:
        proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
        self.family = family
        self.sock = socket.socket(family, socket.SOCK_RAW, proto)
        self.sock.setblocking(False)

    async def next_request(self, timeout: float = 2.0) -> tuple[int, int, int, bytes]:
        """(type, identifier, sequence, payload) of the next echo request."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(loop.sock_recv(self.sock, 65535), deadline - time.monotonic())
            except TimeoutError:
                break
            if self.family == socket.AF_INET:
                data = data[(data[0] & 0x0F) * 4 :]
            kind, _, _, ident, seq = struct.unpack_from("!BBHHH", data)
            if kind in (ICMP_ECHO_REQUEST, ICMPV6_ECHO_REQUEST):
                return kind, ident, seq, data[8:]
        raise TimeoutError("the pinger's echo request never crossed loopback")


def _forge(family: int, source: str, destination: str, packet: bytes) -> None:
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    with socket.socket(family, socket.SOCK_RAW, proto) as sock:
        sock.bind((source, 0))
        sock.sendto(packet, (destination, 0))


async def scenario_forgery(kind: str, icmp_filter: str = "filter") -> dict[str, Any]:
    """Replies forged by someone who saw our echo request: only the exact answer may match.

    The kernel ignores echo requests here, so a probe stays in flight while forged replies arrive. Each
    forgery differs from the right answer in one thing; the probe must stay pending through all of them,
    then the exact answer completes it (with an RTT of the time it waited), and copies of it count as unmatched.
    """
    _setup(echo_ignore=True)
    _sh("ip", "-6", "addr", "add", "fd00::1/128", "dev", "lo", "nodad")
    _sh("ip", "-6", "addr", "add", "fd00::2/128", "dev", "lo", "nodad")
    out: dict[str, Any] = {}
    families = (
        ("v4", socket.AF_INET, "127.0.0.1", "127.0.0.2", ICMP_ECHO_REPLY),
        ("v6", socket.AF_INET6, "fd00::1", "fd00::2", ICMPV6_ECHO_REPLY),
    )
    async with Pinger(socket_kind=kind, icmp_filter=icmp_filter == "filter") as pinger:
        for name, family, target, other, reply_type in families:
            capture = _Capture(family)
            result: dict[str, Any] = {}
            with capture.sock:
                sent_at = time.monotonic()
                task = asyncio.create_task(pinger.ping(target, timeout=3.0))
                request_type, ident, seq, payload = await capture.next_request()
                forgeries = {
                    "wrong_source": (other, _icmp(family, reply_type, ident, seq, payload)),
                    "wrong_ident": (target, _icmp(family, reply_type, ident ^ 0x5555, seq, payload)),
                    "wrong_seq": (target, _icmp(family, reply_type, ident, (seq + 1) & 0xFFFF, payload)),
                    "wrong_payload": (target, _icmp(family, reply_type, ident, seq, payload[:-1] + b"!")),
                    "echo_request": (target, _icmp(family, request_type, ident, seq, payload)),
                    "short": (target, _icmp(family, reply_type, ident, seq, b"")[:4]),
                }
                for forgery, (source, packet) in forgeries.items():
                    before = dataclasses.replace(pinger.stats)
                    _forge(family, source, target, packet)
                    await asyncio.sleep(0.03)
                    result[forgery] = {
                        "pending": not task.done(),
                        "unmatched": pinger.stats.unmatched - before.unmatched,
                        "malformed": pinger.stats.malformed - before.malformed,
                    }
                await asyncio.sleep(max(0.0, sent_at + 0.25 - time.monotonic()))
                _forge(family, target, target, _icmp(family, reply_type, ident, seq, payload))
                stats = await asyncio.wait_for(task, 1.0)
                result["answered"] = {**_stats(stats), "waited": time.monotonic() - sent_at}
                before = dataclasses.replace(pinger.stats)
                _forge(family, target, target, _icmp(family, reply_type, ident, seq, payload))  # a duplicate
                await asyncio.sleep(0.03)
                result["duplicate_unmatched"] = pinger.stats.unmatched - before.unmatched
                # an answer that comes after the probe's timeout is late: unmatched, and the round stays lost
                late = asyncio.create_task(pinger.ping(target, timeout=0.1))
                _, ident, seq, payload = await capture.next_request()
                late_stats = await late
                before = dataclasses.replace(pinger.stats)
                _forge(family, target, target, _icmp(family, reply_type, ident, seq, payload))
                await asyncio.sleep(0.03)
                result["late"] = {"loss": late_stats.loss, "unmatched": pinger.stats.unmatched - before.unmatched}
            out[name] = result
        out["kind"] = _kinds(pinger)
        if kind == "raw":
            out["twin"] = await _twins(pinger, icmp_filter == "filter")
    return out


async def _twins(pinger: Pinger, icmp_filter: bool) -> dict[str, Any]:
    """Two pingers on one host that happen to share identifier and sequence (two shards, say): the payload
    cookie keeps each from taking the other's reply."""
    twin = Pinger(socket_kind="raw", icmp_filter=icmp_filter)
    twin._ident = pinger._ident
    async with twin:
        twin.open_socket()
        twin._channels[socket.AF_INET].seq = pinger._channels[socket.AF_INET].seq
        capture = _Capture(socket.AF_INET)
        with capture.sock:
            ours = asyncio.create_task(pinger.ping("127.0.0.1", timeout=2.0))
            theirs = asyncio.create_task(twin.ping("127.0.0.1", timeout=2.0))
            requests = [await capture.next_request(), await capture.next_request()]
            _, ident, seq, payload = next(r for r in requests if r[3] == pinger._payload)
            _forge(socket.AF_INET, "127.0.0.1", "127.0.0.1", _icmp(socket.AF_INET, 0, ident, seq, payload))
            await asyncio.sleep(0.05)
            result = {
                "same_ident_and_seq": len({(r[1], r[2]) for r in requests}) == 1,
                "ours_answered": ours.done(),
                "twin_answered": theirs.done(),
            }
            _, ident, seq, payload = next(r for r in requests if r[3] == twin._payload)
            _forge(socket.AF_INET, "127.0.0.1", "127.0.0.1", _icmp(socket.AF_INET, 0, ident, seq, payload))
            result["received"] = [(await ours).received, (await asyncio.wait_for(theirs, 1.0)).received]
    return result


async def scenario_lo_down(kind: str) -> dict[str, Any]:
    """A namespace whose loopback is down has no route to 127.0.0.1: the kernel refuses the send."""
    _setup(lo_up=False)
    out: dict[str, Any] = {}
    async with Pinger(socket_kind=kind) as pinger:
        stats, elapsed = await _timed(pinger.ping("127.0.0.1", count=3, timeout=2.0))
        out["v4"] = {**_stats(stats), "elapsed": elapsed}
        out["stats"] = dataclasses.asdict(pinger.stats)
    return out


async def scenario_no_permission() -> dict[str, Any]:
    """ping_group_range excludes us (and, when started with drop_net_raw, CAP_NET_RAW is gone)."""
    _setup(ping_group=NO_GROUPS)
    out: dict[str, Any] = {}
    for kind in ("auto", "dgram", "raw"):
        async with Pinger(socket_kind=kind) as pinger:
            try:
                await pinger.ping("127.0.0.1", timeout=0.5)
                out[kind] = {"error": None, "kind": _kinds(pinger)}
            except PingPermissionError as exc:
                out[kind] = {"error": str(exc), "permission_error": isinstance(exc, PermissionError)}
    return out


SCENARIOS = {
    "dgram": scenario_dgram,
    "silent": scenario_silent,
    "lo_down": scenario_lo_down,
    "forgery": scenario_forgery,
    "no_permission": scenario_no_permission,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in SCENARIOS:
        print(f"usage: python -m tests.support.netns_ping {{{','.join(SCENARIOS)}}} [socket kind]", file=sys.stderr)
        return 2
    result = asyncio.run(SCENARIOS[argv[0]](*argv[1:]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
