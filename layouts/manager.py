"""The manager page (``/manager/``): filters on top, then the headline figures of the period, the
overdue and due-soon appeals, response times by group and the league table.

The page's frame is static. Its panels are filled by assets/manager.js from ``/manager/feed`` (see
callbacks/manager.py), whose answer is built by layouts/manager_panels.py, so the first paint and
every refresh come from the same code.
"""

from __future__ import annotations

from dash import dcc, html

from dashboard import manager
from dashboard.i18n import locale, strings
from dashboard.profiles import Profile

from . import manager_ids as mid
from .manager_panels import BY_KEYS, RANK_KEYS, STATE_KEYS

GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
FRESHNESS_KEYS = ("updated_ago", "updated_now", "stale_since", "unreachable", "server_stale_since",
                  "server_unreachable", "waiting", "replay", "m_overrun", "m_error", "m_bad_address",
                  "m_refused", "m_bad_unknown", "m_bad_value", "m_bad_one", "m_bad_district", "m_bad_long",
                  "m_bad_many", "m_unheld", "m_district", "m_category", "m_channel", "m_unit")
# Dash's dropdowns in the page's language (dcc.Dropdown's labels).
DROPDOWN_LABELS = {"search": "dd_search", "select_all": "dd_select_all", "deselect_all": "dd_deselect_all",
                   "selected_count": "dd_selected", "clear_search": "dd_clear_search",
                   "clear_selection": "dd_clear", "no_options_found": "dd_none"}


def manager_layout(profile: Profile, *, feed_url: str, api_url: str, refresh_ms: int, wall_url: str = "/",
                   newsroom_url: str = "/newsroom/") -> html.Div:
    s = strings(profile.language, profile.labels)
    # What the address may hold, so the page script can say exactly what in a bookmark is wrong and
    # show the rest, instead of quietly showing something else.
    allowed = {"period": list(manager.PERIODS), "state": list(manager.STATES), "sort": list(manager.DEADLINE_SORTS),
               "order": ["asc", "desc"], "times_by": list(BY_KEYS), "league_by": ["unit", "district", "category"],
               "rank_by": list(RANK_KEYS)}
    config = {"tz": profile.timezone, "locale": locale(profile.language), "feed_url": feed_url, "api_url": api_url,
              "refresh_ms": refresh_ms, "allowed": allowed,
              # The page's own server, not the wall's, is the one that stops answering here.
              "text": {**{k: s[k] for k in FRESHNESS_KEYS}, "server_stale_since": s["page_server_stale_since"],
                       "server_unreachable": s["page_server_unreachable"]},
              # A district may be written as its id, name or any alias (normalised as in profiles.py).
              "districts": profile.district_lookup(), "district_ids": [d.id for d in profile.districts],
              "max_values": manager.MAX_VALUES, "max_chars": manager.MAX_VALUE_CHARS,
              "ids": {"freshness": mid.FRESHNESS, "clock": mid.CLOCK, "error": mid.ERROR}}
    labels = {k: s[v] for k, v in DROPDOWN_LABELS.items()}

    def radio(id_: str, choices: dict[str, str], value: str) -> dcc.RadioItems:
        return dcc.RadioItems(id=id_, options=[{"label": s[k], "value": v} for v, k in choices.items()],
                              value=value, inline=True, className="m-radio")

    def picker(id_: str, label_key: str) -> html.Label:
        return html.Label(className="m-filter", children=[
            html.Span(s[label_key], className="m-filter-label"),
            dcc.Dropdown(id=id_, options=[], value=[], multi=True, placeholder=s["m_any"], className="m-dropdown",
                         labels=labels),
        ])

    return html.Div(id=mid.ROOT, lang=locale(profile.language), className="manager", children=[
        dcc.Store(id=mid.CONFIG, data=config),
        html.Header(className="m-header", children=[
            html.H1([profile.title, html.Span(" · " + s["m_title"], className="m-subtitle")]),
            html.Div(className="m-status", children=[
                html.Span(id=mid.CLOCK, className="m-clock"),
                html.Span(s["waiting"], id=mid.FRESHNESS, className="freshness is-missing"),
                html.A(s["m_to_wall"], href=wall_url, className="m-link"),
                html.A(s["n_title"], href=newsroom_url, className="m-link", id=mid.NEWSROOM_LINK),
                html.Span(id=mid.USER, className="m-user"),
                # A plain form: the session cookie is SameSite=Lax, so no other site can post it.
                html.Form(action="/signout", method="post", className="m-signout",
                          children=html.Button(s["m_sign_out"], type="submit", className="m-link m-sort")),
            ]),
        ]),
        html.Section(className="m-filters", children=[
            html.Div(className="m-filter", children=[
                html.Span(s["m_period"], className="m-filter-label"),
                radio(mid.PERIOD, {"today": "m_period_today", "7d": "m_period_7d", "30d": "m_period_30d"}, "today"),
            ]),
            picker(mid.DISTRICT, "m_district"),
            picker(mid.CATEGORY, "m_category"),
            picker(mid.CHANNEL, "m_channel"),
            picker(mid.UNIT, "m_unit"),
            html.A(s["m_reset"], id=mid.RESET, href="?", className="m-link m-reset"),
        ]),
        html.Div(id=mid.ERROR, className="m-error", style={"display": "none"}),
        html.Section(id=mid.KPIS, className="m-kpis"),
        html.Section(className="m-panel m-deadlines", children=[
            html.Div(className="m-panel-head", children=[
                html.H2(s["m_deadlines"]),
                dcc.Checklist(id=mid.STATES, options=[{"label": s[k], "value": v} for v, k in STATE_KEYS.items()],
                              value=["overdue", "due_soon"], inline=True, className="m-radio"),
                html.Span(id=mid.DL_COUNT, className="m-note"),
                html.A(s["m_csv"], id=mid.DL_CSV, href="#", className="m-link m-csv"),
            ]),
            html.Div(className="m-table-wrap m-dl-wrap", children=[html.Table(className="m-table", children=[
                html.Thead(html.Tr([
                    html.Th(s["m_col_id"]),
                    html.Th(s["m_col_state"]),
                    html.Th(html.Button(s["m_col_left"], id=mid.sort_id("deadline"), className="m-sort", n_clicks=0)),
                    html.Th(html.Button(s["m_col_age"], id=mid.sort_id("age"), className="m-sort", n_clicks=0)),
                    html.Th(html.Button(s["m_category"], id=mid.sort_id("category"), className="m-sort", n_clicks=0)),
                    html.Th(html.Button(s["m_district"], id=mid.sort_id("district"), className="m-sort", n_clicks=0)),
                    html.Th(html.Button(s["m_unit"], id=mid.sort_id("unit"), className="m-sort", n_clicks=0)),
                    html.Th(s["m_col_title"]),
                ])),
                html.Tbody(id=mid.DL_BODY),
            ])]),
        ]),
        html.Section(className="m-panel m-times", children=[
            html.Div(className="m-panel-head", children=[
                html.H2(s["m_times"]),
                html.Span(s["m_by"], className="m-filter-label"),
                radio(mid.TIMES_BY, BY_KEYS, "category"),
                html.Span(s["m_marks"], className="m-note"),
                html.A(s["m_csv"], id=mid.TIMES_CSV, href="#", className="m-link m-csv"),
            ]),
            dcc.Graph(id=mid.TIMES_CHART, config=GRAPH_CONFIG, className="m-graph", style={"height": "60px"},
                      figure={"data": [], "layout": {"height": 60, "paper_bgcolor": "rgba(0,0,0,0)",
                                                     "plot_bgcolor": "rgba(0,0,0,0)",
                                                     "xaxis": {"visible": False}, "yaxis": {"visible": False}}}),
            html.Div(className="m-table-wrap m-times-wrap", children=[html.Table(className="m-table", children=[
                html.Thead([
                    html.Tr([html.Th(s["m_col_group"], rowSpan=2), html.Th(s["m_first_response"], colSpan=4),
                             html.Th(s["m_resolution_time"], colSpan=4)]),
                    html.Tr([html.Th(s[k]) for k in ("m_col_count", "m_col_median", "m_col_p90", "m_col_before")] * 2),
                ]),
                html.Tbody(id=mid.TIMES_BODY),
            ])]),
        ]),
        html.Section(className="m-panel m-league", children=[
            html.Div(className="m-panel-head", children=[
                html.H2(s["m_league"]),
                radio(mid.LEAGUE_BY, {"unit": "m_unit", "district": "m_district", "category": "m_category"}, "unit"),
                html.Span(s["m_rank_by"], className="m-filter-label"),
                dcc.Dropdown(id=mid.RANK_BY, options=[{"label": s[k], "value": v} for v, k in RANK_KEYS.items()],
                             value="on_time_rate", clearable=False, searchable=False, className="m-dropdown m-rank-by",
                             labels=labels),
                html.A(s["m_csv"], id=mid.LEAGUE_CSV, href="#", className="m-link m-csv"),
            ]),
            html.P(id=mid.LEAGUE_RULE, className="m-note m-rule"),
            html.Div(className="m-table-wrap m-league-wrap", children=[html.Table(className="m-table", children=[
                html.Thead(html.Tr([html.Th(s[k]) for k in ("m_rank", "m_col_group", "m_col_received", "m_col_resolution",
                                                           "m_col_on_time", "m_col_satisfaction", "m_col_frt",
                                                           "m_col_ttr")])),
                html.Tbody(id=mid.LEAGUE_BODY),
            ])]),
        ]),
        html.Section(className="m-panel m-briefings", children=[
            html.Div(className="m-panel-head", children=[html.H2(s["m_briefings"])]),
            html.Div(id=mid.BRIEFINGS, className="m-briefing-list"),
        ]),
    ])
