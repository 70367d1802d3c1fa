"""Figure builders on small hand-made snapshots: values, colours, labels, and no HTML injection.

The builders return plain dicts; ``built`` loads each into ``go.Figure``, which raises on any
property Plotly does not know, so every test here also checks that the dicts are valid figures."""

from __future__ import annotations

import copy
import json

import plotly.graph_objects as go
import pytest

from dashboard import figures, geo
from dashboard.figures import Theme, esc

class _Validated:
    """``figures`` with every figure it builds loaded into (and validated by) ``go.Figure``."""

    def __getattr__(self, name):
        fn = getattr(figures, name)

        def call(*args, **kwargs):
            out = fn(*args, **kwargs)
            if isinstance(out, dict) and set(out) == {"data", "layout"}:
                json.dumps(out, allow_nan=False)            # plain JSON, nothing Plotly-specific
                return go.Figure(out)
            return out
        return call


built = _Validated()

SQUARE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]


def _square(x0: float, y0: float, size: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0 + x * size, y0 + y * size] for x, y in SQUARE]]}


FC = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"k": "N", "district": "north", "name": "North <b>side</b>"},
     "geometry": _square(0, 10, 10)},
    {"type": "Feature", "properties": {"k": "S", "district": "south", "name": "South"},
     "geometry": _square(0, 0, 10)},
]}

BASE = {
    "built_at": 1000.0, "as_of": "2026-05-04T10:30:00+08:00", "clock": "live",
    "headline": {
        "received_today": 7, "received_same_time_yesterday": 5, "open_backlog": 4, "overdue_now": 1,
        "resolution_rate": {"value": 3 / 7, "num": 3, "den": 7},
        "on_time_rate": {"value": 0.5, "num": 1, "den": 2},
        "satisfaction_rate": {"value": None, "num": 0, "den": 0},
        "first_response": {"median_s": 1800.0, "p90_s": 3600.0, "count": 3},
    },
    "targets": {"first_response_minutes": 20, "on_time_rate": 0.9},
    "by_district": [{"id": "north", "name": "North", "key": "N", "received": 6, "resolved": 0},
                    {"id": "south", "name": "South", "key": "S", "received": 0, "resolved": 0}],
    "unknown_district_today": 1,
    "by_district_category": {"north": {"roads": 2, "noise": 4}},
    "by_category": [{"name": f"c{i}", "received": 20 - i} for i in range(12)],
    "by_channel": [{"id": "web", "label": "Web <i>portal</i>", "received": 3},
                   {"id": "phone", "label": "Phone", "received": 1}],
    "hourly": {"today": [1] * 24, "yesterday": list(range(24))},
}


@pytest.fixture
def snap():
    return copy.deepcopy(BASE)


@pytest.fixture(scope="module")
def geom():
    return geo.map_geometry(FC)


def _all_strings(fig: go.Figure) -> str:
    return fig.to_json()


def test_map_is_filled_scatter_polygons_without_geo_traces(geom, snap):
    fig = built.map_figure(geom, snap)
    assert {type(t).__name__ for t in fig.data} == {"Scatter"}
    assert all(t.fill == "toself" for t in fig.data)
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.xaxis.visible is False
    assert "geo" not in fig.to_plotly_json()["layout"] and "mapbox" not in fig.to_plotly_json()["layout"]


def test_map_colours_follow_todays_counts(geom, snap):
    style = figures.map_style(geom, snap)
    fills = dict(zip(geom.ids, style["fills"]))
    assert fills["south"] == Theme.ZERO_FILL                   # nothing received
    assert fills["north"] == "rgb(254, 249, 195)"               # the maximum takes the top of the scale
    labels = dict(zip(geom.ids, style["labels"]))
    assert labels["south"] == "South<br><b>0</b>"
    assert style["note"] == "no district: 1"


def test_map_can_show_one_category(geom, snap):
    labels = dict(zip(geom.ids, figures.map_style(geom, snap, category="roads")["labels"]))
    assert labels["north"].endswith("<b>2</b>")
    assert figures.map_style(geom, snap, category="roads")["note"] == ""
    assert figures.district_counts(snap, "missing-category") == {"north": 0}


def test_map_figure_carries_the_styled_fills_and_labels(geom, snap):
    fig = built.map_figure(geom, snap)
    style = figures.map_style(geom, snap)
    assert [t.fillcolor for t in fig.data] == style["fills"]
    assert [a.text for a in fig.layout.annotations[1:]] == style["labels"]


def test_district_names_are_escaped_on_the_map(geom, snap):
    labels = figures.map_style(geom, snap)["labels"]
    assert any(label.startswith("North &lt;b&gt;side&lt;/b&gt;") for label in labels)
    assert "<b>side" not in _all_strings(built.map_figure(geom, snap))


def test_labels_use_dark_ink_on_light_fills():
    assert figures.ink_for("rgb(254, 249, 195)") == Theme.BACKGROUND
    assert figures.ink_for(Theme.ZERO_FILL) == Theme.TEXT


def test_category_ranking_shows_the_top_ten_largest_first(snap):
    bar = built.category_ranking(snap).data[0]
    assert bar.orientation == "h"
    assert list(bar.y) == [f"c{i}" for i in range(10)]
    assert list(bar.x) == [20 - i for i in range(10)]


def test_html_in_producer_strings_is_escaped(snap):
    snap["by_category"] = [{"name": "<img src=x onerror=alert(1)>", "received": 2},
                           {"name": "a & b %{x}", "received": 1}]
    fig = built.category_ranking(snap)
    assert list(fig.data[0].y) == ["&lt;img src=x onerror=alert(1)&gt;", "a &amp; b %{x}"]
    pie = built.channel_split(snap).data[0]
    assert pie.labels[0].startswith("Web &lt;i&gt;portal&lt;/i&gt;")
    for f in (fig, built.channel_split(snap), built.hourly(snap)):
        for trace in f.data:
            assert trace.hovertemplate is None and trace.hoverinfo == "skip"


def test_esc_neutralises_plotly_pseudo_html():
    assert esc('<a href="javascript:x">t</a><br>') == '&lt;a href="javascript:x"&gt;t&lt;/a&gt;&lt;br&gt;'


def test_channel_donut_shares_and_total(snap):
    fig = built.channel_split(snap)
    pie = fig.data[0]
    assert pie.hole and list(pie.values) == [3, 1]
    assert pie.labels[1] == "Phone  <b>1</b>  25%"
    assert fig.layout.annotations[0].text == "<b>4</b>"


def test_hourly_shows_today_up_to_the_current_hour_and_all_of_yesterday(snap):
    bars, line = built.hourly(snap).data
    assert list(bars.y) == [1] * 11 + [None] * 13       # as_of is 10:30
    assert list(line.y) == list(range(24))
    assert list(bars.x)[0] == "00" and list(bars.x)[-1] == "23"


@pytest.mark.parametrize("minutes, band", [(10, "green"), (20, "green"), (25, "amber"), (30, "amber"), (31, "red")])
def test_response_bands(minutes, band):
    assert figures.response_band(minutes, 20) == band


@pytest.mark.parametrize("rate, band", [(0.95, "green"), (0.9, "green"), (0.85, "amber"), (0.79, "red")])
def test_rate_bands(rate, band):
    assert figures.rate_band(rate, 0.9) == band


def test_response_gauge_in_minutes_against_target(snap):
    fig = built.response_gauge(snap)
    gauge = fig.data[0]
    assert gauge.value == 30 and gauge.mode == "gauge+number"
    assert gauge.gauge.threshold.value == 20
    assert gauge.gauge.bar.color == Theme.BANDS["amber"]       # 30 min against a 20 min target
    assert [s.range for s in gauge.gauge.steps] == [(0, 20), (20, 30), (30, 40)]


def test_on_time_gauge_in_percent(snap):
    gauge = built.on_time_gauge(snap).data[0]
    assert gauge.value == 50 and gauge.gauge.bar.color == Theme.BANDS["red"]
    assert gauge.gauge.threshold.value == 90


def test_gauges_without_data_show_a_dash_not_zero(snap):
    snap["headline"]["first_response"]["median_s"] = None
    fig = built.response_gauge(snap)
    assert fig.data[0].mode == "gauge" and fig.data[0].value is None
    assert any(a.text == "—" for a in fig.layout.annotations)


def test_figures_use_the_dark_transparent_theme(snap, geom):
    for fig in (built.category_ranking(snap), built.hourly(snap), built.on_time_gauge(snap),
                built.map_figure(geom, snap), built.empty_figure("x")):
        assert fig.layout.paper_bgcolor == "rgba(0,0,0,0)"
        assert fig.layout.font.color == Theme.TEXT


def test_small_districts_get_a_callout_beside_the_map():
    fc = copy.deepcopy(FC)
    fc["features"].append({"type": "Feature", "properties": {"k": "T", "district": "tiny", "name": "Tiny"},
                           "geometry": _square(9.5, 9.5, 0.2)})
    geom = geo.map_geometry(fc)
    callouts = dict(zip(geom.ids, geom.callouts))
    assert callouts["north"] is None and callouts["tiny"] is not None
    assert callouts["tiny"][0] > 10                              # in a column right of the map
    assert geom.x_range[1] > callouts["tiny"][0]
    assert geom.ids[-1] == "tiny"                                # drawn last, on top of its neighbours
