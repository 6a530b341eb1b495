"""What every ``stadtnetz`` subcommand shares: the terminal, exit codes, the ``--config`` option, logging set-up,
loading a configuration with its profiles, the ``--listen`` value, the stop signal, and the reports' ``--until``
time and CSV files.

Results go to standard output, messages and errors to standard error. Exit
codes: 0 success, 1 runtime failure, 2 usage or configuration error.
Imports no command module, so every command module may import it.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console

if TYPE_CHECKING:
    from collectors.snmp.profiles import ProfileLibrary
    from stadtnetz.model import Inventory

console = Console(stderr=True)  # messages, warnings, errors
out = Console()  # results
EXIT_RUNTIME = 1
EXIT_CONFIG = 2
REPORT_TIMEZONE = "Europe/Berlin"  # an --until without an offset is local time here


def config_option(help_text: str) -> Callable[[Any], Any]:
    """``--config/-c FILE`` (required), passed as ``config_path``; ``help_text`` says what the command reads in it."""
    return click.option(
        "--config",
        "-c",
        "config_path",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help_text,
    )


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def load_config(config_path: Path) -> tuple[Inventory, ProfileLibrary]:
    """The configuration and the profiles it uses, or every problem printed and exit code 2."""
    from collectors.snmp.profiles import ProfileError, load_profiles, profile_names
    from stadtnetz.config import ConfigError, load_inventory

    try:
        inventory = load_inventory(config_path, known_profiles=profile_names())
        library = load_profiles([Path(d) for d in inventory.settings.profile_dirs], inventory.settings.mib_dirs)
    except (ConfigError, ProfileError) as exc:
        refuse(getattr(exc, "issues", [exc]), f"{config_path}: not used, fix the problems above")
    print_warnings(inventory.warnings)
    return inventory, library


def refuse(issues: Iterable[object], verdict: str) -> NoReturn:
    """Print every problem (one per line, as ``FILE:LINE: field: message``), then ``verdict``; exit code 2."""
    for issue in issues:
        console.print(str(issue), markup=False, highlight=False, soft_wrap=True)
    console.print(verdict, markup=False, highlight=False)
    sys.exit(EXIT_CONFIG)


def print_warnings(warnings: Iterable[str]) -> None:
    for warning in warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)


def listen_option(value: str | None) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    from stadtnetz.config import parse_listen

    try:
        return parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None


async def until_signal(duration: float | None) -> asyncio.Event:
    """An event set on SIGINT/SIGTERM, or after ``duration`` seconds."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    return stop


def until_callback(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float:
    """An ``--until TIME`` value (ISO 8601; no offset: Europe/Berlin) as Unix time; None: now."""
    if value is None:
        return time.time()
    from stadtnetz.maintenance import parse_instant

    try:
        return parse_instant(value, REPORT_TIMEZONE).timestamp()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write a report's CSV (comma-separated, UTF-8, header row; see cli/report.py); the rows written.

    On a write error the message is printed and the command exits with 1.
    """
    count = 0
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                writer.writerow(row)
                count += 1
    except OSError as exc:
        console.print(f"error: cannot write {path}: {exc.strerror}", markup=False, highlight=False)
        sys.exit(EXIT_RUNTIME)
    console.print(f"{count} rows written to {path}", markup=False, highlight=False)
    return count
