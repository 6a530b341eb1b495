"""``stadtnetz report``: what the embedded history (:mod:`stadtnetz.history`) says, as tables and CSV files.

Owns these subcommands' options, output and exit codes (0 done, 1 the history
file is missing or unusable, 2 a usage or configuration error, e.g. history is
off or ``--period`` is not a duration); the numbers are the store's queries.
``report availability``: every device over a period. ``report chargers``: every
charging connector over a calendar month, which the service records under the
key ``<charger>/<connector>`` (:mod:`stadtnetz.status.chargers`).

Availability per connector is the US NEVI rule (23 CFR 680.116), the one
funding paperwork asks for: (minutes - (outage minutes - excluded minutes)) /
minutes, where excluded are outage minutes inside declared maintenance
windows. "Minutes" are the minutes the service observed: before a connector
was first heard of and while the service was stopped nothing is known, and
those minutes are shown as unobserved instead of being guessed either way.
Outage: the connector Faulted or Unavailable (itself or the whole charger),
or the charger silent (offline, or unreachable behind a failed modem or
upstream), dated from its last message.

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

import datetime as dt
import difflib
import math
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from stadtnetz.cli.common import (
    EXIT_CONFIG,
    EXIT_RUNTIME,
    REPORT_TIMEZONE,
    config_option,
    console,
    load_config,
    out,
    until_callback,
    write_csv,
)
from stadtnetz.model import DEVICE_LABELS
from stadtnetz.units import parse_duration

if TYPE_CHECKING:
    from stadtnetz.history import Outage

CSV_COLUMNS = (
    *DEVICE_LABELS,
    "availability_percent",
    "outages",
    "downtime_seconds",
    "maintenance_seconds",
    "observed_seconds",
)
CHARGER_CSV_COLUMNS = (
    "charger",
    "connector",
    "site",
    "district",
    "availability_percent",
    "meets_target",
    "outages",
    "outage_minutes",
    "maintenance_minutes",
    "observed_minutes",
    "unobserved_minutes",
)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _period(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value)
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
    callback=until_callback,
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
    for column in DEVICE_LABELS:
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for column in ("availability\n%", "outages", "downtime", "maintenance\nexcluded"):
        table.add_column(column, justify="right", no_wrap=True)
    for device_id in ordered:
        device = by_id[device_id]
        value = seconds[device_id]
        table.add_row(
            *device.identity,
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
        write_csv(
            csv_path,
            CSV_COLUMNS,
            (
                (
                    *by_id[device_id].identity,
                    "" if seconds[device_id].ratio is None else f"{seconds[device_id].ratio * 100:.6f}",
                    outage_counts[device_id],
                    f"{seconds[device_id].downtime_seconds:.3f}",
                    f"{seconds[device_id].maintenance_seconds:.3f}",
                    f"{seconds[device_id].observed_seconds:.3f}",
                )
                for device_id in ordered
            ),
        )


def _month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The month as [first midnight, next month's first midnight) in Europe/Berlin; default: the last full one."""
    zone = _zone()
    if value is None:
        today = dt.datetime.now(zone)
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    else:
        match = _MONTH.fullmatch(value.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise click.BadParameter(f"expected a month as YYYY-MM, e.g. 2026-10, got {value!r}")
        year, month = int(match.group(1)), int(match.group(2))
    start = dt.datetime(year, month, 1, tzinfo=zone)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return start, end


@report.command(name="chargers")
@config_option("The YAML configuration: its history.path, ocpp and chargers.")
@click.option(
    "--month",
    default=None,
    callback=_month,
    metavar="YYYY-MM",
    help=f"The calendar month ({REPORT_TIMEZONE}). Default: the last full month.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the rows to this CSV file (comma-separated, UTF-8, header row).",
)
def chargers_report(config_path: Path, month: tuple[dt.datetime, dt.datetime], csv_path: Path | None) -> None:
    """Availability of every charging connector in a month, worst first, NEVI style.

    availability = (minutes - (outage minutes - outage minutes in maintenance)) / minutes, over the minutes
    observed. A connector is out of service while it or its charger reports Faulted or Unavailable, and while
    the charger is silent (offline, or unreachable behind a failed modem). Connectors below
    ocpp.availability_target are marked.
    """
    from stadtnetz import history as store
    from stadtnetz.status.chargers import connector_key

    inventory, _ = load_config(config_path)
    problem = ""
    if inventory.history.path is None:
        problem = "history is off; set history.path in the configuration and run the service with it"
    elif inventory.ocpp is None:
        problem = "no chargers: the configuration has no ocpp section with chargers"
    if problem:
        console.print(f"{config_path}: {problem}", markup=False, highlight=False)
        sys.exit(EXIT_CONFIG)
    assert inventory.history.path is not None and inventory.ocpp is not None
    target = inventory.ocpp.availability_target
    start, end = month[0].timestamp(), month[1].timestamp()
    try:
        db = store.connect(inventory.history.path, create=False)
    except store.HistoryError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_RUNTIME)
    chargers = {charger.id: charger for charger in inventory.chargers}
    try:
        recorded = store.connectors_recorded(db, chargers, start, end)
        keys: list[tuple[str, int]] = []
        for charger in inventory.chargers:
            numbers = set(recorded.get(charger.id, ()))
            numbers |= set(range(1, (charger.connectors or 0) + 1))
            keys += [(charger.id, number) for number in sorted(numbers)]
        names = [connector_key(charger_id, number) for charger_id, number in keys]
        seconds = store.availability_by_device(db, names, start, end)
        outage_counts = count_outages(store.outages(db, start, end, names), names)
    finally:
        db.close()
    month_seconds = end - start
    rows = []
    for (charger_id, number), name in zip(keys, names, strict=True):
        value = seconds[name]
        rows.append((charger_id, number, value, outage_counts[name]))
    rows.sort(key=lambda row: (row[2].nevi_ratio is None, row[2].nevi_ratio or 0.0, row[0], row[1]))

    title = f"Charger availability {month[0]:%Y-%m} ({REPORT_TIMEZONE}), target {target * 100:g} %"
    table = Table(title=title)
    table.add_column("charger", no_wrap=True, min_width=min(12, max((len(c) for c in chargers), default=7)))
    table.add_column("#", justify="right", no_wrap=True, min_width=2)  # the connector
    table.add_column("site", overflow="ellipsis", no_wrap=True, max_width=24)  # the district is in the CSV
    table.add_column("avail.\n%", justify="right", no_wrap=True, min_width=9)  # "100.000 !"
    unobserved = any(month_seconds - row[2].observed_seconds > 0 for row in rows)  # else only in the CSV
    for column in ("outages", "outage\nmin", "maint.\nmin", *(["unobs.\nmin"] if unobserved else [])):
        table.add_column(column, justify="right", no_wrap=True, min_width=len(column.split("\n")[0]))
    below = 0
    for charger_id, number, value, outages in rows:
        charger = chargers[charger_id]
        ratio = value.nevi_ratio
        mark = ""
        if ratio is not None and ratio < target:
            below += 1
            mark = " !"
        table.add_row(
            charger_id,
            str(number),
            charger.site,
            percent(ratio) + mark,
            str(outages),
            _minutes(value.downtime_seconds),
            _minutes(value.maintenance_seconds),
            *([_minutes(month_seconds - value.observed_seconds)] if unobserved else []),
        )
    out.print(table)
    observed = [row for row in rows if row[2].nevi_ratio is not None]
    console.print(
        f"{len(rows)} connectors of {len(chargers)} chargers; {below} below the target of {target * 100:g} %; "
        f"{len(rows) - len(observed)} without observed minutes in the month",
        markup=False,
        highlight=False,
    )
    if csv_path is not None:
        write_csv(csv_path, CHARGER_CSV_COLUMNS, _charger_rows(rows, chargers, target, month_seconds))


def _charger_rows(
    rows: list[tuple[str, int, Any, int]], chargers: dict[str, Any], target: float, month_seconds: float
) -> Iterable[tuple[object, ...]]:
    for charger_id, number, value, outages in rows:
        charger = chargers[charger_id]
        ratio = value.nevi_ratio
        yield (
            charger_id,
            number,
            charger.site,
            charger.district,
            "" if ratio is None else f"{ratio * 100:.6f}",
            "" if ratio is None else ("yes" if ratio >= target else "no"),
            outages,
            f"{value.downtime_seconds / 60:.3f}",
            f"{value.maintenance_seconds / 60:.3f}",
            f"{value.observed_seconds / 60:.3f}",
            f"{(month_seconds - value.observed_seconds) / 60:.3f}",
        )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.0f}"


def _zone() -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(REPORT_TIMEZONE)


def _local(moment: float, zone: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(moment, zone).strftime("%Y-%m-%d %H:%M %Z")
