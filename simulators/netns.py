"""Network namespaces of the simulator's own: create, enter, run commands in, open a TUN device in, delete.

Owns the one place where the simulated city touches the kernel's network
stack beyond loopback. As root, the simulator creates a named network
namespace (``ip netns add stadtnetz-<pid>-<random>``), opens the TUN device
``sim0`` inside it, gives the namespace the address 198.18.0.1 and routes the
devices' prefix 198.19.0.0/16 (RFC 2544 benchmarking space, which exists only
inside that namespace) into ``sim0``. A userspace responder (:mod:`simulators.icmp`)
reads the packets and answers for every device. Nothing here touches the
host's own interfaces or routes, and only namespaces created by this process
are ever deleted.

A network namespace belongs to a *thread*, not to the process: a thread that
called :func:`enter_current_thread` creates its sockets and TUN devices in the
namespace, and those file descriptors stay bound to it when other threads use
them (:class:`HomeSockets` makes sockets in the namespace a thread came from).
Python 3.11 has no ``os.setns``, so ``setns(2)`` is called through ctypes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

NAME_PREFIX = "stadtnetz-"
NETNS_DIR = Path("/run/netns")  # where `ip netns add` bind-mounts named namespaces
TUN_NAME = "sim0"
HOST_ADDRESS = "198.18.0.1"  # the namespace's own address: the source of every probe sent inside it
DEVICE_PREFIX = "198.19.0.0/16"  # routed into sim0; the simulated devices live here
DEVICE_ADDRESS_BASE = (198, 19)  # first two octets, for simulators.city.generate_city(address_base=...)
# Written inside the namespace only (never on the host): /proc/sys/net/<key> = value.
# (net.core.rmem_default would help fping's bursts, but a child namespace has it read-only.)
NAMESPACE_SYSCTLS = {"ipv6/conf/default/disable_ipv6": "1"}
TUN_QUEUE_LENGTH = 8192  # packets; the default 500 overflows when fping sends to 600 devices in one burst

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21

NOT_PRIVILEGED = (
    "a network namespace of the simulator's own needs root (CAP_SYS_ADMIN to create the namespace, "
    "CAP_NET_ADMIN and /dev/net/tun for the TUN device): run it as root, or without --netns to serve "
    "the city on loopback addresses"
)

_libc = ctypes.CDLL(None, use_errno=True)
_ours: set[str] = set()  # namespaces this process created and has not deleted yet
_ours_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Namespace:
    """A named network namespace (``ip netns`` name and the file that pins it)."""

    name: str

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def exists(self) -> bool:
        return self.path.exists()

    def __str__(self) -> str:
        return self.name


def _effective_capabilities() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def check_privileges() -> None:
    """Raise :class:`PermissionError` (saying what is missing) unless namespaces and TUN devices can be made."""
    capabilities = _effective_capabilities()
    missing = [
        name
        for name, bit in (("CAP_SYS_ADMIN", CAP_SYS_ADMIN), ("CAP_NET_ADMIN", CAP_NET_ADMIN))
        if not capabilities >> bit & 1
    ]
    if missing:
        raise PermissionError(f"{NOT_PRIVILEGED} (missing {', '.join(missing)})")
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        raise PermissionError(f"{NOT_PRIVILEGED} (cannot open /dev/net/tun for reading and writing)")
    if shutil.which("ip") is None:
        raise FileNotFoundError("network namespaces need the `ip` command: apt-get install iproute2")


def _ip(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *argv], input=stdin, capture_output=True, text=True, timeout=30, check=False)


def create_namespace(prefix: str = NAME_PREFIX) -> Namespace:
    """Create a fresh named network namespace with its loopback up; only this process may delete it."""
    check_privileges()
    name = f"{prefix}{os.getpid()}-{secrets.token_hex(3)}"
    result = _ip("netns", "add", name)
    if result.returncode != 0:
        message = result.stderr.strip()
        if "ermission denied" in message or "not permitted" in message:
            raise PermissionError(f"{NOT_PRIVILEGED} (ip netns add {name}: {message})")
        raise OSError(errno.EIO, f"ip netns add {name} failed: {message}")
    namespace = Namespace(name)
    with _ours_lock:
        if not _ours:
            atexit.register(_delete_leftovers)
        _ours.add(name)
    result = _ip("-n", name, "link", "set", "lo", "up")
    if result.returncode != 0:
        delete_namespace(namespace)
        raise OSError(errno.EIO, f"ip -n {name} link set lo up failed: {result.stderr.strip()}")
    return namespace


def delete_namespace(namespace: Namespace) -> None:
    """Delete a namespace this process created (``ip netns delete``); refuses any other."""
    with _ours_lock:
        if namespace.name not in _ours:
            raise ValueError(f"network namespace {namespace.name!r} was not created by this process: not deleting it")
        _ours.discard(namespace.name)
    if not namespace.exists():
        return
    result = _ip("netns", "delete", namespace.name)
    if result.returncode != 0:
        raise OSError(errno.EIO, f"ip netns delete {namespace.name} failed: {result.stderr.strip()}")


def _delete_leftovers() -> None:
    """At interpreter exit: delete every namespace this process created and did not delete."""
    for name in sorted(_ours):
        with contextlib.suppress(Exception):
            delete_namespace(Namespace(name))


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"setns(CLONE_NEWNET) failed: {os.strerror(code)}")


def enter_current_thread(namespace: Namespace) -> None:
    """Move the calling thread (only it) into ``namespace``; sockets it creates from now on live there."""
    fd = os.open(namespace.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def entered(namespace: Namespace) -> Iterator[None]:
    """Inside the ``with`` block the calling thread is in ``namespace``; afterwards back where it was."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        enter_current_thread(namespace)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


class HomeSockets:
    """Makes sockets in the network namespace the calling thread was in when this was made (its "home").

    Made before a thread enters the simulator's namespace, it lets that thread
    still dial the host's loopback (the simulated chargers' connections to a
    central system outside): each :meth:`socket` call steps back home with
    ``setns(2)`` for the one ``socket(2)`` call and returns at once.
    """

    def __init__(self) -> None:
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def socket(self, family: int, kind: int) -> socket.socket:
        here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(self._home)
            try:
                return socket.socket(family, kind)
            finally:
                _setns(here)
        finally:
            os.close(here)

    def close(self) -> None:
        if self._home >= 0:
            os.close(self._home)
            self._home = -1


def current_thread_in(namespace: Namespace) -> bool:
    """True if the calling thread is in ``namespace``."""
    try:
        return os.stat("/proc/thread-self/ns/net").st_ino == os.stat(namespace.path).st_ino
    except OSError:
        return False


def run_command(
    namespace: Namespace, argv: Sequence[str], timeout: float = 60.0, check: bool = False, **options: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside ``namespace`` (``ip netns exec``), output captured as text."""
    return subprocess.run(
        ["ip", "netns", "exec", namespace.name, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
        **options,
    )


def run_in_namespace(
    namespace: Namespace, function: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = 60.0
) -> T:
    """Run ``asyncio.run(function(*args))`` on a fresh thread inside ``namespace``; return its result.

    The way to let collector code (an SNMP client, a pinger) reach the simulated
    devices, whose addresses exist only inside the namespace. Exceptions propagate.
    """
    outcome: Future[T] = Future()

    def target() -> None:
        try:
            enter_current_thread(namespace)
            value = asyncio.run(function(*args))
        except BaseException as exc:  # handed to the caller
            outcome.set_exception(exc)
        else:
            outcome.set_result(value)

    thread = threading.Thread(target=target, name=f"in-{namespace.name}", daemon=True)
    thread.start()
    return outcome.result(timeout)


def open_tun(name: str = TUN_NAME) -> int:
    """Create the TUN device ``name`` in the calling thread's namespace; return its non-blocking fd.

    ``IFF_TUN | IFF_NO_PI``: every read returns one bare IP packet, every write injects one.
    The device exists as long as the fd is open.
    """
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except PermissionError:
        raise PermissionError(f"{NOT_PRIVILEGED} (cannot open /dev/net/tun)") from None
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError as exc:
        os.close(fd)
        if exc.errno == errno.EPERM:
            raise PermissionError(f"{NOT_PRIVILEGED} (TUNSETIFF {name}: {exc.strerror})") from None
        raise OSError(exc.errno, f"cannot create TUN device {name}: {exc.strerror}") from None
    return fd


def open_device_link(namespace: Namespace, name: str = TUN_NAME) -> int:
    """The simulated devices' side of ``namespace``: TUN ``name`` up, 198.18.0.1 on it, 198.19.0.0/16 routed into it.

    Call from a thread inside ``namespace``. IPv6 is switched off for new
    interfaces of the namespace first (``/proc/sys/net`` follows the calling
    thread's namespace, so the host's setting is not touched), so the kernel
    sends no router solicitations into the TUN device. Returns the TUN fd.
    """
    if not current_thread_in(namespace):
        raise RuntimeError(f"open_device_link must run on a thread inside {namespace.name} (enter_current_thread)")
    for setting, value in NAMESPACE_SYSCTLS.items():
        with contextlib.suppress(OSError):  # a kernel without IPv6 has no such file: nothing to switch off
            Path("/proc/sys/net", setting).write_text(value)
    fd = open_tun(name)
    commands = "\n".join(
        (
            f"link set {name} txqueuelen {TUN_QUEUE_LENGTH}",
            f"addr add {HOST_ADDRESS}/32 dev {name}",
            f"link set {name} up",
            f"route add {DEVICE_PREFIX} dev {name} src {HOST_ADDRESS}",
        )
    )
    result = _ip("-n", namespace.name, "-batch", "-", stdin=commands + "\n")
    if result.returncode != 0:
        os.close(fd)
        raise OSError(errno.EIO, f"configuring {name} in {namespace.name} failed: {result.stderr.strip()}")
    return fd
