"""The Jiaozuo simulator: valid, plausible, deterministic, never ahead of real time."""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import unicodedata
from collections import Counter, defaultdict
from datetime import datetime

import pytest

from dashboard.contract import Rejection, Validator
from dashboard.feeds import jiaozuo_bank, simulate
from dashboard.feeds.appeals import AppealModel, day_arrivals, request_ids
from dashboard.feeds.simulate import Simulator
from dashboard.keys import Keys

ORDER = ("created", "assigned", "responded", "resolved", "rated")
WORDS = {"满意": 5, "基本满意": 4, "一般": 3, "不满意": 1}


def ts(event) -> float:
    return datetime.fromisoformat(event["ts"]).timestamp()


@pytest.fixture(scope="module")
def start(jiaozuo):
    return datetime(2024, 5, 27, 12, 0, tzinfo=jiaozuo.tz).timestamp()     # a Monday noon


@pytest.fixture(scope="module")
def history(jiaozuo, start):
    """Four days of backfill: enough appeals for shares to settle."""
    return Simulator(jiaozuo, seed=7, start=start, backfill_hours=96).due(start)


@pytest.fixture(scope="module")
def created(history):
    return [e for e in history if e["type"] == "created"]


def test_every_event_passes_the_contract_without_repairs(history, jiaozuo, start):
    validator = Validator(jiaozuo, now=lambda: start)
    for e in history:
        outcome = validator.validate(e)
        assert not isinstance(outcome, Rejection), (e, outcome)
        assert outcome.repairs == [], e
    assert {e["type"] for e in history} == {"created", "assigned", "responded", "resolved", "rated", "reopened"}


def test_backfill_is_in_time_order_and_never_ahead_of_now(history, start):
    times = [ts(e) for e in history]
    assert times == sorted(times)
    assert times[0] >= start - 96 * 3600
    assert times[-1] <= start
    assert len({e["event_id"] for e in history}) == len(history)


def test_each_request_follows_a_plausible_lifecycle(history):
    per_request = defaultdict(list)
    for e in history:
        per_request[e["request_id"]].append(e)
    for rid, events in per_request.items():
        kinds = [e["type"] for e in events]
        assert kinds[0] == "created", rid
        main = [k for k in kinds if k != "reopened"]
        first_pass = main[:len(ORDER)]
        assert first_pass == list(ORDER[:len(first_pass)]), (rid, kinds)
        if "reopened" in kinds:
            assert kinds.index("reopened") > kinds.index("resolved")
            assert kinds[kinds.index("reopened") + 1:] in ([], ["resolved"])
        stamps = [ts(e) for e in events]
        assert stamps == sorted(stamps), rid


def test_channel_mix_is_about_half_hotline(created):
    share = {k: n / len(created) for k, n in Counter(e["channel"] for e in created).items()}
    assert len(created) > 1500
    assert share["hotline"] == pytest.approx(0.5, abs=0.05)
    assert share["wechat"] == pytest.approx(0.3, abs=0.05)
    assert share["web"] == pytest.approx(0.2, abs=0.05)


def test_nights_are_quiet_and_mornings_busy(created, jiaozuo):
    hours = Counter(datetime.fromisoformat(e["ts"]).astimezone(jiaozuo.tz).hour for e in created)
    night = sum(hours[h] for h in range(0, 6)) / len(created)
    assert night < 0.06
    assert sum(hours[h] for h in (9, 10, 11)) > 8 * sum(hours[h] for h in (2, 3, 4))
    assert sum(hours[h] for h in (14, 15, 16)) > 8 * sum(hours[h] for h in (2, 3, 4))


def test_districts_follow_population_and_farming_comes_from_the_counties(created):
    districts = Counter(e["district"] for e in created)
    assert set(districts) == set(jiaozuo_bank.DISTRICT_WEIGHTS)
    assert min(districts["解放区"], districts["山阳区"], districts["武陟县"]) > max(districts["中站区"], districts["马村区"])
    farming = [e for e in created if e["category"] == "农业农村"]
    assert len(farming) > 0.03 * len(created)
    assert sum(e["district"] not in jiaozuo_bank.URBAN for e in farming) > 0.85 * len(farming)
    assert any("滞销" in e["title"] for e in farming)


def test_some_texts_carry_personal_numbers_some_in_full_width(created):
    texts = [e["text"] for e in created]
    with_numbers = [t for t in texts if re.search(r"\d{11,}|1\d{10}", unicodedata.normalize("NFKC", t))]
    assert 0.02 * len(texts) < len(with_numbers) < 0.5 * len(texts)
    assert any(re.search("[０-９]{7,}", t) for t in texts)


def test_handling_and_satisfaction_figures_are_realistic(jiaozuo, start):
    """Whole lifecycles of one week of appeals, not cut off at any 'now'."""
    model = AppealModel(jiaozuo, seed=3)
    first_response, on_time, scores, unresolved = [], [], [], 0
    for offset in range(7):
        day = datetime.fromtimestamp(start + offset * 86400, jiaozuo.tz).date()
        arrivals = day_arrivals(3, jiaozuo, day, 600)
        for rid, created in zip(request_ids(3, day, len(arrivals)), arrivals):
            steps = {s.fields["type"]: s for s in reversed(model.lifecycle(rid, created))}
            first_response.append((steps["responded"].at - created) / 60)
            if "resolved" not in steps:
                unresolved += 1
                continue
            deadline = created + jiaozuo.deadline_hours(steps["created"].fields["category"]) * 3600
            on_time.append(steps["resolved"].at <= deadline)
            if "rated" in steps:
                said = steps["rated"].fields["satisfaction"]
                scores.append(int(said) if said.isdigit() else WORDS[said])
    assert 8 < statistics.median(first_response) < 40
    assert 0.05 < sum(m > jiaozuo.target_first_response_min for m in first_response) / len(first_response) < 0.35
    assert 0.85 <= sum(on_time) / len(on_time) <= 0.96
    assert 0.005 < unresolved / len(first_response) < 0.06
    assert 0.7 < len(scores) / len(on_time) < 0.9
    assert 0.8 < sum(s >= 4 for s in scores) / len(scores) < 0.97


def test_same_seed_same_events_other_seed_other_events(jiaozuo, start, history):
    again = Simulator(jiaozuo, seed=7, start=start, backfill_hours=96).due(start)
    assert again == history
    other = Simulator(jiaozuo, seed=8, start=start, backfill_hours=96).due(start)
    assert [e["text"] for e in other if e["type"] == "created"][:50] != [
        e["text"] for e in history if e["type"] == "created"][:50]


def test_a_restart_at_real_speed_resends_the_same_history(jiaozuo, start):
    first = Simulator(jiaozuo, seed=7, start=start, backfill_hours=6)
    before = first.due(start) + first.due(start + 1800)
    restarted = Simulator(jiaozuo, seed=7, start=start + 1800, backfill_hours=6.5).due(start + 1800)
    assert restarted == before


def test_live_events_come_when_their_time_comes(jiaozuo, start):
    sim = Simulator(jiaozuo, seed=7, start=start, backfill_hours=2)
    sim.due(start)
    assert sim.next_due() > start
    hour = sim.due(start + 3600)
    assert hour and all(start < ts(e) <= start + 3600 for e in hour)
    assert sim.next_due() > start + 3600
    assert sim.due(start + 3600) == []


def test_speed_compresses_time_after_the_start(jiaozuo, start):
    real = Simulator(jiaozuo, seed=7, start=start, backfill_hours=1)
    fast = Simulator(jiaozuo, seed=7, start=start, backfill_hours=1, speed=60)
    assert fast.due(start) == real.due(start)
    one_hour = real.due(start + 3600)
    one_minute = fast.due(start + 60)
    assert [e["event_id"] for e in one_minute] == [e["event_id"] for e in one_hour]
    assert all(start <= ts(e) <= start + 60 for e in one_minute)     # stamps are whole seconds


# -- writing to a real Redis -----------------------------------------------------------------------

def test_once_writes_the_backfill_and_leaves_the_clock_alone(client, settings, jiaozuo, capsys):
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    args = parser.parse_args(["--once", "--seed", "5", "--backfill-hours", "6"])
    assert simulate.main(args, settings) == 0
    keys = Keys("jiaozuo", settings.stream)
    entries = client.xrange(keys.stream)
    out = capsys.readouterr().out
    assert f"simulate: {len(entries)} events sent" in out
    assert entries and not client.exists(keys.clock)
    stamps = [datetime.fromisoformat(f[b"ts"].decode()).timestamp() for _, f in entries]
    assert stamps == sorted(stamps)


def test_run_stops_when_asked(client, jiaozuo):
    sim = Simulator(jiaozuo, seed=2, backfill_hours=3)
    stop = threading.Event()
    stop.set()
    keys = Keys("jiaozuo")
    stats = simulate.run(sim, client, keys, stop)
    assert stats.sent == stats.backfilled == client.xlen(keys.stream)
    assert all(datetime.fromisoformat(f[b"ts"].decode()).timestamp() <= sim.start
               for _, f in client.xrange(keys.stream))
