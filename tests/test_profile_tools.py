"""A city without boundary files (tile maps), the district join check, and starter profiles from an export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from shapely.geometry import shape

from dashboard import cli, geo
from dashboard.aggregator import Aggregator
from dashboard.errors import ConfigError
from dashboard.imports.command import read_files
from dashboard.imports.mapping import load_mapping
from dashboard.keys import Keys
from dashboard.profiles import load_profile

from .conftest import SHARED_DATA, require_file

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "examples" / "mappings"
XIDI = ROOT / "examples" / "profiles" / "xidi-a.toml"
TAIDI = SHARED_DATA / "cn_gov_messages" / "taidi2020_att4_messages_with_replies.csv"
ANIMALS = SHARED_DATA / "nyc311" / "nickmvega_nyc311_dohmh_illegal_animals_2010-2025.csv"

MINIMAL = """city = "tiny"
title = "Tiny"
timezone = "Europe/Berlin"
{districts}
"""


def write_profile(tmp_path: Path, districts: str, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(MINIMAL.format(districts=districts), encoding="utf-8")
    return path


# -- tile maps -------------------------------------------------------------------------------------------

def test_a_profile_without_boundaries_gets_a_tile_map(tmp_path):
    ids = ["Nord", "Ost", "Süd", "West", "Mitte"]
    profile = load_profile(str(write_profile(tmp_path, "".join(f'[[districts]]\nid = "{d}"\n' for d in ids))))
    assert profile.boundary.source == "tiles"
    fc = geo.boundaries(profile)
    assert geo.check_join(profile, fc) == []
    shapes = {f["properties"]["district"]: shape(f["geometry"]) for f in fc["features"]}
    assert set(shapes) == set(ids)
    # Five districts: a grid three wide, filled row by row in profile order; tiles do not touch.
    centres = {d: (round(s.centroid.x), -round(s.centroid.y + 0.5)) for d, s in shapes.items()}
    assert [centres[d] for d in ids] == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1)]
    assert not any(a.intersects(b) for i, a in enumerate(shapes.values()) for b in list(shapes.values())[i + 1:])
    geometry = geo.map_geometry(fc)
    assert set(geometry.ids) == set(ids) and geometry.callouts == (None,) * 5   # every label fits its tile


def test_tiles_placed_by_the_profile():
    profile = load_profile(str(XIDI))
    fc = geo.boundaries(profile)
    where = {f["properties"]["district"]: shape(f["geometry"]).bounds for f in fc["features"]}
    for d in profile.districts:
        row, col = d.tile
        x0, y0, x1, y1 = where[d.id]
        assert (round(x0), round(-y1)) == (col, row)


@pytest.mark.parametrize("districts, message", [
    ('[[districts]]\nid = "a"\ntile = [0, 0]\n[[districts]]\nid = "b"\n', "give every district a tile, or none"),
    ('[[districts]]\nid = "a"\ntile = [0, 0]\n[[districts]]\nid = "b"\ntile = [0, 0]\n', "share the tile"),
    ('[[districts]]\nid = "a"\ntile = [0]\n', "tile is \\[row, column\\]"),
    ('[[districts]]\nid = "a"\ntile = [-1, 2]\n', "tile is \\[row, column\\]"),
])
def test_tile_mistakes_are_named(tmp_path, districts, message):
    with pytest.raises(ConfigError, match=message):
        load_profile(str(write_profile(tmp_path, districts)))


# -- the join check ----------------------------------------------------------------------------------------

def test_district_values_the_profile_lacks_are_listed_masked(client, nyc, settings):
    keys = Keys(nyc.city)
    values = ["MANHATTAN", "Unspecified", "Unspecified", "Staten Is.", "call 13812345678"]
    for i, d in enumerate(values):
        client.xadd(keys.stream, {"v": "1", "event_id": f"e{i}", "type": "created", "request_id": f"r{i}",
                                  "ts": "2024-05-27T02:08:51-04:00", "district": d})
    Aggregator(client, nyc, settings, consumer="test").run_until_idle()
    unknown = geo.unknown_in_data(client, keys)
    # Most frequent first; the phone number in a district value is masked before it is stored.
    assert unknown[0] == ("Unspecified", 2)
    assert dict(unknown) == {"Unspecified": 2, "Staten Is.": 1, "call 138****5678": 1}
    lines = geo.join_lines(nyc, geo.boundaries(nyc), unknown)
    assert lines == ["3 district values in the data name no district of the profile, so join to no region "
                     "(add them as aliases): Unspecified ×2, " + ", ".join(f"{v} ×{n}" for v, n in unknown[1:])]


def test_profile_check_lists_what_does_not_join(client, nyc, settings, redis_url, tmp_path, capsys):
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    (tmp_path / "regions.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "n"}, "geometry": square}]}), encoding="utf-8")
    path = write_profile(tmp_path, '[boundary]\nsource = "file"\npath = "regions.geojson"\njoin_property = "code"\n'
                         '[[districts]]\nid = "Nord"\nkey = "n"\n[[districts]]\nid = "Süd"\nkey = "s"\n')
    keys = Keys("tiny")
    client.xadd(keys.stream, {"v": "1", "event_id": "e1", "type": "created", "request_id": "r1",
                              "ts": "2024-05-27T08:00:00+02:00", "district": "Ost"})
    Aggregator(client, load_profile(str(path)), settings, consumer="test").run_until_idle()
    code = cli.main(["profile", "check", "--profile", str(path), "--redis-url", redis_url])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 of the profile's districts has no region in the file boundaries (check the key against 'code'): Süd" in out
    assert "1 district value in the data names no district of the profile" in out and "Ost ×1" in out
    assert cli.main(["profile", "check", "--profile", "nyc", "--redis-url", redis_url]) == 0


# -- starter profiles ----------------------------------------------------------------------------------------

def test_a_starter_profile_from_the_message_board(tmp_path, capsys):
    out = tmp_path / "a-city.toml"
    code = cli.main(["profile", "new", "--mapping", str(MAPPINGS / "taidi2020-replies.toml"), str(require_file(TAIDI)),
                     "-o", str(out)])
    assert code == 0, capsys.readouterr()
    profile = load_profile(str(out))
    raw = pd.read_csv(TAIDI, dtype=str)
    found = pd.Series(pd.NA, index=raw.index, dtype="string")
    for column in ("留言主题", "留言详情", "答复意见"):
        found = found.fillna(raw[column].str.extract(r"(A\d)[区县市]", expand=False).astype("string"))
    counts = found.value_counts()
    assert [d.id for d in profile.districts] == list(counts.index)        # most appeals first
    text = out.read_text(encoding="utf-8")
    for district, n in counts.items():
        assert f'id = "{district}"   # {n} appeals' in text
    assert (profile.city, profile.language, profile.timezone, profile.boundary.source) == \
        ("a-city", "zh-CN", "Asia/Shanghai", "tiles")
    assert list(profile.channels) == ["web"]
    # The data read through the same mapping in the new profile: every district found is one of its own.
    done = read_files(load_mapping(MAPPINGS / "taidi2020-replies.toml"), profile, [TAIDI])
    assert "district_not_in_profile" not in done.report.notes
    assert done.report.repairs.get("unknown_district", 0) == 0
    with pytest.raises(ConfigError, match="exists"):
        cli_main_raising(["profile", "new", "--mapping", str(MAPPINGS / "taidi2020-replies.toml"), str(TAIDI),
                          "-o", str(out)])


def test_a_starter_profile_from_an_nyc_export(tmp_path, capsys):
    out = tmp_path / "animals.toml"
    assert cli.main(["profile", "new", "--mapping", str(MAPPINGS / "nyc311.toml"), str(require_file(ANIMALS)),
                     "-o", str(out), "--city", "nyc-animals", "--title", "Animals"]) == 0
    profile = load_profile(str(out))
    raw = pd.read_csv(ANIMALS, dtype=str)
    boroughs = raw["Borough"].value_counts()
    assert [d.id for d in profile.districts] == [b for b in boroughs.index if b != "Unspecified"]
    assert f'# not a district, left out: "Unspecified" ({boroughs["Unspecified"]} appeals' in out.read_text(encoding="utf-8")
    assert [c.name for c in profile.categories] == list(raw["Complaint Type"].value_counts().index)
    assert list(profile.channels) == list(raw["Open Data Channel Type"].value_counts().index)
    assert (profile.city, profile.title, profile.language, profile.timezone) == \
        ("nyc-animals", "Animals", "en", "America/New_York")
    # Each category's comment gives the median time to resolve, as pandas computes it.
    created = pd.to_datetime(raw["Created Date"], format="mixed")
    closed = pd.to_datetime(raw["Closed Date"], format="mixed")
    ok = closed.notna() & (closed.dt.year >= 1971) & (closed >= created)
    hours = ((closed - created).dt.total_seconds() / 3600)[ok]
    text = out.read_text(encoding="utf-8")
    for category, group in hours.groupby(raw["Complaint Type"][ok]):
        assert re.search(rf'name = "{re.escape(category)}"\ndeadline_hours = 72   # \d+ appeals; resolved in '
                         rf'{group.median():.0f} h \(median\)', text)


def test_a_starter_profile_needs_a_district_column(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('source = "x"\n[time]\nzone = "UTC"\n[fields]\nid = "a"\ncreated = "b"\n', encoding="utf-8")
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2024-01-01 10:00\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no district values found"):
        cli_main_raising(["profile", "new", "--mapping", str(mapping), str(data), "-o", str(tmp_path / "p.toml")])
    assert not (tmp_path / "p.toml").exists()


def cli_main_raising(argv: list[str]) -> None:
    """Run a subcommand's main directly, so its ConfigError reaches the test (the CLI prints it)."""
    from dashboard.imports import starter
    from dashboard.settings import Settings

    args = cli.build_parser().parse_args(argv)
    starter.main(args, Settings.from_env())
