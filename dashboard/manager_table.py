"""The manager view's table: one web worker's copy of the recent appeals, a few fields each.

The aggregator's apply script writes each appeal's fields to the ``facts`` hash and names the appeals
each batch changed in the ``changes`` stream, numbered without gaps. ``FactsTable`` loads once (appeals
created in the last HOLD_DAYS days, every open appeal, and those resolved or first answered in the last
EVENT_DAYS days) and afterwards reads only the change entries after the last one it saw. A gap in the
numbering (entries trimmed before it read them) or a Redis that came back empty makes it load afresh.
dashboard/manager.py computes the figures from the frame it holds.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

import numpy as np
import orjson
import pandas as pd
from pandas.api.types import union_categoricals

from .keys import Keys
from .store import translated

HOLD_DAYS = 90          # appeals created this many days before now are held in memory
EVENT_DAYS = 62         # and older ones resolved or first answered within this many days
CHUNK = 2000            # ids per HMGET

FIELDS = ("ct", "dl", "cat", "dist", "ch", "u", "rt", "rs", "ro", "sat", "satt")
COLUMNS = ("c", "dl", "category", "district", "channel", "unit", "f", "r", "sat", "rated_at")
# The label columns are pandas categoricals: filtering and grouping a million appeals by unit then
# works on small integer codes instead of hashing a million Python strings each time.
LABELS = ("category", "district", "channel", "unit")


# -- the table --------------------------------------------------------------------------------------

def empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="category" if name in LABELS else "float64") for name in COLUMNS})
    frame.index = pd.Index([], dtype="object", name="id")
    return frame


def frame_from_facts(ids: list[str], raws: list[bytes | None]) -> pd.DataFrame:
    """One row per appeal from the facts hash's JSON values (appeals without facts are left out)."""
    rows, index = [], []
    for rid, raw in zip(ids, raws):
        if not raw:
            continue
        f = orjson.loads(raw)
        rs, ro = f.get("rs"), f.get("ro")
        resolved = rs is not None and (ro is None or rs > ro)
        rows.append((f.get("ct"), f.get("dl"), f.get("cat") or "", f.get("dist") or "", f.get("ch") or "",
                     f.get("u") or "", f.get("rt"), rs if resolved else None, f.get("sat"), f.get("satt")))
        index.append(rid)
    if not rows:
        return empty_frame()
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS), coerce_float=True)
    for name in ("c", "dl", "f", "r", "sat", "rated_at"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in LABELS:
        frame[name] = frame[name].astype("category")
    frame.index = pd.Index(index, dtype="object", name="id")
    return frame


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames of appeals one after the other, the label columns still categoricals (pandas turns
    categoricals with different categories into plain objects; here they first share the union)."""
    frames = [f for f in frames if len(f)] or frames[:1]
    if len(frames) == 1:
        return frames[0]
    out = {}
    for name in COLUMNS:
        if name in LABELS:
            out[name] = union_categoricals([f[name].array for f in frames])
        else:
            out[name] = np.concatenate([f[name].to_numpy() for f in frames])
    frame = pd.DataFrame(out, columns=list(COLUMNS))
    frame.index = pd.Index(np.concatenate([f.index.to_numpy() for f in frames]), dtype="object", name="id")
    return frame


class FactsTable:
    """One worker's copy of the recent appeals, kept current from the change feed.

    ``client`` is a callable returning a redis client (bytes replies), so a worker that forks gets
    its own connection. ``frame(now)`` refreshes (one XRANGE when nothing changed) and returns the
    frame; callers must not modify it.
    """

    PRUNE_EVERY_S = 3600

    def __init__(self, client: Callable[[], Any], keys: Keys, tz):
        self._client = client
        self.keys = keys
        self.tz = tz
        self._pruned = time.monotonic()
        self._lock = threading.Lock()
        self._frame = empty_frame()
        self._last_id: str | None = None      # last change entry applied
        self._seq = 0                         # its number
        self._state_since: bytes | None = None
        self.loads = 0                        # full loads so far (for tests and logs)
        self.version = 0                      # bumped whenever the frame changes

    def frame(self, now: float) -> pd.DataFrame:
        with self._lock:
            client = self._client()
            with translated("reading the manager view's appeals"):
                since = client.hget(self.keys.meta, "state_since")
                if self._last_id is None or since != self._state_since or not self._follow(client):
                    self._load(client, now)
                    self._state_since = since
            if time.monotonic() - self._pruned > self.PRUNE_EVERY_S:
                self._prune(now)
            return self._frame

    def _prune(self, now: float) -> None:
        """Drop the appeals a fresh load would not hold any more (old, closed, nothing recent)."""
        self._pruned = time.monotonic()
        f = self._frame
        old = now - HOLD_DAYS * 86400
        quiet = now - EVENT_DAYS * 86400
        gone = ((f["c"] < old) & f["r"].notna() & (f["r"] < quiet) & ~(f["f"] >= quiet)
                & ~(f["rated_at"] >= quiet))
        if gone.any():
            self._frame = f[~gone]
            self.version += 1

    # A full load: note where the change feed stands first, so that nothing changed during the load
    # is missed (it is read again afterwards, which is harmless).
    def _load(self, client, now: float) -> None:
        last = client.xrevrange(self.keys.changes, count=1)
        if last:
            entry_id, fields = last[0]
            self._last_id, self._seq = entry_id.decode(), int(fields[b"seq"])
        else:
            self._last_id, self._seq = "0-0", 0
        ids = set(_members(client.zrangebyscore(self.keys.created, now - HOLD_DAYS * 86400, "+inf")))
        ids.update(_members(client.zrange(self.keys.open, 0, -1)))
        day = datetime.fromtimestamp(now, self.tz).date()
        pipe = client.pipeline(transaction=False)
        for back in range(-1, EVENT_DAYS + 1):   # day keys are local dates; tomorrow too (clock skew)
            d = (day - timedelta(days=back)).isoformat()
            pipe.zrange(self.keys.ttr(d), 0, -1)
            pipe.zrange(self.keys.frt(d), 0, -1)
        for members in pipe.execute():
            ids.update(_members(members))
        ordered = sorted(ids)
        self._frame = self._read(client, ordered)
        self.loads += 1
        self.version += 1
        self._follow(client)

    def _read(self, client, ids: list[str]) -> pd.DataFrame:
        parts = []
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            parts.append(frame_from_facts(chunk, client.hmget(self.keys.facts, chunk)))
        if not parts:
            return empty_frame()
        return concat(parts)

    def _follow(self, client) -> bool:
        """Apply the change entries after the last one seen; False when some were trimmed unread."""
        changed: set[str] = set()
        cursor = self._last_id
        while True:
            entries = client.xrange(self.keys.changes, min="(" + cursor, count=1000)
            if not entries:
                break
            for entry_id, fields in entries:
                seq = int(fields[b"seq"])
                if seq != self._seq + 1:
                    return False
                self._seq = seq
                changed.update(fields[b"ids"].decode().split("\n"))
                cursor = entry_id.decode()
            if len(entries) < 1000:
                break
        if not changed and cursor == self._last_id:
            # Nothing new; but an emptied feed (a Redis that lost its data) must not pass for "no news".
            return self._seq == 0 or client.exists(self.keys.changes) == 1
        ids = sorted(changed)
        fresh = self._read(client, ids)
        kept = self._frame[~self._frame.index.isin(ids)]
        self._frame = concat([kept, fresh]) if len(fresh) else kept
        self._last_id = cursor
        self.version += 1
        return True


def _members(rows: Iterable[bytes]) -> list[str]:
    return [m.decode("utf-8", "surrogateescape") if isinstance(m, bytes) else str(m) for m in rows]
