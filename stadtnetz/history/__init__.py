"""What was known: the embedded SQLite history (schema, a writer off the hot path, utilisation percentiles, the
queries the reports ask).

Status transitions, the outage log, hourly rollups and availability, in one
SQLite file. Owns the history file and everything about it: its schema and
migrations, turning what the service observes into rows (off the hot path, in
batches), retention, and the queries reports need. Nothing here talks to a
device or decides a status; it records what :mod:`stadtnetz.status.reachability`
decided and what :mod:`stadtnetz.status.state` holds.

* ``schema.py``: the tables, migrations, :func:`connect`; durability.
* ``percentiles.py``: utilisation p95, per hour and over a window (histograms).
* ``ledger.py``: the writer's state: outages, rollups and availability rows, retention.
* ``store.py``: :class:`HistoryStore` (the queue, drops, the writer thread, flush and commit) and its metrics.
* ``queries.py``: what the reports ask (availability, outages, transitions, p95).

The modules import each other by full path, never this package.

May import: kernel, stadtnetz.status.
"""

from stadtnetz.history.percentiles import BIN_WIDTH, UTILISATION_METRIC
from stadtnetz.history.queries import (
    Availability,
    Outage,
    Transition,
    availability,
    availability_by_device,
    connectors_recorded,
    outages,
    p95_utilisation,
    p95_utilisation_by_series,
    transitions,
)
from stadtnetz.history.schema import HOUR, SCHEMA_VERSION, HistoryError, connect, migrate
from stadtnetz.history.store import HistoryCollector, HistoryStore

__all__ = [
    "BIN_WIDTH",
    "HOUR",
    "SCHEMA_VERSION",
    "UTILISATION_METRIC",
    "Availability",
    "HistoryCollector",
    "HistoryError",
    "HistoryStore",
    "Outage",
    "Transition",
    "availability",
    "availability_by_device",
    "connect",
    "connectors_recorded",
    "migrate",
    "outages",
    "p95_utilisation",
    "p95_utilisation_by_series",
    "transitions",
]
