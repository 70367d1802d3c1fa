"""Deadline states of open appeals: on track, due soon, overdue.

An appeal's deadline is its event's own ``deadline`` or, without one, creation plus its category's
``deadline_hours`` from the profile (docs/events.md). Only open appeals have a deadline state: an appeal
that is resolved has none, and one reopened after its resolution is open again with its original
deadline. The aggregator keeps every open appeal that has a deadline in the sorted set ``open:dl``
(score: the deadline), so the appeals due within a window are one range read, whatever the history.

The boundaries, in the same words as docs/metrics.md's "overdue now":

- overdue: the deadline has passed, ``now > deadline``; exactly at the deadline an appeal is not yet overdue;
- due soon: not overdue, and the deadline is at most ``due_soon_s`` away, ``deadline - now <= due_soon_s``;
- on track: the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from .keys import Keys
from .store import translated

ON_TRACK = "on_track"
DUE_SOON = "due_soon"
OVERDUE = "overdue"


def state(deadline: float, now: float, due_soon_s: float) -> str:
    """The deadline state of an open appeal due at ``deadline`` (epoch seconds) at time ``now``."""
    if due_soon_s < 0:
        raise ValueError(f"due_soon_s must not be negative, got {due_soon_s}")
    if now > deadline:
        return OVERDUE
    return DUE_SOON if deadline - now <= due_soon_s else ON_TRACK


@dataclass(frozen=True)
class Due:
    request_id: str
    deadline: float
    state: str
    left_s: float          # seconds until the deadline; negative: the overrun


def due_within(client, keys: Keys, now: float, due_soon_s: float, limit: int = 500) -> list[Due]:
    """Open appeals that are overdue or due soon at ``now``, earliest deadline first, at most ``limit``."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    with translated("reading open deadlines"):
        rows = client.zrangebyscore(keys.open_deadlines, "-inf", now + due_soon_s, start=0, num=limit,
                                    withscores=True)
    out = []
    for member, deadline in rows:
        rid = member.decode("utf-8") if isinstance(member, bytes) else str(member)
        out.append(Due(rid, float(deadline), state(float(deadline), now, due_soon_s), float(deadline) - now))
    return out
