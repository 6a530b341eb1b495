"""The planning dashboard: addresses by funding class and district, the cost of the gap clusters, backbone spans
short of headroom, and the backbone's headroom now and at the p95 of the time range."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from exporters.grafana.mixin import BACKBONE_PORTS, DISTRICT, MixinConfig, selector
from exporters.grafana.panels import Board, Query, label_variable, stat_panel, table_panel, timeseries_panel

NAME = "planning"


def dashboard(config: MixinConfig) -> Dashboard:
    board = Board(
        NAME,
        "stadtnetz / Planning",
        "Broadband planning figures (recomputed hourly) and the backbone's headroom: where fibre pays first and "
        "which links to upgrade.",
        config,
        [label_variable("district", "District", "stadtnetz_planning_addresses")],
    )
    addresses = selector("stadtnetz_planning_addresses", DISTRICT)
    board.add(stat_panel(
        "Addresses by funding class", "short",
        Query(f"sum by (funding_class) ({addresses})", legend="{{funding_class}}"),
        description="weiss < 30, grau < 100 Mbit/s, foerderfaehig, hochbitratig, gigabit, unbekannt.",
    ), 12, 4)
    board.add(stat_panel(
        "Backbone spans short of headroom", "short", Query(f"sum({selector('stadtnetz_planning_short_spans')})"),
    ), 4, 4)
    board.add(stat_panel(
        "Cheap upgrades", "short", Query(f"sum({selector('stadtnetz_planning_cheap_upgrades')})"),
        description="Hotspots and chargers on DSL, LTE or radio within reach of fibre.",
    ), 4, 4)
    board.add(stat_panel(
        "Age of the planning figures", "s",
        Query(f"time() - max({selector('stadtnetz_planning_last_success_timestamp_seconds')})"),
    ), 4, 4)
    board.add(table_panel(
        "Addresses by district and funding class", "short",
        Query(f"sum by (district, funding_class) ({addresses})"),
        sort_by="district", descending=False,
    ), 12, 10)
    board.add(table_panel(
        "Gap clusters by district", "currencyEUR",
        Query(selector("stadtnetz_planning_gap_cost_euros", DISTRICT)),
        Query(selector("stadtnetz_planning_gap_addresses", DISTRICT), unit="short"),
        description="Estimated trench cost of the clusters of unserved addresses, and the addresses in them.",
        hide=("instance",),
        sort_by="Value #A",
    ), 12, 10)
    utilisation = selector("stadtnetz_interface_utilisation_ratio", BACKBONE_PORTS, DISTRICT)
    board.add(timeseries_panel(
        "Backbone headroom (the ten fullest links)", "percentunit",
        Query(f"bottomk(10, 1 - {utilisation})", legend="{{device}} {{interface}} {{direction}}"),
        description="Share of each backbone port's speed still free.",
        minimum=0, maximum=1,
    ), 12, 9)
    board.add(table_panel(
        "Backbone headroom at the p95 of the time range", "percentunit",
        Query(f"sort(1 - quantile_over_time(0.95, {utilisation}[$__range]))"),
        description="Free share at the 95th percentile of utilisation; planning.headroom (30 %) calls a span "
        "short.",
        hide=("kind", "if_index", "instance"),
        sort_by="Value", descending=False,
    ), 12, 9)
    return board.build()
