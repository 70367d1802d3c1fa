"""Real exports through the project's example mappings, into a real Redis, through the aggregator; every
figure checked against pandas over the raw file (independent of the importer's own reading)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from dashboard import cli, snapshot
from dashboard.aggregator import Aggregator
from dashboard.keys import Keys
from dashboard.profiles import load_profile

from .conftest import SHARED_DATA, require_file

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "examples" / "mappings"
XIDI = ROOT / "examples" / "profiles" / "xidi-a.toml"
NYC_DIR = SHARED_DATA / "nyc311"
TAIDI = SHARED_DATA / "cn_gov_messages" / "taidi2020_att4_messages_with_replies.csv"
FIVE_COLUMNS = ["unique_key", "created_date", "closed_date", "complaint_type", "borough"]


def run_import(profile: str, mapping: Path, data: Path, redis_url: str, tmp_path: Path, capsys) -> dict:
    report = tmp_path / "report.json"
    code = cli.main(["import", "--profile", profile, "--redis-url", redis_url, "--report", str(report),
                     str(mapping), str(data)])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(report.read_text(encoding="utf-8")) | {"printed": out}


def aggregate(client, profile, settings) -> dict:
    Aggregator(client, profile, settings, consumer="test").run_until_idle()
    return snapshot.build(client, Keys(profile.city), profile)


# -- NYC: every file of the folder --------------------------------------------------------------------

def nyc_frame(path: Path) -> pd.DataFrame:
    """The file as pandas reads it, with snake_case column names and parsed times (naive New York)."""
    if path.suffix == ".json":
        df = pd.DataFrame(json.loads(path.read_text(encoding="utf-8"))).astype("string")
    elif "noheader" in path.name:
        df = pd.read_csv(path, header=None, names=FIVE_COLUMNS, dtype=str)
    else:
        df = pd.read_csv(path, dtype=str)
    df.columns = [re.sub(r"[^0-9a-z]+", "_", c.lower()).strip("_") for c in df.columns]
    df["c"] = pd.to_datetime(df.created_date, format="mixed")
    closed = pd.to_datetime(df.closed_date, format="mixed")
    df["placeholder"] = closed.notna() & (closed.dt.year < 1971)
    df["before"] = closed.notna() & ~df.placeholder & (closed < df.c)
    df["r"] = closed.where(~df.placeholder & ~df.before)
    return df


BOROUGHS = ["MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND"]


def boroughs(raw: pd.DataFrame, messy: bool) -> pd.Series:
    """The borough each row counts under ("" for none). In the five-column file the column also holds
    community boards ("05 MANHATTAN") and BBL parcel numbers, whose first digit is the borough code."""
    if not messy:
        return raw.borough.where(raw.borough != "Unspecified", "")
    named = raw.borough.str.upper().str.extract("(" + "|".join(BOROUGHS) + ")", expand=False)
    code = raw.borough.str.extract(r"^([1-5])\d{9}$", expand=False)
    by_code = code.map(lambda c: BOROUGHS[int(c) - 1], na_action="ignore")
    return named.fillna(by_code).fillna("")


NYC_FILES = ["anthonyupf_nyc311_2024-05-27_socrata.csv", "anthonyupf_nyc311_2024-05-27_socrata.json",
             "yangzixinjas_nyc311_2024-04-15_sample.csv", "somaiyahhafeez_nyc311_2025-03-24_sample.csv",
             "gozzi98_nyc311_2020_5col_noheader.csv", "nickmvega_nyc311_dohmh_illegal_animals_2010-2025.csv"]


def test_every_nyc_file_of_the_folder_is_covered():
    assert sorted(p.name for p in require_file(NYC_DIR).iterdir()) == sorted(NYC_FILES)


@pytest.mark.parametrize("name", NYC_FILES)
def test_nyc_exports_import_with_figures_matching_pandas(name, client, nyc, settings, redis_url, tmp_path, capsys):
    path = require_file(NYC_DIR / name)
    mapping = MAPPINGS / ("nyc311-5col-noheader.toml" if "noheader" in name else "nyc311.toml")
    report = run_import("nyc", mapping, path, redis_url, tmp_path, capsys)
    raw = nyc_frame(path)
    assert raw.unique_key.is_unique
    # The importer's account, against pandas.
    assert report["rows"] == report["rows_imported"] == len(raw)
    assert report["rows_rejected"] == {}
    dropped = {"placeholder:resolved": int(raw.placeholder.sum()), "before_created:resolved": int(raw.before.sum())}
    assert report["parts_dropped"] == {k: v for k, v in dropped.items() if v}
    assert report["events"]["created"] == len(raw)
    assert report["events"].get("resolved", 0) == raw.r.notna().sum()
    assert report["events_written"] == sum(report["events"].values())
    # What the wall counts after the aggregator has read the stream.
    snap = aggregate(client, nyc, settings)
    a = snap["all_time"]
    assert a["received"] == len(raw)
    assert a["resolved"] == raw.r.notna().sum()
    assert a["open"] == raw.r.isna().sum()
    assert a["by_district"] == boroughs(raw, messy="noheader" in name).value_counts().to_dict()
    assert a["by_category"] == raw.complaint_type.str.strip().value_counts().to_dict()   # values are trimmed
    if "open_data_channel_type" in raw:
        assert a["by_channel"] == raw.open_data_channel_type.value_counts().to_dict()
    seconds = (raw.r - raw.c).dt.total_seconds().dropna()
    assert a["time_to_resolve"]["median_s"] == pytest.approx(seconds.median())
    assert snap["pipeline"]["rejected_total"] == 0


def test_the_1900_placeholders_are_reported_with_their_lines(nyc, redis_url, client, tmp_path, capsys):
    path = require_file(NYC_DIR / "nickmvega_nyc311_dohmh_illegal_animals_2010-2025.csv")
    report = run_import("nyc", MAPPINGS / "nyc311.toml", path, redis_url, tmp_path, capsys)
    raw = pd.read_csv(path, dtype=str)
    lines = raw.index[raw["Closed Date"].str.startswith("01/01/1900", na=False)]
    # Line numbers in the file: the header is line 1, and no field of this file spans lines.
    assert report["examples"]["placeholder:resolved"] == [
        f"line {i + 2}: '{raw['Closed Date'][i]}'" for i in lines[:3]]
    assert "placeholder:resolved: 2" in report["printed"]


def test_importing_twice_counts_once(nyc, settings, redis_url, client, tmp_path, capsys):
    path = require_file(NYC_DIR / "somaiyahhafeez_nyc311_2025-03-24_sample.csv")
    run_import("nyc", MAPPINGS / "nyc311.toml", path, redis_url, tmp_path, capsys)
    first = aggregate(client, nyc, settings)["all_time"]
    run_import("nyc", MAPPINGS / "nyc311.toml", path, redis_url, tmp_path, capsys)
    snap = aggregate(client, nyc, settings)
    assert snap["all_time"] == first
    assert snap["pipeline"]["duplicates"] > 0


# -- the Chinese message board: districts found in the text ------------------------------------------

def test_the_message_board_imports_into_the_a_city_profile(settings, redis_url, client, tmp_path, capsys):
    profile = load_profile(str(XIDI))
    report = run_import(str(XIDI), MAPPINGS / "taidi2020-replies.toml", require_file(TAIDI), redis_url, tmp_path,
                        capsys)
    raw = pd.read_csv(TAIDI, dtype=str)
    created = pd.to_datetime(raw["留言时间"], format="mixed")
    replied = pd.to_datetime(raw["答复时间"], format="mixed")
    # The district: the first "A<n>区/县/市" in the subject, else the message, else the reply.
    found = pd.Series(pd.NA, index=raw.index, dtype="string")
    for column in ("留言主题", "留言详情", "答复意见"):
        found = found.fillna(raw[column].str.extract(r"(A\d)[区县市]", expand=False).astype("string"))
    ids = {d.id[:2]: d.id for d in profile.districts}
    expected = found.map(ids, na_action="ignore").fillna("").value_counts().to_dict()

    assert report["rows"] == report["rows_imported"] == len(raw)
    assert report["notes"] == {"district_not_found": int(found.isna().sum())}
    assert report["events"] == {"created": len(raw), "resolved": int((replied >= created).sum())}
    snap = aggregate(client, profile, settings)
    a = snap["all_time"]
    assert a["received"] == len(raw)
    assert a["resolved"] == (replied >= created).sum()
    assert a["by_district"] == expected
    assert a["by_channel"] == {"web": len(raw)}
    seconds = (replied - created).dt.total_seconds()
    assert a["time_to_resolve"]["median_s"] == pytest.approx(seconds.median())
    assert snap["pipeline"]["rejected_total"] == 0
    assert "the history runs from 2011-" in report["printed"]


def test_replay_through_a_mapping_plays_the_file_as_a_stream(settings, redis_url, client, capsys):
    profile = load_profile(str(XIDI))
    code = cli.main(["replay", "--profile", str(XIDI), "--redis-url", redis_url, "--mapping",
                     str(MAPPINGS / "taidi2020-replies.toml"), str(require_file(TAIDI)), "--limit", "500"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "500 events sent" in out
    snap = aggregate(client, profile, settings)
    assert snap["clock"] == "replay"           # the wall's clock followed the replayed data
    stream = client.xrange(Keys(profile.city).stream)
    assert len(stream) == 500
    times = [json.loads(json.dumps(f[b"ts"].decode())) for _, f in stream]
    assert times == sorted(times, key=lambda t: pd.Timestamp(t))
