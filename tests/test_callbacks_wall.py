"""The wall feed (what a screen's refresh receives) with a scripted snapshot source (no Redis),
and the page layout it updates."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import dash
import pytest

from callbacks.wall import FEED_PATH, MAP_STYLE, PANELS, WallFeed, _format_shared, register
from dashboard import geo
from dashboard.errors import SnapshotMissing, StoreUnavailable
from dashboard.figures import ALL
from dashboard.settings import Settings
from layouts import ids
from layouts.wall import wall_layout

TZ = ZoneInfo("Asia/Shanghai")
BUILT = datetime(2026, 5, 4, 10, 30, 0, tzinfo=TZ).timestamp()

SNAPSHOT = {
    "built_at": BUILT, "as_of": "2026-05-04T10:30:00+08:00", "clock": "live", "unknown_district_today": 0,
    "headline": {
        "received_today": 12, "received_same_time_yesterday": 9, "open_backlog": 30, "overdue_now": 2,
        "resolution_rate": {"value": 0.25, "num": 3, "den": 12},
        "on_time_rate": {"value": 1.0, "num": 3, "den": 3},
        "satisfaction_rate": {"value": None, "num": 0, "den": 0},
        "first_response": {"median_s": 600.0, "p90_s": 900.0, "count": 3},
    },
    "targets": {"first_response_minutes": 30, "on_time_rate": 0.95},
    "by_district": [{"id": "解放区", "name": "解放区", "key": "410802", "received": 12, "resolved": 3}],
    "by_district_category": {"解放区": {"城市管理": 5}},
    "by_category": [{"name": "城市管理", "received": 5}, {"name": "<b>新类别</b>", "received": 7}],
    "by_channel": [{"id": "web", "label": "网站留言", "received": 12}],
    "hourly": {"today": [0] * 24, "yesterday": [0] * 24},
    "ticker": [{"id": "r1", "created": "2026-05-04T10:29:00+08:00", "channel": "网站留言", "category": "城市管理",
                "district": "解放区", "title": "<script>alert(1)</script>", "text": "电话 138****5678",
                "resolved": False}],
    "resolved_cases": [{"id": "r0", "created": "", "resolved": "", "duration_s": 5400, "category": "教育",
                        "district": "温县", "unit": "教育局", "title": "入学", "text": "", "reply": "已答复"}],
}


class Scripted:
    """A snapshot source that returns (or raises) what each call in the script says."""

    def __init__(self, *results):
        self.results = list(results)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return copy.deepcopy(result)


@pytest.fixture(scope="module")
def geometry(jiaozuo):
    return geo.map_geometry(geo.boundaries(jiaozuo))


@pytest.fixture
def feed(jiaozuo, geometry):
    def make(source):
        return WallFeed(source, jiaozuo, Settings(stale_after_s=15), geometry)
    return make


def ask(feed, category=ALL, have="", now=BUILT + 2):
    code, body = feed.answer(category, have, now=now)
    return code, json.loads(body)


def kpi(answer, component_id):
    return answer["panels"][f"{component_id}.children"]


def test_first_answer_fills_every_panel(feed):
    code, out = ask(feed(Scripted(SNAPSHOT)))
    assert code == 200
    assert set(out["panels"]) == set(PANELS)
    assert kpi(out, ids.KPI_RECEIVED) == "12"
    assert kpi(out, ids.KPI_RECEIVED_SUB) == "昨日同时段 9"
    assert kpi(out, ids.KPI_RESOLUTION) == "25.0%"
    assert kpi(out, ids.KPI_RESOLUTION_SUB) == "3 / 12"
    assert kpi(out, ids.KPI_SATISFACTION) == "—"
    style = out["panels"][MAP_STYLE]
    assert len(style["fills"]) == len(style["labels"]) == len(style["inks"]) > 0
    assert out["status"]["state"] == "live" and out["status"]["built_at"] == BUILT
    assert len(out["prints"].split(".")) == len(PANELS)


def test_a_screen_that_has_everything_gets_only_the_status(feed):
    f = feed(Scripted(SNAPSHOT, SNAPSHOT))
    _, first = ask(f)
    _, again = ask(f, have=first["prints"], now=BUILT + 4)
    assert again["panels"] == {}
    assert again["status"]["checked_at"] == BUILT + 4
    assert again["prints"] == first["prints"]


def test_a_new_snapshot_sends_only_what_this_screen_does_not_have(feed):
    newer = copy.deepcopy(SNAPSHOT) | {"built_at": BUILT + 2}   # each build has its own built_at
    newer["hourly"]["today"] = [h + 1 for h in SNAPSHOT["hourly"]["today"]]
    f = feed(Scripted(SNAPSHOT, newer, newer))
    _, first = ask(f)
    _, out = ask(f, have=first["prints"])
    assert set(out["panels"]) == {f"{ids.HOURLY}.figure.data"}     # traces only, the layout is kept
    assert out["panels"][f"{ids.HOURLY}.figure.data"][0]["y"][:3] == [1, 1, 1]
    # a screen that has nothing yet (a reload), or sends something unreadable, gets everything
    _, fresh = ask(f, have="not-a-fingerprint")
    assert set(fresh["panels"]) == set(PANELS)


def test_a_new_count_changes_the_text_and_the_map(feed):
    newer = copy.deepcopy(SNAPSHOT) | {"built_at": BUILT + 1}
    newer["headline"]["received_today"] = 13
    newer["by_district"][0]["received"] = 13
    f = feed(Scripted(SNAPSHOT, newer))
    _, first = ask(f)
    _, out = ask(f, have=first["prints"])
    assert kpi(out, ids.KPI_RECEIVED) == "13"
    assert MAP_STYLE in out["panels"]
    assert f"{ids.GAUGE_RESPONSE}.figure.data" not in out["panels"]


def test_a_category_view_has_its_own_map(feed):
    code, out = ask(feed(Scripted(SNAPSHOT)), category="城市管理")
    assert code == 200 and out["status"]["category"] == "城市管理"
    _, whole = ask(feed(Scripted(SNAPSHOT)))
    assert out["panels"][MAP_STYLE] != whole["panels"][MAP_STYLE]


def test_only_the_views_the_wall_offers_are_served(feed):
    code, out = ask(feed(Scripted(SNAPSHOT)), category="<made up>")
    assert code == 400 and out["error"] == "unknown_category"
    code, _ = ask(feed(Scripted(SNAPSHOT)), category="<b>新类别</b>")    # a category seen in the data
    assert code == 200


def test_store_unavailable_is_said_without_panels(feed):
    code, out = ask(feed(Scripted(StoreUnavailable("connection refused"))))
    assert code == 200 and out["error"] == "store_unavailable"
    assert "panels" not in out and "redis://" not in json.dumps(out)


def test_old_snapshot_is_shown_as_delayed(feed):
    _, out = ask(feed(Scripted(SNAPSHOT)), now=BUILT + 60)
    assert out["status"]["state"] == "delayed" and out["status"]["since"] == "10:30"


def test_missing_snapshot(feed):
    code, out = ask(feed(Scripted(SnapshotMissing("none"))))
    assert code == 200 and out["status"]["state"] == "missing" and out["panels"] == {}


class Shared(Scripted):
    """A scripted source with the shared render cache the Redis-backed source offers."""

    def __init__(self, *results, store=None):
        super().__init__(*results)
        self.store = {} if store is None else store

    def shared_get(self, name):
        return self.store.get(name)

    def shared_set(self, name, value, ttl_s=60):
        self.store[name] = value


def test_workers_share_each_rendered_version(feed, monkeypatch):
    store = {}
    _, first = ask(feed(Shared(SNAPSHOT, store=store)))
    assert len(store) == 1
    import callbacks.wall as wall
    monkeypatch.setattr(wall, "panels", lambda *a: pytest.fail("a shared version was rendered again"))
    _, second = ask(feed(Shared(SNAPSHOT, store=store)))
    assert second == first


def test_an_unreadable_shared_version_is_rendered_again(feed):
    store = {}
    _, first = ask(feed(Shared(SNAPSHOT, store=store)))
    name = next(iter(store))
    store[name] = "garbage"
    _, second = ask(feed(Shared(SNAPSHOT, store=store)))
    assert second == first and store[name] != "garbage"
    assert _format_shared({}, [""] * len(PANELS)).count("\n") == len(PANELS) - 1


def test_registered_route_serves_the_feed(jiaozuo, geometry):
    app = dash.Dash(__name__)
    app.layout = wall_layout(jiaozuo, Settings(), None, geometry)
    source = Scripted(SNAPSHOT, SNAPSHOT, SNAPSHOT)
    register(app, source, profile=jiaozuo, settings=Settings(), geometry=geometry)
    web = app.server.test_client()
    r = web.get(FEED_PATH, query_string={"category": ALL})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.json["panels"][f"{ids.KPI_OVERDUE}.children"] == "2"
    r = web.get(FEED_PATH, query_string={"category": ALL, "have": r.json["prints"]})
    assert r.json["panels"] == {}
    r = web.get(FEED_PATH, query_string={"category": ALL, "have": "x" * 100_000})   # ignored, not kept
    assert set(r.json["panels"]) == set(PANELS)
    assert source.calls == 3


@pytest.mark.parametrize("accept, gzipped", [("gzip", True), ("GZIP", True), ("br, gzip;q=0.5", True),
                                             ("gzip;q=0", False), ("identity", False), ("", False)])
def test_answers_are_compressed_only_when_the_screen_accepts_it(jiaozuo, geometry, accept, gzipped):
    app = dash.Dash(__name__)
    app.layout = wall_layout(jiaozuo, Settings(), None, geometry)
    register(app, Scripted(SNAPSHOT), profile=jiaozuo, settings=Settings(), geometry=geometry)
    r = app.server.test_client().get(FEED_PATH, headers={"Accept-Encoding": accept})
    assert (r.headers.get("Content-Encoding") == "gzip") is gzipped
    body = gzip.decompress(r.data) if gzipped else r.data
    assert json.loads(body)["panels"][f"{ids.KPI_RECEIVED}.children"] == "12"
    assert "wall;dur=" in r.headers["Server-Timing"]


def test_citizen_text_travels_as_plain_strings(feed):
    _, out = ask(feed(Scripted(SNAPSHOT)))
    row = out["panels"][f"{ids.TICKER}.children"][0]
    spans = row["props"]["children"]
    assert {s["type"] for s in spans} == {"Span"} and row["type"] == "Div"
    assert "<script>alert(1)</script> — 电话 138****5678" in [s["props"]["children"] for s in spans]


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from _walk(child)
    elif children is not None and not isinstance(children, str):
        yield from _walk(children)


def test_layout_renders_current_figures_and_citizen_text_as_plain_strings(jiaozuo, geometry):
    tree = wall_layout(jiaozuo, Settings(), copy.deepcopy(SNAPSHOT), geometry, now=BUILT + 1)
    nodes = list(_walk(tree))
    by_id = {getattr(n, "id", None): n for n in nodes}
    assert by_id[ids.KPI_RECEIVED].children == "12"
    assert by_id[ids.TITLE].children == jiaozuo.title
    for graph_id in (ids.MAP, ids.RANKING, ids.CHANNELS, ids.HOURLY, ids.GAUGE_RESPONSE, ids.GAUGE_ON_TIME):
        assert len(by_id[graph_id].figure["data"]) > 0, graph_id
    texts = [n.children for n in nodes if isinstance(getattr(n, "children", None), str)]
    assert "<script>alert(1)</script> — 电话 138****5678" in texts
    assert not any(type(n).__name__ == "Markdown" or "dangerously_allow_html" in getattr(n, "_prop_names", [])
                   for n in nodes)
    assert by_id[ids.STATUS].data["built_at"] == BUILT


def test_layout_without_a_snapshot_waits(jiaozuo, geometry):
    tree = wall_layout(jiaozuo, Settings(), None, geometry, now=BUILT)
    by_id = {getattr(n, "id", None): n for n in _walk(tree)}
    assert by_id[ids.KPI_RECEIVED].children == "—"
    assert by_id[ids.FRESHNESS].children == "等待首批数据"
    assert by_id[ids.STATUS].data["state"] == "missing"


def test_screens_asking_at_once_for_a_new_version_start_one_draw_not_many(feed, monkeypatch):
    """No pile-up on the server: while one draw of a new version is under way (made slow here),
    the other refreshes wait for it instead of drawing the same version again."""
    import threading
    import time

    import callbacks.wall as wall

    real, drawing, most, draws = wall.panels, [0], [0], []
    guard = threading.Lock()

    def slow_panels(*args):
        with guard:
            drawing[0] += 1
            most[0] = max(most[0], drawing[0])
            draws.append(args[3])
        time.sleep(0.3)                       # a draw slower than many refresh intervals
        try:
            return real(*args)
        finally:
            with guard:
                drawing[0] -= 1

    monkeypatch.setattr(wall, "panels", slow_panels)
    shared = feed(lambda: copy.deepcopy(SNAPSHOT))
    answers = []

    def screen(category):
        answers.append((category, shared.answer(category, "", now=BUILT + 2)))

    threads = [threading.Thread(target=screen, args=(ALL if i % 4 else "城市管理",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(answers) == 16
    assert sorted(draws) == sorted([ALL, "城市管理"])       # one draw per view, never the same one twice
    assert most[0] == 1                                    # and never two draws side by side
    for category in (ALL, "城市管理"):
        assert len({body for c, (code, body) in answers if c == category}) == 1
