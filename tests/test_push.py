"""Push: the wall served as an ASGI application by a real uvicorn server, against a real Redis.

Each test opens the event stream (``/api/v1/wall/stream``) the way a screen's EventSource does and
reads the events as they arrive; figures are checked against counts of the events written.
"""

from __future__ import annotations

import gzip
import json
import queue
import threading
from datetime import datetime, timedelta

import pytest
import requests
import uvicorn
from dash.testing.wait import until

from callbacks.wall import FEED_PATH, PANELS
from dashboard import clock
from dashboard.aggregator import Aggregator
from dashboard.keys import Keys
from dashboard.push import STREAM_PATH
from dashboard.store import EmbeddedRedis, connect, free_port
from dashboard.web import create_server
from layouts import ids

pytestmark = pytest.mark.slow


class Served:
    """create_server(settings) on a uvicorn server in a thread of this process."""

    def __init__(self, settings, port: int | None = None):
        self.port = port or free_port()
        self.app = create_server(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        until(lambda: self.server.started, timeout=20)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.app.close_streams()
        self.server.should_exit = True
        self.thread.join(timeout=15)


class Stream:
    """One screen's event stream; ``next()`` returns the next data event, parsed."""

    def __init__(self, url: str, headers: dict[str, str] | None = None):
        self.response = requests.get(url, stream=True, timeout=30, headers=headers or {})
        self.events: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line.startswith("data: ") and line != "data: ":
                    self.events.put(json.loads(line[6:]))
        except (requests.RequestException, AttributeError, ValueError):
            pass

    def next(self, timeout: float = 20) -> dict:
        return self.events.get(timeout=timeout)

    def until(self, condition, timeout: float = 30) -> dict:
        deadline = datetime.now() + timedelta(seconds=timeout)
        while True:
            left = (deadline - datetime.now()).total_seconds()
            if left <= 0:
                raise AssertionError("no event matched in time")
            event = self.next(timeout=left)
            if condition(event):
                return event

    def close(self) -> None:
        self.response.close()


def _created(eid: str, ts: datetime, **extra) -> dict:
    return {"v": "1", "event_id": eid, "type": "created", "request_id": eid, "ts": ts.isoformat(),
            "channel": "hotline", "category": "城市管理", "district": "解放", **extra}


def _noon(profile) -> datetime:
    return datetime.now(profile.tz).replace(hour=12, minute=0, second=0, microsecond=0)


def _seed(client, profile, settings, noon: datetime, n: int) -> list[dict]:
    keys = Keys(profile.city)
    clock.set_replay(client, keys, noon.timestamp(), speed=0)
    events = [_created(f"p{i}", noon - timedelta(minutes=30 - i)) for i in range(n)]
    events.append(_created("old", noon - timedelta(days=3)))       # not today: must not count
    for e in events:
        client.xadd(keys.stream, e)
    Aggregator(client, profile, settings).run_until_idle()
    return events


def _today(events: list[dict], noon: datetime) -> int:
    return sum(1 for e in events if datetime.fromisoformat(e["ts"]).astimezone(noon.tzinfo).date() == noon.date())


@pytest.fixture
def served(settings):
    own = settings.with_(profile="jiaozuo", push="on")
    s = Served(own)
    yield s
    s.stop()


def test_stream_sends_the_feed_answer_then_only_what_each_snapshot_changed(served, client, settings, jiaozuo):
    own = settings.with_(profile="jiaozuo")
    noon = _noon(jiaozuo)
    events = _seed(client, jiaozuo, own, noon, 5)
    stream = Stream(served.base + STREAM_PATH)
    try:
        first = stream.next()
        polled = requests.get(served.base + FEED_PATH, timeout=10).json()
        assert first["prints"] == polled["prints"] and set(first["panels"]) == set(polled["panels"])
        assert first["panels"][f"{ids.KPI_RECEIVED}.children"] == str(_today(events, noon))

        more = _created("p-new", noon - timedelta(minutes=1))
        client.xadd(Keys(jiaozuo.city).stream, more)
        Aggregator(client, jiaozuo, own).run_until_idle()            # stores and announces the snapshot
        expected = str(_today(events + [more], noon))
        update = stream.until(lambda e: e.get("panels", {}).get(f"{ids.KPI_RECEIVED}.children") == expected)
        # Only what changed travels: the map's outline-free style, the options and the like stay put.
        assert 0 < len(update["panels"]) < len(first["panels"])
        changed = [p for p, a, b in zip(PANELS, first["prints"].split("."), update["prints"].split(".")) if a != b]
        assert set(update["panels"]) <= set(changed) | set(first["panels"])
        assert f"{ids.MAP_CATEGORY}.options" not in update["panels"]
    finally:
        stream.close()


def test_stream_resumes_from_the_fingerprints_a_screen_holds(served, client, settings, jiaozuo):
    own = settings.with_(profile="jiaozuo")
    _seed(client, jiaozuo, own, _noon(jiaozuo), 3)
    polled = requests.get(served.base + FEED_PATH, timeout=10).json()
    stream = Stream(served.base + STREAM_PATH + "?have=" + polled["prints"])
    try:
        first = stream.next()
        assert first["panels"] == {} and first["prints"] == polled["prints"]
    finally:
        stream.close()


def test_stream_is_compressed_when_asked_and_answers_http_edges_in_json(served, client, settings, jiaozuo):
    _seed(client, jiaozuo, settings.with_(profile="jiaozuo"), _noon(jiaozuo), 2)
    raw = requests.get(served.base + STREAM_PATH, stream=True, timeout=30, headers={"Accept-Encoding": "gzip"})
    try:
        assert raw.headers["Content-Encoding"] == "gzip"
        assert raw.headers["Content-Type"].startswith("text/event-stream")
        assert raw.headers["X-Frame-Options"] == "DENY" and "default-src 'self'" in raw.headers["Content-Security-Policy"]
        # Each event is flushed whole: the bytes received so far decompress to complete events.
        inflater = gzip.zlib.decompressobj(31)
        text = ""
        for chunk in raw.raw.stream(4096, decode_content=False):
            text += inflater.decompress(chunk).decode("utf-8")
            if "\ndata: {" in "\n" + text and text.endswith("\n\n"):
                break
        data = [line for line in text.split("\n") if line.startswith("data: {")]
        assert json.loads(data[0][6:])["panels"]
    finally:
        raw.close()
    plain = requests.get(served.base + STREAM_PATH, stream=True, timeout=30, headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in plain.headers
    plain.close()

    unknown = requests.get(served.base + STREAM_PATH + "?category=不存在的类别", timeout=10)
    assert unknown.status_code == 400 and unknown.json()["error"] == "unknown_category"
    posted = requests.post(served.base + STREAM_PATH, timeout=10)
    assert posted.status_code == 405 and posted.json()["error"] == "method_not_allowed"
    # Everything else is the Flask application behind the same server.
    assert requests.get(served.base + "/healthz", timeout=10).json()["redis"] == "ok"
    assert requests.get(served.base + "/api/nothing", timeout=10).status_code == 404


def test_compressed_streams_share_events_and_end_as_valid_gzip(served, client, settings, jiaozuo):
    own = settings.with_(profile="jiaozuo")
    noon = _noon(jiaozuo)
    events = _seed(client, jiaozuo, own, noon, 3)
    streams = [requests.get(served.base + STREAM_PATH, stream=True, timeout=30, headers={"Accept-Encoding": "gzip"})
               for _ in range(2)]
    received = [bytearray() for _ in streams]
    inflaters = [gzip.zlib.decompressobj(31) for _ in streams]
    texts = ["", ""]
    readers = [s.raw.stream(1024, decode_content=False) for s in streams]

    def read_until(i: int, needle: str) -> None:
        while needle not in texts[i]:
            chunk = next(readers[i])
            received[i] += chunk
            texts[i] += inflaters[i].decompress(chunk).decode("utf-8")

    try:
        first = f'"{ids.KPI_RECEIVED}.children":"{_today(events, noon)}"'
        for i in range(2):
            read_until(i, first)
        more = events + [_created(f"q{i}", noon - timedelta(minutes=5 - i)) for i in range(4)]
        for e in more[len(events):]:
            client.xadd(Keys(jiaozuo.city).stream, e)
        Aggregator(client, jiaozuo, own).run_until_idle()
        after = f'"{ids.KPI_RECEIVED}.children":"{_today(more, noon)}"'
        for i in range(2):
            read_until(i, after)
        served.app.close_streams()
        for i in range(2):
            for chunk in readers[i]:                 # to the end of the response
                received[i] += chunk
            # The whole body is one gzip member whose CRC-32 and length check out.
            whole = gzip.decompress(bytes(received[i])).decode("utf-8")
            assert first in whole and after in whole and whole.startswith("retry: ")
            assert whole.endswith("\n\n")
        assert len(served.app.frames._kept) < 2 * 3           # events were made once for both screens
    finally:
        for s in streams:
            s.close()


def test_stream_says_when_redis_is_gone_and_carries_on_when_it_is_back(tmp_path, settings, jiaozuo):
    redis_server = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    own = settings.with_(redis_url=redis_server.url, profile="jiaozuo", push="on")
    served = Served(own)
    stream = None
    try:
        client = connect(redis_server.url)
        noon = _noon(jiaozuo)
        events = _seed(client, jiaozuo, own, noon, 4)
        client.close()
        stream = Stream(served.base + STREAM_PATH)
        assert stream.next()["panels"][f"{ids.KPI_RECEIVED}.children"] == str(_today(events, noon))
        redis_server.stop()
        assert stream.until(lambda e: "error" in e)["error"] == "store_unavailable"
        redis_server.start()                               # back empty, then fed again with one more
        client = connect(redis_server.url)
        again = _seed(client, jiaozuo, own, noon, 6)
        client.close()
        expected = str(_today(again, noon))
        stream.until(lambda e: e.get("panels", {}).get(f"{ids.KPI_RECEIVED}.children") == expected)
    finally:
        if stream is not None:
            stream.close()
        served.stop()
        redis_server.stop()


@pytest.mark.browser
def test_a_screen_with_push_shows_a_new_appeal_without_polling(dash_br, client, settings, jiaozuo):
    # The refresh timer is ten minutes: only a pushed event can change the page within the test.
    own = settings.with_(profile="jiaozuo", push="on", refresh_ms=600_000)
    noon = _noon(jiaozuo)
    events = _seed(client, jiaozuo, own, noon, 3)
    served = Served(own)
    try:
        dash_br.driver.get(served.base + "/")
        dash_br.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(_today(events, noon)))
        # The stream is open once the page has asked for it; then one more appeal arrives.
        until(lambda: served.app.streams == 1, timeout=20)
        more = _created("p-browser", noon - timedelta(minutes=2))
        client.xadd(Keys(jiaozuo.city).stream, more)
        Aggregator(client, jiaozuo, own).run_until_idle()
        dash_br.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(_today(events + [more], noon)))
        assert "is-live" in dash_br.find_element(f"#{ids.FRESHNESS}").get_attribute("class")
        assert dash_br.get_logs() == []
        dash_br.driver.get("about:blank")
    finally:
        served.stop()


@pytest.mark.browser
def test_a_pushed_screen_says_its_server_is_gone_and_recovers_after_a_restart(dash_br, client, settings, jiaozuo):
    """The web server is stopped and started again on the same port (a deploy, a crash and restart):
    the open page marks its picture stale, keeps it, and comes back live by itself with new figures."""
    own = settings.with_(profile="jiaozuo", push="on", refresh_ms=500)
    noon = _noon(jiaozuo)
    events = _seed(client, jiaozuo, own, noon, 3)
    built_at = json.loads(client.get(Keys(jiaozuo.city).snapshot))["built_at"]
    served = Served(own)
    try:
        dash_br.driver.get(served.base + "/?kiosk=1")
        dash_br.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(_today(events, noon)))
        until(lambda: served.app.streams == 1, timeout=20)
        served.stop()
        since = datetime.fromtimestamp(built_at, jiaozuo.tz).strftime("%H:%M")
        dash_br.wait_for_text_to_equal(f"#{ids.FRESHNESS}", f"大屏服务无响应，画面停留在 {since}", timeout=30)
        assert dash_br.find_element(f"#{ids.KPI_RECEIVED}").text == str(_today(events, noon))
        more = _created("p-restart", noon - timedelta(minutes=2))
        client.xadd(Keys(jiaozuo.city).stream, more)
        Aggregator(client, jiaozuo, own).run_until_idle()
        served = Served(own, port=served.port)
        # The same page, never reloaded: the new figure, live again, and its push stream reopened.
        dash_br.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(_today(events + [more], noon)), timeout=60)
        until(lambda: "is-live" in dash_br.find_element(f"#{ids.FRESHNESS}").get_attribute("class"), timeout=20)
        until(lambda: served.app.streams == 1, timeout=60)
        assert all(entry["source"] == "network" for entry in dash_br.get_logs())
        dash_br.driver.get("about:blank")
    finally:
        served.stop()
