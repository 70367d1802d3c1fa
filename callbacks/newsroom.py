"""The newsroom page's feed and its one write, the "taken" mark.

``GET /newsroom/feed?<the page's state>`` answers ``{"status": {...}, "panels": {"<id>.<prop>": value}}``
like the manager page's feed (callbacks/manager.py): the story cards, the count line and the
filters' options. What in the address cannot be used is left at its default and named, in the
page's language, in ``status.problems`` (``status.state`` is the view shown); an unreachable store
is a 200 that says so.

``POST /newsroom/mark`` with a JSON body ``{"id": "...", "action": "take" | "release"}`` sets or
removes the signed-in user's mark (dashboard/taken.py). It needs the header
``X-Requested-With: civicwall``: a form on another site cannot send it, and a script on another site
cannot send it without a CORS preflight this server never grants (the session cookie is also
SameSite=Lax). Answers: 200 with the mark, 409 when another user holds it, 404 for an unknown appeal.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from dash import ClientsideFunction, Input
from flask import Response, g, request

from dashboard import manager_api
from dashboard.errors import StoreUnavailable
from dashboard.i18n import strings
from dashboard.manager import Filters
from dashboard.newsroom import NewsroomData, Query
from dashboard.profiles import Profile
from dashboard.taken import MarkRefused
from dashboard.users import User
from layouts import newsroom as views

FEED_SUFFIX = "feed"
MARK_SUFFIX = "mark"


def register(app, data: NewsroomData, profile: Profile) -> None:
    prefix = app.config.requests_pathname_prefix

    @app.server.get(prefix + FEED_SUFFIX, endpoint="newsroom_feed")
    def newsroom_feed():
        user = getattr(g, "user", None)
        try:
            body = feed(data, profile, request.args.to_dict(flat=False), user)
        except StoreUnavailable:
            body = {"error": "store_unavailable", "status": {"checked_at": time.time()}}
        return manager_api.page_feed(body)

    @app.server.post(prefix + MARK_SUFFIX, endpoint="newsroom_mark")
    def newsroom_mark():
        user = getattr(g, "user", None)
        if user is None:
            return manager_api.error(401, "not_signed_in", "sign in first")
        if request.headers.get("X-Requested-With") != "civicwall":
            return manager_api.error(403, "forbidden", "this request must come from the newsroom page")
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) \
                or body.get("action") not in ("take", "release"):
            return manager_api.error(400, "bad_request", 'send {"id": "<request id>", "action": "take" or "release"}')
        rid = body["id"]
        try:
            if not data.exists(rid):
                return manager_api.error(404, "not_found", f"no appeal {rid[:60]!r}")
            if body["action"] == "take":
                mark = data.marks.take(rid, user.name)
            else:
                data.marks.release(rid, user.name, any_user=user.role == "manager")
                mark = None
        except MarkRefused as exc:
            answer = {"error": "refused", "message": str(exc), "mark": exc.mark}
            return Response(json.dumps(answer, ensure_ascii=False), status=409, mimetype="application/json")
        except StoreUnavailable:
            return manager_api.error(503, "store_unavailable", "the data store is not answering; try again")
        return Response(json.dumps({"id": rid, "mark": mark}, ensure_ascii=False), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    app.clientside_callback(
        ClientsideFunction(namespace="civicwall_newsroom", function_name="start"),
        Input(views.CONFIG, "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="civicwall_newsroom", function_name="changed"),
        *(Input(c, "value") for c in views.CONTROLS),
        prevent_initial_call=True,
    )


def feed(data: NewsroomData, profile: Profile, args: dict[str, list[str]], user: User | str | None) -> dict[str, Any]:
    """The page's answer for the address ``args``: what in it cannot be used is named (in the page's
    language) and left at its default; the rest of the view is shown."""
    s = strings(profile.language, profile.labels)
    query, problems = Query.read(args, profile, s)
    answer = data.answer(query)
    held = data.managers.answer("options", Filters())
    held_categories = {o["value"] for o in held["category"]}
    notes = [s["m_unheld"].format(name=s["m_category"], value="'" + c[:40] + "'")
             for c in query.filters.category if c not in held_categories]
    name = user.name if isinstance(user, User) else (user or "")
    may_manage = isinstance(user, User) and user.may("manager")
    chosen = {name: list(getattr(query.filters, name)) for name in ("district", "category")}
    names = profile.district_names()
    options = {
        "district": [{"value": d.id, "label": d.name} for d in profile.districts],
        "category": held["category"],
    }
    # A chosen value no appeal has stays in the list, so it still shows as chosen.
    for dimension, values in chosen.items():
        known = {o["value"] for o in options[dimension]}
        options[dimension] = options[dimension] + [{"value": v, "label": names.get(v, v)} for v in values if v not in known]
    panels = {
        f"{views.LIST}.children": views.story_cards(answer, profile, name),
        f"{views.COUNT}.children": views.count_line(answer, profile),
        f"{views.DISTRICT}.options": options["district"],
        f"{views.CATEGORY}.options": options["category"],
        f"{views.USER}.children": name,
        f"{views.MANAGER_LINK}.style": {} if may_manage else {"display": "none"},
    }
    return {
        "status": {"as_of": datetime.fromtimestamp(answer["as_of_ts"], profile.tz).isoformat(timespec="seconds"),
                   "as_of_ts": answer["as_of_ts"], "mode": answer["clock"]["mode"], "rate": answer["clock"]["rate"],
                   "checked_at": time.time(), "window": answer["window"], "matched": answer["matched"],
                   "state": query.state(), "problems": problems, "notes": notes},
        "panels": panels,
    }
