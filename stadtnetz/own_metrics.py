"""The process's own metrics as Prometheus families: the one helper every part's collector uses.

Owns the step from rows read at scrape time to the ``GaugeMetricFamily`` and ``CounterMetricFamily`` objects of
prometheus_client custom collectors (the SNMP client's stats, the trap receiver's, the OCPP endpoint's, the
InfluxDB spool's, ...), so they all declare, name and describe their families alike: a :class:`ScrapeCollector`
subclass declares its :class:`Family` objects once and yields ``(family, label values, value)`` from ``rows()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family, declared once (at module level) and filled at each scrape.

    ``name`` of a counter is without ``_total``: prometheus_client adds it to the samples' name.
    """

    kind: Literal["gauge", "counter"]
    name: str
    text: str
    labels: tuple[str, ...] = ()


class ScrapeCollector:
    """A prometheus_client custom collector: ``rows()`` yields (family, label values, value) at scrape time.

    Every family in ``families`` is yielded, in declared order, also without samples. No ``describe()``: the
    registries use ``auto_describe=False``, and a ``describe()`` would start duplicate-name checks at
    ``register()``.
    """

    families: ClassVar[tuple[Family, ...]] = ()

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        raise NotImplementedError

    def collect(self) -> Iterator[Metric]:
        built = {
            family: (GaugeMetricFamily if family.kind == "gauge" else CounterMetricFamily)(
                family.name, family.text, labels=list(family.labels)
            )
            for family in self.families
        }
        for family, labels, value in self.rows():
            built[family].add_metric(list(labels), value)
        yield from built.values()

