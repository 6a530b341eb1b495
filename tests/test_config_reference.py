"""The README's configuration reference is the schema's: rendered from it, complete, and every value in it valid.

(The §4 check, that ``DeviceSpec`` has exactly the device fields, is tests/test_device_fields.py.)
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from stadtnetz.config.reference import BEGIN, END, current_block, render_reference
from stadtnetz.config.schema import REFERENCE_SECTIONS, FileSpec
from stadtnetz.secrets import Secret, is_reference

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FIX = "run `.venv/bin/python -m stadtnetz.config.reference --write README.md`"


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for info in model.model_fields.values():
        for candidate in _types_in(info.annotation):
            if _is_model(candidate):
                yield from _models(candidate, seen)


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def _types_in(annotation: Any) -> Iterator[Any]:
    yield annotation
    for argument in typing.get_args(annotation):
        yield from _types_in(argument)


def _reference_models() -> list[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    found = list(_models(FileSpec, seen))
    for _, model, _ in REFERENCE_SECTIONS.values():
        found.extend(_models(model, seen))
    return found


def _generated_yaml() -> dict[str, Any]:
    block = render_reference()
    text = block.split("```yaml\n", 1)[1].split("```\n", 1)[0]
    return yaml.safe_load(text)


def test_the_readme_block_is_the_rendered_schema() -> None:
    stands = current_block(README.read_text(encoding="utf-8"))
    rendered = render_reference()
    diff = "".join(difflib.unified_diff(stands.splitlines(True), rendered.splitlines(True), "README.md", "schema"))
    assert stands == rendered, f"the README's configuration reference differs from the schema; {FIX}\n{diff}"


def test_every_field_is_described_and_every_required_field_has_an_example() -> None:
    undescribed, without_example = [], []
    for model in _reference_models():
        for name, info in model.model_fields.items():
            if not (info.description or "").strip():
                undescribed.append(f"{model.__name__}.{name}")
            holds_a_model = any(_is_model(candidate) for candidate in _types_in(info.annotation))
            required = info.default is PydanticUndefined and info.default_factory is None
            if required and not holds_a_model and not info.examples:
                without_example.append(f"{model.__name__}.{name}")
    assert undescribed == [], "give these fields a description= (the reference's comment)"
    assert without_example == [], "required fields need examples= (the reference shows the first)"


def test_every_section_of_the_file_is_in_the_reference() -> None:
    generated = _generated_yaml()
    assert list(generated) == list(FileSpec.model_fields)
    assert set(REFERENCE_SECTIONS) <= set(FileSpec.model_fields)


def _validate(model: type[BaseModel], name: str, info: FieldInfo, value: Any) -> None:
    """``value`` as the field's own rules read it (secrets as references only: resolving needs the environment)."""
    if any(candidate is Secret for candidate in _types_in(info.annotation)):
        assert isinstance(value, str), f"{model.__name__}.{name}: {value!r}"
        assert is_reference(value), f"{model.__name__}.{name}: {value!r} is not a reference"
        return
    for decorator in model.__pydantic_decorators__.field_validators.values():
        if name in decorator.info.fields and decorator.info.mode == "before":
            value = decorator.func(value, types.SimpleNamespace(data={}, field_name=name, context=None))
    annotation = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    TypeAdapter(annotation).validate_python(value)


def _check_values(model: type[BaseModel], data: Any, path: str) -> Iterator[str]:
    """Every field the block shows under ``path``, checked against ``model``; yields the fields checked."""
    items = data if isinstance(data, list) else [data]
    for item in items:
        assert isinstance(item, dict), f"{path}: {item!r}"
        assert list(item) == list(model.model_fields), f"{path}: every field once, in the schema's order"
        for name, value in item.items():
            info = model.model_fields[name]
            nested = [candidate for candidate in _types_in(info.annotation) if _is_model(candidate)]
            if nested:
                yield from _check_values(nested[0], value, f"{path}.{name}")
                continue
            try:
                _validate(model, name, info, value)
            except (ValidationError, ValueError) as exc:
                pytest.fail(f"{path}.{name}: the reference shows {value!r}, which the field refuses: {exc}")
            yield f"{path}.{name}"


def test_every_value_the_reference_shows_is_valid_for_its_field() -> None:
    generated = _generated_yaml()
    checked: list[str] = []
    for section, value in generated.items():
        if section not in REFERENCE_SECTIONS:
            info = FileSpec.model_fields[section]
            _validate(FileSpec, section, info, value)
            checked.append(section)
            continue
        layout, model, example_name = REFERENCE_SECTIONS[section]
        if layout == "dict":
            assert list(value) == [example_name]
            value = value[example_name]
        if layout == "list":
            assert isinstance(value, list)
            assert len(value) == 1
        checked.extend(_check_values(model, value, section))
    assert "maintenance.match.devices" in checked
    assert "settings.trap_v3_users.engine_id" in checked
    assert len(checked) > 100


def test_a_time_of_day_is_quoted_and_secrets_are_references() -> None:
    text = render_reference()
    assert re.search(r"^    at: '03:00' ", text, re.MULTILINE)
    assert re.search(r"^    community: \$\{STADTNETZ_SNMP_COMMUNITY\} ", text, re.MULTILINE)


def test_the_cli_checks_and_writes_the_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n\n{BEGIN}\nstale text\n{END}\n\nafter\n", encoding="utf-8")
    command = [sys.executable, "-m", "stadtnetz.config.reference"]

    checked = subprocess.run([*command, "--check", str(readme)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 1
    assert "-stale text" in checked.stdout
    assert "--write" in checked.stdout

    written = subprocess.run([*command, "--write", str(readme)], capture_output=True, text=True, timeout=60)
    assert written.returncode == 0, written.stderr
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith(f"{END}\n\nafter\n")
    assert render_reference() in text
    again = subprocess.run([*command, "--check", str(readme)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout

    (tmp_path / "plain.md").write_text("no markers\n", encoding="utf-8")
    missing = subprocess.run([*command, "--check", str(tmp_path / "plain.md")], capture_output=True, text=True)
    assert missing.returncode == 2
    assert "markers are missing" in missing.stderr

    helped = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    assert "--write FILE" in helped.stdout
