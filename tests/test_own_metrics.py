"""The custom collectors' helper (stadtnetz.own_metrics): declared families, filled at scrape time.

A :class:`ScrapeCollector` subclass is registered like every collector of the service (on a registry with
``auto_describe=False``) and read back through ``generate_latest`` and prometheus_client's parser: families in
declared order, those without samples still described, label values escaped, counters named ``*_total``, and
``promtool check metrics`` clean on the result.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stadtnetz.own_metrics import Family, ScrapeCollector

UP = Family("gauge", "demo_up", "1 while the demo runs.")
TEMPERATURE = Family("gauge", "demo_temperature_celsius", "The demo's temperature by room.", ("room",))
REQUESTS = Family("counter", "demo_requests", "Requests handled.")
ERRORS = Family("counter", "demo_errors", "Requests that failed, by reason and handler.", ("reason", "handler"))
EMPTY = Family("counter", "demo_retries", "Requests sent again, by reason.", ("reason",))
NOTHING = Family("gauge", "demo_queue_seconds", "Age of the oldest queued request.")


class DemoCollector(ScrapeCollector):
    families = (UP, TEMPERATURE, REQUESTS, ERRORS, EMPTY, NOTHING)

    def __init__(self, rows: list[tuple[Family, Sequence[str], float]]) -> None:
        self.data = rows
        self.scrapes = 0

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        self.scrapes += 1
        yield from self.data


ROWS: list[tuple[Family, Sequence[str], float]] = [
    # not in declared order: the families come out in declared order anyway, each one's samples as yielded
    (ERRORS, ["timeout", "poll"], 3),
    (TEMPERATURE, ("Keller",), 12.5),
    (REQUESTS, (), 42),
    (TEMPERATURE, ('Dach "Nord"\\\n',), -3.0),
    (ERRORS, ("refused", "web"), 0),
    (UP, (), 1),
]


def exposition(collector: ScrapeCollector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def test_families_in_declared_order_empty_ones_included() -> None:
    text = exposition(DemoCollector(ROWS))
    families = list(text_string_to_metric_families(text))
    assert [(f.name, f.type) for f in families] == [
        ("demo_up", "gauge"),
        ("demo_temperature_celsius", "gauge"),
        ("demo_requests", "counter"),
        ("demo_errors", "counter"),
        ("demo_retries", "counter"),
        ("demo_queue_seconds", "gauge"),
    ]
    assert [f.documentation for f in families] == [f.text for f in DemoCollector.families]
    by_name = {f.name: f for f in families}
    assert by_name["demo_retries"].samples == []
    assert by_name["demo_queue_seconds"].samples == []
    assert "# HELP demo_retries_total Requests sent again, by reason.\n# TYPE demo_retries_total counter\n" in text
    assert "# HELP demo_queue_seconds Age of the oldest queued request.\n# TYPE demo_queue_seconds gauge\n" in text


def test_samples_labels_and_counter_names() -> None:
    text = exposition(DemoCollector(ROWS))
    samples = [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]
    assert samples == [
        ("demo_up", {}, 1.0),
        ("demo_temperature_celsius", {"room": "Keller"}, 12.5),
        ("demo_temperature_celsius", {"room": 'Dach "Nord"\\\n'}, -3.0),
        ("demo_requests_total", {}, 42.0),
        ("demo_errors_total", {"reason": "timeout", "handler": "poll"}, 3.0),
        ("demo_errors_total", {"reason": "refused", "handler": "web"}, 0.0),
    ]
    assert "demo_requests_total 42.0\n" in text
    assert 'demo_errors_total{handler="poll",reason="timeout"} 3.0\n' in text  # generate_latest sorts label names
    assert 'demo_temperature_celsius{room="Dach \\"Nord\\"\\\\\\n"} -3.0\n' in text  # escaped on the wire
    assert "_total_total" not in text


def test_rows_are_read_at_every_scrape_and_not_at_register() -> None:
    data: list[tuple[Family, Sequence[str], float]] = []
    collector = DemoCollector(data)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    assert collector.scrapes == 0  # no describe(), so registering does not collect
    assert not hasattr(collector, "describe")
    first = generate_latest(registry).decode()
    assert [s for f in text_string_to_metric_families(first) for s in f.samples] == []
    data.append((REQUESTS, (), 7))
    second = generate_latest(registry).decode()
    assert "demo_requests_total 7.0\n" in second
    assert collector.scrapes == 2


def test_two_collectors_of_one_class_on_one_registry() -> None:
    """As the service registers its collectors: no duplicate-name check at register() without describe()."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DemoCollector([(UP, (), 1)]))
    registry.register(DemoCollector([(UP, (), 0)]))
    assert generate_latest(registry).decode().count("# TYPE demo_up gauge") == 2


def test_an_undeclared_family_is_an_error() -> None:
    stray = Family("gauge", "demo_stray", "Not declared.")
    with pytest.raises(KeyError):
        list(DemoCollector([(stray, (), 1)]).collect())


def test_a_subclass_without_rows_is_an_error() -> None:
    class Unfinished(ScrapeCollector):
        families = (UP,)

    with pytest.raises(NotImplementedError):
        list(Unfinished().collect())


def test_promtool_check_metrics_is_clean() -> None:
    text = exposition(DemoCollector(ROWS))
    lint = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
    assert lint.stdout.decode() + lint.stderr.decode() == ""
