"""Every query of every dashboard panel, run against a real Prometheus scraping the demo: each returns data.

No Grafana server can run here, so the dashboards are proven by their queries: the demo (simulated city, the
service, its chargers over OCPP; 120 devices polled every 5 s, with a history file seeded with three hours of
connector availability and one maintenance window open) is scraped every 2 s by a real Prometheus that loads
the alert rules as ``stadtnetz dashboards build`` writes them (every ``for:`` divided by 20, as in
tests/test_alerts_e2e.py). A fibre cut under a distribution switch and a faulted charger connector are switched
on; once the data is there (bounded by a deadline), every target of every dashboard is run with its variables
substituted as Grafana would (``$job`` the scrape job, ``$instance``/``$district``/``$kind`` "All" = ``.*``,
``$__rate_interval`` 4 scrape intervals, ``$__range`` the last minute) through ``/api/v1/query`` (and
``/api/v1/query_range`` over the last minute for time series). Must show: status success and a non-empty
result for each, the panel's unit that of the metric (tests/support/dashboards.py's table), and every metric a
query names on the demo's /metrics (or recorded by the rules).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporters.grafana.mixin import DEFAULT, alert_rules
from simulators.city import generate_city
from stadtnetz.clock import ManualClock
from stadtnetz.history import HistoryStore
from stadtnetz.maintenance import DeviceMatch, MaintenanceWindow
from stadtnetz.status.chargers import connector_key
from stadtnetz.status.topology import DeviceStatus, Status
from tests.support.dashboards import expected_units, load, metric_names, substitute, targets
from tests.support.demo import ThreadedDemo
from tests.support.processes import wait_until
from tests.support.prometheus import Prometheus

DEVICES = 120
SEED = 1
INTERVAL = 5.0  # the demo's poll interval
SCRAPE = 2  # Prometheus' scrape and evaluation interval, seconds
SPEEDUP = 20  # every for: divided by this
RANGE = 60  # seconds: $__range, and the span of the range queries
JOB = DEFAULT.job


def _seconds(duration: str) -> float:
    return sum(int(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[u]
               for n, u in re.findall(r"(\d+)(ms|s|m|h|d)", duration))


def fast_rules(directory: Path) -> list[Path]:
    """The rule files `stadtnetz dashboards build` writes (default job), each ``for:`` divided by SPEEDUP."""
    written = []
    for name, text in alert_rules(DEFAULT).items():
        rules = yaml.safe_load(text)
        for group in rules["groups"]:
            group.pop("interval", None)  # the planning group's 5m: evaluated with the others here
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = f"{max(1, round(_seconds(rule['for']) / SPEEDUP))}s"
        path = directory / name
        path.write_text(yaml.safe_dump(rules, sort_keys=False, allow_unicode=True))
        written.append(path)
    return written


def seed_history(path: Path, now: float) -> str:
    """Three hours of connector availability in the history file, through the history's own writer: every
    connector available, one of them out of order for an hour (below the 97 % target). Returns that one."""
    city = generate_city(DEVICES, SEED)
    clock = ManualClock(now - 3 * 3600)
    store = HistoryStore(path, clock)
    unknown, up = DeviceStatus(Status.UNKNOWN), DeviceStatus(Status.UP)
    poor = connector_key(city.chargers[-1].id, 1)
    for charger in city.chargers:
        for number in range(1, charger.connectors + 1):
            store.record_transition(connector_key(charger.id, number), unknown, up, clock.time())
    down = DeviceStatus(Status.DOWN, city.chargers[-1].id)
    store.record_transition(poor, up, down, now - 2.5 * 3600, "Faulted (test)")
    store.record_transition(poor, down, up, now - 1.5 * 3600)
    clock.set(now - 30)
    store.close()
    return poor


def _query(prometheus: Prometheus, path: str, **params: str) -> dict[str, Any]:
    url = f"{prometheus.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:  # 400 for a bad query: the error is in the body
        return json.load(exc)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadedDemo, Prometheus]]:
    directory = tmp_path_factory.mktemp("dashboards-e2e")
    now = time.time()
    poor = seed_history(directory / "history.sqlite", now)
    city = generate_city(DEVICES, SEED)
    kinds = {d.id: d.kind for d in city.devices}
    upstream = {d.id: d.upstream for d in city.devices}

    def below(root: str) -> list[str]:
        return [d for d in upstream if d != root and _ancestor(upstream, d, root)]

    switch = next(d.id for d in city.devices if d.kind == "distribution_switch"
                  and sum(kinds[c] == "hotspot" for c in below(d.id)) >= 3
                  and all(kinds[c] != "charger_modem" for c in below(d.id)))
    hotspot_in_maintenance = next(d for d in upstream if kinds[d] == "hotspot" and d not in below(switch))
    faulted = next(c.id for c in city.chargers if c.id != poor.split("/")[0])
    window = MaintenanceWindow(
        name="splice-test",
        match=DeviceMatch(devices=frozenset({hotspot_in_maintenance})),
        reason="test",
        start=dt.datetime.fromtimestamp(now - 3600, dt.UTC),
        end=dt.datetime.fromtimestamp(now + 3600, dt.UTC),
    )
    demo = ThreadedDemo(
        devices=DEVICES, seed=SEED, interval=INTERVAL, ocpp_port=0, heartbeat_interval=1.0, charger_tick=0.5,
        history=directory / "history.sqlite", maintenance=[window],
    )
    prometheus = None
    try:
        target = urllib.parse.urlsplit(demo.url).netloc
        rules = fast_rules(directory)
        prometheus = Prometheus(directory / "prometheus", yaml.safe_dump({
            "global": {"scrape_interval": f"{SCRAPE}s", "evaluation_interval": f"{SCRAPE}s",
                       "scrape_timeout": f"{SCRAPE}s"},
            "rule_files": [str(path) for path in rules],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}],
        }))
        wait_until(lambda: bool(prometheus.query('count(stadtnetz_device_status{status="up"}) > 100')), 60,
                   "the city up in Prometheus")
        assert demo.scenario(f"fibre-cut {switch}")[0] == 200
        assert demo.scenario(f"charger-fault {faulted} connector=1 error=GroundFailure vendor=E-17")[0] == 200

        def ready() -> bool:
            return all(prometheus.query(q) for q in (
                f'ALERTS{{alertname="StadtnetzDeviceDown", alertstate="firing", device="{switch}"}}',
                f'stadtnetz_charger_connector_status{{charger="{faulted}", status="Faulted"}}',
                'stadtnetz_charger_connector_availability_ratio < 0.97',
                'count(stadtnetz_device_status{status="unreachable"})',
                "stadtnetz_planning_addresses",
                # a minute of scrapes after the cut: rates over $__rate_interval, ranges over $__range
                'count_over_time(stadtnetz:unreachable_devices:count[1m]) > 8',
            ))

        wait_until(ready, 80, "the fault's alert, the faulted connector and a minute of data in Prometheus")
        yield demo, prometheus
    finally:
        if prometheus is not None:
            prometheus.stop()
        demo.close()


def _ancestor(upstream: dict[str, str | None], device: str, root: str) -> bool:
    current = upstream.get(device)
    while current is not None:
        if current == root:
            return True
        current = upstream.get(current)
    return False


def test_every_query_of_every_panel_returns_data_in_the_panels_unit(stack: tuple[ThreadedDemo, Prometheus]) -> None:
    demo, prometheus = stack
    models = load()
    assert set(models) == {"overview", "backbone", "wlan", "chargers", "planning", "collector"}
    exposed = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", demo.metrics(), re.MULTILINE))
    recorded = {rule["record"] for text in alert_rules(DEFAULT).values()
                for group in yaml.safe_load(text)["groups"] for rule in group["rules"] if "record" in rule}
    problems: list[str] = []
    checked = 0
    end = time.time()
    for target in targets(models):
        expr = substitute(target.expr, JOB, SCRAPE, RANGE)
        checked += 1
        answer = _query(prometheus, "query", query=expr, time=str(end))
        if answer.get("status") != "success":
            problems.append(f"{target.where}: {answer.get('error')} in {expr}")
            continue
        if not answer["data"]["result"]:
            problems.append(f"{target.where}: no data for {expr}")
        if target.is_range:
            ranged = _query(prometheus, "query_range", query=expr, start=str(end - RANGE), end=str(end),
                            step=str(SCRAPE))
            if ranged.get("status") != "success" or not ranged["data"]["result"]:
                problems.append(f"{target.where}: no data over the last minute for {expr}: {ranged.get('error')}")
        units = expected_units(target.expr)
        if target.unit not in units:
            problems.append(f"{target.where}: unit {target.unit!r}, but its value is in {sorted(units)}: {expr}")
        for name in metric_names(target.expr):
            if name not in {"ALERTS", "up", "scrape_duration_seconds"} and name not in exposed | recorded:
                problems.append(f"{target.where}: {name} is not on the demo's /metrics")
    assert checked >= 60
    print(f"\n{checked} queries of {sum(len(m['panels']) for m in models.values())} panels checked")
    assert not problems, f"{len(problems)} of {checked} queries:\n" + "\n".join(problems)
