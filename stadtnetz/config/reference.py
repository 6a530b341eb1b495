"""The configuration reference, rendered from the schema: the README's "Configuration reference" block.

Owns turning :mod:`stadtnetz.config.schema` (every field's ``description``, its default or first ``example``, and
:data:`~stadtnetz.config.schema.REFERENCE_SECTIONS`) into the annotated YAML block and the CSV-columns line the README
shows between its ``config-reference`` markers, so the reference cannot drift from what the loader accepts.
``tests/test_config_reference.py`` fails when the README differs.

    python -m stadtnetz.config.reference                    # print the block
    python -m stadtnetz.config.reference --write README.md  # rewrite it between the markers
    python -m stadtnetz.config.reference --check README.md  # exit 1 with a diff when it differs

A field shows its first example when it has one (required fields, and values a default would not show as a person
writes them), else its default in the form the field's rule reads: durations as ``60s``, shares as ``20%``,
addresses as ``host:port``.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from stadtnetz.config.rules import _address, _heartbeat, _snmp_version, parse_listen
from stadtnetz.config.schema import REFERENCE_SECTIONS, FileSpec
from stadtnetz.model import DEVICE_FIELDS
from stadtnetz.units import format_duration, parse_duration, parse_ratio

BEGIN = (
    "<!-- config-reference: generated from stadtnetz/config/schema.py by "
    "python -m stadtnetz.config.reference --write README.md; do not edit -->"
)
END = "<!-- /config-reference -->"
COMMENT_COLUMN = 34
WIDTH = 118
_SNMP_VERSIONS = {0: "1", 1: "2c"}
_NUMBER_LIKE = re.compile(r"\d+(:\d+)+|0\d+")  # 03:00, 05566012: numbers to some YAML readers


def render_reference() -> str:
    """The Markdown between the markers: a sentence, the YAML block, the CSV columns."""
    lines = [
        "Every key the schema accepts, each with its default or an example. It is a reading, not one valid file (a",
        "maintenance window is either once or recurring): copy [`config/example-city.yaml`](config/example-city.yaml)",
        "to start from a valid one.",
        "",
        "```yaml",
        *_file_lines(),
        "```",
        "",
        *_csv_lines(),
    ]
    return "\n".join(lines) + "\n"


def _file_lines() -> Iterator[str]:
    for name, info in FileSpec.model_fields.items():
        section = REFERENCE_SECTIONS.get(name)
        if section is None:
            yield from _entry(name, _shown(info), _description(info), 0)
            continue
        layout, model, example_name = section
        yield from _entry(name, None, _description(info), 0)
        if layout == "one":
            yield from _model_lines(model, 2)
        elif layout == "dict":
            yield f"  {example_name}:"
            yield from _model_lines(model, 4)
        else:
            yield from _item_lines(model, 2)


def _model_lines(model: type[BaseModel], indent: int) -> Iterator[str]:
    for name, info in model.model_fields.items():
        nested, is_list = _nested_model(info.annotation)
        if nested is None:
            yield from _entry(name, _shown(info), _description(info), indent)
            continue
        yield from _entry(name, None, _description(info), indent)
        if is_list:
            yield from _item_lines(nested, indent + 2)
        else:
            yield from _model_lines(nested, indent + 2)


def _item_lines(model: type[BaseModel], indent: int) -> Iterator[str]:
    """One list item: the first key after ``- ``, the others indented under it."""
    item = list(_model_lines(model, indent + 2))
    first = item[0]
    yield first[:indent] + "- " + first[indent + 2 :]
    yield from item[1:]


def _entry(key: str, value: str | None, comment: str, indent: int) -> Iterator[str]:
    """``key: value`` with its comment at :data:`COMMENT_COLUMN`, wrapped at :data:`WIDTH` on ``#`` lines."""
    text = " " * indent + f"{key}:" + ("" if value is None else f" {value}")
    if not comment:
        yield text
        return
    text = text.ljust(COMMENT_COLUMN) if len(text) < COMMENT_COLUMN else text + "   "
    first_width = max(WIDTH - len(text) - 2, 30)
    wrapped = textwrap.wrap(comment, first_width, break_long_words=False, break_on_hyphens=False)
    yield f"{text}# {wrapped[0]}"
    rest = " ".join(wrapped[1:])
    for line in textwrap.wrap(rest, WIDTH - COMMENT_COLUMN - 2, break_long_words=False, break_on_hyphens=False):
        yield " " * COMMENT_COLUMN + f"# {line}"


def _csv_lines() -> list[str]:
    required = [field.name for field in DEVICE_FIELDS if field.csv and field.required]
    optional = [field.name for field in DEVICE_FIELDS if field.csv and not field.required]
    lists = [field.name for field in DEVICE_FIELDS if field.csv and field.is_list]
    text = (
        f"- **CSV inventory:** columns `{','.join(required)}` required; `{','.join(optional)}` optional "
        f"({' and '.join(f'`{name}`' for name in lists)} separated by `;`). Unknown columns are ignored with a "
        "warning; errors name the CSV file, its line and the column."
    )
    return textwrap.wrap(text, WIDTH, break_long_words=False, break_on_hyphens=False, subsequent_indent="  ")


def _description(info: FieldInfo) -> str:
    return info.description or ""


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (``X``, ``X | None`` or ``list[X]``), and whether it is a list of them."""
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return (item, True) if _is_model(item) else (None, False)
    if origin in (typing.Union, types.UnionType):
        models = [arg for arg in typing.get_args(annotation) if _is_model(arg)]
        return (models[0], False) if models else (None, False)
    return (annotation, False) if _is_model(annotation) else (None, False)


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def _shown(info: FieldInfo) -> str:
    """What the reference writes as a field's value: its first example, else its default as a person writes it."""
    if info.examples:
        return yaml_value(info.examples[0])
    if info.default is PydanticUndefined:
        raise ValueError(f"a required field needs an example: {info}")
    return yaml_value(_written_default(info))


def _written_default(info: FieldInfo) -> Any:
    value = info.default
    rules = {getattr(item, "func", None) for item in info.metadata}
    if value is None or isinstance(value, bool):
        return value
    if rules & {parse_duration, _heartbeat}:
        return format_duration(value)
    if parse_ratio in rules:
        return f"{value * 100:g}%"
    if rules & {parse_listen, _address}:
        host, port = value
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if _snmp_version in rules:
        return _SNMP_VERSIONS[value]
    return value


def yaml_value(value: Any, flow: bool = False) -> str:
    """``value`` as YAML (lists and mappings in flow style), quoted only where a reader would take the plain text for
    something else. ``flow``: the value is an item inside ``[...]`` or ``{...}``, where ``{``, ``,`` and ``]`` end it.
    Times of day such as ``03:00`` and digits with a leading zero (a Gemeindeschlüssel) are quoted even where PyYAML
    reads them as text: YAML 1.1 readers take ``3:00`` for the number 180 and ``05566012`` for an octal number.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_value(item, flow=True) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {yaml_value(item, flow=True)}" for key, item in value.items()) + "}"
    text = str(value)
    try:
        read_back = yaml.safe_load(f"[{text}]") if flow else yaml.safe_load(f"k: {text}")["k"]
        plain = text != "" and read_back == ([text] if flow else text)
    except yaml.YAMLError:
        plain = False
    if _NUMBER_LIKE.fullmatch(text):
        plain = False
    return text if plain else "'" + text.replace("'", "''") + "'"


def replace_block(document: str, block: str) -> str:
    """``document`` with the text between the markers replaced by ``block``; a missing marker is an error."""
    try:
        head, rest = document.split(BEGIN + "\n", 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"the markers are missing: a line {BEGIN!r} and, after it, {END!r}") from None
    return f"{head}{BEGIN}\n{block}{END}{tail}"


def current_block(document: str) -> str:
    """The text between the markers as it stands."""
    try:
        return document.split(BEGIN + "\n", 1)[1].split(END, 1)[0]
    except IndexError:
        raise ValueError(f"the markers are missing: a line {BEGIN!r} and, after it, {END!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stadtnetz.config.reference",
        description="Render the configuration reference from the schema (stadtnetz/config/schema.py).",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", metavar="FILE", type=Path, help="rewrite the block between FILE's markers")
    action.add_argument("--check", metavar="FILE", type=Path, help="exit 1 with a diff when FILE's block differs")
    args = parser.parse_args(argv)
    block = render_reference()
    if args.write is None and args.check is None:
        sys.stdout.write(block)
        return 0
    path: Path = args.write or args.check
    try:
        document = path.read_text(encoding="utf-8")
        stands = current_block(document)
    except (OSError, ValueError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    if args.check is not None:
        if stands == block:
            return 0
        diff = difflib.unified_diff(stands.splitlines(True), block.splitlines(True), str(path), "schema")
        sys.stdout.writelines(diff)
        print(f"{path} differs from the schema: run .venv/bin/python -m stadtnetz.config.reference --write {path}")
        return 1
    if stands != block:
        path.write_text(replace_block(document, block), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
