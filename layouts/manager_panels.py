"""The manager page's panels as component trees and figures: what ``/manager/feed`` sends
(callbacks/manager.py) for assets/manager.js to put in place. Citizen text only ever appears as plain
string children of html components, which React renders as text nodes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import html

from dashboard import manager
from dashboard.i18n import duration, strings
from dashboard.profiles import Profile

FONT = {"family": "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, Segoe UI, Roboto, sans-serif", "color": "#cbd5e1",
        "size": 13}
STATE_KEYS = {"overdue": "m_overdue", "due_soon": "m_due_soon", "on_track": "m_on_track"}
RANK_KEYS = {"on_time_rate": "m_col_on_time", "resolution_rate": "m_col_resolution",
             "satisfaction_rate": "m_col_satisfaction", "median_first_response_s": "m_col_frt",
             "median_resolution_s": "m_col_ttr"}
BY_KEYS = {"category": "m_category", "district": "m_district", "unit": "m_unit", "channel": "m_channel"}


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def rate_text(r: dict[str, Any]) -> str:
    """"81.0% (405/500)", or "—" without a denominator."""
    if not r["den"]:
        return "—"
    return f"{percent(r['value'])} ({r['num']}/{r['den']})"


def interval_text(r: dict[str, Any]) -> str:
    if not r["den"]:
        return ""
    return f"[{r['low'] * 100:.0f}–{r['high'] * 100:.0f}%]"


def _change(now: float | None, before: float | None, s: dict[str, str]) -> str:
    if now is None or before is None:
        return s["m_before"].format(v="—" if before is None else duration(before, s))
    delta = now - before
    return s["m_change"].format(sign="+" if delta >= 0 else "−", v=duration(abs(delta), s))


def kpi_cards(summary: dict[str, Any], profile: Profile) -> list[html.Div]:
    s = strings(profile.language, profile.labels)
    cur, prev = summary["current"], summary["previous"]
    period = summary["filters"]["period"]

    def card(label: str, value: str, sub: str, cls: str = "", key: str = "") -> html.Div:
        return html.Div(className=f"m-kpi {cls}".strip(), **({"data-kpi": key} if key else {}), children=[
            html.Div(label, className="m-kpi-label"),
            html.Div(value, className="m-kpi-value"),
            html.Div(sub, className="m-kpi-sub"),
        ])

    received_delta = cur["received"] - prev["received"]
    rr, ot, sat = cur["resolution_rate"], cur["on_time_rate"], cur["satisfaction_rate"]
    return [
        card(s["m_received"], str(cur["received"]),
             f"{s['m_compare_' + period]}: {prev['received']} ({'+' if received_delta >= 0 else '−'}{abs(received_delta)})",
             "m-kpi-primary", "received"),
        card(s["m_col_resolution"], percent(rr["value"]),
             s["m_resolved_of"].format(num=rr["num"], den=rr["den"]) + " " + interval_text(rr), key="resolution_rate"),
        card(s["m_col_on_time"], percent(ot["value"]),
             f"{ot['num']}/{ot['den']} {interval_text(ot)} · {s['m_before'].format(v=percent(prev['on_time_rate']['value']))}",
             key="on_time_rate"),
        card(s["m_col_satisfaction"], percent(sat["value"]), f"{sat['num']}/{sat['den']} {interval_text(sat)}",
             key="satisfaction_rate"),
        card(s["m_first_response"], duration(cur["first_response"]["median_s"], s),
             _change(cur["first_response"]["median_s"], prev["first_response"]["median_s"], s), key="first_response"),
        card(s["m_resolution_time"], duration(cur["resolution"]["median_s"], s),
             _change(cur["resolution"]["median_s"], prev["resolution"]["median_s"], s), key="resolution"),
        card(s["m_open"], str(summary["open"]), s["m_due_soon_rule"].format(h=f"{profile.manager.due_soon_hours:g}"),
             key="open"),
        card(s["m_overdue"], str(summary["deadlines"]["overdue"]),
             f"{s['m_due_soon']} {summary['deadlines']['due_soon']}", "m-kpi-alert", "overdue"),
    ]


def _local(ts: float, tz) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M")


def deadline_rows(answer: dict[str, Any], profile: Profile) -> list[html.Tr]:
    s = strings(profile.language, profile.labels)
    if not answer["rows"]:
        return [html.Tr(html.Td(s["m_none_due"] if answer["states"] else s["m_no_state"], colSpan=8,
                                className="m-empty"))]
    tz = profile.tz
    out = []
    for r in answer["rows"]:
        out.append(html.Tr(className=f"m-row is-{r['state']}", children=[
            html.Td(r["id"], className="m-id"),
            html.Td(s[STATE_KEYS[r["state"]]], className="m-state"),
            # The countdown: assets/manager.js writes the time left as the span's text every second;
            # the span is rendered without children, so React never replaces that text.
            html.Td(html.Span(className="m-countdown", title=_local(r["deadline_ts"], tz),
                              **{"data-deadline": f"{r['deadline_ts']:.0f}"})),
            html.Td(duration(r["age_s"], s), className="m-num"),
            html.Td(r["category"] or "—"),
            html.Td(r["district_name"] or "—"),
            html.Td(r["unit"] or "—"),
            html.Td(r["title"], className="m-title-cell"),
        ]))
    return out


def deadline_count(answer: dict[str, Any], profile: Profile) -> str:
    s = strings(profile.language, profile.labels)
    c = answer["counts"]
    return (f"{s['m_overdue']} {c['overdue']} · {s['m_due_soon']} {c['due_soon']} · {s['m_on_track']} {c['on_track']}"
            f" · {s['m_showing'].format(n=len(answer['rows']), total=answer['total'])}")


def _times_order(answer: dict[str, Any]) -> list[str]:
    """The groups of a times answer, most cases (first responses and resolutions together) first."""
    first = {r["name"]: r["count"] for r in answer["first_response"]["rows"]}
    resolution = {r["name"]: r["count"] for r in answer["resolution"]["rows"]}
    return sorted(set(first) | set(resolution), key=lambda n: (-(first.get(n, 0) + resolution.get(n, 0)), n))


def times_rows(answer: dict[str, Any], profile: Profile) -> list[html.Tr]:
    """Every group (the table scrolls), in the order of _times_order."""
    s = strings(profile.language, profile.labels)
    first = {r["name"]: r for r in answer["first_response"]["rows"]}
    resolution = {r["name"]: r for r in answer["resolution"]["rows"]}
    names = _times_order(answer)
    if not names:
        return [html.Tr(html.Td(s["m_no_cases"], colSpan=9, className="m-empty"))]

    def cells(r: dict[str, Any] | None) -> list[html.Td]:
        if r is None:
            return [html.Td("0", className="m-num"), html.Td("—"), html.Td("—"), html.Td("—")]
        return [html.Td(str(r["count"]), className="m-num"), html.Td(duration(r["median_s"], s)),
                html.Td(duration(r["p90_s"], s)),
                html.Td(f"{duration(r['prev_median_s'], s)} ({r['prev_count']})", className="m-before")]

    rows = []
    for name in names:
        label = _group_label(answer["by"], name, (first.get(name) or resolution.get(name))["label"], s)
        rows.append(html.Tr([html.Td(label), *cells(first.get(name)), *cells(resolution.get(name))]))
    return rows


def times_figure(answer: dict[str, Any], profile: Profile, limit: int = 12) -> dict[str, Any]:
    """Median (dot) to p90 (end of the line) per group, this period in colour, the comparison's median
    as a hollow ring; one chart per measure that has cases, side by side, with the same groups in the
    same order (the ``limit`` largest), in minutes when every p90 is under two hours, else in hours."""
    s = strings(profile.language, profile.labels)
    measures = [(m, key) for m, key in (("first_response", "m_first_response"), ("resolution", "m_resolution_time"))
                if answer[m]["rows"]]
    if not measures:
        return {"data": [], "layout": {"height": 60, "paper_bgcolor": "rgba(0,0,0,0)", "font": FONT,
                                       "plot_bgcolor": "rgba(0,0,0,0)", "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
                                       "xaxis": {"visible": False}, "yaxis": {"visible": False},
                                       "annotations": [{"text": s["m_no_cases"], "showarrow": False,
                                                        "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}]}}
    names = _times_order(answer)[:limit]
    by_name = {m: {r["name"]: r for r in answer[m]["rows"]} for m, _ in measures}
    longest = max((r["p90_s"] or 0) for m, _ in measures for r in by_name[m].values())
    unit, unit_key = (60, "m_minutes") if longest < 7200 else (3600, "m_hours")
    data, layout = [], {"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": FONT,
                        "showlegend": False, "margin": {"l": 10, "r": 20, "t": 34, "b": 36}, "annotations": []}
    width = 1 / len(measures)
    labels = [_short(_group_label(answer["by"], n, _label_of(answer, n), s)) for n in names][::-1]

    def value(r, field):
        return None if r is None or r[field] is None else r[field] / unit

    for i, (measure, key) in enumerate(measures):
        rows = [by_name[measure].get(n) for n in names][::-1]
        axis = "" if i == 0 else str(i + 1)
        medians, p90s = [value(r, "median_s") for r in rows], [value(r, "p90_s") for r in rows]
        xs, ys = [], []
        for label, a, b in zip(labels, medians, p90s):
            if a is not None:
                xs += [a, b, None]
                ys += [label, label, None]
        common = {"xaxis": "x" + axis, "yaxis": "y" + axis, "hoverinfo": "skip"}
        data.append({"type": "scatter", "mode": "lines", "x": xs, "y": ys, "line": {"color": "#38bdf8", "width": 3},
                     **common})
        data.append({"type": "scatter", "mode": "markers", "x": medians, "y": labels,
                     "marker": {"color": "#38bdf8", "size": 10}, **common})
        data.append({"type": "scatter", "mode": "markers", "x": [value(r, "prev_median_s") for r in rows], "y": labels,
                     "marker": {"color": "rgba(0,0,0,0)", "size": 12, "line": {"color": "#f59e0b", "width": 2}},
                     **common})
        domain = [i * width + (0.06 if i else 0), (i + 1) * width - (0.06 if i + 1 < len(measures) else 0)]
        # Room beyond the longest line, which autorange would end exactly at the edge.
        top = max([x for x in p90s + medians + [value(r, "prev_median_s") for r in rows] if x is not None] or [1])
        layout["xaxis" + axis] = {"domain": domain, "title": {"text": s[unit_key], "standoff": 6},
                                  "range": [0, top * 1.06], "anchor": "y" + axis, "gridcolor": "#1f2b45",
                                  "zerolinecolor": "#334155"}
        layout["yaxis" + axis] = {"anchor": "x" + axis, "automargin": True, "type": "category", "gridcolor": "#1f2b45",
                                  "categoryorder": "array", "categoryarray": labels}
        layout["annotations"].append({"text": s[key], "showarrow": False, "xref": "paper", "yref": "paper",
                                      "x": sum(domain) / 2, "y": 1, "yanchor": "bottom", "yshift": 6,
                                      "font": {"size": 14}})
    layout["height"] = 80 + 26 * len(names)
    return {"data": data, "layout": layout}


def _label_of(answer: dict[str, Any], name: str) -> str:
    for measure in ("first_response", "resolution"):
        for r in answer[measure]["rows"]:
            if r["name"] == name:
                return r["label"]
    return name


def _group_label(by: str, name: str, label: str, s: dict[str, str]) -> str:
    if by == "district" and name == "":
        return s["m_unknown_district"]
    return label or "—"


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def league_rows(answer: dict[str, Any], profile: Profile) -> list[html.Tr]:
    s = strings(profile.language, profile.labels)
    rows = answer["rows"]
    if not rows:
        return [html.Tr(html.Td(s["m_no_cases"], colSpan=8, className="m-empty"))]
    out = []
    for r in rows:
        def rate_cell(name: str) -> html.Td:
            x = r[name]
            return html.Td([html.Span(rate_text(x)), html.Span(" " + interval_text(x), className="m-interval")],
                           className="m-rate" + (" is-ranked-by" if answer["rank_by"] == name else ""))
        rank = str(r["rank"]) if r["ranked"] else "—"
        out.append(html.Tr(className="m-row" + ("" if r["ranked"] else " is-unranked"),
                           title="" if r["ranked"] else s["m_unranked"].format(n=answer["min_rank_count"]),
                           children=[
            html.Td(rank, className="m-rank"),
            html.Td(_group_label(answer["by"], r["name"], r["label"], s)),
            html.Td(str(r["received"]), className="m-num"),
            rate_cell("resolution_rate"),
            rate_cell("on_time_rate"),
            rate_cell("satisfaction_rate"),
            html.Td(f"{duration(r['median_first_response_s'], s)} ({r['first_response_count']})",
                    className="m-num" + (" is-ranked-by" if answer["rank_by"] == "median_first_response_s" else "")),
            html.Td(f"{duration(r['median_resolution_s'], s)} ({r['resolution_count']})",
                    className="m-num" + (" is-ranked-by" if answer["rank_by"] == "median_resolution_s" else "")),
        ]))
    return out


def league_rule(answer: dict[str, Any], profile: Profile) -> str:
    s = strings(profile.language, profile.labels)
    return s["m_rule"].format(what=s[RANK_KEYS[answer["rank_by"]]], n=answer["min_rank_count"])


def options_for(answer: dict[str, Any], chosen: manager.Filters, profile: Profile) -> dict[str, list[dict[str, str]]]:
    """Each filter's choices: what the data offers, "no district" for appeals without a recognised
    district, and every value already chosen (a dropdown drops a chosen value that is not among its
    options, which would quietly widen a bookmarked view whose unit has no appeals held now)."""
    s = strings(profile.language, profile.labels)
    out = {}
    for name in manager.DIMENSIONS:
        choices = [{"label": o["label"] or "—", "value": o["value"]} for o in answer[name]]
        if name == "district":
            choices.append({"label": s["m_unknown_district"], "value": ""})
        offered = {c["value"] for c in choices}
        choices += [{"label": v, "value": v} for v in getattr(chosen, name) if v not in offered]
        out[name] = choices
    return out


def briefing_links(stored: dict[str, dict[str, Any]], profile: Profile, prefix: str, limit: int = 14) -> list[Any]:
    """The latest stored daily briefings, each a date with its PDF and HTML links."""
    s = strings(profile.language, profile.labels)
    if not stored:
        return [html.Span(s["m_briefings_none"], className="m-note")]
    out = []
    for day, meta in list(stored.items())[:limit]:
        partial = ""
        if not meta.get("whole_day", True) and meta.get("until"):
            partial = " " + s["m_briefing_partial"].format(t=_local(meta["until"], profile.tz)[-5:])
        out.append(html.Span(className="m-briefing", children=[
            html.Span(day + partial, className="m-briefing-day"), " ",
            html.A("PDF", href=f"{prefix}{day}.pdf", className="m-link"), " · ",
            html.A("HTML", href=f"{prefix}{day}.html", className="m-link", target="_blank", rel="noopener"),
        ]))
    return out
