"""The EV chargers dashboard: chargers and connectors by status, faults with their error codes, availability over
the window against the target, charging power and energy. Charger series carry no device labels: the district
comes from ``stadtnetz_charger_status``, joined on ``charger``."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from exporters.grafana.mixin import DISTRICT, MixinConfig, selector
from exporters.grafana.panels import Board, Query, label_variable, stat_panel, table_panel, timeseries_panel

NAME = "chargers"


def dashboard(config: MixinConfig) -> Dashboard:
    board = Board(
        NAME,
        "stadtnetz / EV chargers",
        "Public charging points over OCPP 1.6J: status, faulted connectors, availability against the target, "
        "power and energy.",
        config,
        [label_variable("district", "District", "stadtnetz_charger_status")],
    )
    chargers = selector("stadtnetz_charger_status", DISTRICT)
    in_district = f"on(charger) group_left() {chargers}"
    placed = f"on(charger) group_left(site, district) {chargers}"
    energy = selector("stadtnetz_charger_energy_joules_total")
    connectors = selector("stadtnetz_charger_connector_status", 'connector!="0"')
    not_charging = selector("stadtnetz_charger_connector_status", 'status=~"Faulted|Unavailable"')
    errors = selector("stadtnetz_charger_connector_error", 'error_code!="NoError"')
    board.add(stat_panel(
        "Chargers by status", "short", Query(f"count by (status) ({chargers})", legend="{{status}}"),
        description="online; offline by its own fault; unreachable behind a failed modem or upstream device.",
        colours=True,
    ), 8, 4)
    board.add(stat_panel(
        "Connectors by OCPP status", "short",
        Query(f"count by (status) ({connectors} * {in_district})", legend="{{status}}"),
        colours=True,
    ), 10, 4)
    board.add(stat_panel(
        "Charging power now", "watt", Query(f"sum(rate({energy}[$__rate_interval]) * {in_district})"),
    ), 6, 4)
    board.add(table_panel(
        "Faulted or unavailable connectors", "none",
        Query(f"{not_charging} * {placed}"),
        description="Connectors that cannot charge (connector 0 is the charger as a whole).",
        hide=("Value", "instance"),
        sort_by="charger", descending=False,
    ), 12, 8)
    board.add(table_panel(
        "Connector errors", "none",
        Query(f"{errors} * {placed}"),
        description="The OCPP error code and the vendor's own code of every connector reporting an error.",
        hide=("Value", "instance"),
        sort_by="charger", descending=False,
    ), 12, 8)
    availability = selector("stadtnetz_charger_connector_availability_ratio")
    target = selector("stadtnetz_charger_availability_target_ratio")
    board.add(stat_panel(
        "Availability target", "percentunit", Query(f"max({target})"),
        description="ocpp.availability_target: what each connector should reach over ocpp.availability_window.",
    ), 4, 8)
    board.add(table_panel(
        "Connectors below their availability target", "percentunit",
        Query(f"({availability} < on(job, instance) group_left() {target}) * {placed}"),
        description="NEVI-style availability over the window (from the history, complete hours) below the "
        "target: StadtnetzChargerAvailabilityLow warns after 2 hours.",
        hide=("instance",),
        sort_by="Value", descending=False,
    ), 10, 8)
    board.add(table_panel(
        "Lowest connector availability", "percentunit",
        Query(f"bottomk(10, {availability} * {placed})"),
        hide=("instance",),
        sort_by="Value", descending=False,
    ), 10, 8)
    board.add(timeseries_panel(
        "Connectors by open-data state", "short",
        Query(f"count by (state) ({selector('stadtnetz_charger_connector_state')} * {in_district})",
              legend="{{state}}"),
        description="available, occupied, out_of_service: the dynamic status EU AFIR asks to publish.",
        stack=True, minimum=0,
    ), 12, 8)
    board.add(timeseries_panel(
        "Charging power (busiest chargers)", "watt",
        Query(f"topk(10, sum by (charger) (rate({energy}[$__rate_interval]) * {in_district}))",
              legend="{{charger}}"),
        minimum=0,
    ), 12, 8)
    board.add(stat_panel(
        "Energy charged in the time range", "joule", Query(f"sum({energy} * {in_district})"),
        description="The change of the chargers' meter registers over the time range (counter resets unfolded).",
        calculation="delta",
    ), 6, 4)
    return board.build()
