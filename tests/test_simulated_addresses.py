"""The simulated city's address list and trench routes, as the planning export reads them.

Files are written by ``simulators.addresses`` (in-process and as the CLI a user runs) into ``tmp_path`` and read back
through the real loaders (``stadtnetz.config.addresses``, ``stadtnetz.config.routes``, the example configuration):
reproducible to the byte, the committed examples not drifted from the generator, loadable without a warning, and
shaped like a town: a dense centre with gigabit, white spots in the Außenbereich, trenches that follow streets.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyproj import Geod

from simulators.addresses import (
    ADDRESSES_FILE,
    CITY_AGS,
    CITY_AREA,
    ROUTES_FILE,
    generate_addresses,
    generate_routes,
    main,
    write_addresses_csv,
    write_routes_geojson,
)
from simulators.city import CITY_CENTRE, City, generate_city
from stadtnetz.config import load_inventory
from stadtnetz.config.addresses import load_addresses
from stadtnetz.config.routes import load_routes
from stadtnetz.model import Address, Device, PlanningSettings

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config"
EXAMPLE = CONFIG / "example-city.yaml"
ENV = {"STADTNETZ_SNMP_COMMUNITY": "public"}
GEOD = Geod(ellps="WGS84")
FIBRE_OR_CABLE = {"ftth", "fttb", "kabel"}


@pytest.fixture(scope="module")
def city() -> City:
    return generate_city(650, 1)


@pytest.fixture(scope="module")
def example_devices() -> list[Device]:
    return load_inventory(EXAMPLE, environ=ENV).devices


def write_both(city: City, directory: Path, count: int = 4000, seed: int = 1) -> tuple[Path, Path]:
    addresses, routes = directory / ADDRESSES_FILE, directory / ROUTES_FILE
    write_addresses_csv(generate_addresses(city, count, seed), addresses)
    write_routes_geojson(generate_routes(city, seed), routes)
    return addresses, routes


def load(path: Path) -> list[Address]:
    """The list as the planning export reads it, with the simulated city's area and AGS; no warning allowed."""
    result = load_addresses(PlanningSettings(address_files=(path,), area=CITY_AREA, ags=(CITY_AGS,)))
    assert result.warnings == []
    return result.addresses


def from_centre(address: Address) -> float:
    return GEOD.inv(CITY_CENTRE[1], CITY_CENTRE[0], address.lon, address.lat)[2]


def test_the_same_seed_gives_identical_files_and_another_seed_another_list(city: City, tmp_path: Path) -> None:
    first = write_both(city, tmp_path / "first")
    again = write_both(city, tmp_path / "again")
    other = write_both(city, tmp_path / "other", seed=2)
    for a, b in zip(first, again, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert first[0].read_bytes() != other[0].read_bytes()
    assert first[1].read_bytes() != other[1].read_bytes()
    assert [a.lat for a in load(first[0])][:50] != [a.lat for a in load(other[0])][:50]


def test_the_committed_examples_are_what_the_generator_writes_now(tmp_path: Path, example_devices: list) -> None:
    assert main(["--out-dir", str(tmp_path)]) == 0  # the defaults: 650 devices, seed 1, 4000 addresses
    for name in (ADDRESSES_FILE, ROUTES_FILE):
        assert (CONFIG / name).read_bytes() == (tmp_path / name).read_bytes(), f"regenerate config/{name}"
    # and the city they were made for is the example inventory's
    city = {d.id: (d.lat, d.lon, d.upstream, d.backhaul) for d in generate_city(650, 1).devices}
    assert {d.id: (d.lat, d.lon, d.upstream, d.backhaul) for d in example_devices} == city


def test_the_example_configuration_loads_the_list_with_area_and_ags_and_no_warning() -> None:
    inventory = load_inventory(EXAMPLE, environ=ENV)
    planning = inventory.planning
    assert planning is not None
    assert planning.address_files == (CONFIG / ADDRESSES_FILE,) and planning.routes == CONFIG / ROUTES_FILE
    assert planning.area == CITY_AREA and planning.ags == (CITY_AGS,) and planning.crs == 25832
    result = load_addresses(planning)
    assert result.warnings == [] and len(result.addresses) == 4000
    south, west, north, east = CITY_AREA
    assert all(south <= d.lat <= north and west <= d.lon <= east for d in inventory.devices if d.lat is not None)


def test_a_large_list_generates_quickly_and_loads_with_unique_ids_and_places(city: City, tmp_path: Path) -> None:
    started = time.perf_counter()
    rows = generate_addresses(city, 20_000, 7)
    assert time.perf_counter() - started < 2.0
    path = tmp_path / ADDRESSES_FILE
    write_addresses_csv(rows, path)
    addresses = load(path)  # the loader refuses a repeated id or street + number + postcode
    assert len(addresses) == 20_000
    assert [a.id for a in addresses[:2]] == ["A000001", "A000002"] and addresses[-1].id == "A020000"
    lines = path.read_bytes().split(b"\n")
    assert b"\r" not in path.read_bytes() and lines[-1] == b"" and len(lines) == 20_002
    assert all(len(cell.split(b".")[1]) == 6 for line in lines[1:-1] for cell in line.split(b";")[6:8])
    assert any(a.house_number[-1].isalpha() for a in addresses)  # "12a"


def test_a_dense_centre_with_gigabit_and_white_spots_in_the_outer_area(city: City, tmp_path: Path) -> None:
    path, _ = write_both(city, tmp_path)
    addresses = load(path)
    centre = [a for a in addresses if from_centre(a) <= 1500]
    outer = [a for a in addresses if from_centre(a) > 4000]
    assert len(centre) > 0.5 * len(addresses)
    assert len(outer) > 0.05 * len(addresses)
    underserved = [
        a for a in outer
        if (a.download_mbit_s is not None and a.download_mbit_s < 30) or a.technology not in FIBRE_OR_CABLE
    ]
    assert len(underserved) > 0.6 * len(outer)
    assert sum(1 for a in outer if a.download_mbit_s is not None and a.download_mbit_s < 30) > 0.3 * len(outer)

    def gigabit(group: list[Address]) -> float:
        return sum(1 for a in group if (a.download_mbit_s or 0) >= 1000) / len(group)

    assert gigabit(centre) > 0.4 and gigabit(centre) > 2 * gigabit(outer) + 0.1
    unknown = sum(1 for a in addresses if a.download_mbit_s is None) / len(addresses)
    assert 0.01 < unknown < 0.06
    assert all(a.surface == "sealed" for a in centre)
    farther = [a for a in addresses if from_centre(a) > 6000]
    assert sum(1 for a in farther if a.surface == "unsealed") > 0.6 * len(farther)
    assert any(a.street.startswith("Bauerschaft ") for a in outer)


def test_the_routes_load_cover_the_fibre_backbone_and_follow_streets(
    city: City, tmp_path: Path, example_devices: list[Device]
) -> None:
    _, path = write_both(city, tmp_path)
    routes = load_routes(path, example_devices)
    by_id = {d.id: d for d in example_devices}
    backbone = {
        (d.id, d.upstream) for d in example_devices
        if d.kind in ("core_router", "distribution_switch") and d.backhaul == "fibre" and d.upstream
    }
    assert len(backbone) == 26 and backbone <= set(routes)
    access = [span for span in routes if span not in backbone]
    assert access and all(by_id[start].backhaul == "fibre" for start, _ in access)
    for (start, end), vertices in routes.items():
        device, upstream = by_id[start], by_id[end]
        assert vertices[0] == (device.lon, device.lat) and vertices[-1] == (upstream.lon, upstream.lat)
        assert 3 <= len(vertices) <= 6, "not a straight line"
        lons, lats = zip(*vertices, strict=True)
        straight = GEOD.inv(device.lon, device.lat, upstream.lon, upstream.lat)[2]
        length = GEOD.line_length(lons, lats)
        assert straight * (1 - 1e-9) <= length <= 1.6 * straight, (start, end, length, straight)


def test_the_cli_writes_both_files_and_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    command = [sys.executable, "-m", "simulators.addresses"]
    helped = subprocess.run([*command, "--help"], capture_output=True, text=True, cwd=REPO, check=False)
    assert helped.returncode == 0 and "--out-dir" in helped.stdout and "--addresses" in helped.stdout
    out = tmp_path / "out"
    made = subprocess.run(
        [*command, "--out-dir", str(out), "--devices", "120", "--seed", "3", "--addresses", "300"],
        capture_output=True, text=True, cwd=REPO, check=False,
    )
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([ADDRESSES_FILE, ROUTES_FILE])
    assert len(load(out / ADDRESSES_FILE)) == 300
    devices = [
        Device(id=d.id, kind=d.kind, host=d.address, lat=d.lat, lon=d.lon, upstream=d.upstream, backhaul=d.backhaul)
        for d in generate_city(120, 3).devices
    ]
    assert len(load_routes(out / ROUTES_FILE, devices)) >= 5  # five distribution switches, each with its trench
    for bad in (["--addresses", "0"], ["--devices", "many"], ["--devices", "2"], []):
        with pytest.raises(SystemExit) as exited:
            main(["--out-dir", str(tmp_path / "bad"), *bad] if bad else bad)
        assert exited.value.code == 2
    assert not (tmp_path / "bad").exists()
    assert "--addresses" in capsys.readouterr().err


@pytest.mark.parametrize("count", [50, 300, 900])
def test_a_small_list_stays_on_its_streets_inside_the_area(city: City, count: int) -> None:
    south, west, north, east = CITY_AREA
    rows = generate_addresses(city, count, seed=1)
    assert len(rows) == count
    outside = [row for row in rows if not (south <= row.lat <= north and west <= row.lon <= east)]
    assert not outside, f"{len(outside)} of {count} addresses outside the city, e.g. {outside[0]}"
