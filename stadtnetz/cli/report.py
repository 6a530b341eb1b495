"""``stadtnetz report``: what the embedded history (:mod:`stadtnetz.history`) says, as tables and CSV files.

Owns these subcommands' options, output and exit codes (0 done, 1 the history
file is missing or unusable, 2 a usage or configuration error, e.g. history is
off or ``--period`` is not a duration); the numbers are the store's queries.

CSV: comma-separated, UTF-8 without BOM, a header row, numbers with a decimal
point and no thousands separators (RFC 4180, what pandas, R, LibreOffice and
every database import read without options). German Excel expects semicolons
when a file is opened by double-click, because there the comma is the decimal
separator; but a semicolon file with decimal points is then misread as dates
and text, and one with decimal commas breaks every other tool. So the file is
written for tools, and Excel users import it with Daten > Aus Text/CSV, which
asks for the delimiter.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from stadtnetz.cli.common import EXIT_CONFIG, EXIT_RUNTIME, config_option, console, load_config, out
from stadtnetz.units import parse_duration

if TYPE_CHECKING:
    from stadtnetz.history import Outage

REPORT_TIMEZONE = "Europe/Berlin"
CSV_COLUMNS = (
    "device",
    "kind",
    "site",
    "district",
    "availability_percent",
    "outages",
    "downtime_seconds",
    "maintenance_seconds",
    "observed_seconds",
)


def _period(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _until(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float:
    if value is None:
        return time.time()
    from stadtnetz.maintenance import parse_instant

    try:
        return parse_instant(value, REPORT_TIMEZONE).timestamp()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def span(seconds: float) -> str:
    """Elapsed time for people: '0', '45 s', '12 min', '5 h 10 min', '2 d 3 h'."""
    seconds = round(seconds)
    if seconds <= 0:
        return "0"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def count_outages(outages: Iterable[Outage], devices: Iterable[str]) -> dict[str, int]:
    """Outages per device outside maintenance, an unbroken time out of service counted once (the store splits
    one where its root cause changes, e.g. a hotspot down on its own whose switch then fails too)."""
    counts = dict.fromkeys(devices, 0)
    last_end: dict[str, float | None] = {}
    for outage in sorted(outages, key=lambda o: (o.device, o.start)):
        continues = outage.device in last_end and last_end[outage.device] == outage.start
        last_end[outage.device] = outage.end
        if not continues and not outage.in_maintenance:
            counts[outage.device] = counts.get(outage.device, 0) + 1
    return counts


def percent(ratio: float | None, digits: int = 3) -> str:
    return "-" if ratio is None else f"{ratio * 100:.{digits}f}"


@click.group()
def report() -> None:
    """Reports from the history the service keeps (history.path in the configuration)."""


@report.command(name="availability")
@config_option("The YAML configuration: its history.path, devices and groups.")
@click.option(
    "--period",
    default="30d",
    show_default=True,
    callback=_period,
    help="How far back from --until: a duration such as 30d, 7d, 12h.",
)
@click.option(
    "--until",
    default=None,
    callback=_until,
    metavar="TIME",
    help="End of the period (ISO 8601, e.g. 2026-04-01T00:00; no offset = Europe/Berlin). Default: now.",
)
@click.option("--group", default=None, metavar="NAME", help="Only the devices of this group.")
@click.option("--device", "device_ids", multiple=True, metavar="ID", help="Only this device (repeatable).")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the rows to this CSV file (comma-separated, UTF-8, header row).",
)
def availability_report(
    config_path: Path,
    period: float,
    until: float,
    group: str | None,
    device_ids: tuple[str, ...],
    csv_path: Path | None,
) -> None:
    """Availability per device over a period, worst first, outside maintenance windows.

    availability = time up or degraded / (time observed - time in maintenance). Time before the first probe
    and while the collector was stopped is not observed; a device down or unreachable because of a root
    cause in a maintenance window is in maintenance. Downtime is the rest of the observed time; outages are
    the times out of service not in maintenance (one whose root cause changed counts once). The history is
    hourly: the period starts at the hour holding its start, and the current hour counts once the service
    has written it (when it is over, or at the service's stop).
    """
    from stadtnetz import history as store

    if group is not None and device_ids:
        raise click.UsageError("give either --group or --device, not both")
    inventory, _ = load_config(config_path)
    if inventory.history.path is None:
        console.print(
            f"{config_path}: history is off; set history.path in the configuration and run the service with it",
            markup=False,
            highlight=False,
        )
        sys.exit(EXIT_CONFIG)
    by_id = inventory.by_id()
    if group is not None:
        if group not in inventory.groups:
            known = ", ".join(sorted(inventory.groups)) or "none"
            raise click.BadParameter(f"no group {group!r} in {config_path} (groups: {known})", param_hint="--group")
        selected = list(inventory.groups[group])
    elif device_ids:
        for device_id in device_ids:
            if device_id not in by_id:
                close = difflib.get_close_matches(device_id, sorted(by_id), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise click.BadParameter(f"no device {device_id!r} in {config_path}{hint}", param_hint="--device")
        selected = list(dict.fromkeys(device_ids))
    else:
        selected = [device.id for device in inventory.devices]
    start = math.floor((until - period) / store.HOUR) * store.HOUR
    try:
        db = store.connect(inventory.history.path, create=False)
    except store.HistoryError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_RUNTIME)
    try:
        seconds = store.availability_by_device(db, selected, start, until)
        outage_counts = count_outages(store.outages(db, start, until, selected), selected)
    finally:
        db.close()

    def order(device_id: str) -> tuple[bool, float, str]:
        ratio = seconds[device_id].ratio
        return (ratio is None, ratio if ratio is not None else 0.0, device_id)

    ordered = sorted(selected, key=order)
    total = store.Availability()
    for value in seconds.values():
        total += value
    zone = _zone()
    shown = f"{_local(start, zone)} - {_local(until, zone)}"
    table = Table(title=f"Availability {shown}" + (f", group {group}" if group else ""))
    for column in ("device", "kind", "site", "district"):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for column in ("availability\n%", "outages", "downtime", "maintenance\nexcluded"):
        table.add_column(column, justify="right", no_wrap=True)
    for device_id in ordered:
        device = by_id[device_id]
        value = seconds[device_id]
        table.add_row(
            device_id,
            device.kind,
            device.site,
            device.district,
            percent(value.ratio),
            str(outage_counts[device_id]),
            span(value.downtime_seconds),
            span(value.maintenance_seconds),
        )
    table.add_section()
    table.add_row(
        f"{len(selected)} devices" + (f" ({group})" if group else ""),
        "",
        "",
        "",
        percent(total.ratio),
        str(sum(outage_counts.values())),
        span(total.downtime_seconds),
        span(total.maintenance_seconds),
    )
    out.print(table)
    if csv_path is not None:
        try:
            with csv_path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(CSV_COLUMNS)
                for device_id in ordered:
                    device = by_id[device_id]
                    value = seconds[device_id]
                    writer.writerow(
                        (
                            device_id,
                            device.kind,
                            device.site,
                            device.district,
                            "" if value.ratio is None else f"{value.ratio * 100:.6f}",
                            outage_counts[device_id],
                            f"{value.downtime_seconds:.3f}",
                            f"{value.maintenance_seconds:.3f}",
                            f"{value.observed_seconds:.3f}",
                        )
                    )
        except OSError as exc:
            console.print(f"error: cannot write {csv_path}: {exc.strerror}", markup=False, highlight=False)
            sys.exit(EXIT_RUNTIME)
        console.print(f"{len(ordered)} rows written to {csv_path}", markup=False, highlight=False)


def _zone() -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(REPORT_TIMEZONE)


def _local(moment: float, zone: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(moment, zone).strftime("%Y-%m-%d %H:%M %Z")
