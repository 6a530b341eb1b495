"""The broadband-planning export at city size, side by side with the same computation done naively in geopandas.

Run: ``python bench/planning_export.py`` (``--quick`` for a smoke run). Owns the issue's target: a city of
20,000 addresses and 650 devices exports in at most 10 s and 500 MB RSS on 2 cores.

Set-up (not timed, in a child process of its own): the simulated city (650 devices, seed 1), 20,000 of its
addresses and its trench routes, written with the simulators' functions as the inventory CSV, the address CSV, the
routes GeoJSON and a YAML configuration (``planning:`` area and AGS of the simulated town, the SNMP community as a
``file:`` secret) into a temporary directory.

Measured, each in its own subprocess, three rounds interleaved (ours, peer, ours, peer, ...):

* **ours**: ``python -m stadtnetz.cli export planning -c city.yaml --out ours-N.gpkg``, end to end as a user runs
  it: interpreter start, imports, reading and validating the configuration and both input files, the plan, the
  gap clusters, the GeoPackage with all six layers;
* **the geopandas peer**: ``python bench/planning_export.py --peer geopandas CFGDIR --out geopandas-N.gpkg``, the
  same figures written the way a GIS analyst would: pandas ``read_csv``, ``GeoDataFrame.to_crs``,
  ``sjoin_nearest`` to the fibre points and to the fibre lines (trench routes from ``read_file``, else straight
  lines), the district from a third ``sjoin_nearest`` to all devices, trench metres = min(...) x 1.3, cost by
  surface, the funding class by ``numpy.select`` on the same thresholds (30/100/200/500/1000 Mbit/s), the INSPIRE
  100 m cell id after ``to_crs(3035)``, the grid by ``groupby`` with box polygons, and the layers ``adressen``,
  ``netzknoten``, ``verbindungen``, ``raster_100m`` written with ``to_file(..., driver="GPKG")``.

What ours does beyond the peer: the ``ausbaucluster`` layer (clusters of unserved addresses, each a minimum
spanning tree over the Delaunay edges, ranked by cost per address), the history's p95 utilisation and
availability per node and span (empty here: the configuration keeps no history), the ``metadaten`` table, geodesic
(WGS84 ellipsoid) rather than planar straight-line distances and span lengths, and validated input: every bad
address, route or device is named with FILE:LINE, and each address row carries its FILE:LINE as ``quelle``.

Per run: the wall time (``perf_counter`` around spawn and exit), the child's CPU time (user + system) and its peak
RSS, both from ``os.wait4`` on that child's pid (``RUSAGE_CHILDREN`` would add up every child). Linux carries the
parent's peak RSS over into a spawned child's ``ru_maxrss``, so the harness itself imports nothing heavy until the
last round is done: it stays near 20 MB and each child's figure is its own. MB here are MiB (KiB / 1024), as in
``bench/capacity.py``. Each output is read back with pyogrio (one ``adressen`` feature per address), and the
peer's nearest fibre point per address is compared with ours; where they differ the harness checks whether both
candidates are equally far (a tie either may break its own way) and says so.

Last line: ``RESULT export_s=<ours median wall> ratio_vs_geopandas=<ours / geopandas median wall, lower is
better> rss_mb=<ours peak RSS, the highest of its rounds>``.

``--quick``: the same code path with 300 addresses and one round each, a smoke run of a few seconds whose figures
mean nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEVICES = 650
SEED = 1
FULL_ADDRESSES = 20_000
QUICK_ADDRESSES = 300
FULL_ROUNDS = 3
TARGET_S = 10.0
TARGET_MB = 500.0

CONFIG_FILE = "city.yaml"
INVENTORY_FILE = "inventory.csv"
ADDRESSES_FILE = "addresses.csv"
ROUTES_FILE = "trenches.geojson"
COMMUNITY_FILE = "community"

# the planning defaults (stadtnetz.model.PlanningSettings), written out again the way an analyst's script has them
PEER_CRS = 25832
PEER_DETOUR = 1.3
PEER_COST_EUR_PER_M = {"versiegelt": 180.0, "unversiegelt": 70.0}
PEER_THRESHOLDS = {"white": 30.0, "grey": 100.0, "symmetric": 200.0, "download": 500.0, "gigabit": 1000.0}
TIE_M = 1e-3  # two fibre points this close in distance to an address are a tie


# --- set-up (a child process: the harness stays small) -------------------------------------------------------------


def write_inputs(folder: Path, addresses: int) -> Path:
    """The simulated city's inventory, addresses, routes and configuration in ``folder``; the configuration's path."""
    from simulators.addresses import (
        CITY_AGS,
        CITY_AREA,
        generate_addresses,
        generate_routes,
        write_addresses_csv,
        write_routes_geojson,
    )
    from simulators.city import generate_city, write_inventory_csv

    folder.mkdir(parents=True, exist_ok=True)
    city = generate_city(DEVICES, SEED)
    write_inventory_csv(city, folder / INVENTORY_FILE)
    rows = generate_addresses(city, addresses, SEED)
    south, west, north, east = CITY_AREA
    outside = [a.id for a in rows if not (south <= a.lat <= north and west <= a.lon <= east)]
    if outside:
        raise SystemExit(f"the simulator placed {len(outside)} addresses outside {CITY_AREA}: {', '.join(outside[:5])}")
    write_addresses_csv(rows, folder / ADDRESSES_FILE)
    write_routes_geojson(generate_routes(city, SEED), folder / ROUTES_FILE)
    (folder / COMMUNITY_FILE).write_text("public\n", encoding="utf-8")
    (folder / CONFIG_FILE).write_text(
        "credentials:\n"
        f"  city:\n    community: file:{COMMUNITY_FILE}\n"
        "defaults:\n  credentials: city\n"
        f"inventory:\n  - file: {INVENTORY_FILE}\n"
        "planning:\n"
        f"  addresses: {ADDRESSES_FILE}\n"
        f"  routes: {ROUTES_FILE}\n"
        f"  crs: {PEER_CRS}\n"
        f"  area: {{south: {south}, west: {west}, north: {north}, east: {east}}}\n"
        f'  ags: ["{CITY_AGS}"]\n',
        encoding="utf-8",
    )
    return folder / CONFIG_FILE


# --- the geopandas peer ---------------------------------------------------------------------------------------------


def geopandas_peer(folder: Path, out: Path) -> int:
    """The export's address, node, span and grid layers computed with geopandas from the files in ``folder``.

    Returns the number of addresses written. No validation beyond what pandas and GDAL refuse by themselves.
    """
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    # addresses: the Markterkundung table, ';'-separated, ids and keys as text
    frame = pd.read_csv(
        folder / ADDRESSES_FILE, sep=";", dtype={"id": str, "hausnummer": str, "plz": str, "ags": str}
    )
    addresses = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
    ).to_crs(PEER_CRS)

    # the network: devices with a place are nodes; each device with a placed upstream is a span
    devices = pd.read_csv(folder / INVENTORY_FILE, dtype=str, keep_default_na=False)
    devices = devices[(devices["lat"] != "") & (devices["lon"] != "")].copy()
    devices["lat"] = devices["lat"].astype(float)
    devices["lon"] = devices["lon"].astype(float)
    nodes = gpd.GeoDataFrame(
        devices, geometry=gpd.points_from_xy(devices["lon"], devices["lat"]), crs=4326
    ).to_crs(PEER_CRS)
    spans = devices.merge(
        devices[["id", "lat", "lon"]], left_on="upstream", right_on="id", suffixes=("", "_up")
    ).drop(columns="id_up")
    routes = gpd.read_file(folder / ROUTES_FILE)
    spans = spans.merge(
        pd.DataFrame({"id": routes["from"], "upstream": routes["to"], "route": routes.geometry}),
        on=["id", "upstream"], how="left",
    )
    straight = shapely.linestrings(
        np.stack([spans[["lon", "lat"]].to_numpy(), spans[["lon_up", "lat_up"]].to_numpy()], axis=1)
    )
    known = spans["route"].notna().to_numpy()
    geometry = np.where(known, spans["route"].to_numpy(), straight)
    spans = gpd.GeoDataFrame(
        spans.drop(columns="route").assign(trasse=np.where(known, "route", "luftlinie")), geometry=geometry, crs=4326
    ).to_crs(PEER_CRS)
    spans["laenge_m"] = spans.geometry.length.round(1)
    fibre_points = nodes.loc[nodes["backhaul"] == "fibre", ["id", "geometry"]]
    fibre_lines = spans.loc[spans["backhaul"] == "fibre", ["geometry"]]

    # nearest fibre point, nearest fibre line, nearest device's district (first of equally near ones)
    near = gpd.sjoin_nearest(addresses[["geometry"]], fibre_points, how="left", distance_col="luftlinie_m")
    near = near[~near.index.duplicated(keep="first")]
    to_line = gpd.sjoin_nearest(addresses[["geometry"]], fibre_lines, how="left", distance_col="linie_m")
    to_line = to_line[~to_line.index.duplicated(keep="first")]
    district = gpd.sjoin_nearest(addresses[["geometry"]], nodes[["district", "geometry"]], how="left")
    district = district[~district.index.duplicated(keep="first")]
    addresses["stadtteil"] = district["district"]
    addresses["naechster_glasfaserpunkt"] = near["id"]
    addresses["luftlinie_m"] = near["luftlinie_m"]
    addresses["abstand_glasfaser_m"] = np.minimum(near["luftlinie_m"], to_line["linie_m"])
    addresses["tiefbau_m"] = addresses["abstand_glasfaser_m"] * PEER_DETOUR
    surface = addresses["oberflaeche"].fillna("versiegelt")
    addresses["kosten_eur"] = (addresses["tiefbau_m"] * surface.map(PEER_COST_EUR_PER_M)).round(0)
    for column in ("luftlinie_m", "abstand_glasfaser_m", "tiefbau_m"):
        addresses[column] = addresses[column].round(1)

    # funding class: no speed but "keine" counts as nothing; no speed but FTTH as gigabit; else by the thresholds
    technology = addresses["technologie"].fillna("")
    nothing = addresses["download_mbit_s"].isna() & (technology == "keine")
    down = addresses["download_mbit_s"].mask(nothing, 0.0)
    up = addresses["upload_mbit_s"].mask(nothing, 0.0)
    t = PEER_THRESHOLDS
    addresses["foerderklasse"] = np.select(
        [
            down.isna() & (technology == "ftth"),
            down.isna(),
            down < t["white"],
            down < t["grey"],
            down >= t["gigabit"],
            ((down >= t["symmetric"]) & (up >= t["symmetric"])) | (down >= t["download"]),
        ],
        ["gigabit", "unbekannt", "weiss", "grau", "gigabit", "hochbitratig"],
        default="foerderfaehig",
    )
    eligible = addresses["foerderklasse"].isin(["weiss", "grau", "foerderfaehig"]).astype("boolean")
    addresses["foerderfaehig"] = eligible.mask(addresses["foerderklasse"] == "unbekannt")

    # the INSPIRE 100 m cell: lower-left corner in EPSG:3035
    laea = addresses.geometry.to_crs(3035)
    east = (np.floor(laea.x / 100) * 100).astype(np.int64)
    north = (np.floor(laea.y / 100) * 100).astype(np.int64)
    addresses["gitter_id_100m"] = "CRS3035RES100mN" + north.astype(str) + "E" + east.astype(str)
    grid = (
        addresses.assign(east=east, north=north, ohne=addresses["foerderklasse"] != "gigabit")
        .groupby("gitter_id_100m")
        .agg(
            adressen=("id", "size"),
            ohne_gigabit=("ohne", "sum"),
            median_abstand_m=("luftlinie_m", "median"),
            east=("east", "first"),
            north=("north", "first"),
        )
        .reset_index()
    )
    grid["anteil_ohne_gigabit"] = (grid["ohne_gigabit"] / grid["adressen"]).round(4)
    grid["median_abstand_m"] = grid["median_abstand_m"].round(1)
    grid = gpd.GeoDataFrame(
        grid.drop(columns=["east", "north"]),
        geometry=shapely.box(grid["east"], grid["north"], grid["east"] + 100, grid["north"] + 100),
        crs=3035,
    )

    if out.exists():
        out.unlink()
    addresses.rename(columns={"id": "adress_id"}).to_file(out, layer="adressen", driver="GPKG")
    nodes.rename(columns={"id": "geraet_id"}).to_file(out, layer="netzknoten", driver="GPKG")
    spans.rename(columns={"id": "von", "upstream": "nach"}).to_file(out, layer="verbindungen", driver="GPKG")
    grid.to_file(out, layer="raster_100m", driver="GPKG")
    return len(addresses)


# --- the harness ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    wall_s: float
    cpu_s: float
    rss_mb: float


def child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(REPO) + (os.pathsep + path if path else "")}


def measured(argv: Sequence[str], log: Path) -> Run:
    """Run ``argv`` to its end: wall time, and its own CPU time and peak RSS from ``os.wait4`` on its pid."""
    with log.open("wb") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(list(argv), stdout=sink, stderr=subprocess.STDOUT, cwd=REPO, env=child_env())
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait for it again
    if child.returncode != 0:
        output = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(argv)} exited {child.returncode}; its output:\n{output}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def address_ids(path: Path, column: str) -> dict[str, str]:
    """Address id -> ``column`` of the ``adressen`` layer of a GeoPackage."""
    from pyogrio import read_dataframe

    frame = read_dataframe(path, layer="adressen", columns=["adress_id", column], read_geometry=False)
    return dict(zip(frame["adress_id"], frame[column].astype(str), strict=True))


def check_outputs(ours: Sequence[Path], peer: Sequence[Path], addresses: int) -> None:
    """Every output has one ``adressen`` feature per address (else exit)."""
    from pyogrio import read_info

    for path in [*ours, *peer]:
        features = read_info(path, layer="adressen")["features"]
        if features != addresses:
            raise SystemExit(f"{path.name}: {features} address features, not {addresses}")
    print(f"outputs read back with pyogrio: {len(ours) + len(peer)} files, {addresses} address features each")


def compare(folder: Path, ours: Path, peer: Path) -> float:
    """Print how far the peer agrees with ours; the share of addresses with the same nearest fibre point."""
    import numpy as np
    import pandas as pd
    from pyproj import Transformer

    ours_nearest = address_ids(ours, "naechster_glasfaserpunkt")
    peer_nearest = address_ids(peer, "naechster_glasfaserpunkt")
    differ = sorted(a for a, device in ours_nearest.items() if peer_nearest.get(a) != device)
    share = 1 - len(differ) / len(ours_nearest)
    ties = 0
    if differ:  # equally near, each broke the tie its own way? Measure both candidates in the plan's CRS
        project = Transformer.from_crs(4326, PEER_CRS, always_xy=True)
        where = pd.read_csv(folder / ADDRESSES_FILE, sep=";", dtype=str).set_index("id").loc[differ]
        devices = pd.read_csv(folder / INVENTORY_FILE, dtype=str, keep_default_na=False).set_index("id")
        ax, ay = project.transform(where["lon"].astype(float).to_numpy(), where["lat"].astype(float).to_numpy())
        distances = []
        for nearest in (ours_nearest, peer_nearest):
            chosen = devices.loc[[nearest[a] for a in differ]]
            dx, dy = project.transform(chosen["lon"].astype(float).to_numpy(), chosen["lat"].astype(float).to_numpy())
            distances.append(np.hypot(ax - dx, ay - dy))
        ties = int(np.sum(np.abs(distances[0] - distances[1]) <= TIE_M))
        closer_ours = int(np.sum(distances[0] < distances[1] - TIE_M))
        print(
            f"nearest fibre point differs for {len(differ)} addresses: {ties} ties (equally near), "
            f"{closer_ours} where ours is nearer, {len(differ) - ties - closer_ours} where the peer's is nearer"
        )
    print(f"agreement: the nearest fibre point is the same for {share:.2%} of {len(ours_nearest)} addresses")

    for column, label in (("foerderklasse", "funding class"), ("gitter_id_100m", "100 m cell")):
        a, b = address_ids(ours, column), address_ids(peer, column)
        same = sum(1 for k, v in a.items() if b.get(k) == v) / len(a)
        print(f"agreement: {label} {same:.2%}")
    for column, label in (("tiefbau_m", "trench metres"), ("luftlinie_m", "straight-line metres")):
        a, b = address_ids(ours, column), address_ids(peer, column)
        ours_m = np.array([float(a[k]) for k in a])
        peer_m = np.array([float(b[k]) for k in a])
        metres = np.abs(ours_m - peer_m)
        relative = metres / np.maximum(ours_m, 1.0)
        print(
            f"agreement: {label} within 0.1 % for {np.mean(relative <= 0.001):.2%} of addresses, median difference "
            f"{np.median(relative):.3%}, largest {relative.max():.3%} ({metres[relative.argmax()]:.1f} m of "
            f"{ours_m[relative.argmax()]:.1f} m), largest in metres {metres.max():.1f} m"
        )
    return share


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/planning_export.py",
        description="The planning export of 20,000 addresses and 650 devices: stadtnetz vs geopandas sjoin_nearest.",
    )
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_ADDRESSES} addresses, 1 round each")
    parser.add_argument("--addresses", type=int, default=None, help=f"addresses (default {FULL_ADDRESSES})")
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds of each (default {FULL_ROUNDS})")
    parser.add_argument(
        "--peer", nargs=2, metavar=("geopandas", "CFGDIR"),
        help="internal: run the geopandas peer on the inputs in CFGDIR (what the harness times)",
    )
    parser.add_argument("--setup", metavar="CFGDIR", type=Path, help="internal: write the inputs into CFGDIR")
    parser.add_argument("--out", type=Path, help="with --peer: the GeoPackage to write (default CFGDIR/geopandas.gpkg)")
    args = parser.parse_args(argv)
    if args.peer is not None and args.peer[0] != "geopandas":
        parser.error(f"--peer: the only peer is geopandas, not {args.peer[0]!r}")
    if args.addresses is not None and not 1 <= args.addresses <= 999_999:
        parser.error(f"--addresses: 1 to 999999, not {args.addresses}")
    if args.rounds is not None and args.rounds < 1:
        parser.error(f"--rounds: at least 1, not {args.rounds}")
    if args.out is not None and args.peer is None:
        parser.error("--out goes with --peer")
    addresses = args.addresses or (QUICK_ADDRESSES if args.quick else FULL_ADDRESSES)
    if args.setup is not None:
        write_inputs(args.setup, addresses)
        return 0
    if args.peer is not None:
        folder = Path(args.peer[1])
        if not (folder / ADDRESSES_FILE).is_file():
            parser.error(f"--peer: {folder} holds no {ADDRESSES_FILE} (write it with --setup)")
        geopandas_peer(folder, args.out or folder / "geopandas.gpkg")
        return 0
    rounds = args.rounds or (1 if args.quick else FULL_ROUNDS)
    return harness(addresses, rounds, args.quick)


def harness(addresses: int, rounds: int, quick: bool) -> int:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="stadtnetz-bench-planning-") as directory:
        folder = Path(directory)
        began = time.perf_counter()
        setup = measured(
            [python, __file__, "--setup", str(folder), "--addresses", str(addresses)], folder / "setup.log"
        )
        print(f"set-up (not timed in the results): {DEVICES} devices, {addresses} addresses, routes, configuration "
              f"in {setup.wall_s:.1f} s")
        own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ours: list[Run] = []
        peer: list[Run] = []
        ours_out: list[Path] = []
        peer_out: list[Path] = []
        for number in range(1, rounds + 1):
            out = folder / f"ours-{number}.gpkg"
            ours.append(measured(
                [python, "-m", "stadtnetz.cli", "export", "planning", "-c", str(folder / CONFIG_FILE), "--out",
                 str(out)],
                folder / f"ours-{number}.log",
            ))
            ours_out.append(out)
            out = folder / f"geopandas-{number}.gpkg"
            peer.append(measured(
                [python, __file__, "--peer", "geopandas", str(folder), "--out", str(out)],
                folder / f"geopandas-{number}.log",
            ))
            peer_out.append(out)
            print(f"round {number}: ours {ours[-1].wall_s:.2f} s, geopandas {peer[-1].wall_s:.2f} s")
        print(f"(the harness's own peak RSS while spawning: {own_mb:.0f} MB, which Linux carries into each child's)")
        said = (folder / f"ours-{rounds}.log").read_text(encoding="utf-8", errors="replace").split("\n\n")[0]
        print(f"ours said: {' '.join(said.split())}")
        check_outputs(ours_out, peer_out, addresses)
        compare(folder, ours_out[-1], peer_out[-1])
        total = time.perf_counter() - began

    def median(runs: Sequence[Run], field: str) -> float:
        return statistics.median(getattr(run, field) for run in runs)

    print()
    print(f"{addresses} addresses, {DEVICES} devices, {rounds} round(s) each, medians "
          f"({len(os.sched_getaffinity(0))} cores):")
    print(f"{'':<34}{'wall s':>8}{'CPU s':>8}{'peak RSS MB':>13}")  # each column the median of the rounds
    for name, runs in (("ours (stadtnetz export planning)", ours), ("geopandas sjoin_nearest", peer)):
        print(f"{name:<34}{median(runs, 'wall_s'):>8.2f}{median(runs, 'cpu_s'):>8.2f}{median(runs, 'rss_mb'):>13.0f}")
    export_s, rss_mb = median(ours, "wall_s"), max(run.rss_mb for run in ours)
    ratio = export_s / median(peer, "wall_s")
    print(f"ours / geopandas wall time: {ratio:.2f} (lower is better); ours' peak RSS, highest round: {rss_mb:.0f} MB")
    size = "" if addresses == FULL_ADDRESSES else f" (this run: {addresses} addresses, so they say little)"
    print(
        f"targets for {FULL_ADDRESSES} addresses{size}: export <= {TARGET_S:g} s: "
        f"{'holds' if export_s <= TARGET_S else 'MISSED'} ({export_s:.2f} s); RSS <= {TARGET_MB:g} MB: "
        f"{'holds' if rss_mb <= TARGET_MB else 'MISSED'} ({rss_mb:.0f} MB)"
    )
    print(f"whole benchmark {total:.1f} s")
    print(f"RESULT export_s={export_s:.3f} ratio_vs_geopandas={ratio:.3f} rss_mb={rss_mb:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
