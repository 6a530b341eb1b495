"""The Grafana dashboards as code: built deterministically, linted as Grafana's dashboard-linter would, valid
against Grafana's own TypeScript types, one job for dashboards and alert rules, and uploaded over the HTTP API.

No Grafana server can run here (tests/test_dashboards_e2e.py proves every query against a real Prometheus);
these tests need no demo:

* the committed ``dashboards/`` are byte for byte what ``stadtnetz dashboards build`` writes, and with ``--out``
  and no ``--job`` the rules it writes are ``config/alerts/`` byte for byte;
* ``--job city`` changes the job everywhere at once: every job matcher of every rule, every dashboard's job
  variable; ``promtool check rules`` passes on what it writes;
* dashboard-linter's rules as tests: a templated Prometheus datasource on every panel and query; the job,
  instance (and, where used, district and kind) variables; ``job=~"$job"`` and ``instance=~"$instance"`` on
  every selector of a stadtnetz series; ``$__rate_interval`` in every ``rate``/``irate``/``increase``; a title
  and a unit on every panel (tables included: the unit of their value column; there are no text panels);
  unique panel ids; valid PromQL (``promtool check rules`` over every expression as a recording rule);
* ``tsc --noEmit --strict`` accepts each dashboard as ``@grafana/schema``'s ``Dashboard`` type (tests/schema/,
  installed by scripts/install-test-deps.sh) and refuses a mutated one;
* ``stadtnetz dashboards upload`` against :class:`FakeGrafana`: dashboards arrive intact, a wrong token is exit 1
  with a clear message, the token never printed.
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from exporters.grafana.build import DASHBOARD_PROVIDER, DATASOURCE_PROVIDER, files
from exporters.grafana.mixin import BACKBONE_KINDS, BACKBONE_PORTS, DEFAULT, WLAN_KINDS, rule_files
from tests.support.dashboards import BARE_METRIC, DASHBOARD_DIR, REPO, SELECTOR, load, panels, substitute, targets

SCHEMA_DIR = REPO / "tests" / "schema"
TSC = SCHEMA_DIR / "node_modules" / ".bin" / "tsc"
RULES = REPO / "config" / "alerts"
# @grafana/schema's Dashboard as a JSON file can hold it: its string enums (MappingType, ...) read as their values
# ("value"), which is all a JSON file can hold; everything else (names, types, optional or required, no unknown
# property) is the type itself.
TS_PRELUDE = """import type { Dashboard } from "@grafana/schema";

type AsJson<T> = T extends string
  ? `${T}`
  : T extends readonly (infer U)[]
    ? AsJson<U>[]
    : T extends object
      ? { [K in keyof T]: AsJson<T[K]> }
      : T;
"""
JOB_MATCHER = re.compile(r"""\bjob\s*(=~|!~|!=|=)\s*"([^"]*)\"""")
OUR_SERIES = re.compile(r"^(stadtnetz|process_|up$|scrape_|ALERTS$)")


def stadtnetz(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stadtnetz.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=REPO)


@pytest.fixture(scope="module")
def models() -> dict[str, dict[str, Any]]:
    return load()


# --- built deterministically, one job ---


def test_the_committed_dashboards_are_what_the_build_writes() -> None:
    built = files(DEFAULT)
    committed = {str(p.relative_to(DASHBOARD_DIR)): p.read_text(encoding="utf-8")
                 for p in DASHBOARD_DIR.rglob("*") if p.is_file()}
    assert set(committed) == set(built), "run `stadtnetz dashboards build` and commit dashboards/"
    stale = [name for name in built if committed[name] != built[name]]
    assert not stale, f"dashboards/ differs from the build in {stale}: run `stadtnetz dashboards build`"
    assert {f"{name}.json" for name in ("overview", "backbone", "wlan", "chargers", "planning", "collector")} <= set(
        built)
    for name, text in built.items():
        assert text.endswith("\n") and not text.endswith("\n\n"), name
        if name.endswith(".json"):
            model = json.loads(text)
            assert text == json.dumps(model, sort_keys=True, indent=2, ensure_ascii=False) + "\n", name
            assert model["uid"] == f"stadtnetz-{name.removesuffix('.json')}"


def test_build_out_without_job_writes_the_committed_dashboards_and_rules(tmp_path: Path) -> None:
    result = stadtnetz("dashboards", "build", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for path in DASHBOARD_DIR.rglob("*.*"):
        assert (tmp_path / path.relative_to(DASHBOARD_DIR)).read_bytes() == path.read_bytes(), path
    rules = sorted(p.name for p in (tmp_path / "alerts").iterdir())
    assert rules == [p.name for p in rule_files()] and len(rules) >= 7
    for name in rules:
        assert (tmp_path / "alerts" / name).read_bytes() == (RULES / name).read_bytes(), name


def test_the_rules_select_the_job_only_with_the_mixins_selector() -> None:
    found = []
    for path in rule_files():
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                found += [(path.name, m.group(0)) for m in JOB_MATCHER.finditer(rule["expr"])]
    assert found, "no rule selects the job (StadtnetzCollectorDown does)"
    assert {selector for _, selector in found} == {DEFAULT.job_selector}, found
    # the selectors the panels share with the rules are written there character for character
    text = "".join(p.read_text(encoding="utf-8") for p in rule_files())
    for shared in (BACKBONE_PORTS, BACKBONE_KINDS, WLAN_KINDS):
        assert shared in text, shared


def test_job_city_changes_every_rule_and_every_dashboard(tmp_path: Path) -> None:
    result = stadtnetz("dashboards", "build", "--job", "city", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rule_paths = sorted((tmp_path / "alerts").glob("*.rules.yml"))
    matchers = []
    for path in rule_paths:
        text = path.read_text(encoding="utf-8")
        assert 'job="stadtnetz"' not in text, path
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                matchers += [(m.group(1), m.group(2)) for m in JOB_MATCHER.finditer(rule["expr"])]
    assert matchers and set(matchers) == {("=", "city")}, matchers
    collector = (tmp_path / "alerts" / "collector.rules.yml").read_text()
    assert 'up{job="city"} == 0 or absent(up{job="city"})' in collector
    check = subprocess.run(["promtool", "check", "rules", *map(str, rule_paths)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    city = load(tmp_path)
    for name, model in city.items():
        job = next(v for v in model["templating"]["list"] if v["name"] == "job")
        assert job["current"] == {"text": "city", "value": "city"}, name
    for target in targets(city):
        assert 'job=~"$job"' in target.expr, target.where
        assert "city" in substitute(target.expr, "city", 30, 3600), target.where
    # only the job differs from the committed dashboards
    committed = load()
    for name, model in city.items():
        for variable in model["templating"]["list"]:
            if variable["name"] == "job":
                variable["current"] = {"text": "stadtnetz", "value": "stadtnetz"}
        assert model == committed[name], name


def test_a_job_the_builder_cannot_use_and_job_without_out_are_usage_errors(tmp_path: Path) -> None:
    bad = stadtnetz("dashboards", "build", "--job", 'ci"ty', "--out", str(tmp_path))
    assert bad.returncode == 2 and "job" in bad.stderr and "Traceback" not in bad.stderr
    without_out = stadtnetz("dashboards", "build", "--job", "city")
    assert without_out.returncode == 2 and "--out" in without_out.stderr


def test_build_without_the_sdk_says_how_to_install_it(tmp_path: Path) -> None:
    shadow = tmp_path / "grafana_foundation_sdk"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('not installed (test)')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    result = stadtnetz("dashboards", "build", "--out", str(tmp_path / "out"), env=env)
    assert result.returncode == 2
    assert "pip install 'stadtnetz[dashboards]'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_basemap_url_makes_an_xyz_base_layer(tmp_path: Path) -> None:
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    assert stadtnetz("dashboards", "build", "--basemap-url", url, "--out", str(tmp_path)).returncode == 0
    geomaps = [p for p in panels(load(tmp_path)["wlan"]) if p["type"] == "geomap"]
    assert [p["options"]["basemap"] for p in geomaps] == [{"type": "xyz", "name": "Basemap",
                                                           "config": {"url": url, "attribution": ""}}]
    committed = [p for p in panels(load()["wlan"]) if p["type"] == "geomap"]
    assert [p["options"]["basemap"] for p in committed] == [{"type": "default", "name": "Basemap"}]


def test_provisioning_files() -> None:
    dashboards = yaml.safe_load(DASHBOARD_PROVIDER)
    provider = dashboards["providers"][0]
    assert (provider["type"], provider["folder"], provider["folderUid"]) == ("file", "Stadtnetz", "stadtnetz")
    assert provider["options"]["path"].startswith("/")
    datasource = yaml.safe_load(DATASOURCE_PROVIDER)["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "${PROMETHEUS_URL}"
    for model in load().values():
        variable = next(v for v in model["templating"]["list"] if v["name"] == "datasource")
        assert variable["current"]["value"] == datasource["uid"]


# --- dashboard-linter's rules ---


def test_every_dashboard_has_the_variables_its_queries_use(models: dict[str, dict[str, Any]]) -> None:
    for name, model in models.items():
        variables = {v["name"]: v for v in model["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
        for needed in ("job", "instance"):
            assert variables[needed]["type"] == "query", (name, needed)
            assert variables[needed]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert variables["instance"]["includeAll"] and variables["instance"]["allValue"] == ".*"
        used = {v for t in targets({name: model}) for v in re.findall(r"\$(\w+)", t.expr)}
        for variable in used - {"__rate_interval", "__range", "__interval"}:
            assert variable in variables, f"{name}: ${variable} is used but not defined"
        for variable in ("district", "kind"):
            if variable in variables:
                assert variable in used, f"{name}: ${variable} is defined but no query uses it"


def test_every_panel_and_query_reads_the_templated_datasource(models: dict[str, dict[str, Any]]) -> None:
    templated = {"type": "prometheus", "uid": "${datasource}"}
    for name, model in models.items():
        for panel in panels(model):
            assert panel["datasource"] == templated, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
    for target in targets(models):
        assert target.target["datasource"] == templated, target.where


def test_every_selector_of_our_series_carries_job_and_instance(models: dict[str, dict[str, Any]]) -> None:
    for target in targets(models):
        assert not BARE_METRIC.findall(target.expr), f"{target.where}: a metric without a selector"
        selectors = [(m.group(1), m.group(2)) for m in SELECTOR.finditer(target.expr) if OUR_SERIES.match(m.group(1))]
        assert selectors, target.where
        for metric, matchers in selectors:
            assert 'job=~"$job"' in matchers and 'instance=~"$instance"' in matchers, f"{target.where}: {metric}"


def test_rates_use_the_rate_interval(models: dict[str, dict[str, Any]]) -> None:
    rates = 0
    for target in targets(models):
        for match in re.finditer(r"\b(rate|irate|increase)\(", target.expr):
            window = re.match(r"[^\[]*\[([^\]]*)\]", target.expr[match.end():])
            assert window and window.group(1) == "$__rate_interval", f"{target.where}: {match.group(1)} over {window}"
            rates += 1
    assert rates >= 10


def test_every_panel_has_a_title_a_unit_and_a_unique_id_on_the_grid(models: dict[str, dict[str, Any]]) -> None:
    for name, model in models.items():
        ids = [p["id"] for p in panels(model)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids {ids}"
        cells: set[tuple[int, int]] = set()
        for panel in panels(model):
            assert panel["title"].strip(), (name, panel["id"])
            assert panel["fieldConfig"]["defaults"].get("unit", "").strip(), (name, panel["title"])
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            columns, lines = range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
            mine = {(x, y) for x in columns for y in lines}
            assert not cells & mine, f"{name}: {panel['title']!r} overlaps another panel"
            cells |= mine


def test_every_expression_is_valid_promql(models: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:check_{n}:value", "expr": substitute(t.expr, "stadtnetz", 30, 3600)}
             for n, t in enumerate(targets(models))]
    queries = [v["query"] for m in models.values() for v in m["templating"]["list"] if v["type"] == "query"]
    rules += [{"record": f"dashboard:variable_{n}:value",
               "expr": re.sub(r"label_values\((.*), \w+\)", r"\1", substitute(query, "stadtnetz", 30, 3600))}
              for n, query in enumerate(queries)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    check = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(rules)} rules found" in check.stdout


def test_a_broken_expression_is_refused_by_promtool(tmp_path: Path) -> None:
    path = tmp_path / "broken.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [
        {"record": "x:y:z", "expr": 'sum by (le) (rate(stadtnetz_polls_total{job=~"stadtnetz"}[8s])'}]}]}))
    assert subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True).returncode != 0


# --- Grafana's own types ---


def _tsc(folder: Path, models: dict[str, dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    if not TSC.exists():
        pytest.fail(f"{TSC} is missing: run scripts/install-test-deps.sh (npm ci in tests/schema)")
    folder.mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        literal = json.dumps(model, indent=2)
        (folder / f"{name}.ts").write_text(f"{TS_PRELUDE}\nexport const {name}: AsJson<Dashboard> = {literal};\n")
    schema = SCHEMA_DIR / "node_modules" / "@grafana" / "schema" / "dist" / "types" / "index.d.ts"
    (folder / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "target": "es2020", "module": "commonjs",
                            "moduleResolution": "node", "skipLibCheck": True, "types": [],
                            "baseUrl": ".", "paths": {"@grafana/schema": [str(schema)]}},
        "files": [f"{name}.ts" for name in models],
    }))
    return subprocess.run([str(TSC), "-p", str(folder / "tsconfig.json")], capture_output=True, text=True,
                          timeout=180)


def test_every_dashboard_is_a_grafana_schema_dashboard(models: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    result = _tsc(tmp_path / "ok", models)
    assert result.returncode == 0, result.stdout + result.stderr
    mutated = copy.deepcopy(models["wlan"])
    mutated["panels"][0]["gridPos"] = "0,0,4,4"
    broken = copy.deepcopy(models["overview"])
    del broken["panels"][1]["type"]  # required
    result = _tsc(tmp_path / "mutated", {"wlan": mutated, "overview": broken})
    assert result.returncode != 0
    assert re.search(r"wlan\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type '\{ h: number;",
                     result.stdout), result.stdout
    assert re.search(r"overview\.ts\(\d+,\d+\): error TS2322: ", result.stdout), result.stdout


def test_the_schema_check_is_pinned() -> None:
    package = json.loads((SCHEMA_DIR / "package.json").read_text())
    lock = json.loads((SCHEMA_DIR / "package-lock.json").read_text())
    for dependency, version in package["devDependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), dependency
        assert lock["packages"][f"node_modules/{dependency}"]["version"] == version


# --- upload ---


class FakeGrafana(http.server.ThreadingHTTPServer):
    """A fake Grafana because Grafana cannot run here (no package for this machine): the two HTTP API calls
    ``stadtnetz dashboards upload`` makes, answered as Grafana documents them (``POST /api/folders``: 200, or
    409 once the uid exists; ``POST /api/dashboards/db``: 200 with uid, url, version), the bearer token checked
    (401 otherwise), every request recorded."""

    TOKEN = "glsa_test-token-0123456789abcdef"

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.folders: set[str] = set()
        self.stored: dict[str, dict[str, Any]] = {}
        super().__init__(("127.0.0.1", 0), _FakeGrafanaHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _FakeGrafanaHandler(http.server.BaseHTTPRequestHandler):
    server: FakeGrafana
    protocol_version: ClassVar[str] = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.requests.append((self.path, self.headers.get("Authorization", ""), body))
        if self.headers.get("Authorization") != f"Bearer {FakeGrafana.TOKEN}":
            self._answer(401, {"message": "Unauthorized", "messageId": "auth.unauthorized"})
        elif self.path == "/api/folders":
            if body["uid"] in self.server.folders:
                self._answer(409, {"message": "a folder with the same uid already exists"})
            else:
                self.server.folders.add(body["uid"])
                self._answer(200, {"uid": body["uid"], "title": body["title"], "id": 1})
        elif self.path == "/api/dashboards/db":
            if body.get("folderUid") not in self.server.folders:
                self._answer(400, {"message": "folder not found"})
                return
            dashboard = body["dashboard"]
            version = self.server.stored.get(dashboard["uid"], {}).get("version", 0) + 1
            self.server.stored[dashboard["uid"]] = {**dashboard, "version": version}
            self._answer(200, {"id": len(self.server.stored), "uid": dashboard["uid"], "status": "success",
                               "url": f"/d/{dashboard['uid']}/x", "version": version})
        else:
            self._answer(404, {"message": "Not found"})


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    server = FakeGrafana()
    try:
        yield server
    finally:
        server.stop()


def test_upload_puts_every_dashboard_into_the_folder_intact(grafana: FakeGrafana, tmp_path: Path) -> None:
    env = {**os.environ, "GRAFANA_TOKEN": FakeGrafana.TOKEN}
    for _ in range(2):  # the second time the folder exists (409) and the dashboards are replaced
        result = stadtnetz("dashboards", "upload", "--grafana", grafana.url, "--token", "${GRAFANA_TOKEN}", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert FakeGrafana.TOKEN not in result.stdout + result.stderr
    assert "6 dashboards in folder 'Stadtnetz'" in result.stdout
    paths = [path for path, _, _ in grafana.requests]
    assert paths == (["/api/folders"] + ["/api/dashboards/db"] * 6) * 2
    assert {auth for _, auth, _ in grafana.requests} == {f"Bearer {FakeGrafana.TOKEN}"}
    committed = load()
    for path, _, body in grafana.requests:
        if path == "/api/dashboards/db":
            assert body["folderUid"] == "stadtnetz" and body["overwrite"] is True and body["message"]
            sent = dict(body["dashboard"])
            assert sent.pop("id") is None
            assert sent == next(m for m in committed.values() if m["uid"] == sent["uid"])
    assert {uid: d["version"] for uid, d in grafana.stored.items()} == {m["uid"]: 2 for m in committed.values()}
    # the token from a file works the same
    token_file = tmp_path / "token"
    token_file.write_text(FakeGrafana.TOKEN + "\n")
    result = stadtnetz("dashboards", "upload", "--grafana", grafana.url, "--token", f"file:{token_file}",
                       "--folder", "Netz")
    assert result.returncode == 0, result.stderr
    assert grafana.requests[-7][2] == {"uid": "stadtnetz", "title": "Netz"}


def test_upload_with_a_wrong_token_exits_1_and_never_shows_a_token(grafana: FakeGrafana) -> None:
    wrong = "glsa_wrong-token-fedcba9876543210"
    env = {**os.environ, "GRAFANA_TOKEN": wrong}
    result = stadtnetz("dashboards", "upload", "--grafana", grafana.url + "/", "--token", "${GRAFANA_TOKEN}", env=env)
    assert result.returncode == 1
    assert "refused the token (HTTP 401" in result.stderr and "Traceback" not in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert [path for path, _, _ in grafana.requests] == ["/api/folders"]  # stopped at the first refusal
    assert not grafana.stored


def test_upload_usage_errors(grafana: FakeGrafana, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRAFANA_TOKEN"}
    unset = stadtnetz("dashboards", "upload", "--grafana", grafana.url, "--token", "${GRAFANA_TOKEN}", env=env)
    assert unset.returncode == 2 and "GRAFANA_TOKEN is not set" in unset.stderr
    literal = stadtnetz("dashboards", "upload", "--grafana", grafana.url, "--token", FakeGrafana.TOKEN)
    assert literal.returncode == 2 and FakeGrafana.TOKEN not in literal.stdout + literal.stderr
    env["GRAFANA_TOKEN"] = FakeGrafana.TOKEN
    nothing = stadtnetz("dashboards", "upload", "--grafana", grafana.url, "--token", "${GRAFANA_TOKEN}",
                        "--dir", str(tmp_path), env=env)
    assert nothing.returncode == 1 and "no dashboard files" in nothing.stderr
    unreachable = stadtnetz("dashboards", "upload", "--grafana", "http://127.0.0.1:9", "--token", "${GRAFANA_TOKEN}",
                            env=env)
    assert unreachable.returncode == 1 and "cannot reach Grafana" in unreachable.stderr
    assert not grafana.requests


def test_upload_needs_no_sdk(grafana: FakeGrafana, tmp_path: Path) -> None:
    shadow = tmp_path / "grafana_foundation_sdk"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('not installed (test)')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}", "GRAFANA_TOKEN": FakeGrafana.TOKEN}
    result = stadtnetz("dashboards", "upload", "--grafana", grafana.url, "--token", "${GRAFANA_TOKEN}", env=env)
    assert result.returncode == 0, result.stderr


def test_the_node_toolchain_is_where_the_install_script_puts_it() -> None:
    script = (REPO / "scripts" / "install-test-deps.sh").read_text()
    assert "tests/schema" in script and "npm ci" in script
    assert shutil.which("node"), "node is missing: run scripts/install-test-deps.sh"


def test_device_location_info_has_the_inventorys_coordinates() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from stadtnetz.app.metrics import _DeviceLocationCollector
    from stadtnetz.model import Device

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DeviceLocationCollector([
        Device("hs-1", "hotspot", "127.0.0.1", site="Markt", district="Altstadt", lat=51.8412, lon=8.2601),
        Device("hs-2", "hotspot", "127.0.0.2"),  # no coordinates: no series
    ]))
    text = generate_latest(registry).decode()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == ['stadtnetz_device_location_info{device="hs-1",district="Altstadt",kind="hotspot",'
                       'latitude="51.8412",longitude="8.2601",site="Markt"} 1.0']
    lint = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert lint.returncode == 0 and not (lint.stdout + lint.stderr), lint.stdout + lint.stderr
