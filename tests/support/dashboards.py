"""Reading the generated Grafana dashboards in tests: their panels and targets, the variables substituted, the
metric names a query reads, and the unit a query's value has by those names (the table the tests judge units by).

The unit of a query is derived from the first metric it names (the value; joins and filters come after it in
every stadtnetz query) and what is done to it:

| the first metric, and around it | unit (Grafana's unit id) |
|---|---|
| inside ``count(...)`` | ``short`` / ``none`` |
| ``rate(X_bytes_total)`` | ``Bps`` / ``binBps`` |
| ``rate(X_joules_total)`` | ``watt`` |
| ``rate(X_seconds_total)`` (seconds per second) | ``percentunit`` |
| ``rate(X_total)`` of other counts | ``cps`` / ``ops`` / ``reqps`` |
| ``histogram_quantile(..., rate(X_seconds_bucket))`` | ``s`` |
| ``time() - X_timestamp_seconds`` | ``s`` |
| ``X_dbm - on(...) Y_dbm`` (a margin) | ``dB`` |
| ``X_seconds`` / ``X_bytes`` / ``X_ratio`` | ``s`` / ``bytes``, ``decbytes`` / ``percentunit`` |
| ``X_dbm`` / ``X_euros`` / ``X_joules_total`` (the meter) | ``dBm`` / ``currencyEUR`` / ``joule`` |
| anything else (status, info, clients, addresses, counts) | ``short`` / ``none`` |
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "dashboards"
METRIC = re.compile(r"\b(ALERTS|up|scrape_duration_seconds|process_[a-z_]+|stadtnetz[a-z0-9_:]*)(?=\s*\{)")
BARE_METRIC = re.compile(r"\b(stadtnetz_[a-z0-9_]+|process_[a-z_]+)\b(?!\s*\{)")
SELECTOR = re.compile(r"\b([a-zA-Z_][a-zA-Z0-9_:]*)\{([^}]*)\}")


@dataclass(frozen=True)
class Target:
    dashboard: str
    panel: dict[str, Any]
    target: dict[str, Any]

    @property
    def expr(self) -> str:
        return str(self.target["expr"])

    @property
    def ref(self) -> str:
        return str(self.target["refId"])

    @property
    def where(self) -> str:
        return f"{self.dashboard} / panel {self.panel['id']} {self.panel['title']!r} / query {self.ref}"

    @property
    def is_range(self) -> bool:
        return bool(self.target.get("range"))

    @property
    def unit(self) -> str:
        """The panel's unit for this query: an override by its refId, else the panel's default."""
        for override in self.panel.get("fieldConfig", {}).get("overrides", []):
            matcher = override.get("matcher", {})
            if matcher.get("id") == "byFrameRefID" and matcher.get("options") == self.ref:
                for prop in override.get("properties", []):
                    if prop.get("id") == "unit":
                        return str(prop["value"])
        return str(self.panel.get("fieldConfig", {}).get("defaults", {}).get("unit", ""))


def load(folder: Path = DASHBOARD_DIR) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a row's


def targets(models: dict[str, dict[str, Any]]) -> Iterator[Target]:
    for name, model in models.items():
        for panel in panels(model):
            for target in panel.get("targets", []):
                yield Target(name, panel, target)


def substitute(expr: str, job: str, scrape_seconds: float, range_seconds: float, instance: str = ".*") -> str:
    """The query as Grafana would send it: the variables replaced (All is ``.*``)."""
    values = {
        "$__rate_interval": f"{round(4 * scrape_seconds)}s",
        "$__interval": f"{round(scrape_seconds)}s",
        "$__range": f"{round(range_seconds)}s",
        "$job": job,
        "$instance": instance,
        "$district": ".*",
        "$kind": ".*",
    }
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    return expr


def metric_names(expr: str) -> list[str]:
    """The metrics a query selects, in order of appearance."""
    return [match.group(1) for match in METRIC.finditer(expr)]


def expected_units(expr: str) -> set[str]:
    """The units the query's value may be shown in, by the table in this module's docstring."""
    first = METRIC.search(expr)
    assert first is not None, f"no metric in {expr!r}"
    name, before = first.group(1), expr[: first.start()]
    if re.search(r"\bcount\s*(by|without)?\s*(\([^()]*\))?\s*\(\s*$", before):
        return {"short", "none"}
    if re.search(r"\b(i?rate)\(\s*$", before):
        if name.endswith("_bucket") and "histogram_quantile" in before:
            return _plain(name.removesuffix("_bucket"), expr)
        for suffix, units in (("_bytes_total", {"Bps", "binBps"}), ("_joules_total", {"watt"}),
                              ("_seconds_total", {"percentunit"})):
            if name.endswith(suffix):
                return units
        return {"cps", "ops", "reqps"}
    if re.search(r"\bincrease\(\s*$", before):
        return {"joule"} if name.endswith("_joules_total") else {"short", "none"}
    if name.endswith("_timestamp_seconds") and re.search(r"time\(\)\s*-\s*(max\(|min\()?\s*$", before):
        return {"s"}
    return _plain(name, expr)


def _plain(name: str, expr: str) -> set[str]:
    if name.endswith("_dbm") and re.search(r"_dbm\{[^}]*\}\s*-\s*on\([^)]*\)\s*group_left\(\)\s*\w+_dbm", expr):
        return {"dB"}
    for suffix, units in (
        ("_timestamp_seconds", {"dateTimeAsIso", "dateTimeFromNow"}),
        ("_seconds", {"s"}),
        ("_bytes", {"bytes", "decbytes"}),
        ("_ratio", {"percentunit"}),
        ("_dbm", {"dBm"}),
        ("_euros", {"currencyEUR"}),
        ("_joules_total", {"joule"}),
    ):
        if name.endswith(suffix):
            return units
    return {"short", "none"}
