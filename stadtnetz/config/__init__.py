"""The configuration file: YAML with file:line for every problem, field rules, the schema (source of the README
reference), the loader, the inventory (inheritance, CSV).

errors (issues, places) <- yaml_lines (lines of every field) <- rules (single values) <- schema (the sections'
models) <- sections and references (the loader's two halves) <- loader (``load_inventory``); inventory resolves
devices (inheritance, upstream), csv_inventory reads CSV files into entries; ocpp_security checks the OCPP
endpoint's exposure and TLS files; reference renders the schema into the README's configuration reference
(``python -m stadtnetz.config.reference --write README.md``). The submodules import each other by full module
path, never this package.

May import: kernel.
"""

from stadtnetz.config.errors import ConfigError, ConfigIssue
from stadtnetz.config.loader import load_inventory
from stadtnetz.config.rules import parse_listen

__all__ = ["ConfigError", "ConfigIssue", "load_inventory", "parse_listen"]
