"""A developer without root gets "needs root: <what for>" from the tests that need it, not an obscure EPERM.

The suite is run here in a user namespace without a mapping (``unshare --user``):
the same files and interpreter, but ``geteuid()`` is 65534 and no capability
reaches this machine's network, as for a developer who is not root.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/test_ping.py::test_loopback_v4_and_v6_every_echo_answered",  # a raw ICMP socket
    "tests/test_ping.py::test_datagram_sockets_in_a_namespace_that_permits_them",  # unshare --net
    "tests/test_simulator_icmp.py::test_every_device_answers_fping_inside_the_namespace",  # a fixture: the netns city
    "tests/test_ping.py::test_invalid_arguments_are_refused",  # needs nothing: still passes
]


def test_tests_that_need_root_say_so_without_it() -> None:
    done = subprocess.run(
        ["unshare", "--user", sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", *TESTS],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "1 passed, 3 errors" in out, out  # failed at setup, before any fixture or socket
    reasons = [line for line in out.splitlines() if "needs root: " in line]
    assert any("raw ICMP sockets" in line for line in reasons), out
    assert any("TUN device for the simulated city" in line for line in reasons), out
    assert "PermissionError" not in out and "Operation not permitted" not in out, out
    assert "sudo make test" in out
