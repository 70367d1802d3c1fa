"""The manager view's figures against pandas over the raw data.

Real NYC 311 exports are replayed up to a moment T (only the events that had happened by then) through
a real Redis and the aggregator; the manager's in-memory table is loaded from what the aggregator
wrote; every figure is then recomputed here from the raw file, from the definitions in
docs/metrics.md ("Manager view"), without the code under test. First responses and ratings, which NYC
does not publish, come from the Jiaozuo simulator's events, recomputed from the event list itself.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from dashboard import manager
from dashboard.aggregator import Aggregator
from dashboard.feeds.nyc311 import load_events
from dashboard.feeds.simulate import Simulator
from dashboard.keys import Keys
from dashboard.manager import Filters
from dashboard.settings import Settings
from dashboard.store import connect

from .conftest import NYC_CSV, SHARED_DATA, require_file, xadd_all

pytestmark = pytest.mark.slow
NY = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
GOZZI = SHARED_DATA / "nyc311" / "gozzi98_nyc311_2020_5col_noheader.csv"
GOZZI_COLUMNS = ["unique_key", "created_date", "closed_date", "complaint_type", "borough"]
NYC_TOML = Path(__file__).resolve().parents[1] / "dashboard" / "cities" / "nyc.toml"
US = "%m/%d/%Y %I:%M:%S %p"


def at(*parts, tz=NY) -> float:
    return datetime(*parts, tzinfo=tz).timestamp()


# Moments inside the data: in the middle of the first week's wave, a week after it, and a month on.
T_WAVE = at(2020, 1, 4, 15, 0)
T_WEEK = at(2020, 1, 12, 12, 0)
T_MONTH = at(2020, 2, 15, 9, 30)


def replay_until(redis_url, profile, events, times, until) -> pd.DataFrame:
    """Flush, send the events that happened by ``until``, aggregate, and load the manager's table."""
    client = connect(redis_url)
    client.flushdb()
    keys = Keys(profile.city)
    xadd_all(client, keys.stream, [e for e, t in zip(events, times) if t <= until])
    Aggregator(client, profile, Settings(redis_url=redis_url, batch=2000)).run_until_idle()
    table = manager.FactsTable(lambda: client, keys, profile.tz)
    frame = table.frame(until)
    client.flushdb()
    client.close()
    return frame


def epoch(series: pd.Series) -> pd.Series:
    return (series - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()


def nyc_raw(path, until, names=None) -> pd.DataFrame:
    """The export as the world stood at ``until``: rows created by then, closures after it not yet
    happened, 1900 placeholders and closures before creation not closures at all."""
    df = pd.read_csv(require_file(path), dtype=str, keep_default_na=False, header=None if names else 0, names=names)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    created = pd.to_datetime(df.created_date, format="mixed")
    closed = pd.to_datetime(df.closed_date.replace("", None), format="mixed")
    closed = closed.where(closed.notna() & (closed.dt.year >= 2000) & (closed >= created))
    local = dict(ambiguous=True, nonexistent=pd.Timedelta(hours=1))
    df["c"] = epoch(created.dt.tz_localize(NY, **local))
    df["r"] = epoch(closed.dt.tz_localize(NY, **local))
    df = df[df.c <= until].copy()
    df.loc[df.r > until, "r"] = np.nan
    profile = tomllib.loads(NYC_TOML.read_text(encoding="utf-8"))
    hours = {c["name"]: c["deadline_hours"] for c in profile["categories"]}
    own = None
    if "due_date" in df:
        due = pd.to_datetime(df.due_date.replace("", None), format="mixed")
        own = epoch(due.dt.tz_localize(NY, **local))
    from_profile = df.c + df.complaint_type.map(hours).fillna(profile["default_deadline_hours"]) * 3600
    df["dl"] = from_profile if own is None else own[df.index].where(own[df.index] >= df.c, from_profile)
    df["district"] = df.borough.where(df.borough.isin(["MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND"]), "")
    df["category"] = df.complaint_type.str.split().str.join(" ")
    df["unit"] = df.agency if "agency" in df else ""
    return df


def windows_by_hand(period: str, now: float, tz) -> tuple[tuple, tuple]:
    """(lo, hi, lo_included) of the period and of its comparison, from the documented rule."""
    local = datetime.fromtimestamp(now, tz).replace(tzinfo=None)

    def stamp(naive):
        return naive.replace(tzinfo=tz).timestamp()

    if period == "today":
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return ((stamp(midnight), now, True), (stamp(midnight - timedelta(days=1)), stamp(local - timedelta(days=1)), True))
    n = {"7d": 7, "30d": 30}[period]
    return ((stamp(local - timedelta(days=n)), now, False),
            (stamp(local - timedelta(days=2 * n)), stamp(local - timedelta(days=n)), False))


def inside(t: pd.Series, window) -> pd.Series:
    lo, hi, closed = window
    return ((t >= lo) if closed else (t > lo)) & (t <= hi)


def expected_block(df: pd.DataFrame, window) -> dict:
    received = inside(df.c, window)
    closed = df.r.notna() & inside(df.r, window)
    durations = (df.r - df.c)[closed]
    durations = durations[durations >= 0]
    return {
        "received": int(received.sum()),
        "resolved": int((received & df.r.notna()).sum()),
        "resolved_in_period": int(closed.sum()),
        "on_time": (int((closed & (df.r <= df.dl)).sum()), int(closed.sum())),
        "resolution": (len(durations), durations.median() if len(durations) else None,
                       durations.quantile(0.9) if len(durations) else None),
    }


def check_block(got: dict, want: dict) -> None:
    assert got["received"] == want["received"]
    assert got["resolved"] == want["resolved"]
    assert got["resolution_rate"]["num"] == want["resolved"]
    assert got["resolution_rate"]["den"] == want["received"]
    assert got["resolved_in_period"] == want["resolved_in_period"]
    assert (got["on_time_rate"]["num"], got["on_time_rate"]["den"]) == want["on_time"]
    n, median, p90 = want["resolution"]
    assert got["resolution"]["count"] == n
    if n:
        assert got["resolution"]["median_s"] == pytest.approx(median)
        assert got["resolution"]["p90_s"] == pytest.approx(p90)
    else:
        assert got["resolution"]["median_s"] is None


@pytest.fixture(scope="module", params=[T_WAVE, T_WEEK, T_MONTH], ids=["wave", "week", "month"])
def gozzi(request, redis_url, nyc):
    until = request.param
    feed = load_events(require_file(GOZZI), columns=GOZZI_COLUMNS)
    frame = replay_until(redis_url, nyc, feed.events, feed.times, until)
    return frame, nyc_raw(GOZZI, until, names=GOZZI_COLUMNS), until


@pytest.mark.parametrize("period", ["today", "7d", "30d"])
def test_period_figures_match_pandas_over_the_raw_file(gozzi, nyc, period):
    frame, raw, now = gozzi
    got = manager.summary(frame, Filters(period=period), now, nyc)
    current, previous = windows_by_hand(period, now, NY)
    assert got["window"]["start_ts"] == current[0] and got["compare_window"]["end_ts"] == previous[1]
    check_block(got["current"], expected_block(raw, current))
    check_block(got["previous"], expected_block(raw, previous))
    assert got["open"] == int(raw.r.isna().sum())
    # Something happened in every window these moments were picked for, so the comparison is not 0 = 0.
    assert got["current"]["received"] + got["current"]["resolved_in_period"] > 0


@pytest.mark.parametrize("chosen", [
    {"district": ("BROOKLYN",)},
    {"district": ("QUEENS", "BRONX"), "category": ("HEAT/HOT WATER", "Noise - Residential")},
    {"district": ("",)},
])
def test_filters_narrow_every_figure_exactly(gozzi, nyc, chosen):
    frame, raw, now = gozzi
    rows = raw
    for name, values in chosen.items():
        rows = rows[rows[name].isin(values)]
    for period in ("today", "7d", "30d"):
        got = manager.summary(frame, Filters(period=period, **chosen), now, nyc)
        current, previous = windows_by_hand(period, now, NY)
        check_block(got["current"], expected_block(rows, current))
        check_block(got["previous"], expected_block(rows, previous))


def test_resolution_times_by_category_and_district_match_pandas(gozzi, nyc):
    frame, raw, now = gozzi
    for by in ("category", "district"):
        got = manager.times(frame, Filters(period="30d"), now, nyc, by)
        current, previous = windows_by_hand("30d", now, NY)
        closed = raw[raw.r.notna() & inside(raw.r, current)]
        seconds = (closed.r - closed.c)
        seconds = seconds[seconds >= 0]
        groups = closed.loc[seconds.index, by]
        want = {name: (len(s), s.median(), s.quantile(0.9)) for name, s in seconds.groupby(groups)}
        rows = {r["name"]: r for r in got["resolution"]["rows"] if r["count"]}
        assert set(rows) == set(want)
        for name, (n, median, p90) in want.items():
            assert rows[name]["count"] == n, name
            assert rows[name]["median_s"] == pytest.approx(median), name
            assert rows[name]["p90_s"] == pytest.approx(p90), name
        prev_closed = raw[raw.r.notna() & inside(raw.r, previous)]
        prev_n = prev_closed.groupby(by).size().to_dict()
        got_prev = {r["name"]: r["prev_count"] for r in got["resolution"]["rows"] if r["prev_count"]}
        assert got_prev == prev_n
        # NYC publishes no first responses.
        assert got["first_response"]["all"]["count"] == 0


def test_district_league_table_matches_pandas_and_ranks_only_big_enough_districts(gozzi, nyc):
    frame, raw, now = gozzi
    got = manager.league(frame, Filters(period="30d"), now, nyc, "district", rank_by="on_time_rate")
    current, _ = windows_by_hand("30d", now, NY)
    minimum = nyc.manager.min_rank_count
    rows = {r["name"]: r for r in got["rows"]}
    assert {"MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND"} <= set(rows)
    ranked = []
    for name, group in raw.groupby("district"):
        want = expected_block(group, current)
        row = rows[name]
        assert row["received"] == want["received"], name
        assert row["resolved"] == want["resolved"], name
        assert (row["on_time_rate"]["num"], row["on_time_rate"]["den"]) == want["on_time"], name
        num, den = want["on_time"]
        if den >= minimum:
            ranked.append((-(num / den), -den, name))
        else:
            assert row["rank"] is None and not row["ranked"], name
    ranked.sort()
    order = [name for _, _, name in ranked]
    assert [r["name"] for r in got["rows"] if r["ranked"]] == order
    if order:
        assert rows[order[0]]["rank"] == 1
    # Each rate carries a 95 % interval around it.
    for r in got["rows"]:
        rate = r["on_time_rate"]
        if rate["den"]:
            assert rate["low"] <= rate["value"] <= rate["high"]


# -- units and deadlines: the Socrata export carries agencies and due dates ------------------------

T_NIGHT = at(2024, 5, 27, 1, 30)


@pytest.fixture(scope="module")
def anthony(redis_url, nyc):
    feed = load_events(require_file(NYC_CSV))
    return replay_until(redis_url, nyc, feed.events, feed.times, T_NIGHT), nyc_raw(NYC_CSV, T_NIGHT), T_NIGHT


def test_unit_league_table_matches_pandas_with_the_small_count_rule(anthony, nyc):
    frame, raw, now = anthony
    got = manager.league(frame, Filters(period="today"), now, nyc, "unit", rank_by="resolution_rate")
    current, _ = windows_by_hand("today", now, NY)
    minimum = nyc.manager.min_rank_count
    rows = {r["name"]: r for r in got["rows"]}
    ranked, small = [], []
    for unit, group in raw.groupby("unit"):
        want = expected_block(group, current)
        if want["received"] == 0 and want["resolved_in_period"] == 0:
            continue
        assert rows[unit]["received"] == want["received"], unit
        assert rows[unit]["resolution_rate"]["num"] == want["resolved"], unit
        assert rows[unit]["resolution_rate"]["den"] == want["received"], unit
        if want["received"] >= minimum:
            ranked.append((-(want["resolved"] / want["received"]), -want["received"], unit))
        else:
            small.append(unit)
    ranked.sort()
    assert [r["name"] for r in got["rows"] if r["ranked"]] == [u for _, _, u in ranked]
    assert small, "the export has units below the minimum count, which must not be ranked"
    assert all(rows[u]["rank"] is None for u in small)
    # Ranked rows come first; equal rates share a rank.
    flags = [r["ranked"] for r in got["rows"]]
    assert flags == sorted(flags, reverse=True)


# The state as of T_NIGHT, looked at then and seven hours later (nothing happened meanwhile): at
# first every open appeal is on track; later, the common 8-hour deadlines have passed or are near.
@pytest.mark.parametrize("later_h,due_soon_hours", [(0, 4.0), (7, 4.0), (7, 48.0)])
def test_deadline_list_matches_pandas(anthony, nyc, later_h, due_soon_hours):
    from dataclasses import replace
    profile = replace(nyc, manager=replace(nyc.manager, due_soon_hours=due_soon_hours))
    frame, raw, then = anthony
    now = then + later_h * 3600
    got = manager.deadline_list(frame, Filters(), now, profile, limit=5000)
    open_ = raw[raw.r.isna()]
    threshold = due_soon_hours * 3600
    state = np.select([now > open_.dl, open_.dl - now <= threshold], ["overdue", "due_soon"], "on_track")
    counts = pd.Series(state).value_counts().to_dict()
    assert got["counts"] == {s: counts.get(s, 0) for s in ("overdue", "due_soon", "on_track")}
    listed = open_[state != "on_track"].assign(key=lambda d: d.unique_key).sort_values(["dl", "key"])
    assert [r["id"] for r in got["rows"]] == list(listed.unique_key)
    assert got["total"] == len(listed)
    for row, (_, want) in zip(got["rows"], listed.iterrows()):
        assert row["left_s"] == pytest.approx(want.dl - now)
        assert row["age_s"] == pytest.approx(now - want.c)
        assert row["unit"] == want.unit and row["district"] == want.district
    if later_h:
        assert counts.get("overdue", 0) > 0 and counts.get("due_soon", 0) > 0


def test_deadline_list_filters_and_sorts(anthony, nyc):
    frame, raw, then = anthony
    now = then + 7 * 3600
    got = manager.deadline_list(frame, Filters(unit=("NYPD",)), now, nyc, states=("overdue",), sort="age",
                                descending=True, limit=5000)
    open_ = raw[raw.r.isna() & (raw.unit == "NYPD") & (now > raw.dl)]
    want = open_.assign(age=now - open_.c).sort_values(["age", "dl", "unique_key"], ascending=[False, True, True])
    assert [r["id"] for r in got["rows"]] == list(want.unique_key)
    assert {r["state"] for r in got["rows"]} <= {"overdue"}
    assert len(want) > 0


# -- first responses and ratings: the simulator's events, recomputed from the events ---------------

T_SIM = at(2026, 3, 18, 16, 45, tz=SHANGHAI)


@pytest.fixture(scope="module")
def simulated(redis_url, jiaozuo):
    events = Simulator(jiaozuo, seed=11, start=T_SIM, per_day=240, backfill_hours=24 * 16).due(T_SIM)
    times = [datetime.fromisoformat(e["ts"]).timestamp() for e in events]
    frame = replay_until(redis_url, jiaozuo, events, times, T_SIM)
    ev = pd.DataFrame(events)
    ev["t"] = times
    return frame, ev, T_SIM


def appeals_from_events(ev: pd.DataFrame) -> pd.DataFrame:
    """One row per appeal from the raw lifecycle events, by the contract's rules."""
    by = ev.sort_values(["t", "event_id"]).groupby("request_id")
    created = ev[ev.type == "created"].sort_values(["t", "event_id"]).groupby("request_id").first()
    out = pd.DataFrame({"c": created.t, "category": created.category, "district": created.district,
                        "channel": created.channel})
    out["f"] = ev[ev.type == "responded"].groupby("request_id").t.min()
    last_res = ev[ev.type == "resolved"].groupby("request_id").t.max()
    last_reo = ev[ev.type == "reopened"].groupby("request_id").t.max()
    out["r"] = last_res.where(last_reo.reindex(last_res.index).isna() | (last_res > last_reo.reindex(last_res.index)))
    rated = ev[ev.type == "rated"].sort_values(["t", "event_id"]).groupby("request_id").last()
    # The words of docs/events.md's satisfaction row; digits as they are.
    words = {"满意": 5, "非常满意": 5, "基本满意": 4, "一般": 3, "不满意": 1}
    out["sat"] = rated.satisfaction.map(lambda v: words.get(v, v)).astype(float)
    out["rated_at"] = rated.t
    assigned = ev[ev.type == "assigned"].sort_values(["t", "event_id"]).groupby("request_id").last()
    out["unit"] = assigned.unit.reindex(out.index).fillna("")
    del by
    return out


@pytest.mark.parametrize("period", ["today", "7d"])
def test_first_response_and_satisfaction_match_the_events(simulated, jiaozuo, period):
    frame, ev, now = simulated
    appeals = appeals_from_events(ev)
    got = manager.summary(frame, Filters(period=period), now, jiaozuo)
    current, previous = windows_by_hand(period, now, SHANGHAI)
    for block, window in ((got["current"], current), (got["previous"], previous)):
        answered = appeals[appeals.f.notna() & inside(appeals.f, window)]
        seconds = answered.f - answered.c
        seconds = seconds[seconds >= 0]
        assert block["first_response"]["count"] == len(seconds) > 0
        assert block["first_response"]["median_s"] == pytest.approx(seconds.median())
        assert block["first_response"]["p90_s"] == pytest.approx(seconds.quantile(0.9))
        rated = appeals[appeals.rated_at.notna() & inside(appeals.rated_at, window)]
        assert block["satisfaction_rate"]["den"] == len(rated) > 0
        assert block["satisfaction_rate"]["num"] == int((rated.sat >= 4).sum())
        assert block["received"] == int(inside(appeals.c, window).sum())


def test_first_response_by_unit_matches_the_events(simulated, jiaozuo):
    frame, ev, now = simulated
    appeals = appeals_from_events(ev)
    got = manager.times(frame, Filters(period="7d"), now, jiaozuo, "unit")
    current, _ = windows_by_hand("7d", now, SHANGHAI)
    answered = appeals[appeals.f.notna() & inside(appeals.f, current)]
    seconds = (answered.f - answered.c)
    seconds = seconds[seconds >= 0]
    want = {u: (len(s), s.median()) for u, s in seconds.groupby(answered.loc[seconds.index, "unit"])}
    rows = {r["name"]: r for r in got["first_response"]["rows"] if r["count"]}
    assert set(rows) == set(want) and len(want) > 3
    for unit, (n, median) in want.items():
        assert rows[unit]["count"] == n
        assert rows[unit]["median_s"] == pytest.approx(median)


def test_unit_league_satisfaction_and_response_medians_match_the_events(simulated, jiaozuo):
    frame, ev, now = simulated
    appeals = appeals_from_events(ev)
    got = manager.league(frame, Filters(period="7d"), now, jiaozuo, "unit", rank_by="satisfaction_rate")
    current, _ = windows_by_hand("7d", now, SHANGHAI)
    rows = {r["name"]: r for r in got["rows"]}
    for unit, group in appeals.groupby("unit"):
        rated = group[group.rated_at.notna() & inside(group.rated_at, current)]
        answered = group[group.f.notna() & inside(group.f, current)]
        if unit not in rows:
            assert len(rated) == 0 and len(answered) == 0 and not inside(group.c, current).any()
            continue
        assert rows[unit]["satisfaction_rate"]["den"] == len(rated), unit
        assert rows[unit]["satisfaction_rate"]["num"] == int((rated.sat >= 4).sum()), unit
        seconds = (answered.f - answered.c)
        seconds = seconds[seconds >= 0]
        if len(seconds):
            assert rows[unit]["median_first_response_s"] == pytest.approx(seconds.median()), unit
