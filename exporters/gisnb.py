"""The GIS-Nebenbestimmungen 5.1 pre-fill: the existing network as a Shapefile ZIP for the funding documentation.

Owns the two layers a funded network's "Netzplan" starts from, with field names of at most 10 characters (what a
DBF keeps), in the plan's CRS (ETRS89 / UTM, EPSG:25832 or 25833):

* ``Bauten_und_Netztechnik`` (points): the PoPs (``art`` 12, the core routers) and fibre distribution points
  (``art`` 14, the distribution switches) with their id, site, district, capacity and p95 utilisation.
  Access devices (hotspots, chargers) are not network buildings and are left out.
* ``Verbindungen`` (lines): each fibre span between them and down to the access devices on fibre: from/to,
  medium, length along the trench route (else the straight line), capacity, headroom, state ``Bestand``;
  ``fasern`` (fibre count) is empty: the monitoring does not know it.

This is a pre-fill for the operator's GIS team to complete and check, not a verified conformant delivery (the
official specification's PDF is the reference).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from exporters.planning import write_layer
from exporters.planning_layers import Layer, table
from stadtnetz.planning.network import GISNB_ART
from stadtnetz.planning.plan import Plan

NODE_LAYER = "Bauten_und_Netztechnik"
LINK_LAYER = "Verbindungen"
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
MAX_FIELD = 10


def gisnb_layers(plan: Plan) -> list[Layer]:
    """The two pre-fill layers, in the plan's CRS."""
    import numpy as np
    import shapely
    from pyproj import Geod, Transformer

    project = Transformer.from_crs(4326, plan.settings.crs, always_xy=True)
    geod = Geod(ellps="WGS84")
    nodes = [node for node in plan.nodes if node.device.kind in GISNB_ART]
    node_rows = [
        {
            "id": node.device.id,
            "art": GISNB_ART[node.device.kind],
            "bezeichn": node.device.site,
            "ortsteil": node.device.district,
            "status": "Bestand",
            "kap_mbit": node.figures.capacity_mbit_s,
            "ausl_p95": None if node.figures.p95_utilisation is None else round(node.figures.p95_utilisation, 4),
        }
        for node in nodes
    ]
    points = table(NODE_LAYER, node_rows, ["id", "art", "bezeichn", "ortsteil", "status", "kap_mbit", "ausl_p95"])
    xs, ys = project.transform([n.device.lon for n in nodes], [n.device.lat for n in nodes])
    points.geometry_type, points.crs, points.geometries = "Point", plan.settings.crs, shapely.points(xs, ys)

    spans = [span for span in plan.spans if span.device.backhaul == "fibre"]
    link_rows, lines = [], []
    for span in spans:
        vertices = span.route or ((span.device.lon, span.device.lat), (span.upstream.lon, span.upstream.lat))
        lons, lats = [v[0] for v in vertices], [v[1] for v in vertices]
        link_rows.append(
            {
                "id": f"{span.device.id}-{span.upstream.id}",
                "von": span.device.id,
                "nach": span.upstream.id,
                "typ": "Glasfaser",
                "laenge_m": round(geod.line_length(lons, lats), 1),
                "fasern": None,
                "kap_mbit": span.figures.capacity_mbit_s,
                "reserve": None if span.headroom is None else round(span.headroom, 4),
                "zustand": "Bestand",
            }
        )
        lines.append(shapely.linestrings(np.column_stack(project.transform(lons, lats))))
    fields = ["id", "von", "nach", "typ", "laenge_m", "fasern", "kap_mbit", "reserve", "zustand"]
    links = table(LINK_LAYER, link_rows, fields)
    links.geometry_type, links.crs, links.geometries = "LineString", plan.settings.crs, np.array(lines, dtype=object)
    for layer in (points, links):
        assert all(len(name) <= MAX_FIELD for name in layer.fields), layer.fields
    return [points, links]


def write_gisnb_zip(plan: Plan, out: Path) -> Path:
    """The pre-fill as one ZIP of Shapefiles (each layer's .shp, .shx, .dbf, .prj, .cpg) at ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as folder:
        for layer in gisnb_layers(plan):
            write_layer(layer, str(Path(folder) / f"{layer.name}.shp"), "ESRI Shapefile")
        partial = Path(folder) / out.name
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(folder).iterdir()):
                if path.suffix in SHAPEFILE_PARTS:
                    archive.write(path, path.name)
        partial.replace(out)
    return out
