"""Fault injection on real NYC 311 data: whatever happens mid-run, the final snapshot equals a clean run's.

Each test starts its own real redis-server and real `civicwall aggregate` processes, breaks something
while they work, lets the system recover by itself and compares every figure with a clean run.
Run on their own with `pytest -m faults`.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import pytest

from dashboard import clock, snapshot
from dashboard.aggregator import Aggregator
from dashboard.feeds.common import xadd_all
from dashboard.feeds.nyc311 import load_events
from dashboard.keys import Keys
from dashboard.settings import Settings
from dashboard.store import EmbeddedRedis, connect

from .conftest import NYC_CSV, require_file, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow]
VOLATILE = {"built_at", "pipeline"}


@pytest.fixture(scope="module")
def events():
    return load_events(require_file(NYC_CSV)).events


@pytest.fixture
def server(tmp_path):
    srv = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    yield srv
    srv.stop()


def figures(client, nyc) -> dict:
    snap = snapshot.build(client, Keys(nyc.city), nyc)
    return {k: v for k, v in snap.items() if k not in VOLATILE}


def pin_clock(client, nyc, events) -> None:
    from datetime import datetime

    last = max(datetime.fromisoformat(e["ts"]).timestamp() for e in events)
    clock.set_replay(client, Keys(nyc.city), last, speed=0)


@pytest.fixture(scope="module")
def clean(events, tmp_path_factory, nyc):
    """The reference: every event once, in time order, one aggregator, nothing going wrong."""
    srv = EmbeddedRedis(tmp_path_factory.mktemp("clean"), persist=False).start()
    try:
        client = connect(srv.url)
        xadd_all(client, Keys(nyc.city).stream, events)
        pin_clock(client, nyc, events)
        Aggregator(client, nyc, Settings(redis_url=srv.url)).run_until_idle()
        return figures(client, nyc)
    finally:
        srv.stop()


def start_aggregator(url: str, consumer: str, **env_extra) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICWALL_")}
    env |= {"REDIS_URL": url, "CIVICWALL_PROFILE": "nyc", "CIVICWALL_BATCH": "25", "CIVICWALL_BLOCK_MS": "200",
            "CIVICWALL_CLAIM_IDLE_MS": "1000", **env_extra}
    return subprocess.Popen([sys.executable, "-m", "dashboard.cli", "aggregate", "--consumer", consumer],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def applied(client, nyc) -> int:
    return int(client.hget(Keys(nyc.city).meta, "applied") or 0)


def caught_up(client, nyc) -> bool:
    keys = Keys(nyc.city)
    groups = client.xinfo_groups(keys.stream)
    if not groups:
        return False
    group = groups[0]
    last = client.xinfo_stream(keys.stream)["last-generated-id"]
    return group["pending"] == 0 and group["last-delivered-id"] == last


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=20)


def test_sigkill_at_random_points_neither_loses_nor_double_counts(server, events, clean, nyc):
    client = connect(server.url)
    xadd_all(client, Keys(nyc.city).stream, events)
    pin_clock(client, nyc, events)
    rng = random.Random(7)
    total = len(events)
    for kill in range(5):
        proc = start_aggregator(server.url, "worker")
        # Small steps, watched closely: an aggregator working through a backlog applies a few
        # thousand events a second, and every kill must land before the end of the stream.
        target = applied(client, nyc) + rng.randrange(20, total // 12)
        wait_until(lambda: applied(client, nyc) >= target, what=f"progress before kill {kill}", interval=0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not caught_up(client, nyc), "the kills came too late to test anything"
    proc = start_aggregator(server.url, "worker")
    wait_until(lambda: caught_up(client, nyc), what="the restarted aggregator to catch up")
    stop(proc)
    assert figures(client, nyc) == clean


def test_every_event_twice_and_shuffled_within_a_window(server, events, clean, nyc):
    client = connect(server.url)
    rng = random.Random(11)
    doubled = []
    for start in range(0, len(events), 100):
        window = events[start:start + 100] * 2
        rng.shuffle(window)
        doubled += window
    xadd_all(client, Keys(nyc.city).stream, doubled)
    pin_clock(client, nyc, events)
    a, b = start_aggregator(server.url, "a"), start_aggregator(server.url, "b")   # two sharing the stream
    wait_until(lambda: caught_up(client, nyc), what="both aggregators to catch up")
    stop(a), stop(b)
    assert figures(client, nyc) == clean
    assert int(client.hget(Keys(nyc.city).meta, "duplicates")) == len(events)


def test_redis_restarting_with_its_data_mid_run(server, events, clean, nyc):
    client = connect(server.url)
    xadd_all(client, Keys(nyc.city).stream, events)
    pin_clock(client, nyc, events)
    proc = start_aggregator(server.url, "worker")
    wait_until(lambda: applied(client, nyc) > len(events) // 4, what="progress")
    client.shutdown(save=True)          # saves an RDB, then the process exits
    server.process.wait()
    server.start()                      # same port, same files
    wait_until(lambda: caught_up(client, nyc), what="the aggregator to reconnect and catch up")
    stop(proc)
    assert figures(client, nyc) == clean


def test_redis_paused_longer_than_the_socket_timeout(server, events, clean, nyc):
    client = connect(server.url)
    xadd_all(client, Keys(nyc.city).stream, events)
    pin_clock(client, nyc, events)
    proc = start_aggregator(server.url, "worker", CIVICWALL_SOCKET_TIMEOUT_S="1.5")
    wait_until(lambda: applied(client, nyc) > len(events) // 4, what="progress")
    client.execute_command("CLIENT", "PAUSE", 4000, "ALL")   # 4 s > the aggregator's 1.5 s timeout
    wait_until(lambda: caught_up(client, nyc), what="the aggregator to outlast the pause")
    assert proc.poll() is None, "the aggregator exited during the pause"
    stop(proc)
    assert figures(client, nyc) == clean


def test_redis_coming_back_empty_counts_only_what_arrives_afterwards(tmp_path, events, nyc):
    """Documented in docs/operations.md: without persistence the stream and the state go together;
    the aggregator recreates its group and counts new events; history needs a replay from the source."""
    srv = EmbeddedRedis(tmp_path / "volatile", persist=False).start()
    try:
        client = connect(srv.url)
        first, later = events[: len(events) // 2], events[len(events) // 2:]
        xadd_all(client, Keys(nyc.city).stream, first)
        proc = start_aggregator(srv.url, "worker")
        wait_until(lambda: caught_up(client, nyc), what="the first half")
        srv.stop()
        srv.start()
        # Empty: nothing of the first half survived (the aggregator may already have recreated its group).
        assert not client.exists(Keys(nyc.city).request(first[0]["request_id"]))
        assert client.xlen(Keys(nyc.city).stream) == 0
        xadd_all(client, Keys(nyc.city).stream, later)
        pin_clock(client, nyc, later)
        wait_until(lambda: caught_up(client, nyc), what="the aggregator to recreate its group")
        assert proc.poll() is None
        stop(proc)
        received = figures(client, nyc)["all_time"]["received"]
        expected = len({e["request_id"] for e in later if e["type"] == "created"})
        assert received == expected
    finally:
        srv.stop()


def test_trimming_past_pending_entries_counts_them_as_lost_not_silently(server, events, nyc):
    client = connect(server.url)
    keys = Keys(nyc.city)
    xadd_all(client, keys.stream, events[:100])
    agg = Aggregator(client, nyc, Settings(redis_url=server.url, batch=40), consumer="w")
    agg.ensure_group()
    assert len(agg.read(">")) == 40                      # read, then the stream is trimmed under it
    client.xtrim(keys.stream, maxlen=10, approximate=False)
    agg.run_until_idle()
    snap = snapshot.read(client, keys)
    lost = snap["pipeline"]["rejected_by_reason"].get("entry_trimmed", 0)
    assert lost == 40
    assert snap["pipeline"]["pending"]["unacknowledged"] == 0
