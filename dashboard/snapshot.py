"""The ready-to-serve snapshot: every figure on the wall, computed from aggregates in Redis.

The aggregator builds it (after each batch, and on a timer so that time-dependent figures such as
"overdue now" move even when no events arrive) and stores it as one JSON string. Web workers only
read that string, so a refresh costs one GET whatever the size of the history, and every worker
serves the same numbers. docs/metrics.md defines each figure; the field names here match it.
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timedelta
from typing import Any

import orjson
import redis

from . import clock
from .errors import SnapshotMissing
from .keys import Keys
from .masking import mask_text
from .profiles import Profile
from .store import translated

SCHEMA = 1
TICKER_ROWS = 20
RESOLVED_CARDS = 8


def quantile_from_zset(client: redis.Redis, key: str, q: float) -> tuple[float | None, int]:
    """The q-quantile of a sorted set's scores with linear interpolation (pandas' default), and n."""
    n = client.zcard(key)
    if n == 0:
        return None, 0
    pos = (n - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    rows = client.zrange(key, lo, hi, withscores=True)
    low = rows[0][1]
    high = rows[-1][1]
    return low + (high - low) * (pos - lo), n


def _durations(client: redis.Redis, key: str) -> dict[str, Any]:
    median, n = quantile_from_zset(client, key, 0.5)
    p90, _ = quantile_from_zset(client, key, 0.9)
    return {"median_s": median, "p90_s": p90, "count": n}


def _rate(num: int, den: int) -> dict[str, Any]:
    return {"value": (num / den) if den else None, "num": num, "den": den}


def _ints(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {k.decode("utf-8", "replace"): int(v) for k, v in raw.items()}


def _group(h: dict[str, int], prefix: str) -> dict[str, int]:
    n = len(prefix)
    return {k[n:]: v for k, v in h.items() if k.startswith(prefix) and v}


def build(client: redis.Redis, keys: Keys, profile: Profile, real_now: float | None = None) -> dict[str, Any]:
    """Compute the snapshot from the aggregates. Cost is bounded by the number of districts,
    categories and channels, never by the number of appeals in the history."""
    real_now = time.time() if real_now is None else real_now
    now_ts, mode = clock.now(client, keys, real_now)
    tz = profile.tz
    local_now = datetime.fromtimestamp(now_ts, tz)
    today = local_now.date().isoformat()
    yesterday = (local_now.date() - timedelta(days=1)).isoformat()
    minute_now = local_now.hour * 60 + local_now.minute

    with translated("building the snapshot"):
        pipe = client.pipeline(transaction=False)
        pipe.hgetall(keys.day(today))
        pipe.hgetall(keys.day(yesterday))
        pipe.hgetall(keys.all_time())
        pipe.zcard(keys.open)
        pipe.zcount(keys.open_deadlines, "-inf", f"({now_ts}")
        pipe.hgetall(keys.rejected)
        pipe.hgetall(keys.repaired)
        pipe.hgetall(keys.meta)
        pipe.zrevrange(keys.recent, 0, TICKER_ROWS - 1)
        pipe.zrevrange(keys.recent_resolved, 0, RESOLVED_CARDS - 1)
        pipe.hgetall(keys.heartbeat)
        pipe.scard(keys.orphans)
        (d_today, d_yday, d_all, open_n, overdue, rejected, repaired, meta, recent_ids,
         resolved_ids, beats, orphans) = pipe.execute()
        frt = _durations(client, keys.frt(today))
        ttr = _durations(client, keys.ttr(today))
        ttr_all = _durations(client, keys.ttr_all)
        ticker = _requests(client, keys, recent_ids)
        cases = _requests(client, keys, resolved_ids)
        pending = _pending(client, keys)

    t, y, a = _ints(d_today), _ints(d_yday), _ints(d_all)
    names = profile.district_names()
    received_today = t.get("n", 0)
    same_time_yday = sum(v for k, v in _group(y, "m:").items() if int(k) <= minute_now)
    dist_today = _group(t, "d:")
    res_dist_today = _group(t, "res_d:")
    district_rows = [
        {"id": d.id, "name": d.name, "key": d.key, "received": dist_today.get(d.id, 0),
         "resolved": res_dist_today.get(d.id, 0)}
        for d in profile.districts
    ]
    unknown = dist_today.get("", 0)
    by_dc: dict[str, dict[str, int]] = {}
    for k, v in _group(t, "dc:").items():
        dist, _, cat = k.partition("|")
        by_dc.setdefault(dist, {})[cat] = v
    beats_alive = sum(1 for v in beats.values() if real_now - float(v) < 30)

    return {
        "schema": SCHEMA,
        "city": profile.city,
        "title": profile.title,
        "language": profile.language,
        "timezone": profile.timezone,
        "clock": mode,
        "as_of": local_now.isoformat(timespec="seconds"),
        "as_of_ts": now_ts,
        "built_at": real_now,
        "today": today,
        "yesterday": yesterday,
        "last_event_ts": float(meta[b"last_event_ts"]) if meta.get(b"last_event_ts") else None,
        "headline": {
            "received_today": received_today,
            "received_same_time_yesterday": same_time_yday,
            "received_yesterday": y.get("n", 0),
            "resolved_today": t.get("res", 0),
            "open_backlog": open_n,
            "overdue_now": overdue,
            "resolution_rate": _rate(t.get("rr", 0), received_today),
            "on_time_rate": _rate(t.get("res_ot", 0), t.get("res_dl", 0)),
            "satisfaction_rate": _rate(t.get("sat", 0), t.get("rated", 0)),
            "first_response": frt,
            "time_to_resolve": ttr,
        },
        "targets": {"first_response_minutes": profile.target_first_response_min,
                    "on_time_rate": profile.target_on_time_rate},
        "by_district": district_rows,
        "unknown_district_today": unknown,
        "by_district_category": {dist: cats for dist, cats in by_dc.items()},
        "by_category": _ranked(_group(t, "c:")),
        "by_channel": [{"id": k, "label": profile.channels.get(k, k or "—"), "received": v}
                       for k, v in sorted(_group(t, "ch:").items(), key=lambda kv: (-kv[1], kv[0]))],
        "by_unit": _ranked(_group(t, "u:")),
        "hourly": {"today": _hours(t), "yesterday": _hours(y)},
        "all_time": {
            "received": a.get("n", 0),
            "open": a.get("open", 0),
            "resolved": a.get("rr", 0),
            "by_district": _group(a, "d:"),
            "by_category": _group(a, "c:"),
            "by_channel": _group(a, "ch:"),
            "on_time_rate": _rate(a.get("res_ot", 0), a.get("res_dl", 0)),
            "satisfaction_rate": _rate(a.get("sat", 0), a.get("rated", 0)),
            "time_to_resolve": ttr_all,
            "negative_durations": a.get("neg_ttr", 0) + a.get("neg_frt", 0),
        },
        "ticker": [_ticker_row(r, tz, names, profile) for r in ticker],
        "resolved_cases": [_case_row(r, tz, names) for r in cases],
        "pipeline": {
            "applied": int(meta.get(b"applied", 0)),
            "duplicates": int(meta.get(b"duplicates", 0)),
            "rejected_total": int(rejected.get(b"total", 0)),
            "rejected_by_reason": {k: v for k, v in _ints(rejected).items() if k != "total"},
            "repaired": _ints(repaired),
            "pending": pending,
            "awaiting_creation": orphans,
            "state_since": float(meta[b"state_since"]) if meta.get(b"state_since") else None,
            "aggregators_alive": beats_alive,
        },
    }


def _ranked(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"name": k, "received": v} for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _hours(h: dict[str, int]) -> list[int]:
    return [h.get(f"h:{i}", 0) for i in range(24)]


def _requests(client: redis.Redis, keys: Keys, ids: list[bytes]) -> list[dict[str, str]]:
    if not ids:
        return []
    pipe = client.pipeline(transaction=False)
    fields = ("ct", "ch", "cat", "dist", "title", "text", "unit", "cunit", "rs", "rtext", "dl")
    for rid in ids:
        pipe.get(keys.request(rid.decode("utf-8", "replace")))
    rows = []
    for rid, raw in zip(ids, pipe.execute()):
        state = orjson.loads(raw) if raw else {}
        row = {name: _plain(state.get(name)) for name in fields}
        row["id"] = rid.decode("utf-8", "replace")
        rows.append(row)
    return rows


def _plain(value: Any) -> str:
    """A state value as text, as it would read in a Redis hash: 1716786000, not 1716786000.0."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _masked(text: str, limit: int) -> str:
    """Mask, then cut. Masking a bounded prefix keeps the cost per row small; a number cut at that
    prefix's end lies beyond ``limit`` and is dropped with the rest."""
    return mask_text(text[: limit * 2])[:limit]


def _local(ts: str, tz) -> str:
    return datetime.fromtimestamp(int(ts), tz).isoformat(timespec="seconds") if ts else ""


def _ticker_row(r: dict[str, str], tz, names: dict[str, str], profile: Profile) -> dict[str, Any]:
    return {
        "id": r["id"],
        "created": _local(r["ct"], tz),
        "channel": profile.channels.get(r["ch"], r["ch"]),
        "category": r["cat"],
        "district": names.get(r["dist"], r["dist"]),
        "title": _masked(r["title"], 200),
        "text": _masked(r["text"], 280),
        "resolved": bool(r["rs"]),
    }


def _case_row(r: dict[str, str], tz, names: dict[str, str]) -> dict[str, Any]:
    duration = int(r["rs"]) - int(r["ct"]) if r["rs"] and r["ct"] else None
    return {
        "id": r["id"],
        "created": _local(r["ct"], tz),
        "resolved": _local(r["rs"], tz),
        "duration_s": duration,
        "category": r["cat"],
        "district": names.get(r["dist"], r["dist"]),
        "unit": r["unit"] or r["cunit"],
        "title": _masked(r["title"], 200),
        "text": _masked(r["text"], 200),
        "reply": _masked(r["rtext"], 280),
    }


def _pending(client: redis.Redis, keys: Keys) -> dict[str, int]:
    """Stream length and what the consumer group has not yet acknowledged."""
    try:
        length = client.xlen(keys.stream)
        groups = client.xinfo_groups(keys.stream)
    except redis.exceptions.ResponseError:
        return {"stream_length": 0, "unacknowledged": 0, "lag": 0}
    pending = sum(int(g.get("pending", 0)) for g in groups)
    lag = sum(int(g.get("lag") or 0) for g in groups)
    return {"stream_length": length, "unacknowledged": pending, "lag": lag}


def store(client: redis.Redis, keys: Keys, snap: dict[str, Any]) -> None:
    """Store the snapshot and announce it: web workers that push to screens listen on
    ``keys.published`` and read the new snapshot as soon as it is there."""
    with translated("storing the snapshot"):
        pipe = client.pipeline(transaction=False)
        pipe.set(keys.snapshot, json.dumps(snap, ensure_ascii=False, separators=(",", ":")))
        pipe.publish(keys.published, repr(snap.get("built_at")))
        pipe.execute()


def read_raw(client: redis.Redis, keys: Keys) -> str:
    """The stored snapshot JSON, as served by /api/v1/snapshot (one GET)."""
    with translated("reading the snapshot"):
        raw = client.get(keys.snapshot)
    if raw is None:
        raise SnapshotMissing("no snapshot yet: is `civicwall aggregate` running for this profile?")
    return raw.decode("utf-8")


def read(client: redis.Redis, keys: Keys) -> dict[str, Any]:
    return json.loads(read_raw(client, keys))
