"""``stadtnetz export planning`` and ``stadtnetz report gaps``: the broadband coordinator's commands.

Owns their options, output and exit codes (0 done, 1 the files could not be written, 2 a usage or configuration
error: no ``planning`` section, a bad address list or route file, named with file and line). The figures are
:mod:`stadtnetz.planning`'s; the files :mod:`exporters.planning`'s and :mod:`exporters.gisnb`'s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from stadtnetz.cli.common import (
    EXIT_CONFIG,
    EXIT_RUNTIME,
    config_option,
    console,
    load_config,
    out,
    print_warnings,
    refuse,
    until_callback,
    write_csv,
)

if TYPE_CHECKING:
    from stadtnetz.app.planning import LoadedPlan
    from stadtnetz.model import Inventory

FORMATS = ("gpkg", "geojson", "csv", "gisnb")
SUFFIX_FORMATS = {".gpkg": "gpkg", ".zip": "gisnb"}
CLUSTER_COLUMNS = (
    "rank", "cluster", "district", "addresses", "weiss", "grau", "foerderfaehig", "trench_m", "cost_eur",
    "cost_per_address_eur", "connect_address", "connect_to", "lat", "lon",
)
UPGRADE_COLUMNS = (
    "device", "kind", "site", "district", "backhaul", "nearest_fibre", "to_fibre_m", "trench_m", "cost_eur",
)
SPAN_COLUMNS = ("device", "upstream", "capacity_mbit_s", "p95_utilisation", "headroom", "headroom_mbit_s")


def _plan(config_path: Path, until: float) -> tuple[Inventory, LoadedPlan]:
    """The configuration's plan, or its problems printed and exit code 2."""
    from stadtnetz.app.planning import load_plan
    from stadtnetz.config import ConfigError

    inventory, _ = load_config(config_path)
    if inventory.planning is None:
        console.print(
            f"{config_path}: no planning section; add one with at least planning.addresses (see README, "
            '"Broadband planning")',
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_CONFIG)
    try:
        loaded = load_plan(inventory, until)
    except ConfigError as exc:
        refuse(exc.issues, f"{config_path}: no plan made, fix the problems above")
    print_warnings(loaded.warnings)
    return inventory, loaded


until_option = click.option(
    "--until",
    default=None,
    callback=until_callback,
    metavar="TIME",
    help="End of the window the p95 utilisation and availability are taken over (ISO 8601; no offset = "
    "Europe/Berlin). Default: now.",
)


@click.group()
def export() -> None:
    """Files for other tools: the broadband planning export."""


@export.command(name="planning")
@config_option("The YAML configuration: its devices, planning section and history.path.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The GeoPackage file (.gpkg), the ZIP file (gisnb), or the directory (geojson, csv) to write.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="gpkg: every layer in one GeoPackage (EPSG:25832/25833, the grid in 3035); geojson or csv: one file per "
    "layer (WGS84); gisnb: GIS-Nebenbestimmungen pre-fill, Shapefile ZIP. Default: by --out's suffix "
    "(.gpkg, .zip).",
)
@until_option
def export_planning(config_path: Path, out_path: Path, fmt: str | None, until: float) -> None:
    """Export the network and the addresses for fibre planning (QGIS, funding procedures).

    Layers: netzknoten (devices with capacity, p95 utilisation, availability), verbindungen (spans with length,
    headroom, Engpass), adressen (funding class, nearest fibre point, distances, trench metres, cost),
    raster_100m (INSPIRE grid, EPSG:3035), ausbaucluster (unserved clusters by cost per address), metadaten.
    """

    if fmt is None:
        fmt = SUFFIX_FORMATS.get(out_path.suffix.lower())
        if fmt is None:
            raise click.BadParameter(
                f"cannot tell the format from {out_path.name!r}: give --format ({', '.join(FORMATS)})",
                param_hint="--format",
            )
    started = time.perf_counter()
    plan = _plan(config_path, until)[1].plan
    try:
        if fmt == "gisnb":
            from exporters.gisnb import write_gisnb_zip

            written = [write_gisnb_zip(plan, out_path)]
        else:
            from exporters.planning import export as write_export
            from stadtnetz.planning.gaps import gap_clusters

            written = write_export(plan, gap_clusters(plan), out_path, fmt)
    except OSError as exc:
        console.print(f"error: cannot write {out_path}: {exc}", markup=False, highlight=False)
        sys.exit(EXIT_RUNTIME)
    eligible = sum(1 for item in plan.addresses if item.eligible)
    console.print(
        f"{len(plan.nodes)} network nodes, {len(plan.spans)} spans, {len(plan.addresses)} addresses "
        f"({eligible} eligible for funding), {len(plan.cells)} grid cells; {time.perf_counter() - started:.1f} s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for path in written:
        out.print(str(path), markup=False, highlight=False)


@click.command(name="gaps")
@config_option("The YAML configuration: its devices, planning section and history.path.")
@click.option(
    "--link-distance",
    "link_m",
    type=click.FloatRange(min=1),
    default=200.0,
    show_default=True,
    help="Metres: unserved addresses closer than this (along a chain of them) are one cluster.",
)
@click.option(
    "--within",
    "within_m",
    type=click.FloatRange(min=0),
    default=500.0,
    show_default=True,
    help="Metres: hotspots and chargers on DSL, LTE or radio this close to fibre are listed as cheap upgrades.",
)
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, help="Rows shown per table.")
@click.option(
    "--csv",
    "csv_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write all rows to clusters.csv, upgrades.csv and short_spans.csv in this directory.",
)
@until_option
def gaps_report(
    config_path: Path, link_m: float, within_m: float, top: int, csv_dir: Path | None, until: float
) -> None:
    """Coverage gaps: where fibre expansion pays off first.

    Clusters of unserved addresses (weiss, grau, foerderfaehig: eligible under the Gigabit-Richtlinie 2.0)
    ranked by estimated cost per address, cheapest first: a cluster's trench is the minimum spanning tree
    between its addresses plus one connection to the nearest fibre line, times planning.detour, at the
    euro per metre of each address's surface. Then the hotspots and chargers on DSL, LTE or radio close to
    fibre, and the backbone spans whose p95 utilisation leaves less than planning.headroom free.
    """
    from stadtnetz.planning.gaps import cheap_upgrades, gap_clusters, short_spans

    inventory, loaded = _plan(config_path, until)
    plan = loaded.plan
    clusters = gap_clusters(plan, link_m)
    upgrades = cheap_upgrades(plan, inventory.devices, within_m)
    short = short_spans(plan)

    cluster_rows = [
        (
            rank, c.id, c.district, c.addresses, c.classes.get("weiss", 0), c.classes.get("grau", 0),
            c.classes.get("foerderfaehig", 0), round(c.trench_m), round(c.cost_eur), round(c.cost_per_address_eur),
            c.connect.address.id, c.connect.reach.nearest, round(c.lat, 6), round(c.lon, 6),
        )
        for rank, c in enumerate(clusters, start=1)
    ]
    upgrade_rows = [
        (
            u.device.id, u.device.kind, u.device.site, u.device.district, u.device.backhaul, u.reach.nearest,
            round(u.reach.to_line_m or 0.0, 1), round(u.reach.trench_m or 0.0, 1), round(u.reach.cost_eur or 0.0),
        )
        for u in upgrades
    ]
    span_rows = [
        (
            s.device.id, s.upstream.id, _number(s.figures.capacity_mbit_s), _number(s.figures.p95_utilisation, 4),
            _number(s.headroom, 4), _number(s.headroom_mbit_s),
        )
        for s in short
    ]
    unserved = sum(c.addresses for c in clusters)
    total = sum(c.cost_eur for c in clusters)
    table = Table(title=f"Clusters of unserved addresses ({len(clusters)}, {unserved} addresses, "
                  f"{total:,.0f} € in all), cheapest per address first")
    for name in ("#", "cluster", "district", "addresses", "weiss/grau/förderf.", "trench m", "cost €", "€ / address",
                 "connect to"):
        table.add_column(name, justify="right" if name in ("#", "addresses", "trench m", "cost €", "€ / address")
                         else "left")
    for row in cluster_rows[:top]:
        table.add_row(str(row[0]), row[1], row[2], str(row[3]), f"{row[4]}/{row[5]}/{row[6]}", f"{row[7]:,}",
                      f"{row[8]:,}", f"{row[9]:,}", str(row[11]))
    out.print(table)
    table = Table(title=f"Cheap upgrades: hotspots and chargers on DSL/LTE/radio within {within_m:g} m of fibre "
                  f"({len(upgrades)})")
    for name in ("device", "kind", "site", "district", "backhaul", "nearest fibre", "to fibre m", "cost €"):
        table.add_column(name, justify="right" if name in ("to fibre m", "cost €") else "left")
    for row in upgrade_rows[:top]:
        table.add_row(row[0], row[1], row[2], row[3], row[4], str(row[5]), f"{row[6]:,.0f}", f"{row[8]:,}")
    out.print(table)
    headroom = plan.settings.headroom
    title = f"Backbone spans with less than {headroom:.0%} headroom at p95 ({len(short)})"
    if not plan.with_history:
        title += ": no history, nothing known"
    table = Table(title=title)
    for name in ("device", "upstream", "capacity Mbit/s", "p95", "headroom", "headroom Mbit/s"):
        table.add_column(name, justify="left" if name in ("device", "upstream") else "right")
    for row in span_rows[:top]:
        table.add_row(*(str(value) for value in row))
    out.print(table)
    if csv_dir is not None:
        try:
            csv_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            console.print(f"error: cannot create {csv_dir}: {exc.strerror}", markup=False, highlight=False)
            sys.exit(EXIT_RUNTIME)
        write_csv(csv_dir / "clusters.csv", CLUSTER_COLUMNS, cluster_rows)
        write_csv(csv_dir / "upgrades.csv", UPGRADE_COLUMNS, upgrade_rows)
        write_csv(csv_dir / "short_spans.csv", SPAN_COLUMNS, span_rows)


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"
