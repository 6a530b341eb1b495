"""The planning address lists: semicolon-separated CSV files of the buildings to be served (``planning.addresses``).

Owns reading them into :class:`stadtnetz.model.Address` values, with every problem named by the CSV file, its line
and the column, and none silently dropped: a row without coordinates, with an unknown Gemeindeschlüssel, outside the
planning area or repeating an address is an error. The format is the one address tables of a Markterkundungsverfahren
have in practice: UTF-8, ``;`` between columns, a header row with these German column names (any order; unknown
columns are ignored with a warning), decimal point or comma::

    id;strasse;hausnummer;plz;ort;ags;lat;lon;download_mbit_s;upload_mbit_s;technologie;oberflaeche
    A000001;Hauptstraße;12a;48990;Musterstadt;05999001;51.841200;8.263400;50;10;vdsl;versiegelt

``id`` is optional (else one is made from AGS, postcode, street and number, so it stays the same between exports);
speeds and technology are today's best service, empty when not known; ``oberflaeche`` (versiegelt/unversiegelt) is
what a trench to the building is dug through, empty for ``planning.default_surface``.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stadtnetz.config.errors import ConfigError, Where, _Collector
from stadtnetz.config.rules import check_ags
from stadtnetz.model import Address, PlanningSettings

REQUIRED_COLUMNS = ("strasse", "hausnummer", "plz", "ort", "ags", "lat", "lon")
OPTIONAL_COLUMNS = ("id", "download_mbit_s", "upload_mbit_s", "technologie", "oberflaeche")
TECHNOLOGIES = ("ftth", "fttb", "kabel", "vdsl", "adsl", "lte", "5g", "satellit", "keine")
SURFACE_NAMES = {"versiegelt": "sealed", "unversiegelt": "unsealed", "sealed": "sealed", "unsealed": "unsealed"}
_POSTCODE = re.compile(r"\d{5}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
Problem = Callable[[str, str], None]  # (column, message): reports one problem of the row


@dataclass(frozen=True, slots=True)
class AddressList:
    """The addresses of every list, in file and row order, and the warnings (ignored columns)."""

    addresses: list[Address]
    warnings: list[str]


def load_addresses(planning: PlanningSettings) -> AddressList:
    """Read every address list of ``planning``; raise :class:`ConfigError` naming every problem at once."""
    reporter = _Collector()
    addresses: list[Address] = []
    seen_ids: dict[str, str] = {}
    seen_places: dict[tuple[str, str, str], str] = {}
    for path in planning.address_files:
        reporter.register(path)
        for address, where in _read_file(path, planning, reporter):
            if address.id in seen_ids:
                reporter.error(Where(path, where.line, f"{where.field}: id"), (
                    f"id {address.id!r} is already used at {seen_ids[address.id]}; ids must be unique"
                ))
                continue
            place = (_normal(address.street), _normal(address.house_number), address.postcode)
            if place in seen_places:
                reporter.error(Where(path, where.line, where.field), (
                    f"{address.street} {address.house_number}, {address.postcode} is already listed at "
                    f"{seen_places[place]}; each address once"
                ))
                continue
            seen_ids[address.id] = address.source
            seen_places[place] = address.source
            addresses.append(address)
    if reporter.errors:
        raise ConfigError(reporter.ordered(reporter.errors))
    return AddressList(addresses, [str(issue) for issue in reporter.ordered(reporter.warnings)])


def _read_file(
    path: Path, planning: PlanningSettings, reporter: _Collector
) -> list[tuple[Address, Where]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        reporter.error(Where(path, None, "planning.addresses"), f"cannot read the address list: {exc.strerror or exc}")
        return []
    rows: list[tuple[Address, Where]] = []
    with handle:
        reader = csv.reader(handle, delimiter=";")
        try:
            header = next(reader, None)
            columns = _read_header(path, header, reporter)
            if columns is None:
                return []
            line = reader.line_num + 1
            for row in reader:
                if any(cell.strip() for cell in row):
                    where = Where(path, line, f"row {line}")
                    address = _read_row(path, line, row, columns, planning, where, reporter)
                    if address is not None:
                        rows.append((address, where))
                line = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as exc:
            reporter.error(Where(path, reader.line_num or None, "planning.addresses"), (
                f"cannot read the address list: {exc}; save it as UTF-8 CSV with ';' between columns"
            ))
            return []
    return rows


def _read_header(path: Path, header: list[str] | None, reporter: _Collector) -> dict[str, int] | None:
    where = Where(path, 1, "header")
    if header is None or not any(cell.strip() for cell in header):
        reporter.error(where, f"empty address list: the first row must be a header with {';'.join(REQUIRED_COLUMNS)}")
        return None
    if len(header) == 1 and ("," in header[0] or "\t" in header[0]):
        reporter.error(where, "the header is not semicolon-separated: save the address list as CSV with ';'")
        return None
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = cell.strip().lower()
        if name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            if name in columns:
                reporter.error(where, f"column {name!r} appears twice")
                return None
            columns[name] = index
        elif name:
            reporter.warning(where, f"unknown column {cell.strip()!r} is ignored (known: "
                             f"{';'.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        reporter.error(where, f"missing column{'s' if len(missing) > 1 else ''} {';'.join(missing)} (required: "
                       f"{';'.join(REQUIRED_COLUMNS)})")
        return None
    return columns


def _read_row(
    path: Path,
    line: int,
    row: list[str],
    columns: dict[str, int],
    planning: PlanningSettings,
    where: Where,
    reporter: _Collector,
) -> Address | None:
    cells = {name: row[index].strip() if index < len(row) else "" for name, index in columns.items()}
    broken = False

    def problem(column: str, message: str) -> None:
        nonlocal broken
        broken = True
        reporter.error(Where(path, line, f"{where.field}: {column}"), message)

    for name in ("strasse", "hausnummer", "ort"):
        if not cells[name]:
            problem(name, f"{name} is empty; every address needs strasse, hausnummer, plz and ort")
    if not _POSTCODE.fullmatch(cells["plz"]):
        problem("plz", f"a postcode has 5 digits, not {cells['plz']!r}")
    ags = cells["ags"]
    if message := check_ags(ags):
        problem("ags", message)
    elif planning.ags and ags not in planning.ags:
        problem("ags", f"unknown Gemeindeschlüssel {ags}: planning.ags lists {', '.join(planning.ags)}")
    coordinates = _coordinates(cells, planning, problem)
    speeds = {}
    for name in ("download_mbit_s", "upload_mbit_s"):
        speeds[name] = _speed(cells.get(name, ""), name, problem)
    technology = cells.get("technologie", "").lower()
    if technology and technology not in TECHNOLOGIES:
        problem("technologie", f"unknown technology {technology!r}: one of {', '.join(TECHNOLOGIES)}, or empty")
    surface_name = cells.get("oberflaeche", "").lower()
    surface = planning.default_surface
    if surface_name:
        if surface_name not in SURFACE_NAMES:
            problem("oberflaeche", f"unknown surface {surface_name!r}: versiegelt or unversiegelt, or empty")
        else:
            surface = SURFACE_NAMES[surface_name]
    address_id = cells.get("id", "")
    if address_id and not _ID.fullmatch(address_id):
        problem("id", f"an id is letters, digits and . _ : - (starting with a letter or digit), not {address_id!r}")
    if broken or coordinates is None:
        return None
    return Address(
        id=address_id or _derived_id(ags, cells["plz"], cells["strasse"], cells["hausnummer"]),
        street=cells["strasse"],
        house_number=cells["hausnummer"],
        postcode=cells["plz"],
        town=cells["ort"],
        ags=ags,
        lat=coordinates[0],
        lon=coordinates[1],
        download_mbit_s=speeds["download_mbit_s"],
        upload_mbit_s=speeds["upload_mbit_s"],
        technology=technology,
        surface=surface,
        source=f"{path}:{line}",
    )


def _coordinates(cells: dict[str, str], planning: PlanningSettings, report: Problem) -> tuple[float, float] | None:
    if not cells["lat"] or not cells["lon"]:
        column = "lat" if not cells["lat"] else "lon"
        report(column, "an address without coordinates cannot be placed: give lat and lon in WGS84 degrees")
        return None
    values = []
    for name, limit in (("lat", 90.0), ("lon", 180.0)):
        number = _decimal(cells[name])
        if number is None or abs(number) > limit:
            report(name, f"{name} must be a number of degrees within ±{limit:g}, not {cells[name]!r}")
            return None
        values.append(number)
    lat, lon = values
    if planning.area is not None:
        south, west, north, east = planning.area
        if not (south <= lat <= north and west <= lon <= east):
            report("lat", (
                f"{lat:g} N, {lon:g} E lies outside the planning area ({south:g}..{north:g} N, {west:g}..{east:g} E);"
                " check the coordinates (lat and lon swapped?) or planning.area"
            ))
            return None
    return lat, lon


def _speed(text: str, name: str, problem: Problem) -> float | None:
    if not text:
        return None
    number = _decimal(text)
    if number is None or number < 0:
        problem(name, f"{name} must be a number of Mbit/s (0 or more) or empty, not {text!r}")
        return None
    return number


def _decimal(text: str) -> float | None:
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _normal(text: str) -> str:
    """Street and house number as compared for duplicates: case, spaces, ß/ss and "str." folded."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ß", "ss")
    folded = re.sub(r"str(asse|\.)", "str", folded)
    return re.sub(r"[\s-]+", "", folded)


def _derived_id(ags: str, postcode: str, street: str, number: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", _ascii(f"{street} {number}").lower()).strip("-")
    return f"{ags}-{postcode}-{slug}"


def _ascii(text: str) -> str:
    text = text.replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = text.replace("Ä", "Ae").replace("Ö", "Oe").replace("Ü", "Ue")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
