"""The city overview dashboard: how many devices and chargers are in which status, what is down and why, open
maintenance, and the alerts firing (Prometheus' ALERTS series, so the rules must be loaded with the job kept)."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from exporters.grafana.mixin import DISTRICT, KIND, SCOPE, MixinConfig, selector
from exporters.grafana.panels import Board, Query, label_variable, stat_panel, table_panel, timeseries_panel

NAME = "overview"
DEVICES = (DISTRICT, KIND)


def dashboard(config: MixinConfig) -> Dashboard:
    board = Board(
        NAME,
        "stadtnetz / City overview",
        "Every device and charger of the city network by status, the faults with their root cause, maintenance "
        "and the alerts firing.",
        config,
        [
            label_variable("district", "District", "stadtnetz_device_status"),
            label_variable("kind", "Kind", "stadtnetz_device_status"),
        ],
    )
    status = selector("stadtnetz_device_status", *DEVICES)
    unreachable = selector("stadtnetz_device_status", *DEVICES, 'status="unreachable"')
    not_up = selector("stadtnetz_device_status", *DEVICES, 'status!="up"')
    board.add(stat_panel(
        "Devices by status", "short",
        Query(f"count by (status) ({status})", legend="{{status}}"),
        description="up, degraded, down (its own fault), unreachable (behind a failed device), unknown.",
        colours=True,
    ), 10, 4)
    board.add(stat_panel(
        "Chargers by status", "short",
        Query(f"count by (status) ({selector('stadtnetz_charger_status', DISTRICT)})", legend="{{status}}"),
        colours=True,
    ), 6, 4)
    board.add(stat_panel(
        "Devices in maintenance", "short",
        Query(f"sum({selector('stadtnetz_device_maintenance', *DEVICES)})"),
        description="Devices inside an open maintenance window: their alerts stay quiet.",
    ), 4, 4)
    board.add(stat_panel(
        "WLAN clients now", "short", Query(f"sum({selector('stadtnetz_wlan_clients', *DEVICES)})"),
    ), 4, 4)
    board.add(table_panel(
        "Devices down (their own fault)", "none",
        Query(selector("stadtnetz_device_status", *DEVICES, 'status="down"')),
        description="Not answering while the device upstream of it answers: the fault is the device or its link.",
        hide=("Value", "status"),
        sort_by="device", descending=False,
    ), 8, 8)
    board.add(table_panel(
        "Unreachable devices by root cause", "short",
        Query(f"sort_desc(count by (root_cause) ({unreachable}))"),
        description="How many devices each failed device cuts off (the root cause: the topmost failed device).",
    ), 8, 8)
    board.add(table_panel(
        "Open maintenance windows", "short",
        Query(f"{selector('stadtnetz_maintenance_window_devices')} * on(job, instance, window) "
              f"({selector('stadtnetz_maintenance_window_open')} == 1)"),
        description="Each open window and the devices it covers.",
        sort_by="window", descending=False,
    ), 8, 8)
    board.add(table_panel(
        "Alerts firing", "none",
        Query(f'ALERTS{{alertstate="firing", {SCOPE}}}'),
        description="Prometheus' ALERTS series of the stadtnetz rules (config/alerts/), firing now.",
        hide=("Value", "alertstate", "instance"),
        sort_by="severity", descending=False,
    ), 24, 8)
    board.add(timeseries_panel(
        "Devices not up", "short",
        Query(f"count by (status) ({not_up})", legend="{{status}}"),
        stack=True, minimum=0,
    ), 24, 8)
    return board.build()
