"""The simulated city's planning inputs: a seeded address list and the trench routes of its fibre spans.

Owns what "Musterstadt" looks like to a broadband planner: the buildings (a dense centre on a street grid, suburbs
around the distribution switches, scattered farms and hamlets in the Außenbereich 4-8 km out), the service each has
today (gigabit in the centre, white spots outside), and where the fibre between a device and its upstream runs
(polylines along the street grid). The files are the formats :mod:`stadtnetz.config.addresses` and
:mod:`stadtnetz.config.routes` read. Everything draws from generators of its own, seeded from the seed argument, so
the city itself (:mod:`simulators.city`) stays as it was; equal arguments give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from simulators.city import (
    CITY_CENTRE,
    CITY_POSTCODES,
    CITY_TOWN,
    DEFAULT_DEVICES,
    DISTRICTS,
    KIND_CORE,
    KIND_DISTRIBUTION,
    City,
    generate_city,
)
from stadtnetz.model import Address

CITY_AGS = "05999001"  # fictional: Land 05 (NRW), Regierungsbezirk 9 (Arnsberg) has no Kreis 99
OUTER_DISTRICTS = {name for name, *_, outer in DISTRICTS if outer}
CITY_AREA = (51.74, 8.10, 51.94, 8.42)  # south, west, north, east: about 10 km around the centre
ADDRESS_COLUMNS = ("id", "strasse", "hausnummer", "plz", "ort", "ags", "lat", "lon", "download_mbit_s", "upload_mbit_s",
                   "technologie", "oberflaeche")
ADDRESSES_FILE = "example-city-addresses.csv"
ROUTES_FILE = "example-city-trenches.geojson"
DEFAULT_ADDRESSES = 4000

CENTRE_SHARE, SUBURB_SHARE = 0.6, 0.28  # of the addresses; the rest is the outer area
CENTRE_RADIUS_KM, OUTER_KM = 1.45, (4.2, 7.8)
ACCESS_ROUTE_SHARE = 0.3  # of the access devices on fibre: those whose trench is known
KM_PER_DEGREE = 111.2
_EAST_KM = KM_PER_DEGREE * math.cos(math.radians(CITY_CENTRE[0]))

STREET_STEMS = (
    "Linden", "Birken", "Eichen", "Ahorn", "Buchen", "Kastanien", "Erlen", "Ulmen", "Tannen", "Fichten", "Garten",
    "Schul", "Kirch", "Bahnhof", "Mühlen", "Berg", "Wiesen", "Feld", "Wald", "Rosen", "Tulpen", "Nelken", "Flieder",
    "Goethe", "Schiller", "Lessing", "Beethoven", "Mozart", "Bach", "Heine", "Uhland", "Herder", "Kant", "Bismarck",
    "Friedrich", "Wilhelm", "Luisen", "Marien", "Sophien", "Post", "Markt", "Rathaus", "Burg", "Schloss", "Hafen",
    "Brunnen", "Teich", "Weiher", "Anger", "Sonnen", "Stern", "Blumen", "Quellen", "Industrie", "Gewerbe", "Kloster",
    "Dom", "Turm", "Tor", "Kanal", "Brücken", "Hecken", "Dorf", "Heide", "Moor", "Weiden", "Holunder", "Ginster",
    "Lerchen", "Amsel", "Drossel", "Finken", "Meisen", "Schwalben", "Falken", "Adler", "Kolping", "Stifts", "Hospital",
    "Akazien", "Eschen", "Kiefern", "Lärchen", "Hasel", "Kirsch", "Apfel", "Nuss", "Hof", "Kamp", "Esch", "Königs",
    "Kaiser", "Fürsten", "Bürger", "Händel", "Haydn", "Brahms", "Schubert", "Fontane", "Storm", "Kleist", "Humboldt",
    "Leibniz", "Röntgen", "Diesel", "Bosch", "Zeppelin", "Hirsch", "Fuchs", "Mittel", "Ost", "West", "Nord", "Süd",
)
STREET_KINDS = ("straße", "straße", "straße", "weg", "weg", "allee", "ring", "gasse")
BAUERSCHAFTEN = (
    "Hollingen", "Brockhorst", "Heidkamp", "Vennhaus", "Osterfeld", "Westerholt", "Dalhoff", "Kattenbrok", "Loxten",
    "Ebbinghoff", "Haverkamp", "Sundern", "Holtrup", "Remmighausen", "Wibbelt", "Niederesch",
)
# (technology, weight, (download, upload) choices) per zone; None speeds: not known
SERVICE = {
    "centre": (("kabel", 36, ((1000, 50),)), ("vdsl", 30, ((100, 40), (250, 40))), ("fttb", 13, ((1000, 100),
               (500, 100))), ("ftth", 15, ((1000, 1000),)), ("adsl", 6, ((16, 2),))),
    "suburb": (("kabel", 24, ((1000, 50),)), ("vdsl", 38, ((100, 40), (250, 40), (50, 10))), ("fttb", 4, ((500, 100),)),
               ("ftth", 10, ((1000, 1000),)), ("adsl", 15, ((16, 2), (6, 1))), ("lte", 6, ((50, 10), (25, 5))),
               ("5g", 3, ((200, 30),))),
    "outer": (("adsl", 34, ((16, 2), (6, 1), (2, 0.5))), ("lte", 26, ((50, 10), (25, 5), (10, 2))),
              ("satellit", 10, ((25, 5),)), ("keine", 6, ((0, 0),)), ("vdsl", 14, ((50, 10), (100, 40))),
              ("5g", 2, ((150, 30),)), ("ftth", 6, ((1000, 1000),)), ("kabel", 2, ((1000, 50),))),
}
UNKNOWN_SPEED_SHARE = 0.03
UNSEALED_SHARE = {"centre": 0.0, "suburb": 0.15, "outer": 0.8}

Point = tuple[float, float]  # (north km, east km) from CITY_CENTRE
Street = tuple[str, str, Point, Point]  # name, postcode, start, end
Plot = tuple[str, str, Point, str, int, bool]  # street, postcode, place, zone, side (0 farms, 1 odd, 2 even), letter
House = tuple[str, str, str, Point, str]  # street, number, postcode, place, zone
Feature = dict[str, Any]  # a GeoJSON Feature
NAME_PREFIXES = ("", "Neue ", "Alte ", "Obere ", "Untere ", "Kleine ", "Große ")  # when the plain names run out


def to_km(lat: float, lon: float) -> Point:
    return (lat - CITY_CENTRE[0]) * KM_PER_DEGREE, (lon - CITY_CENTRE[1]) * _EAST_KM


def to_degrees(point: Point) -> tuple[float, float]:
    """(lat, lon) of a point, rounded to 6 decimals (about 0.1 m)."""
    return round(CITY_CENTRE[0] + point[0] / KM_PER_DEGREE, 6), round(CITY_CENTRE[1] + point[1] / _EAST_KM, 6)


def _postcode(point: Point, outer: bool) -> str:
    districts = [d for d in DISTRICTS if d[4] == outer]
    return CITY_POSTCODES[min(districts, key=lambda d: math.dist(point, (d[1], d[2])))[0]]


def _street_names(rng: random.Random) -> Iterator[str]:
    """Unique street names ("Lindenstraße", "Goetheweg") in a shuffled order; then "Neue Lindenstraße"..."""
    for prefix in NAME_PREFIXES:
        names = sorted({prefix + stem + kind for stem in STREET_STEMS for kind in STREET_KINDS})
        rng.shuffle(names)
        yield from names
    raise ValueError("the simulated city has run out of street names")


def _grid_streets(
    rng: random.Random, names: Iterator[str], origin: Point, radius: float, spacing: float, blocks: tuple[int, int]
) -> list[Street]:
    """The streets of a grid inside a circle, each grid line cut into streets of ``blocks`` blocks."""
    streets = []
    steps = int(radius / spacing)
    for axis in (0, 1):  # 0: east-west streets (fixed north offset), 1: north-south streets
        for k in range(-steps, steps + 1):
            offset = k * spacing
            half = math.sqrt(max(radius**2 - offset**2, 0.0))
            position = -half
            while position < half - spacing / 2:
                end = min(half, position + spacing * rng.randint(*blocks))
                a, b = ((offset, position), (offset, end)) if axis == 0 else ((position, offset), (end, offset))
                start, stop = (origin[0] + a[0], origin[1] + a[1]), (origin[0] + b[0], origin[1] + b[1])
                middle = ((start[0] + stop[0]) / 2, (start[1] + stop[1]) / 2)
                streets.append((next(names), _postcode(middle, False), start, stop))
                position = end
    return streets


def _street_plots(
    rng: random.Random, streets: Sequence[Street], gap: float, keep: Callable[[Point], float], zone: str
) -> list[Plot]:
    """Plots on both sides of every street, one every ``gap`` km (a few with a second building: "12a")."""
    plots: list[Plot] = []
    for name, postcode, start, stop in streets:
        length = math.dist(start, stop)
        along = ((stop[0] - start[0]) / length, (stop[1] - start[1]) / length)
        left = (along[1], -along[0])
        for side, sign in ((1, 1.0), (2, -1.0)):
            for n in range(max(1, int(length / gap))):
                share = rng.uniform(0.2, 0.8)
                s = (n + share) * gap
                if s > length:  # a gap longer than the street (a small list): its one plot stays on it
                    s = share * length
                set_back = sign * rng.uniform(0.008, 0.018)
                place = (start[0] + along[0] * s + left[0] * set_back, start[1] + along[1] * s + left[1] * set_back)
                if rng.random() < keep(place):
                    plots.append((name, postcode, place, zone, side, False))
                    if rng.random() < 0.03:
                        extra = (place[0] + along[0] * 0.006, place[1] + along[1] * 0.006)
                        plots.append((name, postcode, extra, zone, side, True))
    return plots


def _fill(rng: random.Random, count: int, build: Callable[[float], list[Plot]]) -> list[Plot]:
    """``count`` plots of ``build(gap)``: the gap (km) is adjusted to give 1.1-1.5 times that many, then sampled."""
    gap = 0.03
    for _ in range(8):
        plots = build(gap)
        if count <= len(plots) <= 1.5 * count or (gap < 1e-4 and len(plots) >= count):
            break
        gap *= max(len(plots), 1) / (1.2 * max(count, 1))
    chosen = sorted(rng.sample(range(len(plots)), min(count, len(plots))))
    return [plots[i] for i in chosen]


def _numbered(rng: random.Random, plots: Sequence[Plot]) -> list[House]:
    """House numbers along each street: 1, 3, 5... on the left, 2, 4, 6... on the right, 1, 2, 3... for farms."""
    last: dict[tuple[str, int], tuple[int, str]] = {}
    houses = []
    for street, postcode, place, zone, side, letter in plots:
        number, suffix = last.get((street, side), (side - 2 if side else 0, ""))
        if letter and number > 0:
            suffix = "b" if suffix == "a" else "a"
        else:
            number, suffix = number + (2 if side else 1 + (rng.random() < 0.2)), ""
        last[(street, side)] = (number, suffix)
        houses.append((street, f"{number}{suffix}", postcode, place, zone))
    return houses


def _outer_plots(rng: random.Random, city: City, count: int) -> list[Plot]:
    """Farms and hamlets 4-8 km out, each sector one Bauerschaft (with hamlets at the outer distribution switches)."""
    sectors = len(BAUERSCHAFTEN)
    width = 2 * math.pi / sectors
    hamlets: list[list[Point]] = [[] for _ in range(sectors)]
    for s in range(sectors):
        for _ in range(2):
            angle, distance = (s + rng.uniform(0.15, 0.85)) * width, rng.uniform(4.6, 7.4)
            hamlets[s].append((distance * math.cos(angle), distance * math.sin(angle)))
    for device in city.devices:
        place = to_km(device.lat, device.lon)
        if device.kind == KIND_DISTRIBUTION and device.district in OUTER_DISTRICTS:
            hamlets[int((math.atan2(place[1], place[0]) % (2 * math.pi)) / width) % sectors].append(place)
    placed: list[list[Point]] = [[] for _ in range(sectors)]
    for _ in range(count):
        s = rng.randrange(sectors)
        while True:
            if rng.random() < 0.55:
                centre = rng.choice(hamlets[s])
                place = (centre[0] + rng.gauss(0, 0.12), centre[1] + rng.gauss(0, 0.12))
            else:
                angle, distance = (s + rng.random()) * width, rng.uniform(*OUTER_KM)
                place = (distance * math.cos(angle), distance * math.sin(angle))
            if 4.0 <= math.hypot(*place) <= 8.0:
                break
        placed[s].append(place)
    plots: list[Plot] = []
    for s, places in enumerate(placed):
        name, postcode = f"Bauerschaft {BAUERSCHAFTEN[s]}", _postcode(hamlets[s][0], True)
        for place in sorted(places, key=lambda p: math.atan2(p[1], p[0]) % (2 * math.pi)):
            plots.append((name, postcode, place, "outer", 0, bool(plots) and rng.random() < 0.03))
    return plots


def generate_addresses(city: City, count: int, seed: int) -> list[Address]:
    """``count`` addresses of the simulated city, ids A000001...; equal arguments give an equal list."""
    if count < 0:
        raise ValueError(f"count must be 0 or more, not {count}")
    rng = random.Random(f"stadtnetz-addresses:{seed}")
    names = _street_names(rng)
    centre_count, suburb_count = round(count * CENTRE_SHARE), round(count * SUBURB_SHARE)
    centre_streets = _grid_streets(rng, names, (0.0, 0.0), CENTRE_RADIUS_KM, 0.11, (5, 12))

    def centre_keep(place: Point) -> float:  # denser towards the middle
        return 1.0 - 0.6 * min(math.hypot(*place) / CENTRE_RADIUS_KM, 1.0)

    plots = _fill(rng, centre_count, lambda gap: _street_plots(rng, centre_streets, gap, centre_keep, "centre"))
    suburb_streets: list[Street] = []
    origins: list[Point] = []
    for device in city.devices:  # a suburb around each urban distribution switch outside the centre (one per place)
        place = to_km(device.lat, device.lon)
        urban = device.kind == KIND_DISTRIBUTION and device.district not in OUTER_DISTRICTS
        if urban and math.hypot(*place) > 1.55 and all(math.dist(place, o) > 0.7 for o in origins):
            origins.append(place)
            suburb_streets += _grid_streets(rng, names, place, rng.uniform(0.25, 0.45), 0.1, (8, 12))
    plots += _fill(rng, suburb_count, lambda gap: _street_plots(rng, suburb_streets, gap, lambda _: 1.0, "suburb"))
    plots += _outer_plots(rng, city, count - len(plots))
    houses = _numbered(rng, plots)
    houses.sort(key=lambda h: (h[2], h[0], int(h[1].rstrip("ab")), h[1]))
    addresses = []
    for index, (street, number, postcode, place, zone) in enumerate(houses, start=1):
        technology, _, choices = rng.choices(SERVICE[zone], weights=[weight for _, weight, _ in SERVICE[zone]])[0]
        speeds: tuple[float | None, float | None] = rng.choice(choices)
        if rng.random() < UNKNOWN_SPEED_SHARE:
            speeds, technology = (None, None), technology if rng.random() < 0.5 else ""
        lat, lon = to_degrees(place)
        addresses.append(Address(
            id=f"A{index:06d}", street=street, house_number=number, postcode=postcode, town=CITY_TOWN, ags=CITY_AGS,
            lat=lat, lon=lon, download_mbit_s=speeds[0], upload_mbit_s=speeds[1], technology=technology,
            surface="unsealed" if rng.random() < UNSEALED_SHARE[zone] else "sealed",
        ))
    return addresses


def generate_routes(city: City, seed: int) -> list[Feature]:
    """Trench routes along the street grid: every backbone span on fibre and a share of the access spans on fibre.

    Each route runs from the device to its upstream, exactly at their coordinates, in 2-5 legs alternating between
    east-west and north-south (3-6 vertices), so it is 1.0 to 1.42 times the straight distance.
    """
    rng = random.Random(f"stadtnetz-trenches:{seed}")
    by_id = city.by_id()
    features = []
    for device in city.devices:
        upstream = by_id.get(device.upstream or "")
        if upstream is None or device.backhaul != "fibre":
            continue
        backbone = device.kind in (KIND_CORE, KIND_DISTRIBUTION)
        if not (rng.random() < ACCESS_ROUTE_SHARE or backbone):
            continue
        start, end = to_km(device.lat, device.lon), to_km(upstream.lat, upstream.lon)
        legs, axis = rng.randint(2, 5), rng.randrange(2)
        on_axis = [sum(1 for leg in range(legs) if (axis + leg) % 2 == a) for a in (0, 1)]
        weights = [[rng.uniform(0.15, 1.0) for _ in range(n)] for n in on_axis]
        shares = [[w / sum(ws) for w in ws] for ws in weights]  # of the distance along each axis, leg by leg
        vertices = [(device.lon, device.lat)]
        place = list(start)
        for leg in range(legs - 1):  # the last leg ends at the upstream device
            a = (axis + leg) % 2
            place[a] += (end[a] - start[a]) * shares[a].pop()
            lat, lon = to_degrees((place[0], place[1]))
            vertices.append((lon, lat))
        vertices.append((upstream.lon, upstream.lat))
        features.append({
            "type": "Feature",
            "properties": {"from": device.id, "to": upstream.id, "layer": "backbone" if backbone else "access"},
            "geometry": {"type": "LineString", "coordinates": [[lon, lat] for lon, lat in vertices]},
        })
    return features


def write_addresses_csv(rows: Sequence[Address], path: Path) -> None:
    """Write the address list: UTF-8, ';' between columns, LF line ends, the columns of ADDRESS_COLUMNS."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(ADDRESS_COLUMNS)
        for a in rows:
            writer.writerow([
                a.id, a.street, a.house_number, a.postcode, a.town, a.ags, f"{a.lat:.6f}", f"{a.lon:.6f}",
                _mbit(a.download_mbit_s), _mbit(a.upload_mbit_s), a.technology,
                "unversiegelt" if a.surface == "unsealed" else "versiegelt",
            ])


def _mbit(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def write_routes_geojson(features: Sequence[Feature], path: Path) -> None:
    """Write the routes as an RFC 7946 FeatureCollection (WGS84 lon/lat, 6 decimals), one feature per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for feature in features:
        geometry = feature["geometry"]
        rounded = [[round(x, 6), round(y, 6)] for x, y in geometry["coordinates"]]
        lines.append(json.dumps({**feature, "geometry": {**geometry, "coordinates": rounded}}, ensure_ascii=False))
    body = ",\n".join(lines)
    path.write_text(f'{{"type": "FeatureCollection", "features": [\n{body}\n]}}\n', encoding="utf-8", newline="\n")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: write both files into --out-dir; 0 when written, 2 (argparse) on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.addresses",
        description=f"Write the simulated city's address list ({ADDRESSES_FILE}) and trench routes ({ROUTES_FILE}).",
    )
    parser.add_argument("--out-dir", type=Path, required=True, help="directory to write both files into")
    parser.add_argument("--devices", type=int, default=DEFAULT_DEVICES, help="devices of the city (at least 3)")
    parser.add_argument("--seed", type=int, default=1, help="the city's seed (also seeds addresses and routes)")
    parser.add_argument("--addresses", type=int, default=DEFAULT_ADDRESSES, help="how many (1 to 999999)")
    args = parser.parse_args(argv)
    if args.devices < 3:
        parser.error(f"--devices: a city needs at least 3 devices, not {args.devices}")
    if not 1 <= args.addresses <= 999_999:
        parser.error(f"--addresses: 1 to 999999 (the ids are A000001...), not {args.addresses}")
    city = generate_city(args.devices, args.seed)
    write_addresses_csv(generate_addresses(city, args.addresses, args.seed), args.out_dir / ADDRESSES_FILE)
    write_routes_geojson(generate_routes(city, args.seed), args.out_dir / ROUTES_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
