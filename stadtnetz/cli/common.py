"""What every ``stadtnetz`` subcommand shares on the terminal: output, exit codes, the ``--config`` option.

Results go to standard output, messages and errors to standard error. Exit
codes: 0 success, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

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
