"""What every ``stadtnetz`` subcommand shares on the terminal: where output and messages go, and exit codes.

Results go to standard output, messages and errors to standard error. Exit
codes: 0 success, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True)  # messages, warnings, errors
out = Console()  # results
EXIT_RUNTIME = 1
EXIT_CONFIG = 2
