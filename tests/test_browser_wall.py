"""The wall in headless Chromium (dash_duo), and its HTTP endpoints, against a real Redis.

Run with ``pytest --headless``. dash_duo serves the Flask application, which has no event stream
(that is the ASGI server's, tests/test_push.py), so these screens poll: with push off, as configured,
or with push on and the stream missing, which is the fallback a screen must survive. The wall clock is pinned (replay mode, speed 0) at 12:00 today in
the city, so "today", "same time yesterday" and "overdue now" do not depend on when the suite runs.
"""

from __future__ import annotations

import json
import os
import re
import struct
import threading
from datetime import datetime, timedelta

import pytest
from dash.testing.wait import until

from dashboard import clock
from dashboard.aggregator import Aggregator
from dashboard.keys import Keys
from dashboard.store import EmbeddedRedis
from dashboard.web import create_app
from layouts import ids

PHONE = "13812345678"
TITLE = "<script>alert('x')</script>路灯不亮"
TEXT = f"联系电话{PHONE} <img src=x onerror=alert(1)>"


def _events(noon: datetime) -> list[dict]:
    base = noon - timedelta(minutes=20)
    y = noon - timedelta(days=1, minutes=1)

    def ev(eid, etype, rid, ts, **extra):
        return {"v": "1", "event_id": eid, "type": etype, "request_id": rid, "ts": ts.isoformat(), **extra}

    return [
        ev("e1", "created", "r1", base, channel="hotline", category="城市管理", district="解放",
           title=TITLE, text=TEXT, deadline=(base + timedelta(hours=1)).isoformat()),
        ev("e2", "responded", "r1", base + timedelta(minutes=4)),
        ev("e3", "assigned", "r1", base + timedelta(minutes=5), unit="市城管局"),
        ev("e4", "resolved", "r1", base + timedelta(minutes=12), text="已修复，回访电话13912345678"),
        ev("e5", "rated", "r1", base + timedelta(minutes=15), satisfaction="满意"),
        ev("e6", "created", "r2", base + timedelta(minutes=1), channel="web", category="教育", district="温县",
           title="幼儿园招生", deadline=(base + timedelta(hours=2)).isoformat()),
        ev("e7", "created", "r3", base + timedelta(minutes=2), channel="wechat", category="城市管理",
           district="解放区", title="占道经营", deadline=(base + timedelta(hours=3)).isoformat()),
        ev("e8", "rated", "r2", base + timedelta(minutes=9), satisfaction="2"),
        ev("y1", "created", "y1", y, channel="hotline", category="农业农村", district="孟州",
           title="蔬菜滞销", deadline=(y + timedelta(minutes=1)).isoformat()),
    ]


def _expected(events: list[dict], noon: datetime) -> dict[str, str]:
    """Headline texts computed straight from the events: received = created today; resolution =
    of those, resolved; on time = resolved today by the deadline; satisfied = rated 4-5 today."""
    tz = noon.tzinfo
    at = {e["event_id"]: datetime.fromisoformat(e["ts"]).astimezone(tz) for e in events}
    created = {e["request_id"]: e for e in events if e["type"] == "created"}
    resolved = {e["request_id"]: at[e["event_id"]] for e in events if e["type"] == "resolved"}
    today = [r for r, e in created.items() if at[e["event_id"]].date() == noon.date()]
    yday = [r for r, e in created.items() if at[e["event_id"]].date() == (noon - timedelta(days=1)).date()
            and at[e["event_id"]].time() <= noon.time()]
    still_open = [r for r in created if r not in resolved]
    overdue = [r for r in still_open if datetime.fromisoformat(created[r]["deadline"]) < noon]
    res_today = [r for r, t in resolved.items() if t.date() == noon.date()]
    on_time = [r for r in res_today if resolved[r] <= datetime.fromisoformat(created[r]["deadline"])]
    words = {"满意": 5}       # a documented satisfaction word; digits are the 1-5 score itself
    ratings = [words.get(e["satisfaction"]) or int(e["satisfaction"])
               for e in events if e["type"] == "rated" and at[e["event_id"]].date() == noon.date()]
    resolved_of_today = [r for r in today if r in resolved]

    def pct(num, den):
        return f"{100 * num / den:.1f}%"

    return {
        ids.KPI_RECEIVED: str(len(today)),
        ids.KPI_RECEIVED_SUB: f"昨日同时段 {len(yday)}",
        ids.KPI_BACKLOG: str(len(still_open)),
        ids.KPI_OVERDUE: str(len(overdue)),
        ids.KPI_RESOLUTION: pct(len(resolved_of_today), len(today)),
        ids.KPI_RESOLUTION_SUB: f"{len(resolved_of_today)} / {len(today)}",
        ids.KPI_ON_TIME: pct(len(on_time), len(res_today)),
        ids.KPI_SATISFACTION: pct(sum(1 for s in ratings if s >= 4), len(ratings)),
        ids.KPI_SATISFACTION_SUB: f"{sum(1 for s in ratings if s >= 4)} / {len(ratings)}",
    }


def _load(client, profile, settings, noon: datetime) -> list[dict]:
    keys = Keys(profile.city)
    clock.set_replay(client, keys, noon.timestamp(), speed=0)
    events = _events(noon)
    for e in events:
        client.xadd(keys.stream, e)
    Aggregator(client, profile, settings).run_until_idle()
    return events


def _noon(profile) -> datetime:
    return datetime.now(profile.tz).replace(hour=12, minute=0, second=0, microsecond=0)


def _quiesce(dash_duo) -> None:
    """Stop the page polling and let requests in flight finish, so that the test server's
    shutdown (which raises SystemExit in its threads) never lands inside one of them."""
    dash_duo.driver.get("about:blank")
    until(lambda: not any(t.is_alive() and "process_request_thread" in t.name for t in threading.enumerate()),
          timeout=10)


def _full_hd(dash_duo) -> None:
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})


@pytest.mark.browser
def test_wall_shows_live_figures_and_citizen_text_safely(dash_duo, client, settings, jiaozuo):
    settings = settings.with_(profile="jiaozuo", refresh_ms=400, push="off")
    noon = _noon(jiaozuo)
    app = create_app(settings)
    dash_duo.start_server(app)
    _full_hd(dash_duo)
    # Nothing in Redis yet: the wall says so instead of showing zeros.
    dash_duo.wait_for_text_to_equal(f"#{ids.FRESHNESS}", "等待首批数据")
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", "—")

    events = _load(client, jiaozuo, settings, noon)
    for element_id, text in _expected(events, noon).items():       # arrives through the refresh callback
        dash_duo.wait_for_text_to_equal(f"#{element_id}", text)
    until(lambda: dash_duo.find_element(f"#{ids.REPLAY}").is_displayed(), timeout=10)
    dash_duo.wait_for_text_to_equal(f"#{ids.CLOCK}", noon.strftime("%Y-%m-%d 12:00:00"))

    rows = [r.get_attribute("textContent") for r in dash_duo.find_elements(f"#{ids.TICKER} .ticker-row")]
    row = next(r for r in rows if "路灯不亮" in r)
    assert TITLE in row and "<img src=x onerror=alert(1)>" in row
    assert PHONE not in row and re.search(r"1\d\d\*+\d{2,4}", row)
    assert dash_duo.find_elements(f"#{ids.TICKER} script, #{ids.TICKER} img, #{ids.CASES} img") == []
    card = dash_duo.find_element(f"#{ids.CASES} .case").get_attribute("textContent")
    assert "市城管局" in card and "13912345678" not in card

    def map_labels():
        return dash_duo.driver.execute_script(
            "return [...document.querySelectorAll('#wall-map .annotation-text')].map(e => e.textContent)")
    until(lambda: "解放区 2" in map_labels(), timeout=10)
    dash_duo.select_dcc_dropdown(f"#{ids.MAP_CATEGORY}", value="教育")     # only r2, in 温县
    until(lambda: "解放区 0" in map_labels() and "温县1" in map_labels(), timeout=10)

    wall = dash_duo.driver.execute_script(
        "const r = document.querySelector('.wall').getBoundingClientRect();"
        "return [r.right, r.bottom, document.documentElement.scrollWidth, document.documentElement.scrollHeight];")
    assert wall[0] <= 1920 and wall[1] <= 1080 and wall[2] <= 1920 and wall[3] <= 1080
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


@pytest.mark.browser
def test_wall_keeps_its_picture_and_says_stale_when_redis_goes_away(dash_duo, tmp_path, jiaozuo, settings):
    server = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    try:
        from dashboard.store import connect

        own = settings.with_(redis_url=server.url, profile="jiaozuo", refresh_ms=400, push="off")
        client = connect(server.url)
        noon = _noon(jiaozuo)
        events = _load(client, jiaozuo, own, noon)
        built_at = json.loads(client.get(Keys(jiaozuo.city).snapshot))["built_at"]
        client.close()
        dash_duo.start_server(create_app(own))
        expected = _expected(events, noon)
        dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", expected[ids.KPI_RECEIVED])
        server.stop()
        since = datetime.fromtimestamp(built_at, jiaozuo.tz).strftime("%H:%M")
        dash_duo.wait_for_text_to_equal(f"#{ids.FRESHNESS}", f"数据源不可达，画面停留在 {since}")
        assert dash_duo.find_element(f"#{ids.KPI_RECEIVED}").text == expected[ids.KPI_RECEIVED]
        assert "is-stale" in dash_duo.find_element(f"#{ids.FRESHNESS}").get_attribute("class")
        assert dash_duo.get_logs() == []

        # Redis comes back empty (no persistence) and is fed again, with one appeal more: the same
        # page, never reloaded, shows the new figures and goes live again by itself.
        server.start()
        client = connect(server.url)
        _load(client, jiaozuo, own, noon)
        extra = {"v": "1", "event_id": "n1", "type": "created", "request_id": "n1", "channel": "hotline",
                 "ts": (noon - timedelta(minutes=3)).isoformat(), "category": "教育", "district": "温县"}
        client.xadd(Keys(jiaozuo.city).stream, extra)
        Aggregator(client, jiaozuo, own).run_until_idle()
        client.close()
        dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(int(expected[ids.KPI_RECEIVED]) + 1))
        until(lambda: "is-live" in dash_duo.find_element(f"#{ids.FRESHNESS}").get_attribute("class"), timeout=20)
        assert dash_duo.get_logs() == []
        _quiesce(dash_duo)
    finally:
        server.stop()


@pytest.mark.browser
def test_wall_tells_its_own_server_being_unreachable_from_redis_and_recovers(dash_duo, client, settings, jiaozuo):
    # Push on, but this server has no stream: the screen polls instead, and still recovers.
    own = settings.with_(profile="jiaozuo", refresh_ms=400, push="on")
    noon = _noon(jiaozuo)
    events = _load(client, jiaozuo, own, noon)
    built_at = json.loads(client.get(Keys(jiaozuo.city).snapshot))["built_at"]
    dash_duo.start_server(create_app(own))
    expected = _expected(events, noon)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", expected[ids.KPI_RECEIVED])
    network = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    dash_duo.driver.execute_cdp_cmd("Network.enable", {})
    dash_duo.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {**network, "offline": True})
    since = datetime.fromtimestamp(built_at, jiaozuo.tz).strftime("%H:%M")
    dash_duo.wait_for_text_to_equal(f"#{ids.FRESHNESS}", f"大屏服务无响应，画面停留在 {since}")
    assert dash_duo.find_element(f"#{ids.KPI_RECEIVED}").text == expected[ids.KPI_RECEIVED]
    dash_duo.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {**network, "offline": False})
    until(lambda: "is-live" in dash_duo.find_element(f"#{ids.FRESHNESS}").get_attribute("class"), timeout=20)
    # The only console entries are the refused requests themselves, no script error.
    assert all(entry["source"] == "network" for entry in dash_duo.get_logs())
    _quiesce(dash_duo)


def test_snapshot_api_serves_the_stored_json_as_is(client, settings, jiaozuo):
    settings = settings.with_(profile="jiaozuo")
    _load(client, jiaozuo, settings, _noon(jiaozuo))
    stored = client.get(Keys(jiaozuo.city).snapshot).decode("utf-8")
    response = create_app(settings).server.test_client().get("/api/v1/snapshot")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == stored
    assert response.headers["X-Civicwall-Worker"] == str(os.getpid())


def test_snapshot_api_without_redis_is_a_503_that_hides_the_url(settings):
    from dashboard.store import free_port

    url = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    http = create_app(settings.with_(redis_url=url, profile="jiaozuo", socket_timeout_s=1.0, block_ms=100))
    response = http.server.test_client().get("/api/v1/snapshot")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "store_unavailable" and "unreachable" in body["message"]
    assert "s3cret" not in response.get_data(as_text=True) and "127.0.0.1" not in response.get_data(as_text=True)
    health = http.server.test_client().get("/healthz")
    assert health.status_code == 200 and health.get_json()["redis"] == "unavailable"
    assert health.headers["X-Civicwall-Worker"] == str(os.getpid())


def test_snapshot_api_before_the_first_snapshot(client, settings):
    response = create_app(settings.with_(profile="jiaozuo")).server.test_client().get("/api/v1/snapshot")
    assert response.status_code == 503 and response.get_json()["error"] == "snapshot_missing"


# Screens a wall is shown on: (CSS width, CSS height, device pixels per CSS pixel). A Full HD panel at
# 150 % display scaling is a 1280x720 CSS viewport drawn with 1.5 device pixels per CSS pixel.
SCREENS = {"1366x768": (1366, 768, 1), "1920x1080": (1920, 1080, 1), "2560x1440": (2560, 1440, 1),
           "3840x2160": (3840, 2160, 1), "1920x1080@150%": (1280, 720, 1.5)}

LAYOUT_CHECK = """
const vw = window.innerWidth, vh = window.innerHeight, doc = document.documentElement;
const wall = document.querySelector('.wall').getBoundingClientRect();
// Panels the current view does not show are on the page, invisible (assets/wall.css): not checked.
const boxes = [...document.querySelectorAll('.wall .panel, .wall .kpi, .wall-header')]
  .filter(e => getComputedStyle(e).visibility !== 'hidden');
const outside = boxes.filter(e => { const r = e.getBoundingClientRect();
  return r.left < wall.left - 1 || r.top < wall.top - 1 || r.right > wall.right + 1 || r.bottom > wall.bottom + 1; })
  .map(e => e.className);
const overflowing = boxes.filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
  .map(e => e.className + ' ' + e.scrollWidth + 'x' + e.scrollHeight + ' in ' + e.clientWidth + 'x' + e.clientHeight);
const kpi = document.getElementById(arguments[0]).getBoundingClientRect();
const hit = document.elementFromPoint(kpi.left + kpi.width / 2, kpi.top + kpi.height / 2);
return {vw, vh, scrollW: doc.scrollWidth, scrollH: doc.scrollHeight,
        wall: [wall.left, wall.top, wall.right, wall.bottom], outside, overflowing,
        kpiHeight: kpi.height, kpiOnTop: !!hit && document.getElementById(arguments[0]).contains(hit)};
"""


@pytest.mark.browser
@pytest.mark.parametrize("screen", list(SCREENS), ids=list(SCREENS))
def test_the_wall_fills_each_screen_without_scrollbars_or_clipped_panels(dash_duo, client, settings, jiaozuo,
                                                                          screen, tmp_path):
    width, height, dpr = SCREENS[screen]
    settings = settings.with_(profile="jiaozuo", push="off")
    noon = _noon(jiaozuo)
    events = _load(client, jiaozuo, settings, noon)
    dash_duo.start_server(create_app(settings))
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": dpr, "mobile": False})
    dash_duo.driver.get(dash_duo.server_url)
    expected = _expected(events, noon)
    for element_id, text in expected.items():
        dash_duo.wait_for_text_to_equal(f"#{element_id}", text)
    got = dash_duo.driver.execute_script(LAYOUT_CHECK, ids.KPI_RECEIVED)
    assert (got["vw"], got["vh"]) == (width, height)
    assert got["scrollW"] <= width and got["scrollH"] <= height, got
    left, top, right, bottom = got["wall"]
    assert left >= -0.5 and top >= -0.5 and right <= width + 0.5 and bottom <= height + 0.5, got
    # It fills the screen: the canvas is as wide or as tall as the window (16:9 screens: both).
    assert abs((right - left) - width) < 1 or abs((bottom - top) - height) < 1, got
    assert abs((right - left) / (bottom - top) - 16 / 9) < 0.01, got
    assert got["outside"] == [] and got["overflowing"] == [], got
    # The headline figure is on top and scales with the screen (72 px tall on the 1080 canvas).
    assert got["kpiOnTop"] and got["kpiHeight"] > 0.04 * height, got
    shot = tmp_path / f"wall-{screen}.png"
    assert dash_duo.driver.save_screenshot(str(shot))
    png = shot.read_bytes()                          # the PNG header holds the size: IHDR width, height
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (round(width * dpr), round(height * dpr))
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


@pytest.mark.browser
def test_kiosk_mode_shows_only_the_display(dash_duo, client, settings, jiaozuo):
    settings = settings.with_(profile="jiaozuo", push="off")
    noon = _noon(jiaozuo)
    events = _load(client, jiaozuo, settings, noon)
    dash_duo.start_server(create_app(settings))
    _full_hd(dash_duo)
    received = _expected(events, noon)[ids.KPI_RECEIVED]
    picker = f"#{ids.MAP_CATEGORY}"
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", received)
    assert dash_duo.find_element(picker).is_displayed()
    dash_duo.driver.get(dash_duo.server_url + "/?kiosk=1")
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", received)
    assert not dash_duo.find_element(picker).is_displayed()
    assert dash_duo.driver.execute_script(
        "return [document.documentElement.classList.contains('kiosk'), getComputedStyle(document.body).cursor]"
    ) == [True, "none"]
    _quiesce(dash_duo)


@pytest.mark.browser
def test_a_new_appeal_flashes_in_the_ticker_and_then_settles(dash_duo, client, settings, jiaozuo):
    settings = settings.with_(profile="jiaozuo", refresh_ms=400, push="off")
    noon = _noon(jiaozuo)
    events = _load(client, jiaozuo, settings, noon)
    dash_duo.start_server(create_app(settings))
    _full_hd(dash_duo)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", _expected(events, noon)[ids.KPI_RECEIVED])
    rows = f"#{ids.TICKER} .ticker-row"
    flagged = f"return [...document.querySelectorAll('{rows}')].map(r => [r.textContent, r.classList.contains('is-new')])"
    until(lambda: dash_duo.driver.execute_script(flagged), timeout=10)
    assert not any(new for _, new in dash_duo.driver.execute_script(flagged))      # the first rows are not new
    client.xadd(Keys(jiaozuo.city).stream, {
        "v": "1", "event_id": "n1", "type": "created", "request_id": "n1", "ts": (noon - timedelta(minutes=1)).isoformat(),
        "channel": "hotline", "category": "教育", "district": "温县", "title": "新到的诉求"})
    Aggregator(client, jiaozuo, settings).run_until_idle()
    until(lambda: any("新到的诉求" in text and new for text, new in dash_duo.driver.execute_script(flagged)), timeout=10)
    assert [text for text, new in dash_duo.driver.execute_script(flagged) if new] == [
        text for text, _ in dash_duo.driver.execute_script(flagged) if "新到的诉求" in text]
    until(lambda: not any(new for _, new in dash_duo.driver.execute_script(flagged)), timeout=15)
    _quiesce(dash_duo)
