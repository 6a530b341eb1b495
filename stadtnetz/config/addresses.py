"""The planning address lists: semicolon-separated CSV files of the buildings to be served (``planning.addresses``).

Owns reading them into :class:`stadtnetz.model.Address` values, with every problem named by the CSV file, its line
and the column, and none silently dropped: a row without coordinates, with an unknown Gemeindeschlüssel, outside the
planning area or repeating an address is an error. The format is the one address tables of a Markterkundungsverfahren
have in practice: UTF-8, ``;`` between columns, a header row with these German column names (any order; unknown
columns are ignored with a warning), decimal point or comma::

    id;strasse;hausnummer;plz;ort;ags;lat;lon;download_mbit_s;upload_mbit_s;technologie;oberflaeche
    A000001;Hauptstraße;12a;48990;Musterstadt;05999001;51.841200;8.263400;50;10;vdsl;versiegelt

``id`` is optional (else one is made from AGS, postcode, street and number, so it stays the same between exports);
speeds and technology are today's best service, empty when not known (an upload above the download is taken as
written: the list reports what is offered, and symmetric or business lines exist); ``oberflaeche``
(versiegelt/unversiegelt) is what a trench to the building is dug through, empty for ``planning.default_surface``.

An address is listed once: two rows whose street and number differ only in case, spaces, hyphens, ß/ss, umlauts
(ü/ue) or "Straße"/"Str." are the same address. A byte order mark (Excel's "CSV UTF-8") and Windows line endings
are fine; a list with a header but no rows is a warning, a row with more cells than the header an error.
"""

from __future__ import annotations

import csv
import functools
import io
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
    """The addresses of every list, in file and row order, and the warnings (ignored columns, empty lists)."""

    addresses: list[Address]
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class _Row:
    """One data row as read: its address (None if a cell was wrong) and what the duplicate checks compare."""

    line: int
    source: str  # FILE:LINE
    address: Address | None
    id: str  # the id column's, else derived; "" if neither can be had
    derived: bool  # the id was made from AGS, postcode, street and number
    place: tuple[str, str, str] | None  # street, number (both _normal) and postcode; None if a cell is missing
    label: str  # "Hauptstraße 12a, 48990", for messages


def load_addresses(planning: PlanningSettings) -> AddressList:
    """Read every address list of ``planning``; raise :class:`ConfigError` naming every problem at once.

    A row with a wrong cell still takes part in the duplicate checks, so one run reports everything.
    """
    reporter = _Collector()
    addresses: list[Address] = []
    seen_ids: dict[str, str] = {}
    seen_places: dict[tuple[str, str, str], str] = {}
    for path in planning.address_files:
        reporter.register(path)
        for row in _read_file(path, planning, reporter):
            repeated = False
            place_field = f"row {row.line}: strasse, hausnummer, plz"
            if row.place is not None and row.place in seen_places:
                repeated = True
                reporter.error(Where(path, row.line, place_field), (
                    f"{row.label} is already listed at {seen_places[row.place]}; each address once"
                ))
            elif row.place is not None:
                seen_places[row.place] = row.source
            if row.id and row.id in seen_ids and not (row.derived and repeated):
                repeated = True
                if row.derived:
                    reporter.error(Where(path, row.line, place_field), (
                        f"{row.label} makes the same id {row.id!r} as the address at {seen_ids[row.id]} (an id is "
                        "made from ags, plz, strasse and hausnummer when the list has none); give the list an id "
                        "column, or list each address once"
                    ))
                else:
                    reporter.error(Where(path, row.line, f"row {row.line}: id"), (
                        f"id {row.id!r} is already used at {seen_ids[row.id]}; ids must be unique"
                    ))
            elif row.id:
                seen_ids.setdefault(row.id, row.source)
            if row.address is not None and not repeated:
                addresses.append(row.address)
    if reporter.errors:
        raise ConfigError(reporter.ordered(reporter.errors))
    return AddressList(addresses, [str(issue) for issue in reporter.ordered(reporter.warnings)])


def _read_file(path: Path, planning: PlanningSettings, reporter: _Collector) -> list[_Row]:
    text = _text(path, reporter)
    if text is None:
        return []
    rows: list[_Row] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    try:
        header = next(reader, None)
        columns = _read_header(path, header, reporter)
        if header is None or columns is None:
            return []
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append(_read_row(path, line, cells, len(header), columns, planning, reporter))
            line = reader.line_num + 1
    except csv.Error as exc:
        reporter.error(Where(path, reader.line_num or None, "planning.addresses"), (
            f"cannot read the address list: {exc}; save it as UTF-8 CSV with ';' between columns"
        ))
        return []
    if not rows:
        reporter.warning(Where(path, 1, "header"), "the address list has a header but no addresses")
    return rows


def _text(path: Path, reporter: _Collector) -> str | None:
    """The file's text (UTF-8, a byte order mark as Excel writes it is dropped); None after reporting why not."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reporter.error(Where(path, None, "planning.addresses"), f"cannot read the address list: {exc.strerror or exc}")
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        reporter.error(Where(path, 1, "planning.addresses"), (
            "the address list is UTF-16 (Excel's \"Unicode text\"): save it as \"CSV UTF-8\" with ';' between columns"
        ))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        reporter.error(Where(path, line, "planning.addresses"), (
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} on this line; Windows-1252?): save the address list as "
            "\"CSV UTF-8\" with ';' between columns"
        ))
        return None


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
    width: int,
    columns: dict[str, int],
    planning: PlanningSettings,
    reporter: _Collector,
) -> _Row:
    cells = {name: row[index].strip() if index < len(row) else "" for name, index in columns.items()}
    broken = False
    source = f"{path}:{line}"

    def problem(column: str, message: str) -> None:
        nonlocal broken
        broken = True
        reporter.error(Where(path, line, f"row {line}: {column}" if column else f"row {line}"), message)

    if any(cell.strip() for cell in row[width:]):
        problem("", (
            f"{len(row)} cells, but the header has {width} columns: is there a ';' in a value? put that value in "
            "double quotes"
        ))
    for name in ("strasse", "hausnummer", "ort"):
        if not cells[name]:
            problem(name, f"{name} is empty; every address needs strasse, hausnummer, plz and ort")
    postcode_ok = bool(_POSTCODE.fullmatch(cells["plz"]))
    if not postcode_ok:
        problem("plz", f"a postcode has 5 digits, not {cells['plz']!r}")
    ags = cells["ags"]
    if message := _ags_problem(ags):
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
        address_id = ""
    has_place = bool(cells["strasse"] and cells["hausnummer"] and postcode_ok)
    derived = not cells.get("id", "")
    if derived and has_place and not _ags_problem(ags):
        address_id = _derived_id(ags, cells["plz"], cells["strasse"], cells["hausnummer"])
    place = (_normal(cells["strasse"]), _normal(cells["hausnummer"]), cells["plz"]) if has_place else None
    label = f"{cells['strasse']} {cells['hausnummer']}, {cells['plz']}"
    address = None
    if not broken and coordinates is not None:
        address = Address(
            id=address_id,
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
            source=source,
        )
    return _Row(line, source, address, address_id, derived, place, label)


@functools.lru_cache(maxsize=1024)  # a list holds a handful of Gemeindeschlüssel
def _ags_problem(ags: str) -> str | None:
    return check_ags(ags, "the leading zero lost? format the ags column as text in the spreadsheet")


def _coordinates(cells: dict[str, str], planning: PlanningSettings, report: Problem) -> tuple[float, float] | None:
    values: dict[str, float] = {}
    for name, limit in (("lat", 90.0), ("lon", 180.0)):
        if not cells[name]:
            report(name, f"{name} is empty: an address without coordinates cannot be placed; give lat and lon in "
                   "WGS84 degrees")
            continue
        number = _decimal(cells[name])
        if number is None or abs(number) > limit:
            report(name, f"{name} must be a number of degrees within ±{limit:g}, not {cells[name]!r}")
            continue
        values[name] = number
    if len(values) < 2:
        return None
    lat, lon = values["lat"], values["lon"]
    if planning.area is not None:
        south, west, north, east = planning.area
        inside = {"lat": south <= lat <= north, "lon": west <= lon <= east}
        outside = [name for name, within in inside.items() if not within]
        if outside:
            report(", ".join(outside), (
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


@functools.lru_cache(maxsize=1 << 16)  # streets repeat: a list of 20,000 addresses has a few hundred of them
def _normal(text: str) -> str:
    """Street and house number as compared for duplicates: case, spaces and hyphens, ß/ss, ä/ae (ö, ü) and
    "Straße"/"Strasse"/"Str." folded."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ß", "ss")
    folded = folded.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    folded = re.sub(r"str(asse|\.)", "str", folded)
    return re.sub(r"[\s-]+", "", folded)


def _derived_id(ags: str, postcode: str, street: str, number: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", _ascii(f"{street} {number}").lower()).strip("-")
    return f"{ags}-{postcode}-{slug}"


def _ascii(text: str) -> str:
    text = text.replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = text.replace("Ä", "Ae").replace("Ö", "Oe").replace("Ü", "Ue")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
