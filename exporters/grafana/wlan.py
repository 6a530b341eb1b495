"""The WLAN hotspots dashboard: clients per district, site and band, the busiest hotspots, the degraded or failing
ones, channel use, and a geomap of the hotspots coloured by status with their client counts."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from exporters.grafana.mixin import DISTRICT, KIND, WLAN_KINDS, MixinConfig, selector
from exporters.grafana.panels import (
    Board,
    Query,
    geomap_panel,
    label_variable,
    stat_panel,
    table_panel,
    timeseries_panel,
)

NAME = "wlan"
ACCESS_POINTS = (DISTRICT, KIND)


def dashboard(config: MixinConfig) -> Dashboard:
    board = Board(
        NAME,
        "stadtnetz / WLAN hotspots",
        "The public WLAN: clients per district, site and band, the busiest and the failing hotspots, on a map.",
        config,
        [
            label_variable("district", "District", "stadtnetz_device_status", WLAN_KINDS),
            label_variable("kind", "Kind", "stadtnetz_device_status", WLAN_KINDS),
        ],
    )
    clients = selector("stadtnetz_wlan_clients", *ACCESS_POINTS)
    status = selector("stadtnetz_device_status", WLAN_KINDS, *ACCESS_POINTS)
    location = selector("stadtnetz_device_location_info")
    board.add(stat_panel("Clients now", "short", Query(f"sum({clients})")), 4, 4)
    board.add(stat_panel(
        "Clients per band", "short", Query(f"sum by (band) ({clients})", legend="{{band}}"),
    ), 8, 4)
    board.add(stat_panel(
        "Hotspots and school APs by status", "short",
        Query(f"count by (status) ({status})", legend="{{status}}"),
        colours=True,
    ), 12, 4)
    board.add(geomap_panel(
        "Hotspots by status, and their clients", "short",
        [
            (
                "Status",
                Query(f"{status} * on(device) group_left(latitude, longitude) {location}"),
                {
                    "color": {"field": "status", "fixed": "green"},
                    "size": {"fixed": 6},
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                    "opacity": 0.9,
                },
            ),
            (
                "Clients",
                Query(f"sum by (device) ({clients}) * on(device) group_left(site, latitude, longitude) {location}"),
                {
                    "color": {"fixed": "blue"},
                    "size": {"field": "Value #B", "fixed": 5, "min": 3, "max": 20},
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                    "opacity": 0.4,
                },
            ),
        ],
        config,
        description="Each hotspot and school access point at its coordinates (stadtnetz_device_location_info), "
        "coloured by status; the blue circles grow with the clients. The base layer is set when the dashboards "
        "are built (stadtnetz dashboards build --basemap-url).",
    ), 12, 14)
    board.add(table_panel(
        "Degraded or failing hotspots", "none",
        Query(selector("stadtnetz_device_status", WLAN_KINDS, *ACCESS_POINTS,
                       'status=~"degraded|down|unreachable"')),
        description="Answering badly (degraded), down by their own fault, or unreachable behind root_cause.",
        hide=("Value", "instance"),
        sort_by="root_cause", descending=False,
    ), 12, 14)
    board.add(timeseries_panel(
        "Clients per district", "short", Query(f"sum by (district) ({clients})", legend="{{district}}"),
        stack=True, minimum=0,
    ), 12, 8)
    board.add(timeseries_panel(
        "Clients per band", "short", Query(f"sum by (band) ({clients})", legend="{{band}}"),
        stack=True, minimum=0,
    ), 12, 8)
    board.add(table_panel(
        "Clients per site", "short", Query(f"sort_desc(sum by (site, district) ({clients}))"),
    ), 8, 10)
    board.add(table_panel(
        "Busiest hotspots", "short", Query(f"topk(10, sum by (device, site, district) ({clients}))"),
    ), 8, 10)
    board.add(timeseries_panel(
        "Busiest radio channels", "percentunit",
        Query(f"topk(10, {selector('stadtnetz_wlan_channel_utilisation_ratio', *ACCESS_POINTS)})",
              legend="{{device}} {{band}}"),
        description="Channel utilisation of the ten busiest radios.",
        minimum=0, maximum=1,
    ), 8, 10)
    return board.build()
