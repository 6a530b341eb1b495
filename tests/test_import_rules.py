"""The house's import rules: dependencies point one way, and a test fails on an import that points back up.

The rules are not written here. Each room (a package) says in its ``__init__.py`` docstring what it may import,
on a line ``May import: ...``; a module may say it for itself in its own docstring (the composition roots do).
The words on that line: ``kernel`` (the modules directly in ``stadtnetz/``), a room or module by its dotted name,
``everything``, or ``everything but <room>, ...``. A module may always import its own room, the standard library
and third-party packages (with the exceptions in ``THIRD_PARTY_ONLY_IN``).

Every ``import`` and ``from ... import`` of every module is read with ``ast``, including imports inside functions
and under ``TYPE_CHECKING``: a late import is still a dependency. Three more checks: no import cycle between
modules, no ``importlib``/``__import__`` that would hide an import from this test, and no module importing its
own package's ``__init__`` (the re-exports there are for callers outside the room).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("stadtnetz", "collectors", "exporters", "simulators")
KERNEL = "stadtnetz"
MAY_IMPORT = re.compile(r"^May import: (?P<rule>.+?)\.?\s*$", re.MULTILINE)
# Third-party packages only some modules may use (prefixes of module names).
THIRD_PARTY_ONLY_IN = {
    "click": ("stadtnetz.cli",),
    "rich": ("stadtnetz.cli",),
    "aiohttp": (
        "stadtnetz.app.web", "stadtnetz.app.service", "stadtnetz.app.http_cache", "stadtnetz.app.opendata",
        "simulators.control",
    ),
    "grafana_foundation_sdk": ("exporters.grafana",),  # the dashboard builder only, never the service
}


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


@dataclass(frozen=True)
class Rule:
    everything: bool
    allowed: frozenset[str]  # rooms (package names) and single modules; "kernel" stands for the kernel room
    but: frozenset[str]  # with everything: the rooms excepted

    def allows(self, target_module: str, target_room: str) -> bool:
        if self.everything:
            return not any(within(target_module, room) for room in self.but)
        if target_room == KERNEL and "kernel" in self.allowed:
            return True
        return target_room in self.allowed or any(within(target_module, a) for a in self.allowed if a != "kernel")

    def text(self) -> str:
        if self.everything:
            return "everything" + (f" but {', '.join(sorted(self.but))}" if self.but else "")
        return ", ".join(sorted(self.allowed))


def parse_rule(text: str, where: str) -> Rule:
    words = [w.strip() for w in text.split(",")]
    if words[0].startswith("everything"):
        first = words[0].removeprefix("everything").strip()
        but = [first.removeprefix("but").strip(), *words[1:]] if first else []
        if first and not first.startswith("but"):
            raise AssertionError(f"{where}: cannot read the rule {text!r}")
        return Rule(True, frozenset(), frozenset(b for b in but if b))
    for word in words:
        if word != "kernel" and word not in modules():
            raise AssertionError(f"{where}: 'May import: {text}' names {word!r}, which is no module or room")
    return Rule(False, frozenset(words), frozenset())


def docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


@cache
def rooms() -> dict[str, Rule]:
    """Every package with a ``May import:`` line in its ``__init__`` docstring, and the rule it gives."""
    found = {}
    for name, path in modules().items():
        if path.name == "__init__.py" and (match := MAY_IMPORT.search(docstring(path))):
            found[name] = parse_rule(match["rule"], str(path.relative_to(REPO)))
    return found


def room_of(module: str) -> str:
    return max((room for room in rooms() if within(module, room)), key=len)


@cache
def rule_of(module: str) -> Rule:
    own = MAY_IMPORT.search(docstring(modules()[module]))
    if own and modules()[module].name != "__init__.py":
        return parse_rule(own["rule"], str(modules()[module].relative_to(REPO)))
    return rooms()[room_of(module)]


def owning_module(name: str) -> str | None:
    """The project module ``name`` is or is part of (``exporters.prometheus.CONTENT_TYPE``: that module)."""
    while name:
        if name in modules():
            return name
        name = name.rpartition(".")[0]
    return None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str  # a project module, or a third-party/stdlib top-level name
    line: int
    from_package_init: bool = False  # `from pkg import name` where name is not a submodule of pkg


@cache
def edges_of(module: str) -> list[Edge]:
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Edge] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend(Edge(module, owning_module(a.name) or a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                if f"{base}.{alias.name}" in modules():  # `from pkg import module`
                    found.append(Edge(module, f"{base}.{alias.name}", node.lineno))
                else:
                    target = owning_module(base) or base
                    found.append(Edge(module, target, node.lineno, from_package_init=base in modules()
                                      and modules()[base].name == "__init__.py"))
    return found


@cache
def project_edges() -> list[Edge]:
    edges = {e for m in modules() for e in edges_of(m) if e.target in modules() and e.target != e.source}
    return sorted(edges, key=lambda e: (e.source, e.line, e.target))


def violations() -> list[str]:
    found = []
    for edge in project_edges():
        rule = rule_of(edge.source)
        source_room, target_room = room_of(edge.source), room_of(edge.target)
        where = f"{modules()[edge.source].relative_to(REPO)}:{edge.line}"
        if edge.from_package_init and within(edge.source, edge.target) and edge.target != KERNEL:
            found.append(f"{where}: {edge.source} imports from its own package's __init__ ({edge.target}); "
                         "import the module that defines the name")
        if target_room != source_room and not rule.allows(edge.target, target_room):
            found.append(f"{where}: {edge.source} (room {source_room}) imports {edge.target}; "
                         f"{source_room if rule is rooms()[source_room] else edge.source} may import: {rule.text()}")
    for module in modules():
        for edge in edges_of(module):
            top = edge.target.split(".")[0]
            if top in THIRD_PARTY_ONLY_IN and not within(module, *THIRD_PARTY_ONLY_IN[top]):
                found.append(f"{modules()[module].relative_to(REPO)}:{edge.line}: {module} imports {top}, which only "
                             f"{', '.join(THIRD_PARTY_ONLY_IN[top])} may use")
    return found


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for edge in project_edges():
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for node in graph:
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_every_package_is_read_and_every_module_has_a_room() -> None:
    names = set(modules())
    assert len(names) > 60
    assert {"stadtnetz.status.state", "collectors.snmp.codec", "exporters.prometheus", "simulators.city"} <= names
    assert set(rooms()) >= {
        "stadtnetz", "stadtnetz.config", "stadtnetz.status", "stadtnetz.history", "stadtnetz.app", "stadtnetz.cli",
        "collectors", "exporters", "simulators",
    }
    edges = {(e.source, e.target) for e in project_edges()}
    assert ("stadtnetz.app.service", "collectors.ocpp") in edges
    assert ("collectors.snmp.poller", "stadtnetz.status.state") in edges


def test_imports_point_one_way() -> None:
    found = violations()
    assert not found, "imports that point back up:\n" + "\n".join(found)


def test_no_import_cycles() -> None:
    found = cycles()
    assert not found, "modules that import each other (directly or around a circle): " + "; ".join(
        " <-> ".join(c) for c in found
    )


def test_no_hidden_imports() -> None:
    hidden = []
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            ):
                hidden.append(f"{path.relative_to(REPO)}:{node.lineno}: {module}")
    assert not hidden, "imports this test cannot see: " + ", ".join(hidden)


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("stadtnetz.status.state", "collectors.traps", False),  # the core never imports a collector
        ("stadtnetz.app.web", "exporters.prometheus", False),  # the exposition is handed in by the service
        ("exporters.influx", "collectors.ocpp", False),  # exporters and collectors never import each other
        ("collectors.ocpp", "stadtnetz.app.service", False),
        ("collectors.ocpp", "stadtnetz.config.loader", False),
        ("stadtnetz.config.loader", "stadtnetz.status.state", False),
        ("stadtnetz.history.store", "stadtnetz.app.scheduler", False),
        ("stadtnetz.model", "stadtnetz.status.topology", False),  # the kernel imports only the kernel
        ("simulators.chargers", "collectors.ocpp", False),
        ("stadtnetz.app.service", "stadtnetz.cli.commands", False),
        ("stadtnetz.app.service", "collectors.traps", True),  # the composition root wires everything
        ("stadtnetz.cli.commands", "simulators.runner", True),
        ("simulators.mib", "collectors.snmp.codec", True),
        ("exporters.influx", "stadtnetz.status.topology", True),
        ("stadtnetz.history.store", "stadtnetz.status.topology", True),
        ("collectors.snmp.poller", "stadtnetz.model", True),
    ],
)
def test_the_rules_decide_as_the_rooms_say(source: str, target: str, allowed: bool) -> None:
    assert rule_of(source).allows(target, room_of(target)) is allowed


def test_a_rule_naming_nothing_is_refused() -> None:
    with pytest.raises(AssertionError, match="no module or room"):
        parse_rule("kernel, stadtnetz.nowhere", "x.py")
