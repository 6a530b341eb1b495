"""The backbone dashboard: the ring and uplink ports (the backbone convention's aliases) with their utilisation
and its p95, traffic, optical levels against the transceivers' own thresholds, errors and port states."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from exporters.grafana.mixin import BACKBONE_KINDS, BACKBONE_PORTS, DISTRICT, MixinConfig, selector
from exporters.grafana.panels import Board, Query, label_variable, stat_panel, table_panel, timeseries_panel

NAME = "backbone"


def dashboard(config: MixinConfig) -> Dashboard:
    board = Board(
        NAME,
        "stadtnetz / Backbone",
        "Ring and uplink links of the core routers and distribution switches: utilisation, p95, traffic, optics "
        "against each transceiver's thresholds, errors.",
        config,
        [label_variable("district", "District", "stadtnetz_device_status", BACKBONE_KINDS)],
    )
    utilisation = selector("stadtnetz_interface_utilisation_ratio", BACKBONE_PORTS, DISTRICT)
    board.add(timeseries_panel(
        "Ring and uplink utilisation", "percentunit",
        Query(utilisation, legend="{{device}} {{interface}} {{direction}}"),
        description="Share of each backbone port's speed in use, per direction.",
        minimum=0, maximum=1,
    ), 16, 9)
    board.add(table_panel(
        "p95 utilisation over the time range", "percentunit",
        Query(f"topk(20, quantile_over_time(0.95, {utilisation}[$__range]))"),
        description="The 95th percentile of each port's utilisation over the dashboard's time range, busiest first "
        "(StadtnetzLinkUtilisationHigh takes it over 7 days of 5-minute means).",
        hide=("kind", "if_index", "instance"),
    ), 8, 9)
    for direction in ("receive", "transmit"):
        counter = selector(f"stadtnetz_interface_{direction}_bytes_total", BACKBONE_PORTS, DISTRICT)
        board.add(timeseries_panel(
            f"Backbone traffic ({direction})", "Bps",
            Query(f"sum by (device, interface) (rate({counter}[$__rate_interval]))",
                  legend="{{device}} {{interface}}"),
            minimum=0,
        ), 12, 8)
    power = selector("stadtnetz_optical_power_dbm", DISTRICT, 'direction="receive"')
    warning = selector("stadtnetz_optical_threshold_dbm", DISTRICT, 'direction="receive"', 'bound="low"',
                       'severity="warning"')
    alarm = selector("stadtnetz_optical_threshold_dbm", DISTRICT, 'direction="receive"', 'bound="low"',
                     'severity="alarm"')
    board.add(timeseries_panel(
        "Optical receive power and low thresholds", "dBm",
        Query(power, legend="{{device}} {{interface}}"),
        Query(f"max({warning})", legend="highest low-warning threshold"),
        Query(f"max({alarm})", legend="highest low-alarm threshold"),
        description="Received light per transceiver; the lines are the highest of the transceivers' own low "
        "thresholds (StadtnetzOpticsNearThreshold compares each optic with its own).",
    ), 12, 9)
    board.add(table_panel(
        "Optics closest to their low warning threshold", "dB",
        Query(f"bottomk(10, {power} - on(device, sensor_index) group_left() {warning})"),
        description="Received power minus the transceiver's own low warning threshold: within 2 dB the alert "
        "warns.",
        hide=("kind", "sensor_index", "sensor", "instance"),
        sort_by="Value", descending=False,
    ), 12, 9)
    errors = " + ".join(
        f"rate({selector(f'stadtnetz_interface_{direction}_{what}_total', BACKBONE_PORTS, DISTRICT)}"
        "[$__rate_interval])"
        for direction in ("receive", "transmit")
        for what in ("errors", "discards")
    )
    board.add(timeseries_panel(
        "Errors and discards", "cps",
        Query(f"sum by (device, interface) ({errors})", legend="{{device}} {{interface}}"),
        description="Errors and discards per second on backbone ports, both directions.",
        minimum=0,
    ), 16, 8)
    board.add(stat_panel(
        "Backbone ports by state", "short",
        Query(f"count by (state) ({selector('stadtnetz_interface_oper_status', BACKBONE_PORTS, DISTRICT)})",
              legend="{{state}}"),
        colours=True,
    ), 8, 8)
    return board.build()
