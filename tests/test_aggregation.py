"""Each figure's definition on small hand-made cases, through a real Redis and the real aggregator.

Expected values are worked out by hand in each test from the events it writes (see docs/metrics.md).
"""

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard import clock, snapshot
from dashboard.aggregator import Aggregator
from dashboard.keys import Keys

NY = ZoneInfo("America/New_York")
T0 = datetime(2024, 5, 27, 9, 0, tzinfo=NY)   # a Monday morning in New York


def at(**delta) -> str:
    return (T0 + timedelta(**delta)).isoformat()


def ev(eid, etype, rid, ts, **fields):
    return {"v": "1", "event_id": eid, "type": etype, "request_id": rid, "ts": ts, **fields}


@pytest.fixture
def wall(client, nyc, settings):
    """Write events, aggregate until idle, return the snapshot at a chosen clock time."""
    keys = Keys(nyc.city)
    agg = Aggregator(client, nyc, settings, consumer="test")

    def run(events, now):
        for e in events:
            client.xadd(keys.stream, e)
        clock.set_replay(client, keys, datetime.fromisoformat(now).timestamp(), speed=0)
        agg.run_until_idle()
        return snapshot.read(client, keys)

    run.keys = keys
    run.agg = agg
    return run


def test_received_today_and_same_time_yesterday(wall):
    events = [
        ev("a", "created", "r1", at(hours=-24, minutes=-30), district="MANHATTAN"),  # yesterday 08:30
        ev("b", "created", "r2", at(hours=-24), district="BRONX"),                   # yesterday 09:00 (same minute)
        ev("c", "created", "r3", at(hours=-24, minutes=1), district="BRONX"),        # yesterday 09:01, later
        ev("d", "created", "r4", at(hours=-9), district="QUEENS"),                   # today 00:00
        ev("e", "created", "r5", at(minutes=-5), district="QUEENS"),                 # today 08:55
    ]
    snap = wall(events, at(seconds=30))  # now: today 09:00:30
    h = snap["headline"]
    assert h["received_today"] == 2
    assert h["received_yesterday"] == 3
    assert h["received_same_time_yesterday"] == 2  # 08:30 and 09:00 count, 09:01 does not
    by = {d["id"]: d["received"] for d in snap["by_district"]}
    assert by == {"MANHATTAN": 0, "BRONX": 0, "BROOKLYN": 0, "QUEENS": 2, "STATEN ISLAND": 0}
    assert snap["hourly"]["today"][0] == 1 and snap["hourly"]["today"][8] == 1
    assert sum(snap["hourly"]["yesterday"]) == 3


def test_duplicate_delivery_counts_once(wall):
    e = ev("dup", "created", "r1", at(minutes=-10), district="BRONX")
    snap = wall([e, e, dict(e)], at())
    assert snap["headline"]["received_today"] == 1
    assert snap["pipeline"]["duplicates"] == 2


def test_resolution_before_creation_is_kept_and_counted(wall):
    snap = wall([ev("res", "resolved", "r1", at(minutes=-5))], at())
    assert snap["headline"]["received_today"] == 0  # not known yet, but not lost:
    assert snap["pipeline"]["awaiting_creation"] == 1
    snap = wall([ev("cre", "created", "r1", at(minutes=-65), category="Illegal Parking")], at())
    h = snap["headline"]
    assert (h["received_today"], h["resolved_today"], h["open_backlog"]) == (1, 1, 0)
    assert h["time_to_resolve"]["median_s"] == 3600
    assert snap["pipeline"]["awaiting_creation"] == 0


def test_any_arrival_order_gives_the_same_snapshot(client, wall):
    events = []
    for i in range(12):
        rid = f"r{i}"
        events.append(ev(f"{rid}c", "created", rid, at(minutes=-300 + i * 7), district=["BRONX", "QUEENS"][i % 2],
                         category=["Noise - Residential", "Illegal Parking", "Street Condition"][i % 3]))
        events.append(ev(f"{rid}a", "assigned", rid, at(minutes=-299 + i * 7), unit=f"U{i % 3}"))
        if i % 2 == 0:
            events.append(ev(f"{rid}p", "responded", rid, at(minutes=-280 + i * 5)))
        if i % 3 != 2:
            events.append(ev(f"{rid}s", "resolved", rid, at(minutes=-200 + i * 9)))
        if i % 4 == 0:
            events.append(ev(f"{rid}o", "reopened", rid, at(minutes=-150 + i * 9)))
        if i % 5 == 0:
            events.append(ev(f"{rid}t", "rated", rid, at(minutes=-100), satisfaction=str(1 + i % 5)))
    first = wall(events, at())
    orders = []
    for seed in range(3):
        client.flushdb()
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        orders.append(wall(shuffled + shuffled[:5], at()))
    strip = ("built_at", "pipeline")
    for other in orders:
        assert {k: v for k, v in other.items() if k not in strip} == {k: v for k, v in first.items() if k not in strip}


def test_reopen_makes_a_request_open_again_until_resolved_later(wall):
    base = [ev("c", "created", "r1", at(hours=-3)), ev("s1", "resolved", "r1", at(hours=-2))]
    assert wall(base, at())["headline"]["open_backlog"] == 0
    snap = wall([ev("o", "reopened", "r1", at(hours=-1))], at())
    assert (snap["headline"]["open_backlog"], snap["headline"]["resolved_today"]) == (1, 0)
    snap = wall([ev("s2", "resolved", "r1", at(minutes=-30))], at())
    h = snap["headline"]
    assert (h["open_backlog"], h["resolved_today"]) == (0, 1)
    assert h["time_to_resolve"]["median_s"] == 2.5 * 3600  # created to the latest resolution


def test_overdue_is_strictly_after_the_deadline(wall):
    deadline = at(hours=1)
    events = [ev("c", "created", "r1", at(hours=-1), deadline=deadline)]
    assert wall(events, at(hours=1))["headline"]["overdue_now"] == 0           # exactly at the deadline
    assert wall([], at(hours=1, seconds=1))["headline"]["overdue_now"] == 1    # one second after
    snap = wall([ev("s", "resolved", "r1", at(hours=1, seconds=2))], at(hours=1, seconds=3))
    assert snap["headline"]["overdue_now"] == 0
    assert snap["headline"]["on_time_rate"] == {"value": 0.0, "num": 0, "den": 1}


def test_on_time_counts_resolution_exactly_at_the_deadline(wall):
    events = [
        ev("c1", "created", "r1", at(hours=-2), deadline=at(hours=-1)),
        ev("s1", "resolved", "r1", at(hours=-1)),                        # exactly at deadline: on time
        ev("c2", "created", "r2", at(hours=-2), deadline=at(hours=-1)),
        ev("s2", "resolved", "r2", at(hours=-1, seconds=1)),             # one second late
    ]
    rate = wall(events, at())["headline"]["on_time_rate"]
    assert rate == {"value": 0.5, "num": 1, "den": 2}


def test_first_response_median_and_p90_match_linear_interpolation(wall):
    minutes = [5, 10, 20, 40, 80]
    events = []
    for i, m in enumerate(minutes):
        events.append(ev(f"c{i}", "created", f"r{i}", at(hours=-3)))
        events.append(ev(f"p{i}", "responded", f"r{i}", at(hours=-3, minutes=m)))
        events.append(ev(f"q{i}", "responded", f"r{i}", at(hours=-2, minutes=m)))  # later responses don't count
    fr = wall(events, at())["headline"]["first_response"]
    assert fr["count"] == 5
    assert fr["median_s"] == 20 * 60
    # p90 of [5,10,20,40,80] min: position 3.6 -> 40 + 0.6 * 40 = 64 min
    assert fr["p90_s"] == pytest.approx(64 * 60)


def test_resolution_and_satisfaction_rates(wall):
    events = [ev(f"c{i}", "created", f"r{i}", at(hours=-4)) for i in range(4)]
    events += [ev("s0", "resolved", "r0", at(hours=-1)), ev("s1", "resolved", "r1", at(hours=-1))]
    events += [ev("t0", "rated", "r0", at(minutes=-30), satisfaction="5"),
               ev("t1", "rated", "r1", at(minutes=-30), satisfaction="2"),
               ev("t1b", "rated", "r1", at(minutes=-10), satisfaction="4")]  # the latest rating counts
    h = wall(events, at())["headline"]
    assert h["resolution_rate"] == {"value": 0.5, "num": 2, "den": 4}
    assert h["satisfaction_rate"] == {"value": 1.0, "num": 2, "den": 2}


def test_bad_entries_go_to_the_dead_letter_stream_and_are_counted(client, wall):
    events = [
        ev("ok", "created", "r1", at(minutes=-1)),
        ev("bad1", "closed", "r2", at()),
        {"v": "1", "type": "created", "request_id": "r3", "ts": at()},
        {b"v": b"1", b"event_id": b"g", b"type": b"created", b"request_id": b"r4", b"ts": at().encode(),
         b"title": "路灯".encode("gbk")},
    ]
    snap = wall(events, at())
    assert snap["headline"]["received_today"] == 1
    assert snap["pipeline"]["rejected_total"] == 3
    assert snap["pipeline"]["rejected_by_reason"] == {"unknown_type": 1, "missing_field:event_id": 1,
                                                     "invalid_utf8:title": 1}
    dead = client.xrange(wall.keys.deadletter)
    assert [d[b"reason"] for _, d in dead] == [b"unknown_type", b"missing_field:event_id", b"invalid_utf8:title"]
    assert dead[2][1][b"f:title"] == "路灯".encode("gbk")  # original bytes kept for the producer to inspect
    assert client.xpending(wall.keys.stream, "civicwall-agg")["pending"] == 0


def test_ticker_text_is_masked_in_the_snapshot(wall):
    snap = wall([ev("c", "created", "r1", at(), title="Call 13812345678", text="ID 410802199001011234")], at())
    row = snap["ticker"][0]
    assert "13812345678" not in row["title"] and "410802199001011234" not in row["text"]


@pytest.mark.parametrize("batch", [500, 5000])
def test_the_recent_sets_hold_the_newest_appeals_of_a_large_batch(client, nyc, settings, batch):
    """A batch adds only the newest of its appeals to the recent sets; what is left must be exactly
    the newest 200 by time (ties by request id, as Redis orders them), whatever the arrival order."""
    rng = random.Random(3)
    events, created, resolved = [], {}, {}
    for i in range(900):
        rid = f"q{i:04d}"
        ts = T0 - timedelta(minutes=rng.randrange(20))         # dozens of appeals share each time
        created[rid] = int(ts.timestamp())
        events.append(ev(f"{rid}c", "created", rid, ts.isoformat()))
        if i % 2:
            done = ts + timedelta(minutes=rng.randrange(1, 30))
            resolved[rid] = int(done.timestamp())
            events.append(ev(f"{rid}r", "resolved", rid, done.isoformat()))
    rng.shuffle(events)
    keys = Keys(nyc.city)
    for e in events:
        client.xadd(keys.stream, e)
    Aggregator(client, nyc, settings.with_(batch=batch), consumer="test").run_until_idle()
    for key, times in ((keys.recent, created), (keys.recent_resolved, resolved)):
        newest = sorted(times, key=lambda r: (times[r], r))[-200:]
        assert [m.decode() for m in client.zrange(key, 0, -1)] == newest
