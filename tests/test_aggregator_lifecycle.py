"""The aggregator's consumer-group behaviour: resume after a crash, share a stream, survive a lost group."""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dashboard import clock, snapshot
from dashboard.aggregator import Aggregator
from dashboard.keys import Keys

NY = ZoneInfo("America/New_York")
T0 = datetime(2024, 5, 27, 12, 0, tzinfo=NY)


def events(n):
    out = []
    for i in range(n):
        ts = (T0 - timedelta(minutes=n - i)).isoformat()
        out.append({"v": "1", "event_id": f"c{i}", "type": "created", "request_id": f"r{i}", "ts": ts,
                    "district": ["BRONX", "QUEENS", "BROOKLYN"][i % 3]})
        if i % 2:
            out.append({"v": "1", "event_id": f"s{i}", "type": "resolved", "request_id": f"r{i}", "ts": ts})
    return out


def fill(client, keys, entries):
    for e in entries:
        client.xadd(keys.stream, e)
    clock.set_replay(client, keys, T0.timestamp(), speed=0)


def figures(client, keys):
    snap = snapshot.read(client, keys)
    return snap["headline"], snap["all_time"]


def test_entries_read_but_not_applied_before_a_crash_are_applied_on_restart(client, nyc, settings):
    keys = Keys(nyc.city)
    fill(client, keys, events(30))
    crashed = Aggregator(client, nyc, settings.with_(batch=10), consumer="worker-1")
    crashed.ensure_group()
    read = crashed.read(">")            # read 10 entries, then "crash" before applying them
    assert len(read) == 10
    assert client.xpending(keys.stream, settings.group)["pending"] == 10

    restarted = Aggregator(client, nyc, settings.with_(batch=10), consumer="worker-1")
    restarted.run_until_idle()
    assert client.xpending(keys.stream, settings.group)["pending"] == 0
    headline, all_time = figures(client, keys)
    assert all_time["received"] == 30 and all_time["resolved"] == 15


def test_a_crash_after_applying_but_before_acking_does_not_double_count(client, nyc, settings):
    keys = Keys(nyc.city)
    fill(client, keys, events(10))
    agg = Aggregator(client, nyc, settings, consumer="worker-1")
    agg.run_until_idle()
    # Replay the same stream from the start under a fresh group: every effect is already stored.
    client.xgroup_destroy(keys.stream, settings.group)
    again = Aggregator(client, nyc, settings, consumer="worker-2")
    again.run_until_idle()
    headline, all_time = figures(client, keys)
    assert all_time["received"] == 10 and all_time["resolved"] == 5
    assert snapshot.read(client, keys)["pipeline"]["duplicates"] == 15


def test_entries_left_by_a_dead_consumer_are_claimed_by_another(client, nyc, settings):
    keys = Keys(nyc.city)
    fill(client, keys, events(12))
    dead = Aggregator(client, nyc, settings, consumer="dead")
    dead.ensure_group()
    assert len(dead.read(">")) == 18
    survivor = Aggregator(client, nyc, settings.with_(claim_idle_ms=1000), consumer="survivor")
    deadline = time.monotonic() + 10
    claimed = 0
    while claimed < 18 and time.monotonic() < deadline:   # wait until the entries are idle long enough
        claimed += survivor.claim_abandoned()
    assert claimed == 18
    survivor.run_until_idle()
    assert figures(client, keys)[1]["received"] == 12


def test_two_aggregators_sharing_the_stream_agree_with_one(client, nyc, settings):
    keys = Keys(nyc.city)
    fill(client, keys, events(40))
    one = Aggregator(client, nyc, settings.with_(batch=7), consumer="solo")
    one.run_until_idle()
    expected = figures(client, keys)

    client.flushdb()
    fill(client, keys, events(40))
    a = Aggregator(client, nyc, settings.with_(batch=7), consumer="a")
    b = Aggregator(client, nyc, settings.with_(batch=7), consumer="b")
    a.ensure_group()
    while True:
        got_a = a.process(a.read(">")).acked
        got_b = b.process(b.read(">")).acked
        if not got_a and not got_b:
            break
    a.maybe_snapshot(force=True)
    assert figures(client, keys) == expected


def test_a_consumer_group_lost_with_a_redis_restart_is_recreated(client, nyc, settings):
    keys = Keys(nyc.city)
    fill(client, keys, events(5))
    agg = Aggregator(client, nyc, settings, consumer="w")
    agg.run_until_idle()
    client.xgroup_destroy(keys.stream, settings.group)   # what an empty restart looks like to a consumer
    fill(client, keys, [e for e in events(6) if e["request_id"] == "r5"])
    assert agg.read(">") == []                            # NOGROUP is handled: the group is recreated
    agg.run_until_idle()
    assert figures(client, keys)[1]["received"] == 6


def test_a_backlog_is_worked_through_in_bounded_rounds_with_nothing_left_pending(client, nyc, settings):
    keys = Keys(nyc.city)
    fill(client, keys, events(40))                                   # 60 entries
    agg = Aggregator(client, nyc, settings.with_(batch=10), consumer="worker-1")
    agg.ensure_group()
    # With no time left, a round applies the batch it was given and reads no further.
    assert agg.catch_up(max_s=0) == 10
    assert client.xpending(keys.stream, settings.group)["pending"] == 0
    assert int(client.hget(keys.meta, "applied")) == 10
    # Without a limit it validates each batch while Redis applies the previous one, to the end.
    assert agg.catch_up() == 50
    assert client.xpending(keys.stream, settings.group)["pending"] == 0
    snapshot.store(client, keys, snapshot.build(client, keys, nyc))
    headline, all_time = figures(client, keys)
    assert all_time["received"] == 40 and all_time["resolved"] == 20


def _while_catching_up(agg, disturb) -> int:
    """Run catch_up to the end of the stream while another client calls ``disturb`` over and over."""
    import threading

    done = threading.Event()

    def keep_disturbing():
        while not done.is_set():
            disturb()
            time.sleep(0.002)

    thread = threading.Thread(target=keep_disturbing, daemon=True)
    thread.start()
    try:
        total = 0
        for _ in range(10_000):
            n = agg.catch_up()
            total += n
            if n == 0:
                break
    finally:
        done.set()
        thread.join()
    return total


def _each_entry_applied_once(client, keys, settings, profile, agg, entries) -> None:
    assert agg.catch_up() == 0
    assert client.xpending(keys.stream, settings.group)["pending"] == 0
    assert int(client.hget(keys.meta, "applied")) == len(entries)
    snapshot.store(client, keys, snapshot.build(client, keys, profile))
    _, all_time = figures(client, keys)
    assert all_time["received"] == sum(e["type"] == "created" for e in entries)
    assert all_time["resolved"] == sum(e["type"] == "resolved" for e in entries)


def _backlog(client, profile, settings):
    """450 entries waiting, and an aggregator that reads them ten at a time."""
    keys = Keys(profile.city)
    entries = events(300)
    fill(client, keys, entries)
    agg = Aggregator(client, profile, settings.with_(batch=10), consumer="worker-1")
    agg.ensure_group()
    return keys, entries, agg


def test_scripts_flushed_while_a_backlog_is_worked_through_lose_no_entry(client, nyc, settings):
    keys, entries, agg = _backlog(client, nyc, settings)
    before = client.info("errorstats").get("errorstat_NOSCRIPT", {}).get("count", 0)
    _while_catching_up(agg, client.script_flush)
    assert client.info("errorstats").get("errorstat_NOSCRIPT", {}).get("count", 0) > before   # it did happen
    _each_entry_applied_once(client, keys, settings, nyc, agg, entries)


def test_a_group_destroyed_while_a_backlog_is_worked_through_is_recreated_and_nothing_counts_twice(client, nyc, settings):
    keys, entries, agg = _backlog(client, nyc, settings)
    destroyed = []

    def destroy_once():
        if not destroyed and int(client.hget(keys.meta, "applied") or 0) >= 100:
            destroyed.append(client.xgroup_destroy(keys.stream, settings.group))

    _while_catching_up(agg, destroy_once)
    assert destroyed == [1]
    # The recreated group starts from the beginning: what was applied comes back as duplicates.
    _each_entry_applied_once(client, keys, settings, nyc, agg, entries)
