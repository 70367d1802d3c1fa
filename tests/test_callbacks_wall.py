"""The wall's refresh callback as a plain function, with a scripted snapshot source (no Redis),
and the page layout it updates."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import dash
import pytest
from dash import Patch, no_update

from callbacks.wall import OUTPUTS, compute, register
from dashboard import geo
from dashboard.errors import SnapshotMissing, StoreUnavailable
from dashboard.figures import ALL
from dashboard.settings import Settings
from layouts import ids
from layouts.wall import wall_layout

TZ = ZoneInfo("Asia/Shanghai")
BUILT = datetime(2026, 5, 4, 10, 30, 0, tzinfo=TZ).timestamp()
STATUS, MAP = (ids.STATUS, "data"), (ids.MAP, "figure")
PANELS = [o for o in OUTPUTS if o != STATUS]

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
def run(jiaozuo, geometry):
    settings = Settings(stale_after_s=15)

    def run(source, category=ALL, previous=None, now=BUILT + 2):
        return compute(source, jiaozuo, settings, geometry, category, previous, now=now)
    return run


def test_first_refresh_fills_every_panel(run):
    out = run(Scripted(SNAPSHOT))
    assert set(out) == set(OUTPUTS)
    assert all(out[o] is not no_update for o in OUTPUTS)
    assert out[(ids.KPI_RECEIVED, "children")] == "12"
    assert out[(ids.KPI_RECEIVED_SUB, "children")] == "昨日同时段 9"
    assert out[(ids.KPI_RESOLUTION, "children")] == "25.0%"
    assert out[(ids.KPI_RESOLUTION_SUB, "children")] == "3 / 12"
    assert out[(ids.KPI_SATISFACTION, "children")] == "—"
    assert isinstance(out[MAP], Patch)
    assert out[STATUS]["state"] == "live" and out[STATUS]["built_at"] == BUILT


def test_unchanged_snapshot_updates_only_the_status(run):
    first = run(Scripted(SNAPSHOT))
    again = run(Scripted(SNAPSHOT), previous=first[STATUS], now=BUILT + 4)
    assert all(again[o] is no_update for o in PANELS)
    assert again[STATUS]["checked_at"] == BUILT + 4


def test_new_snapshot_or_new_category_redraws(run):
    first = run(Scripted(SNAPSHOT))
    newer = copy.deepcopy(SNAPSHOT) | {"built_at": BUILT + 1}
    newer["headline"]["received_today"] = 13
    newer["hourly"]["today"] = [h + 1 for h in SNAPSHOT["hourly"]["today"]]
    out = run(Scripted(newer), previous=first[STATUS])
    assert out[(ids.KPI_RECEIVED, "children")] == "13"
    picked = run(Scripted(SNAPSHOT), category="城市管理", previous=first[STATUS])
    assert isinstance(picked[MAP], Patch) and picked[STATUS]["category"] == "城市管理"


def test_a_new_snapshot_sends_only_what_this_screen_does_not_have(run):
    first = run(Scripted(SNAPSHOT))
    newer = copy.deepcopy(SNAPSHOT) | {"built_at": BUILT + 2}   # each build has its own built_at
    newer["hourly"]["today"] = [h + 1 for h in SNAPSHOT["hourly"]["today"]]
    out = run(Scripted(newer), previous=first[STATUS])
    assert out[(ids.KPI_RECEIVED, "children")] is no_update          # same text as already shown
    assert out[(ids.GAUGE_RESPONSE, "figure")] is no_update
    hourly = out[(ids.HOURLY, "figure")]
    assert isinstance(hourly, Patch)                                   # traces only, layout kept
    assert "layout" not in json.dumps(hourly.to_plotly_json())
    assert isinstance(out[MAP], Patch)
    # a screen that has nothing yet (a reload) gets everything
    fresh = run(Scripted(newer), previous=None)
    assert fresh[(ids.KPI_RECEIVED, "children")] == "12" and isinstance(fresh[(ids.HOURLY, "figure")], dict)


def test_store_unavailable_keeps_the_picture_and_says_since_when(run):
    first = run(Scripted(SNAPSHOT))
    out = run(Scripted(StoreUnavailable("connection refused")), previous=first[STATUS], now=BUILT + 300)
    assert all(out[o] is no_update for o in PANELS)
    assert out[STATUS]["state"] == "stale"
    assert out[STATUS]["since"] == "10:30"
    assert out[STATUS]["built_at"] == BUILT


def test_store_unavailable_before_any_data(run):
    out = run(Scripted(StoreUnavailable("down")), previous=None)
    assert out[STATUS]["state"] == "stale" and out[STATUS]["since"] == ""


def test_old_snapshot_is_shown_as_delayed(run):
    out = run(Scripted(SNAPSHOT), now=BUILT + 60)
    assert out[STATUS]["state"] == "delayed" and out[STATUS]["since"] == "10:30"


def test_missing_snapshot(run):
    assert run(Scripted(SnapshotMissing("none")))[STATUS]["state"] == "missing"
    first = run(Scripted(SNAPSHOT))
    later = run(Scripted(SnapshotMissing("none")), previous=first[STATUS], now=BUILT + 30)
    assert later[STATUS]["state"] == "delayed" and all(later[o] is no_update for o in PANELS)


def test_registered_callback_is_the_plain_function(jiaozuo, geometry):
    app = dash.Dash(__name__)
    source = Scripted(SNAPSHOT, SNAPSHOT)
    refresh = register(app, source, profile=jiaozuo, settings=Settings(), geometry=geometry)
    values = refresh(1, ALL, None)
    assert len(values) == len(OUTPUTS)
    assert values[OUTPUTS.index((ids.KPI_OVERDUE, "children"))] == "2"
    assert source.calls == 1


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
        assert len(by_id[graph_id].figure.data) > 0, graph_id
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
