"""``stadtnetz maintenance``: list the declared maintenance windows, and turn them into Alertmanager silences.

Owns these subcommands' options, output and exit codes (0 done, 1 Alertmanager
unreachable or refusing, 2 configuration error); the meaning of a window is
:mod:`stadtnetz.maintenance`'s, the silences are :mod:`exporters.alertmanager`'.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from rich.table import Table

from stadtnetz.cli.common import EXIT_RUNTIME, config_option, console, load_config, out
from stadtnetz.units import parse_duration

_CONFIG = config_option("The YAML configuration whose maintenance windows to use.")


def _horizon(_ctx: click.Context, _param: click.Parameter, value: str) -> dt.timedelta:
    try:
        return dt.timedelta(seconds=parse_duration(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_HORIZON = click.option(
    "--horizon",
    default="7d",
    show_default=True,
    callback=_horizon,
    help="Openings that start within this time from now (recurring windows repeat).",
)


def _maintenance(config_path: Path):  # noqa: ANN202 - a Maintenance; imported late to keep --help fast
    from stadtnetz.maintenance import Maintenance

    inventory, _ = load_config(config_path)
    return Maintenance(inventory.maintenance, inventory.devices)


def _local(moment: dt.datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


@click.group()
def maintenance() -> None:
    """Planned work: the maintenance windows of a configuration, and silences for them in Alertmanager.

    While a window is open the service marks its devices stadtnetz_device_maintenance 1 and the alert
    rules stay quiet for them and for everything unreachable behind them.
    """


@maintenance.command(name="list")
@_CONFIG
@_HORIZON
def list_windows(config_path: Path, horizon: dt.timedelta) -> None:
    """Every window: the devices it covers, and whether it is open now or when it opens next."""
    windows = _maintenance(config_path)
    now = dt.datetime.now(dt.UTC)
    table = Table("window", "devices", "now", "next opening", "reason")
    for window in windows.windows:
        opening = window.current_or_next(now, horizon)
        state = "open" if window.is_open(now) else "closed"
        when = "-"
        if opening is not None:
            when = f"{_local(opening[0], window.timezone)} - {_local(opening[1], window.timezone)}"
        table.add_row(window.name, str(len(windows.covered[window.name])), state, when, window.reason)
    if not windows.windows:
        out.print("no maintenance windows are declared (maintenance: in the configuration)")
        return
    out.print(table)


@maintenance.command(name="apply")
@_CONFIG
@click.option(
    "--alertmanager",
    "url",
    required=True,
    metavar="URL",
    help="Alertmanager's base URL, e.g. http://127.0.0.1:9093.",
)
@_HORIZON
@click.option("--dry-run", is_flag=True, help="Print the silences the windows ask for; change nothing.")
def apply_windows(config_path: Path, url: str, horizon: dt.timedelta, dry_run: bool) -> None:
    """Create Alertmanager silences for every opening from now to the horizon; run it again after each change.

    Idempotent: silences that already match are left alone, those stadtnetz made for windows that are gone
    or have moved are expired. Silences made by people are never touched.
    """
    from exporters.alertmanager import Alertmanager, AlertmanagerError, apply, plan

    planned = plan(_maintenance(config_path), dt.datetime.now(dt.UTC), horizon)
    if dry_run:
        for silence in planned:
            out.print(f"{silence.key}: {len(silence.devices)} devices until {silence.ends.isoformat()}", markup=False)
        out.print(f"{len(planned)} silences planned (dry run, nothing changed)")
        return
    try:
        result = apply(Alertmanager(url), planned)
    except AlertmanagerError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(EXIT_RUNTIME)
    for key in result.created:
        out.print(f"created  {key}", markup=False, highlight=False)
    for key in result.expired:
        out.print(f"expired  {key}", markup=False, highlight=False)
    out.print(
        f"{len(result.created)} created, {len(result.unchanged)} unchanged, {len(result.expired)} expired",
        highlight=False,
    )
