"""A device's fields are listed once, in stadtnetz.model.DEVICE_FIELDS; every other list of them is held to it.

The typed classes still spell the fields out (``Device``, the inventory's ``DeviceEntry`` with its ``Layer``, the
schema's ``DeviceSpec``), and the lists derived from DEVICE_FIELDS and DEVICE_LABELS (CSV columns, the simulated
city's CSV, label names) must say the same. A field added in one place only fails here, and so does a field that
is declared but never reaches the resolved ``Device``, from YAML or from a CSV row.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from collectors.snmp.profiles import RESERVED_LABELS
from exporters.line_protocol import DEVICE_TAGS
from exporters.prometheus import device_labels
from simulators.city import INVENTORY_COLUMNS
from stadtnetz.config import load_inventory
from stadtnetz.config.csv_inventory import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from stadtnetz.config.inventory import DeviceEntry, Layer
from stadtnetz.config.schema import DeviceSpec
from stadtnetz.model import DEVICE_CSV_COLUMNS, DEVICE_FIELDS, DEVICE_LABELS, Device

REPO = Path(__file__).resolve().parents[1]
NAMES = {field.name for field in DEVICE_FIELDS}
WITH_HOST = (NAMES - {"address"}) | {"host", "port"}  # the resolved forms split the address into host and port

# every field, set to a value that is not its default: (YAML value, CSV cell or None, what the Device then holds)
EXAMPLES: dict[str, tuple[Any, str | None, dict[str, Any]]] = {
    "id": ("dev-1", "dev-1", {"id": "dev-1"}),
    "kind": ("core_router", "core_router", {"kind": "core_router"}),
    "address": ("127.20.0.2:1161", "127.20.0.2:1161", {"host": "127.20.0.2", "port": 1161}),
    "site": ("PoP Altstadt", "PoP Altstadt", {"site": "PoP Altstadt"}),
    "district": ("Altstadt", "Altstadt", {"district": "Altstadt"}),
    "lat": (51.5, "51.5", {"lat": 51.5}),
    "lon": (8.25, "8.25", {"lon": 8.25}),
    "upstream": ("up-1", "up-1", {"upstream": "up-1"}),
    "model": ("MX-1", "MX-1", {"model": "MX-1"}),
    "tags": (["core", "north"], "core;north", {"tags": ("core", "north")}),
    "group": ("backbone", "backbone", {"group": "backbone"}),
    "profiles": (["system", "optics"], "system;optics", {"profiles": ("system", "optics")}),
    "credentials": ("other-ro", "other-ro", {"credentials": "other-ro"}),
    "backhaul": ("lte", "lte", {"backhaul": "lte"}),
    "interval": ("30s", None, {"interval": 30.0}),
    "timeout": ("1500ms", None, {"timeout": 1.5}),
    "retries": (3, None, {"retries": 3}),
    "ping": (False, None, {"ping": False}),
}

HEAD = """\
credentials:
  public-ro:
    community: ${COMMUNITY}
  other-ro:
    community: ${COMMUNITY}
defaults:
  credentials: public-ro
groups:
  backbone: {}
devices:
  - {id: up-1, kind: core_router, address: 127.20.0.1}
"""


def field_names(cls: type) -> set[str]:
    return {field.name for field in dataclasses.fields(cls)}


def test_the_typed_classes_have_exactly_the_device_fields() -> None:
    assert set(DeviceSpec.model_fields) == NAMES
    assert field_names(Device) == WITH_HOST
    entry, layer = field_names(DeviceEntry) - {"layer", "broken"}, field_names(Layer) - {"origin"}
    assert not entry & layer, "a field is either the entry's own or inherited (its Layer's), not both"
    assert entry | layer == WITH_HOST


def test_every_field_is_described_and_has_an_example_here() -> None:
    assert set(EXAMPLES) == NAMES, "add the new field to EXAMPLES (a value that is not its default)"
    assert all(field.help for field in DEVICE_FIELDS)
    for name, info in DeviceSpec.model_fields.items():
        assert info.description == next(field.help for field in DEVICE_FIELDS if field.name == name)
        assert info.is_required() == next(field.required for field in DEVICE_FIELDS if field.name == name), name


def test_the_csv_columns_are_the_device_fields() -> None:
    assert tuple(field.name for field in DEVICE_FIELDS if field.csv) == DEVICE_CSV_COLUMNS
    assert REQUIRED_COLUMNS + OPTIONAL_COLUMNS == DEVICE_CSV_COLUMNS
    assert tuple(field.name for field in DEVICE_FIELDS if field.required) == REQUIRED_COLUMNS
    assert all(field.csv for field in DEVICE_FIELDS if field.required)
    assert {field.name for field in DEVICE_FIELDS if field.is_list} == {"tags", "profiles"}  # ';' in a cell
    assert (*DEVICE_CSV_COLUMNS[:10], "backhaul") == INVENTORY_COLUMNS
    header = (REPO / "config" / "example-city-inventory.csv").read_text(encoding="utf-8").splitlines()[0]
    assert tuple(header.split(",")) == INVENTORY_COLUMNS


def test_the_label_lists_are_the_device_labels() -> None:
    device = Device(id="core-1", kind="core_router", host="127.20.0.1", site='PoP "Alt"', district="Altstadt")
    assert device.identity == (device.id, device.kind, device.site, device.district)
    assert len(DEVICE_LABELS) == len(device.identity)
    escaped = ("core-1", "core_router", 'PoP \\"Alt\\"', "Altstadt")
    rendered = ",".join(f'{name}="{value}"' for name, value in zip(DEVICE_LABELS, escaped, strict=True))
    assert device_labels(device) == rendered
    assert frozenset(DEVICE_LABELS) | {"state"} == RESERVED_LABELS
    assert DEVICE_TAGS == DEVICE_LABELS


def expected(names: set[str]) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for name in names:
        wanted.update(EXAMPLES[name][2])
    return wanted


def test_every_yaml_field_reaches_the_device(tmp_path: Path) -> None:
    item = {name: value for name, (value, _, _) in EXAMPLES.items()}
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + "  - " + yaml.safe_dump(item, default_flow_style=True, width=1000))
    devices = {device.id: device for device in load_inventory(path, environ={"COMMUNITY": "c"}).devices}
    device = devices["dev-1"]
    for attribute, value in expected(NAMES).items():
        assert getattr(device, attribute) == value, attribute


def test_every_csv_column_reaches_the_device(tmp_path: Path) -> None:
    columns = [name for name, (_, cell, _) in EXAMPLES.items() if cell is not None]
    assert tuple(columns) == DEVICE_CSV_COLUMNS
    row = [str(EXAMPLES[name][1]) for name in columns]
    (tmp_path / "devices.csv").write_text(",".join(columns) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + "inventory:\n  - file: devices.csv\n")
    devices = {device.id: device for device in load_inventory(path, environ={"COMMUNITY": "c"}).devices}
    device = devices["dev-1"]
    for attribute, value in expected(set(columns)).items():
        assert getattr(device, attribute) == value, attribute
