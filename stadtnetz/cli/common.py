"""What every ``stadtnetz`` subcommand shares: the terminal, exit codes, the ``--config`` option, logging set-up,
loading a configuration with its profiles, the ``--listen`` value, and the stop signal.

Results go to standard output, messages and errors to standard error. Exit
codes: 0 success, 1 runtime failure, 2 usage or configuration error.
Imports no command module, so every command module may import it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

if TYPE_CHECKING:
    from collectors.snmp.profiles import ProfileLibrary
    from stadtnetz.model import Inventory

console = Console(stderr=True)  # messages, warnings, errors
out = Console()  # results
EXIT_RUNTIME = 1
EXIT_CONFIG = 2


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
        for issue in getattr(exc, "issues", [exc]):
            console.print(str(issue), markup=False, highlight=False, soft_wrap=True)
        console.print(f"{config_path}: not used, fix the problems above", markup=False, highlight=False)
        sys.exit(EXIT_CONFIG)
    for warning in inventory.warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    return inventory, library


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
