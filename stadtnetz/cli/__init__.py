"""The ``stadtnetz`` command line: one module per command group, all registered in commands.py; nothing imports it.

May import: everything.
"""

from stadtnetz.cli.commands import main

__all__ = ["main"]
