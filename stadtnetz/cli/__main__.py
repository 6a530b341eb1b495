"""``python -m stadtnetz.cli``: the same command line as the ``stadtnetz`` entry point."""

from stadtnetz.cli.commands import main

main()
