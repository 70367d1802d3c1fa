"""Shared "taken" marks of the newsroom: a reporter marks an appeal as a story being worked on, so a
colleague does not chase the same one.

The marks live in Redis (``taken`` hash: request id -> ``{"by", "at"}``), so every worker, every
browser and a restarted server see the same marks; each take and release is also appended, with its
user, to the ``taken:log`` stream (the last ``LOG_KEEP`` entries). A mark belongs to whoever took it:
only they, or a user with the manager role, can release it. Both changes are one Lua script each, so
two reporters taking the same appeal at once cannot both win.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from .errors import CivicwallError
from .keys import Keys
from .store import translated

LOG_KEEP = 10_000
MAX_ID_CHARS = 128

# KEYS: taken hash, log stream. ARGV: id, mark JSON, user, action time, log length.
_TAKE = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then return held end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'id', ARGV[1], 'action', 'take', 'by', ARGV[3], 'at', ARGV[4])
return ARGV[2]
"""
# ARGV: id, user, action time, log length, override ('1': a manager may release anyone's mark).
_RELEASE = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if not held then return false end
if ARGV[5] ~= '1' and cjson.decode(held).by ~= ARGV[2] then return held end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'id', ARGV[1], 'action', 'release', 'by', ARGV[2], 'at', ARGV[3])
return 'released'
"""


class MarkRefused(CivicwallError):
    """A take or release that cannot be done (someone else holds the mark, or there is none)."""

    def __init__(self, message: str, mark: dict[str, Any] | None = None):
        super().__init__(message)
        self.mark = mark


class TakenMarks:
    def __init__(self, client, keys: Keys):
        self._client = client          # a callable returning a redis client
        self.keys = keys

    def all(self) -> dict[str, dict[str, Any]]:
        with translated("reading the taken marks"):
            raw = self._client().hgetall(self.keys.taken)
        out = {}
        for k, v in raw.items():
            try:
                out[k.decode() if isinstance(k, bytes) else k] = orjson.loads(v)
            except orjson.JSONDecodeError:
                continue               # written by hand: ignored rather than breaking the page
        return out

    def take(self, rid: str, user: str, at: float | None = None) -> dict[str, Any]:
        """Mark ``rid`` as taken by ``user``; raises MarkRefused when someone else has it."""
        _check(rid)
        at = time.time() if at is None else at
        mark = {"by": user, "at": at}
        with translated("taking an appeal"):
            held = self._client().eval(_TAKE, 2, self.keys.taken, self.keys.taken_log, rid,
                                       orjson.dumps(mark), user, repr(at), LOG_KEEP)
        held = orjson.loads(held)
        if held["by"] != user:
            raise MarkRefused(f"already taken by {held['by']}", held)
        return held

    def release(self, rid: str, user: str, *, any_user: bool = False, at: float | None = None) -> None:
        """Remove ``user``'s mark on ``rid`` (anyone's with ``any_user``); a mark already gone is fine
        (a colleague with the manager role may have released it meanwhile)."""
        _check(rid)
        at = time.time() if at is None else at
        with translated("releasing an appeal"):
            answer = self._client().eval(_RELEASE, 2, self.keys.taken, self.keys.taken_log, rid, user, repr(at),
                                         LOG_KEEP, "1" if any_user else "0")
        if answer is None:
            return                     # not taken (any more): nothing to release
        if answer not in (b"released", "released"):
            held = orjson.loads(answer)
            raise MarkRefused(f"taken by {held['by']}, not by {user}", held)

    def log(self, count: int = 100) -> list[dict[str, str]]:
        with translated("reading the taken log"):
            entries = self._client().xrevrange(self.keys.taken_log, count=count)
        return [{(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                 for k, v in fields.items()} for _, fields in entries]


def _check(rid: str) -> None:
    if not isinstance(rid, str) or not rid or len(rid) > MAX_ID_CHARS or not rid.isprintable():
        raise MarkRefused("not a request id")
