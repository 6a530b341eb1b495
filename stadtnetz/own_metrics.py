"""The process's own counters as Prometheus families: one helper every part's collector uses.

Owns the step from ``(name, value, help)`` rows, or one label's counts, to
``CounterMetricFamily`` objects for prometheus_client custom collectors (the SNMP client's stats, the
history writer's, ...), so they all name and describe their counters alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily


def labelled_counter(name: str, text: str, label: str, counts: Iterable[tuple[str, float]]) -> CounterMetricFamily:
    """One counter family with one label: a series per ``(label value, count)``, zeros included."""
    family = CounterMetricFamily(name, text, labels=[label])
    for value, count in counts:
        family.add_metric([value], count)
    return family


def counter_families(prefix: str, rows: Iterable[tuple[str, float, str]]) -> Iterator[CounterMetricFamily]:
    """One unlabelled counter family per row, named ``prefix + name`` (prometheus_client adds ``_total``)."""
    for name, value, text in rows:
        family = CounterMetricFamily(f"{prefix}{name}", text)
        family.add_metric([], value)
        yield family
