"""What was known: the embedded SQLite history (schema, a writer off the hot path, utilisation percentiles, the
queries the reports ask).

May import: kernel, stadtnetz.status.
"""

from stadtnetz.history.store import (
    BIN_WIDTH,
    HOUR,
    SCHEMA_VERSION,
    UTILISATION_METRIC,
    Availability,
    HistoryCollector,
    HistoryError,
    HistoryStore,
    Outage,
    Transition,
    availability,
    availability_by_device,
    connect,
    connectors_recorded,
    migrate,
    outages,
    p95_utilisation,
    p95_utilisation_by_series,
    transitions,
)

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
