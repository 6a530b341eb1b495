"""The alerting data files: rules, their promtool unit tests, and the Alertmanager and Prometheus examples.

Runs the real tools (``promtool`` and ``amtool`` from the Debian packages prometheus and
prometheus-alertmanager, which ``scripts/install-test-deps.sh`` installs): every rules file under
``config/alerts`` passes ``promtool check rules``, every unit test file ``promtool test rules``, the
example configurations their checkers, and ``amtool config routes test`` sends alerts of each
severity and team to the right receiver. Checks over the parsed YAML make sure every alert carries
severity, team, summary, description and a runbook that exists, that every rules file has a test
file making each of its alerts fire, and that those tests cannot pass by luck (promtool evaluates
rule groups in random order unless told). Last, a real Alertmanager started on 127.0.0.1 with the
example configuration shows that its inhibit rules hold back what they should and nothing else.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.alertmanager import Alertmanager
from tests.support.processes import wait_until

REPO = Path(__file__).resolve().parent.parent
ALERTS = REPO / "config" / "alerts"
TESTS = ALERTS / "tests"
RUNBOOKS = REPO / "docs" / "runbooks"
ALERTMANAGER_CONFIG = REPO / "config" / "alertmanager.example.yml"
PROMETHEUS_CONFIG = REPO / "config" / "prometheus.example.yml"
RUNBOOK_PREFIX = "https://github.com/stadtnetz/stadtnetz/blob/main/docs/runbooks/"

RULE_FILES = sorted(ALERTS.glob("*.rules.yml"))
TEST_FILES = sorted(TESTS.glob("*.test.yml"))
SEVERITIES = {"critical", "warning", "info"}
TEAMS = {"backbone", "wlan", "charging", "planning", "ops"}
DEVICE_LABELS = {"device", "kind", "site", "district", "root_cause"}
CHARGER_LABELS = {"charger", "site", "district", "root_cause"}  # a charger is not a polled device: no kind


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules_of(path: Path) -> list[dict[str, Any]]:
    return [rule for group in load(path)["groups"] for rule in group["rules"]]


def alerting_rules() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, rule) for path in RULE_FILES for rule in rules_of(path) if "alert" in rule]


def expected_alerts() -> Iterator[tuple[Path, str, dict[str, str]]]:
    """(test file, alert name, expected labels) of every alert the unit tests expect to fire."""
    for path in TEST_FILES:
        for group in load(path)["tests"]:
            for case in group.get("alert_rule_test", []):
                for alert in case.get("exp_alerts") or []:
                    yield path, case["alertname"], alert.get("exp_labels") or {}


def test_there_are_rules_and_tests() -> None:
    assert {p.name for p in RULE_FILES} >= {
        "devices.rules.yml",
        "backbone.rules.yml",
        "wlan.rules.yml",
        "planning.rules.yml",
        "collector.rules.yml",
        "chargers.rules.yml",
    }
    assert TEST_FILES


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    result = run("promtool", "check", "rules", str(path))
    assert result.returncode == 0, output(result)


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(path: Path) -> None:
    result = run("promtool", "test", "rules", str(path))
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)


def test_prometheus_example_config_loads_every_rules_file() -> None:
    result = run("promtool", "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, output(result)
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout, output(result)
    config = load(PROMETHEUS_CONFIG)
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    assert [job["job_name"] for job in config["scrape_configs"]] == ["stadtnetz"]  # the job the rules watch


def test_alertmanager_example_config_is_valid() -> None:
    result = run("amtool", "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, output(result)


ROUTES = [
    ("a critical backbone alert pages", {"severity": "critical", "team": "backbone"}, "oncall-pager"),
    ("a critical collector alert pages", {"severity": "critical", "team": "ops"}, "oncall-pager"),
    ("a warning goes to its team: wlan", {"severity": "warning", "team": "wlan"}, "wlan"),
    ("a warning goes to its team: backbone", {"severity": "warning", "team": "backbone"}, "backbone"),
    ("a warning goes to its team: charging", {"severity": "warning", "team": "charging"}, "charging"),
    ("a warning goes to its team: ops", {"severity": "warning", "team": "ops"}, "ops"),
    ("a planning report", {"severity": "info", "team": "planning"}, "planning"),
    ("an alert without a team lands with ops", {"severity": "warning"}, "ops"),
]


@pytest.mark.parametrize(("labels", "receiver"), [r[1:] for r in ROUTES], ids=[r[0] for r in ROUTES])
def test_amtool_routes(labels: dict[str, str], receiver: str) -> None:
    result = run(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={receiver}",
        "alertname=StadtnetzTest",
        *(f"{name}={value}" for name, value in labels.items()),
    )
    assert result.returncode == 0, output(result)
    assert result.stdout.split() == [receiver], output(result)


def test_warnings_wait_for_office_hours_in_berlin() -> None:
    config = load(ALERTMANAGER_CONFIG)
    intervals = {interval["name"]: interval["time_intervals"] for interval in config["time_intervals"]}
    assert intervals["office-hours"] == [
        {
            "weekdays": ["monday:friday"],
            "times": [{"start_time": "07:00", "end_time": "17:00"}],
            "location": "Europe/Berlin",
        }
    ]
    routes = config["route"]["routes"]
    for team in ("backbone", "wlan", "charging", "ops"):
        (route,) = [r for r in routes if r["matchers"] == [f'team="{team}"']]
        assert route["receiver"] == team
        assert route["active_time_intervals"] == ["office-hours"]
    paging = [r for r in routes if r["receiver"] == "oncall-pager"]
    assert paging and all("active_time_intervals" not in r and "mute_time_intervals" not in r for r in paging)


def test_receivers_are_local_webhooks_that_send_resolved() -> None:
    receivers = load(ALERTMANAGER_CONFIG)["receivers"]
    assert {r["name"] for r in receivers} == {"oncall-pager", "backbone", "wlan", "charging", "ops", "planning"}
    for receiver in receivers:
        (webhook,) = receiver["webhook_configs"]
        assert webhook == {"url": f"http://127.0.0.1:9095/{receiver['name']}", "send_resolved": True}


@pytest.mark.parametrize(
    ("path", "rule"),
    alerting_rules(),
    ids=[f"{path.stem}:{rule['alert']}:{rule['labels']['severity']}" for path, rule in alerting_rules()],
)
def test_alert_has_severity_team_and_annotations(path: Path, rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert name.startswith("Stadtnetz"), name
    assert rule["labels"]["severity"] in SEVERITIES, name
    # team: a fixed label, or taken from the kind-to-team mapping by the expression
    assert (
        rule["labels"].get("team") in TEAMS
        or "group_left(kind, site, district, team)" in rule["expr"]
        or "group_left(team) stadtnetz:device_team:info" in rule["expr"]
    ), name
    annotations = rule["annotations"]
    assert annotations["summary"].strip() and annotations["description"].strip(), name
    url = annotations["runbook_url"]
    assert url.startswith(RUNBOOK_PREFIX), url
    runbook = RUNBOOKS / url.removeprefix(RUNBOOK_PREFIX)
    assert runbook.suffix == ".md" and runbook.is_file(), f"{name}: {runbook} is missing"
    assert f"# {name}" in runbook.read_text(), f"{runbook} does not describe {name}"


def test_fired_alerts_carry_severity_team_and_their_device() -> None:
    """promtool compares exp_labels exactly, so these are the labels the rules really produce."""
    seen = 0
    for path, name, labels in expected_alerts():
        seen += 1
        where = f"{path.name}: {name} {labels}"
        assert labels.get("severity") in SEVERITIES, where
        assert labels.get("team") in TEAMS, where
        if "device" in labels:  # an alert about a device names it, its place, and its fault
            assert labels.keys() >= DEVICE_LABELS, where
        if "charger" in labels:  # the same for a charger
            assert labels.keys() >= CHARGER_LABELS, where
    assert seen > 20


def test_every_rules_file_has_a_test_file_firing_each_of_its_alerts() -> None:
    fired: dict[Path, set[str]] = {}
    for path, name, _ in expected_alerts():
        fired.setdefault(path, set()).add(name)
    missing = []
    for rules_file in RULE_FILES:
        test_file = TESTS / rules_file.name.replace(".rules.yml", ".test.yml")
        if not test_file.is_file():
            missing.append(f"{rules_file.name}: no {test_file.relative_to(REPO)}")
            continue
        loaded = {(TESTS / f).resolve() for f in load(test_file)["rule_files"]}
        if rules_file.resolve() not in loaded:
            missing.append(f"{test_file.name} does not load {rules_file.name}")
        for rule in rules_of(rules_file):
            if "alert" in rule and rule["alert"] not in fired.get(test_file, set()):
                missing.append(f"{test_file.name} never expects {rule['alert']} to fire")
    assert not missing, "\n".join(missing)


def test_every_recording_rule_is_checked_by_a_promql_test() -> None:
    exprs = [
        case["expr"]
        for path in TEST_FILES
        for group in load(path)["tests"]
        for case in group.get("promql_expr_test", [])
    ]
    records = [rule["record"] for path in RULE_FILES for rule in rules_of(path) if "record" in rule]
    assert records
    unchecked = [r for r in records if not any(re.search(rf"{re.escape(r)}\b", e) for e in exprs)]
    assert not unchecked, f"no promql_expr_test reads {unchecked}"


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_unit_tests_order_every_group_they_load(path: Path) -> None:
    """promtool sorts groups by group_eval_order and shuffles the rest: a recording rule evaluated
    after the alert that reads it makes a test pass or fail at random."""
    test = load(path)
    groups = [group for rules_file in test["rule_files"] for group in load(TESTS / rules_file)["groups"]]
    order = test.get("group_eval_order", [])
    assert sorted(order) == sorted(g["name"] for g in groups), f"{path.name}: group_eval_order {order}"
    recording = [g["name"] for g in groups if all("record" in rule for rule in g["rules"])]
    assert order[: len(recording)] == recording, f"{path.name}: recording groups first: {recording}"


# A real Alertmanager with the example configuration: are the right alerts inhibited?


def post(manager: Alertmanager, *alerts: dict[str, str]) -> None:
    now = dt.datetime.now(dt.UTC)
    manager.api(
        "alerts",
        [
            {"labels": labels, "startsAt": now.isoformat(), "endsAt": (now + dt.timedelta(hours=1)).isoformat()}
            for labels in alerts
        ],
    )


def states(manager: Alertmanager) -> dict[str, str]:
    """alert key (alertname/device/root_cause) -> "active" or "suppressed"."""
    return {key(alert["labels"]): alert["status"]["state"] for alert in manager.alerts()}


def key(labels: dict[str, str]) -> str:
    return "/".join(labels.get(name, "") for name in ("alertname", "device", "root_cause"))


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    # Its webhooks point at 127.0.0.1:9095, where nothing listens; the test is over before the
    # first group_wait (30 s) would try them.
    manager = Alertmanager(tmp_path, ALERTMANAGER_CONFIG.read_text())
    try:
        yield manager
    finally:
        manager.stop()


DIST_003 = {"kind": "distribution_switch", "site": "Verteiler Nordstadt 3", "district": "Nordstadt"}
FIBRE_CUT = [
    {"alertname": "StadtnetzDeviceDown", "severity": "critical", "team": "backbone", "device": "dist-003",
     "root_cause": "dist-003", "status": "down", **DIST_003},
    {"alertname": "StadtnetzBackboneLinkDown", "severity": "critical", "team": "backbone", "device": "core-3",
     "root_cause": "dist-003", "kind": "core_router", "site": "PoP Nordstadt", "district": "Nordstadt",
     "interface": "TenGigE0/0/0/2", "alias": "Uplink dist-003"},
    {"alertname": "StadtnetzSiteUnreachable", "severity": "critical", "team": "backbone", "root_cause": "dist-003",
     **DIST_003},
    # the down switch's own warning (errors counted before it fell silent)
    {"alertname": "StadtnetzInterfaceErrors", "severity": "warning", "team": "backbone", "device": "dist-003",
     "root_cause": "dist-003", "interface": "GigabitEthernet1/0/5", **DIST_003},
]  # fmt: skip
OTHERS = [
    # devices unreachable behind a switch whose own DeviceDown does not fire: never inhibited
    {"alertname": "StadtnetzSiteUnreachable", "severity": "critical", "team": "backbone", "root_cause": "dist-005"},
    # a warning of a device with no critical alert
    {"alertname": "StadtnetzHotspotDegraded", "severity": "warning", "team": "wlan", "device": "hs-0012",
     "root_cause": "hs-0012", "kind": "hotspot", "site": "Marktplatz Altstadt", "district": "Altstadt"},
    {"alertname": "StadtnetzSchedulerLagging", "severity": "warning", "team": "ops", "instance": "127.0.0.1:9873"},
    {"alertname": "StadtnetzLinkUtilisationHigh", "severity": "info", "team": "planning", "device": "core-1",
     "root_cause": "core-1", "interface": "TenGigE0/0/0/1"},
    # a charger's own fault (no device label: not inhibited by a critical alert of some device)
    {"alertname": "StadtnetzChargerOffline", "severity": "warning", "team": "charging", "charger": "cp-0101",
     "root_cause": "cp-0101", "status": "offline", "site": "Parkhaus Altstadt", "district": "Altstadt"},
]  # fmt: skip
COLLECTOR_DOWN = {"alertname": "StadtnetzCollectorDown", "severity": "critical", "team": "ops",
                  "job": "stadtnetz", "instance": "127.0.0.1:9873"}  # fmt: skip


def test_alertmanager_inhibits_what_a_root_cause_explains_and_nothing_else(alertmanager: Alertmanager) -> None:
    post(alertmanager, *FIBRE_CUT, *OTHERS)
    expected = {
        "StadtnetzDeviceDown/dist-003/dist-003": "active",
        "StadtnetzBackboneLinkDown/core-3/dist-003": "suppressed",  # the far end is down
        "StadtnetzSiteUnreachable//dist-003": "suppressed",  # its root cause's DeviceDown fires
        "StadtnetzInterfaceErrors/dist-003/dist-003": "suppressed",  # the device's critical alert
        "StadtnetzSiteUnreachable//dist-005": "active",  # no DeviceDown: the safety net
        "StadtnetzHotspotDegraded/hs-0012/hs-0012": "active",
        "StadtnetzSchedulerLagging//": "active",
        "StadtnetzLinkUtilisationHigh/core-1/core-1": "active",
        "StadtnetzChargerOffline//cp-0101": "active",
    }
    seen: dict[str, str] = {}

    def settled() -> bool:  # the inhibitor takes in new alerts asynchronously
        seen.update(states(alertmanager))
        return seen == expected

    try:
        wait_until(settled, 10, "inhibition")
    except TimeoutError:
        assert seen == expected

    # The collector goes blind: every device alert of the teams is held back, not its own
    # warnings (CollectorDown has no device label, which must not count as "equal"), nor the
    # planning report.
    post(alertmanager, COLLECTOR_DOWN)
    expected = {
        **{name: "suppressed" for name in expected},
        "StadtnetzCollectorDown//": "active",
        "StadtnetzSchedulerLagging//": "active",
        "StadtnetzLinkUtilisationHigh/core-1/core-1": "active",
    }
    try:
        wait_until(settled, 10, "inhibition by CollectorDown")
    except TimeoutError:
        assert seen == expected


def test_most_chargers_offline_at_once_holds_back_that_collectors_charger_tickets(alertmanager: Alertmanager) -> None:
    def offline(charger: str, instance: str) -> dict[str, str]:
        return {"alertname": "StadtnetzChargerOffline", "severity": "warning", "team": "charging", "charger": charger,
                "root_cause": charger, "job": "stadtnetz", "instance": instance}  # fmt: skip

    together = {"alertname": "StadtnetzChargersOfflineTogether", "severity": "critical", "team": "ops",
                "job": "stadtnetz", "instance": "a:9873"}  # fmt: skip
    post(alertmanager, together, offline("cp-a1", "a:9873"), offline("cp-a2", "a:9873"), offline("cp-b1", "b:9873"))
    expected = {
        "StadtnetzChargersOfflineTogether//": "active",
        "StadtnetzChargerOffline//cp-a1": "suppressed",
        "StadtnetzChargerOffline//cp-a2": "suppressed",
        "StadtnetzChargerOffline//cp-b1": "active",  # another collector's charger: its own ticket
    }
    seen: dict[str, str] = {}

    def settled() -> bool:
        seen.update(states(alertmanager))
        return seen == expected

    try:
        wait_until(settled, 10, "inhibition by ChargersOfflineTogether")
    except TimeoutError:
        assert seen == expected
