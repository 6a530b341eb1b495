"""The status map and the badges as SVG, drawn by the server from the devices' own coordinates.

**Map.** An equirectangular projection around the centre of the points (longitude scaled by cos(latitude)),
fitted into a 1000-unit-wide view box; north is up. Every point is a shape (square: routers and switches,
circle: everything else; on the public map circles are WLAN sites and diamonds chargers) filled with its
status colour and named twice for people who cannot tell the colours apart: a ``<title>`` (the tooltip and
what screen readers read) and ``data-status``. Maintenance is a blue outline. Every upstream link is a line
coloured by the status of its lower device. Elements carry ``id`` and ``data-device`` (operator map) or a
``site-N``/``charger-N`` handle (public map). An optional background image (``web.map_image``) is an
``<image>`` the browser loads; nothing is fetched by the server and none is drawn by default.

**Badges** are shields.io-like: a grey label and a coloured message, text in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# status colours on white (text contrast >= 4.5:1 for the darker ones; the words are always given too)
COLOURS = {
    "up": "#1a7f37",
    "degraded": "#9a6700",
    "down": "#cf222e",
    "unreachable": "#6e7781",
    "unknown": "#d0d7de",
    # the public map's words
    "online": "#1a7f37",
    "partly": "#9a6700",
    "offline": "#cf222e",
    "available": "#1a7f37",
    "occupied": "#0969da",
    "out_of_service": "#cf222e",
}
MAINTENANCE = "#0550ae"
WIDTH = 1000.0
MARGIN = 24.0
BACKBONE_KINDS = frozenset({"core_router", "distribution_switch", "router", "switch", "aggregation_switch"})


@dataclass(frozen=True, slots=True)
class MapPoint:
    key: str  # the element's id
    device: str | None  # data-device (None on the public map)
    title: str
    status: str  # a key of COLOURS
    lat: float
    lon: float
    shape: str = "circle"  # circle, square, diamond
    maintenance: bool = False
    kind: str = ""
    href: str | None = None


@dataclass(frozen=True, slots=True)
class MapLink:
    key: str
    device: str  # the lower device
    upstream: str
    status: str
    a: tuple[float, float]  # (lat, lon) of the lower device
    b: tuple[float, float]  # (lat, lon) of its upstream


@dataclass(frozen=True, slots=True)
class Projection:
    lat0: float
    lon0: float
    scale: float
    west: float
    north: float
    height: float

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        x = MARGIN + (lon - self.west) * math.cos(math.radians(self.lat0)) * self.scale
        y = MARGIN + (self.north - lat) * self.scale
        return round(x, 1), round(y, 1)


def projection(points: Sequence[tuple[float, float]]) -> Projection:
    """Fit (lat, lon) points into the view box (see the module docstring)."""
    if not points:
        return Projection(0.0, 0.0, 1.0, 0.0, 0.0, 200.0)
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    lat0 = (south + north) / 2
    span_x = max((east - west) * math.cos(math.radians(lat0)), 1e-6)
    span_y = max(north - south, 1e-6)
    scale = (WIDTH - 2 * MARGIN) / max(span_x, span_y * 1.25)
    height = span_y * scale + 2 * MARGIN
    return Projection(lat0, (west + east) / 2, scale, west, north, round(max(height, 120.0), 1))


def render_map(
    points: Sequence[MapPoint],
    links: Sequence[MapLink],
    title: str,
    description: str,
    image: tuple[str, tuple[float, float, float, float]] | None = None,
    legend: Sequence[tuple[str, str]] = (),
) -> str:
    """The map as one ``<svg>`` element (with its namespace: as good inline as standalone)."""
    frame = projection([(p.lat, p.lon) for p in points])
    height = frame.height + (28 if legend else 0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:g} {height:g}" role="img" '
        f'aria-labelledby="map-title map-desc" class="map" preserveAspectRatio="xMidYMid meet">',
        f'<title id="map-title">{escape(title)}</title><desc id="map-desc">{escape(description)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH:g}" height="{height:g}" fill="#ffffff"/>',
    ]
    if image is not None:
        url, (south, west, north, east) = image
        x0, y0 = frame.xy(north, west)
        x1, y1 = frame.xy(south, east)
        out.append(
            f'<image href="{escape(url)}" x="{x0}" y="{y0}" width="{round(x1 - x0, 1)}" '
            f'height="{round(y1 - y0, 1)}" preserveAspectRatio="none" opacity="0.6"/>'
        )
    out.append('<g class="links" stroke-width="1.2" stroke-linecap="round">')
    for link in links:
        x1, y1 = frame.xy(*link.a)
        x2, y2 = frame.xy(*link.b)
        out.append(
            f'<line id="{escape(link.key)}" data-device="{escape(link.device)}" '
            f'data-upstream="{escape(link.upstream)}" data-status="{link.status}" x1="{x1}" y1="{y1}" x2="{x2}" '
            f'y2="{y2}" stroke="{COLOURS.get(link.status, COLOURS["unknown"])}">'
            f"<title>link {escape(link.device)} to {escape(link.upstream)}: {link.status}</title></line>"
        )
    out.append('</g><g class="points" stroke="#24292f" stroke-width="0.6">')
    for point in points:
        x, y = frame.xy(point.lat, point.lon)
        fill = COLOURS.get(point.status, COLOURS["unknown"])
        extra = f' stroke="{MAINTENANCE}" stroke-width="2.5"' if point.maintenance else ""
        data = f' data-device="{escape(point.device)}"' if point.device is not None else ""
        data += f' data-kind="{escape(point.kind)}"' if point.kind else ""
        common = f'id="{escape(point.key)}"{data} data-status="{point.status}" fill="{fill}"{extra}'
        label = f"<title>{escape(point.title)}</title>"
        if point.shape == "square":
            shape = f'<rect {common} x="{x - 4.5}" y="{y - 4.5}" width="9" height="9">{label}</rect>'
        elif point.shape == "diamond":
            shape = (
                f'<path {common} d="M{x} {y - 6}L{x + 6} {y}L{x} {y + 6}L{x - 6} {y}Z">{label}</path>'
            )
        else:
            shape = f'<circle {common} cx="{x}" cy="{y}" r="3.6">{label}</circle>'
        if point.href:
            shape = f'<a href="{escape(point.href)}">{shape}</a>'
        out.append(shape)
    out.append("</g>")
    if legend:
        x = MARGIN
        y = frame.height + 14
        out.append('<g class="legend" font-family="sans-serif" font-size="13" fill="#24292f">')
        for status, word in legend:
            colour = MAINTENANCE if status == "maintenance" else COLOURS.get(status, COLOURS["unknown"])
            if status == "maintenance":
                out.append(f'<circle cx="{x + 5}" cy="{y}" r="5" fill="#ffffff" stroke="{colour}" stroke-width="2.5"/>')
            else:
                out.append(f'<circle cx="{x + 5}" cy="{y}" r="5" fill="{colour}" stroke="#24292f" stroke-width="0.6"/>')
            out.append(f'<text x="{x + 14}" y="{y + 4.5}">{escape(word)}</text>')
            x += 22 + 7.5 * len(word)
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _text_width(text: str) -> float:
    return 7.0 * len(text) + 12


def render_badge(label: str, message: str, status: str) -> str:
    """A shields.io-like badge: ``label`` on grey, ``message`` on the status colour."""
    colour = {"ok": "#1a7f37", "degraded": "#9a6700", "outage": "#cf222e"}.get(status, "#6e7781")
    left, right = _text_width(label), _text_width(message)
    total = left + right
    text = f"{label}: {message}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total:g}" height="20" role="img" '
        f'aria-label="{escape(text)}"><title>{escape(text)}</title>'
        f'<rect width="{left:g}" height="20" fill="#555"/>'
        f'<rect x="{left:g}" width="{right:g}" height="20" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:g}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2:g}" y="14">{escape(message)}</text></g></svg>'
    )
