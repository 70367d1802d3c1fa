"""The wall page: a pure component tree for a 1920x1080 screen, plus the small builders the
refresh callback reuses (headline texts, ticker rows, resolved-case cards, freshness status).

Citizen text only ever appears as plain string children of html components, which React renders
as text nodes; nothing here uses markdown or raw HTML.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html

from dashboard import figures, playlist
from dashboard.figures import ALL
from dashboard.geo import MapGeometry
from dashboard.i18n import duration, locale, strings
from dashboard.profiles import Profile
from dashboard.settings import Settings

from . import ids

GRAPH_CONFIG = {"displayModeBar": False, "staticPlot": True, "responsive": True}
FRESHNESS_KEYS = ("updated_ago", "updated_now", "delayed_since", "stale_since", "unreachable",
                  "server_stale_since", "server_unreachable", "waiting")


def wall_layout(profile: Profile, settings: Settings, snapshot: dict[str, Any] | None,
                geometry: MapGeometry | None = None, now: float | None = None,
                feed_url: str = "/api/v1/wall") -> html.Div:
    """The whole page. With a snapshot, every panel already shows current figures on first paint.
    It opens on the playlist's view of this moment (a screen pinned with ?view= switches to its own
    view on its first tick: the page's layout is fetched without the page's query string)."""
    now = time.time() if now is None else now
    slots = playlist.effective(settings.playlist, profile.playlist)
    shown = slots[playlist.current(slots, now)[0]].view
    s = strings(profile.language, profile.labels)
    status = make_status(snapshot, ALL, profile.timezone, settings.stale_after_s, now)
    config = {"tz": profile.timezone, "locale": locale(profile.language), "feed_url": feed_url,
              "stream_url": feed_url + "/stream" if settings.push == "on" else "",
              "refresh_ms": settings.refresh_ms, "graphs": list(ids.GRAPHS), "map": ids.MAP,
              "category": ids.MAP_CATEGORY, "all": ALL, "clock": ids.CLOCK, "freshness": ids.FRESHNESS,
              "replay": ids.REPLAY, "canvas": ids.CANVAS,
              "stale_after_s": settings.stale_after_s, "text": {k: s[k] for k in FRESHNESS_KEYS},
              "playlist": playlist.as_config(slots), "views": list(playlist.VIEWS)}
    return html.Div(id=ids.ROOT, lang=locale(profile.language), children=[
        dcc.Store(id=ids.CONFIG, data=config),
        dcc.Store(id=ids.STATUS, data=status),      # what the page was rendered with; assets/wall.js takes over
        html.Div(id=ids.CANVAS, className=view_class(shown), children=[
            _header(profile, status, s, now),
            _headlines(headline_texts(snapshot, s), s),
            *_panels(profile, snapshot, geometry, s),
        ]),
    ])


def _header(profile: Profile, status: dict[str, Any], s: dict[str, str], now: float) -> html.Header:
    fresh_text, fresh_class = freshness_text(status, s)
    return html.Header(className="wall-header", children=[
        html.H1(profile.title, id=ids.TITLE, className="wall-title"),
        html.Div(className="wall-status", children=[
            html.Span(s["replay"], id=ids.REPLAY, className="replay-badge",
                      style={} if status["mode"] == "replay" else {"display": "none"}),
            html.Span(clock_text(status, profile.timezone, now), id=ids.CLOCK, className="clock"),
            html.Span(fresh_text, id=ids.FRESHNESS, className=fresh_class),
        ]),
    ])


def _headlines(heads: dict[str, str], s: dict[str, str]) -> html.Section:
    def kpi(label: str, value_id: str, sub_id: str | None, sub_text: str = "", cls: str = "") -> html.Div:
        sub = (html.Div(heads[sub_id], id=sub_id, className="kpi-sub") if sub_id
               else html.Div(sub_text, className="kpi-sub"))
        return html.Div([html.Div(label, className="kpi-label"),
                         html.Div(heads[value_id], id=value_id, className="kpi-value"), sub],
                        className=f"kpi {cls}".strip())

    return html.Section(className="kpis", children=[
        kpi(s["received_today"], ids.KPI_RECEIVED, ids.KPI_RECEIVED_SUB, cls="kpi-primary"),
        kpi(s["open_backlog"], ids.KPI_BACKLOG, None, s["open_backlog_sub"]),
        kpi(s["overdue_now"], ids.KPI_OVERDUE, None, s["overdue_now_sub"], cls="kpi-alert"),
        kpi(s["resolution_rate"], ids.KPI_RESOLUTION, ids.KPI_RESOLUTION_SUB),
        kpi(s["on_time_rate"], ids.KPI_ON_TIME, ids.KPI_ON_TIME_SUB),
        kpi(s["satisfaction_rate"], ids.KPI_SATISFACTION, ids.KPI_SATISFACTION_SUB),
    ])


def _panels(profile: Profile, snapshot: dict[str, Any] | None, geometry: MapGeometry | None,
            s: dict[str, str]) -> list[html.Section]:
    lang = profile.language
    no = figures.empty_figure(s["no_data"])

    def graph(id_: str, build) -> dcc.Graph:
        return dcc.Graph(id=id_, figure=build(snapshot, lang) if snapshot else no, config=GRAPH_CONFIG,
                         className="graph")

    has_map = geometry is not None and len(geometry.ids) > 0
    map_graph = dcc.Graph(id=ids.MAP, figure=figures.map_figure(geometry, snapshot, ALL, lang) if has_map else no,
                          config=GRAPH_CONFIG, className="graph")
    return [
        _panel("gauges", None, [
            html.Div([html.H2(s["first_response_median"]), graph(ids.GAUGE_RESPONSE, figures.response_gauge)],
                     className="gauge"),
            html.Div([html.H2(s["on_time_rate"]), graph(ids.GAUGE_ON_TIME, figures.on_time_gauge)],
                     className="gauge"),
        ]),
        _panel("map", s["district_map"], [map_graph], tools=html.Div(dcc.Dropdown(
            id=ids.MAP_CATEGORY, options=category_options(profile, snapshot, s), value=ALL,
            clearable=False, searchable=False, className="category-select"), className="category-picker")),
        _panel("ranking", s["category_ranking"], [graph(ids.RANKING, figures.category_ranking)]),
        _panel("channels", s["channel_split"], [graph(ids.CHANNELS, figures.channel_split)]),
        _panel("hourly", s["hourly"], [graph(ids.HOURLY, figures.hourly)]),
        _panel("ticker", s["ticker"], [html.Div(ticker_rows(snapshot, s), id=ids.TICKER, className="ticker")]),
        _panel("cases", s["resolved_cases"], [html.Div(case_cards(snapshot, s), id=ids.CASES, className="cases")]),
    ]


def _panel(area: str, title: str | None, body: list, tools=None) -> html.Section:
    head = [html.H2(title)] if title else []
    if tools is not None:
        head.append(tools)
    children = ([html.Div(head, className="panel-head")] if head else []) + [html.Div(body, className="panel-body")]
    return html.Section(children, className=f"panel panel-{area}")


def view_class(view: str) -> str:
    """The canvas's class for a view; assets/wall.css arranges the panels for each."""
    return f"wall view-{view}"


# -- pieces the refresh callback reuses --------------------------------------------------------

def _pct(rate: dict[str, Any]) -> str:
    return "—" if rate.get("value") is None else f"{rate['value'] * 100:.1f}%"


def headline_texts(snapshot: dict[str, Any] | None, s: dict[str, str]) -> dict[str, str]:
    """Text of every headline element, keyed by component id."""
    if not snapshot:
        return {k: "—" for k in ids.HEADLINES}
    h = snapshot["headline"]

    def frac(rate: dict[str, Any]) -> str:
        return s["fraction"].format(num=rate.get("num", 0), den=rate.get("den", 0))

    return {
        ids.KPI_RECEIVED: str(h["received_today"]),
        ids.KPI_RECEIVED_SUB: s["same_time_yesterday"].format(n=h["received_same_time_yesterday"]),
        ids.KPI_BACKLOG: str(h["open_backlog"]),
        ids.KPI_OVERDUE: str(h["overdue_now"]),
        ids.KPI_RESOLUTION: _pct(h["resolution_rate"]),
        ids.KPI_RESOLUTION_SUB: frac(h["resolution_rate"]),
        ids.KPI_ON_TIME: _pct(h["on_time_rate"]),
        ids.KPI_ON_TIME_SUB: frac(h["on_time_rate"]),
        ids.KPI_SATISFACTION: _pct(h["satisfaction_rate"]),
        ids.KPI_SATISFACTION_SUB: frac(h["satisfaction_rate"]),
    }


def ticker_rows(snapshot: dict[str, Any] | None, s: dict[str, str]) -> list:
    rows = (snapshot or {}).get("ticker", [])
    if not rows:
        return [html.Div(s["no_appeals"], className="empty")]
    today = (snapshot or {}).get("today", "")
    return [ticker_row(ticker_texts(r, today)) for r in rows]


def ticker_texts(r: dict[str, Any], today: str) -> tuple:
    """Everything one ticker row shows, as a key: the wall keeps rows it has drawn by it."""
    words = " — ".join(part for part in (r.get("title", ""), r.get("text", "")) if part)
    created = r.get("created", "")
    # Before today, show the date too, so that just after midnight yesterday's rows are not misread.
    when = created[11:16] if created[:10] == today else created[5:10]
    return (when, r.get("channel") or "—", r.get("district") or "—", r.get("category") or "—", words,
            bool(r.get("resolved")))


def ticker_row(texts: tuple) -> html.Div:
    when, channel, district, category, words, resolved = texts
    return html.Div(className="ticker-row" + (" is-resolved" if resolved else ""), children=[
        html.Span(when, className="t-time"),
        html.Span(channel, className="t-channel"),
        html.Span(district, className="t-district"),
        html.Span(category, className="t-category"),
        html.Span(words, className="t-text"),
    ])


def case_cards(snapshot: dict[str, Any] | None, s: dict[str, str]) -> list:
    rows = (snapshot or {}).get("resolved_cases", [])
    if not rows:
        return [html.Div(s["no_resolved"], className="empty")]
    return [case_card(case_texts(r, s)) for r in rows]


def case_texts(r: dict[str, Any], s: dict[str, str]) -> tuple:
    """Everything one resolved-case card shows, in the wall's language, as a key."""
    return (r.get("category") or "—", r.get("district") or "—", r.get("unit") or s["unit_unknown"],
            s["resolved_in"].format(d=duration(r.get("duration_s"), s)), r.get("title") or r.get("text") or "",
            r.get("reply") or "")


def case_card(texts: tuple) -> html.Article:
    category, district, unit, took, title, reply = texts
    return html.Article(className="case", children=[
        html.Div([html.Span(category, className="c-category"),
                  html.Span(district, className="c-district"),
                  html.Span(unit, className="c-unit"),
                  html.Span(took, className="c-duration")],
                 className="c-head"),
        html.Div(title, className="c-title"),
        html.Div(reply, className="c-reply"),
    ])


def category_options(profile: Profile, snapshot: dict[str, Any] | None, s: dict[str, str]) -> list[dict]:
    names = [c.name for c in profile.categories]
    names += [r["name"] for r in (snapshot or {}).get("by_category", []) if r["name"] and r["name"] not in names]
    labels = {c.name: c.label or c.name for c in profile.categories}
    return [{"label": s["all_categories"], "value": ALL}] + [{"label": labels.get(n, n), "value": n} for n in names]


def hhmm(ts: float | None, tz: str, now: float) -> str:
    """HH:MM in the city's time zone; the date too when it is not today's."""
    if ts is None:
        return ""
    zone = ZoneInfo(tz)
    when, today = datetime.fromtimestamp(ts, zone), datetime.fromtimestamp(now, zone)
    return when.strftime("%H:%M") if when.date() == today.date() else when.strftime("%m-%d %H:%M")


def make_status(snapshot: dict[str, Any] | None, category: str, tz: str, stale_after_s: float,
                now: float) -> dict[str, Any]:
    """What the wall is showing and how fresh it is; the clock script reads this every second."""
    if not snapshot:
        return {"state": "missing", "since": "", "built_at": None, "category": category, "checked_at": now,
                "mode": "live", "as_of": ""}
    built = float(snapshot["built_at"])
    delayed = now - built > stale_after_s
    return {"state": "delayed" if delayed else "live", "since": hhmm(built, tz, now) if delayed else "",
            "built_at": built, "category": category, "checked_at": now,
            "mode": snapshot.get("clock", "live"), "as_of": snapshot.get("as_of", "")}


def stale_status(previous: dict[str, Any] | None, tz: str, now: float) -> dict[str, Any]:
    """The store is unreachable: keep what is shown, say since when it is old."""
    prev = dict(previous or make_status(None, ALL, tz, 0, now))
    prev.update(state="stale", since=hhmm(prev.get("built_at"), tz, now), checked_at=now)
    return prev


def freshness_text(status: dict[str, Any], s: dict[str, str]) -> tuple[str, str]:
    state = status.get("state", "missing")
    if state == "stale":
        text = s["stale_since"].format(t=status["since"]) if status.get("since") else s["unreachable"]
    elif state == "delayed":
        text = s["delayed_since"].format(t=status["since"])
    elif state == "missing":
        text = s["waiting"]
    else:
        age = max(0, int(status["checked_at"] - status["built_at"]))
        text = s["updated_ago"].format(n=age) if age >= 2 else s["updated_now"]
    return text, f"freshness is-{state}"


def clock_text(status: dict[str, Any], tz: str, now: float) -> str:
    if status.get("mode") == "replay" and status.get("as_of"):
        return status["as_of"][:19].replace("T", " ")
    return datetime.fromtimestamp(now, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")
