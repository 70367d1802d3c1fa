"""The manager's in-memory table against a real Redis: it follows the aggregator's change feed, loads
afresh when entries were trimmed unread or Redis came back empty, and holds the appeals its figures
need; plus the filters, windows and profile rules the figures rest on."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard import deadlines, manager
from dashboard.aggregator import Aggregator
from dashboard.contract import Validator
from dashboard.errors import ConfigError
from dashboard.keys import Keys
from dashboard.manager import FilterError, Filters
from dashboard.profiles import _parse, load_profile

SHANGHAI = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")


def ev(eid, etype, rid, ts: datetime, **extra):
    return {"v": "1", "event_id": eid, "type": etype, "request_id": rid, "ts": ts.isoformat(), **extra}


def created(rid, ts, **extra):
    fields = {"category": "城市管理", "district": "解放区", "channel": "web"} | extra
    return ev(f"{rid}:c", "created", rid, ts, **fields)


@pytest.fixture
def world(client, settings, jiaozuo):
    keys = Keys(jiaozuo.city)
    agg = Aggregator(client, jiaozuo, settings)

    def send(*events):
        for e in events:
            client.xadd(keys.stream, e)
        agg.run_until_idle()

    table = manager.FactsTable(lambda: client, keys, jiaozuo.tz)
    return keys, send, table


NOW = datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)


def test_the_table_follows_new_events_without_loading_again(world):
    keys, send, table = world
    send(created("a", NOW - timedelta(hours=5)), created("b", NOW - timedelta(hours=4)))
    frame = table.frame(NOW.timestamp())
    assert sorted(frame.index) == ["a", "b"] and table.loads == 1
    send(ev("a:r", "resolved", "a", NOW - timedelta(hours=1)), created("c", NOW - timedelta(minutes=5)),
         ev("b:as", "assigned", "b", NOW - timedelta(hours=3), unit="解放区城管局"))
    frame = table.frame(NOW.timestamp())
    assert table.loads == 1
    assert sorted(frame.index) == ["a", "b", "c"]
    assert frame.loc["a", "r"] == (NOW - timedelta(hours=1)).timestamp()
    assert frame.loc["b", "unit"] == "解放区城管局"
    version = table.version
    table.frame(NOW.timestamp())
    assert table.version == version, "nothing changed, so the frame stays as it was"


def test_a_reopened_appeal_is_open_again_with_its_first_deadline(world):
    keys, send, table = world
    deadline = NOW + timedelta(minutes=30)
    send(created("x", NOW - timedelta(hours=3), deadline=deadline.isoformat()),
         ev("x:r", "resolved", "x", NOW - timedelta(hours=2)))
    now = NOW.timestamp()
    assert manager.deadline_list(table.frame(now), Filters(), now, load_profile("jiaozuo"))["rows"] == []
    send(ev("x:o", "reopened", "x", NOW - timedelta(hours=1)))
    got = manager.deadline_list(table.frame(now), Filters(), now, load_profile("jiaozuo"))
    assert [(r["id"], r["state"], r["left_s"]) for r in got["rows"]] == [("x", "due_soon", 1800.0)]
    # The same answer as the sorted-set reading of dashboard/deadlines.py.
    assert [d.request_id for d in deadlines.due_within(table._client(), keys, now, 4 * 3600)] == ["x"]


@pytest.mark.parametrize("offset_s, state", [(1, "overdue"), (0, "due_soon"), (-4 * 3600, "due_soon"),
                                             (-4 * 3600 - 1, "on_track")])
def test_deadline_states_at_the_boundaries(world, jiaozuo, offset_s, state):
    keys, send, table = world
    deadline = NOW + timedelta(hours=6)
    send(created("d", NOW - timedelta(hours=1), deadline=deadline.isoformat()))
    now = deadline.timestamp() + offset_s
    got = manager.deadline_list(table.frame(now), Filters(), now, jiaozuo, states=manager.STATES)
    assert [r["state"] for r in got["rows"]] == [state]


def test_a_gap_in_the_change_feed_makes_the_table_load_afresh(world):
    keys, send, table = world
    send(created("a", NOW - timedelta(hours=5)))
    table.frame(NOW.timestamp())
    send(created("b", NOW - timedelta(hours=4)))
    send(created("c", NOW - timedelta(hours=3)))
    client = table._client()
    client.xtrim(keys.changes, maxlen=1, approximate=False)  # the entry naming "b" is gone before it was read
    frame = table.frame(NOW.timestamp())
    assert table.loads == 2
    assert sorted(frame.index) == ["a", "b", "c"]


def test_a_redis_that_came_back_empty_is_loaded_afresh(world, client):
    keys, send, table = world
    send(created("a", NOW - timedelta(hours=5)), created("b", NOW - timedelta(hours=5)))
    assert len(table.frame(NOW.timestamp())) == 2
    client.flushdb()
    send(created("z", NOW - timedelta(hours=1)))
    frame = table.frame(NOW.timestamp())
    assert list(frame.index) == ["z"] and table.loads == 2


def test_the_load_holds_recent_open_and_recently_closed_appeals_only(world):
    keys, send, table = world
    long_ago = NOW - timedelta(days=200)
    send(created("old-open", long_ago), created("old-closed", long_ago), created("old-late", long_ago),
         ev("old-closed:r", "resolved", "old-closed", long_ago + timedelta(days=1)),
         ev("old-late:r", "resolved", "old-late", NOW - timedelta(days=3)),
         created("new", NOW - timedelta(days=2)))
    frame = table.frame(NOW.timestamp())
    assert sorted(frame.index) == ["new", "old-late", "old-open"]


def test_negative_durations_are_left_out_of_the_quantiles(world, jiaozuo):
    keys, send, table = world
    c = NOW - timedelta(hours=2)
    send(created("p", c), ev("p:f", "responded", "p", c + timedelta(minutes=10)),
         created("q", c), ev("q:f", "responded", "q", c - timedelta(minutes=30)),
         created("s", c), ev("s:f", "responded", "s", c + timedelta(minutes=30)))
    now = NOW.timestamp()
    got = manager.summary(table.frame(now), Filters(), now, jiaozuo)["current"]["first_response"]
    assert got == {"count": 2, "median_s": 1200.0, "p90_s": 600 + 0.9 * 1200}


# -- filters, windows, rules ------------------------------------------------------------------------

def test_filters_from_a_query_and_back(jiaozuo):
    f = Filters.from_query({"period": ["7d"], "district": ["解放区", "温县"], "unit": "市水务局"}, jiaozuo)
    assert f == Filters(period="7d", district=("解放区", "温县"), unit=("市水务局",))
    assert Filters.from_query(dict(parse(f.query())), jiaozuo) == f
    assert Filters.from_query({}, jiaozuo) == Filters()
    # Districts by a name or alias of the profile, in any case and width, are the district's id; an
    # empty value is "no recognised district".
    g = Filters.from_query({"district": ["解放", "Ｊｉｅｆａｎｇ", "wenxian", ""]}, jiaozuo)
    assert g.district == ("解放区", "温县", "")


def parse(pairs):
    out = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


@pytest.mark.parametrize("query, message", [
    ({"period": ["week"]}, "period: 'week' is not one of today, 7d, 30d"),
    ({"period": ["7d", "30d"]}, "period: give one period"),
    ({"district": ["Gotham"]}, "district: 'Gotham' is not a district of jiaozuo"),
    ({"category": ["x" * 81]}, "category: a value longer than 80 characters"),
    ({"unit": [str(i) for i in range(51)]}, "unit: at most 50 values"),
])
def test_bad_filters_are_refused_with_the_reason(jiaozuo, query, message):
    with pytest.raises(FilterError, match=message.replace("(", r"\(")):
        Filters.from_query(query, jiaozuo)


def test_windows_move_back_on_the_wall_clock_across_a_change_of_offset():
    # New York moved its clocks forward on 2020-03-08: seven days before 2020-03-10 12:00 EDT is
    # 2020-03-03 12:00 EST, 167 hours earlier.
    now = datetime(2020, 3, 10, 12, 0, tzinfo=NY).timestamp()
    current, previous = manager.windows("7d", now, NY)
    assert current.start == datetime(2020, 3, 3, 12, 0, tzinfo=NY).timestamp()
    assert now - current.start == 167 * 3600
    assert previous.end == current.start and not current.closed_start
    today, yesterday = manager.windows("today", now, NY)
    assert today.start == datetime(2020, 3, 10, 0, 0, tzinfo=NY).timestamp() and today.closed_start
    assert (yesterday.start, yesterday.end) == (datetime(2020, 3, 9, tzinfo=NY).timestamp(),
                                                datetime(2020, 3, 9, 12, 0, tzinfo=NY).timestamp())


def test_the_wilson_interval_has_the_published_values():
    # Wilson score interval, 95 %: 8 of 10 -> 0.490 to 0.943; 0 of 10 -> 0 to 0.278 (textbook values).
    low, high = manager.wilson(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    assert manager.wilson(0, 10)[0] == 0.0 and round(manager.wilson(0, 10)[1], 3) == 0.278
    assert manager.wilson(10, 10)[1] == 1.0
    assert manager.wilson(0, 0) == (None, None)


def _profile(extra: str):
    """The Jiaozuo profile with its own manager rules and unit deadlines replaced by ``extra``'s."""
    import tomllib
    from dashboard.profiles import BUILTIN_DIR
    raw = tomllib.loads((BUILTIN_DIR / "jiaozuo.toml").read_text(encoding="utf-8"))
    raw.pop("manager", None)
    raw.pop("deadlines", None)
    return _parse(raw | tomllib.loads(extra), "test.toml")


def test_unit_deadlines_take_the_most_specific_rule():
    profile = _profile("""
[[deadlines]]
unit = "市自来水公司"
category = "水电气暖"
hours = 12
[[deadlines]]
unit = "市自来水公司"
hours = 36
[manager]
due_soon_hours = 6
min_rank_count = 5
""")
    assert profile.deadline_hours("水电气暖", "市自来水公司") == 12      # unit and category
    assert profile.deadline_hours("水电气暖", "别的单位") == 24          # the category's own
    assert profile.deadline_hours("城市管理", "市自来水公司") == 72      # category beats the unit's general rule
    assert profile.deadline_hours("没有的类别", "市自来水公司") == 36    # the unit's general rule
    assert profile.deadline_hours("没有的类别") == 120                   # default_deadline_hours
    assert profile.manager == replace(profile.manager, due_soon_hours=6.0, min_rank_count=5)
    # The contract applies it to a created event that names its unit and has no deadline of its own.
    ts = NOW
    event = Validator(profile, now=lambda: NOW.timestamp()).validate(
        created("w", ts, category="水电气暖", unit="市自来水公司"))
    assert event.fields["dl"] == ts.timestamp() + 12 * 3600


@pytest.mark.parametrize("extra, message", [
    ("[[deadlines]]\nhours = 3", "needs a unit"),
    ('[[deadlines]]\nunit = "A"\nhours = 0', "hours must be a positive number"),
    ('[[deadlines]]\nunit = "A"\nhours = 3\nlimit = 2', "unknown keys limit"),
    ('[[deadlines]]\nunit = "A"\nhours = 3\n[[deadlines]]\nunit = "A"\nhours = 4', "a second rule for unit 'A'"),
    ("[manager]\ndue_soon_hours = -1", "due_soon_hours must be a number of hours"),
    ("[manager]\nmin_rank_count = 2.5", "min_rank_count must be a whole number"),
    ("[manager]\nrank = 3", "unknown keys rank"),
])
def test_bad_manager_rules_are_refused_with_the_reason(extra, message):
    with pytest.raises(ConfigError, match=message):
        _profile(extra)
