"""Deadline states at their boundaries, and the open appeals due soon read from a real Redis after real
events (created, resolved, reopened) went through the aggregator."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dashboard import deadlines
from dashboard.aggregator import Aggregator
from dashboard.deadlines import DUE_SOON, ON_TRACK, OVERDUE
from dashboard.keys import Keys

HOUR = 3600.0


@pytest.mark.parametrize("offset, expected", [
    (-1.0, OVERDUE),            # one second after the deadline
    (-0.001, OVERDUE),
    (0.0, DUE_SOON),            # exactly at the deadline: not yet overdue
    (HOUR, DUE_SOON),           # exactly at the due-soon threshold
    (HOUR + 1, ON_TRACK),       # one second before it
])
def test_states_at_their_boundaries(offset, expected):
    deadline = 1_790_000_000.0
    assert deadlines.state(deadline, now=deadline - offset, due_soon_s=HOUR) == expected


def test_a_negative_threshold_is_refused():
    with pytest.raises(ValueError, match="due_soon_s"):
        deadlines.state(0.0, 0.0, -1)


def _ev(eid, etype, rid, ts, **extra):
    return {"v": "1", "event_id": eid, "type": etype, "request_id": rid, "ts": ts.isoformat(), **extra}


def test_open_appeals_due_soon_after_resolution_and_reopening(client, settings, jiaozuo):
    keys = Keys(jiaozuo.city)
    now = datetime.now(jiaozuo.tz).replace(microsecond=0)
    t0 = now - timedelta(hours=3)
    due = {"late": now - timedelta(seconds=1), "at": now, "soon": now + timedelta(minutes=30),
           "edge": now + timedelta(hours=1), "later": now + timedelta(hours=1, seconds=1),
           "done": now + timedelta(minutes=10), "again": now + timedelta(minutes=20)}
    events = [_ev(f"c-{rid}", "created", rid, t0, category="城市管理", district="解放区", channel="web",
                  deadline=dl.isoformat()) for rid, dl in due.items()]
    events += [_ev("r-done", "resolved", "done", t0 + timedelta(hours=1)),
               _ev("r-again", "resolved", "again", t0 + timedelta(hours=1)),
               _ev("o-again", "reopened", "again", t0 + timedelta(hours=2))]
    for e in events:
        client.xadd(keys.stream, e)
    Aggregator(client, jiaozuo, settings).run_until_idle()

    got = deadlines.due_within(client, keys, now.timestamp(), due_soon_s=HOUR)
    # Expected from the events alone: open = not resolved, or reopened after the resolution; listed when
    # the deadline is at most an hour away; state by the same rule written out here.
    resolved = {e["request_id"] for e in events if e["type"] == "resolved"}
    reopened = {e["request_id"] for e in events if e["type"] == "reopened"}
    still_open = [rid for rid in due if rid not in resolved or rid in reopened]
    expected = sorted(((rid, due[rid].timestamp()) for rid in still_open
                       if due[rid].timestamp() - now.timestamp() <= HOUR), key=lambda x: x[1])
    assert [(d.request_id, d.deadline) for d in got] == expected
    states = {d.request_id: d.state for d in got}
    assert states == {"late": OVERDUE, "at": DUE_SOON, "soon": DUE_SOON, "edge": DUE_SOON, "again": DUE_SOON}
    assert {d.request_id: d.left_s for d in got}["late"] == -1.0

    assert [d.request_id for d in deadlines.due_within(client, keys, now.timestamp(), HOUR, limit=2)] == ["late", "at"]
    with pytest.raises(ValueError, match="limit"):
        deadlines.due_within(client, keys, now.timestamp(), HOUR, limit=0)


def test_an_unreachable_redis_is_the_projects_own_error(jiaozuo):
    from dashboard.errors import StoreUnavailable
    from dashboard.store import connect, free_port

    gone = connect(f"redis://127.0.0.1:{free_port()}/0", retries=0, socket_timeout=0.5)
    with pytest.raises(StoreUnavailable):
        deadlines.due_within(gone, Keys(jiaozuo.city), 0.0, HOUR)
