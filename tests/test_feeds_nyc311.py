"""The NYC 311 reader and the replay command, checked against pandas over the raw files."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import datetime

import pandas as pd
import pytest
from .conftest import NYC_CSV, NYC_JSON, SHARED_DATA, require_file

from dashboard.contract import Rejection, Validator
from dashboard.errors import FeedError
from dashboard.feeds import replay
from dashboard.feeds.nyc311 import load_events
from dashboard.keys import Keys

NYC_DIR = SHARED_DATA / "nyc311"
TITLE_CASE = NYC_DIR / "somaiyahhafeez_nyc311_2025-03-24_sample.csv"
NO_HEADER = NYC_DIR / "gozzi98_nyc311_2020_5col_noheader.csv"
PLACEHOLDERS = NYC_DIR / "nickmvega_nyc311_dohmh_illegal_animals_2010-2025.csv"
TZ = "America/New_York"
US = "%m/%d/%Y %I:%M:%S %p"          # the portal's time format; "mixed" parsing is slow on big files


def raw(path, **kw) -> pd.DataFrame:
    frame = pd.read_csv(require_file(path), dtype=str, keep_default_na=False, **kw)
    frame.columns = [c.strip().lower().replace(" ", "_") for c in frame.columns]
    return frame


def localised(values: pd.Series) -> pd.Series:
    """Naive NYC wall times as aware timestamps; an autumn repeat is its first (daylight) reading."""
    parsed = pd.to_datetime(values.replace("", None), format="mixed")
    return parsed.dt.tz_localize(TZ, ambiguous=True, nonexistent=pd.Timedelta(hours=1))


def valid_closures(frame: pd.DataFrame, fmt: str = "mixed") -> pd.Series:
    created = pd.to_datetime(frame.created_date, format=fmt)
    closed = pd.to_datetime(frame.closed_date.replace("", None), format=fmt)
    return closed.notna() & (closed.dt.year >= 2000) & (closed >= created)


def by_type(events, kind):
    return [e for e in events if e["type"] == kind]


@pytest.fixture(scope="module")
def anthony():
    return load_events(require_file(NYC_CSV))


@pytest.fixture(scope="module")
def anthony_raw():
    return raw(NYC_CSV)


def test_one_created_and_one_assigned_event_per_row(anthony, anthony_raw):
    assert anthony.records == len(anthony_raw)
    assert len(by_type(anthony.events, "created")) == anthony_raw.unique_key.nunique() == len(anthony_raw)
    assert len(by_type(anthony.events, "assigned")) == (anthony_raw.agency != "").sum()


def test_resolved_events_are_the_rows_with_a_valid_closed_date(anthony, anthony_raw):
    resolved = by_type(anthony.events, "resolved")
    assert len(resolved) == valid_closures(anthony_raw).sum()
    expected = dict(zip(anthony_raw.unique_key, localised(anthony_raw.closed_date)))
    for e in resolved:
        assert datetime.fromisoformat(e["ts"]).timestamp() == expected[e["request_id"]].timestamp()


def test_created_counts_per_borough_match_pandas(anthony, anthony_raw):
    counted = Counter(e.get("district", "") for e in by_type(anthony.events, "created"))
    assert counted == Counter(anthony_raw.borough.to_dict().values())
    assert counted["Unspecified"] == (anthony_raw.borough == "Unspecified").sum() > 0


def test_created_times_carry_the_new_york_offset(anthony, anthony_raw):
    expected = dict(zip(anthony_raw.unique_key, localised(anthony_raw.created_date)))
    for e in by_type(anthony.events, "created"):
        assert e["ts"].endswith("-04:00")          # late May: daylight time
        assert datetime.fromisoformat(e["ts"]).timestamp() == expected[e["request_id"]].timestamp()


def test_events_are_sorted_by_time_with_unique_ids(anthony):
    assert anthony.times == sorted(anthony.times)
    assert [datetime.fromisoformat(e["ts"]).timestamp() for e in anthony.events] == anthony.times
    assert len({e["event_id"] for e in anthony.events}) == len(anthony.events)
    assert all(isinstance(v, str) for e in anthony.events for v in e.values())


def test_every_event_passes_the_contract(anthony, nyc):
    validator = Validator(nyc)
    repairs = Counter()
    for e in anthony.events:
        outcome = validator.validate(e)
        assert not isinstance(outcome, Rejection), (e, outcome)
        repairs.update(outcome.repairs)
    assert set(repairs) <= {"unknown_district"}   # only the Unspecified borough needs a repair


def test_csv_and_json_exports_give_the_same_events(anthony):
    from_json = load_events(require_file(NYC_JSON))
    assert from_json.events == anthony.events
    assert from_json.times == anthony.times


def test_title_case_headers_are_read(nyc):
    frame = raw(TITLE_CASE)
    feed = load_events(TITLE_CASE)
    created = by_type(feed.events, "created")
    assert len(created) == len(frame)
    assert Counter(e["district"] for e in created) == Counter(frame.borough.to_dict().values())
    assert len(by_type(feed.events, "resolved")) == valid_closures(frame).sum()
    validator = Validator(nyc)
    assert not any(isinstance(validator.validate(e), Rejection) for e in feed.events)


def test_placeholder_closed_dates_are_skipped_with_a_reason():
    frame = raw(PLACEHOLDERS)
    closed = pd.to_datetime(frame.closed_date.replace("", None), format=US)
    feed = load_events(PLACEHOLDERS)
    assert feed.skipped["placeholder_closed_date"] == (closed.dt.year < 2000).sum() > 0
    assert len(by_type(feed.events, "resolved")) == valid_closures(frame, US).sum()
    assert all(not e["ts"].startswith("1900") for e in feed.events)


def write_csv(path, rows):
    header = "Unique Key,Created Date,Closed Date,Agency,Complaint Type,Descriptor,Status,Borough,Due Date"
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_placeholder_and_backwards_closings_yield_no_resolved_event(tmp_path):
    opened = "05/01/2024 10:00:00 AM"
    path = write_csv(tmp_path / "bad.csv", [
        ("1", opened, "01/01/1900 12:00:00 AM", "DOT", "Street Condition", "Pothole", "Closed", "QUEENS", ""),
        ("2", opened, "04/30/2024 09:00:00 AM", "DOT", "Street Condition", "Pothole", "Closed", "BRONX", ""),
        ("3", opened, "05/01/2024 11:00:00 AM", "NYPD", "Noise", "Loud Music", "Closed", "Unspecified",
         "04/01/2024 10:00:00 AM"),
    ])
    feed = load_events(path)
    assert [(e["request_id"], e["type"]) for e in feed.events] == [
        ("1", "created"), ("1", "assigned"), ("2", "created"), ("2", "assigned"),
        ("3", "created"), ("3", "assigned"), ("3", "resolved")]
    assert feed.skipped == Counter(placeholder_closed_date=1, closed_before_created=1, due_date_before_created=1)
    assert "deadline" not in feed.events[4]
    assert feed.events[4]["district"] == "Unspecified"


@pytest.mark.parametrize("fmt_time", [
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000"),          # Socrata API form
    lambda t: t.strftime("%m/%d/%Y %I:%M:%S %p"),            # portal export form
])
def test_offsets_follow_daylight_saving_changes(tmp_path, fmt_time):
    walls = ["2024-03-10 01:59:59", "2024-03-10 02:30:00", "2024-03-10 03:00:00",
             "2024-11-03 00:59:59", "2024-11-03 01:30:00", "2024-11-03 02:00:00", "2024-12-01 12:00:00"]
    rows = [(str(i), fmt_time(pd.Timestamp(w)), "", "DOT", "Street Condition", "Pothole", "Open", "BRONX", "")
            for i, w in enumerate(walls)]
    feed = load_events(write_csv(tmp_path / "dst.csv", rows))
    got = {e["request_id"]: e["ts"] for e in by_type(feed.events, "created")}
    expected = localised(pd.Series(walls))
    for i, stamp in enumerate(expected):
        assert datetime.fromisoformat(got[str(i)]).timestamp() == stamp.timestamp()
    assert [got[str(i)][-6:] for i in range(len(walls))] == [
        "-05:00", "-04:00", "-04:00", "-04:00", "-04:00", "-05:00", "-05:00"]
    assert got["1"] == "2024-03-10T03:30:00-04:00"          # the spring-forward gap, read before the change


def test_a_file_without_header_needs_column_names():
    with pytest.raises(FeedError, match="--columns"):
        load_events(require_file(NO_HEADER))
    names = ["unique_key", "created_date", "closed_date", "complaint_type", "borough"]
    frame = raw(NO_HEADER, header=None, names=names)
    feed = load_events(NO_HEADER, columns=names)
    assert len(by_type(feed.events, "created")) == len(frame)
    valid = valid_closures(frame, US)
    assert len(by_type(feed.events, "resolved")) == valid.sum()
    assert feed.skipped["closed_before_created"] == (~valid & (frame.closed_date != "")).sum() > 0


# -- replay into a real Redis ----------------------------------------------------------------------

def replay_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile")
    replay.add_arguments(parser)
    return parser.parse_args(list(argv))


def expected_times(frame: pd.DataFrame) -> list[float]:
    """Epoch seconds of every event the file should produce, sorted."""
    created = [t.timestamp() for t in localised(frame.created_date)]
    closed = [t.timestamp() for t in localised(frame.closed_date[valid_closures(frame)])]
    return sorted(created * 2 + closed)


def test_replay_at_max_speed_sends_every_event_and_pins_the_clock(client, settings, anthony_raw, capsys):
    assert replay.main(replay_args(str(NYC_CSV), "--speed", "max"), settings) == 0
    times = expected_times(anthony_raw)
    keys = Keys("nyc", settings.stream)
    assert client.xlen(keys.stream) == len(times)
    state = client.hgetall(keys.clock)
    assert state[b"mode"] == b"replay"
    assert float(state[b"speed"]) == 0.0
    assert float(state[b"data_ts"]) == times[-1]
    captured = capsys.readouterr()
    assert "using the nyc profile" in captured.err
    assert f"{len(anthony_raw)} records read, {len(times)} events sent" in captured.out


def test_paced_replay_sends_in_time_order_and_stops_at_the_limit(client, settings, anthony_raw):
    assert replay.main(replay_args(str(NYC_JSON), "--speed", "1000000", "--limit", "40"), settings) == 0
    keys = Keys("nyc", settings.stream)
    entries = client.xrange(keys.stream)
    assert len(entries) == 40
    sent = [datetime.fromisoformat(fields[b"ts"].decode()).timestamp() for _, fields in entries]
    assert sent == expected_times(anthony_raw)[:40]
    assert float(client.hget(keys.clock, "data_ts")) == sent[-1]


def test_replay_without_clock_leaves_the_clock_alone(client, settings):
    assert replay.main(replay_args(str(TITLE_CASE), "--no-clock", "--profile", "nyc"),
                       settings.with_(profile="nyc")) == 0
    keys = Keys("nyc", settings.stream)
    assert client.xlen(keys.stream) == len(load_events(TITLE_CASE).events)
    assert not client.exists(keys.clock)
