"""The broadband-planning inputs: the ``planning:`` section, the address lists and the trench routes.

Written like ``tests/test_config.py``: each case writes real files into ``tmp_path`` (YAML, semicolon CSV, GeoJSON,
a GeoPackage through pyogrio) and checks the exact lines a user sees, ``FILE:LINE: FIELD: MESSAGE``, with the line
read off the written file. Address lists and routes are read by their own loaders (``load_addresses``,
``load_routes``), as ``stadtnetz export planning`` reads them after the configuration.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from stadtnetz.config import ConfigError, load_inventory
from stadtnetz.config.addresses import AddressList, load_addresses
from stadtnetz.config.routes import load_routes
from stadtnetz.model import Address, Device, FundingThresholds, PlanningSettings
from tests.test_config import DEVICE, ENV, HEAD, assert_issue, issues_of, line_of, write

BASE = HEAD + "devices:\n" + DEVICE


def messages(caught: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    """The lines the user reads; each is one issue."""
    assert str(caught.value).splitlines() == [str(issue) for issue in caught.value.issues]
    return str(caught.value).splitlines()


# --- the planning: section -------------------------------------------------------------------------------------------


def test_no_planning_section_means_no_planning(tmp_path: Path) -> None:
    assert load_inventory(write(tmp_path, "c.yaml", BASE), environ=ENV).planning is None


def test_planning_loads_with_its_defaults_and_paths_relative_to_the_yaml_file(tmp_path: Path) -> None:
    write(tmp_path, "conf/lists/city.csv", "strasse;hausnummer;plz;ort;ags;lat;lon\n")
    write(tmp_path, "conf/lists/outer.csv", "strasse;hausnummer;plz;ort;ags;lat;lon\n")
    write(tmp_path, "conf/trenches.geojson", '{"type": "FeatureCollection", "features": []}')
    path = write(tmp_path, "main.yaml", "include: [conf/planning.yaml]\n" + BASE)
    write(tmp_path, "conf/planning.yaml", "planning:\n  addresses: [lists/city.csv, lists/outer.csv]\n"
          "  routes: trenches.geojson\n")
    planning = load_inventory(path, environ=ENV).planning
    assert planning == PlanningSettings(
        address_files=(tmp_path / "conf/lists/city.csv", tmp_path / "conf/lists/outer.csv"),
        routes=tmp_path / "conf/trenches.geojson",
        crs=25832,
        area=None,
        ags=(),
        cost_per_metre=(("sealed", 180.0), ("unsealed", 70.0)),
        default_surface="sealed",
        detour=1.3,
        window=30 * 86400.0,
        headroom=0.3,
        funding=FundingThresholds(white=30.0, grey=100.0, symmetric=200.0, download=500.0, gigabit=1000.0),
    )


def test_planning_values_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BASE + textwrap.dedent("""\
        planning:
          crs: EPSG:25833
          area: {south: 51.74, west: 8.13, north: 51.94, east: 8.4}
          ags: ['05999001', '05999002']
          cost_per_metre: {sealed: 210, unsealed: '55,5'}
          default_surface: unsealed
          detour: 1.5
          window: 7d
          headroom: 25%
          funding: {white: 50, grey: 150}
        """))
    planning = load_inventory(path, environ=ENV).planning
    assert planning is not None
    assert (planning.crs, planning.area, planning.ags) == (25833, (51.74, 8.13, 51.94, 8.4), ("05999001", "05999002"))
    assert (planning.cost("sealed"), planning.cost("unsealed"), planning.default_surface) == (210.0, 55.5, "unsealed")
    assert (planning.detour, planning.window, planning.headroom) == (1.5, 7 * 86400.0, 0.25)
    assert planning.funding == FundingThresholds(white=50.0, grey=150.0)


def test_a_missing_address_list_names_the_yaml_line_together_with_the_other_problems(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "strasse;hausnummer;plz;ort;ags;lat;lon\n")
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  addresses:\n    - a.csv\n    - lists/b.csv\n"
                 "  routes: trenches.geojson\n  crs: 4326\n")
    issues = issues_of(path)
    assert [str(issue) for issue in issues] == [
        f"{path}:{line_of(path, 'lists/b.csv')}: planning.addresses[1]: address list {tmp_path / 'lists/b.csv'} "
        "does not exist; paths are relative to this file",
        f"{path}:{line_of(path, 'routes:')}: planning.routes: route file {tmp_path / 'trenches.geojson'} does not "
        "exist; paths are relative to this file",
        f"{path}:{line_of(path, 'crs:')}: planning.crs: unsupported CRS 4326: use EPSG 25832 (ETRS89 / UTM zone 32N) "
        "or 25833 (ETRS89 / UTM zone 33N, east of 12° E); 4326 is WGS84 in degrees, the export measures in metres",
    ]


def test_an_address_list_named_twice_or_a_directory(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "strasse;hausnummer;plz;ort;ags;lat;lon\n")
    (tmp_path / "lists").mkdir()
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  addresses:\n    - a.csv\n    - ./a.csv\n    - lists\n")
    issues = issues_of(path)
    assert_issue(issues, path, line_of(path, "./a.csv"), "planning.addresses[1]",
                 f"address list {tmp_path / 'a.csv'} is already named at {path}:{line_of(path, '- a.csv')}")
    assert_issue(issues, path, line_of(path, "- lists"), "planning.addresses[2]",
                 f"address list {tmp_path / 'lists'} is a directory; name the file in it")


@pytest.mark.parametrize("crs", ["25832", "EPSG:25832", "epsg:25833", 25833])
def test_crs_may_be_written_as_number_or_epsg_code(tmp_path: Path, crs: object) -> None:
    path = write(tmp_path, "c.yaml", BASE + f"planning:\n  crs: {json.dumps(crs)}\n")
    planning = load_inventory(path, environ=ENV).planning
    assert planning is not None and planning.crs == int(str(crs)[-5:])


def test_crs_3857_is_refused_with_the_allowed_values(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  crs: 3857\n")
    assert_issue(issues_of(path), path, line_of(path, "crs:"), "planning.crs",
                 "unsupported CRS 3857: use EPSG 25832 (ETRS89 / UTM zone 32N) or 25833")


def test_an_unquoted_ags_that_yaml_reads_as_a_number_must_be_quoted(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML): 05566012 has only the digits 0-7 after the 0, so it is the octal number 1502218; 11000000
    # is a plain number. Neither may be guessed back into digits.
    assert load_yaml_value("[05566012, 11000000, 05999001]") == [1502218, 11000000, "05999001"]
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  ags:\n    - 05566012\n    - '05999001'\n    - 11000000\n")
    issues = issues_of(path)
    quote = (
        "write the Gemeindeschlüssel in quotes, e.g. '05566012': unquoted, YAML reads it as a number (a leading zero "
        "is lost, and digits 0-7 after a leading zero are read as octal)"
    )
    assert [str(issue) for issue in issues] == [
        f"{path}:{line_of(path, '05566012')}: planning.ags[0]: {quote}",
        f"{path}:{line_of(path, '11000000')}: planning.ags[2]: {quote}",
    ]


def test_an_unquoted_ags_with_an_8_or_9_stays_text_in_yaml_and_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  ags: [05999001]\n")
    planning = load_inventory(path, environ=ENV).planning
    assert planning is not None and planning.ags == ("05999001",)


def test_a_7_digit_ags(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  ags: '5999001'\n")
    assert_issue(issues_of(path), path, line_of(path, "ags:"), "planning.ags[0]",
                 "an Amtlicher Gemeindeschlüssel has 8 digits, e.g. 05566012, not '5999001' (a leading zero lost?)")


def test_area_south_above_north(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  area:\n    south: 51.94\n    west: 8.13\n"
                 "    north: 51.74\n    east: 8.4\n")
    assert_issue(issues_of(path), path, line_of(path, "area:"), "planning.area",
                 "south (51.94) must be below north (51.74): the box is south, west, north, east in degrees")


def test_area_missing_an_edge_names_the_required_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  area: {south: 51.74, west: 8.13, east: 8.4}\n")
    assert_issue(issues_of(path), path, line_of(path, "area:"), "planning.area.north",
                 "missing required field 'north' (required: south, west, north, east)")


@pytest.mark.parametrize(
    ("funding", "message"),
    [
        ("{white: 120}", "the thresholds must rise, white <= grey <= download <= gigabit: here white 120 > grey 100"),
        ("{download: 2000}", "the thresholds must rise, white <= grey <= download <= gigabit: here download 2000 > "
         "gigabit 1000"),
        ("{symmetric: 600}", "symmetric must lie between grey (100) and download (500), not 600"),
        ("{grey: 0}", "a bandwidth threshold is above 0 Mbit/s, got 0"),
    ],
)
def test_funding_thresholds_out_of_order(tmp_path: Path, funding: str, message: str) -> None:
    path = write(tmp_path, "c.yaml", BASE + f"planning:\n  funding: {funding}\n")
    field = "planning.funding.grey" if "grey: 0" in funding else "planning.funding"
    assert_issue(issues_of(path), path, line_of(path, "funding:"), field, message)


def test_detour_below_one(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  detour: 0.5\n")
    assert_issue(issues_of(path), path, line_of(path, "detour:"), "planning.detour",
                 "a detour factor lies between 1 (straight) and 5, got 0.5")


def test_a_typo_in_planning_is_named_with_the_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BASE + "planning:\n  adresses: a.csv\n  funding:\n    whte: 20\n")
    issues = issues_of(path)
    assert_issue(issues, path, line_of(path, "adresses:"), "planning.adresses",
                 "unknown field 'adresses' (allowed: addresses, routes, crs, area, ags, cost_per_metre, "
                 "default_surface, detour, window, headroom, funding); did you mean 'addresses'?")
    assert_issue(issues, path, line_of(path, "whte:"), "planning.funding.whte",
                 "unknown field 'whte' (allowed: white, grey, symmetric, download, gigabit); did you mean 'white'?")


def test_planning_in_two_files_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "include: [more.yaml]\n" + BASE + "planning:\n  detour: 1.2\n")
    more = write(tmp_path, "more.yaml", "groups: {}\nplanning:\n  detour: 1.4\n")
    assert_issue(issues_of(path), path, line_of(path, "planning:"), "planning",
                 f"planning is already given in {more}:2; write planning in one file only")


def test_a_device_outside_the_planning_area_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BASE + "    lat: 8.26\n    lon: 51.84\n"
                 "planning:\n  area: {south: 51.74, west: 8.13, north: 51.94, east: 8.4}\n")
    inventory = load_inventory(path, environ=ENV)
    assert inventory.warnings == [
        f"{path}:{line_of(path, 'lat: 8.26')}: devices[0].lat: 8.26 N, 51.84 E lies outside planning.area "
        "(51.74..51.94 N, 8.13..8.4 E); check the coordinates (lat and lon swapped?), or widen the area if the "
        "device stands outside on purpose"
    ]


def load_yaml_value(text: str) -> object:
    import yaml

    return yaml.safe_load(f"value: {text}")["value"]


# --- address lists ---------------------------------------------------------------------------------------------------

HEADER = "id;strasse;hausnummer;plz;ort;ags;lat;lon;download_mbit_s;upload_mbit_s;technologie;oberflaeche"
COLUMNS = HEADER.split(";")
GOOD = {
    "id": "A000001", "strasse": "Hauptstraße", "hausnummer": "12a", "plz": "48990", "ort": "Musterstadt",
    "ags": "05999001", "lat": "51.841200", "lon": "8.263400", "download_mbit_s": "50", "upload_mbit_s": "10",
    "technologie": "vdsl", "oberflaeche": "versiegelt",
}
AREA = (51.74, 8.13, 51.94, 8.4)


def row(**cells: str) -> str:
    return ";".join({**GOOD, **cells}[name] for name in COLUMNS)


def address_file(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "adressen.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def read(*paths: Path, **planning: object) -> AddressList:
    settings = {"ags": ("05999001", "05999002"), "area": AREA, **planning}
    return load_addresses(PlanningSettings(address_files=paths, **settings))  # type: ignore[arg-type]


def address_errors(*paths: Path, **planning: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        read(*paths, **planning)
    return messages(caught)


def test_a_good_address_list(tmp_path: Path) -> None:
    path = address_file(
        tmp_path,
        row(),
        row(id="A000002", strasse="Königsallee", hausnummer="3", lat="51,8412", lon="8,2634", download_mbit_s="",
            upload_mbit_s="", technologie="", oberflaeche=""),
        row(id="A000003", strasse="Grüner Weg", hausnummer="7", ags="05999002", download_mbit_s="1000",
            upload_mbit_s="1000", technologie="FTTH", oberflaeche="unversiegelt"),
    )
    result = read(path)
    common = {"postcode": "48990", "town": "Musterstadt", "lat": 51.8412, "lon": 8.2634}
    assert result.addresses == [
        Address(id="A000001", street="Hauptstraße", house_number="12a", ags="05999001", download_mbit_s=50.0,
                upload_mbit_s=10.0, technology="vdsl", surface="sealed", source=f"{path}:2", **common),
        Address(id="A000002", street="Königsallee", house_number="3", ags="05999001", download_mbit_s=None,
                upload_mbit_s=None, technology="", surface="sealed", source=f"{path}:3", **common),
        Address(id="A000003", street="Grüner Weg", house_number="7", ags="05999002", download_mbit_s=1000.0,
                upload_mbit_s=1000.0, technology="ftth", surface="unsealed", source=f"{path}:4", **common),
    ]
    assert result.warnings == []


def test_an_empty_surface_takes_the_default_and_ids_are_derived_without_an_id_column(tmp_path: Path) -> None:
    header = "strasse;hausnummer;plz;ort;ags;lat;lon;oberflaeche"
    path = address_file(tmp_path, "Lange Straße;5 b;48991;Musterstadt;05999001;51.8;8.2;", header=header)
    (address,) = read(path, default_surface="unsealed").addresses
    assert (address.id, address.surface, address.download_mbit_s) == ("05999001-48991-lange-strasse-5-b", "unsealed",
                                                                       None)


def test_upload_above_download_is_taken_as_written(tmp_path: Path) -> None:
    # the module docstring: speeds are what the list reports; an upload above the download is not an error
    (address,) = read(address_file(tmp_path, row(download_mbit_s="16", upload_mbit_s="40"))).addresses
    assert (address.download_mbit_s, address.upload_mbit_s) == (16.0, 40.0)


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"lat": ""}, "lat", "lat is empty: an address without coordinates cannot be placed; give lat and lon in "
         "WGS84 degrees"),
        ({"lon": " "}, "lon", "lon is empty: an address without coordinates cannot be placed; give lat and lon in "
         "WGS84 degrees"),
        ({"lat": "51°50'"}, "lat", "lat must be a number of degrees within ±90, not \"51°50'\""),
        ({"lon": "nan"}, "lon", "lon must be a number of degrees within ±180, not 'nan'"),
        ({"ags": "05999003"}, "ags", "unknown Gemeindeschlüssel 05999003: planning.ags lists 05999001, 05999002"),
        ({"ags": "5999001"}, "ags", "an Amtlicher Gemeindeschlüssel has 8 digits, e.g. 05566012, not '5999001' (the "
         "leading zero lost? format the ags column as text in the spreadsheet)"),
        ({"ags": "059990011"}, "ags", "an Amtlicher Gemeindeschlüssel has 8 digits, e.g. 05566012, not '059990011'"),
        ({"lat": "8.2634", "lon": "51.8412"}, "lat, lon", "8.2634 N, 51.8412 E lies outside the planning area "
         "(51.74..51.94 N, 8.13..8.4 E); check the coordinates (lat and lon swapped?) or planning.area"),
        ({"lon": "8.5"}, "lon", "51.8412 N, 8.5 E lies outside the planning area (51.74..51.94 N, 8.13..8.4 E); "
         "check the coordinates (lat and lon swapped?) or planning.area"),
        ({"technologie": "glasfaser"}, "technologie", "unknown technology 'glasfaser': one of ftth, fttb, kabel, "
         "vdsl, adsl, lte, 5g, satellit, keine, or empty"),
        ({"oberflaeche": "asphalt"}, "oberflaeche", "unknown surface 'asphalt': versiegelt or unversiegelt, or empty"),
        ({"download_mbit_s": "-16"}, "download_mbit_s", "download_mbit_s must be a number of Mbit/s (0 or more) or "
         "empty, not '-16'"),
        ({"upload_mbit_s": "viel"}, "upload_mbit_s", "upload_mbit_s must be a number of Mbit/s (0 or more) or empty, "
         "not 'viel'"),
        ({"plz": "4899"}, "plz", "a postcode has 5 digits, not '4899'"),
        ({"strasse": ""}, "strasse", "strasse is empty; every address needs strasse, hausnummer, plz and ort"),
        ({"id": "A 1"}, "id", "an id is letters, digits and . _ : - (starting with a letter or digit), not 'A 1'"),
    ],
)
def test_a_bad_cell_names_the_file_line_and_column(
    tmp_path: Path, cells: dict[str, str], field: str, message: str
) -> None:
    path = address_file(tmp_path, row(id="A000000", strasse="Kirchweg"), row(**cells))
    assert address_errors(path) == [f"{path}:3: row 3: {field}: {message}"]


def test_every_problem_of_every_file_is_reported_at_once_none_dropped(tmp_path: Path) -> None:
    first = address_file(
        tmp_path,
        row(),
        row(id="A000002", hausnummer="14", lat="north", lon="east", download_mbit_s="x", technologie="dsl"),
        row(id="A000003", hausnummer="16", ags="05999009", oberflaeche="gravel"),
        name="first.csv",
    )
    second = address_file(
        tmp_path,
        row(id="B1", hausnummer="12A"),  # Hauptstraße 12a of first.csv
        row(id="A000002", hausnummer="99", upload_mbit_s="-1"),  # a broken row still takes part in the checks
        name="second.csv",
    )
    assert address_errors(first, second) == [
        f"{first}:3: row 3: lat: lat must be a number of degrees within ±90, not 'north'",
        f"{first}:3: row 3: lon: lon must be a number of degrees within ±180, not 'east'",
        f"{first}:3: row 3: download_mbit_s: download_mbit_s must be a number of Mbit/s (0 or more) or empty, not 'x'",
        f"{first}:3: row 3: technologie: unknown technology 'dsl': one of ftth, fttb, kabel, vdsl, adsl, lte, 5g, "
        "satellit, keine, or empty",
        f"{first}:4: row 4: ags: unknown Gemeindeschlüssel 05999009: planning.ags lists 05999001, 05999002",
        f"{first}:4: row 4: oberflaeche: unknown surface 'gravel': versiegelt or unversiegelt, or empty",
        f"{second}:2: row 2: strasse, hausnummer, plz: Hauptstraße 12A, 48990 is already listed at {first}:2; each "
        "address once",
        f"{second}:3: row 3: upload_mbit_s: upload_mbit_s must be a number of Mbit/s (0 or more) or empty, not '-1'",
        f"{second}:3: row 3: id: id 'A000002' is already used at {first}:3; ids must be unique",
    ]


@pytest.mark.parametrize(
    ("street", "number"),
    [("Hauptstr.", "12a"), ("Hauptstrasse", "12 A"), ("haupt-straße", "12a"), ("HAUPTSTRASSE", "12a")],
)
def test_the_same_address_spelled_differently_is_a_duplicate(tmp_path: Path, street: str, number: str) -> None:
    path = address_file(tmp_path, row(), row(id="A000002", strasse=street, hausnummer=number))
    assert address_errors(path) == [
        f"{path}:3: row 3: strasse, hausnummer, plz: {street} {number}, 48990 is already listed at {path}:2; each "
        "address once"
    ]


def test_umlauts_written_out_are_the_same_street_and_the_same_number_elsewhere_is_not(tmp_path: Path) -> None:
    header = "strasse;hausnummer;plz;ort;ags;lat;lon"
    path = address_file(
        tmp_path,
        "Müllerweg;1;48990;Musterstadt;05999001;51.8;8.2",
        "Muellerweg;1;48990;Musterstadt;05999001;51.8;8.2",
        "Müllerweg;1;48991;Musterstadt;05999001;51.8;8.2",  # another postcode: another street
        "Müllerweg;11;48990;Musterstadt;05999001;51.8;8.2",
        header=header,
    )
    assert address_errors(path) == [
        f"{path}:3: row 3: strasse, hausnummer, plz: Muellerweg 1, 48990 is already listed at {path}:2; each address "
        "once"
    ]


def test_derived_ids_that_collide_are_reported_as_such(tmp_path: Path) -> None:
    header = "strasse;hausnummer;plz;ort;ags;lat;lon"
    path = address_file(
        tmp_path,
        "St.-Martin-Weg;1;48990;Musterstadt;05999001;51.8;8.2",
        "St Martin Weg;1;48990;Musterstadt;05999001;51.8;8.2",
        header=header,
    )
    assert address_errors(path) == [
        f"{path}:3: row 3: strasse, hausnummer, plz: St Martin Weg 1, 48990 makes the same id "
        f"'05999001-48990-st-martin-weg-1' as the address at {path}:2 (an id is made from ags, plz, strasse and "
        "hausnummer when the list has none); give the list an id column, or list each address once"
    ]


def test_a_missing_required_column_is_named(tmp_path: Path) -> None:
    path = address_file(tmp_path, header="id;strasse;nr;plz;ort;ags;lat")
    with pytest.raises(ConfigError) as caught:
        read(path)
    assert messages(caught) == [
        f"{path}:1: header: missing columns hausnummer;lon (required: strasse;hausnummer;plz;ort;ags;lat;lon)"
    ]


def test_unknown_extra_columns_are_a_warning(tmp_path: Path) -> None:
    path = address_file(tmp_path, row() + ";Hinterhaus", header=HEADER + ";Bemerkung")
    result = read(path)
    assert len(result.addresses) == 1
    assert result.warnings == [
        f"{path}:1: header: unknown column 'Bemerkung' is ignored (known: strasse;hausnummer;plz;ort;ags;lat;lon;id;"
        "download_mbit_s;upload_mbit_s;technologie;oberflaeche)"
    ]


def test_more_cells_than_the_header_is_an_error(tmp_path: Path) -> None:
    path = address_file(tmp_path, row(oberflaeche="versiegelt;Hinterhof"))
    assert address_errors(path) == [
        f"{path}:2: row 2: 13 cells, but the header has 12 columns: is there a ';' in a value? put that value in "
        "double quotes"
    ]
    path.write_text(HEADER + "\n" + row(strasse='"Am Markt;Ecke Kirchweg"') + ";; \n", encoding="utf-8")
    assert read(path).addresses[0].street == "Am Markt;Ecke Kirchweg"  # quoted, and empty trailing cells are fine


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "adressen.csv"
    path.write_bytes(b"")
    assert address_errors(path) == [
        f"{path}:1: header: empty address list: the first row must be a header with "
        "strasse;hausnummer;plz;ort;ags;lat;lon"
    ]


def test_a_header_without_rows_is_a_warning(tmp_path: Path) -> None:
    path = address_file(tmp_path)
    assert read(path) == AddressList([], [f"{path}:1: header: the address list has a header but no addresses"])


def test_excels_byte_order_mark_and_windows_line_endings_load(tmp_path: Path) -> None:
    path = tmp_path / "adressen.csv"
    text = "\r\n".join([HEADER, row(), "", row(id="A000002", hausnummer="14")]) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = read(path)
    assert [(a.id, a.street, a.source) for a in result.addresses] == [
        ("A000001", "Hauptstraße", f"{path}:2"),
        ("A000002", "Hauptstraße", f"{path}:4"),
    ]
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("51.841200", "x", 1).encode("utf-8"))
    assert address_errors(path) == [f"{path}:2: row 2: lat: lat must be a number of degrees within ±90, not 'x'"]


def test_a_windows_1252_file_names_the_line_with_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "adressen.csv"
    rows = [row(id=f"A{n}", strasse="Kirchweg", hausnummer=str(n)) for n in range(400)] + [row()]
    path.write_bytes(("\n".join([HEADER, *rows]) + "\n").encode("cp1252"))
    assert address_errors(path) == [
        f"{path}:402: planning.addresses: not UTF-8 text (byte 0xdf on this line; Windows-1252?): save the address "
        "list as \"CSV UTF-8\" with ';' between columns"
    ]
    path.write_bytes((HEADER + "\n" + row() + "\n").encode("utf-16"))
    assert address_errors(path) == [
        f"{path}:1: planning.addresses: the address list is UTF-16 (Excel's \"Unicode text\"): save it as "
        "\"CSV UTF-8\" with ';' between columns"
    ]


def test_a_comma_separated_file_is_named_as_such(tmp_path: Path) -> None:
    path = address_file(tmp_path, header=HEADER.replace(";", ","))
    assert address_errors(path) == [
        f"{path}:1: header: the header is not semicolon-separated: save the address list as CSV with ';'"
    ]


# --- trench routes -------------------------------------------------------------------------------------------------

DEVICES = [
    Device("core-1", "core_router", "127.20.0.1", lat=51.8412, lon=8.2634),
    Device("dist-1", "distribution_switch", "127.20.0.2", lat=51.8500, lon=8.2700, upstream="core-1"),
    Device("dist-2", "distribution_switch", "127.20.0.3", lat=51.8300, lon=8.2500, upstream="core-1"),
    Device("hs-1", "hotspot", "127.20.0.4", lat=51.8510, lon=8.2710, upstream="dist-1"),
]
ROUTE_1 = [[8.2700, 51.8500], [8.2700, 51.8412], [8.2634, 51.8412]]  # dist-1 -> core-1, L-shaped
ROUTE_2 = [[8.2500, 51.8300], [8.2634, 51.8300], [8.2634, 51.8412]]  # dist-2 -> core-1


def feature(start: object, end: object, coordinates: object, kind: str = "LineString") -> dict:
    return {"type": "Feature", "properties": {"from": start, "to": end},
            "geometry": {"type": kind, "coordinates": coordinates}}


def route_file(tmp_path: Path, *features: object, name: str = "trassen.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}, indent=1), encoding="utf-8")
    return path


def route_errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_routes(path, DEVICES)
    return messages(caught)


def test_a_good_route_file(tmp_path: Path) -> None:
    path = route_file(tmp_path, feature("dist-1", "core-1", ROUTE_1), feature("dist-2", "core-1", ROUTE_2))
    assert load_routes(path, DEVICES) == {
        ("dist-1", "core-1"): ((8.27, 51.85), (8.27, 51.8412), (8.2634, 51.8412)),
        ("dist-2", "core-1"): ((8.25, 51.83), (8.2634, 51.83), (8.2634, 51.8412)),
    }


def test_a_single_part_multilinestring_is_that_line(tmp_path: Path) -> None:
    path = route_file(tmp_path, feature("dist-1", "core-1", [ROUTE_1], "MultiLineString"))
    assert load_routes(path, DEVICES) == {("dist-1", "core-1"): ((8.27, 51.85), (8.27, 51.8412), (8.2634, 51.8412))}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (feature("dist-1", "core-1", ROUTE_1[0], "Point"),
         "the route dist-1 -> core-1 is a Point, not a LineString; give each span one line"),
        (feature("dist-1", "core-1", [ROUTE_1, ROUTE_1], "MultiLineString"),
         "the route dist-1 -> core-1 is a MultiLineString of 2 parts, not a LineString; give each span one line"),
        (feature("dist-1", "core-1", ROUTE_1[:1]), "the route dist-1 -> core-1 is not a line of at least two points"),
        (feature("dist-1", "core-1", [[8.27], *ROUTE_1]),
         "the route dist-1 -> core-1 has the point [8.27]; a point is [longitude, latitude] in degrees"),
        (feature("dist-1", "core-1", [[449000.0, 5743000.0], [449500.0, 5742000.0]]),
         "the route dist-1 -> core-1 has the point [449000, 5743000], which is not longitude, latitude in degrees: "
         "GeoJSON is WGS84 (RFC 7946); export it as EPSG:4326, or use a GeoPackage in its own CRS"),
        ({**feature("dist-1", "core-1", ROUTE_1), "geometry": None},
         "the route dist-1 -> core-1 has no geometry; a route is a LineString"),
        (feature("dist-1", None, ROUTE_1), "no to: a route needs the properties from (the device) and to (its "
         "upstream)"),
        ({**feature("dist-1", "core-1", ROUTE_1), "properties": None}, "no from and to: a route needs the properties "
         "from (the device) and to (its upstream)"),
        (feature("dist-9", "core-1", ROUTE_1), "unknown device 'dist-9': from and to name devices of the inventory"),
        (feature("hs-1", "core-1", ROUTE_1), "hs-1 does not hang off core-1 (its upstream is dist-1); a route follows "
         "a span: to is from's upstream"),
        (feature("core-1", "hs-1", ROUTE_1), "core-1 does not hang off hs-1 (it has no upstream); a route follows a "
         "span: to is from's upstream"),
        (feature("core-1", "dist-1", ROUTE_1[::-1]), "from and to are swapped: dist-1 hangs off core-1; write from: "
         "dist-1, to: core-1 (the line starting at dist-1)"),
        (feature("dist-1", "core-1", [[8.2730, 51.8500], *ROUTE_1[1:]]),
         "the route dist-1 -> core-1 starts 206 m from dist-1 (at most 100 m); it must run from device to device"),
        (feature("dist-1", "core-1", [*ROUTE_1[:2], [8.2634, 51.8430]]),
         "the route dist-1 -> core-1 ends 200 m from core-1 (at most 100 m); it must run from device to device"),
        ("dist-1 -> core-1", "expected a GeoJSON Feature (with type, geometry and properties), got 'dist-1 -> core-1'"),
    ],
)
def test_a_bad_route_names_the_file_and_the_feature(tmp_path: Path, item: object, message: str) -> None:
    path = route_file(tmp_path, feature("dist-2", "core-1", ROUTE_2), item)
    assert route_errors(path) == [f"{path}: planning.routes feature 2: {message}"]


def test_every_bad_route_is_reported_and_a_second_route_for_a_span_names_the_first(tmp_path: Path) -> None:
    path = route_file(
        tmp_path,
        feature("dist-1", "core-1", [[8.2730, 51.8500], *ROUTE_1[1:]]),  # too far, but its span is taken
        feature("dist-1", "core-1", ROUTE_1),
        feature("hs-1", "dist-1", ROUTE_2, "Polygon"),
        feature("x", "y", ROUTE_2),
    )
    assert route_errors(path) == [
        f"{path}: planning.routes feature 1: the route dist-1 -> core-1 starts 206 m from dist-1 (at most 100 m); it "
        "must run from device to device",
        f"{path}: planning.routes feature 2: a second route for dist-1 -> core-1 (the first is feature 1); give each "
        "span one",
        f"{path}: planning.routes feature 3: the route hs-1 -> dist-1 is a Polygon, not a LineString; give each span "
        "one line",
        f"{path}: planning.routes feature 4: unknown device 'x', 'y': from and to name devices of the inventory",
    ]


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "trassen.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature",}\n ]}\n', encoding="utf-8")
    assert route_errors(path) == [
        f"{path}:3: planning.routes: not valid JSON: Expecting property name enclosed in double quotes (column 22); "
        "save the routes as GeoJSON"
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (feature("dist-1", "core-1", ROUTE_1), "expected a GeoJSON FeatureCollection (of LineStrings), got a Feature"),
        ([feature("dist-1", "core-1", ROUTE_1)], "expected a GeoJSON FeatureCollection (of LineStrings), got a list"),
        ({"type": "FeatureCollection", "features": {"dist-1": ROUTE_1}},
         "features must be a list of features, got a mapping"),
    ],
)
def test_not_a_feature_collection(tmp_path: Path, document: object, message: str) -> None:
    path = tmp_path / "trassen.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert route_errors(path) == [f"{path}: planning.routes: {message}"]


def test_a_geopackage_in_utm_gives_the_same_routes_as_the_geojson(tmp_path: Path) -> None:
    import numpy
    import pyogrio
    import shapely
    from pyproj import Transformer

    to_utm = Transformer.from_crs(4326, 25832, always_xy=True)
    lines = [shapely.LineString([to_utm.transform(lon, lat) for lon, lat in route]) for route in (ROUTE_1, ROUTE_2)]
    lines[1] = shapely.MultiLineString([lines[1]])  # what GIS tools often write: one part
    path = tmp_path / "trassen.gpkg"
    pyogrio.raw.write(
        path,
        numpy.array([shapely.to_wkb(line) for line in lines], dtype=object),
        [numpy.array(["dist-1", "dist-2"], dtype=object), numpy.array(["core-1", "core-1"], dtype=object)],
        ["from", "to"],
        driver="GPKG",
        crs="EPSG:25832",
        geometry_type="Unknown",
    )
    geojson = load_routes(route_file(tmp_path, feature("dist-1", "core-1", ROUTE_1),
                                     feature("dist-2", "core-1", ROUTE_2)), DEVICES)
    routes = load_routes(path, DEVICES)
    assert routes.keys() == geojson.keys()
    for span, vertices in routes.items():
        assert len(vertices) == len(geojson[span])
        for (lon, lat), (lon_json, lat_json) in zip(vertices, geojson[span], strict=True):
            assert (lon, lat) == pytest.approx((lon_json, lat_json), abs=1e-9)
            assert isinstance(lon, float) and isinstance(lat, float)


def test_a_geopackage_feature_that_is_not_a_span_is_named_by_its_number(tmp_path: Path) -> None:
    import numpy
    import pyogrio
    import shapely

    path = tmp_path / "trassen.gpkg"
    pyogrio.raw.write(
        path,
        numpy.array([shapely.to_wkb(shapely.LineString(ROUTE_1)), shapely.to_wkb(shapely.Point(ROUTE_2[0]))],
                    dtype=object),
        [numpy.array(["dist-1", "dist-2"], dtype=object), numpy.array(["dist-2", "core-1"], dtype=object)],
        ["from", "to"],
        driver="GPKG",
        crs="EPSG:4326",
        geometry_type="Unknown",
    )
    assert route_errors(path) == [
        f"{path}: planning.routes feature 1: dist-1 does not hang off dist-2 (its upstream is core-1); a route "
        "follows a span: to is from's upstream",
        f"{path}: planning.routes feature 2: the route dist-2 -> core-1 is a Point, not a LineString; give each span "
        "one line",
    ]
