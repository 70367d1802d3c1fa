"""What a wall screen left alone for weeks needs, in headless Chromium against a real Redis: the
playlist of views, no blank panel on a rotation or a reload, a ticker that glides and stays bounded,
"data delayed since" when the aggregator falls silent, no pile-up of refreshes behind a slow network,
and CJK text drawn with a CJK font. Run with ``pytest --headless``.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
from dash.testing.wait import until

from callbacks.wall import FEED_PATH
from dashboard.aggregator import Aggregator
from dashboard.keys import Keys
from dashboard.web import create_app
from layouts import ids
from tests.test_browser_wall import LAYOUT_CHECK, _expected, _full_hd, _load, _noon, _quiesce

pytestmark = pytest.mark.browser

VIEWS = ("overview", "districts", "trends", "stories")

# For each panel on view, whether it shows something: a graph with its traces, ticker rows, case cards.
PANELS_SHOWN = """
const canvas = document.getElementById('wall-canvas');
const panels = [...canvas.querySelectorAll('.panel')].filter(p => getComputedStyle(p).visibility !== 'hidden');
return {view: canvas.className, at: Date.now() / 1000, panels: panels.map(p => {
  const graphs = [...p.querySelectorAll('.js-plotly-plot')];
  const body = p.querySelector('.panel-body').getBoundingClientRect();
  const drawn = graphs.length ? graphs.every(g => g.data && g.data.length > 0 && g.querySelector('.main-svg'))
                              : p.querySelectorAll('.ticker-row, .case').length > 0;
  // Each graph's picture covers its box (within 2 %), so it has been resized for this view.
  const fitted = graphs.every(g => { const svg = g.querySelector('.main-svg'); if (!svg) return false;
    const a = svg.getBoundingClientRect(), b = g.parentElement.getBoundingClientRect();
    return Math.abs(a.width - b.width) <= 0.02 * b.width + 1 && Math.abs(a.height - b.height) <= 0.02 * b.height + 1; });
  return {panel: p.className.replace('panel ', ''), drawn, fitted, width: body.width};
})};
"""

# Records, at the first frame after each change of view, which panels are on view and drawn.
RECORD_ROTATION = """
window.cwViews = [];
const canvas = document.getElementById('wall-canvas');
const look = new Function(arguments[0]);
window.cwViews.push(look());
new MutationObserver(() => requestAnimationFrame(() => window.cwViews.push(look())))
  .observe(canvas, {attributes: true, attributeFilter: ['class']});
"""


def _appeal(eid: str, ts: datetime, title: str) -> dict:
    return {"v": "1", "event_id": eid, "type": "created", "request_id": eid, "ts": ts.isoformat(),
            "channel": "web", "category": "教育", "district": "温县", "title": title}


def _start(dash_duo, client, settings, jiaozuo, **changes):
    own = settings.with_(profile="jiaozuo", push="off", **changes)
    noon = _noon(jiaozuo)
    events = _load(client, jiaozuo, own, noon)
    app = create_app(own)
    return own, noon, events, app


def test_the_playlist_turns_on_the_clock_and_every_view_appears_drawn(dash_duo, client, settings, jiaozuo):
    slots = [("districts", 5), ("trends", 5), ("stories", 5), ("overview", 5)]
    own, noon, events, app = _start(dash_duo, client, settings, jiaozuo, refresh_ms=500,
                                    playlist=",".join(f"{v}:{s}" for v, s in slots))
    dash_duo.start_server(app)
    _full_hd(dash_duo)
    expected = _expected(events, noon)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", expected[ids.KPI_RECEIVED])
    timeline = [v for v, s in slots for _ in range(s)]         # the view of each second of the cycle
    dash_duo.driver.execute_script(RECORD_ROTATION, PANELS_SHOWN)
    seen = until(lambda: (lambda r: r if len(r) >= 6 else None)(dash_duo.driver.execute_script(
        "return window.cwViews")), timeout=45)
    changes = seen[1:]
    for change in changes:
        view = change["view"].replace("wall view-", "")
        # The view changes on the second the cycle says (the clock looks once a second).
        assert view in {timeline[int(change["at"]) % len(timeline)],
                        timeline[int(change["at"] - 1.1) % len(timeline)]}, change
        # At the first frame of a view, every panel on it already holds its figures.
        assert change["panels"] and all(p["drawn"] for p in change["panels"]), change
    order = [c["view"].replace("wall view-", "") for c in changes]
    names = [v for v, _ in slots]
    for a, b in zip(order, order[1:]):
        assert names.index(b) == (names.index(a) + 1) % len(names), order
    gaps = [b["at"] - a["at"] for a, b in zip(changes, changes[1:])]
    assert all(3.8 <= g <= 6.2 for g in gaps), gaps
    assert dash_duo.find_element(f"#{ids.KPI_RECEIVED}").text == expected[ids.KPI_RECEIVED]
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


def test_each_view_fits_the_canvas_with_its_graphs_sized_to_their_boxes(dash_duo, client, settings, jiaozuo, tmp_path):
    own, noon, events, app = _start(dash_duo, client, settings, jiaozuo)
    dash_duo.start_server(app)
    _full_hd(dash_duo)
    expected = _expected(events, noon)
    widths = {}
    for view in VIEWS:
        dash_duo.driver.get(f"{dash_duo.server_url}/?view={view}&kiosk=1")
        dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", expected[ids.KPI_RECEIVED])
        until(lambda: dash_duo.find_element(f"#{ids.CANVAS}").get_attribute("class") == f"wall view-{view}",
              timeout=10)
        shown = until(lambda: (lambda r: r if all(p["drawn"] and p["fitted"] for p in r["panels"]) else None)(
            dash_duo.driver.execute_script(PANELS_SHOWN)), timeout=15)
        got = dash_duo.driver.execute_script(LAYOUT_CHECK, ids.KPI_RECEIVED)
        assert got["outside"] == [] and got["overflowing"] == [], (view, got)
        assert got["scrollW"] <= 1920 and got["scrollH"] <= 1080, (view, got)
        widths[view] = {p["panel"]: p["width"] for p in shown["panels"]}
        assert dash_duo.driver.save_screenshot(str(tmp_path / f"view-{view}.png"))
    assert set(widths["overview"]) == {"panel-gauges", "panel-map", "panel-ranking", "panel-channels",
                                       "panel-hourly", "panel-ticker", "panel-cases"}
    assert set(widths["districts"]) == {"panel-map", "panel-ranking", "panel-channels"}
    assert set(widths["trends"]) == {"panel-gauges", "panel-hourly", "panel-ranking", "panel-channels"}
    assert set(widths["stories"]) == {"panel-ticker", "panel-cases"}
    # A focused view gives its panels more room than the overview does.
    assert widths["districts"]["panel-map"] > 1.3 * widths["overview"]["panel-map"]
    assert widths["trends"]["panel-hourly"] > 1.8 * widths["overview"]["panel-hourly"]
    assert widths["stories"]["panel-ticker"] > 1.2 * widths["overview"]["panel-ticker"]
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


def test_a_reload_shows_current_figures_before_any_refresh(dash_duo, client, settings, jiaozuo):
    """The page itself carries the figures: with the wall feed blocked, a reloaded screen still shows
    every panel drawn and the headline figures right."""
    own, noon, events, app = _start(dash_duo, client, settings, jiaozuo)
    dash_duo.start_server(app)
    _full_hd(dash_duo)
    expected = _expected(events, noon)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", expected[ids.KPI_RECEIVED])
    dash_duo.driver.execute_cdp_cmd("Network.enable", {})
    dash_duo.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": [f"*{FEED_PATH}*"]})
    try:
        for view in ("overview", "stories"):
            dash_duo.driver.get(f"{dash_duo.server_url}/?view={view}")
            for element_id, text in expected.items():
                dash_duo.wait_for_text_to_equal(f"#{element_id}", text)
            shown = until(lambda: (lambda r: r if r["panels"] and all(p["drawn"] for p in r["panels"]) else None)(
                dash_duo.driver.execute_script(PANELS_SHOWN)), timeout=15)
            assert shown["view"] == f"wall view-{view}"
            # It knows how old its figures are (the blocked refresh then marks them stale, never "waiting").
            assert "is-missing" not in dash_duo.find_element(f"#{ids.FRESHNESS}").get_attribute("class")
    finally:
        dash_duo.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    _quiesce(dash_duo)


# Each time the ticker's rows change, what each row shows, where it is, and how its animation starts.
RECORD_TICKER = """
window.cwTicker = [];
const ticker = document.getElementById('wall-ticker');
const look = () => [...ticker.querySelectorAll('.ticker-row')].map(r => {
  // The script's own animation (the flash of a new row is a CSS animation, listed first).
  const a = r.getAnimations().find(x => !(x instanceof CSSAnimation) && !(x instanceof CSSTransition));
  const k = a ? a.effect.getKeyframes()[0] : null;
  return {text: r.textContent, top: r.offsetTop, left: r.offsetLeft,
          transform: k ? (k.transform || null) : null, opacity: k && k.opacity !== undefined ? Number(k.opacity) : null};
});
window.cwTicker.push(look());
new MutationObserver(() => window.cwTicker.push(look()))
  .observe(ticker, {childList: true, subtree: true, characterData: true});
"""


def test_the_ticker_glides_rows_down_fades_the_new_one_in_and_keeps_twenty(dash_duo, client, settings, jiaozuo):
    own, noon, events, app = _start(dash_duo, client, settings, jiaozuo, refresh_ms=400)
    dash_duo.start_server(app)
    _full_hd(dash_duo)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", _expected(events, noon)[ids.KPI_RECEIVED])
    stream = Keys(jiaozuo.city).stream
    flagged = (f"return [...document.querySelectorAll('#{ids.TICKER} .ticker-row.is-new')]"
               ".map(r => r.textContent).join('|')")
    # A first arrival proves the ticker's script is watching (it flashes); then the one measured.
    client.xadd(stream, _appeal("w1", noon - timedelta(minutes=2), "第一条新诉求"))
    Aggregator(client, jiaozuo, own).run_until_idle()
    until(lambda: "第一条新诉求" in dash_duo.driver.execute_script(flagged), timeout=10)
    dash_duo.driver.execute_script(RECORD_TICKER)
    client.xadd(stream, _appeal("w2", noon - timedelta(minutes=1), "第二条新诉求"))
    Aggregator(client, jiaozuo, own).run_until_idle()
    records = until(lambda: (lambda r: r if any("第二条新诉求" in row["text"] for row in r[-1]) else None)(
        dash_duo.driver.execute_script("return window.cwTicker")), timeout=10)
    before = {row["text"]: row for row in records[0]}
    after = next(r for r in records if any("第二条新诉求" in row["text"] for row in r))
    assert "第二条新诉求" in after[0]["text"] and after[0]["opacity"] == 0       # the new row fades in at the top
    moved = [row for row in after[1:] if row["text"] in before and before[row["text"]]["left"] == row["left"]]
    assert len(moved) >= 2
    for row in moved:
        was = before[row["text"]]["top"]
        assert was < row["top"]
        # Each row starts where its text was and glides to its new place.
        assert row["transform"] == f"translateY({was - row['top']}px)", (row, was)

    # Bounded: however many arrive, the ticker shows the 20 newest appeals, newest first.
    burst = [_appeal(f"b{i:02d}", noon - timedelta(seconds=50 - i), f"批量诉求{i:02d}") for i in range(30)]
    for e in burst:
        client.xadd(stream, e)
    Aggregator(client, jiaozuo, own).run_until_idle()
    newest = [e["title"] for e in sorted(burst, key=lambda e: e["ts"], reverse=True)][:20]
    texts = f"return [...document.querySelectorAll('#{ids.TICKER} .ticker-row .t-text')].map(r => r.textContent)"
    until(lambda: dash_duo.driver.execute_script(texts) == newest, timeout=15)
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


def test_a_silent_aggregator_shows_delayed_since_and_recovers_without_a_reload(dash_duo, client, settings, jiaozuo):
    own, noon, events, app = _start(dash_duo, client, settings, jiaozuo, refresh_ms=400, stale_after_s=4)
    built_at = json.loads(client.get(Keys(jiaozuo.city).snapshot))["built_at"]
    dash_duo.start_server(app)
    _full_hd(dash_duo)
    expected = _expected(events, noon)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", expected[ids.KPI_RECEIVED])
    # Nothing runs the aggregator now: four seconds after its last snapshot the screen says so.
    since = datetime.fromtimestamp(built_at, jiaozuo.tz).strftime("%H:%M")
    dash_duo.wait_for_text_to_equal(f"#{ids.FRESHNESS}", f"数据自 {since} 起延迟", timeout=20)
    assert "is-delayed" in dash_duo.find_element(f"#{ids.FRESHNESS}").get_attribute("class")
    assert dash_duo.find_element(f"#{ids.KPI_RECEIVED}").text == expected[ids.KPI_RECEIVED]     # picture kept
    client.xadd(Keys(jiaozuo.city).stream, _appeal("d1", noon - timedelta(minutes=1), "恢复后的诉求"))
    Aggregator(client, jiaozuo, own).run_until_idle()
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(int(expected[ids.KPI_RECEIVED]) + 1))
    until(lambda: "is-live" in dash_duo.find_element(f"#{ids.FRESHNESS}").get_attribute("class"), timeout=10)
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


def test_a_network_slower_than_the_refresh_interval_neither_piles_up_nor_freezes(dash_duo, client, settings, jiaozuo):
    own, noon, events, app = _start(dash_duo, client, settings, jiaozuo, refresh_ms=250)
    asked: list[float] = []
    served = app.server.wsgi_app

    def counting(environ, start_response):          # every feed request that reaches the server
        if environ.get("PATH_INFO") == FEED_PATH:
            asked.append(time.monotonic())
        return served(environ, start_response)

    app.server.wsgi_app = counting

    dash_duo.start_server(app)
    _full_hd(dash_duo)
    expected = _expected(events, noon)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", expected[ids.KPI_RECEIVED])
    network = {"offline": False, "downloadThroughput": -1, "uploadThroughput": -1}
    dash_duo.driver.execute_cdp_cmd("Network.enable", {})
    dash_duo.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {**network, "latency": 1500})
    try:
        start = time.monotonic()
        # Meanwhile the page stays alive: its "updated N s ago" text moves on every second.
        texts: set[str] = set()
        until(lambda: texts.add(dash_duo.find_element(f"#{ids.FRESHNESS}").text) or len(texts) >= 6, timeout=20)
        window = time.monotonic() - start
        during = [t for t in asked if t >= start]
        # One refresh at a time: each takes at least the 1.5 s latency, so at most one per 1.5 s
        # (24 per 6 s would have been asked at 250 ms without the guard).
        assert len(during) <= window / 1.5 + 2, (len(during), window)
        assert len(during) >= 1
    finally:
        dash_duo.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {**network, "latency": 0})
    client.xadd(Keys(jiaozuo.city).stream, _appeal("s1", noon - timedelta(minutes=1), "慢网之后"))
    Aggregator(client, jiaozuo, own).run_until_idle()
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(int(expected[ids.KPI_RECEIVED]) + 1))
    _quiesce(dash_duo)


def _platform_fonts(driver, selector: str) -> list[dict]:
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


def test_chinese_text_is_drawn_with_a_cjk_font(dash_duo, client, settings, jiaozuo):
    own, noon, events, app = _start(dash_duo, client, settings, jiaozuo)
    dash_duo.start_server(app)
    _full_hd(dash_duo)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", _expected(events, noon)[ids.KPI_RECEIVED])
    title = dash_duo.find_element(f"#{ids.TITLE}").text
    assert title == jiaozuo.title
    fonts = _platform_fonts(dash_duo.driver, f"#{ids.TITLE}")
    cjk = sum(1 for ch in title if "\u4e00" <= ch <= "\u9fff")
    # Every glyph of the title comes from a Noto CJK face: none is a missing-glyph box.
    assert any("CJK" in f["familyName"] for f in fonts), fonts
    assert sum(f["glyphCount"] for f in fonts if "CJK" in f["familyName"]) >= cjk, fonts
    assert dash_duo.driver.find_element("css selector", f"#{ids.ROOT}").get_attribute("lang") == "zh-CN"
    _quiesce(dash_duo)


def test_an_english_profile_has_an_english_wall(dash_duo, client, settings, nyc):
    from dashboard import clock

    own = settings.with_(profile="nyc", push="off")
    keys = Keys(nyc.city)
    noon = datetime.now(nyc.tz).replace(hour=12, minute=0, second=0, microsecond=0)
    clock.set_replay(client, keys, noon.timestamp(), speed=0)
    boroughs = ["BROOKLYN", "QUEENS", "BRONX", "BROOKLYN"]
    for i, borough in enumerate(boroughs):
        client.xadd(keys.stream, {"v": "1", "event_id": f"n{i}", "type": "created", "request_id": f"n{i}",
                                  "ts": (noon - timedelta(minutes=10 + i)).isoformat(), "channel": "PHONE",
                                  "category": "Noise - Residential", "district": borough, "title": f"Loud music {i}"})
    Aggregator(client, nyc, own).run_until_idle()
    dash_duo.start_server(create_app(own))
    _full_hd(dash_duo)
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(len(boroughs)))
    assert dash_duo.find_element(f"#{ids.TITLE}").text == nyc.title
    labels = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('.kpi-label, .panel h2')].map(e => e.textContent)")
    assert labels[:6] == ["Received today", "Open backlog", "Overdue now", "Resolution rate", "On-time rate",
                          "Satisfaction"]
    assert "Latest appeals" in labels and "Recently resolved" in labels
    page_text = dash_duo.driver.execute_script("return document.body.innerText")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in page_text), page_text[:400]
    assert dash_duo.driver.find_element("css selector", f"#{ids.ROOT}").get_attribute("lang") == "en"
    _quiesce(dash_duo)


def test_a_running_wall_adds_nothing_to_dash_undo_history(dash_duo, client, settings, jiaozuo):
    """Dash's renderer keeps every change of a callback input in an undo history it never trims. A wall
    that changed such an input every second grew by hundreds of megabytes over weeks; the wall's own
    timers change no callback input, so the history stays as long as it was after the page loaded."""
    own, noon, events, app = _start(dash_duo, client, settings, jiaozuo, refresh_ms=250)
    dash_duo.start_server(app)
    _full_hd(dash_duo)
    received = int(_expected(events, noon)[ids.KPI_RECEIVED])
    dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(received))
    history = "return window.dash_stores[0].getState().history.past.length"
    before = dash_duo.driver.execute_script(history)
    texts: set[str] = set()
    for i in range(3):
        client.xadd(Keys(jiaozuo.city).stream, _appeal(f"h{i}", noon - timedelta(minutes=1), f"历史{i}"))
        Aggregator(client, jiaozuo, own).run_until_idle()
        dash_duo.wait_for_text_to_equal(f"#{ids.KPI_RECEIVED}", str(received + i + 1))
    # Several seconds of ticking and refreshing (about 20 refreshes), seen on the page.
    until(lambda: texts.add(dash_duo.find_element(f"#{ids.FRESHNESS}").text) or len(texts) >= 5, timeout=20)
    assert dash_duo.driver.execute_script(history) == before
    _quiesce(dash_duo)
