"""The README's "How it works" names real folders and files: every path it shows exists in the tree.

A file that moves or a room that is renamed makes this fail until the front door says where things are now.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOP = (
    "stadtnetz", "collectors", "exporters", "simulators", "config", "dashboards", "bench", "tests", "scripts", "docs",
)
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(TOP) + r")/[\w./*{},-]*)")


def section(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def expand(path: str) -> list[str]:
    """``collectors/{snmp,ping}`` -> both; a trailing ``/`` or ``.`` of the sentence is dropped."""
    path = path.rstrip(".,")
    match = re.search(r"\{([^}]*)\}", path)
    if not match:
        return [path]
    return [e for option in match[1].split(",") for e in expand(path[: match.start()] + option + path[match.end() :])]


def paths_in(text: str) -> set[str]:
    return {p for raw in PATH.findall(text) for p in expand(raw)}


def exists(path: str) -> bool:
    if "*" in path:
        return any(REPO.glob(path))
    return (REPO / path).exists()


def test_how_it_works_names_only_real_paths() -> None:
    paths = paths_in(section("How it works"))
    assert len(paths) > 20  # the diagram, the folder table and the bullets
    assert {"stadtnetz/config/", "stadtnetz/app/service.py", "exporters/alertmanager.py"} <= paths
    missing = sorted(p for p in paths if not exists(p))
    assert not missing, f"README 'How it works' names paths that do not exist: {missing}"


def test_every_room_is_in_the_folder_table() -> None:
    text = section("How it works")
    rooms = sorted(
        f"{p.parent.relative_to(REPO)}/"
        for package in ("stadtnetz", "collectors", "exporters", "simulators")
        for p in (REPO / package).glob("**/__init__.py")
        if "May import:" in p.read_text(encoding="utf-8") and p.parent != REPO / "stadtnetz"
    )
    assert rooms, "no room found"
    absent = [room for room in rooms if f"| `{room}` |" not in text]
    assert not absent, f"rooms missing from the README's folder table: {absent}"


def test_a_wrong_path_is_found() -> None:
    assert not exists("stadtnetz/store.py")
    assert expand("collectors/{snmp,ping}.") == ["collectors/snmp", "collectors/ping"]
