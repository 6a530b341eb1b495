"""Session fixtures for real components the tests talk to (started as child processes, stopped by PID)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.real_snmpd import SNMPD_COMMUNITY, SNMPD_HOST, start_snmpd
from tests.support.root import require_root


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.needs_root("what for")``: fail with that reason, before any fixture runs, without root."""
    marker = item.get_closest_marker("needs_root")
    if marker is not None:
        require_root(marker.args[0] if marker.args else "this test")


@pytest.fixture(scope="session")
def real_snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, str]]:
    """A real net-snmp snmpd on a free UDP port of 127.0.9.1: yields (host, port, community)."""
    daemon, port = start_snmpd(tmp_path_factory.mktemp("snmpd"))
    try:
        yield SNMPD_HOST, port, SNMPD_COMMUNITY
    finally:
        daemon.stop()
