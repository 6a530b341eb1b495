"""The ``stadtnetz`` command line: one module per command group, registered in one place; nothing imports it.

May import: everything.
"""

from stadtnetz.cli.commands import main

__all__ = ["main"]
