"""``stadtnetz report chargers``: availability of every charging connector over a calendar month, table and CSV.

Owns this subcommand's options and output; the seconds come from the history
(:mod:`stadtnetz.history`), where the service records each connector under the
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

CSV as in ``report availability`` (comma-separated, UTF-8, header row, decimal points).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import sys
from pathlib import Path

import click
from rich.table import Table

from stadtnetz.cli.common import EXIT_CONFIG, EXIT_RUNTIME, config_option, console, load_config, out
from stadtnetz.cli.report import REPORT_TIMEZONE, _zone, count_outages, percent

CSV_COLUMNS = (
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


@click.command(name="chargers")
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
        try:
            with csv_path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(CSV_COLUMNS)
                for charger_id, number, value, outages in rows:
                    charger = chargers[charger_id]
                    ratio = value.nevi_ratio
                    writer.writerow(
                        (
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
                    )
        except OSError as exc:
            console.print(f"error: cannot write {csv_path}: {exc.strerror}", markup=False, highlight=False)
            sys.exit(EXIT_RUNTIME)
        console.print(f"{len(rows)} rows written to {csv_path}", markup=False, highlight=False)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.0f}"
