"""How the manager page stays current and follows its filters.

Like the wall (callbacks/wall.py explains why), the page runs on a timer of its own in
assets/manager.js rather than on Dash callbacks with interval inputs: every ``refresh_ms`` and whenever
a manager changes a filter, it fetches ``GET /manager/feed?<the page's state>`` and applies the answer's
panels with ``dash_clientside.set_props``. The page's state is its URL's query string, so a view can be
bookmarked or sent to a colleague; the script keeps the URL in step with the controls.

The answer is ``{"status": {...}, "panels": {"<id>.<prop>": value}}`` with the headline cards, the
deadline list, the response-time chart and table, the league table, the filters' options and the CSV
links for the same state. A bad parameter is a 400 with the reason; an unreachable store a 200 that
says so, and the page keeps its picture and marks it stale.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from dash import ClientsideFunction, Input
from flask import g, request

from dashboard import briefing_web, briefings, manager_api
from dashboard.errors import StoreUnavailable
from dashboard.manager import DIMENSIONS, FilterError, Filters, ManagerData
from dashboard.masking import MANAGER
from dashboard.profiles import Profile
from layouts import manager_panels as views
from layouts import manager_ids as mid

FEED_SUFFIX = "feed"
PAGE_PARAMS = ("state", "sort", "order", "times_by", "league_by", "rank_by")
DEFAULTS = {"state": ["overdue", "due_soon"], "sort": "deadline", "order": "asc", "times_by": "category",
            "league_by": "unit", "rank_by": "on_time_rate"}
ROWS_SHOWN = 200


def register(app, data: ManagerData, profile: Profile, api_prefix: str = manager_api.PREFIX) -> None:
    """Serve the page's feed on ``app``'s prefix and wire the page script."""
    feed_path = app.config.requests_pathname_prefix + FEED_SUFFIX

    @app.server.get(feed_path, endpoint="manager_feed")
    def manager_feed():
        try:
            body = feed(data, profile, request.args.to_dict(flat=False), api_prefix)
            user = getattr(g, "user", None)
            body["panels"][f"{mid.USER}.children"] = user.name if user else ""
        except FilterError as exc:
            return manager_api.error(400, "bad_parameter", str(exc))
        except StoreUnavailable:
            body = {"error": "store_unavailable", "status": {"checked_at": time.time()}}
        return manager_api.page_feed(body)

    app.clientside_callback(
        ClientsideFunction(namespace="civicwall_manager", function_name="start"),
        Input(mid.CONFIG, "data"),
    )
    # The controls change only when a person changes them (and once when the page applies its URL),
    # so Dash's undo history grows by one entry per click, not by the clock.
    app.clientside_callback(
        ClientsideFunction(namespace="civicwall_manager", function_name="changed"),
        *(Input(c, "value") for c in mid.CONTROLS),
        *(Input(mid.sort_id(k), "n_clicks") for k in mid.SORTS),
        prevent_initial_call=True,
    )


def _one(args: dict[str, list[str]], name: str) -> str:
    values = args.get(name) or [DEFAULTS[name]]
    if len(values) > 1:
        raise FilterError(f"{name}: give one value")
    return values[0]


def feed(data: ManagerData, profile: Profile, args: dict[str, list[str]], api_prefix: str) -> dict[str, Any]:
    known = set(PAGE_PARAMS) | {"period", *DIMENSIONS}
    unknown = sorted(set(args) - known)
    if unknown:
        raise FilterError(f"unknown parameter {unknown[0][:40]!r}")
    filters = Filters.from_query(args, profile)
    states = tuple(s for v in args.get("state", DEFAULTS["state"]) for s in v.split(",") if s)
    sort, order = _one(args, "sort"), _one(args, "order")
    if order not in ("asc", "desc"):
        raise FilterError(f"order: {order[:20]!r} is not asc or desc")
    times_by, league_by, rank_by = _one(args, "times_by"), _one(args, "league_by"), _one(args, "rank_by")

    now = data.current()                      # one clock read and one table refresh for every panel
    summary = data.answer("summary", filters, now)
    # The page is signed in: its titles are masked for the manager tier (docs/security.md).
    deadlines = data.answer("deadlines", filters, now, states=states, sort=sort, descending=order == "desc",
                            limit=ROWS_SHOWN, tier=MANAGER)
    times = data.answer("times", filters, now, by=times_by)
    league = data.answer("league", filters, now, by=league_by, rank_by=rank_by)
    held = data.answer("options", Filters(), now)
    options = views.options_for(held, filters, profile)
    # Values chosen that no appeal held has: kept (a quiet unit shows zeros), but worth a word.
    unheld = [[name, v] for name in ("category", "channel", "unit") for v in getattr(filters, name)
              if v not in {o["value"] for o in held[name]}]

    chart = views.times_figure(times, profile)
    base = filters.query()
    dl_query = base + ([("state", s) for s in states] or [("state", "")]) + [("sort", sort), ("order", order),
                                                                             ("limit", "5000")]
    panels: dict[str, Any] = {
        f"{mid.KPIS}.children": views.kpi_cards(summary, profile),
        f"{mid.TIMES_CHART}.figure": chart,
        f"{mid.TIMES_CHART}.style": {"height": f"{chart['layout']['height']}px"},
        f"{mid.TIMES_BODY}.children": views.times_rows(times, profile),
        f"{mid.LEAGUE_BODY}.children": views.league_rows(league, profile),
        f"{mid.LEAGUE_RULE}.children": views.league_rule(league, profile),
        f"{mid.DL_CSV}.href": f"{api_prefix}/deadlines?{urlencode(dl_query + [('format', 'csv')])}",
        f"{mid.TIMES_CSV}.href": f"{api_prefix}/times?{urlencode(base + [('by', times_by), ('format', 'csv')])}",
        f"{mid.LEAGUE_CSV}.href": f"{api_prefix}/league?"
                                  f"{urlencode(base + [('by', league_by), ('rank_by', rank_by), ('format', 'csv')])}",
        f"{mid.DL_BODY}.children": views.deadline_rows(deadlines, profile),
        f"{mid.BRIEFINGS}.children": views.briefing_links(briefings.stored(data.client(), data.keys), profile,
                                                          briefing_web.PREFIX),
        f"{mid.DL_COUNT}.children": views.deadline_count(deadlines, profile),
        **{f"{getattr(mid, name.upper())}.options": values for name, values in options.items()},
    }
    return {
        "status": {"as_of": datetime.fromtimestamp(now.at, profile.tz).isoformat(timespec="seconds"),
                   "as_of_ts": now.at, "mode": now.mode, "rate": now.rate, "checked_at": time.time(),
                   "window": summary["window"], "unheld": unheld},
        "panels": panels,
    }
