"""The daily briefing's content: one day's figures, hours, categories, districts, overdue appeals and
typical cases, computed from the manager view's table (dashboard/manager_table.py).

Pure functions over a frame, plus ``content`` which also reads the few appeal texts it shows. The
figures of a day are the manager view's (dashboard/manager.py ``summary`` over ``day_windows``); what
the manager view does not have (open and overdue at the end of a past day, the hourly counts, the
typical cases) is defined in docs/briefing.md. Rendering lives in dashboard/briefing_render.py,
storing and scheduling in dashboard/briefings.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import manager
from .errors import CivicwallError
from .i18n import duration
from .manager import Filters, Window
from .manager_table import HOLD_DAYS
from .masking import NEWSROOM, mask_text
from .profiles import Profile

TYPICAL = 5             # typical cases in a briefing
TOP = 8                 # rows of the category table and bars of its chart
OVERDUE_LISTED = 10     # overdue appeals listed (all are counted)
TEXT_CHARS = 280        # citizen text and reply shown per typical case
TITLE_CHARS = 120


class BriefingError(CivicwallError):
    """A briefing cannot be made for the day asked (not begun, older than the data held, no data)."""


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> date | None:
    """A date written YYYY-MM-DD (ASCII digits), else None."""
    if not isinstance(text, str) or not _DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Day:
    """The day a briefing covers and the moment its figures are taken at."""

    day: date
    until: float            # the end of the day, or the wall's clock when the day is not over
    whole: bool             # the whole day (the clock has passed its end)
    current: Window
    previous: Window

    @property
    def before_until(self) -> float:
        """The same moment on the day before (the end of the day before for a whole day)."""
        return self.previous.end


def day_of(day: date, clock_now: float, tz) -> Day:
    """The day as far as the wall's clock has gone; BriefingError when it has not begun or lies
    further back than the HOLD_DAYS days a web worker holds."""
    start = datetime.combine(day, datetime.min.time(), tz).timestamp()
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz).timestamp()
    today = datetime.fromtimestamp(clock_now, tz).date()
    if clock_now < start:
        raise BriefingError(f"{day.isoformat()} has not begun: the wall's clock says {today.isoformat()}")
    if (today - day).days > HOLD_DAYS:
        raise BriefingError(f"{day.isoformat()} is more than {HOLD_DAYS} days before the wall's clock "
                            f"({today.isoformat()}); briefings cover the days the manager view holds")
    current, previous = manager.day_windows(day, tz, until=clock_now)
    whole = clock_now >= end
    return Day(day, end if whole else clock_now, whole, current, previous)


def check_covered(frame: pd.DataFrame, d: Day, tz) -> None:
    """A day before the first appeal held would be a briefing of zeros: refuse it by name."""
    if frame.empty:
        raise BriefingError(f"no data for {d.day.isoformat()}: no appeal is held at all")
    if not (frame["c"] <= d.until).any():
        first = datetime.fromtimestamp(frame["c"].min(), tz).isoformat(timespec="minutes")
        raise BriefingError(f"no data for {d.day.isoformat()}: the first appeal held was created {first}")


def open_at(frame: pd.DataFrame, t: float) -> pd.Series:
    """Appeals open at t: created before t and not resolved before t (by their latest resolution,
    when it stands now)."""
    return (frame["c"] < t) & ~(frame["r"] < t)


def overdue_at(frame: pd.DataFrame, t: float) -> pd.Series:
    """Appeals open at t whose deadline had passed (the manager's overdue: t > deadline)."""
    return open_at(frame, t) & frame["dl"].notna() & (frame["dl"] < t)


def hourly(frame: pd.DataFrame, w: Window, tz) -> list[int]:
    """Appeals received in each local hour (0-23) of the window's day."""
    c = frame.loc[w.contains(frame["c"]), "c"]
    hours = pd.to_datetime(c, unit="s", utc=True).dt.tz_convert(tz).dt.hour
    return [int(n) for n in np.bincount(hours.to_numpy(dtype=np.int64), minlength=24)[:24]]


def received_by(frame: pd.DataFrame, column: str, d: Day) -> list[dict[str, Any]]:
    """Appeals received per value of ``column`` in the day and the day before, most first."""
    now = frame.loc[d.current.contains(frame["c"]), column].astype(object).value_counts()
    before = frame.loc[d.previous.contains(frame["c"]), column].astype(object).value_counts()
    total = int(now.sum())
    rows = [{"name": str(name), "count": int(n), "before": int(before.get(name, 0)),
             "share": n / total if total else 0.0} for name, n in now.items()]
    rows.sort(key=lambda r: (-r["count"], r["name"]))
    return rows


def typical_cases(frame: pd.DataFrame, w: Window, n: int = TYPICAL) -> list[str]:
    """The ids of ``n`` typical cases resolved in window ``w``.

    The rule (docs/briefing.md): among the appeals resolved in the window, take the categories in
    order of appeals received in the window (then resolved, then name), and one case from each in
    turn until ``n`` are chosen, going round again when there are fewer categories. Within a
    category the best case comes first: rated satisfied (4 or 5) in the window, then resolved by
    its deadline, then the shortest time to resolve, then the id. A newsroom ranking can replace
    this function: it only has to return ids of appeals in the frame.
    """
    resolved = frame[frame["r"].notna() & w.contains(frame["r"]) & (frame["r"] >= frame["c"])]
    if resolved.empty:
        return []
    received = frame.loc[w.contains(frame["c"]), "category"].astype(object).value_counts()
    done = resolved["category"].astype(object).value_counts()
    order = sorted(done.index, key=lambda c: (-int(received.get(c, 0)), -int(done[c]), str(c)))
    ranked = resolved.assign(
        _cat=resolved["category"].astype(object),
        _unhappy=~((resolved["sat"] >= 4) & w.contains(resolved["rated_at"])),
        _late=~(resolved["dl"].notna() & (resolved["r"] <= resolved["dl"])),
        _took=resolved["r"] - resolved["c"],
        _id=resolved.index,
    ).sort_values(["_unhappy", "_late", "_took", "_id"], kind="stable")
    queues = {c: list(g["_id"]) for c, g in ranked.groupby("_cat", sort=False)}
    chosen: list[str] = []
    while len(chosen) < n and any(queues.values()):
        for c in order:
            if queues.get(c) and len(chosen) < n:
                chosen.append(queues[c].pop(0))
    return chosen


def masked(text: Any, limit: int) -> str:
    """Citizen-written text for a document that leaves the building: personal data masked (the
    newsroom tier), cut to ``limit`` characters after masking, so no cut can split a number into
    an unmasked part."""
    out = mask_text(str(text or "")[:limit * 4], NEWSROOM)
    return out if len(out) <= limit else out[:limit - 1].rstrip() + "…"


def content(frame: pd.DataFrame, d: Day, profile: Profile, s: dict[str, str],
            states: Callable[[list[str]], dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Everything a briefing shows, as plain values (numbers, masked texts); ``states`` reads the
    stored state of the appeals it lists."""
    check_covered(frame, d, profile.tz)
    summary = manager.summary(frame, Filters(), d.until, profile, between=(d.current, d.previous))
    names = profile.district_names()
    names[""] = s["m_unknown_district"]
    over_now = frame[overdue_at(frame, d.until)]
    over_now = over_now.assign(over_s=d.until - over_now["dl"], rid=over_now.index).sort_values(
        ["over_s", "rid"], ascending=[False, True])
    listed = over_now.head(OVERDUE_LISTED)
    typical = typical_cases(frame, d.current)
    texts = states(list(listed.index) + typical)
    overdue_rows = [{
        "id": rid, "category": str(row.category), "district": names.get(str(row.district), str(row.district)),
        "unit": str(row.unit), "over": duration(row.over_s, s),
        "title": masked(texts.get(rid, {}).get("title"), TITLE_CHARS),
    } for rid, row in zip(listed.index, listed.itertuples(index=False))]
    picked = frame.loc[typical]
    satisfied = (picked["sat"] >= 4) & d.current.contains(picked["rated_at"])
    cases = []
    for rid in typical:
        row, state = picked.loc[rid], texts.get(rid, {})
        cases.append({
            "id": rid, "category": str(row["category"]), "district": names.get(str(row["district"]), str(row["district"])),
            "unit": str(row["unit"]), "took": duration(row["r"] - row["c"], s),
            "satisfied": bool(satisfied[rid]),
            "on_time": bool(pd.notna(row["dl"]) and row["r"] <= row["dl"]),
            "title": masked(state.get("title"), TITLE_CHARS),
            "text": masked(state.get("text"), TEXT_CHARS),
            "reply": masked(state.get("rtext"), TEXT_CHARS),
        })
    districts = received_by(frame, "district", d)
    for r in districts:
        r["label"] = names.get(r["name"], r["name"])
    return {
        "city": profile.city, "day": d.day.isoformat(), "whole_day": d.whole, "until": d.until,
        "timezone": profile.timezone, "summary": summary,
        "open": int(open_at(frame, d.until).sum()), "open_before": int(open_at(frame, d.before_until).sum()),
        "overdue": len(over_now), "overdue_before": int(overdue_at(frame, d.before_until).sum()),
        "hourly": hourly(frame, d.current, profile.tz), "hourly_before": hourly(frame, d.previous, profile.tz),
        "categories": received_by(frame, "category", d)[:TOP], "districts": districts,
        "overdue_rows": overdue_rows, "typical": cases,
    }
