"""Regenerates data/gers.geojson, the outline of the Gers drawn on /capacite.

Source: IGN ADMIN EXPRESS COG, 2018 edition (tracés), INSEE COG 2018 (code and name), as
republished in GeoJSON by the repository gregoiredavid/france-geojson, file
departements/32-gers/departement-32-gers.geojson (one polygon, 2,017 points, WGS 84).
Licence: Licence Ouverte / Open Licence (Etalab) — attribution « IGN – ADMIN EXPRESS COG 2018 ».

The ring is simplified (Douglas-Peucker, 0.003 degree, about 300 m) and rounded to 4 decimals:

    python3 data/gers_outline.py departement-32-gers.geojson > data/gers.geojson
"""
import json
import sys

TOLERANCE = 0.003


def distance(p, a, b):
    """Distance from p to the segment a-b, in degrees (enough at this scale)."""
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == 0 and dy == 0:
        return ((x - x1) ** 2 + (y - y1) ** 2) ** 0.5
    t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
    return ((x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2) ** 0.5


def simplify(points):
    """Douglas-Peucker, iterative (a long ring would overflow Python's recursion)."""
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        best, index = 0.0, None
        for i in range(first + 1, last):
            d = distance(points[i], points[first], points[last])
            if d > best:
                best, index = d, i
        if index is not None and best > TOLERANCE:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep) if k]


source = json.load(open(sys.argv[1]))
geometry = source["geometry"] if "geometry" in source else source["features"][0]["geometry"]
assert geometry["type"] == "Polygon", geometry["type"]
ring = [[round(x, 4), round(y, 4)] for x, y in simplify(geometry["coordinates"][0])]
json.dump(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "32", "nom": "Gers"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    },
    sys.stdout,
    separators=(",", ":"),
)
