"""The configuration file: YAML with file:line for every problem, the field rules and schema, the loader, the
inventory (groups and defaults inherited, CSV files of devices).

May import: kernel.
"""

from stadtnetz.config.loader import ConfigError, ConfigIssue, load_inventory, parse_listen

__all__ = ["ConfigError", "ConfigIssue", "load_inventory", "parse_listen"]
