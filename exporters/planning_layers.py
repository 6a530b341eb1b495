"""The planning export's layers: a :class:`~stadtnetz.planning.plan.Plan` as tables with German field names.

Owns what each layer holds and what its fields are called (the names a planner reads in QGIS and hands on to the
funding procedures); writing them in a format is :mod:`exporters.planning`'s job. Layers:

============================  ============  =====================================================================
``netzknoten``                points        every placed device: kind, site, district, uplink, backhaul, capacity,
                                            p95 utilisation and availability over the window, GIS-NB ``art``
``verbindungen``              lines         each device to its upstream: level, medium, capacity, p95, headroom,
                                            short (Engpass), length along the trench route or the straight line
``adressen``                  points        each address: today's service, funding class, nearest fibre point,
                                            straight-line and route distance, trench metres, cost, grid cell
``raster_100m``               polygons      the 100 m INSPIRE cells holding addresses (always EPSG:3035): their
                                            addresses, those without gigabit, median distance to fibre
``ausbaucluster``             polygons      the clusters of unserved addresses (:mod:`stadtnetz.planning.gaps`),
                                            ranked by cost per address
``metadaten``                 table         date, sources, licences, CRS, window, thresholds, costs
============================  ============  =====================================================================

Ratios (``auslastung_p95``, ``verfuegbarkeit``, ``reserve_anteil``) are 0..1; speeds Mbit/s; lengths metres;
costs euro. An unknown value is NULL, never 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stadtnetz import __version__
from stadtnetz.planning.gaps import GapCluster
from stadtnetz.planning.grid import CELL_METRES, GRID_CRS
from stadtnetz.planning.network import GISNB_ART
from stadtnetz.planning.plan import Plan

WGS84 = 4326
SURFACE_GERMAN = {"sealed": "versiegelt", "unsealed": "unversiegelt"}
LEVEL_GERMAN = {True: "backbone", False: "zugang"}
CLUSTER_MARGIN_M = 25.0  # a cluster's polygon: its members' convex hull grown by this much
LICENCE = (
    "Netz-, Auslastungs- und Kostendaten: Stadtwerk, vertraulich (Infrastrukturatlas-Lieferung nur nach Freigabe); "
    "Adressen: Lizenz der Quelle; 100-m-Gitter: INSPIRE/Zensus-Gitter EPSG:3035 (GITTER_ID_100m, Zensus 2022 "
    "unter dl-de/by-2-0)"
)


@dataclass
class Layer:
    """One table: fields and their values column by column, and shapely geometries in ``crs`` (None: a table)."""

    name: str
    geometry_type: str | None  # "Point", "LineString", "Polygon"; None for a table without geometry
    crs: int | None
    fields: list[str]
    columns: list[list[Any]]  # one list per field, None for an unknown value
    geometries: Any = None  # a numpy array of shapely geometries, one per row

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def column(self, name: str) -> list[Any]:
        return self.columns[self.fields.index(name)]


# Each field's type, wherever it appears (a field name means the same in every layer); the rest are text.
REAL_FIELDS = frozenset({
    "kapazitaet_mbit_s", "auslastung_p95", "verfuegbarkeit", "lat", "lon", "reserve_anteil", "reserve_mbit_s",
    "laenge_m", "download_mbit_s", "upload_mbit_s", "luftlinie_m", "abstand_glasfaser_m", "tiefbau_m", "kosten_eur",
    "anteil_ohne_gigabit", "median_abstand_m", "kosten_je_adresse_eur",
    "kap_mbit", "ausl_p95", "reserve",  # the GIS-NB pre-fill's short names (exporters/gisnb.py)
})
INTEGER_FIELDS = frozenset({
    "untergeordnet", "gisnb_art", "adressen", "ohne_gigabit", "rang", "anzahl_weiss", "anzahl_grau",
    "anzahl_foerderfaehig", "art", "fasern",
})
BOOLEAN_FIELDS = frozenset({"foerderfaehig", "engpass"})


def _round(value: float | None, digits: int) -> float | None:
    """``value`` to ``digits`` decimals (metres to 0.1, euro to 1: what an estimate can claim); None stays None."""
    return None if value is None else round(value, digits)


def table(name: str, rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> Layer:
    return Layer(name, None, None, list(fields), [[row[f] for row in rows] for f in fields])


def planning_layers(plan: Plan, clusters: Sequence[GapCluster], crs: int) -> list[Layer]:
    """All layers of ``plan`` with geometries in ``crs`` (the grid stays in EPSG:3035 unless ``crs`` is WGS84)."""
    project = _projector(WGS84, crs)
    grid_crs = WGS84 if crs == WGS84 else GRID_CRS
    return [
        _nodes(plan, project, crs),
        _spans(plan, project, crs),
        _addresses(plan, project, crs),
        _grid(plan, _projector(GRID_CRS, grid_crs), grid_crs),
        _clusters(plan, clusters, project, crs),
        metadata(plan, crs),
    ]


Projector = Callable[[Sequence[float], Sequence[float]], tuple[Any, Any]]


def _projector(source: int, target: int) -> Projector:
    import numpy as np
    from pyproj import Transformer

    if source == target:
        return lambda xs, ys: (np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    transformer = Transformer.from_crs(source, target, always_xy=True)
    return lambda xs, ys: transformer.transform(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))


def _points(project: Projector, lons: Sequence[float], lats: Sequence[float]) -> Any:
    import shapely

    xs, ys = project(lons, lats)
    return shapely.points(xs, ys)


def _line(project: Projector, vertices: Sequence[tuple[float, float]]) -> Any:
    import numpy as np
    import shapely

    xs, ys = project([v[0] for v in vertices], [v[1] for v in vertices])
    return shapely.linestrings(np.column_stack([xs, ys]))


def _nodes(plan: Plan, project: Projector, crs: int) -> Layer:
    rows = [
        {
            "geraet_id": node.device.id,
            "typ": node.device.kind,
            "standort": node.device.site,
            "stadtteil": node.device.district,
            "uplink": node.device.upstream,
            "anbindung": node.device.backhaul,
            "schnittstelle": node.figures.interface,
            "kapazitaet_mbit_s": _round(node.figures.capacity_mbit_s, 3),
            "auslastung_p95": _round(node.figures.p95_utilisation, 4),
            "verfuegbarkeit": _round(node.figures.availability, 6),
            "untergeordnet": node.downstream,
            "gisnb_art": GISNB_ART.get(node.device.kind),
            "lat": node.device.lat,
            "lon": node.device.lon,
        }
        for node in plan.nodes
    ]
    layer = table("netzknoten", rows, NODE_FIELDS)
    layer.geometry_type, layer.crs = "Point", crs
    layer.geometries = _points(project, [n.device.lon for n in plan.nodes], [n.device.lat for n in plan.nodes])
    return layer


NODE_FIELDS = [
    "geraet_id", "typ", "standort", "stadtteil", "uplink", "anbindung", "schnittstelle", "kapazitaet_mbit_s",
    "auslastung_p95", "verfuegbarkeit", "untergeordnet", "gisnb_art", "lat", "lon",
]
SPAN_FIELDS = [
    "von", "nach", "ebene", "medium", "kapazitaet_mbit_s", "auslastung_p95", "reserve_anteil", "reserve_mbit_s",
    "engpass", "laenge_m", "trasse",
]


def _spans(plan: Plan, project: Projector, crs: int) -> Layer:
    import numpy as np
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    rows, geometries = [], []
    for span in plan.spans:
        vertices = span.route or ((span.device.lon, span.device.lat), (span.upstream.lon, span.upstream.lat))
        rows.append(
            {
                "von": span.device.id,
                "nach": span.upstream.id,
                "ebene": LEVEL_GERMAN[span.backbone],
                "medium": span.device.backhaul,
                "kapazitaet_mbit_s": _round(span.figures.capacity_mbit_s, 3),
                "auslastung_p95": _round(span.figures.p95_utilisation, 4),
                "reserve_anteil": _round(span.headroom, 4),
                "reserve_mbit_s": _round(span.headroom_mbit_s, 3),
                "engpass": span.short(plan.settings) if span.backbone else None,
                "laenge_m": round(geod.line_length([v[0] for v in vertices], [v[1] for v in vertices]), 1),
                "trasse": "route" if span.route else "luftlinie",
            }
        )
        geometries.append(_line(project, vertices))
    layer = table("verbindungen", rows, SPAN_FIELDS)
    layer.geometry_type, layer.crs, layer.geometries = "LineString", crs, np.array(geometries, dtype=object)
    return layer


ADDRESS_FIELDS = [
    "adress_id", "strasse", "hausnummer", "plz", "ort", "ags", "stadtteil", "download_mbit_s", "upload_mbit_s",
    "technologie", "foerderklasse", "foerderfaehig", "naechster_glasfaserpunkt", "luftlinie_m",
    "abstand_glasfaser_m", "tiefbau_m", "oberflaeche", "kosten_eur", "gitter_id_100m", "lat", "lon", "quelle",
]


def _addresses(plan: Plan, project: Projector, crs: int) -> Layer:
    rows = [
        {
            "adress_id": item.address.id,
            "strasse": item.address.street,
            "hausnummer": item.address.house_number,
            "plz": item.address.postcode,
            "ort": item.address.town,
            "ags": item.address.ags,
            "stadtteil": item.district,
            "download_mbit_s": item.address.download_mbit_s,
            "upload_mbit_s": item.address.upload_mbit_s,
            "technologie": item.address.technology or None,
            "foerderklasse": item.funding_class,
            "foerderfaehig": item.eligible,
            "naechster_glasfaserpunkt": item.reach.nearest,
            "luftlinie_m": _round(item.reach.straight_m, 1),
            "abstand_glasfaser_m": _round(item.reach.to_line_m, 1),
            "tiefbau_m": _round(item.reach.trench_m, 1),
            "oberflaeche": SURFACE_GERMAN[item.address.surface],
            "kosten_eur": _round(item.reach.cost_eur, 0),
            "gitter_id_100m": item.cell,
            "lat": item.address.lat,
            "lon": item.address.lon,
            "quelle": item.address.source,
        }
        for item in plan.addresses
    ]
    layer = table("adressen", rows, ADDRESS_FIELDS)
    layer.geometry_type, layer.crs = "Point", crs
    places = plan.addresses
    layer.geometries = _points(project, [a.address.lon for a in places], [a.address.lat for a in places])
    return layer


GRID_FIELDS = ["gitter_id_100m", "adressen", "ohne_gigabit", "anteil_ohne_gigabit", "median_abstand_m"]


def _grid(plan: Plan, project: Projector, crs: int) -> Layer:
    import numpy as np
    import shapely

    rows = [
        {
            "gitter_id_100m": cell.id,
            "adressen": cell.addresses,
            "ohne_gigabit": cell.without_gigabit,
            "anteil_ohne_gigabit": round(cell.without_gigabit / cell.addresses, 4),
            "median_abstand_m": _round(cell.median_straight_m, 1),
        }
        for cell in plan.cells
    ]
    layer = table("raster_100m", rows, GRID_FIELDS)
    corners = [(0, 0), (CELL_METRES, 0), (CELL_METRES, CELL_METRES), (0, CELL_METRES), (0, 0)]
    rings = []
    for cell in plan.cells:
        xs, ys = project([cell.east + dx for dx, _ in corners], [cell.north + dy for _, dy in corners])
        rings.append(shapely.polygons(np.column_stack([xs, ys])))
    layer.geometry_type, layer.crs, layer.geometries = "Polygon", crs, np.array(rings, dtype=object)
    return layer


CLUSTER_FIELDS = [
    "cluster_id", "rang", "adressen", "anzahl_weiss", "anzahl_grau", "anzahl_foerderfaehig", "stadtteil",
    "tiefbau_m", "kosten_eur", "kosten_je_adresse_eur", "anschluss_adresse", "anschluss_an",
]


def _clusters(plan: Plan, clusters: Sequence[GapCluster], project: Projector, crs: int) -> Layer:
    import numpy as np
    import shapely

    rows = [
        {
            "cluster_id": cluster.id,
            "rang": rank,
            "adressen": cluster.addresses,
            "anzahl_weiss": cluster.classes.get("weiss", 0),
            "anzahl_grau": cluster.classes.get("grau", 0),
            "anzahl_foerderfaehig": cluster.classes.get("foerderfaehig", 0),
            "stadtteil": cluster.district,
            "tiefbau_m": round(cluster.trench_m, 1),
            "kosten_eur": round(cluster.cost_eur),
            "kosten_je_adresse_eur": round(cluster.cost_per_address_eur),
            "anschluss_adresse": cluster.connect.address.id,
            "anschluss_an": cluster.connect.reach.nearest,
        }
        for rank, cluster in enumerate(clusters, start=1)
    ]
    layer = table("ausbaucluster", rows, CLUSTER_FIELDS)
    # grown in metres in the plan's CRS, then brought to the layer's
    metric = _projector(WGS84, plan.settings.crs)
    back = _projector(plan.settings.crs, crs)
    shapes = []
    for cluster in clusters:
        xs, ys = metric([m.address.lon for m in cluster.members], [m.address.lat for m in cluster.members])
        hull = shapely.convex_hull(shapely.multipoints(np.column_stack([xs, ys]))).buffer(CLUSTER_MARGIN_M, 4)
        shapes.append(shapely.transform(hull, lambda xy: np.column_stack(back(xy[:, 0], xy[:, 1]))))
    layer.geometry_type, layer.crs, layer.geometries = "Polygon", crs, np.array(shapes, dtype=object)
    return layer


def metadata(plan: Plan, crs: int) -> Layer:
    """The ``metadaten`` table: one row per fact (schluessel, wert)."""
    settings, funding = plan.settings, plan.settings.funding
    start, end = (dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds") for t in plan.window)
    facts = [
        ("erstellt", dt.datetime.fromtimestamp(plan.made_at, dt.UTC).isoformat(timespec="seconds")),
        ("erzeugt_mit", f"stadtnetz {__version__} (stadtnetz export planning)"),
        ("quellen", "; ".join(plan.sources) or "Inventar"),
        ("lizenz", LICENCE),
        ("koordinatensystem", f"EPSG:{crs} (raster_100m: EPSG:{WGS84 if crs == WGS84 else GRID_CRS})"),
        ("zeitraum", f"{start} bis {end}" if plan.with_history else "keine Historie: Auslastung, Verfügbarkeit leer"),
        ("foerderschwellen_mbit_s", (
            f"weiss < {funding.white:g}; grau < {funding.grey:g}; foerderfaehig ohne {funding.symmetric:g} symmetrisch "
            f"oder {funding.download:g} im Download; gigabit ab {funding.gigabit:g}"
        )),
        ("kosten_eur_je_m", "; ".join(f"{SURFACE_GERMAN[s]} {c:g}" for s, c in settings.cost_per_metre)),
        ("umwegfaktor", f"{settings.detour:g}"),
        ("engpass_reserve_unter", f"{settings.headroom:g}"),
        ("geraete_ohne_koordinaten", ", ".join(plan.unplaced_devices) or "keine"),
        ("hinweis", (
            "Vorbefüllung aus dem Netzmonitoring; Kosten sind Schätzungen (Abstand mal Umwegfaktor mal Satz je Meter); "
            "Konformität mit den GIS-Nebenbestimmungen 5.1 ist nicht geprüft"
        )),
    ]
    return table("metadaten", [{"schluessel": k, "wert": v} for k, v in facts], ["schluessel", "wert"])
