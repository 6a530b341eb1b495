"""Tests that need root say so: one clear failure instead of an obscure EPERM deep inside a fixture.

Root is needed for network namespaces (the simulated city with real ICMP, the
ping scenarios), raw ICMP sockets (unprivileged ICMP sockets are off on
Debian: ``net.ipv4.ping_group_range`` is "1 0") and mounting a small tmpfs.
``make test`` runs as root (CI does); a developer without root gets this message.
"""

from __future__ import annotations

import os

import pytest

HOW = "run the suite as root (`sudo make test`; CI runs as root)"


def have_root() -> bool:
    return os.geteuid() == 0


def require_root(what: str) -> None:
    """Fail the current test at once, naming what needs root, when not running as root."""
    if not have_root():
        pytest.fail(f"needs root: {what}; {HOW}", pytrace=False)
