"""stadtnetz: monitoring for the networks a German municipal utility runs.

The core package: configuration, inventory, scheduling, state, topology,
history and the HTTP surface. Collectors (``collectors``), exporters
(``exporters``) and the simulated city (``simulators``) are sibling packages.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stadtnetz")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
