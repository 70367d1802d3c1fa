"""The newsroom page (``/newsroom/``): filters and a search on top, then the stories, best first, each
with its reasons, its masked texts and its "taken" mark.

Like the manager page, the frame is static and assets/newsroom.js fills it from ``/newsroom/feed``
(callbacks/newsroom.py); the story cards are built here, so the first paint and every refresh come
from the same code. Every citizen text is a component's text, never HTML.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import dcc, html

from dashboard import newsroom
from dashboard.i18n import duration, locale, strings
from dashboard.profiles import Profile

from .manager import DROPDOWN_LABELS

ROOT = "n-root"
CONFIG = "n-config"
CLOCK = "n-clock"
FRESHNESS = "n-freshness"
ERROR = "n-error"
USER = "n-user"
PERIOD = "n-period"
DISTRICT = "n-district"
CATEGORY = "n-category"
STATUS = "n-status"
SEARCH = "n-search"
HIDE_TAKEN = "n-hide-taken"
RESET = "n-reset"
MANAGER_LINK = "n-manager-link"
COUNT = "n-count"
LIST = "n-list"
CONTROLS = (PERIOD, DISTRICT, CATEGORY, STATUS, SEARCH, HIDE_TAKEN)

TEXT_KEYS = ("updated_ago", "updated_now", "stale_since", "unreachable", "waiting", "replay", "m_error",
             "m_bad_address", "n_take_failed")
STATUS_KEYS = {"all": "n_status_all", "open": "n_status_open", "resolved": "n_status_resolved"}


def newsroom_layout(profile: Profile, *, feed_url: str, action_url: str, refresh_ms: int, wall_url: str = "/",
                    manager_url: str = "/manager/") -> html.Div:
    s = strings(profile.language, profile.labels)
    config = {"tz": profile.timezone, "locale": locale(profile.language), "feed_url": feed_url,
              "action_url": action_url, "refresh_ms": refresh_ms,
              # The page's own server, not the wall's, is the one that stops answering here.
              "text": {**{k: s[k] for k in TEXT_KEYS}, "server_stale_since": s["page_server_stale_since"],
                       "server_unreachable": s["page_server_unreachable"]},
              "ids": {"freshness": FRESHNESS, "clock": CLOCK, "error": ERROR, "list": LIST}}
    labels = {k: s[v] for k, v in DROPDOWN_LABELS.items()}

    def picker(id_: str, label_key: str) -> html.Label:
        return html.Label(className="m-filter", children=[
            html.Span(s[label_key], className="m-filter-label"),
            dcc.Dropdown(id=id_, options=[], value=[], multi=True, placeholder=s["m_any"], className="m-dropdown",
                         labels=labels),
        ])

    def radio(id_: str, choices: dict[str, str], value: str) -> dcc.RadioItems:
        return dcc.RadioItems(id=id_, options=[{"label": s[k], "value": v} for v, k in choices.items()],
                              value=value, inline=True, className="m-radio")

    return html.Div(id=ROOT, lang=locale(profile.language), className="manager newsroom", children=[
        dcc.Store(id=CONFIG, data=config),
        html.Header(className="m-header", children=[
            html.H1([profile.title, html.Span(" · " + s["n_title"], className="m-subtitle")]),
            html.Div(className="m-status", children=[
                html.Span(id=CLOCK, className="m-clock"),
                html.Span(s["waiting"], id=FRESHNESS, className="freshness is-missing"),
                html.A(s["m_to_wall"], href=wall_url, className="m-link"),
                # Shown to users who may open the manager view (the feed says).
                html.A(s["n_to_manager"], href=manager_url, className="m-link", id=MANAGER_LINK,
                       style={"display": "none"}),
                html.Span(id=USER, className="m-user"),
                html.Form(action="/signout", method="post", className="m-signout",
                          children=html.Button(s["m_sign_out"], type="submit", className="m-link m-sort")),
            ]),
        ]),
        html.Section(className="m-filters", children=[
            html.Div(className="m-filter", children=[
                html.Span(s["m_period"], className="m-filter-label"),
                radio(PERIOD, {"today": "m_period_today", "7d": "m_period_7d", "30d": "m_period_30d"}, "today"),
            ]),
            picker(DISTRICT, "m_district"),
            picker(CATEGORY, "m_category"),
            html.Div(className="m-filter", children=[
                html.Span(s["n_status"], className="m-filter-label"),
                radio(STATUS, STATUS_KEYS, "all"),
            ]),
            html.Label(className="m-filter n-search", children=[
                html.Span(s["n_search"], className="m-filter-label"),
                dcc.Input(id=SEARCH, type="search", value="", debounce=True, placeholder=s["n_search_hint"],
                          maxLength=newsroom.MAX_QUERY_CHARS, className="n-search-box"),
            ]),
            dcc.Checklist(id=HIDE_TAKEN, options=[{"label": s["n_hide_taken"], "value": "1"}], value=[],
                          className="m-radio n-hide"),
            html.A(s["m_reset"], id=RESET, href="?", className="m-link m-reset"),
        ]),
        html.Div(id=ERROR, className="m-error", style={"display": "none"}),
        html.P(id=COUNT, className="m-note n-count"),
        html.Section(id=LIST, className="n-list"),
    ])


# -- the answer's panels ----------------------------------------------------------------------------

def _clock(iso: str | None) -> str:
    """'2024-05-27T14:05:00-04:00' -> '05-27 14:05' (the stories are all recent)."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).strftime("%m-%d %H:%M")


def _count(n: float) -> str:
    return f"{n:g}" if n < 100 else f"{n:.0f}"


def reason_text(reason: dict[str, Any], story: dict[str, Any], s: dict[str, str]) -> str:
    kind = reason["kind"]
    if kind == newsroom.SURGE:
        return s["n_reason_surge"].format(n=reason["count"], usual=_count(reason["usual"]),
                                          category=story["category"], district=story["district_name"])
    if kind == newsroom.SHARED:
        return s["n_reason_shared"].format(n=reason["count"], usual=_count(reason["usual"]))
    if kind == newsroom.FAST:
        return s["n_reason_fast"].format(d=duration(reason["seconds"], s), category=story["category"],
                                         usual=duration(reason["usual_seconds"], s))
    if kind == newsroom.LONG:
        return s["n_reason_long_standing"].format(d=duration(reason["seconds"], s))
    return s["n_reason_praised"].format(rating=reason["rating"])


def story_cards(answer: dict[str, Any], profile: Profile, user: str) -> list[Any]:
    s = strings(profile.language, profile.labels)
    if not answer["stories"]:
        return [html.P(s["n_none"], className="m-note n-none")]
    cards = []
    for st in answer["stories"]:
        meta = [st["id"], _clock(st["created"]), st["district_name"], st["category"], st["unit"] or "—",
                s["n_resolved_at"].format(t=_clock(st["resolved"])) if st["resolved"] else s["n_open"]]
        if st["satisfaction"] is not None:
            meta.append(s["n_rated"].format(rating=st["satisfaction"]))
        mark = st["taken"]
        if mark:
            mine = mark["by"] == user
            when = datetime.fromtimestamp(mark["at"], profile.tz).strftime("%H:%M")
            label = s["n_taken_by_you"].format(t=when) if mine else s["n_taken_by"].format(user=mark["by"], t=when)
            action = [html.Span(label, className="n-taken")]
            if mine:
                action.append(html.Button(s["n_release"], className="n-action n-release",
                                          **{"data-id": st["id"], "data-action": "release"}))
        else:
            action = [html.Button(s["n_take"], className="n-action n-take",
                                  **{"data-id": st["id"], "data-action": "take"})]
        body = [
            html.Div(className="n-head", children=[
                html.Span(s["n_score"].format(score=f"{st['score']:.1f}"), className="n-score"),
                html.Ul([html.Li(reason_text(r, st, s), className=f"n-reason n-reason-{r['kind']}")
                         for r in st["reasons"]], className="n-reasons"),
            ]),
            html.H3(st["title"] or "—", className="n-title"),
            html.P(" · ".join(meta), className="m-note n-meta"),
        ]
        if st["text"]:
            body.append(html.P(st["text"], className="n-text"))
        if st["reply"]:
            body.append(html.P([html.Strong(s["n_reply"], className="n-reply-label"), st["reply"]],
                               className="n-reply"))
        body.append(html.Div(action, className="n-mark"))
        cards.append(html.Article(body, className="n-story" + (" is-taken" if mark else ""),
                                  **{"data-story": st["id"]}))
    return cards


def count_line(answer: dict[str, Any], profile: Profile) -> str:
    s = strings(profile.language, profile.labels)
    usual = answer["usual_level"]
    text = s["n_count"].format(n=answer["matched"], shown=len(answer["stories"]))
    if usual["shifts"]:
        return text + " · " + s[f"n_usual_{usual['step_days']:g}"].format(k=usual["shifts"])
    return text + " · " + s["n_no_usual"]
