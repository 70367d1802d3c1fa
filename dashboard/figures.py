"""Pure plotly figure builders: snapshot dict in, figure out (a plain ``{"data", "layout"}`` dict).
No I/O.

Figures are built as plain dicts rather than ``plotly.graph_objects``: validating graph objects
cost about 50 ms per wall version, the dicts cost well under a millisecond, and a screen is sent
the same JSON either way. The tests load every figure into ``go.Figure`` to check that it is valid.

The wall runs offline, so the district map is drawn with ordinary filled scatter polygons (no
geo/mapbox traces, which fetch topojson or tiles). Its outlines are prepared once per profile
(``geo.map_geometry``); each refresh only changes colours and labels (``map_style``, which the
screen applies to the figure it already has).

Plotly renders a subset of HTML in text, titles, legends and hover labels, so every producer- or
citizen-written string goes through ``esc`` before it reaches a figure. Nobody touches a wall, so
no figure has hover labels at all: there is no hover template a string could be interpolated into.
"""

from __future__ import annotations

import functools
import html
import math
from typing import Any

from plotly.colors import sample_colorscale

from .geo import MapGeometry
from .i18n import strings

ALL = "__all__"
TOP_CATEGORIES = 10


class Theme:
    """Dark big-screen palette; assets/theme.css holds the same colours."""

    BACKGROUND = "#0b1220"
    TEXT = "#f1f5f9"
    MUTED = "#94a3b8"
    GRID = "rgba(148,163,184,0.18)"
    OUTLINE = "#0b1220"
    ACCENT = "#38bdf8"
    ZERO_FILL = "#1e293b"
    FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans SC', 'Microsoft YaHei', 'PingFang SC', 'Segoe UI', Roboto, sans-serif"
    FONT_SMALL, FONT_MEDIUM, FONT_LARGE, FONT_HUGE = 16, 20, 26, 44
    # Sequential, monotone in lightness from the panel colour up, so "more" always reads brighter.
    SEQUENTIAL = [[0.0, "#1e3a5f"], [0.35, "#1d6fa5"], [0.65, "#38bdf8"], [0.85, "#a5f3fc"], [1.0, "#fef9c3"]]
    CATEGORICAL = ["#38bdf8", "#f59e0b", "#a78bfa", "#34d399", "#f472b6", "#94a3b8", "#facc15", "#60a5fa"]
    BANDS = {"green": "#22c55e", "amber": "#f59e0b", "red": "#ef4444"}
    BAND_TINTS = {"green": "rgba(34,197,94,0.22)", "amber": "rgba(245,158,11,0.22)", "red": "rgba(239,68,68,0.22)"}

    @staticmethod
    def base_layout(**overrides: Any) -> dict[str, Any]:
        layout = {
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": Theme.FONT_FAMILY, "size": Theme.FONT_MEDIUM, "color": Theme.TEXT},
            "margin": {"l": 8, "r": 8, "t": 8, "b": 8}, "showlegend": False, "uirevision": "wall",
            "hovermode": False,
            # No template: plotly.py's default one would add 7 KB to every figure a screen is sent;
            # every colour the wall needs is set here or on the traces.
            "autotypenumbers": "strict",   # "00".."23" stay hour labels, not numbers
        }
        layout.update(overrides)
        return layout


def esc(value: Any) -> str:
    """Text that plotly shows literally: its pseudo-HTML tags and entities are neutralised."""
    return html.escape(str(value), quote=False)


Figure = dict[str, Any]


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> Figure:
    return {"data": data, "layout": layout}


def annotation(text: str, x: float, y: float, **more: Any) -> dict[str, Any]:
    """A text annotation; in paper coordinates unless ``more`` says otherwise."""
    return {"text": text, "showarrow": False, "x": x, "y": y, "xref": "paper", "yref": "paper", **more}


def empty_figure(message: str = "") -> Figure:
    layout = Theme.base_layout(xaxis={"visible": False}, yaxis={"visible": False})
    if message:
        layout["annotations"] = [annotation(esc(message), 0.5, 0.5,
                                            font={"size": Theme.FONT_LARGE, "color": Theme.MUTED})]
    return figure([], layout)


# -- district map ---------------------------------------------------------------------------------

def district_counts(snapshot: dict[str, Any] | None, category: str = ALL) -> dict[str, int]:
    """Today's received count per district id, optionally for one category only."""
    if not snapshot:
        return {}
    if category and category != ALL:
        by_dc = snapshot.get("by_district_category", {})
        return {d: cats.get(category, 0) for d, cats in by_dc.items()}
    return {row["id"]: row["received"] for row in snapshot.get("by_district", [])}


def map_style(geom: MapGeometry, snapshot: dict[str, Any] | None, category: str = ALL,
              language: str = "en") -> dict[str, Any]:
    """Fill colours, label texts (in draw order) and the footnote for the current data."""
    counts = district_counts(snapshot, category)
    values = [counts.get(d, 0) for d in geom.ids]
    top = max(values, default=0)
    fills = [Theme.ZERO_FILL if v == 0 else _fill(v / top) for v in values]
    shown = [str(v) if snapshot else "—" for v in values]   # no data is not zero
    labels = [f"{esc(name)} <b>{v}</b>" if callout else f"{esc(name)}<br><b>{v}</b>"
              for name, v, callout in zip(geom.names, shown, geom.callouts)]
    inks = [Theme.TEXT if callout else ink_for(fill) for fill, callout in zip(fills, geom.callouts)]
    unknown = (snapshot or {}).get("unknown_district_today", 0) if category == ALL else 0
    note = esc(strings(language)["unknown_district"].format(n=unknown)) if unknown else ""
    return {"fills": fills, "labels": labels, "inks": inks, "note": note}


@functools.lru_cache(maxsize=4096)
def _fill(share: float) -> str:
    return sample_colorscale(Theme.SEQUENTIAL, [share])[0]


@functools.lru_cache(maxsize=4096)
def ink_for(fill: str) -> str:
    """Dark text on light fills, light text on dark ones (WCAG relative luminance)."""
    if fill.startswith("#"):
        rgb = [int(fill[k:k + 2], 16) for k in (1, 3, 5)]
    else:
        rgb = [int(float(v)) for v in fill[fill.index("(") + 1:fill.index(")")].split(",")[:3]]
    lin = [(c / 255) / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return Theme.BACKGROUND if luminance > 0.3 else Theme.TEXT


def map_figure(geom: MapGeometry, snapshot: dict[str, Any] | None, category: str = ALL,
               language: str = "en") -> Figure:
    """Traces 0..n-1 are the districts; annotation 0 is the footnote, 1..n the district labels."""
    style = map_style(geom, snapshot, category, language)
    data = [{"type": "scatter", "x": list(xs), "y": list(ys), "mode": "lines", "fill": "toself", "fillcolor": fill,
             "line": {"color": Theme.OUTLINE, "width": 1.5}, "hoverinfo": "skip", "showlegend": False}
            for xs, ys, fill in zip(geom.xs, geom.ys, style["fills"])]
    notes = [annotation(style["note"], 0.01, 0.01, xanchor="left", yanchor="bottom",
                        font={"size": Theme.FONT_SMALL, "color": Theme.MUTED})]
    for x, y, text, ink, callout in zip(geom.label_x, geom.label_y, style["labels"], style["inks"], geom.callouts):
        label = {"x": x, "y": y, "text": text, "showarrow": False, "font": {"size": Theme.FONT_MEDIUM, "color": ink}}
        if callout is not None:
            label.update(showarrow=True, ax=callout[0], ay=callout[1], axref="x", ayref="y",
                         xanchor="right" if callout[0] < x else "left", arrowhead=0, arrowwidth=1.5,
                         arrowcolor=Theme.MUTED)
        notes.append(label)
    return figure(data, Theme.base_layout(
        margin={"l": 4, "r": 4, "t": 4, "b": 4}, annotations=notes,
        xaxis={"visible": False, "fixedrange": True, "range": list(geom.x_range)},
        yaxis={"visible": False, "fixedrange": True, "range": list(geom.y_range), "scaleanchor": "x",
               "scaleratio": 1 / max(math.cos(math.radians(geom.mid_lat)), 0.1)}))


# -- charts ---------------------------------------------------------------------------------------

def category_ranking(snapshot: dict[str, Any], language: str = "en", top: int = TOP_CATEGORIES) -> Figure:
    rows = snapshot.get("by_category", [])[:top]
    if not rows:
        return empty_figure(strings(language)["no_data"])
    names = [esc(r["name"] or strings(language)["no_category"]) for r in rows]
    counts = [r["received"] for r in rows]
    bar = {"type": "bar", "x": counts, "y": names, "orientation": "h", "text": counts, "textposition": "outside",
           "cliponaxis": False, "constraintext": "none",
           "marker": {"color": sample_colorscale(Theme.SEQUENTIAL, [0.35 + 0.65 * c / max(counts) for c in counts])},
           "textfont": {"size": Theme.FONT_MEDIUM, "color": Theme.TEXT}, "hoverinfo": "skip"}
    return figure([bar], Theme.base_layout(
        margin={"l": 8, "r": 48, "t": 4, "b": 4},
        yaxis={"autorange": "reversed", "automargin": True, "tickmode": "array", "tickvals": names,
               "ticktext": names, "tickfont": {"size": Theme.FONT_SMALL + 2}},
        xaxis={"visible": False, "range": [0, max(counts) * 1.18]}))


def channel_split(snapshot: dict[str, Any], language: str = "en") -> Figure:
    rows = snapshot.get("by_channel", [])
    s = strings(language)
    if not rows:
        return empty_figure(s["no_data"])
    total = sum(r["received"] for r in rows) or 1
    legend = [f"{esc(r['label'])}  <b>{r['received']}</b>  {100 * r['received'] / total:.0f}%" for r in rows]
    pie = {"type": "pie", "labels": legend, "values": [r["received"] for r in rows], "hole": 0.62, "sort": False,
           "textinfo": "none", "hoverinfo": "skip", "domain": {"x": [0.0, 0.42], "y": [0.0, 1.0]},
           "marker": {"colors": Theme.CATEGORICAL[: len(rows)], "line": {"color": Theme.BACKGROUND, "width": 2}}}
    return figure([pie], Theme.base_layout(
        margin={"l": 4, "r": 4, "t": 4, "b": 4}, showlegend=True,
        legend={"font": {"size": Theme.FONT_MEDIUM}, "x": 0.46, "xanchor": "left", "y": 0.5, "yanchor": "middle",
                "itemclick": False},
        annotations=[annotation(f"<b>{sum(r['received'] for r in rows)}</b>", 0.21, 0.5,
                                font={"size": Theme.FONT_LARGE, "color": Theme.TEXT})]))


def hourly(snapshot: dict[str, Any], language: str = "en") -> Figure:
    """Bars for today's hours up to the current one, a line for all 24 hours of yesterday."""
    s = strings(language)
    hours = [f"{h:02d}" for h in range(24)]
    today = list(snapshot.get("hourly", {}).get("today", [0] * 24))
    yday = list(snapshot.get("hourly", {}).get("yesterday", [0] * 24))
    now_hour = _hour_of(snapshot.get("as_of", ""))
    shown = [v if h <= now_hour else None for h, v in enumerate(today)]
    data = [
        {"type": "bar", "x": hours, "y": shown, "name": esc(s["today"]), "marker": {"color": Theme.ACCENT},
         "hoverinfo": "skip"},
        {"type": "scatter", "x": hours, "y": yday, "name": esc(s["yesterday"]), "mode": "lines",
         "line": {"color": Theme.MUTED, "width": 3, "dash": "dot", "shape": "spline"}, "hoverinfo": "skip"},
    ]
    return figure(data, Theme.base_layout(
        margin={"l": 40, "r": 8, "t": 4, "b": 28}, showlegend=True, bargap=0.15,
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom",
                "font": {"size": Theme.FONT_SMALL}},
        xaxis={"tickfont": {"size": Theme.FONT_SMALL}, "dtick": 3, "showgrid": False},
        yaxis={"gridcolor": Theme.GRID, "tickfont": {"size": Theme.FONT_SMALL}, "rangemode": "tozero"}))


def _hour_of(iso: str) -> int:
    try:
        return int(iso[11:13])
    except (ValueError, IndexError):
        return 23


# -- gauges ---------------------------------------------------------------------------------------

def response_band(minutes: float | None, target: float) -> str:
    """green at or under target, amber up to 1.5 x target, red beyond."""
    if minutes is None:
        return "none"
    if minutes <= target:
        return "green"
    return "amber" if minutes <= 1.5 * target else "red"


def rate_band(rate: float | None, target: float) -> str:
    """green at or above target, amber within 10 points below it, red further down."""
    if rate is None:
        return "none"
    if rate >= target:
        return "green"
    return "amber" if rate >= target - 0.10 else "red"


def response_gauge(snapshot: dict[str, Any], language: str = "en") -> Figure:
    s = strings(language)
    target = float(snapshot.get("targets", {}).get("first_response_minutes", 60))
    median_s = snapshot.get("headline", {}).get("first_response", {}).get("median_s")
    minutes = None if median_s is None else median_s / 60
    top = max(2 * target, (minutes or 0) * 1.1)
    steps = [(0, target, "green"), (target, 1.5 * target, "amber"), (1.5 * target, top, "red")]
    return _gauge(minutes, top, steps, target, response_band(minutes, target),
                  s["minutes_suffix"], s["target_minutes"].format(n=f"{target:g}"), ".0f")


def on_time_gauge(snapshot: dict[str, Any], language: str = "en") -> Figure:
    s = strings(language)
    target = float(snapshot.get("targets", {}).get("on_time_rate", 0.9))
    rate = snapshot.get("headline", {}).get("on_time_rate", {}).get("value")
    low = max(0.0, target - 0.10)
    steps = [(0, low * 100, "red"), (low * 100, target * 100, "amber"), (target * 100, 100, "green")]
    return _gauge(None if rate is None else rate * 100, 100, steps, target * 100, rate_band(rate, target),
                  "%", s["target_rate"].format(n=f"{target * 100:g}"), ".1f")


def _gauge(value: float | None, top: float, steps: list, target: float, band: str, suffix: str,
           caption: str, fmt: str) -> Figure:
    bar_colour = Theme.BANDS.get(band, Theme.MUTED)
    indicator = {
        "type": "indicator", "mode": "gauge+number" if value is not None else "gauge",
        "number": {"suffix": esc(suffix), "valueformat": fmt, "font": {"size": Theme.FONT_HUGE, "color": bar_colour}},
        "gauge": {
            "shape": "angular",
            "axis": {"range": [0, top], "tickfont": {"size": Theme.FONT_SMALL, "color": Theme.MUTED},
                     "tickcolor": Theme.MUTED},
            "bar": {"color": bar_colour, "thickness": 0.32},
            "bgcolor": "rgba(0,0,0,0)", "borderwidth": 0,
            "steps": [{"range": [a, b], "color": Theme.BAND_TINTS[name]} for a, b, name in steps],
            "threshold": {"line": {"color": Theme.TEXT, "width": 4}, "thickness": 0.9, "value": target},
        },
        "domain": {"x": [0, 1], "y": [0.12, 1]},
    }
    if value is not None:
        indicator["value"] = value
    notes = [annotation(esc(caption), 0.5, 0.0, yanchor="bottom", font={"size": Theme.FONT_SMALL, "color": Theme.MUTED})]
    if value is None:
        notes.append(annotation("—", 0.5, 0.3, font={"size": Theme.FONT_HUGE, "color": Theme.MUTED}))
    # Room on every side for the tick labels round the arc ("100" at the right end), whatever the box.
    return figure([indicator], Theme.base_layout(margin={"l": 40, "r": 40, "t": 26, "b": 4}, annotations=notes))
