"""Small helpers over grafana-foundation-sdk: a query, a time series, a stat, a table, a geomap, and a board.

Owns the rules every stadtnetz panel follows, so the dashboard modules cannot forget them: each panel has a
title and a unit (a table's unit is its value column's; a query of another unit says so with ``unit=`` and
becomes an override), every panel and query reads from the ``${datasource}`` variable, and a :class:`Board`
lays the panels out left to right in rows of 24 columns and numbers them 1, 2, ... in the order they are added
(stable ids: the same code gives the same JSON). The variables (datasource, job, instance, district, kind) are
made here too, the job's default from the :class:`~exporters.grafana.mixin.MixinConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import geomap as geomap_builders
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders.common import (
    FrameGeometrySource,
    MapLayerOptions,
    ReduceDataOptions,
    StackingConfig,
    TableSortByFieldState,
)
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.geomap import TooltipMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from exporters.grafana.mixin import SCOPE, MixinConfig

DATASOURCE_UID = "${datasource}"
DATASOURCE = common.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
PROVISIONED_DATASOURCE_UID = "stadtnetz-prometheus"  # the uid dashboards/provisioning/datasources gives it
ALL = ".*"
REFS = "ABCDEFGHIJ"
GRID_WIDTH = 24

# the colours of a status everywhere (device status, charger status, OCPP connector status)
STATUS_COLOURS = {
    "up": "green",
    "online": "green",
    "Available": "green",
    "degraded": "yellow",
    "Charging": "blue",
    "Preparing": "blue",
    "Finishing": "blue",
    "SuspendedEV": "blue",
    "SuspendedEVSE": "blue",
    "Reserved": "purple",
    "down": "red",
    "offline": "red",
    "Faulted": "red",
    "Unavailable": "orange",
    "unreachable": "orange",
    "unknown": "text",
}


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL target: an instant query for stats, tables and maps, a range query for time series."""

    expr: str
    legend: str = ""
    unit: str | None = None  # another unit than the panel's: an override for this query's fields


def _target(ref: str, query: Query, instant: bool) -> prometheus.Dataquery:
    target = prometheus.Dataquery().ref_id(ref).expr(query.expr).datasource(DATASOURCE)
    if query.legend:
        target = target.legend_format(query.legend)
    target = target.instant().format(PromQueryFormat.TABLE) if instant else target.range()
    return target


def _with_targets(panel: Any, unit: str, queries: Sequence[Query], instant: bool, description: str) -> Any:
    if not queries:
        raise ValueError("a panel needs a query")
    panel = panel.datasource(DATASOURCE).unit(unit)
    if description:
        panel = panel.description(description)
    for ref, query in zip(REFS, queries, strict=False):
        panel = panel.with_target(_target(ref, query, instant))
        if query.unit is not None and query.unit != unit:
            panel = panel.override_by_query(ref, [model.DynamicConfigValue(id_val="unit", value=query.unit)])
    return panel


def _titled(panel: Any, title: str, unit: str) -> Any:
    if not title.strip():
        raise ValueError("a panel needs a title")
    if not unit.strip():
        raise ValueError(f"panel {title!r} needs a unit")
    return panel.title(title)


def value_colours(colours: Mapping[str, str] = STATUS_COLOURS) -> list[model.ValueMap]:
    """A value mapping giving each status text its colour."""
    return [
        model.ValueMap(
            options={
                value: model.ValueMappingResult(text=value, color=colour, index=index)
                for index, (value, colour) in enumerate(colours.items())
            }
        )
    ]


def timeseries_panel(title: str, unit: str, *queries: Query, description: str = "", stack: bool = False,
                     minimum: float | None = None, maximum: float | None = None) -> timeseries.Panel:
    panel = _titled(timeseries.Panel(), title, unit)
    panel = _with_targets(panel, unit, queries, False, description).fill_opacity(10).line_width(1)
    if stack:
        panel = panel.stacking(StackingConfig().mode(common.StackingMode.NORMAL))
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    return panel


def stat_panel(title: str, unit: str, *queries: Query, description: str = "", colours: bool = False,
               calculation: str = "lastNotNull") -> stat.Panel:
    """A big number per series; ``colours`` colours each series by its status label's colour (by name)."""
    panel = _titled(stat.Panel(), title, unit)
    panel = _with_targets(panel, unit, queries, True, description)
    reduce = ReduceDataOptions().calcs([calculation]).values(False)
    panel = panel.reduce_options(reduce).graph_mode(common.BigValueGraphMode.NONE)
    if colours:
        panel = panel.color_mode(common.BigValueColorMode.BACKGROUND)
        for status, colour in STATUS_COLOURS.items():
            fixed = {"mode": "fixed", "fixedColor": colour}
            panel = panel.override_by_name(status, [model.DynamicConfigValue(id_val="color", value=fixed)])
    return panel


def table_panel(title: str, unit: str, *queries: Query, description: str = "", hide: Sequence[str] = (),
                sort_by: str = "Value", descending: bool = True) -> table.Panel:
    """Instant queries as rows (one per series, the labels as columns); ``unit`` is the value column's."""
    panel = _titled(table.Panel(), title, unit)
    panel = _with_targets(panel, unit, queries, True, description)
    exclude = {column: True for column in ("Time", "__name__", "job", *hide)}
    transformations = [model.DataTransformerConfig(id_val="organize", options={"excludeByName": exclude})]
    if len(queries) > 1:
        transformations.insert(0, model.DataTransformerConfig(id_val="merge", options={}))
    panel = panel.transformations(transformations)
    panel = panel.mappings(value_colours())
    return panel.sort_by([TableSortByFieldState().display_name(sort_by).desc(descending)])


def geomap_panel(title: str, unit: str, layers: Sequence[tuple[str, Query, dict[str, Any]]], config: MixinConfig,
                 description: str = "") -> geomap_builders.Panel:
    """Markers at each series' ``latitude`` / ``longitude`` labels, one layer per (name, query, marker style).

    The labels arrive as text; a transformation makes them numbers, which the "coords" location mode needs.
    """
    panel = _titled(geomap_builders.Panel(), title, unit)
    panel = _with_targets(panel, unit, [query for _, query, _ in layers], True, description)
    conversions = [{"targetField": field, "destinationType": "number"} for field in ("latitude", "longitude")]
    panel = panel.transformations(
        [model.DataTransformerConfig(id_val="convertFieldType", options={"conversions": conversions, "fields": {}})]
    )
    panel = panel.mappings(value_colours())
    if config.basemap_url:
        basemap = MapLayerOptions().type("xyz").name("Basemap").config(
            {"url": config.basemap_url, "attribution": ""}
        )
    else:
        basemap = MapLayerOptions().type("default").name("Basemap")
    panel = panel.basemap(basemap)
    built_layers = []
    for ref, (name, _, style) in zip(REFS, layers, strict=False):
        location = FrameGeometrySource().mode(common.FrameGeometrySourceMode.COORDS).latitude("latitude")
        location = location.longitude("longitude")
        layer = (
            MapLayerOptions()
            .type("markers")
            .name(name)
            .location(location)
            .filter_data({"id": "byRefId", "options": ref})
            .config({"showLegend": True, "style": style})
            .tooltip(True)
        )
        built_layers.append(layer)
    view = geomap_builders.MapViewConfig().id("fit").lat(0).lon(0).zoom(12).all_layers(True)
    panel = panel.layers(built_layers).view(view)
    return panel.tooltip(geomap_builders.TooltipOptions().mode(TooltipMode.DETAILS))


# --- variables ---


def datasource_variable() -> dash.DatasourceVariable:
    return (
        dash.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(model.VariableOption(text="stadtnetz Prometheus", value=PROVISIONED_DATASOURCE_UID))
    )


def job_variable(config: MixinConfig) -> dash.QueryVariable:
    query = "label_values(stadtnetz_scheduler_devices, job)"
    return (
        dash.QueryVariable("job")
        .label("Job")
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .current(model.VariableOption(text=config.job, value=config.job))
    )


def label_variable(name: str, label: str, metric: str, *matchers: str, scoped: bool = True) -> dash.QueryVariable:
    """A multi-value variable of a label's values with "All" (``.*``), e.g. instance, district, kind."""
    scope = SCOPE if scoped else 'job=~"$job"'
    query = f"label_values({metric}{{{', '.join((scope, *matchers))}}}, {name})"
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(ALL)
        .current(model.VariableOption(text="All", value="$__all"))
    )


class Board:
    """One dashboard being laid out: panels left to right, a new row when 24 columns are full, ids 1, 2, ..."""

    def __init__(self, name: str, title: str, description: str, config: MixinConfig,
                 variables: Sequence[dash.QueryVariable] = ()) -> None:
        self.name = name
        self.config = config
        self.builder = (
            dash.Dashboard(title)
            .uid(f"stadtnetz-{name}")
            .description(description)
            .tags(["stadtnetz"])
            .editable()
            .time("now-6h", "now")
            .timezone("browser")
            .refresh("1m")
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .with_variable(datasource_variable())
            .with_variable(job_variable(config))
            .with_variable(label_variable("instance", "Instance", "stadtnetz_scheduler_devices", scoped=False))
        )
        for variable in variables:
            self.builder = self.builder.with_variable(variable)
        self._x = self._y = self._row_height = 0
        self._next_id = 1

    def add(self, panel: Any, width: int, height: int) -> Board:
        if self._x + width > GRID_WIDTH:
            self._x, self._y, self._row_height = 0, self._y + self._row_height, 0
        panel = panel.id(self._next_id).grid_pos(model.GridPos(h=height, w=width, x=self._x, y=self._y))
        self.builder = self.builder.with_panel(panel)
        self._next_id += 1
        self._x += width
        self._row_height = max(self._row_height, height)
        return self

    def build(self) -> model.Dashboard:
        return self.builder.build()
