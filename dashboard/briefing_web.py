"""Stored daily briefings over HTTP, for managers (paths under /manager/ need a sign-in).

``GET /manager/briefings/``: the stored days as JSON, newest first, with the address of each file.
``GET /manager/briefings/<YYYY-MM-DD>.html`` (shown in the browser) and ``.pdf`` (downloaded): the
files as stored in Redis by ``civicwall briefing``, so every worker serves the same ones. A malformed
name is a 400 and a day without a briefing a 404, both as JSON like the API's errors.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

import structlog
from flask import Response

from . import briefings
from .briefing import parse_day
from .errors import StoreUnavailable
from .keys import Keys
from .profiles import Profile

log = structlog.get_logger("civicwall.briefing_web")
PREFIX = "/manager/briefings/"
TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
_NAME = re.compile(r"(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})\.(?P<kind>html|pdf)")


def register(server, client_factory: Callable[[], Any], keys: Keys, profile: Profile) -> None:
    """Add the briefing routes to a Flask ``server``; ``client_factory()`` gives a Redis client."""

    @server.get(PREFIX)
    def briefing_list():
        try:
            days = briefings.stored(client_factory(), keys)
        except StoreUnavailable as exc:
            return _unavailable(exc)
        rows = [{"date": day, "whole_day": meta.get("whole_day"), "html": f"{PREFIX}{day}.html",
                 "pdf": f"{PREFIX}{day}.pdf"} for day, meta in days.items()]
        body = json.dumps({"city": profile.city, "briefings": rows}, ensure_ascii=False)
        return Response(body, mimetype="application/json", headers={"Cache-Control": "no-store"})

    @server.get(PREFIX + "<name>")
    def briefing_file(name: str):
        match = _NAME.fullmatch(name)
        if not match or parse_day(match["day"]) is None:
            return _error(400, "bad_name", "ask for YYYY-MM-DD.html or YYYY-MM-DD.pdf, with a real date")
        day, kind = match["day"], match["kind"]
        try:
            body = briefings.read(client_factory(), keys, day, kind)
        except StoreUnavailable as exc:
            return _unavailable(exc)
        if body is None:
            return _error(404, "not_found", f"no briefing stored for {day}; {PREFIX} lists those there are")
        filename = briefings.file_name(profile.city, day, kind)
        disposition = "inline" if kind == "html" else "attachment"
        return Response(body, content_type=TYPES[kind], headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": "private, no-store",
        })


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json", headers={"Cache-Control": "no-store"})


def _unavailable(exc: StoreUnavailable) -> Response:
    log.warning("briefing_web.store_unavailable", error=str(exc))
    response = _error(503, "store_unavailable", "the data store (Redis) is unreachable; retry shortly")
    response.headers["Retry-After"] = "2"
    return response
