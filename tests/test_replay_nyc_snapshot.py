"""The wall never lies: replay real NYC 311 data through a real Redis and check every figure against
counts computed here, independently, from the raw file with pandas."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from dashboard import snapshot
from dashboard.keys import Keys

from .conftest import NYC_CSV, NYC_JSON, require_file

pytestmark = pytest.mark.slow
TZ = "America/New_York"
PROFILE_TOML = Path(__file__).resolve().parents[1] / "dashboard" / "cities" / "nyc.toml"


def civicwall(*args: str, redis_url: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dashboard.cli", *args, "--profile", "nyc", "--redis-url", redis_url],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def replay_and_snapshot(path: Path, redis_url: str, client) -> dict:
    civicwall("replay", str(path), "--speed", "max", redis_url=redis_url)
    civicwall("aggregate", "--until-idle", redis_url=redis_url)
    return snapshot.read(client, Keys("nyc"))


@pytest.fixture(scope="module")
def raw():
    df = pd.read_csv(require_file(NYC_CSV), dtype=str)
    df["c"] = pd.to_datetime(df.created_date).dt.tz_localize(TZ)
    df["r"] = pd.to_datetime(df.closed_date).dt.tz_localize(TZ)
    df["due"] = pd.to_datetime(df.due_date).dt.tz_localize(TZ)
    return df


@pytest.fixture
def csv_snapshot(client, redis_url):
    return replay_and_snapshot(NYC_CSV, redis_url, client)


def deadlines(df: pd.DataFrame) -> pd.Series:
    profile = tomllib.loads(PROFILE_TOML.read_text(encoding="utf-8"))
    hours = {c["name"]: c["deadline_hours"] for c in profile["categories"]}
    default = profile["default_deadline_hours"]
    from_profile = df.c + pd.to_timedelta(df.complaint_type.map(hours).fillna(default), unit="h")
    return df.due.where(df.due.notna() & (df.due >= df.c), from_profile)


def test_clock_follows_the_replayed_data(csv_snapshot, raw):
    last = max(raw.c.max(), raw.r.max())
    assert csv_snapshot["clock"] == "replay"
    assert csv_snapshot["as_of"] == last.isoformat()
    assert csv_snapshot["today"] == str(last.date())


def test_all_time_counts_match_the_file(csv_snapshot, raw):
    a = csv_snapshot["all_time"]
    assert a["received"] == len(raw)
    assert a["resolved"] == raw.r.notna().sum()
    assert a["open"] == raw.r.isna().sum() == csv_snapshot["headline"]["open_backlog"]
    boroughs = raw.borough.where(raw.borough != "Unspecified", "").value_counts().to_dict()
    assert a["by_district"] == boroughs
    assert a["by_category"] == raw.complaint_type.value_counts().to_dict()
    assert a["by_channel"] == raw.open_data_channel_type.value_counts().to_dict()


def test_time_to_close_median_and_p90_match_pandas(csv_snapshot, raw):
    seconds = (raw.r - raw.c).dt.total_seconds().dropna()
    t = csv_snapshot["all_time"]["time_to_resolve"]
    assert t["count"] == len(seconds)
    assert t["median_s"] == pytest.approx(seconds.median())
    assert t["p90_s"] == pytest.approx(seconds.quantile(0.9))


def test_today_figures_match_the_file(csv_snapshot, raw):
    today = pd.Timestamp(csv_snapshot["today"]).date()
    now = pd.Timestamp(csv_snapshot["as_of"])
    created_today = raw[raw.c.dt.date == today]
    resolved_today = raw[raw.r.notna() & (raw.r.dt.date == today)]
    h = csv_snapshot["headline"]
    assert h["received_today"] == len(created_today)
    assert h["received_yesterday"] == (raw.c.dt.date == today - pd.Timedelta(days=1)).sum()
    assert h["resolved_today"] == len(resolved_today)
    assert h["resolution_rate"]["num"] == created_today.r.notna().sum()
    assert h["resolution_rate"]["den"] == len(created_today)
    dl = deadlines(raw)
    assert h["on_time_rate"]["den"] == len(resolved_today)
    assert h["on_time_rate"]["num"] == (resolved_today.r <= dl[resolved_today.index]).sum()
    assert h["overdue_now"] == (raw.r.isna() & (dl < now)).sum()
    ttr = (resolved_today.r - resolved_today.c).dt.total_seconds()
    assert h["time_to_resolve"]["median_s"] == pytest.approx(ttr.median())
    assert h["time_to_resolve"]["p90_s"] == pytest.approx(ttr.quantile(0.9))
    by_borough = created_today.borough.value_counts()
    assert {d["id"]: d["received"] for d in csv_snapshot["by_district"]} == {
        b: int(by_borough.get(b, 0)) for b in ["MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND"]}
    assert {c["name"]: c["received"] for c in csv_snapshot["by_category"]} == \
        created_today.complaint_type.value_counts().to_dict()
    hours = created_today.c.dt.hour.value_counts()
    assert csv_snapshot["hourly"]["today"] == [int(hours.get(i, 0)) for i in range(24)]


def test_nothing_was_rejected_or_left_pending(csv_snapshot, raw):
    p = csv_snapshot["pipeline"]
    assert p["rejected_total"] == 0
    assert p["pending"]["unacknowledged"] == 0 and p["pending"]["lag"] == 0
    assert p["repaired"].get("unknown_district", 0) == (raw.borough == "Unspecified").sum()


def test_replaying_the_file_twice_changes_nothing(csv_snapshot, client, redis_url):
    again = replay_and_snapshot(NYC_CSV, redis_url, client)
    assert again["all_time"] == csv_snapshot["all_time"]
    assert again["headline"] == csv_snapshot["headline"]
    assert again["pipeline"]["duplicates"] > 0


def test_the_json_form_gives_the_same_snapshot(csv_snapshot, client, redis_url):
    require_file(NYC_JSON)
    client.flushdb()
    from_json = replay_and_snapshot(NYC_JSON, redis_url, client)
    volatile = {"built_at", "pipeline"}
    assert {k: v for k, v in from_json.items() if k not in volatile} == \
        {k: v for k, v in csv_snapshot.items() if k not in volatile}
    assert json.dumps(from_json["pipeline"]["rejected_by_reason"]) == "{}"
