"""The manager API over HTTP (Flask's test client on the real app, a real Redis behind it): the figures
against pandas over the replayed file, the filters as query parameters, CSV files equal to the JSON,
and clear errors for bad parameters and an unreachable store."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from dashboard import clock
from dashboard.aggregator import Aggregator
from dashboard.feeds.nyc311 import load_events
from dashboard.keys import Keys
from dashboard.settings import Settings
from dashboard.users import UserStore
from dashboard.web import create_app

from .conftest import NYC_CSV, require_file, xadd_all
from .test_manager_figures import expected_block, nyc_raw, windows_by_hand
from .test_web_security import free_port

NY = ZoneInfo("America/New_York")
THEN = datetime(2024, 5, 27, 1, 30, tzinfo=NY).timestamp()
NOW = THEN + 7 * 3600          # the state as of THEN, looked at seven hours later


@pytest.fixture
def replayed(client, nyc, redis_url):
    keys = Keys(nyc.city)
    feed = load_events(require_file(NYC_CSV))
    xadd_all(client, keys.stream, [e for e, t in zip(feed.events, feed.times) if t <= THEN])
    Aggregator(client, nyc, Settings(redis_url=redis_url)).run_until_idle()
    clock.set_replay(client, keys, NOW, speed=0)
    return nyc_raw(NYC_CSV, THEN)


@pytest.fixture
def web(redis_url, tmp_path):
    """The app's test client, signed in as a manager (the page's feed needs it; the API does not)."""
    users = tmp_path / "users.json"
    UserStore(users).add("wang", "manager", "correct horse")
    web = create_app(Settings(redis_url=redis_url, profile="nyc", users_file=str(users))).server.test_client()
    assert web.post("/signin", data={"name": "wang", "password": "correct horse"}).status_code == 303
    return web


def test_the_summary_matches_pandas_and_follows_filters(replayed, web):
    raw = replayed
    for query, rows in (("", raw), ("?district=BROOKLYN&district=QUEENS", raw[raw.district.isin(["BROOKLYN", "QUEENS"])]),
                        ("?unit=NYPD&period=7d", raw[raw.unit == "NYPD"])):
        answer = web.get("/api/v1/manager/summary" + query)
        assert answer.status_code == 200, answer.data
        got = answer.json
        period = got["filters"]["period"]
        current, _ = windows_by_hand(period, NOW, NY)
        want = expected_block(rows, current)
        assert got["current"]["received"] == want["received"] > 0
        assert got["current"]["resolution_rate"]["num"] == want["resolved"]
        assert got["open"] == int(rows.r.isna().sum())
        assert got["as_of_ts"] == NOW
        overdue = int((rows.r.isna() & (NOW > rows.dl)).sum())
        assert got["deadlines"]["overdue"] == overdue


def test_the_deadline_csv_is_the_json_as_a_table(replayed, web):
    json_rows = web.get("/api/v1/manager/deadlines?district=MANHATTAN&sort=age&order=desc").json["rows"]
    answer = web.get("/api/v1/manager/deadlines?district=MANHATTAN&sort=age&order=desc&format=csv")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert 'filename="civicwall-nyc-deadlines-filtered-2024-05-27-0830.csv"' in answer.headers["Content-Disposition"]
    assert answer.data.startswith("\ufeff".encode())
    table = pd.read_csv(io.BytesIO(answer.data), encoding="utf-8-sig", dtype={"id": str}, keep_default_na=False)
    assert list(table.id) == [r["id"] for r in json_rows] and len(table) > 10
    assert list(table.left_s) == [round(r["left_s"]) for r in json_rows]
    assert set(table.district) == {"MANHATTAN"} and set(table.district_name) == {"Manhattan"}
    assert list(table.deadline_ts) == [r["deadline_ts"] for r in json_rows]
    ages = list(table.age_s)
    assert ages == sorted(ages, reverse=True)


def test_an_empty_state_lists_no_appeal_but_still_counts_them(replayed, web):
    everything = web.get("/api/v1/manager/deadlines").json
    none = web.get("/api/v1/manager/deadlines?state=").json
    assert everything["total"] > 0
    assert none["rows"] == [] and none["total"] == 0 and none["counts"] == everything["counts"]
    answer = web.get("/api/v1/manager/deadlines?state=&format=csv")
    assert len(pd.read_csv(io.BytesIO(answer.data), encoding="utf-8-sig")) == 0


def test_league_and_times_csv_files_carry_every_row(replayed, web):
    league = web.get("/api/v1/manager/league?by=unit&rank_by=resolution_rate").json
    table = pd.read_csv(io.BytesIO(web.get("/api/v1/manager/league?by=unit&rank_by=resolution_rate&format=csv").data),
                        encoding="utf-8-sig", keep_default_na=False)
    assert list(table.unit) == [r["name"] for r in league["rows"]]
    assert list(table.resolution_rate_den) == [r["resolution_rate"]["den"] for r in league["rows"]]
    ranks = [("" if r["rank"] is None else r["rank"]) for r in league["rows"]]
    assert [("" if v == "" else int(v)) for v in table["rank"]] == ranks
    times = web.get("/api/v1/manager/times?by=district&period=30d").json
    table = pd.read_csv(io.BytesIO(web.get("/api/v1/manager/times?by=district&period=30d&format=csv").data),
                        encoding="utf-8-sig", keep_default_na=False)
    assert len(table) == len(times["first_response"]["rows"]) + len(times["resolution"]["rows"])


def test_text_that_a_spreadsheet_would_run_is_defused_in_csv(client, web, nyc, settings):
    keys = Keys(nyc.city)
    now = datetime(2024, 5, 27, 9, 0, tzinfo=NY)
    client.xadd(keys.stream, {"v": "1", "event_id": "f:c", "type": "created", "request_id": "f",
                              "ts": datetime(2024, 5, 27, 8, 0, tzinfo=NY).isoformat(), "category": "=HYPERLINK(\"x\")",
                              "district": "BRONX", "deadline": datetime(2024, 5, 27, 8, 30, tzinfo=NY).isoformat()})
    Aggregator(client, nyc, settings).run_until_idle()
    clock.set_replay(client, keys, now.timestamp(), speed=0)
    body = web.get("/api/v1/manager/deadlines?format=csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in body and "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body
    assert web.get("/api/v1/manager/deadlines").json["rows"][0]["category"] == '=HYPERLINK("x")'


@pytest.mark.parametrize("path, message", [
    ("/api/v1/manager/summary?distrct=BRONX", "unknown parameter 'distrct'"),
    ("/api/v1/manager/summary?period=week", "period: 'week' is not one of today, 7d, 30d"),
    ("/api/v1/manager/summary?district=Gotham", "district: 'Gotham' is not a district of nyc"),
    ("/api/v1/manager/league?by=agency", "by: 'agency' is not one of unit, district, category"),
    ("/api/v1/manager/league?rank_by=fame", "rank_by: 'fame' is not one of"),
    ("/api/v1/manager/deadlines?state=late", "state: 'late' is not one of overdue, due_soon, on_track"),
    ("/api/v1/manager/deadlines?limit=ten", "limit: 'ten' is not a whole number"),
    ("/api/v1/manager/deadlines?limit=%EF%BC%95", "limit: '５' is not a whole number"),     # a full-width 5
    ("/api/v1/manager/deadlines?limit=0", "limit: must be between 1 and 5000"),
    ("/api/v1/manager/deadlines?order=up", "order: 'up' is not asc or desc"),
    ("/api/v1/manager/summary?format=csv", "summary is not a table"),
    ("/api/v1/manager/summary?format=xml", "format: csv or json"),
])
def test_bad_parameters_get_a_400_that_names_them(replayed, web, path, message):
    answer = web.get(path)
    assert answer.status_code == 400
    assert answer.json["error"] == "bad_parameter"
    assert message in answer.json["message"]


def test_an_unknown_figure_is_a_404_and_writes_are_refused(web):
    answer = web.get("/api/v1/manager/everything")
    assert answer.status_code == 404 and "summary, deadlines, times, league, options" in answer.json["message"]
    assert web.post("/api/v1/manager/summary").status_code == 405


def test_options_list_what_the_filters_can_take(replayed, web):
    got = web.get("/api/v1/manager/options").json
    raw = replayed
    assert [d["value"] for d in got["district"]] == ["MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND"]
    assert {u["value"] for u in got["unit"]} == set(raw.unit)
    assert {c["value"] for c in got["category"]} == set(raw.category)


def test_an_unreachable_store_is_a_503():
    web = create_app(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", profile="nyc")).server.test_client()
    answer = web.get("/api/v1/manager/summary")
    assert answer.status_code == 503 and answer.json["error"] == "store_unavailable"
    assert answer.headers["Retry-After"] == "2"


def test_the_clock_command_stops_the_clock_the_api_answers_with(client, web, redis_url):
    import subprocess
    import sys

    def civicwall(*args):
        return subprocess.run([sys.executable, "-m", "dashboard.cli", "clock", *args, "--profile", "nyc",
                               "--redis-url", redis_url], capture_output=True, text=True, timeout=60)

    done = civicwall("--at", "2024-05-27T08:30")               # no offset: New York time
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "replay 2024-05-27T08:30:00-04:00"
    assert web.get("/api/v1/manager/summary").json["as_of"] == "2024-05-27T08:30:00-04:00"
    bad = civicwall("--at", "yesterday")
    assert bad.returncode == 2 and "--at 'yesterday' is not an ISO 8601 time" in bad.stderr
    live = civicwall("--live")
    assert live.returncode == 0 and live.stdout.startswith("live ")


def test_the_page_feed_refuses_a_view_with_the_reason_and_compresses_long_answers(replayed, web):
    many = "&".join(f"unit=u{i}" for i in range(51))
    refused = web.get(f"/manager/feed?{many}")
    assert refused.status_code == 400 and "unit: at most 50 values, got 51" in refused.json["message"]
    plain = web.get("/manager/feed?state=overdue,due_soon,on_track")
    packed = web.get("/manager/feed?state=overdue,due_soon,on_track", headers={"Accept-Encoding": "gzip, br"})
    assert plain.headers.get("Content-Encoding") is None and packed.headers["Content-Encoding"] == "gzip"
    import gzip
    import json
    body = json.loads(gzip.decompress(packed.data))
    assert body["panels"].keys() == plain.json["panels"].keys() and len(packed.data) < len(plain.data) / 4
