"""Maintenance windows: when they are open, which devices they cover, the service's marking, Alertmanager silences.

Silences are checked against a real Alertmanager (its API v2 and amtool), the
service's marking against a real ``stadtnetz run`` polling a simulated city.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from stadtnetz.config import ConfigError, load_inventory
from stadtnetz.maintenance import DeviceMatch, Maintenance, MaintenanceWindow, Recurrence
from stadtnetz.model import Device
from tests.support.alertmanager import MINIMAL_CONFIG, Alertmanager
from tests.support.processes import Daemon, free_port, wait_until
from tests.support.simulation import start_simulator_process

UTC = dt.UTC
ENV = {"COMMUNITY": "public"}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def stadtnetz(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ENV, **(env or {})},
    )


def write_config(directory: Path, maintenance: str, devices: str | None = None) -> Path:
    devices = devices or textwrap.dedent(
        """\
        devices:
          - {id: core-1, kind: core_router, address: 127.0.0.1:1161, site: PoP Altstadt, district: Altstadt}
          - {id: dist-003, kind: distribution_switch, address: 127.0.0.2:1161, site: Verteiler Nordstadt 3,
             district: Nordstadt, upstream: core-1, tags: [ring-nord]}
          - {id: hs-0049, kind: hotspot, address: 127.0.0.3:1161, district: Nordstadt, upstream: dist-003}
          - {id: hs-0050, kind: hotspot, address: 127.0.0.4:1161, district: Altstadt, upstream: core-1}
        """
    )
    path = directory / "city.yaml"
    path.write_text(
        "credentials:\n  ro:\n    community: ${COMMUNITY}\ndefaults:\n  credentials: ro\n"
        + devices
        + "maintenance:\n"
        + textwrap.indent(textwrap.dedent(maintenance), "  ")
    )
    return path


# --- when a window is open, what it covers -------------------------------------------------------------------------


def test_recurring_window_keeps_local_time_across_the_change_to_summer_time() -> None:
    window = MaintenanceWindow(
        "firmware", DeviceMatch(kinds=frozenset({"hotspot"})), recurrence=Recurrence((1,), dt.time(3, 0), 7200)
    )
    openings = window.occurrences(at("2026-03-20T00:00+00:00"), at("2026-04-05T00:00+00:00"))
    # Tuesdays 24 and 31 March 2026, 03:00 in Berlin: CET (UTC+1) before 29 March, CEST (UTC+2) after
    assert openings == [
        (at("2026-03-24T02:00+00:00"), at("2026-03-24T04:00+00:00")),
        (at("2026-03-31T01:00+00:00"), at("2026-03-31T03:00+00:00")),
    ]
    assert window.is_open(at("2026-03-31T01:00+00:00"))  # start inclusive
    assert not window.is_open(at("2026-03-31T03:00+00:00"))  # end exclusive
    assert not window.is_open(at("2026-03-30T01:30+00:00"))  # a Monday


def test_an_opening_that_began_before_the_query_still_counts() -> None:
    window = MaintenanceWindow(
        "night", DeviceMatch(devices=frozenset({"a"})), recurrence=Recurrence(tuple(range(7)), dt.time(23, 0), 4 * 3600)
    )
    # 23:00 CET Monday until 03:00 Tuesday: open at 01:00 local on Tuesday
    assert window.is_open(at("2026-11-24T00:00+00:00"))
    assert window.current_or_next(at("2026-11-24T00:00+00:00"), dt.timedelta(days=1)) == (
        at("2026-11-23T22:00+00:00"),
        at("2026-11-24T02:00+00:00"),
    )


def test_match_keys_narrow_each_other_and_values_are_alternatives() -> None:
    devices = [
        Device("hs-1", "hotspot", "127.0.0.1", district="Altstadt", tags=("outdoor",)),
        Device("hs-2", "hotspot", "127.0.0.2", district="Nordstadt"),
        Device("sw-1", "distribution_switch", "127.0.0.3", district="Altstadt"),
        Device("ap-1", "school_ap", "127.0.0.4", district="Altstadt", tags=("indoor",)),
    ]
    windows = [
        MaintenanceWindow("a", DeviceMatch(kinds=frozenset({"hotspot"}), districts=frozenset({"Altstadt"}))),
        MaintenanceWindow("b", DeviceMatch(kinds=frozenset({"hotspot", "school_ap"}))),
        MaintenanceWindow("c", DeviceMatch(tags=frozenset({"indoor", "outdoor"}))),
    ]
    covered = Maintenance(windows, devices).covered
    assert covered == {"a": {"hs-1"}, "b": {"hs-1", "hs-2", "ap-1"}, "c": {"hs-1", "ap-1"}}


def test_configuration_mistakes_name_file_line_and_field(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """\
        - name: splice
          match: {devices: [dist-03]}
          start: 2026-11-25T22:00:00+01:00
          end: 2026-11-25T21:00:00+01:00
        - name: firmware
          match: {kinds: [hotspot]}
          every: [tuesday, someday]
          at: "03:00"
          duration: 2h
        - name: nothing-said
          match: {districts: [Altstadt]}
        - name: no-zone
          timezone: Europe/Nowhere
          match: {devices: [hs-0050]}
          every: daily
          at: "25:00"
          duration: 1h
        - name: unknown-device
          match: {devices: [dist-03]}
          start: 2026-11-25T22:00:00+01:00
          end: 2026-11-26T04:00:00+01:00
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_inventory(config, environ=ENV)
    text = str(caught.value)
    assert f"{config}:13: maintenance[0]: end (2026-11-25T20:00:00+00:00) must be after start" in text
    assert f"{config}:19: maintenance[1].every: unknown weekday 'someday'" in text
    assert f"{config}:22: maintenance[2]: say when: start and end, or every, at and duration" in text
    assert f"{config}:25: maintenance[3].timezone: unknown time zone 'Europe/Nowhere'" in text
    assert f"{config}:28: maintenance[3].at: expected a time of day HH:MM, got '25:00'" in text
    assert f"{config}:31: maintenance[4].match.devices[0]: unknown device 'dist-03'; did you mean 'dist-003'?" in text


def test_a_window_in_local_time_and_its_devices_load(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """\
        - name: splice
          reason: Spleißarbeiten Trasse Nordstadt
          match: {devices: dist-003}
          start: 2026-11-25 22:00
          end: 2026-11-26 04:00
        - name: outdoor
          match: {tags: [ring-nord], kinds: [distribution_switch]}
          every: weekdays
          at: "06:30"
          duration: 30m
        """,
    )
    inventory = load_inventory(config, environ=ENV)
    splice, outdoor = inventory.maintenance
    assert (splice.start, splice.end) == (at("2026-11-25T21:00+00:00"), at("2026-11-26T03:00+00:00"))
    assert outdoor.recurrence == Recurrence((0, 1, 2, 3, 4), dt.time(6, 30), 1800.0)
    assert Maintenance(inventory.maintenance, inventory.devices).covered == {
        "splice": {"dist-003"},
        "outdoor": {"dist-003"},
    }


# --- silences in a real Alertmanager --------------------------------------------------------------------------------


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    manager = Alertmanager(tmp_path / "alertmanager", MINIMAL_CONFIG)
    try:
        yield manager
    finally:
        manager.stop()


def amtool_silences(manager: Alertmanager) -> list[dict]:
    result = subprocess.run(
        ["amtool", f"--alertmanager.url={manager.url}", "silence", "query", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def test_apply_turns_windows_into_silences_once_and_expires_what_is_gone(
    tmp_path: Path, alertmanager: Alertmanager
) -> None:
    now = dt.datetime.now(UTC)
    open_window = f"""\
        - name: splice
          reason: Spleißarbeiten
          match: {{devices: [dist-003]}}
          start: {(now - dt.timedelta(minutes=5)).isoformat()}
          end: {(now + dt.timedelta(hours=2)).isoformat()}
        """
    later = f"""\
        - name: hotspots-nord
          match: {{kinds: [hotspot], districts: [Nordstadt]}}
          start: {(now + dt.timedelta(days=2)).isoformat()}
          end: {(now + dt.timedelta(days=2, hours=1)).isoformat()}
        - name: beyond-the-horizon
          match: {{devices: [core-1]}}
          start: {(now + dt.timedelta(days=30)).isoformat()}
          end: {(now + dt.timedelta(days=31)).isoformat()}
        """
    # a silence somebody made by hand: apply must never touch it
    alertmanager.api(
        "silences",
        {
            "matchers": [{"name": "device", "value": "hs-0050", "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + dt.timedelta(hours=1)).isoformat(),
            "createdBy": "anna",
            "comment": "Baustelle",
        },
    )
    config = write_config(tmp_path, open_window.rstrip(" ") + later)
    first = stadtnetz("maintenance", "apply", "-c", str(config), "--alertmanager", alertmanager.url)
    assert first.returncode == 0, first.stderr
    assert "4 created, 0 unchanged, 0 expired" in first.stdout

    ours = [s for s in amtool_silences(alertmanager) if s["createdBy"] == "stadtnetz"]
    by_comment = {s["comment"].split(" 20")[0]: s for s in ours}
    assert set(by_comment) == {
        "stadtnetz maintenance splice [device]",
        "stadtnetz maintenance splice [root_cause]",
        "stadtnetz maintenance hotspots-nord [device]",
        "stadtnetz maintenance hotspots-nord [root_cause]",
    }
    assert by_comment["stadtnetz maintenance splice [root_cause]"]["matchers"] == [
        {"name": "root_cause", "value": "dist\\-003", "isRegex": True, "isEqual": True}
    ]
    assert by_comment["stadtnetz maintenance hotspots-nord [device]"]["matchers"][0]["value"] == "hs\\-0049"
    assert by_comment["stadtnetz maintenance splice [device]"]["status"]["state"] == "active"
    assert by_comment["stadtnetz maintenance hotspots-nord [device]"]["status"]["state"] == "pending"

    # an alert of a device behind the switch under maintenance is silenced; one elsewhere is not
    alertmanager.api(
        "alerts",
        [
            {"labels": {"alertname": "StadtnetzSiteUnreachable", "root_cause": "dist-003"}},
            {"labels": {"alertname": "StadtnetzDeviceDown", "device": "core-1", "root_cause": "core-1"}},
        ],
    )

    def states() -> dict[str, str]:
        return {a["labels"]["alertname"]: a["status"]["state"] for a in alertmanager.alerts()}

    wait_until(lambda: len(states()) == 2, 10, "both alerts in Alertmanager")
    wait_until(lambda: states()["StadtnetzSiteUnreachable"] == "suppressed", 10, "the silence applies")
    assert states()["StadtnetzDeviceDown"] == "active"

    again = stadtnetz("maintenance", "apply", "-c", str(config), "--alertmanager", alertmanager.url)
    assert "0 created, 4 unchanged, 0 expired" in again.stdout, again.stdout
    assert len(alertmanager.silences("active")) + len(alertmanager.silences("pending")) == 5

    # the later window is removed from the configuration: its silences go, the open one and anna's stay
    config = write_config(tmp_path, open_window)
    removed = stadtnetz("maintenance", "apply", "-c", str(config), "--alertmanager", alertmanager.url)
    assert "0 created, 2 unchanged, 2 expired" in removed.stdout, removed.stdout
    remaining = {s["comment"] for s in alertmanager.silences("active") + alertmanager.silences("pending")}
    assert remaining == {
        "Baustelle",
        *(s["comment"] for s in ours if s["comment"].startswith("stadtnetz maintenance splice")),
    }


def test_apply_says_so_when_alertmanager_is_unreachable(tmp_path: Path) -> None:
    now = dt.datetime.now(UTC)
    config = write_config(
        tmp_path,
        f"""\
        - name: splice
          match: {{devices: [dist-003]}}
          start: {now.isoformat()}
          end: {(now + dt.timedelta(hours=1)).isoformat()}
        """,
    )
    port = free_port()  # nothing listens there
    result = stadtnetz("maintenance", "apply", "-c", str(config), "--alertmanager", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot reach Alertmanager at http://127.0.0.1:{port}" in result.stderr
    listed = stadtnetz("maintenance", "list", "-c", str(config))
    assert listed.returncode == 0 and "splice" in listed.stdout and "open" in listed.stdout


# --- the service marks devices in maintenance -----------------------------------------------------------------------


def test_the_service_marks_the_devices_of_an_open_window(tmp_path: Path) -> None:
    simulator, _, inventory = start_simulator_process(tmp_path / "city", 40, seed=5, timeout=60)
    try:
        now = dt.datetime.now(UTC)
        devices = "inventory:\n  - file: city/inventory.csv\n"
        config = write_config(
            tmp_path,
            f"""\
            - name: splice
              match: {{devices: [dist-001]}}
              start: {(now - dt.timedelta(minutes=1)).isoformat()}
              end: {(now + dt.timedelta(hours=1)).isoformat()}
            - name: tomorrow
              match: {{kinds: [hotspot]}}
              start: {(now + dt.timedelta(days=1)).isoformat()}
              end: {(now + dt.timedelta(days=1, hours=1)).isoformat()}
            """,
            devices=devices,
        )
        port = free_port()
        service = Daemon(
            [sys.executable, "-m", "stadtnetz.cli", "run", "-c", str(config), "--listen", f"127.0.0.1:{port}"],
            tmp_path / "service.log",
            env={**os.environ, **ENV},
        )
        try:

            def metrics() -> str:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    return response.read().decode()

            def served() -> bool:
                try:
                    return "stadtnetz_device_maintenance" in metrics()
                except OSError:
                    return False

            service.wait_ready(served, 30, "the service")
            text = metrics()
            marked = [
                line.split('device="')[1].split('"')[0]
                for line in text.splitlines()
                if line.startswith("stadtnetz_device_maintenance{") and line.endswith(" 1")
            ]
            assert marked == ["dist-001"]
            assert text.count("stadtnetz_device_maintenance{") == 40
            assert 'stadtnetz_maintenance_window_open{window="splice"} 1.0' in text
            assert 'stadtnetz_maintenance_window_open{window="tomorrow"} 0.0' in text
            lint = subprocess.run(
                ["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60
            )
            assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/devices", timeout=5) as response:
                rows = json.load(response)
            assert {row["id"] for row in rows if row["maintenance"]} == {"dist-001"}
        finally:
            service.stop()
    finally:
        simulator.stop()
    assert inventory.exists()
