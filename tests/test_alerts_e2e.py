"""Alerts end to end: a fibre cut in the simulated city must reach on-call as exactly one page.

Every part is the real one, over loopback: ``stadtnetz simulate`` (the city),
``stadtnetz run`` (the collector), Prometheus with the rules of
``config/alerts/``, Alertmanager with ``config/alertmanager.example.yml``, and a
webhook receiver standing in for the pager. Two things are changed for the
test's sake, and nothing else:

* time is compressed: every rule's ``for:`` is divided by ``SPEEDUP`` and
  Alertmanager's group_wait/group_interval are a second or two, so a fault
  pages in seconds instead of minutes; the expressions are untouched;
* the webhook URLs point at the test's receiver (the path names the
  receiver), and office-hour restrictions are lifted so that every
  notification any route would ever send is seen, not only the pages.

Must show: a fibre cut under a distribution switch gives one page for the
switch, naming how many devices are unreachable behind it, and nothing for
those devices on any receiver; the repair gives a resolved notification;
with a maintenance window over the switch, the same cut gives nothing at all.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.alertmanager import Alertmanager
from tests.support.processes import Daemon, free_port, wait_until
from tests.support.prometheus import Prometheus
from tests.support.simulation import REPO, simulator_control_url, start_simulator_process
from tests.support.webhook import WebhookReceiver

SPEEDUP = 20  # for: 1m -> 3 s, 2m -> 6 s
INTERVAL = 2  # the collector's poll interval in the test, seconds
DEVICES = 120
ENV = {"CITY_COMMUNITY": "public"}


def _seconds(duration: str) -> float:
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|s|m|h|d)", duration):
        total += int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return total


def fast_rules(directory: Path) -> list[Path]:
    """The repository's rule files with every ``for:`` divided by SPEEDUP (at least 1 s)."""
    written = []
    for source in sorted((REPO / "config" / "alerts").glob("*.rules.yml")):
        rules = yaml.safe_load(source.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = f"{max(1, round(_seconds(rule['for']) / SPEEDUP))}s"
        target = directory / source.name
        target.write_text(yaml.safe_dump(rules, sort_keys=False, allow_unicode=True))
        written.append(target)
    return written


def _route_for_test(route: dict[str, Any]) -> None:
    route.pop("active_time_intervals", None)
    route.pop("mute_time_intervals", None)
    for key, value in (("group_wait", "1s"), ("group_interval", "2s"), ("repeat_interval", "1h")):
        if key in route:
            route[key] = value
    for child in route.get("routes", []):
        _route_for_test(child)


def alertmanager_config(hook: str) -> str:
    """config/alertmanager.example.yml, its webhooks pointed at ``hook``/<receiver>, its timings compressed."""
    config = yaml.safe_load((REPO / "config" / "alertmanager.example.yml").read_text())
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"{hook}/{receiver['name']}"
        receiver.pop("email_configs", None)
    _route_for_test(config["route"])
    config["route"].update(group_wait="1s", group_interval="2s", repeat_interval="1h")
    return yaml.safe_dump(config, sort_keys=False)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def scenario(control: str, command: str) -> None:
    request = urllib.request.Request(f"{control}/scenario", data=command.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, list[dict[str, str]]]]:
    """The simulated city as its own process: its directory, control URL and inventory rows."""
    directory = tmp_path_factory.mktemp("city")
    simulator, _, inventory = start_simulator_process(directory, DEVICES, seed=7, timeout=60)
    try:
        with inventory.open() as handle:
            rows = list(csv.DictReader(handle))
        yield directory, simulator_control_url(simulator), rows
    finally:
        simulator.stop()


def subtree(rows: list[dict[str, str]], root: str) -> list[str]:
    below = [root]
    for row in rows:
        if row["upstream"] in below:
            below.append(row["id"])
    return below


def pick_switch(rows: list[dict[str, str]], index: int) -> tuple[str, list[str]]:
    switches = [r["id"] for r in rows if r["kind"] == "distribution_switch" and len(subtree(rows, r["id"])) > 5]
    switch = switches[index]
    return switch, subtree(rows, switch)[1:]


class Stack:
    """Collector, Prometheus, Alertmanager and the webhook, started for one test."""

    def __init__(self, directory: Path, city_directory: Path, maintenance: str = "") -> None:
        self.webhook = WebhookReceiver()
        self.alertmanager = Alertmanager(directory / "alertmanager", alertmanager_config(self.webhook.url))
        config = directory / "city.yaml"
        config.write_text(
            f"settings:\n  interval: {INTERVAL}s\n  timeout: 500ms\n  retries: 1\n"
            "credentials:\n  city:\n    version: 2c\n    community: ${CITY_COMMUNITY}\n"
            "defaults:\n  credentials: city\n  ping: false\n"  # on loopback the kernel would answer every ping
            f"inventory:\n  - file: {city_directory / 'inventory.csv'}\n" + maintenance
        )
        port = free_port()
        self.collector_url = f"http://127.0.0.1:{port}"
        self.collector = Daemon(
            [sys.executable, "-m", "stadtnetz.cli", "run", "-c", str(config), "--listen", f"127.0.0.1:{port}"],
            directory / "collector.log",
            env={**os.environ, **ENV},
        )
        self.collector.wait_ready(self._collector_healthy, 30, "collector")
        rules = fast_rules(directory)
        self.prometheus = Prometheus(
            directory / "prometheus",
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
                    "rule_files": [str(path) for path in rules],
                    "alerting": {
                        "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.alertmanager.port}"]}]}]
                    },
                    "scrape_configs": [
                        {"job_name": "stadtnetz", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                    ],
                }
            ),
        )

    def _collector_healthy(self) -> bool:
        try:
            return json.loads(get(f"{self.collector_url}/healthz"))["status"] == "ok"
        except (OSError, ValueError):
            return False

    def all_up(self) -> bool:
        """Every device answered, and Prometheus has seen it (so no alert is pending from start-up)."""
        result = self.prometheus.query('count(stadtnetz_device_status{status="up"} == 1)')
        return bool(result) and int(float(result[0]["value"][1])) == DEVICES

    def alert_state(self, alertname: str) -> set[str]:
        """The states (pending, firing) of the alert in Prometheus right now."""
        return {r["metric"]["alertstate"] for r in self.prometheus.query(f'ALERTS{{alertname="{alertname}"}}')}

    def stop(self) -> None:
        for part in (self.prometheus, self.collector, self.alertmanager, self.webhook):
            with contextlib.suppress(Exception):
                part.stop()


def alerts_about(notifications: list[Any], devices: set[str]) -> list[dict[str, Any]]:
    return [
        alert
        for notification in notifications
        for alert in notification.alerts
        if alert["labels"].get("device") in devices or alert["labels"].get("root_cause") in devices
    ]


def test_a_fibre_cut_pages_once_for_the_switch_and_resolves_after_the_repair(
    city: tuple[Path, str, list[dict[str, str]]], tmp_path: Path
) -> None:
    city_directory, control, rows = city
    switch, behind = pick_switch(rows, 0)
    stack = Stack(tmp_path, city_directory)
    try:
        wait_until(stack.all_up, 40, "all devices up in Prometheus")
        started = time.monotonic()
        scenario(control, f"fibre-cut {switch}")
        try:
            wait_until(lambda: stack.webhook.received("oncall-pager"), 60, "a page")
            page = stack.webhook.received("oncall-pager")[0]
            fault_to_page = page.received - started
            # the unreachable-site alert must have fired too, and been held back by the switch's own page
            wait_until(lambda: "firing" in stack.alert_state("StadtnetzSiteUnreachable"), 30, "SiteUnreachable firing")
            time.sleep(5)  # several group intervals: anything else that would be sent, would be sent by now
        finally:
            scenario(control, f"repair {switch}")

        pages = stack.webhook.received("oncall-pager")
        assert len(pages) == 1, [p.payload for p in pages]
        assert page.status == "firing"
        assert [(a["labels"]["alertname"], a["labels"]["device"]) for a in page.alerts] == [
            ("StadtnetzDeviceDown", switch)
        ]
        description = page.alerts[0]["annotations"]["description"]
        assert f"{len(behind)} devices behind it are unreachable" in description, description
        assert page.alerts[0]["labels"]["site"] in description
        # nothing for the devices behind the switch, on any receiver
        behind_alerts = [a for n in stack.webhook.received() for a in n.alerts if a["labels"].get("device") in behind]
        assert behind_alerts == []
        assert [
            a["labels"]["alertname"]
            for n in stack.webhook.received()
            for a in n.alerts
            if a["labels"]["alertname"] == "StadtnetzSiteUnreachable"
        ] == []

        def resolved_alerts() -> list[dict]:
            return [a for n in stack.webhook.received("oncall-pager") if n.status == "resolved" for a in n.alerts]

        def switch_resolved() -> bool:
            return ("StadtnetzDeviceDown", switch) in [
                (a["labels"]["alertname"], a["labels"].get("device")) for a in resolved_alerts()
            ]

        wait_until(switch_resolved, 60, "the switch's page resolved")
        # the fault's alerts resolve (the site alert, never sent while inhibited, usually in the same message; when
        # its rule clears one evaluation before the switch's and a group interval lies between, in the one before)
        assert {a["status"] for a in resolved_alerts()} == {"resolved"}
        assert {a["labels"]["root_cause"] for a in resolved_alerts()} == {switch}
        names = {a["labels"]["alertname"] for a in resolved_alerts()}
        assert names <= {"StadtnetzDeviceDown", "StadtnetzSiteUnreachable"}, names
        print(
            f"\nfibre cut at {switch} ({len(behind)} devices behind): page after {fault_to_page:.1f} s "
            f"(rules' for: divided by {SPEEDUP}, poll interval {INTERVAL} s)"
        )
    finally:
        stack.stop()


def test_a_fibre_cut_inside_a_maintenance_window_pages_nobody(
    city: tuple[Path, str, list[dict[str, str]]], tmp_path: Path
) -> None:
    city_directory, control, rows = city
    switch, behind = pick_switch(rows, 1)
    now = dt.datetime.now(dt.UTC)
    window = (
        "maintenance:\n"
        "  - name: splice\n"
        f"    match: {{devices: [{switch}]}}\n"
        f"    start: {(now - dt.timedelta(minutes=1)).isoformat()}\n"
        f"    end: {(now + dt.timedelta(hours=1)).isoformat()}\n"
    )
    stack = Stack(tmp_path, city_directory, window)
    try:
        wait_until(stack.all_up, 40, "all devices up in Prometheus")
        scenario(control, f"fibre-cut {switch}")
        try:
            # the switch is down and its subtree unreachable, long enough for every rule to have fired
            unreachable = f'stadtnetz_device_status{{status="unreachable",root_cause="{switch}"}} == 1'
            wait_until(
                lambda: len(stack.prometheus.query(unreachable)) == len(behind),
                30,
                "the subtree unreachable in Prometheus",
            )
            time.sleep(max(_seconds("2m") / SPEEDUP, 1) + 8)
            assert stack.alert_state("StadtnetzDeviceDown") == set()
            assert stack.alert_state("StadtnetzSiteUnreachable") == set()
        finally:
            scenario(control, f"repair {switch}")
        assert alerts_about(stack.webhook.received(), {switch, *behind}) == []
        assert stack.webhook.received("oncall-pager") == []
    finally:
        stack.stop()
