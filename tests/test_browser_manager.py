"""The manager page in headless Chromium (dash_duo) against a real Redis holding a replayed NYC 311
export: the URL is the page's state (open a URL, change a filter, reload), every panel follows the
filters, the deadline list sorts and counts down, the CSV link gives the rows shown, and the page says
when its server is gone. Expected figures come from pandas over the raw file. Run with --headless.
"""

from __future__ import annotations

import csv
import io
import re
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from dash.testing.wait import until

from dashboard import clock
from dashboard.aggregator import Aggregator
from dashboard.feeds.nyc311 import load_events
from dashboard.keys import Keys
from dashboard.users import UserStore
from dashboard.web import create_app
from layouts import manager_ids as mid

from .conftest import NYC_CSV, require_file, xadd_all
from .test_browser_wall import _quiesce
from .test_manager_figures import expected_block, nyc_raw, windows_by_hand

pytestmark = pytest.mark.browser
NY = ZoneInfo("America/New_York")
THEN = datetime(2024, 5, 27, 1, 30, tzinfo=NY).timestamp()
NOW = THEN + 7 * 3600


@pytest.fixture
def raw(client, nyc, settings):
    keys = Keys(nyc.city)
    feed = load_events(require_file(NYC_CSV))
    xadd_all(client, keys.stream, [e for e, t in zip(feed.events, feed.times) if t <= THEN])
    Aggregator(client, nyc, settings).run_until_idle()
    clock.set_replay(client, keys, NOW, speed=0)
    return nyc_raw(NYC_CSV, THEN)


def sign_in(dash_duo, settings, path: str, name: str = "wang", password: str = "correct horse") -> None:
    """Open ``path`` (under /manager/) signed out: the sign-in form comes first, then the page asked for."""
    UserStore(settings.users_file).add(name, "manager", password)
    dash_duo.driver.get(f"{dash_duo.server_url}{path}")
    dash_duo.wait_for_element("#auth-name").send_keys(name)
    dash_duo.find_element("#auth-password").send_keys(password)
    dash_duo.find_element("#auth-submit").click()
    until(lambda: urlsplit(dash_duo.driver.current_url).path == "/manager/", timeout=10)


def page(dash_duo, settings, query: str = "", **changes):
    app = create_app(settings.with_(profile="nyc", push="off", **changes))
    dash_duo.start_server(app)
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 1600, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
    sign_in(dash_duo, settings, f"/manager/{query}")
    return app


def kpi(dash_duo, key: str) -> str:
    return f"#{mid.KPIS} [data-kpi={key}] .m-kpi-value"


def url_query(dash_duo) -> dict[str, list[str]]:
    return parse_qs(urlsplit(dash_duo.driver.current_url).query, keep_blank_values=True)


def received(raw, period: str, **chosen) -> int:
    rows = raw
    for name, values in chosen.items():
        rows = rows[rows[name].isin(values)]
    return expected_block(rows, windows_by_hand(period, NOW, NY)[0])["received"]


def click_label(dash_duo, container: str, text: str) -> None:
    labels = dash_duo.find_elements(f"#{container} label")
    next(label for label in labels if label.text.strip() == text).click()


def test_the_url_is_the_view_and_every_filter_change_is_written_back(dash_duo, raw, settings):
    page(dash_duo, settings, "?period=7d&district=BRONX")
    dash_duo.wait_for_text_to_equal(kpi(dash_duo, "received"), str(received(raw, "7d", district=["BRONX"])))
    assert dash_duo.find_element(f"#{mid.PERIOD} input[value='7d']").is_selected()
    assert "Bronx" in dash_duo.find_element(f"#{mid.DISTRICT}").text

    click_label(dash_duo, mid.PERIOD, "Today")
    want = received(raw, "today", district=["BRONX"])
    dash_duo.wait_for_text_to_equal(kpi(dash_duo, "received"), str(want))
    until(lambda: url_query(dash_duo) == {"district": ["BRONX"]}, timeout=10)

    dash_duo.select_dcc_dropdown(f"#{mid.UNIT}", value="NYPD")
    want = received(raw, "today", district=["BRONX"], unit=["NYPD"])
    until(lambda: url_query(dash_duo) == {"district": ["BRONX"], "unit": ["NYPD"]}, timeout=10)
    dash_duo.wait_for_text_to_equal(kpi(dash_duo, "received"), str(want))

    # Every panel follows: the deadline list holds only Bronx appeals of NYPD, the league only NYPD.
    overdue = raw[raw.r.isna() & (raw.district == "BRONX") & (raw.unit == "NYPD") & (NOW > raw.dl)]
    dash_duo.wait_for_contains_text(f"#{mid.DL_COUNT}", f"Overdue {len(overdue)}")
    districts = {td.text for td in dash_duo.find_elements(f"#{mid.DL_BODY} tr td:nth-child(6)")}
    assert districts == {"Bronx"}
    units = [tr.find_elements("css selector", "td")[1].text for tr in dash_duo.find_elements(f"#{mid.LEAGUE_BODY} tr")]
    assert units == ["NYPD"]

    # A bookmark of this address opens the same view.
    dash_duo.driver.get(dash_duo.driver.current_url)
    dash_duo.wait_for_text_to_equal(kpi(dash_duo, "received"), str(want))
    assert "NYPD" in dash_duo.find_element(f"#{mid.UNIT}").text
    assert dash_duo.find_element(f"#{mid.PERIOD} input[value='today']").is_selected()
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


def test_the_deadline_list_sorts_by_its_columns_and_its_csv_has_the_same_rows(dash_duo, raw, settings):
    page(dash_duo, settings, "?state=overdue")
    overdue = raw[raw.r.isna() & (NOW > raw.dl)]
    dash_duo.wait_for_contains_text(f"#{mid.DL_COUNT}", f"{min(len(overdue), 200)} of {len(overdue)} shown")

    def shown_ids():
        # One script call reads the whole column, so rows React replaces meanwhile cannot go stale.
        return dash_duo.driver.execute_script(
            f"return Array.from(document.querySelectorAll('#{mid.DL_BODY} td.m-id'), td => td.textContent)")

    by_deadline = list(overdue.sort_values(["dl", "unique_key"]).unique_key)
    until(lambda: shown_ids() == by_deadline[:200], timeout=10)
    assert {td.text for td in dash_duo.find_elements(f"#{mid.DL_BODY} td.m-state")} == {"Overdue"}

    dash_duo.find_element(f"#{mid.sort_id('age')}").click()           # youngest first
    youngest = list(overdue.assign(age=NOW - overdue.c).sort_values(["age", "dl", "unique_key"]).unique_key)
    until(lambda: shown_ids() == youngest[:200], timeout=10)
    assert url_query(dash_duo) == {"state": ["overdue"], "sort": ["age"]}
    dash_duo.find_element(f"#{mid.sort_id('age')}").click()           # the same column again: oldest first
    oldest = list(overdue.assign(age=NOW - overdue.c)
                  .sort_values(["age", "dl", "unique_key"], ascending=[False, True, True]).unique_key)
    until(lambda: shown_ids() == oldest[:200], timeout=10)
    assert url_query(dash_duo)["order"] == ["desc"]
    assert "is-desc" in dash_duo.find_element(f"#{mid.sort_id('age')}").get_attribute("class")

    href = dash_duo.find_element(f"#{mid.DL_CSV}").get_attribute("href")
    assert parse_qs(urlsplit(href).query)["sort"] == ["age"]
    with urllib.request.urlopen(href) as answer:
        rows = list(csv.DictReader(io.StringIO(answer.read().decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == oldest          # every row, not only the 200 on the page
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


def parse_left(text: str) -> float:
    """'over by 1:02:03' -> -3723, '0:10:00' -> 600, with an optional 'Nd ' in front."""
    m = re.search(r"(?:(\d+)d )?(\d+):(\d\d):(\d\d)", text)
    days, h, mi, s = (int(g or 0) for g in m.groups())
    seconds = days * 86400 + h * 3600 + mi * 60 + s
    return -seconds if "over" in text else seconds


def test_the_countdown_runs_with_the_clock(dash_duo, raw, settings, client, nyc):
    clock.set_replay(client, Keys(nyc.city), NOW, speed=1)        # the clock moves: one second a second
    page(dash_duo, settings, "?state=due_soon")
    soon = raw[raw.r.isna() & (raw.dl >= NOW) & (raw.dl - NOW <= 4 * 3600)].sort_values(["dl", "unique_key"])
    assert len(soon) > 0
    first = f"#{mid.DL_BODY} tr:first-child .m-countdown"

    def shown():
        return dash_duo.driver.execute_script(f"const c = document.querySelector('{first}'); return c && c.textContent")

    until(shown, timeout=15)
    one = shown()
    until(lambda: shown() != one, timeout=5)
    two = shown()
    deadline = float(soon.dl.iloc[0])
    elapsed = clock.now(client, Keys(nyc.city))[0] - NOW
    assert parse_left(two) == pytest.approx(deadline - NOW - elapsed, abs=3)
    assert parse_left(two) < parse_left(one)
    # It is the row's text, as a reader or a copy of the row has it.
    assert re.search(r"\d+:\d\d:\d\d", dash_duo.find_element(f"#{mid.DL_BODY} tr:first-child").text)
    _quiesce(dash_duo)


def test_a_bad_address_says_what_is_wrong_and_shows_the_rest(dash_duo, raw, settings):
    """What in an address cannot be used is named on the page and takes its default; the rest of the
    view is shown, and the address stays as it was until the view is changed."""
    query = "?perod=7d&period=week&rank_by=fame&district=Bronx&district=Gotham&state=late"
    page(dash_duo, settings, query)
    for reason in ("unknown parameter 'perod'", "period: 'week' is not one of today, 7d, 30d",
                   "rank_by: 'fame' is not one of", "'Gotham' is not a district here (districts: MANHATTAN, BRONX,",
                   "state: 'late' is not one of overdue, due_soon, on_track"):
        dash_duo.wait_for_contains_text(f"#{mid.ERROR}", reason)
    # A district by its name ("Bronx" for BRONX) is understood; a state that was all mistakes leaves
    # the default states ticked.
    overdue = raw[raw.r.isna() & (raw.district == "BRONX") & (NOW > raw.dl)]
    dash_duo.wait_for_contains_text(f"#{mid.DL_COUNT}", f"Overdue {len(overdue)}")
    assert dash_duo.find_element(f"#{mid.STATES} input[value='overdue']").is_selected()
    dash_duo.wait_for_text_to_equal(kpi(dash_duo, "received"), str(received(raw, "today", district=["BRONX"])))
    assert urlsplit(dash_duo.driver.current_url).query == query[1:]
    click_label(dash_duo, mid.PERIOD, "Last 7 days")                  # a change: the address is rewritten
    dash_duo.wait_for_text_to_equal(kpi(dash_duo, "received"), str(received(raw, "7d", district=["BRONX"])))
    until(lambda: url_query(dash_duo) == {"period": ["7d"], "district": ["BRONX"]}, timeout=10)
    dash_duo.wait_for_contains_text(f"#{mid.DL_COUNT}", f"Overdue {len(overdue)}")
    until(lambda: not dash_duo.find_element(f"#{mid.ERROR}").is_displayed(), timeout=10)
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


def test_a_chosen_value_with_no_appeals_held_stays_chosen(dash_duo, raw, settings):
    """A bookmarked unit that has no appeals now (and so is not among the choices the data offers)
    and the "no district" choice survive the page's first answer: the figures are theirs, not the city's."""
    page(dash_duo, settings, "?unit=FDNY&district=")
    want = received(raw, "today", unit=["FDNY"], district=[""])
    assert want == 0 and received(raw, "today") > 0
    dash_duo.wait_for_contains_text(f"#{mid.DL_COUNT}", "Overdue 0 · Due soon 0 · On track 0")
    dash_duo.wait_for_text_to_equal(kpi(dash_duo, "received"), str(want))
    assert "FDNY" in dash_duo.find_element(f"#{mid.UNIT}").text
    assert "no district" in dash_duo.find_element(f"#{mid.DISTRICT}").text
    # Several refreshes later the address still holds both.
    dash_duo.wait_for_contains_text(f"#{mid.FRESHNESS}", "updated")
    assert url_query(dash_duo) == {"unit": ["FDNY"], "district": [""]}
    # ... and the page says that no appeal held has that unit, in case it is a slip of the keyboard.
    dash_duo.wait_for_contains_text(f"#{mid.ERROR}", "No appeal held has Handling unit 'FDNY'")
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


def test_too_many_values_and_a_lost_server_are_said_so(dash_duo, raw, settings):
    """More units than a filter takes: the first 50 are used and the page says so; a lost server is
    "stale since" over the kept picture, and the page recovers by itself."""
    page(dash_duo, settings, "?" + "&".join(f"unit=u{i}" for i in range(51)), manager_refresh_ms=600)
    dash_duo.wait_for_contains_text(f"#{mid.ERROR}", "Handling unit: at most 50 values; the first 50 are used")
    dash_duo.wait_for_contains_text(f"#{mid.ERROR}", "'u0', 'u1', 'u2' … (+47)")
    dash_duo.wait_for_text_to_equal(kpi(dash_duo, "received"),
                                    str(received(raw, "today", unit=[f"u{i}" for i in range(50)])))
    dash_duo.driver.get(f"{dash_duo.server_url}/manager/?period=30d")
    dash_duo.wait_for_text_to_equal(kpi(dash_duo, "received"), str(received(raw, "30d")))
    until(lambda: not dash_duo.find_element(f"#{mid.ERROR}").is_displayed(), timeout=10)
    dash_duo.driver.execute_cdp_cmd("Network.enable", {})
    dash_duo.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/manager/feed*"]})
    dash_duo.wait_for_contains_text(f"#{mid.FRESHNESS}", "stale since")
    assert dash_duo.find_element(kpi(dash_duo, "received")).text == str(received(raw, "30d"))   # picture kept
    dash_duo.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    dash_duo.wait_for_contains_text(f"#{mid.FRESHNESS}", "updated")
    _quiesce(dash_duo)


def test_the_chinese_page_lists_a_reopened_appeal_and_shows_titles_as_manager_tier_text(dash_duo, client, settings,
                                                                                         jiaozuo):
    """Jiaozuo, with the clock pinned at noon: an appeal reopened after its resolution is overdue
    again on its first deadline; a title with markup, a phone number and an ID number arrives as text,
    masked for the manager tier (the phone kept, the ID masked); the CSV (the open API) masks both."""
    from .test_browser_wall import PHONE, _noon

    noon = _noon(jiaozuo)
    keys = Keys(jiaozuo.city)
    id_number = "410802199001011234"
    nasty = f"<img src=x onerror=alert(1)>电话{PHONE}水管爆裂，身份证{id_number}"

    def ev(eid, etype, rid, ts, **extra):
        return {"v": "1", "event_id": eid, "type": etype, "request_id": rid, "ts": ts.isoformat(), **extra}

    def created(rid, ago_h, due_h, **extra):
        fields = {"channel": "hotline", "category": "水电气暖", "district": "温县", "unit": "市自来水公司",
                  "title": f"工单{rid}", **extra}
        return ev(f"{rid}:c", "created", rid, noon - timedelta(hours=ago_h),
                  deadline=(noon + timedelta(hours=due_h)).isoformat(), **fields)

    events = [
        created("m1", 3, -1 / 3600, title=nasty),                 # one second past its deadline
        created("m2", 1, 0.5, district="解放区", unit="解放区城管局", category="城市管理"),
        created("m3", 5, -2),
        ev("m3:r", "resolved", "m3", noon - timedelta(hours=4)),
        ev("m3:o", "reopened", "m3", noon - timedelta(hours=1)),
        created("m4", 0.5, 10),
        created("m5", 6, -3),
        ev("m5:r", "resolved", "m5", noon - timedelta(hours=2)),  # resolved late: no longer listed
    ]
    for e in events:
        client.xadd(keys.stream, e)
    Aggregator(client, jiaozuo, settings).run_until_idle()
    clock.set_replay(client, keys, noon.timestamp(), speed=0)

    # Expected from the events alone: open = never resolved, or reopened after the last resolution.
    at = {e["event_id"]: datetime.fromisoformat(e["ts"]).timestamp() for e in events}
    deadline = {e["request_id"]: datetime.fromisoformat(e["deadline"]).timestamp()
                for e in events if e["type"] == "created"}
    last = {kind: {e["request_id"]: at[e["event_id"]] for e in events if e["type"] == kind}
            for kind in ("resolved", "reopened")}
    still_open = [r for r in deadline if r not in last["resolved"] or last["reopened"].get(r, 0) > last["resolved"][r]]
    now = noon.timestamp()
    overdue = sorted((r for r in still_open if now > deadline[r]), key=deadline.get)
    soon = [r for r in still_open if r not in overdue and deadline[r] - now <= 4 * 3600]
    on_track = len(still_open) - len(overdue) - len(soon)

    app = create_app(settings.with_(profile="jiaozuo", push="off"))
    dash_duo.start_server(app)
    # An address with a slip, and districts by their short names: reasons in the page's language.
    sign_in(dash_duo, settings, "/manager/?perod=1&district=温县&district=解放")
    dash_duo.wait_for_contains_text(f"#{mid.ERROR}", "地址中有无法识别的部分，已按默认值显示：未知参数 'perod'")
    dash_duo.wait_for_contains_text(f"#{mid.DISTRICT}", "已选 2 项")
    picked = {e["request_id"] for e in events if e["type"] == "created" and e["district"] in ("温县", "解放区")}
    dash_duo.wait_for_contains_text(f"#{mid.DL_COUNT}", f"已超期 {len(set(overdue) & picked)} ·")
    dash_duo.driver.get(f"{dash_duo.server_url}/manager/")
    dash_duo.wait_for_contains_text(
        f"#{mid.DL_COUNT}", f"已超期 {len(overdue)} · 即将到期 {len(soon)} · 正常办理 {on_track}")
    assert dash_duo.find_element(f"#{mid.ROOT}").get_attribute("lang") == "zh-CN"
    ids_shown = dash_duo.driver.execute_script(
        f"return Array.from(document.querySelectorAll('#{mid.DL_BODY} td.m-id'), td => td.textContent)")
    assert ids_shown == sorted(overdue + soon, key=deadline.get)
    assert "m3" in overdue
    dash_duo.wait_for_contains_text(f"#{mid.CLOCK}", "回放 " + noon.strftime("%Y-%m-%d 12:00:00"))

    cell = dash_duo.driver.execute_script(
        f"return [...document.querySelectorAll('#{mid.DL_BODY} tr')]"
        ".find(tr => tr.querySelector('td.m-id').textContent === 'm1').querySelector('.m-title-cell').textContent")
    assert "<img src=x onerror=alert(1)>" in cell and "水管爆裂" in cell
    assert PHONE in cell and id_number not in cell and "身份证410802********1234" in cell
    assert dash_duo.find_elements(f"#{mid.ROOT} img, #{mid.ROOT} script") == []
    assert id_number not in dash_duo.driver.page_source
    href = dash_duo.find_element(f"#{mid.DL_CSV}").get_attribute("href")
    with urllib.request.urlopen(href) as answer:
        csv_text = answer.read().decode("utf-8-sig")
    assert PHONE not in csv_text and id_number not in csv_text and re.search(r"1\d\d\*+\d{2,4}", csv_text)
    cookie = dash_duo.driver.get_cookie("civicwall_session")["value"]      # the feed needs the sign-in
    feed = urllib.request.Request(f"{dash_duo.server_url}/manager/feed?state=overdue,due_soon,on_track",
                                  headers={"Cookie": f"civicwall_session={cookie}"})
    with urllib.request.urlopen(feed) as answer:
        assert id_number not in answer.read().decode("utf-8")
    # Signing out closes the page: the next refresh or reload leads to the sign-in form.
    dash_duo.find_element(".m-signout button").click()
    dash_duo.wait_for_element("#auth-name")
    dash_duo.driver.get(f"{dash_duo.server_url}/manager/")
    dash_duo.wait_for_element("#auth-name")
    assert dash_duo.get_logs() == []
    _quiesce(dash_duo)


def test_the_days_briefing_is_listed_and_downloads_from_the_manager_page(dash_duo, raw, settings, client, nyc):
    from datetime import date

    from dashboard import briefings

    keys = Keys(nyc.city)
    made = briefings.make(client, keys, nyc, date(2024, 5, 27))
    briefings.store(client, keys, made)
    page(dash_duo, settings)
    link = dash_duo.wait_for_element(f"#{mid.BRIEFINGS} a[href$='2024-05-27.pdf']")
    assert "2024-05-27 (to 08:30)" in dash_duo.find_element(f"#{mid.BRIEFINGS}").text
    # The link works with the page's own session (the file is behind the sign-in like the page).
    got = dash_duo.driver.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done("
        "[r.status, r.headers.get('content-type'), new TextDecoder().decode(new Uint8Array(b).slice(0, 5))])))",
        link.get_attribute("href"))
    assert got == [200, "application/pdf", "%PDF-"]
    # Without a session: refused.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{dash_duo.server_url}/manager/briefings/2024-05-27.pdf", timeout=10)
    assert refused.value.code == 401
