"""The newsroom view's figures: appeals ranked by how worth telling they are, each with its reasons.

A reporter looks for what stands out: more appeals than usual about one thing in one place, many
people asking the same question, a case solved remarkably fast, a problem solved after a long wait, a
citizen who rated the handling very satisfied. Each of those is a *reason* with its own figures; an
appeal's score is the sum of its reasons' weights (each grows with how far the appeal stands out), and
appeals without a reason are not listed. docs/newsroom.md defines every reason exactly.

The frame of appeals is the manager view's (dashboard/manager_table.py: timestamps and labels, no
texts); titles and the start of each text are read once per appeal from its stored state and held by
``Texts``. Citizen text is masked for the newsroom tier before it leaves this module, and a search
matches only what the masked text still shows, so searching for a phone number or a name finds nothing
that the page would not show anyway.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import orjson
import pandas as pd

from .keys import Keys
from .i18n import strings
from .manager import MAX_VALUE_CHARS, MAX_VALUES, PERIODS, Filters, FilterError, Window, _iso, read_states, windows
from .masking import NEWSROOM, mask_text
from .profiles import NewsroomRules, Profile, normalise_name
from .store import translated

SURGE, SHARED, FAST, LONG, PRAISED = "surge", "shared", "fast", "long_standing", "praised"
REASONS = (SURGE, SHARED, FAST, LONG, PRAISED)
STATUSES = ("all", "open", "resolved")
TITLE_CHARS, TEXT_CHARS, REPLY_CHARS = 200, 300, 400
MAX_QUERY_CHARS = 100
MAX_LIMIT = 200
READ_CHUNK = 500


# -- texts ------------------------------------------------------------------------------------------

_NOT_WORD = re.compile(r"[\W\d_]+")


def question_key(title: str) -> str:
    """What makes two titles "the same question": the title's letters only, width- and case-folded
    (digits, spaces and punctuation dropped, so '3号楼停水' and '5号楼 停水！' ask the same)."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", title).casefold())


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class Texts:
    """One worker's titles and text openings, read once per appeal from its stored state (titles and
    texts do not change after creation). Held raw, in memory only; masked whenever they leave."""

    def __init__(self, client: Callable[[], Any], keys: Keys):
        self._client = client
        self.keys = keys
        self._held: dict[str, tuple[str, str, str]] = {}     # id -> (title, text opening, question key)
        self._masked: dict[str, str] = {}                     # id -> masked title and text, folded (searched)
        self._lock = threading.Lock()
        self._version = 0                                     # bumped whenever texts are added or dropped
        self._questions: tuple[Any, int, pd.Series] | None = None

    def ensure(self, ids: Iterable[str]) -> None:
        missing = [i for i in ids if i not in self._held]
        if not missing:
            return
        client = self._client()
        found: dict[str, tuple[str, str, str]] = {}
        with translated("reading appeal texts"):
            for i in range(0, len(missing), READ_CHUNK):
                chunk = missing[i:i + READ_CHUNK]
                pipe = client.pipeline(transaction=False)
                for rid in chunk:
                    pipe.get(self.keys.request(rid))
                for rid, raw in zip(chunk, pipe.execute()):
                    state = orjson.loads(raw) if raw else {}
                    title = str(state.get("title") or "")[:TITLE_CHARS * 2]
                    found[rid] = (title, str(state.get("text") or "")[:TEXT_CHARS * 2], question_key(title))
        with self._lock:
            self._held.update(found)
            self._version += 1

    def keep_only(self, ids: set[str]) -> None:
        """Forget appeals no longer held by the table (called when it has shrunk a lot)."""
        with self._lock:
            self._held = {k: v for k, v in self._held.items() if k in ids}
            self._masked = {k: v for k, v in self._masked.items() if k in ids}
            self._version += 1

    def __len__(self) -> int:
        return len(self._held)

    def title(self, rid: str) -> str:
        return self._held.get(rid, ("", "", ""))[0]

    def text(self, rid: str) -> str:
        return self._held.get(rid, ("", "", ""))[1]

    def question(self, rid: str) -> str:
        return self._held.get(rid, ("", "", ""))[2]

    def questions(self, index: pd.Index) -> pd.Series:
        """The question key of every appeal in ``index``, kept until the index or the texts change (the
        index object itself is kept with it, so a new one can never pass for it)."""
        held = self._questions
        if held is not None and held[0] is index and held[1] == self._version:
            return held[2]
        get = self._held.get
        empty = ("", "", "")
        series = pd.Series([get(rid, empty)[2] for rid in index], index=index, dtype=object)
        self._questions = (index, self._version, series)
        return series

    def masked_folded(self, rid: str) -> str:
        """Title and text as the newsroom shows them (masked), folded for search; masked once."""
        found = self._masked.get(rid)
        if found is None:
            title, text, _ = self._held.get(rid, ("", "", ""))
            found = self._masked[rid] = _folded(mask_text(title, NEWSROOM) + " " + mask_text(text, NEWSROOM))
        return found


# -- the usual level --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Baseline:
    """Where the usual level comes from: the window moved back by ``step_s``, ``shifts`` times."""

    step_s: float
    shifts: int

    def windows(self, w: Window) -> list[Window]:
        return [Window(w.start - k * self.step_s, w.end - k * self.step_s, w.closed_start)
                for k in range(1, self.shifts + 1)]


def baseline_for(w: Window, rules: NewsroomRules, held_since: float | None) -> Baseline:
    """Today is compared with the same hours of each of the previous ``baseline_days`` days; 7 days with
    the weeks before (as many as fit in ``baseline_days``); 30 days with the 30 days before. Only the
    shifts the held appeals cover count: no history, no usual level (and no surge)."""
    days = max(1, math.ceil((w.end - w.start) / 86400 - 1e-9))
    step = days * 86400.0
    shifts = max(1, rules.baseline_days // days)
    if held_since is None:
        return Baseline(step, 0)
    covered = int((w.start - held_since) // step) if w.start > held_since else 0
    return Baseline(step, max(0, min(shifts, covered)))


def _counts_in(frame: pd.DataFrame, windows_: list[Window], keys: list[pd.Series]) -> pd.Series:
    """How many appeals were created in all of ``windows_`` together, per key."""
    if not windows_:
        return pd.Series(dtype="float64")
    inside = np.zeros(len(frame), dtype=bool)
    for w in windows_:
        inside |= w.contains(frame["c"]).to_numpy()
    if not inside.any():
        return pd.Series(dtype="float64")
    return pd.Series(1, index=frame.index[inside]).groupby([k[inside] for k in keys], observed=True).sum()


# -- ranking ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    filters: Filters = Filters()
    status: str = "all"
    text: str = ""
    hide_taken: bool = False
    limit: int = 50

    @classmethod
    def from_query(cls, args: Mapping[str, Any], profile: Profile) -> "Query":
        """The query an address asks for; FilterError names the first thing in it that cannot be used."""
        query, problems = cls.read(args, profile, strings("en"))
        if problems:
            raise FilterError(problems[0])
        return query

    @classmethod
    def read(cls, args: Mapping[str, Any], profile: Profile, s: Mapping[str, str]) -> tuple["Query", list[str]]:
        """The query an address asks for, taking the default for whatever in it cannot be used, and
        each such thing with its reason in the words of ``s`` (the page's language)."""
        problems: list[str] = []
        label = {"period": s["m_period"], "district": s["m_district"], "category": s["m_category"],
                 "status": s["n_status"], "q": s["n_search"], "hide_taken": s["n_hide_taken"], "limit": "limit"}

        def quoted(value: str) -> str:
            return "'" + value[:40] + "'"

        def values(name: str) -> list[str]:
            raw = args.get(name, ())
            items = [raw] if isinstance(raw, str) else [str(v) for v in raw]
            out = []
            for item in items:
                if len(item) > MAX_VALUE_CHARS and name != "q":
                    problems.append(s["m_bad_long"].format(name=label[name], n=MAX_VALUE_CHARS))
                elif item != "" and item not in out:
                    out.append(item)
            return out

        def single(name: str, default: str, allowed: Iterable[str] | None = None) -> str:
            given = values(name)
            if len(given) > 1:
                problems.append(s["m_bad_one"].format(name=label[name]))
                return default
            if not given:
                return default
            if allowed is not None and given[0] not in allowed:
                problems.append(s["m_bad_value"].format(name=label[name], value=quoted(given[0]),
                                                       allowed=", ".join(allowed)))
                return default
            return given[0]

        for name in args:
            if name not in label:
                problems.append(s["m_bad_unknown"].format(name=quoted(name)))
        period = single("period", "today", list(PERIODS))
        status = single("status", "all", STATUSES)
        hide = single("hide_taken", "0", ("0", "1"))
        limit = single("limit", "50", [str(n) for n in range(1, MAX_LIMIT + 1)])
        text = single("q", "").strip()
        if len(text) > MAX_QUERY_CHARS:
            problems.append(s["m_bad_long"].format(name=label["q"], n=MAX_QUERY_CHARS))
            text = ""
        lookup = profile.district_lookup()
        districts: list[str] = []
        for d in values("district"):
            found = lookup.get(normalise_name(d))
            if found is None:
                problems.append(s["m_bad_district"].format(value=quoted(d),
                                                           allowed=", ".join(x.name for x in profile.districts)))
            elif found not in districts:
                districts.append(found)
        categories = values("category")
        for name, chosen in (("district", districts), ("category", categories)):
            if len(chosen) > MAX_VALUES:
                problems.append(s["m_bad_many"].format(name=label[name], n=MAX_VALUES))
                del chosen[MAX_VALUES:]
        filters = Filters(period=period, district=tuple(districts), category=tuple(categories))
        return cls(filters, status, text, hide == "1", int(limit)), problems

    def state(self) -> dict[str, Any]:
        """The page's controls for this query (what the page shows as chosen)."""
        return {"period": self.filters.period, "district": list(self.filters.district),
                "category": list(self.filters.category), "status": self.status, "q": self.text,
                "hide_taken": self.hide_taken}


def reasons(frame: pd.DataFrame, questions: pd.Series, now: float, w: Window, rules: NewsroomRules) -> dict[str, Any]:
    """Every appeal created or resolved in ``w`` with at least one reason, scored.

    ``frame`` is the manager table (all appeals held, unfiltered: the usual level and the category
    medians come from all of them); ``questions`` its question keys. Returns ``{"scored": DataFrame
    (index id; columns score, at, and one column per reason with its figures), "baseline": Baseline}``.
    """
    c, r = frame["c"], frame["r"]
    in_window = w.contains(c) | w.contains(r)
    held_since = float(c.min()) if len(frame) and c.notna().any() else None
    base = baseline_for(w, rules, held_since)
    shifts = base.windows(w)
    cand = frame[in_window]
    out = pd.DataFrame(index=cand.index)
    out["score"] = 0.0
    created_in = w.contains(cand["c"])

    # A surge: this category in this district, created in the window, against the usual level.
    group = [frame["district"].astype(object), frame["category"].astype(object)]
    now_counts = _counts_in(frame, [w], group)
    usual_counts = _counts_in(frame, shifts, group) / base.shifts if base.shifts else None
    if usual_counts is not None and len(now_counts):
        usual = usual_counts.reindex(now_counts.index).fillna(0.0)
        ratio = now_counts / np.maximum(usual, 1.0)
        hot = (now_counts >= rules.surge_min) & (ratio >= rules.surge_ratio)
        if hot.any():
            keys = pd.MultiIndex.from_arrays([cand["district"].astype(object), cand["category"].astype(object)])
            hits = now_counts[hot].reindex(keys).to_numpy()
            use = usual[hot].reindex(keys).to_numpy()
            mark = ~np.isnan(hits) & created_in.to_numpy()
            out.loc[mark, "surge_n"] = hits[mark]
            out.loc[mark, "surge_usual"] = use[mark]
            out.loc[mark, "score"] += 4 + np.log2(hits[mark] / np.maximum(use[mark], 1.0) / rules.surge_ratio)

    # The same question asked by many, city-wide, against the usual level for that question.
    q = questions.reindex(frame.index).fillna("")
    asked = q != ""
    if asked.any() and base.shifts:
        qframe = frame[asked]
        qk = [q[asked]]
        q_now = _counts_in(qframe, [w], qk)
        q_usual = (_counts_in(qframe, shifts, qk) / base.shifts).reindex(q_now.index).fillna(0.0)
        q_ratio = q_now / np.maximum(q_usual, 1.0)
        shared = (q_now >= rules.share_min) & (q_ratio >= rules.share_ratio)
        if shared.any():
            ckeys = q.reindex(cand.index)
            hits = q_now[shared].reindex(ckeys).to_numpy()
            use = q_usual[shared].reindex(ckeys).to_numpy()
            mark = ~np.isnan(hits) & created_in.to_numpy()
            out.loc[mark, "shared_n"] = hits[mark]
            out.loc[mark, "shared_usual"] = use[mark]
            out.loc[mark, "score"] += 4 + np.log2(hits[mark] / rules.share_min)

    # Resolved in the window: fast against its category's median, after a long wait, praised.
    dur = (cand["r"] - cand["c"]).where(w.contains(cand["r"]))
    resolved = frame[frame["r"].notna() & frame["c"].notna()]
    med = (resolved["r"] - resolved["c"]).groupby(resolved["category"].astype(object)).agg(["median", "count"])
    med = med[med["count"] >= rules.fast_min_resolved]["median"]
    cat_median = cand["category"].astype(object).map(med).astype("float64")
    fast = (dur >= 0) & (dur <= rules.fast_fraction * cat_median)
    if fast.any():
        out.loc[fast, "fast_s"] = dur[fast]
        out.loc[fast, "fast_median_s"] = cat_median[fast]
        share = (dur[fast] / cat_median[fast]).clip(lower=1e-3)
        out.loc[fast, "score"] += 2 + np.log10(rules.fast_fraction / share).clip(upper=2)
    long_s = rules.long_days * 86400
    waited = dur >= long_s
    if waited.any():
        out.loc[waited, "long_s"] = dur[waited]
        out.loc[waited, "score"] += 2 + np.log2(dur[waited] / long_s)
    praised = dur.notna() & (cand["sat"] >= 5)
    if praised.any():
        out.loc[praised, "praised"] = cand["sat"][praised]
        out.loc[praised, "score"] += 1.0

    for column in ("surge_n", "surge_usual", "shared_n", "shared_usual", "fast_s", "fast_median_s", "long_s",
                   "praised"):
        if column not in out:
            out[column] = np.nan
    scored = out[out["score"] > 0].copy()
    scored["at"] = np.fmax(cand["c"].reindex(scored.index), cand["r"].reindex(scored.index).fillna(-np.inf))
    return {"scored": scored, "baseline": base}


def _reason_list(row: Any) -> list[dict[str, Any]]:
    out = []
    if not math.isnan(row.surge_n):
        out.append({"kind": SURGE, "count": int(row.surge_n), "usual": round(float(row.surge_usual), 1)})
    if not math.isnan(row.shared_n):
        out.append({"kind": SHARED, "count": int(row.shared_n), "usual": round(float(row.shared_usual), 1)})
    if not math.isnan(row.fast_s):
        out.append({"kind": FAST, "seconds": float(row.fast_s), "usual_seconds": float(row.fast_median_s)})
    if not math.isnan(row.long_s):
        out.append({"kind": LONG, "seconds": float(row.long_s)})
    if not math.isnan(row.praised):
        out.append({"kind": PRAISED, "rating": int(row.praised)})
    return out


def _matches(terms: list[str], *texts: str) -> bool:
    folded = _folded(" ".join(texts))
    return all(t in folded for t in terms)


def stories(frame: pd.DataFrame, texts: Texts, query: Query, now: float, profile: Profile, *,
            taken: Mapping[str, dict[str, Any]], states: Callable[[list[str]], dict[str, dict[str, Any]]]
            ) -> dict[str, Any]:
    """The ranked stories for ``query``: reasons from all appeals held, then the filters, the search and
    the taken marks, then at most ``rules.per_group`` stories of one surge or one question."""
    rules = profile.newsroom
    w, _ = windows(query.filters.period, now, profile.tz)
    # Texts are needed for the appeals of the window (search, questions) and of its usual level.
    held_since = float(frame["c"].min()) if len(frame) and frame["c"].notna().any() else None
    base = baseline_for(w, rules, held_since)
    earliest = w.start - base.shifts * base.step_s
    texts.ensure(frame.index[(frame["c"] >= earliest) | w.contains(frame["r"])].tolist())
    questions = texts.questions(frame.index)
    found = reasons(frame, questions, now, w, rules)
    scored: pd.DataFrame = found["scored"]
    rows = frame.loc[scored.index]
    keep = query.filters.apply(rows).index
    scored = scored.loc[keep]
    rows = rows.loc[keep]
    if query.status == "open":
        scored = scored[rows["r"].isna()]
    elif query.status == "resolved":
        scored = scored[rows["r"].notna()]
    if query.hide_taken and taken:
        scored = scored[~scored.index.isin(list(taken))]
    scored = scored.assign(_id=scored.index).sort_values(["score", "at", "_id"], ascending=[False, False, True])

    terms = _folded(query.text).split() if query.text else []
    starred = any("*" in t for t in terms)       # copied from the page: "138****5678"
    names = profile.district_names()
    picked: list[str] = []
    per_group: dict[tuple, int] = {}
    matched = 0
    for rid, row in zip(scored.index, scored.itertuples(index=False)):
        if terms:
            title, text = texts.title(rid), texts.text(rid)
            # Raw text first (cheap), then the masked text: a search must not find what masking hides.
            # The raw text first (cheap) unless a word holds a masking star; always the masked text.
            if (not starred and not _matches(terms, title, text)) \
                    or not all(t in texts.masked_folded(rid) for t in terms):
                continue
        matched += 1
        groups = []
        if not math.isnan(row.surge_n):
            groups.append(("surge", frame.at[rid, "district"], frame.at[rid, "category"]))
        if not math.isnan(row.shared_n):
            groups.append(("shared", texts.question(rid)))
        if groups and all(per_group.get(g, 0) >= rules.per_group for g in groups):
            continue
        for g in groups:
            per_group[g] = per_group.get(g, 0) + 1
        if len(picked) < query.limit:
            picked.append(rid)

    full = states(picked)
    out = []
    for rid in picked:
        row, score = frame.loc[rid], scored.at[rid, "score"]
        state = full.get(rid, {})
        resolved = not pd.isna(row["r"])
        out.append({
            "id": rid,
            "score": round(float(score), 2),
            "status": "resolved" if resolved else "open",
            "created": _iso(row["c"], profile.tz),
            "resolved": _iso(row["r"], profile.tz) if resolved else None,
            "category": row["category"],
            "district": row["district"],
            "district_name": names.get(row["district"], row["district"]),
            "unit": row["unit"],
            "satisfaction": None if pd.isna(row["sat"]) else int(row["sat"]),
            "title": mask_text(str(state.get("title") or "")[:TITLE_CHARS * 2], NEWSROOM)[:TITLE_CHARS],
            "text": mask_text(str(state.get("text") or "")[:TEXT_CHARS * 2], NEWSROOM)[:TEXT_CHARS],
            "reply": mask_text(str(state.get("rtext") or "")[:REPLY_CHARS * 2], NEWSROOM)[:REPLY_CHARS]
            if resolved else "",
            "reasons": _reason_list(scored.loc[rid]),
            "taken": taken.get(rid),
        })
    return {"city": profile.city, "as_of": _iso(now, profile.tz), "as_of_ts": now,
            "window": w.as_dict(profile.tz), "filters": query.filters.as_dict(), "status": query.status,
            "q": query.text, "hide_taken": query.hide_taken,
            "usual_level": {"shifts": found["baseline"].shifts, "step_days": found["baseline"].step_s / 86400},
            "matched": matched, "stories": out}


class NewsroomData:
    """What the newsroom page shares in one worker: the manager view's table and clock (one copy of the
    appeals per worker), the texts read so far and the taken marks (in Redis, shared by everyone)."""

    def __init__(self, managers, marks):
        self.managers = managers
        self.marks = marks
        self.texts = Texts(managers.client, managers.keys)
        self._seen_version = -1

    def answer(self, query: Query) -> dict[str, Any]:
        current = self.managers.current()
        frame = current.frame
        table = self.managers.table
        if table.version != self._seen_version:
            self._seen_version = table.version
            # The table shrinks when it prunes or loads afresh: forget texts it no longer holds.
            if len(self.texts) > 1.5 * len(frame) + 1000:
                self.texts.keep_only(set(frame.index))
        client = self.managers.client()
        value = stories(frame, self.texts, query, current.at, self.managers.profile, taken=self.marks.all(),
                        states=lambda ids: read_states(client, self.managers.keys, ids))
        value["clock"] = {"mode": current.mode, "rate": current.rate}
        return value

    def exists(self, rid: str) -> bool:
        with translated("looking an appeal up"):
            return bool(self.managers.client().exists(self.managers.keys.request(rid)))
