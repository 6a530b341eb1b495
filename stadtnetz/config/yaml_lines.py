"""YAML with line numbers: a configuration file's plain data and the line of every field path in it.

Owns reading one YAML text (``yaml.compose``, then building plain data from the nodes) so that every field path
(``devices[3].address``) maps to the line it starts on; rejects duplicate keys, recursive aliases, tags other
than plain lists and mappings, and alias bombs (:data:`MAX_YAML_NODES`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stadtnetz.config.errors import Origin, Where, _Collector

MAX_YAML_NODES = 1_000_000  # guards against alias bombs ("billion laughs")


def join_path(base: str, *loc: str | int) -> str:
    """Field path text: ``devices`` + 3 + ``address`` -> ``devices[3].address``."""
    path = base
    for part in loc:
        separator = "" if isinstance(part, int) or not path else "."
        path = f"{path}[{part}]" if isinstance(part, int) else f"{path}{separator}{part}"
    return path


_LAST_SEGMENT = re.compile(r"(\.[^.\[\]]*|\[\d+\])$")


@dataclass(slots=True)
class _Document:
    """A parsed YAML file: its plain data and the line of every field path in it."""

    file: Path
    data: Any
    lines: dict[str, int]

    def line(self, path: str) -> int | None:
        """The line of ``path``, or of its nearest ancestor that is in the file."""
        probe = path
        while True:
            if probe in self.lines:
                return self.lines[probe]
            shorter = _LAST_SEGMENT.sub("", probe)
            if shorter == probe:
                return self.lines.get("")
            probe = shorter

    def where(self, path: str) -> Where:
        return Where(self.file, self.line(path), path or "(top level)")

    def origin(self, path: str) -> Origin:
        return Origin(self.file, self.line(path), path, self.lines)


class _TooLargeError(Exception):
    pass


class _Builder:
    """Turns a composed node tree into plain data, recording lines and rejecting duplicate keys."""

    MERGE_TAG = "tag:yaml.org,2002:merge"
    MAP_TAG = "tag:yaml.org,2002:map"
    SEQ_TAG = "tag:yaml.org,2002:seq"

    def __init__(self, file: Path, reporter: _Collector) -> None:
        self.file = file
        self.reporter = reporter
        self.lines: dict[str, int] = {}
        self.constructor = yaml.SafeLoader("")
        self.active: set[int] = set()
        self.count = 0

    def issue(self, node: Node, path: str, message: str) -> None:
        self.reporter.error(Where(self.file, node.start_mark.line + 1, path or "(top level)"), message)

    def build(self, node: Node, path: str) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES:
            raise _TooLargeError
        if isinstance(node, ScalarNode):
            try:
                return self.constructor.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                problem = getattr(exc, "problem", None) or "cannot read this value"
                self.issue(node, path, f"{problem}; use plain YAML values (text, numbers, lists, mappings)")
                return None
        if id(node) in self.active:
            self.issue(node, path, "an alias refers to a node that contains it; YAML aliases must not be recursive")
            return None
        if node.tag not in (self.MAP_TAG, self.SEQ_TAG):
            self.issue(node, path, f"unsupported YAML tag {node.tag!r}; use plain lists and mappings")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                items = []
                for index, item in enumerate(node.value):
                    item_path = join_path(path, index)
                    self.lines.setdefault(item_path, item.start_mark.line + 1)
                    items.append(self.build(item, item_path))
                return items
            assert isinstance(node, MappingNode)
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: MappingNode, path: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == self.MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.issue(key_node, path, "keys must be plain names, not lists or mappings")
                continue
            key = str(key_node.value)
            key_path = join_path(path, key)
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.issue(
                    key_node,
                    key_path,
                    f"duplicate key {key!r} (first at line {first_line[key]}); each key may appear once in a mapping",
                )
                continue
            first_line[key] = line
            self.lines.setdefault(key_path, line)  # explicit keys come first; merged ones never move them
            result[key] = self.build(value_node, key_path)
        for merge in merges:  # YAML merge keys: explicit keys win, earlier merges win over later ones
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.issue(source, path, "'<<' merges a mapping (or a list of mappings) into this one")
                    continue
                for key, value in self.build(source, path).items():
                    result.setdefault(key, value)
        return result


def _parse_yaml(file: Path, text: str, reporter: _Collector) -> _Document | None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = "; ".join(part for part in (exc.context, exc.problem) if part)
        reporter.error(
            Where(file, mark.line + 1 if mark else None, "(yaml syntax)"),
            f"{problem or 'invalid YAML'}; fix the YAML syntax here (indentation, ':' after keys, quotes)",
        )
        return None
    except yaml.YAMLError as exc:
        reporter.error(Where(file, None, "(yaml syntax)"), f"invalid YAML ({type(exc).__name__}); fix the syntax")
        return None
    builder = _Builder(file, reporter)
    if root is None:
        return _Document(file, {}, {"": 1})
    builder.lines[""] = root.start_mark.line + 1
    try:
        data = builder.build(root, "")
    except _TooLargeError:
        reporter.error(
            Where(file, None, "(top level)"),
            f"the file expands to more than {MAX_YAML_NODES} values (aliases?); write the configuration out",
        )
        return None
    return _Document(file, data, builder.lines)
