"""``stadtnetz export planning`` and ``report gaps`` on a small city whose every figure the test computes itself.

Five devices around Hildesheim's grid example point (9.9510 E, 52.1548 N), eight addresses with known service, a
trench route for one span and a history of two days with known utilisation and one outage. The export runs as the
real command line; every file is read back with pyogrio's GDAL and compared with values computed here
independently: geodesic distances with pyproj's ``Geod``, distances to lines with shapely in EPSG:25832, grid ids
by the INSPIRE formula and one by hand, funding classes from the thresholds.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod, Transformer

from stadtnetz.clock import ManualClock
from stadtnetz.config import load_inventory
from stadtnetz.history import UTILISATION_METRIC, HistoryStore
from stadtnetz.labels import Labels
from stadtnetz.model import HistorySettings, MetricDef, MetricKind, Reading
from stadtnetz.status.state import State
from stadtnetz.status.topology import UNKNOWN, DeviceStatus, Status
from tests.support.service_process import ServiceProcess

REPO = Path(__file__).resolve().parents[1]
GEOD = Geod(ellps="WGS84")
TO_UTM = Transformer.from_crs(4326, 25832, always_xy=True)
TO_LAEA = Transformer.from_crs(4326, 3035, always_xy=True)
T_END = 1_780_000_000.0 - 1_780_000_000.0 % 3600  # a whole hour
HOURS = 48

# id, kind, lat, lon, upstream, backhaul
DEVICES = [
    ("core-1", "core_router", 52.1500, 9.9500, None, "fibre"),
    ("dist-1", "distribution_switch", 52.1550, 9.9600, "core-1", "fibre"),
    ("hs-1", "hotspot", 52.1600, 9.9700, "dist-1", "dsl"),
    ("hs-2", "hotspot", 52.1520, 9.9550, "dist-1", "fibre"),
    ("ch-1", "charger_modem", 52.1700, 9.9000, "core-1", "lte"),
]
FIBRE = {d[0]: (d[3], d[2]) for d in DEVICES if d[5] == "fibre"}  # id -> (lon, lat)
# the trench from dist-1 to core-1: via a corner, so longer than the straight line
ROUTE = [(9.9600, 52.1550), (9.9600, 52.1500), (9.9500, 52.1500)]
# id, street, number, lat, lon, down, up, technology, surface, expected class
ADDRESSES = [
    ("A1", "Marktplatz", "1", 52.1548, 9.9510, 50, 10, "vdsl", "versiegelt", "grau"),
    ("A2", "Hof Meyer", "3", 52.1800, 9.9900, 16, 1, "adsl", "unversiegelt", "weiss"),
    ("A3", "Hof Meyer", "4", 52.1805, 9.9905, 6, 1, "adsl", "unversiegelt", "weiss"),
    ("A4", "Am Dom", "2", 52.1501, 9.9501, 1000, 1000, "ftth", "versiegelt", "gigabit"),
    ("A5", "Am Dom", "4", 52.1502, 9.9504, 250, 40, "vdsl", "versiegelt", "foerderfaehig"),
    ("A6", "Am Dom", "6", 52.1503, 9.9507, 500, 50, "kabel", "versiegelt", "hochbitratig"),
    ("A7", "Feldweg", "9", 52.1650, 9.9650, None, None, "", "", "unbekannt"),
    ("A8", "Bahnhofstr.", "12a", 52.1590, 9.9690, 200, 200, "fttb", "versiegelt", "hochbitratig"),
]
CLASS = {a[0]: a[9] for a in ADDRESSES}
SURFACE_COST = {"versiegelt": 180.0, "unversiegelt": 70.0, "": 180.0}  # "": planning.default_surface (sealed)


def write_city(folder: Path, history: bool = True, routes: bool = True) -> Path:
    (folder / "community").write_text("public\n")
    lines = [
        "credentials:\n  c:\n    community: file:community\n",
        "defaults:\n  credentials: c\n  ping: false\n",  # nobody answers at 127.77.1.x: the figures do not need it
        "devices:\n",
    ]
    for number, (device_id, kind, lat, lon, upstream, backhaul) in enumerate(DEVICES, start=1):
        lines.append(
            f"  - {{id: {device_id}, kind: {kind}, address: 127.77.1.{number}, lat: {lat}, lon: {lon}, "
            f"backhaul: {backhaul}, district: {'Altstadt' if lon < 9.955 else 'Nordstadt'}"
            + (f", upstream: {upstream}" if upstream else "") + "}\n"
        )
    if history:
        lines.append("history:\n  path: history.sqlite\n")
    lines.append(
        "planning:\n  addresses: addresses.csv\n  ags: ['03254021']\n"
        "  area: {south: 52.10, west: 9.85, north: 52.20, east: 10.05}\n"
        + ("  routes: trenches.geojson\n" if routes else "")
    )
    (folder / "city.yaml").write_text("".join(lines), encoding="utf-8")
    rows = ["strasse;hausnummer;plz;ort;ags;lat;lon;download_mbit_s;upload_mbit_s;technologie;oberflaeche;id"]
    for a in ADDRESSES:
        speeds = ";".join("" if v is None else str(v) for v in (a[5], a[6]))
        rows.append(f"{a[1]};{a[2]};31134;Hildesheim;03254021;{a[3]};{a[4]};{speeds};{a[7]};{a[8]};{a[0]}")
    (folder / "addresses.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    feature = {
        "type": "Feature",
        "properties": {"from": "dist-1", "to": "core-1"},
        "geometry": {"type": "LineString", "coordinates": ROUTE},
    }
    (folder / "trenches.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return folder / "city.yaml"


SPEED_METRIC = MetricDef("stadtnetz_interface_speed_bytes", MetricKind.GAUGE, "speed", "bytes")
UTIL = MetricDef(UTILISATION_METRIC, MetricKind.GAUGE, "utilisation", "ratio")
UPLINK = Labels.of(if_index="1", interface="uplink")
LAN = Labels.of(if_index="2", interface="lan")


def utilisation_of(sample: int) -> float:
    """dist-1's uplink utilisation at its n-th sample: a ramp 0.00 .. 0.99, so its p95 is known (0.95)."""
    return (sample % 100) / 100


def write_history(config: Path) -> dict[str, float]:
    """Two days, a sample every 5 minutes; dist-1's uplink follows :func:`utilisation_of`, its LAN port idles at
    0.05; hs-1 is down for the last 6 hours. Returns the availability each device should get."""
    inventory = load_inventory(config)
    clock = ManualClock(T_END - HOURS * 3600)
    store = HistoryStore(inventory.history.path, clock, HistorySettings(path=inventory.history.path))
    state = State(inventory.devices, clock)
    up = DeviceStatus(Status.UP)
    for device in inventory.devices:
        store.record_transition(device.id, UNKNOWN, up, clock.time(), cause="test")
    down_from = T_END - 6 * 3600
    sample = 0
    for step in range(1, HOURS * 12 + 1):
        t = T_END - HOURS * 3600 + step * 300
        clock.set(t)
        if t - 300 < down_from <= t:
            store.record_transition("hs-1", up, DeviceStatus(Status.DOWN), down_from, cause="test")
        for device in inventory.devices:
            if device.id == "hs-1" and t > down_from:
                continue
            readings = [Reading(SPEED_METRIC, UPLINK, 1.25e8)]  # 1 Gbit/s
            if device.id == "dist-1":
                readings += [Reading(UTIL, UPLINK.plus("direction", "receive"), utilisation_of(sample)),
                             Reading(UTIL, LAN.plus("direction", "receive"), 0.05),
                             Reading(SPEED_METRIC, LAN, 1.25e9)]
                sample += 1
            state.record_poll(device.id, readings, None, None, 0.01)
        store.record_samples(state, t)
        if step % 12 == 0:
            store.flush()
    store.close()
    return {"hs-1": 42 / 48, "dist-1": 1.0, "core-1": 1.0}


def stadtnetz(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stadtnetz.cli", *args], capture_output=True, text=True, timeout=120, cwd=REPO
    )


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("city")
    config = write_city(folder)
    availability = write_history(config)
    gpkg = folder / "plan.gpkg"
    result = stadtnetz("export", "planning", "-c", str(config), "--out", str(gpkg), "--until", _iso(T_END))
    assert result.returncode == 0, result.stderr
    return {"folder": folder, "config": config, "gpkg": gpkg, "availability": availability, "stderr": result.stderr}


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


def read(path: Path | str, layer: str) -> tuple[dict[str, list[object]], list[object], dict[str, object]]:
    """A layer's fields (name -> values), geometries (shapely) and info, as GDAL reads them."""
    info = pyogrio.read_info(path, layer=layer)
    _, _, geometry, fields = pyogrio.raw.read(path, layer=layer)
    columns = {name: list(values) for name, values in zip(info["fields"], fields, strict=True)}
    shapes = [] if geometry is None else list(shapely.from_wkb(geometry))
    return columns, shapes, info


def to_fibre_m(lon: float, lat: float) -> float:
    """From a point to the nearest fibre: a fibre device (geodesic) or a fibre span's line (in EPSG:25832)."""
    lines = [
        shapely.LineString([TO_UTM.transform(*v) for v in ROUTE]),  # dist-1 -> core-1 along its trench
        shapely.LineString([TO_UTM.transform(*FIBRE["hs-2"]), TO_UTM.transform(*FIBRE["dist-1"])]),  # straight
    ]
    point = shapely.Point(TO_UTM.transform(lon, lat))
    nearest_device = min(GEOD.inv(lon, lat, *where)[2] for where in FIBRE.values())
    return min(nearest_device, *(line.distance(point) for line in lines))


def null(value: object) -> bool:
    """Whether GDAL read a NULL (pyogrio gives NaN for a NULL number and None for a NULL text)."""
    return value is None or (isinstance(value, float) and np.isnan(value))


def by_id(columns: dict[str, list[object]], key: str) -> dict[str, dict[str, object]]:
    return {
        str(value): {name: columns[name][i] for name in columns} for i, value in enumerate(columns[key])
    }


def test_the_geopackage_has_the_layers_a_planner_expects_with_their_crs_and_a_spatial_index(city) -> None:
    gpkg = city["gpkg"]
    layers = {name: kind for name, kind in pyogrio.list_layers(gpkg)}
    assert layers == {
        "netzknoten": "Point", "verbindungen": "LineString", "adressen": "Point", "raster_100m": "Polygon",
        "ausbaucluster": "Polygon", "metadaten": None,
    }
    for name in ("netzknoten", "verbindungen", "adressen", "ausbaucluster"):
        assert pyogrio.read_info(gpkg, layer=name)["crs"] == "EPSG:25832", name
    assert pyogrio.read_info(gpkg, layer="raster_100m")["crs"] == "EPSG:3035"
    with sqlite3.connect(gpkg) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        extensions = {row[0] for row in db.execute("SELECT table_name FROM gpkg_extensions "
                                                   "WHERE extension_name = 'gpkg_rtree_index'")}
        assert extensions == {"netzknoten", "verbindungen", "adressen", "raster_100m", "ausbaucluster"}
        count = db.execute("SELECT count(*) FROM rtree_adressen_geom").fetchone()[0]
        assert count == len(ADDRESSES)
    # the index answers a bounding-box query: the three addresses at the cathedral, nothing else
    x, y = TO_UTM.transform(9.9504, 52.1502)
    _, _, _geometry, fields = pyogrio.raw.read(gpkg, layer="adressen", bbox=(x - 40, y - 40, x + 40, y + 40))
    assert sorted(fields[0]) == ["A4", "A5", "A6"]


def test_addresses_carry_distances_costs_classes_and_cells_computed_independently(city) -> None:
    columns, shapes, info = read(city["gpkg"], "adressen")
    assert list(info["fields"]) == [
        "adress_id", "strasse", "hausnummer", "plz", "ort", "ags", "stadtteil", "download_mbit_s", "upload_mbit_s",
        "technologie", "foerderklasse", "foerderfaehig", "naechster_glasfaserpunkt", "luftlinie_m",
        "abstand_glasfaser_m", "tiefbau_m", "oberflaeche", "kosten_eur", "gitter_id_100m", "lat", "lon", "quelle",
    ]
    rows = by_id(columns, "adress_id")
    assert set(rows) == {a[0] for a in ADDRESSES}
    for (address_id, street, number, lat, lon, _down, _up, _tech, surface, klass), shape in zip(
        ADDRESSES, shapes, strict=True
    ):
        row = rows[address_id]
        distances = {device: GEOD.inv(lon, lat, *where)[2] for device, where in FIBRE.items()}
        nearest = min(distances, key=distances.get)
        assert row["naechster_glasfaserpunkt"] == nearest, address_id
        assert row["luftlinie_m"] == pytest.approx(distances[nearest], abs=0.051)
        point = shapely.Point(TO_UTM.transform(lon, lat))
        to_line = to_fibre_m(lon, lat)
        assert row["abstand_glasfaser_m"] == pytest.approx(to_line, abs=0.051 + to_line * 1e-3), address_id
        assert row["tiefbau_m"] == pytest.approx(row["abstand_glasfaser_m"] * 1.3, abs=0.15)
        assert row["kosten_eur"] == pytest.approx(row["abstand_glasfaser_m"] * 1.3 * SURFACE_COST[surface], abs=20)
        assert row["oberflaeche"] == (surface or "versiegelt")
        assert row["foerderklasse"] == klass, address_id
        eligible = {"weiss": 1, "grau": 1, "foerderfaehig": 1}.get(klass, 0)
        assert null(row["foerderfaehig"]) if klass == "unbekannt" else row["foerderfaehig"] == eligible
        x, y = TO_LAEA.transform(lon, lat)
        assert row["gitter_id_100m"] == f"CRS3035RES100mN{int(y // 100) * 100}E{int(x // 100) * 100}"
        assert (row["strasse"], row["hausnummer"], row["plz"], row["ags"]) == (street, number, "31134", "03254021")
        assert shape.x == pytest.approx(point.x, abs=0.001) and shape.y == pytest.approx(point.y, abs=0.001)
        line = [a[0] for a in ADDRESSES].index(address_id) + 2  # after the header
        assert row["quelle"].endswith(f"addresses.csv:{line}")
    assert rows["A1"]["gitter_id_100m"] == "CRS3035RES100mN3227200E4317600"  # the published example, by hand
    assert null(rows["A7"]["download_mbit_s"])  # unknown is NULL, not 0


def test_the_grid_counts_addresses_per_official_cell(city) -> None:
    columns, shapes, info = read(city["gpkg"], "raster_100m")
    assert list(info["fields"]) == ["gitter_id_100m", "adressen", "ohne_gigabit", "anteil_ohne_gigabit",
                                    "median_abstand_m"]
    cells: dict[str, list[str]] = {}
    for a in ADDRESSES:
        x, y = TO_LAEA.transform(a[4], a[3])
        cells.setdefault(f"CRS3035RES100mN{int(y // 100) * 100}E{int(x // 100) * 100}", []).append(a[0])
    rows = by_id(columns, "gitter_id_100m")
    assert set(rows) == set(cells)
    for (cell, members), shape in zip(sorted(cells.items()), shapes, strict=True):
        assert rows[cell]["adressen"] == len(members)
        assert rows[cell]["ohne_gigabit"] == sum(CLASS[m] != "gigabit" for m in members)
        north, east = (int(part) for part in cell.removeprefix("CRS3035RES100mN").split("E"))
        assert shape.bounds == (east, north, east + 100, north + 100), cell
    assert len(rows) < len(ADDRESSES)  # the cathedral's neighbours share cells


def test_nodes_and_spans_carry_the_history_figures_and_the_trench_length(city) -> None:
    nodes = by_id(read(city["gpkg"], "netzknoten")[0], "geraet_id")
    assert set(nodes) == {d[0] for d in DEVICES}
    dist = nodes["dist-1"]
    assert dist["schnittstelle"] == "uplink"  # the busiest interface, not the idle LAN port
    assert dist["kapazitaet_mbit_s"] == pytest.approx(1000.0)
    samples = sorted(utilisation_of(n) for n in range(HOURS * 12))
    exact_p95 = samples[int(0.95 * len(samples))]
    assert dist["auslastung_p95"] == pytest.approx(exact_p95, abs=0.005)
    for device, expected in city["availability"].items():
        assert nodes[device]["verfuegbarkeit"] == pytest.approx(expected, abs=1e-4), device
    assert (nodes["core-1"]["gisnb_art"], nodes["dist-1"]["gisnb_art"]) == (12, 14)
    assert (nodes["hs-1"]["anbindung"], nodes["ch-1"]["anbindung"]) == ("dsl", "lte")

    columns, shapes, _info = read(city["gpkg"], "verbindungen")
    spans = {(columns["von"][i], columns["nach"][i]): i for i in range(len(columns["von"]))}
    assert set(spans) == {(d[0], d[4]) for d in DEVICES if d[4]}
    backbone = spans[("dist-1", "core-1")]
    assert columns["trasse"][backbone] == "route"
    route_m = GEOD.line_length([v[0] for v in ROUTE], [v[1] for v in ROUTE])
    assert columns["laenge_m"][backbone] == pytest.approx(route_m, abs=0.1)
    assert route_m > GEOD.inv(*ROUTE[0], *ROUTE[-1])[2] * 1.2  # the corner makes it longer than the straight line
    assert columns["ebene"][backbone] == "backbone"
    assert columns["reserve_anteil"][backbone] == pytest.approx(1 - exact_p95, abs=0.005)
    assert columns["engpass"][backbone] == 1  # 5 % free at p95, less than planning.headroom (30 %)
    assert null(columns["engpass"][spans[("hs-1", "dist-1")]])  # access spans are not judged
    access = spans[("hs-1", "dist-1")]
    straight = GEOD.inv(*[v for d in DEVICES if d[0] == "hs-1" for v in (d[3], d[2])],
                        *[v for d in DEVICES if d[0] == "dist-1" for v in (d[3], d[2])])[2]
    assert columns["laenge_m"][access] == pytest.approx(straight, abs=0.1)
    assert (columns["trasse"][access], columns["ebene"][access], columns["medium"][access]) == (
        "luftlinie", "zugang", "dsl"
    )
    assert shapes[backbone].length == pytest.approx(route_m, rel=0.01)  # UTM scale near 1 here


def test_metadata_names_date_sources_licence_and_crs(city) -> None:
    columns, _, _ = read(city["gpkg"], "metadaten")
    facts = dict(zip(columns["schluessel"], columns["wert"], strict=True))
    assert facts["erstellt"].startswith(_iso(T_END)[:13])
    assert "addresses.csv" in facts["quellen"] and "trenches.geojson" in facts["quellen"]
    assert "history.sqlite" in facts["quellen"]
    assert "dl-de/by-2-0" in facts["lizenz"]
    assert facts["koordinatensystem"].startswith("EPSG:25832")
    assert "Vorbefüllung" in facts["hinweis"]


def test_geojson_and_csv_hold_the_same_rows_in_wgs84(city, tmp_path: Path) -> None:
    config = city["config"]
    result = stadtnetz("export", "planning", "-c", str(config), "--format", "geojson", "--out", str(tmp_path / "gj"))
    assert result.returncode == 0, result.stderr
    columns, shapes, info = read(tmp_path / "gj" / "adressen.geojson", "adressen")
    assert info["crs"] == "EPSG:4326"
    rows = by_id(columns, "adress_id")
    for a, shape in zip(ADDRESSES, shapes, strict=True):
        assert (shape.x, shape.y) == pytest.approx((a[4], a[3]), abs=1e-7)
        assert rows[a[0]]["foerderklasse"] == a[9]
    assert json.loads((tmp_path / "gj" / "netzknoten.geojson").read_text())["type"] == "FeatureCollection"

    result = stadtnetz("export", "planning", "-c", str(config), "--format", "csv", "--out", str(tmp_path / "csv"))
    assert result.returncode == 0, result.stderr
    with (tmp_path / "csv" / "adressen.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle, delimiter=";"))
    assert [row["adress_id"] for row in table] == [a[0] for a in ADDRESSES]
    assert table[0]["ags"] == "03254021" and table[0]["foerderklasse"] == "grau"
    with (tmp_path / "csv" / "verbindungen.csv").open(encoding="utf-8", newline="") as handle:
        spans = list(csv.DictReader(handle, delimiter=";"))
    backbone = next(row for row in spans if row["von"] == "dist-1")
    vertices = shapely.from_wkt(backbone["WKT"]).coords[:]
    assert [value for vertex in vertices for value in vertex] == pytest.approx([v for vertex in ROUTE for v in vertex])


def test_the_gisnb_prefill_is_a_shapefile_zip_with_short_field_names(city, tmp_path: Path) -> None:
    out = tmp_path / "gisnb.zip"
    result = stadtnetz("export", "planning", "-c", str(city["config"]), "--out", str(out))
    assert result.returncode == 0, result.stderr
    names = set(zipfile.ZipFile(out).namelist())
    for layer in ("Bauten_und_Netztechnik", "Verbindungen"):
        assert {f"{layer}{suffix}" for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg")} <= names
    nodes, _, info = read(f"/vsizip/{out}/Bauten_und_Netztechnik.shp", "Bauten_und_Netztechnik")
    assert info["crs"] == "EPSG:25832"
    assert dict(zip(nodes["id"], nodes["art"], strict=True)) == {"core-1": 12, "dist-1": 14}
    links, _, info = read(f"/vsizip/{out}/Verbindungen.shp", "Verbindungen")
    assert all(len(name) <= 10 for name in info["fields"])
    assert sorted(zip(links["von"], links["nach"], strict=True)) == [("dist-1", "core-1"), ("hs-2", "dist-1")]


def test_report_gaps_ranks_clusters_lists_cheap_upgrades_and_writes_csv(city, tmp_path: Path) -> None:
    result = stadtnetz(
        "report", "gaps", "-c", str(city["config"]), "--until", _iso(T_END), "--within", "1000", "--csv", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    with (tmp_path / "clusters.csv").open(encoding="utf-8") as handle:
        clusters = list(csv.DictReader(handle))
    # unserved: A1 (grau), A2 + A3 (weiss, 67 m apart: one cluster), A5 (foerderfaehig), not A7 (unknown)
    members = {row["cluster"]: int(row["addresses"]) for row in clusters}
    assert members == {"gap-A1": 1, "gap-A2": 2, "gap-A5": 1}
    farm = next(row for row in clusters if row["cluster"] == "gap-A2")
    columns, _, _ = read(city["gpkg"], "adressen")
    rows = by_id(columns, "adress_id")
    between = GEOD.inv(9.9900, 52.1800, 9.9905, 52.1805)[2]
    nearer = min(rows["A2"]["abstand_glasfaser_m"], rows["A3"]["abstand_glasfaser_m"])
    assert float(farm["trench_m"]) == pytest.approx((between + nearer) * 1.3, abs=2)
    assert float(farm["cost_eur"]) == pytest.approx((between + nearer) * 1.3 * 70, abs=150)
    costs = [float(row["cost_per_address_eur"]) for row in clusters]
    assert costs == sorted(costs) and [int(row["rank"]) for row in clusters] == [1, 2, 3]
    with (tmp_path / "upgrades.csv").open(encoding="utf-8") as handle:
        upgrades = {row["device"]: row for row in csv.DictReader(handle)}
    assert set(upgrades) == {"hs-1"}  # on DSL, 880 m from dist-1; ch-1 on LTE is 2.9 km from core-1
    assert float(upgrades["hs-1"]["to_fibre_m"]) == pytest.approx(to_fibre_m(9.9700, 52.1600), abs=0.1)
    assert upgrades["hs-1"]["nearest_fibre"] == "dist-1"
    assert "Clusters of unserved addresses (3, 4 addresses" in result.stdout


def test_a_backbone_span_leaving_less_than_the_headroom_is_short(city, tmp_path: Path) -> None:
    config = city["config"]
    result = stadtnetz("report", "gaps", "-c", str(config), "--until", _iso(T_END), "--csv", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr
    with (tmp_path / "a" / "short_spans.csv").open(encoding="utf-8") as handle:
        short = list(csv.DictReader(handle))
    assert [(row["device"], row["upstream"]) for row in short] == [("dist-1", "core-1")]  # 5 % free < 30 %
    samples = sorted(utilisation_of(n) for n in range(HOURS * 12))
    assert float(short[0]["headroom"]) == pytest.approx(1 - samples[int(0.95 * len(samples))], abs=0.0051)
    assert float(short[0]["capacity_mbit_s"]) == pytest.approx(1000.0)
    loose = config.with_name("loose.yaml")
    loose.write_text(config.read_text().replace("planning:\n", "planning:\n  headroom: 0.01\n"))
    result = stadtnetz("report", "gaps", "-c", str(loose), "--until", _iso(T_END), "--csv", str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "b" / "short_spans.csv").read_text().splitlines()[1:] == []


def test_bad_addresses_stop_the_export_naming_file_and_line(tmp_path: Path) -> None:
    config = write_city(tmp_path, history=False)
    text = (tmp_path / "addresses.csv").read_text().splitlines()
    text[3] = text[3].replace(";52.1805;", ";;")  # A3 without its latitude
    text.append(text[1].replace(";A1", ";A9"))  # A1's address again under another id
    (tmp_path / "addresses.csv").write_text("\n".join(text) + "\n")
    out = tmp_path / "plan.gpkg"
    result = stadtnetz("export", "planning", "-c", str(config), "--out", str(out))
    assert result.returncode == 2
    assert f"{tmp_path / 'addresses.csv'}:4:" in result.stderr and "lat" in result.stderr
    assert f"{tmp_path / 'addresses.csv'}:10:" in result.stderr
    assert not out.exists()


def test_without_history_or_planning_the_commands_say_what_is_missing(tmp_path: Path) -> None:
    config = write_city(tmp_path, history=False, routes=False)
    out = tmp_path / "plan.gpkg"
    result = stadtnetz("export", "planning", "-c", str(config), "--out", str(out))
    assert result.returncode == 0, result.stderr
    nodes = by_id(read(out, "netzknoten")[0], "geraet_id")
    assert null(nodes["dist-1"]["auslastung_p95"])
    config.write_text(config.read_text().split("planning:")[0])
    result = stadtnetz("export", "planning", "-c", str(config), "--out", str(out))
    assert result.returncode == 2 and "no planning section" in result.stderr
    result = stadtnetz("export", "planning", "-c", str(config), "--out", str(tmp_path / "plan.txt"))
    assert result.returncode == 2 and "--format" in result.stderr


def scrape_until(config: Path, log: Path, needle: str, timeout: float = 60.0) -> str:
    """Run the service on ``config`` until its /metrics holds ``needle`` (or the timeout); the last body. The
    service must still be healthy then (a planning problem never stops the monitoring)."""
    service = ServiceProcess(config, log)
    try:
        deadline = time.monotonic() + timeout
        body = service.metrics()
        while needle not in body and time.monotonic() < deadline:
            time.sleep(0.5)
            body = service.metrics()
        assert service.healthy()
    finally:
        service.stop()
    return body


def test_the_service_exports_the_planning_figures_promtool_clean(city, tmp_path: Path) -> None:
    folder = tmp_path / "city"
    shutil.copytree(city["folder"], folder)  # the service writes to its history: not to the other tests' copy
    body = scrape_until(folder / "city.yaml", tmp_path / "service.log", "\nstadtnetz_planning_last_success_")
    assert "\nstadtnetz_planning_last_success_timestamp_seconds " in body, (tmp_path / "service.log").read_text()
    samples = [line for line in body.splitlines() if line.startswith("stadtnetz_planning_")]
    by_class: dict[str, float] = {}
    for line in samples:
        if line.startswith("stadtnetz_planning_addresses{"):
            klass = line.split('funding_class="')[1].split('"')[0]
            by_class[klass] = by_class.get(klass, 0) + float(line.rsplit(" ", 1)[1])
    expected: dict[str, float] = {}
    for klass in CLASS.values():
        expected[klass] = expected.get(klass, 0) + 1
    assert by_class == expected
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in samples}
    assert values["stadtnetz_planning_errors_total"] == 0
    assert sum(v for k, v in values.items() if k.startswith("stadtnetz_planning_gap_addresses{")) == 4  # A1 A2 A3 A5
    report = stadtnetz("report", "gaps", "-c", str(city["config"]), "--until", _iso(T_END), "--csv", str(tmp_path))
    assert report.returncode == 0, report.stderr
    with (tmp_path / "clusters.csv").open(encoding="utf-8") as handle:
        total = sum(float(row["cost_eur"]) for row in csv.DictReader(handle))
    gap_cost = sum(v for k, v in values.items() if k.startswith("stadtnetz_planning_gap_cost_euros{"))
    assert gap_cost == pytest.approx(total, abs=3)  # both rounded to the euro
    families = "".join(line + "\n" for line in body.splitlines() if "stadtnetz_planning_" in line)
    lint = subprocess.run(["promtool", "check", "metrics"], input=families.encode(), capture_output=True, timeout=60)
    assert lint.returncode == 0 and lint.stdout + lint.stderr == b"", lint.stdout.decode() + lint.stderr.decode()


def test_a_bad_address_list_is_logged_with_its_line_and_the_service_keeps_monitoring(tmp_path: Path) -> None:
    config = write_city(tmp_path, history=False)
    rows = (tmp_path / "addresses.csv").read_text().splitlines()
    rows[3] = rows[3].replace(";03254021;", ";03254999;")  # A3 in a municipality the planning does not cover
    (tmp_path / "addresses.csv").write_text("\n".join(rows) + "\n")
    body = scrape_until(config, tmp_path / "service.log", "\nstadtnetz_planning_errors_total 1.0")
    assert "\nstadtnetz_planning_errors_total 1.0" in body
    assert "\nstadtnetz_planning_addresses{" not in body  # no figures rather than figures without A3
    log = (tmp_path / "service.log").read_text()
    assert f"{tmp_path / 'addresses.csv'}:4:" in log and "03254999" in log
