"""stadtnetz: monitoring for the networks a German municipal utility runs.

The modules directly in this folder are the kernel every part shares: the data model (``model``), time
(``clock``), label sets (``labels``), units, secrets, maintenance windows, rate-limited logging (``log_limit``),
the service's own metrics (``own_metrics``) and where the SNMP profiles live (``profile_files``). The rooms
below it: ``config/`` (the configuration file), ``status/`` (what is known now), ``history/`` (what was known),
``app/`` (the running service) and ``cli/`` (the command line). Collectors (``collectors``), exporters
(``exporters``) and the simulated city (``simulators``) are sibling packages.

May import: kernel.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stadtnetz")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
