"""The bad-input corpus: every kind of producer mistake is rejected with its reason or repaired as
documented, the aggregator keeps going, and hostile text reaches the page only as text."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dash.testing.wait import until

from dashboard import clock
from dashboard.aggregator import Aggregator
from dashboard.contract import Event, Rejection, Validator
from dashboard.keys import Keys
from dashboard.web import create_app
from layouts import ids

from .bad_input_corpus import CASES

NY = ZoneInfo("America/New_York")
NOW = datetime(2024, 5, 27, 12, 0, tzinfo=NY).timestamp()    # the producers' "now" for future checks
WALL_AT = datetime(2024, 5, 27, 2, 0, tzinfo=NY).timestamp()  # the wall's pinned clock


def test_the_corpus_covers_at_least_sixty_distinct_mistakes():
    assert len(CASES) >= 60
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("name, fields, expected", CASES, ids=[c[0] for c in CASES])
def test_each_entry_is_rejected_or_repaired_as_documented(nyc, name, fields, expected):
    outcome = Validator(nyc, now=lambda: NOW).validate(fields)
    if expected == "ok":
        assert isinstance(outcome, Event) and outcome.repairs == [], outcome
    elif expected.startswith("repair:"):
        assert isinstance(outcome, Event) and expected.removeprefix("repair:") in outcome.repairs, outcome
    else:
        assert isinstance(outcome, Rejection) and outcome.reason == expected, outcome


@pytest.fixture
def loaded(client, nyc, settings):
    """The whole corpus through one stream and one aggregator, as a producer would send it."""
    keys = Keys(nyc.city)
    entry_ids = {}
    for name, fields, _ in CASES:
        entry_ids[client.xadd(keys.stream, fields).decode()] = name
    clock.set_replay(client, keys, WALL_AT, speed=0)
    agg = Aggregator(client, nyc, settings, validator=Validator(nyc, now=lambda: NOW))
    processed = agg.run_until_idle()
    return keys, entry_ids, processed


def test_the_aggregator_takes_the_whole_corpus_and_keeps_running(client, loaded, nyc, settings):
    keys, entry_ids, processed = loaded
    assert processed == len(CASES)
    assert client.xpending(keys.stream, settings.group)["pending"] == 0
    # still running: a good event after the garbage is applied
    client.xadd(keys.stream, {"v": "1", "event_id": "after", "type": "created", "request_id": "after",
                              "ts": "2024-05-27T01:30:00-04:00"})
    agg = Aggregator(client, nyc, settings, validator=Validator(nyc, now=lambda: NOW))
    assert agg.run_until_idle() == 1


def test_every_rejection_is_in_the_dead_letter_stream_with_its_reason(client, loaded):
    keys, entry_ids, _ = loaded
    expected = {name: reason for name, _, reason in CASES if reason != "ok" and not reason.startswith("repair:")}
    dead = {entry_ids[f[b"entry_id"].decode()]: f[b"reason"].decode() for _, f in client.xrange(keys.deadletter)}
    assert dead == expected
    snap = json.loads(client.get(keys.snapshot))
    assert snap["pipeline"]["rejected_total"] == len(expected)
    counts = {}
    for reason in expected.values():
        counts[reason] = counts.get(reason, 0) + 1
    assert snap["pipeline"]["rejected_by_reason"] == counts


def test_the_dead_letter_keeps_the_bytes_that_were_sent(client, loaded):
    """Entries are read as text with surrogate escapes; the dead letter must still hold the exact
    bytes a producer sent, so a GBK value can be identified and converted."""
    keys, entry_ids, _ = loaded
    by_name = {name: eid for eid, name in entry_ids.items()}
    dead = {f[b"entry_id"].decode(): f for _, f in client.xrange(keys.deadletter)}
    assert dead[by_name["GBK text"]][b"f:text"] == "路灯不亮".encode("gbk")
    assert dead[by_name["GBK category"]][b"f:category"] == "城市管理".encode("gbk")


def test_no_personal_number_from_the_corpus_reaches_the_public_snapshot(client, loaded):
    keys, _, _ = loaded
    public = client.get(keys.snapshot).decode()
    for secret in ("13812345678", "13812348888", "410802199001011234", "13812349999", "1234\u00ad9999",
                   "1 2 3 4 7 7 7 7", "1990-0101"):
        assert secret not in public
    assert "１３８１２３４５６７８" not in public


@pytest.mark.browser
def test_the_worst_entries_render_as_text_and_run_no_script(dash_duo, client, nyc, settings):
    keys = Keys(nyc.city)
    hostile = [(name, fields) for name, fields, _ in CASES if str(fields.get("event_id", "")).startswith("x")]
    for _, fields in hostile:
        client.xadd(keys.stream, fields)
    clock.set_replay(client, keys, WALL_AT, speed=0)
    Aggregator(client, nyc, settings, validator=Validator(nyc, now=lambda: NOW)).run_until_idle()

    dash_duo.start_server(create_app(settings.with_(profile="nyc", refresh_ms=400, push="off")))  # polls (no stream here)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(len(hostile)))
    ticker = dash_duo.find_element(f"#{ids.TICKER}").get_attribute("textContent")
    assert "<script>window.__pwned=1</script>" in ticker          # shown, literally
    assert 'javascript:alert(2)' in ticker and "🚧 路面塌陷" in ticker
    assert "13812345678" not in ticker and "１３８１２３４５６７８" not in ticker
    assert dash_duo.find_elements(f"#{ids.TICKER} script, #{ids.TICKER} img, #{ids.TICKER} a, "
                                  f"#{ids.TICKER} svg, #{ids.CASES} script") == []
    # chart labels carry the category with markup as text too
    until(lambda: "<script>alert(1)</script>" in dash_duo.driver.execute_script(
        f"return document.querySelector('#{ids.RANKING}').textContent"), timeout=10)
    assert dash_duo.driver.execute_script("return window.__pwned === undefined")
    assert dash_duo.driver.execute_script("return document.querySelectorAll('img[src=\"x\"], svg[onload]').length") == 0
    assert dash_duo.get_logs() == []
    dash_duo.driver.get("about:blank")
    until(lambda: not any(t.is_alive() and "process_request_thread" in t.name for t in threading.enumerate()),
          timeout=10)
