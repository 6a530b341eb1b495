"""Where things are written in the configuration, and how problems are reported.

Owns :class:`ConfigIssue` and :class:`ConfigError` (what ``load_inventory`` raises: every problem at once, one
``FILE:LINE: FIELD: MESSAGE`` per line), the :class:`Where`/:class:`Origin` places that every check reports with,
the :class:`Reporter` protocol the inventory reports to, the collector that orders the problems by file and line,
and the translation of pydantic's validation errors into messages that say what is allowed.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from stadtnetz.units import describe


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem of the configuration: where it is and what is wrong (and what is allowed)."""

    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{place}: {self.field}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; ``issues`` holds every problem found, ``str()`` one per line."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


class _Collector:
    """Collects errors and warnings (a :class:`Reporter`) and orders them by file and line."""

    def __init__(self) -> None:
        self.errors: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []
        self.file_order: dict[Path, int] = {}

    def register(self, file: Path) -> None:
        self.file_order.setdefault(file, len(self.file_order))

    def error(self, where: Where, message: str) -> None:
        self.errors.append(ConfigIssue(where.file, where.line, where.field, message))

    def warning(self, where: Where, message: str) -> None:
        self.warnings.append(ConfigIssue(where.file, where.line, where.field, message))

    def ordered(self, issues: list[ConfigIssue]) -> list[ConfigIssue]:
        last = len(self.file_order)
        return sorted(issues, key=lambda issue: (self.file_order.get(issue.file, last), issue.line or 0))


@dataclass(frozen=True, slots=True)
class Where:
    """A place in the configuration: file, line (1-based, None if unknown) and field path."""

    file: Path
    line: int | None
    field: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else str(self.file)


class Reporter(Protocol):
    """Receives the problems found; errors make the configuration unusable, warnings do not."""

    def error(self, where: Where, message: str) -> None: ...

    def warning(self, where: Where, message: str) -> None: ...


_LAST_SEGMENT = re.compile(r"(\.[^.\[\]]*|\[\d+\])$")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an entry (device, group, defaults, CSV row) was written.

    ``prefix`` is its field path (``devices[3]``, ``groups.backbone``,
    ``inventory[0] row 17 (core-1)``). YAML entries carry the file's
    path -> line map, so a field inside them points at its own line; CSV rows
    (``tabular``) point at the row's line and write ``prefix: field``.
    """

    file: Path
    line: int | None
    prefix: str
    lines: Mapping[str, int] = field(default_factory=dict)
    tabular: bool = False

    def at(self, name: str | None = None) -> Where:
        if not name:
            return Where(self.file, self.line, self.prefix)
        if self.tabular:
            return Where(self.file, self.line, f"{self.prefix}: {name}")
        path = f"{self.prefix}.{name}" if self.prefix else name
        probe = path
        while probe and probe != self.prefix:
            if probe in self.lines:
                return Where(self.file, self.lines[probe], path)
            shorter = _LAST_SEGMENT.sub("", probe)
            if shorter == probe:
                break
            probe = shorter
        return Where(self.file, self.line, path)

    @property
    def label(self) -> str:
        return self.prefix or str(self.file)


# --- pydantic errors -> issues -------------------------------------------------------------------------------------

_TYPE_MESSAGES = {
    "dict_type": "expected a mapping (key: value lines)",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "list_type": "expected a list ([a, b] or one '- item' per line)",
    "tuple_type": "expected a list ([a, b] or one '- item' per line)",
    "string_type": "expected text",
}


def _holder(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose field ``loc[-1]`` is: ``model`` itself, or a nested one (``planning.area``); None if unknown."""
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an item of a list field: the item's model is the list's
        info = model.model_fields.get(str(part))
        nested = _model_in(info.annotation) if info is not None else None
        if nested is None:
            return None
        model = nested
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        if (found := _model_in(argument)) is not None:
            return found
    return None


def _message(error: Mapping[str, Any], model: type[BaseModel], sensitive: bool) -> str:
    kind = error["type"]
    loc = error["loc"]
    fields = list(model.model_fields)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        holder = _holder(model, loc)
        allowed = list(holder.model_fields) if holder is not None else []
        message = f"unknown field {key!r}"
        if allowed:
            message += f" (allowed: {', '.join(allowed)})"
            close = difflib.get_close_matches(key, allowed, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        return message
    if kind == "missing":
        holder = _holder(model, loc)
        required = [name for name, info in holder.model_fields.items() if info.is_required()] if holder else []
        listed = f" (required: {', '.join(required)})" if required else ""
        return f"missing required field {loc[-1]!r}{listed}"
    if kind in ("value_error", "assertion_error"):
        return str(error["ctx"]["error"])
    if kind in _TYPE_MESSAGES:
        message = _TYPE_MESSAGES[kind]
        if not loc and kind.startswith("model"):
            message = f"expected a mapping with the fields {', '.join(fields)}"
        return message if sensitive else f"{message}, got {describe(error['input'])}"
    return str(error["msg"])
