"""The manager view's read-only JSON API (docs/api.md): the same figures as the page, for other systems.

``GET /api/v1/manager/<figure>`` with the page's filters as query parameters; ``format=csv`` gives a
table as a CSV file (UTF-8 with a byte-order mark, so spreadsheet programs read Chinese correctly).
Unknown parameters are refused, so a misspelt filter never silently widens an answer.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any, Callable

import structlog
from flask import Response, request

from .errors import StoreUnavailable
from .manager import DIMENSIONS, RATES, FilterError, Filters, ManagerData

log = structlog.get_logger("civicwall.api")
PREFIX = "/api/v1/manager"
FILTER_PARAMS = ("period", *DIMENSIONS)
FIGURES = ("summary", "deadlines", "times", "league", "options")
# Spreadsheet programs run a cell that starts with one of these as a formula; text cells that do
# (labels and titles come from producers and citizens) get a leading apostrophe in CSV files.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def register(server, data: ManagerData) -> None:
    @server.get(PREFIX + "/<figure>")
    def manager_figure(figure: str):
        if figure not in FIGURES:
            return error(404, "not_found", f"unknown figure {figure[:40]!r}; the manager API has {', '.join(FIGURES)}")
        try:
            answer, table = _answer(figure, data)
        except FilterError as exc:
            return error(400, "bad_parameter", str(exc))
        except StoreUnavailable as exc:
            log.warning("api.store_unavailable", error=str(exc))
            return error(503, "store_unavailable", "the data store (Redis) is unreachable; retry shortly")
        if request.args.get("format") == "csv":
            if table is None:
                return error(400, "bad_parameter", f"format: {figure} is not a table; csv is offered for deadlines, times and league")
            header, rows = table(answer)
            return csv_response(header, rows, _filename(figure, answer))
        body = json.dumps(answer, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return Response(body, mimetype="application/json", headers={"Cache-Control": "no-store"})


def error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False)
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = "2"
    return Response(body, status=status, mimetype="application/json", headers=headers)


def page_feed(body: dict[str, Any]) -> Response:
    """A page feed's answer (the manager and newsroom pages): JSON that may hold Dash components and
    Plotly figures, gzipped when the browser takes it and it is worth it (long tables are mostly
    markup that repeats: a 400 kB answer becomes some 30 kB), never cached."""
    from plotly.utils import PlotlyJSONEncoder

    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"), cls=PlotlyJSONEncoder).encode()
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if len(raw) > 2048 and "gzip" in request.headers.get("Accept-Encoding", ""):
        raw = gzip.compress(raw, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return Response(raw, mimetype="application/json", headers=headers)


def _params(allowed: tuple[str, ...]) -> dict[str, list[str]]:
    known = set(FILTER_PARAMS) | {"format"} | set(allowed)
    unknown = sorted(set(request.args) - known)
    if unknown:
        raise FilterError(f"unknown parameter {unknown[0][:40]!r}; this figure takes {', '.join(sorted(known))}")
    fmt = request.args.getlist("format")
    if fmt and fmt != ["csv"] and fmt != ["json"]:
        raise FilterError("format: csv or json")
    return {k: request.args.getlist(k) for k in request.args}


def _one(args: dict[str, list[str]], name: str, default: str) -> str:
    values = args.get(name, [])
    if len(values) > 1:
        raise FilterError(f"{name}: give one value")
    return values[0] if values else default


def _answer(figure: str, data: ManagerData) -> tuple[dict[str, Any], Callable | None]:
    if figure == "deadlines":
        args = _params(("state", "sort", "order", "limit"))
        # No state parameter: overdue and due soon; an empty one (state=): none.
        states = ([s for v in args["state"] for s in v.split(",") if s] if "state" in args
                  else ["overdue", "due_soon"])
        order = _one(args, "order", "asc")
        if order not in ("asc", "desc"):
            raise FilterError(f"order: {order[:20]!r} is not asc or desc")
        limit_text = _one(args, "limit", "500")
        if not limit_text.isascii() or not limit_text.isdigit():
            raise FilterError(f"limit: {limit_text[:20]!r} is not a whole number from 1 to 5000")
        filters = Filters.from_query(args, data.profile)
        return data.answer("deadlines", filters, states=tuple(states), sort=_one(args, "sort", "deadline"),
                           descending=order == "desc", limit=int(limit_text)), deadline_table
    if figure == "times":
        args = _params(("by",))
        filters = Filters.from_query(args, data.profile)
        return data.answer("times", filters, by=_one(args, "by", "category")), times_table
    if figure == "league":
        args = _params(("by", "rank_by"))
        filters = Filters.from_query(args, data.profile)
        return data.answer("league", filters, by=_one(args, "by", "unit"),
                           rank_by=_one(args, "rank_by", "on_time_rate")), league_table
    if figure == "options":
        _params(())
        return data.answer("options", Filters()), None
    args = _params(())
    return data.answer("summary", Filters.from_query(args, data.profile)), None


# -- tables -----------------------------------------------------------------------------------------

def deadline_table(answer: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["id", "state", "deadline", "deadline_ts", "left_s", "created", "age_s", "category", "district",
              "district_name", "channel", "unit", "title"]
    rows = [[r["id"], r["state"], r["deadline"], r["deadline_ts"], round(r["left_s"]), r["created"], round(r["age_s"]),
             r["category"], r["district"], r["district_name"], r["channel"], r["unit"], r["title"]]
            for r in answer["rows"]]
    return header, rows


def times_table(answer: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["measure", answer["by"], "label", "count", "median_s", "p90_s", "prev_count", "prev_median_s",
              "prev_p90_s"]
    rows = []
    for measure in ("first_response", "resolution"):
        for r in answer[measure]["rows"]:
            rows.append([measure, r["name"], r["label"], r["count"], r["median_s"], r["p90_s"], r["prev_count"],
                         r["prev_median_s"], r["prev_p90_s"]])
    return header, rows


def league_table(answer: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["rank", answer["by"], "label", "received", "resolved", "resolved_in_period"]
    for name in RATES:
        header += [f"{name}", f"{name}_num", f"{name}_den", f"{name}_low", f"{name}_high"]
    header += ["median_first_response_s", "first_response_count", "median_resolution_s", "resolution_count"]
    rows = []
    for r in answer["rows"]:
        row = [r["rank"], r["name"], r["label"], r["received"], r["resolved"], r["resolved_in_period"]]
        for name in RATES:
            x = r[name]
            row += [x["value"], x["num"], x["den"], x["low"], x["high"]]
        row += [r["median_first_response_s"], r["first_response_count"], r["median_resolution_s"],
                r["resolution_count"]]
        rows.append(row)
    return header, rows


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_response(header: list[str], rows: list[list[Any]], filename: str) -> Response:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return Response(out.getvalue().encode("utf-8"), mimetype="text/csv",
                    headers={"Cache-Control": "no-store",
                             "Content-Disposition": f'attachment; filename="{filename}"'})


def _filename(figure: str, answer: dict[str, Any]) -> str:
    """civicwall-<city>-<figure>[-<by>][-<period>][-filtered]-<date>-<HHMM>.csv, in ASCII: what the file
    holds and as of when, so two downloads of different views or times get different names."""
    by = answer.get("by")
    filters = answer.get("filters", {})
    period = filters.get("period", "")
    filtered = any(filters.get(name) for name in DIMENSIONS)
    as_of = str(answer.get("as_of", ""))
    parts = ["civicwall", answer.get("city", ""), figure, by or "", period if figure != "deadlines" else "",
             "filtered" if filtered else "", as_of[:10], as_of[11:16].replace(":", "")]
    return "-".join(p for p in parts if p) + ".csv"
