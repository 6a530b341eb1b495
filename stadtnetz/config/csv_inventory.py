"""The CSV files of devices operators keep in spreadsheets (``inventory:`` in the configuration).

Owns reading one CSV file: header checks (required and optional columns, unknown ones warned about), one
:class:`~stadtnetz.config.inventory.DeviceEntry` per row, every problem with the CSV file, its line and the column.
The field rules are the YAML schema's (:mod:`stadtnetz.config.rules`), so both say the same thing about the same
mistake.
"""

from __future__ import annotations

import csv

from stadtnetz.config.errors import Origin, Reporter, Where
from stadtnetz.config.inventory import CsvSource, DeviceEntry, Layer
from stadtnetz.config.rules import (
    check_backhaul,
    check_coordinate,
    check_device_id,
    check_kind,
    check_name,
    parse_address,
)
from stadtnetz.model import DEFAULT_SNMP_PORT, DEVICE_FIELDS

REQUIRED_COLUMNS = tuple(column.name for column in DEVICE_FIELDS if column.csv and column.required)  # id, kind, address
OPTIONAL_COLUMNS = tuple(column.name for column in DEVICE_FIELDS if column.csv and not column.required)
LIST_SEPARATOR = ";"  # between tags and profiles inside one CSV cell


def read_csv(source: CsvSource, reporter: Reporter) -> list[DeviceEntry] | None:
    """The rows of a CSV inventory as entries; None if the file itself is unusable (reported).

    Rows are numbered as a spreadsheet shows them (the header is row 1); each
    problem carries the CSV file and the line the row starts on. Empty cells
    mean "not set"; ``tags`` and ``profiles`` cells are ``;``-separated.
    Unknown columns are ignored with a warning.
    """
    label = f"inventory[{source.index}]"
    try:
        handle = source.file.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        reporter.error(
            source.origin.at("file"),
            f"cannot read CSV file {source.file}: {exc.strerror or exc}; paths are relative to the YAML file",
        )
        return None
    entries: list[DeviceEntry] = []
    with handle:
        reader = csv.reader(handle)
        header_where = Where(source.file, 1, f"{label} header")
        try:
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                reporter.error(
                    header_where,
                    f"empty CSV file: the first row must be a header with at least {','.join(REQUIRED_COLUMNS)}",
                )
                return None
            columns = _read_header(header, header_where, reporter)
            if columns is None:
                return None
            row_number = 1
            line = reader.line_num + 1
            for row in reader:
                row_number += 1
                if any(cell.strip() for cell in row):
                    entry = _read_row(source, label, row_number, line, row, columns, len(header), reporter)
                    if entry is not None:
                        entries.append(entry)
                line = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as exc:
            where = Where(source.file, reader.line_num or None, label)
            reporter.error(where, f"cannot read CSV: {exc}; save the file as UTF-8 CSV with ',' between columns")
            return None
    return entries


def _read_header(header: list[str], where: Where, reporter: Reporter) -> dict[str, int] | None:
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        reporter.error(
            where,
            "the header is not comma-separated: save the spreadsheet as CSV with ',' between columns "
            "(';' only separates tags and profiles inside a cell)",
        )
        return None
    columns: dict[str, int] = {}
    ok = True
    for index, raw in enumerate(header):
        name = raw.strip().lower()
        if not name:
            continue  # trailing empty columns from spreadsheet exports
        if name in columns:
            reporter.error(where, f"column {name!r} appears twice; each column may appear once")
            ok = False
        elif name not in known:
            reporter.warning(where, f"unknown column {name!r} is ignored (known columns: {', '.join(known)})")
        else:
            columns[name] = index
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            reporter.error(
                where,
                f"missing required column {name!r} (required: {', '.join(REQUIRED_COLUMNS)}; "
                f"optional: {', '.join(OPTIONAL_COLUMNS)})",
            )
            ok = False
    return columns if ok else None


def _read_row(
    source: CsvSource,
    label: str,
    row_number: int,
    line: int,
    row: list[str],
    columns: dict[str, int],
    width: int,
    reporter: Reporter,
) -> DeviceEntry | None:
    cells = {name: (row[index].strip() if index < len(row) else "") for name, index in columns.items()}
    device_id = cells["id"]
    prefix = f"{label} row {row_number}" + (f" ({device_id})" if device_id else "")
    origin = Origin(source.file, line, prefix, tabular=True)
    broken = False

    def problem(column: str, message: str) -> None:
        nonlocal broken
        broken = True
        reporter.error(origin.at(column), message)

    if len(row) > width and any(cell.strip() for cell in row[width:]):
        problem("row", f"the row has {len(row)} cells but the header has {width} columns; quote cells that hold ','")
    for name in REQUIRED_COLUMNS:
        if not cells[name]:
            problem(name, f"missing {name} (required columns: {', '.join(REQUIRED_COLUMNS)})")
    if device_id and (message := check_device_id(device_id)):
        problem("id", message)
    if cells["kind"] and (message := check_kind(cells["kind"])):
        problem("kind", message)
    host, port = "", DEFAULT_SNMP_PORT
    if cells["address"]:
        try:
            host, port = parse_address(cells["address"])
        except ValueError as exc:
            problem("address", str(exc))
    coordinates: dict[str, float | None] = {"lat": None, "lon": None}
    for name in coordinates:
        text = cells.get(name, "")
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            problem(name, f"expected a number with a decimal point, e.g. 51.84, got {text!r}")
            continue
        if message := check_coordinate(value, name):
            problem(name, message)
        else:
            coordinates[name] = value
    upstream = cells.get("upstream") or None
    if upstream and (message := check_device_id(upstream)):
        problem("upstream", message.replace("device id", "upstream device id"))
        upstream = None
    lists: dict[str, tuple[str, ...]] = {}
    for name, what in (("tags", "tag"), ("profiles", "profile name")):
        items = tuple(item.strip() for item in cells.get(name, "").split(LIST_SEPARATOR) if item.strip())
        for item in items:
            if message := check_name(item, what):
                problem(name, f"{message}; separate several with ';'")
        lists[name] = tuple(item for item in items if not check_name(item))
    names: dict[str, str | None] = {}
    for name, what in (("group", "group name"), ("credentials", "credentials name")):
        value = cells.get(name) or None
        if value and (message := check_name(value, what)):
            problem(name, message)
            value = None
        names[name] = value
    backhaul = cells.get("backhaul") or "fibre"
    if message := check_backhaul(backhaul):
        problem("backhaul", message)
        backhaul = "fibre"
    group = names["group"]
    if source.group is not None:
        if group is not None and group != source.group:
            reporter.warning(
                origin.at("group"),
                f"the row names group {group!r} but {source.origin.prefix}.group forces {source.group!r}; "
                "the forced group wins (remove one of them)",
            )
        group = source.group
    layer = Layer(
        origin=origin,
        credentials=names["credentials"],
        profiles=lists["profiles"] or None,
        tags=lists["tags"],
    )
    if broken and (not device_id or check_device_id(device_id)):
        return None  # without a valid id a row takes part in no further check
    return DeviceEntry(
        id=device_id,
        layer=layer,
        kind="" if check_kind(cells["kind"]) else cells["kind"],
        host=host,
        port=port,
        site=cells.get("site", ""),
        district=cells.get("district", ""),
        lat=coordinates["lat"],
        lon=coordinates["lon"],
        upstream=upstream,
        model=cells.get("model", ""),
        group=group,
        backhaul=backhaul,
        broken=broken,
    )
