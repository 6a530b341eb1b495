"""The house's import rules: dependencies point one way, and a test fails on an import that points back up.

Every ``import`` and ``from ... import`` in every module of the four packages is read with ``ast``, including
imports inside functions and under ``TYPE_CHECKING``: a late import is still a dependency.

* ``collectors/`` and ``exporters/`` import the domain core of ``stadtnetz`` only, never each other, never
  ``simulators``, and never the application (service, CLI, web, demo, check).
* The core of ``stadtnetz`` imports neither collectors, exporters nor simulators. Only the composition roots do
  (the service, the CLI, the demo, and ``check``, which loads the profiles).
* ``simulators/`` speak the SNMP wire format (``collectors.snmp.codec`` and ``.types``: the simulated agents encode
  what the collector decodes) and use the core's clock and units; nothing else of collectors or exporters.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("stadtnetz", "collectors", "exporters", "simulators")
COMPOSITION_ROOTS = {"stadtnetz.app.service", "stadtnetz.app.demo", "stadtnetz.cli"}  # the CLI: all of stadtnetz.cli
APPLICATION = COMPOSITION_ROOTS | {"stadtnetz.app.web"}
SIMULATORS_MAY_USE = ("collectors.snmp.codec", "collectors.snmp.types")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; a relative import is resolved against its package)."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def modules() -> list[tuple[str, Path]]:
    return sorted((module_name(p), p) for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violation(module: str, imported: str) -> str | None:
    """Why ``module`` may not import ``imported``; None if it may."""
    top = module.split(".")[0]
    if top in ("collectors", "exporters"):
        other = "exporters" if top == "collectors" else "collectors"
        if within(imported, other, "simulators"):
            return f"{top} never import {imported.split('.')[0]}"
        if within(imported, *APPLICATION):
            return "collectors and exporters import the domain core, not the application"
    if top == "stadtnetz" and not within(module, *COMPOSITION_ROOTS) and within(
        imported, "collectors", "exporters", "simulators"
    ):
        return "the core never imports collectors, exporters or simulators; a composition root hands them in"
    if top == "simulators" and within(imported, "collectors", "exporters") and not within(
        imported, *SIMULATORS_MAY_USE
    ):
        return "simulators use only the SNMP wire format of the collectors"
    return None


def test_every_package_is_read() -> None:
    names = {name for name, _ in modules()}
    assert {"stadtnetz.status.state", "collectors.snmp.codec", "exporters.prometheus", "simulators.city"} <= names


@pytest.mark.parametrize(("module", "path"), modules(), ids=[name for name, _ in modules()])
def test_imports_point_one_way(module: str, path: Path) -> None:
    wrong = {
        imported: why for imported in sorted(imports_of(path)) if (why := violation(module, imported)) is not None
    }
    assert not wrong, f"{path.relative_to(REPO)} imports back up: {wrong}"


def test_the_rules_catch_a_back_import() -> None:
    assert violation("stadtnetz.status.state", "collectors.traps") is not None
    assert violation("stadtnetz.app.web", "exporters.prometheus.render_stream") is not None
    assert violation("exporters.influx", "collectors.ocpp") is not None
    assert violation("collectors.ocpp", "stadtnetz.app.service") is not None
    assert violation("simulators.chargers", "collectors.ocpp") is not None
    assert violation("stadtnetz.app.service", "collectors.traps") is None
    assert violation("simulators.mib", "collectors.snmp.codec") is None
