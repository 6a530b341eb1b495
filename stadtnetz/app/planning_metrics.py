"""The planning figures on ``/metrics``: addresses by funding class per district, gap cost, short spans.

Owns recomputing the configuration's plan (:func:`stadtnetz.app.planning.load_plan`) in a worker thread when the
service starts and every :data:`REFRESH_SECONDS` after (the p95 utilisation over 30 days moves slowly; the
address lists change when someone edits them), and exporting what dashboards show of it. Counts only: no
address, no person. A plan that cannot be made (a bad address list, say) is logged with its file and line and
counted; the service keeps monitoring, and the last good figures stay.

Families: ``stadtnetz_planning_addresses{district, funding_class}``, ``stadtnetz_planning_gap_cost_euros{district}``
and ``stadtnetz_planning_gap_addresses{district}`` (the clusters of unserved addresses by the district most of
their addresses are in), ``stadtnetz_planning_short_spans``, ``stadtnetz_planning_cheap_upgrades``,
``stadtnetz_planning_last_success_timestamp_seconds``, ``stadtnetz_planning_duration_seconds`` and
``stadtnetz_planning_errors_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from stadtnetz.clock import Clock
from stadtnetz.model import Inventory
from stadtnetz.own_metrics import Family, ScrapeCollector

log = logging.getLogger(__name__)
REFRESH_SECONDS = 3600.0


@dataclass
class PlanningFigures:
    """What one plan says, in counts and euro."""

    addresses: dict[tuple[str, str], int] = field(default_factory=dict)  # (district, funding class) -> addresses
    gap_cost: dict[str, float] = field(default_factory=dict)  # district -> euro
    gap_addresses: dict[str, int] = field(default_factory=dict)
    short_spans: int = 0
    cheap_upgrades: int = 0


def figures_of(inventory: Inventory, now: float) -> PlanningFigures:
    """Make the plan of ``inventory`` and count it (runs in a worker thread: pyproj, shapely)."""
    from stadtnetz.app.planning import load_plan
    from stadtnetz.planning.gaps import cheap_upgrades, gap_clusters, short_spans

    plan = load_plan(inventory, now).plan
    clusters = gap_clusters(plan)
    figures = PlanningFigures(
        addresses=dict(Counter((item.district, item.funding_class) for item in plan.addresses)),
        short_spans=len(short_spans(plan)),
        cheap_upgrades=len(cheap_upgrades(plan, inventory.devices)),
    )
    for cluster in clusters:
        figures.gap_cost[cluster.district] = figures.gap_cost.get(cluster.district, 0.0) + cluster.cost_eur
        figures.gap_addresses[cluster.district] = figures.gap_addresses.get(cluster.district, 0) + cluster.addresses
    return figures


class PlanningWatcher:
    """Keeps the latest :class:`PlanningFigures` of the configuration."""

    def __init__(self, inventory: Inventory, clock: Clock, refresh: float = REFRESH_SECONDS) -> None:
        self.inventory = inventory
        self.clock = clock
        self.refresh = refresh
        self.figures: PlanningFigures | None = None
        self.last_success: float | None = None
        self.duration: float | None = None
        self.errors = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.update()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.refresh)

    async def update(self) -> None:
        from stadtnetz.config import ConfigError

        started = time.perf_counter()
        try:
            self.figures = await asyncio.to_thread(figures_of, self.inventory, self.clock.time())
        except ConfigError as exc:
            self.errors += 1
            for issue in exc.issues:
                log.error("planning: %s", issue)
            log.error("planning figures not updated: fix the problems above (the last good ones stay)")
            return
        except Exception:
            self.errors += 1
            log.exception("planning figures not updated")
            return
        self.duration = time.perf_counter() - started
        self.last_success = self.clock.time()
        log.info("planning figures updated in %.1f s", self.duration)


ADDRESSES = Family(
    "gauge",
    "stadtnetz_planning_addresses",
    "Addresses of the planning address lists by funding class and the district of their nearest device",
    ("district", "funding_class"),
)
GAP_COST = Family(
    "gauge",
    "stadtnetz_planning_gap_cost_euros",
    "Estimated trench cost of connecting the clusters of unserved addresses, by district (stadtnetz report gaps)",
    ("district",),
)
GAP_ADDRESSES = Family(
    "gauge", "stadtnetz_planning_gap_addresses", "Unserved addresses in the gap clusters, by district", ("district",)
)
SHORT_SPANS = Family(
    "gauge", "stadtnetz_planning_short_spans", "Backbone spans whose p95 utilisation leaves less than the headroom"
)
UPGRADES = Family(
    "gauge", "stadtnetz_planning_cheap_upgrades", "Hotspots and chargers on DSL, LTE or radio within 500 m of fibre"
)
LAST_SUCCESS = Family(
    "gauge", "stadtnetz_planning_last_success_timestamp_seconds", "When the planning figures were last computed"
)
DURATION = Family("gauge", "stadtnetz_planning_duration_seconds", "How long the last computation of the plan took")
ERRORS = Family("counter", "stadtnetz_planning_errors", "Computations of the plan that failed (see the log)")


class PlanningCollector(ScrapeCollector):
    families = (ADDRESSES, GAP_COST, GAP_ADDRESSES, SHORT_SPANS, UPGRADES, LAST_SUCCESS, DURATION, ERRORS)

    def __init__(self, watcher: PlanningWatcher) -> None:
        self.watcher = watcher

    def rows(self) -> Iterable[tuple[Family, Sequence[str], float]]:
        watcher, figures = self.watcher, self.watcher.figures
        if figures is not None:
            for (district, klass), count in sorted(figures.addresses.items()):
                yield ADDRESSES, (district, klass), count
            for district, cost in sorted(figures.gap_cost.items()):
                yield GAP_COST, (district,), round(cost)
            for district, count in sorted(figures.gap_addresses.items()):
                yield GAP_ADDRESSES, (district,), count
            yield SHORT_SPANS, (), figures.short_spans
            yield UPGRADES, (), figures.cheap_upgrades
        if watcher.last_success is not None:
            yield LAST_SUCCESS, (), watcher.last_success
        if watcher.duration is not None:
            yield DURATION, (), watcher.duration
        yield ERRORS, (), watcher.errors
