"""The manager view's figures: deadlines, response-time distributions and league tables.

Managers filter by period, district, category, channel and handling unit in any combination, which
no fixed set of counters in Redis can answer. So each web worker holds the appeals of the recent
months in memory, as one pandas DataFrame of a few fields per appeal (no texts), and computes every
figure from it on request:

- ``FactsTable`` (dashboard/manager_table.py) keeps the frame current from the aggregator's change feed.
- ``Filters`` is what a manager chose, parsed from a URL query with a clear error for each bad value.
- ``summary``, ``deadline_list``, ``times`` and ``league`` compute the figures of docs/metrics.md
  ("Manager view") from a frame.

Everything here reads the state the aggregators keep; nothing writes to it.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock_time, timedelta
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import orjson
import pandas as pd

from . import clock
from .deadlines import DUE_SOON, ON_TRACK, OVERDUE
from .errors import CivicwallError
from .keys import Keys
from .manager_table import LABELS, FactsTable
from .masking import PUBLIC, mask_text
from .profiles import Profile, normalise_name
from .store import translated


PERIODS = {"today": 1, "7d": 7, "30d": 30}   # period -> days its comparison window lies back
DIMENSIONS = ("district", "category", "channel", "unit")
MAX_VALUES = 50         # values per filter
MAX_VALUE_CHARS = 80    # as long as a label may be (docs/events.md)
STATES = (OVERDUE, DUE_SOON, ON_TRACK)
RATES = ("resolution_rate", "on_time_rate", "satisfaction_rate")
TIMES = ("median_first_response_s", "median_resolution_s")
RANK_BY = RATES + TIMES
Z95 = 1.959963984540054  # two-sided 95 % normal quantile



class FilterError(CivicwallError, ValueError):
    """A filter in a manager URL or API call is not valid; the message says which and why."""


# -- filters ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    period: str = "today"
    district: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    unit: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, args: Mapping[str, Any], profile: Profile) -> "Filters":
        """From a query string's values (``{"district": ["BRONX", "QUEENS"], ...}``; a plain string
        counts as one value). Unknown districts and channels and bad periods raise FilterError."""
        def values(name: str) -> tuple[str, ...]:
            raw = args.get(name, ())
            items = [raw] if isinstance(raw, str) else list(raw)
            out = []
            for item in items:
                if not isinstance(item, str):
                    raise FilterError(f"{name}: expected text, got {type(item).__name__}")
                if len(item) > MAX_VALUE_CHARS:
                    raise FilterError(f"{name}: a value longer than {MAX_VALUE_CHARS} characters")
                if item not in out:
                    out.append(item)
            if len(out) > MAX_VALUES:
                raise FilterError(f"{name}: at most {MAX_VALUES} values, got {len(out)}")
            return tuple(out)

        period = values("period")
        if len(period) > 1:
            raise FilterError("period: give one period")
        chosen = period[0] if period else "today"
        if chosen not in PERIODS:
            raise FilterError(f"period: {chosen[:40]!r} is not one of {', '.join(PERIODS)}")
        # A district by its id, name or any alias of the profile ("Bronx", "bronx", "BX" -> BRONX).
        lookup = profile.district_lookup()
        districts = []
        for d in values("district"):
            found = "" if d == "" else lookup.get(normalise_name(d))
            if found is None:
                raise FilterError(f"district: {d!r} is not a district of {profile.city} "
                                  f"(ids: {', '.join(x.id for x in profile.districts)}; empty for unknown)")
            if found not in districts:
                districts.append(found)
        districts = tuple(districts)
        channels = values("channel")
        return cls(period=chosen, district=districts, category=values("category"), channel=channels,
                   unit=values("unit"))

    def query(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs, defaults left out."""
        pairs = [] if self.period == "today" else [("period", self.period)]
        for name in DIMENSIONS:
            pairs += [(name, v) for v in getattr(self, name)]
        return pairs

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        mask = None
        for name in DIMENSIONS:
            chosen = getattr(self, name)
            if chosen:
                m = frame[name].isin(chosen)
                mask = m if mask is None else mask & m
        return frame if mask is None else frame[mask]

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, **{name: list(getattr(self, name)) for name in DIMENSIONS}}


# -- windows ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """Times t with start < t <= end, or start <= t <= end when ``closed_start``; with ``closed_end``
    false the end itself is left out (a whole calendar day: midnight to the next midnight)."""

    start: float
    end: float
    closed_start: bool
    closed_end: bool = True

    def contains(self, t: pd.Series) -> pd.Series:
        low = t >= self.start if self.closed_start else t > self.start
        return low & ((t <= self.end) if self.closed_end else (t < self.end))

    def as_dict(self, tz) -> dict[str, Any]:
        return {"start": _iso(self.start, tz), "end": _iso(self.end, tz), "start_ts": self.start,
                "end_ts": self.end, "includes_start": self.closed_start}


def windows(period: str, now: float, tz) -> tuple[Window, Window]:
    """The period's window ending now and its comparison: the same window moved back by one day
    (today) or by its own length (7d, 30d), on the city's wall clock.

    - today: from local midnight (included) to now; compared with yesterday from midnight to the
      same clock time;
    - 7d / 30d: the last 7 or 30 days, (now - N days, now]; compared with the N days before that.
    """
    days = PERIODS[period]
    local = datetime.fromtimestamp(now, tz)

    def back(moment: datetime, n: int) -> float:
        # Wall-clock arithmetic: 7 days before 10:00 is 10:00, also across a change of offset.
        return (moment.replace(tzinfo=None) - timedelta(days=n)).replace(tzinfo=tz).timestamp()

    if period == "today":
        midnight = datetime.combine(local.date(), clock_time(0), tz)
        return (Window(midnight.timestamp(), now, True),
                Window(back(midnight, 1), back(local, 1), True))
    start = back(local, days)
    return Window(start, now, False), Window(back(local, 2 * days), start, False)


def day_windows(day: date, tz, until: float | None = None) -> tuple[Window, Window]:
    """The local calendar day ``day`` and the day before, each from midnight (included) to the next
    midnight (excluded). When ``until`` falls inside the day, the day up to ``until`` and the day
    before up to the same clock time instead: then exactly the period ``today`` at ``until``."""
    start = datetime.combine(day, clock_time(0), tz).timestamp()
    end = datetime.combine(day + timedelta(days=1), clock_time(0), tz).timestamp()
    if until is not None and until < end:
        return windows("today", max(until, start), tz)
    before = datetime.combine(day - timedelta(days=1), clock_time(0), tz).timestamp()
    return Window(start, end, True, False), Window(before, start, True, False)


def _iso(ts: float, tz) -> str:
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


# -- figures ----------------------------------------------------------------------------------------

def wilson(num: int, den: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of a proportion num/den (95 % by default); (None, None) for den 0."""
    if den <= 0:
        return None, None
    p = num / den
    centre = p + z * z / (2 * den)
    spread = z * math.sqrt(p * (1 - p) / den + z * z / (4 * den * den))
    scale = 1 + z * z / den
    # At 0 and at den the bound is exactly 0 or 1; the formula leaves a rounding error there.
    low = 0.0 if num == 0 else max(0.0, (centre - spread) / scale)
    high = 1.0 if num == den else min(1.0, (centre + spread) / scale)
    return low, high


def rate(num: int, den: int) -> dict[str, Any]:
    low, high = wilson(num, den)
    return {"value": (num / den) if den else None, "num": int(num), "den": int(den), "low": low, "high": high}


def _quantiles(seconds: pd.Series) -> dict[str, Any]:
    if seconds.empty:
        return {"count": 0, "median_s": None, "p90_s": None}
    return {"count": int(seconds.size), "median_s": float(seconds.quantile(0.5)),
            "p90_s": float(seconds.quantile(0.9))}


def _grouped_quantiles(seconds: pd.Series, groups: Any) -> dict[str, dict[str, Any]]:
    """_quantiles of ``seconds`` for each value of ``groups`` (positionally aligned), in one pass."""
    if seconds.empty:
        return {}
    by = seconds.groupby(groups, sort=False, observed=True)
    counts, medians, p90s = by.size(), by.quantile(0.5), by.quantile(0.9)
    return {name: {"count": int(counts[name]), "median_s": float(medians[name]), "p90_s": float(p90s[name])}
            for name in counts.index}


def _durations(frame: pd.DataFrame, at: str, window: Window) -> tuple[pd.Series, np.ndarray]:
    """Seconds from creation to ``at`` (f or r) for the appeals whose ``at`` lies in the window, and
    which of the frame's rows they are; negative durations (an answer stamped before its creation)
    are left out."""
    seconds = frame[at] - frame["c"]
    chosen = (frame[at].notna() & window.contains(frame[at]) & (seconds >= 0)).to_numpy()
    return seconds[chosen], chosen


def _durations_by(frame: pd.DataFrame, at: str, window: Window, groups: Any) -> dict[str, dict[str, Any]]:
    seconds, chosen = _durations(frame, at, window)
    return _grouped_quantiles(seconds, groups[chosen])


def _empty_block() -> dict[str, Any]:
    return _block_from({}, {}, {})


def _block_from(sums: Mapping[str, int], first: Mapping[str, Any], resolution: Mapping[str, Any]) -> dict[str, Any]:
    def n(name: str) -> int:
        return int(sums.get(name, 0))
    none = {"count": 0, "median_s": None, "p90_s": None}
    return {
        "received": n("received"),
        "resolved": n("resolved"),
        "resolved_in_period": n("closed"),
        "resolution_rate": rate(n("resolved"), n("received")),
        "on_time_rate": rate(n("on_time"), n("closed_dl")),
        "satisfaction_rate": rate(n("satisfied"), n("rated")),
        "first_response": first or none,
        "resolution": resolution or none,
    }


def _blocks(frame: pd.DataFrame, w: Window, groups: Any) -> dict[str, dict[str, Any]]:
    """Every figure of one window (docs/metrics.md) for each group of appeals (``groups``: each row's
    group), computed for all groups at once: one pass over the appeals, not one per group."""
    resolved_now = frame["r"].notna()
    received = w.contains(frame["c"])
    closed = resolved_now & w.contains(frame["r"])
    closed_dl = closed & frame["dl"].notna()
    rated = frame["rated_at"].notna() & w.contains(frame["rated_at"])
    flags = pd.DataFrame({
        "received": received, "resolved": received & resolved_now, "closed": closed, "closed_dl": closed_dl,
        "on_time": closed_dl & (frame["r"] <= frame["dl"]), "rated": rated, "satisfied": rated & (frame["sat"] >= 4),
    })
    sums = flags.groupby(groups, sort=False, observed=True).sum()
    first = _durations_by(frame, "f", w, groups)
    resolution = _durations_by(frame, "r", w, groups)
    return {name: _block_from(row, first.get(name, {}), resolution.get(name, {}))
            for name, row in zip(sums.index, sums.to_dict("records"))}


def _block(frame: pd.DataFrame, w: Window) -> dict[str, Any]:
    """Every figure of one window over one set of appeals."""
    return _blocks(frame, w, np.zeros(len(frame), dtype=np.int8)).get(0, _empty_block())


def deadline_states(frame: pd.DataFrame, now: float, due_soon_s: float) -> pd.Series:
    """The deadline state of every open appeal that has a deadline (docs/metrics.md)."""
    rows = frame[frame["r"].isna() & frame["dl"].notna()]
    dl = rows["dl"]
    return pd.Series(np.select([now > dl, dl - now <= due_soon_s], [OVERDUE, DUE_SOON], ON_TRACK),
                     index=rows.index, dtype="object")


def summary(frame: pd.DataFrame, filters: Filters, now: float, profile: Profile,
            between: tuple[Window, Window] | None = None) -> dict[str, Any]:
    """The figures of the period and its comparison; ``between`` gives other windows than the
    period's (day_windows for a calendar day). ``open`` and ``deadlines`` are as of ``now``."""
    rows = filters.apply(frame)
    current, previous = between or windows(filters.period, now, profile.tz)
    states = deadline_states(rows, now, profile.manager.due_soon_hours * 3600).value_counts()
    return {
        **_head(filters, now, profile, current, previous),
        "current": _block(rows, current),
        "previous": _block(rows, previous),
        "open": int(rows["r"].isna().sum()),
        "deadlines": {s: int(states.get(s, 0)) for s in STATES},
    }


def _head(filters: Filters, now: float, profile: Profile, current: Window, previous: Window) -> dict[str, Any]:
    return {"city": profile.city, "as_of": _iso(now, profile.tz), "as_of_ts": now, "timezone": profile.timezone,
            "filters": filters.as_dict(), "window": current.as_dict(profile.tz),
            "compare_window": previous.as_dict(profile.tz)}


# Sort key -> (column, whether ascending on the column is ascending on the key): age grows as the
# creation time falls.
DEADLINE_SORTS = {"deadline": ("dl", True), "age": ("c", False), "category": ("category", True),
                  "district": ("district", True), "unit": ("unit", True)}


def deadline_list(frame: pd.DataFrame, filters: Filters, now: float, profile: Profile, *,
                  states: Iterable[str] = (OVERDUE, DUE_SOON), sort: str = "deadline", descending: bool = False,
                  limit: int = 500, titles: Callable[[list[str]], dict[str, str]] | None = None,
                  tier: str = PUBLIC) -> dict[str, Any]:
    """Open appeals in the chosen deadline states, at most ``limit``, with counts of every state.
    ``titles`` maps request ids to their (raw) titles; they are masked here for ``tier`` (the open API
    serves the public tier, the signed-in manager page the manager tier)."""
    chosen = tuple(states)
    for s in chosen:
        if s not in STATES:
            raise FilterError(f"state: {s!r} is not one of {', '.join(STATES)}")
    if sort not in DEADLINE_SORTS:
        raise FilterError(f"sort: {sort!r} is not one of {', '.join(DEADLINE_SORTS)}")
    if not 1 <= limit <= 5000:
        raise FilterError(f"limit: must be between 1 and 5000, got {limit}")
    rows = filters.apply(frame)
    due_soon_s = profile.manager.due_soon_hours * 3600
    state = deadline_states(rows, now, due_soon_s)
    counts = state.value_counts()
    picked = rows.loc[state.index[state.isin(chosen)]].assign(state=state[state.isin(chosen)])
    column, same_way = DEADLINE_SORTS[sort]
    # Ties always fall back to the deadline, then the id, so the order is stable between refreshes.
    # Labels sort as text (a categorical would sort in the order its labels were first seen).
    key = picked[column].astype(object) if column in LABELS else picked[column]
    picked = picked.assign(_key=key, _id=picked.index).sort_values(
        ["_key", "dl", "_id"], ascending=[descending != same_way, True, True], kind="stable")
    total = len(picked)
    picked = picked.head(limit)
    ids = list(picked.index)
    raw_titles = titles(ids) if titles and ids else {}
    names = profile.district_names()
    out = []
    for rid, row in zip(ids, picked.itertuples(index=False)):
        out.append({
            "id": rid,
            "state": row.state,
            "deadline": _iso(row.dl, profile.tz),
            "deadline_ts": row.dl,
            "left_s": row.dl - now,
            "created": _iso(row.c, profile.tz),
            "age_s": now - row.c,
            "category": row.category,
            "district": row.district,
            "district_name": names.get(row.district, row.district),
            "channel": row.channel,
            "unit": row.unit,
            "title": mask_text(raw_titles.get(rid, "")[:400], tier)[:200],
        })
    return {"city": profile.city, "as_of": _iso(now, profile.tz), "as_of_ts": now, "timezone": profile.timezone,
            "filters": filters.as_dict(), "due_soon_hours": profile.manager.due_soon_hours,
            "states": list(chosen), "sort": sort, "descending": descending,
            "counts": {s: int(counts.get(s, 0)) for s in STATES}, "total": total, "rows": out}


def times(frame: pd.DataFrame, filters: Filters, now: float, profile: Profile, by: str) -> dict[str, Any]:
    """First-response and resolution time quantiles per value of ``by``, in the period and its comparison."""
    if by not in ("category", "district", "unit", "channel"):
        raise FilterError(f"by: {by!r} is not one of category, district, unit, channel")
    rows = filters.apply(frame)
    current, previous = windows(filters.period, now, profile.tz)
    out: dict[str, Any] = {**_head(filters, now, profile, current, previous), "by": by}
    for measure, at in (("first_response", "f"), ("resolution", "r")):
        groups = rows[by].array
        cur, chosen = _durations(rows, at, current)
        prev, chosen_prev = _durations(rows, at, previous)
        by_cur = _grouped_quantiles(cur, groups[chosen])
        by_prev = _grouped_quantiles(prev, groups[chosen_prev])
        none = {"count": 0, "median_s": None, "p90_s": None}
        table = []
        for name in sorted(set(by_cur) | set(by_prev)):
            a, b = by_cur.get(name, none), by_prev.get(name, none)
            table.append({"name": name, "label": _label(profile, by, name), **a,
                          "prev_count": b["count"], "prev_median_s": b["median_s"], "prev_p90_s": b["p90_s"]})
        table.sort(key=lambda r: (-r["count"], r["name"]))
        out[measure] = {"all": {**_quantiles(cur), "previous": _quantiles(prev)}, "rows": table}
    return out


def _label(profile: Profile, by: str, name: str) -> str:
    if by == "district":
        return profile.district_names().get(name, name)
    if by == "channel":
        return profile.channels.get(name, name)
    return name


def league(frame: pd.DataFrame, filters: Filters, now: float, profile: Profile, by: str,
           rank_by: str = "on_time_rate") -> dict[str, Any]:
    """One row per unit (or district) with its figures for the period, ranked by ``rank_by`` among
    the rows whose count behind that figure reaches the profile's min_rank_count."""
    if by not in ("unit", "district", "category"):
        raise FilterError(f"by: {by!r} is not one of unit, district, category")
    if rank_by not in RANK_BY:
        raise FilterError(f"rank_by: {rank_by!r} is not one of {', '.join(RANK_BY)}")
    rows = filters.apply(frame)
    current, previous = windows(filters.period, now, profile.tz)
    touched = (current.contains(rows["c"]) | current.contains(rows["r"]) | current.contains(rows["f"])
               | current.contains(rows["rated_at"]))
    names = sorted(set(rows.loc[touched, by]))
    if by == "district":
        names = sorted(set(names) | {d.id for d in profile.districts})
    minimum = profile.manager.min_rank_count
    blocks = _blocks(rows, current, rows[by].array)
    table = []
    for name in names:
        block = blocks.get(name) or _empty_block()
        entry = {
            "name": name, "label": _label(profile, by, name),
            "received": block["received"], "resolved": block["resolved"],
            "resolved_in_period": block["resolved_in_period"],
            **{r: block[r] for r in RATES},
            "median_first_response_s": block["first_response"]["median_s"],
            "first_response_count": block["first_response"]["count"],
            "median_resolution_s": block["resolution"]["median_s"],
            "resolution_count": block["resolution"]["count"],
        }
        table.append(entry)
    _rank(table, rank_by, minimum)
    return {**_head(filters, now, profile, current, previous), "by": by, "rank_by": rank_by,
            "min_rank_count": minimum, "rows": table}


def rank_count(entry: dict[str, Any], rank_by: str) -> int:
    """How many cases stand behind the figure a row is ranked by."""
    if rank_by in RATES:
        return entry[rank_by]["den"]
    return entry["first_response_count" if rank_by == "median_first_response_s" else "resolution_count"]


def _rank(table: list[dict[str, Any]], rank_by: str, minimum: int) -> None:
    """Rank 1 is the best value (highest rate, shortest time); equal values share a rank. Rows with
    fewer than ``minimum`` cases behind the figure are not ranked and follow the ranked ones."""
    def value(e):
        return e[rank_by]["value"] if rank_by in RATES else e[rank_by]
    higher_better = rank_by in RATES
    rankable = [e for e in table if value(e) is not None and rank_count(e, rank_by) >= minimum]
    rest = [e for e in table if e not in rankable]
    rankable.sort(key=lambda e: ((-value(e) if higher_better else value(e)), -rank_count(e, rank_by), e["name"]))
    previous, position = None, 0
    for i, e in enumerate(rankable, 1):
        if value(e) != previous:
            position, previous = i, value(e)
        e["rank"] = position
        e["ranked"] = True
    rest.sort(key=lambda e: (-rank_count(e, rank_by), e["name"]))
    for e in rest:
        e["rank"] = None
        e["ranked"] = False
    table[:] = rankable + rest


def options(frame: pd.DataFrame, profile: Profile) -> dict[str, list[dict[str, str]]]:
    """The values each filter can take: the profile's districts and channels, and the categories and
    units found among the held appeals (most frequent first)."""
    def found(column: str) -> list[str]:
        counts = frame[column].value_counts()
        counts = counts[counts > 0]          # a categorical also counts the labels no appeal has now
        return [str(v) for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v != ""]
    channels = dict(profile.channels)
    for c in found("channel"):
        channels.setdefault(c, c)
    return {
        "district": [{"value": d.id, "label": d.name} for d in profile.districts],
        "category": [{"value": c, "label": c} for c in found("category")],
        "channel": [{"value": k, "label": v} for k, v in channels.items()],
        "unit": [{"value": u, "label": u} for u in found("unit")],
    }


def titles_reader(client, keys: Keys) -> Callable[[list[str]], dict[str, str]]:
    """Reads the titles of a few appeals from their stored state (for the deadline list)."""
    def read(ids: list[str]) -> dict[str, str]:
        with translated("reading appeal titles"):
            pipe = client.pipeline(transaction=False)
            for rid in ids:
                pipe.get(keys.request(rid))
            raws = pipe.execute()
        out = {}
        for rid, raw in zip(ids, raws):
            if raw:
                out[rid] = str(orjson.loads(raw).get("title") or "")
        return out
    return read


def read_states(client, keys: Keys, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The whole stored state (title, text, reply, ...) of a few appeals, by id (missing ones left out)."""
    if not ids:
        return {}
    with translated("reading appeals"):
        pipe = client.pipeline(transaction=False)
        for rid in ids:
            pipe.get(keys.request(rid))
        raws = pipe.execute()
    return {rid: orjson.loads(raw) for rid, raw in zip(ids, raws) if raw}


@dataclass(frozen=True)
class Current:
    at: float               # the wall's clock (the replay's during a replay)
    mode: str               # "live" or "replay"
    rate: float             # clock seconds per real second
    frame: pd.DataFrame


@dataclass
class ManagerData:
    """What the manager page and API share in one worker: the table, the clock and a short cache of
    answers, so many managers on the same filters cost one computation per refresh."""

    client: Callable[[], Any]
    keys: Keys
    profile: Profile
    reuse_s: float = 2.0
    table: FactsTable = field(init=False)
    _cache: dict = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _options: tuple[int, dict] | None = field(default=None, init=False)

    def __post_init__(self):
        self.table = FactsTable(self.client, self.keys, self.profile.tz)

    def current(self) -> Current:
        """The clock and the table as they are now: one clock read and one look at the change feed.
        A page refresh takes this once and passes it to each of its answers."""
        now, mode, rate = clock.reading(self.client(), self.keys)
        return Current(now, mode, rate, self.table.frame(now))

    def answer(self, kind: str, filters: Filters, current: Current | None = None, **params) -> dict[str, Any]:
        key = (kind, filters, tuple(sorted(params.items())))
        hit = self._cache.get(key)
        moment = time.monotonic()
        if hit is not None and moment - hit[0] < self.reuse_s:
            return hit[1]
        current = current or self.current()
        now, frame = current.at, current.frame
        if kind == "summary":
            value = summary(frame, filters, now, self.profile)
        elif kind == "deadlines":
            value = deadline_list(frame, filters, now, self.profile,
                                  titles=titles_reader(self.client(), self.keys), **params)
        elif kind == "times":
            value = times(frame, filters, now, self.profile, **params)
        elif kind == "league":
            value = league(frame, filters, now, self.profile, **params)
        elif kind == "options":
            # The choices change only with the appeals held: computed once per version of the table.
            held = self._options
            if held is None or held[0] != self.table.version:
                held = self._options = (self.table.version, options(frame, self.profile))
            value = held[1]
        else:
            raise ValueError(kind)
        with self._lock:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = (moment, value)
        return value


