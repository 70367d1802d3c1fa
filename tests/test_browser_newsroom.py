"""The newsroom page in headless Chromium: two reporters in two browsers (two sessions, two cookie jars)
sign in; one takes a story, the other sees it taken by her without reloading, cannot take it, and sees
it free again once she releases it. The search and filters live in the address. Run with --headless.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import pytest
from dash.testing.wait import until
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.web import create_app
from layouts import newsroom as nid

from .test_newsroom import PASSWORD, news, users  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def second_browser():
    """Another Chromium with its own profile: a second session, as a colleague's browser would be."""
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")))


def sign_in(driver, base: str, name: str, path: str = "/newsroom/") -> None:
    driver.get(base + path)
    until(lambda: driver.find_elements(By.ID, "auth-name"), timeout=10)
    driver.find_element(By.ID, "auth-name").send_keys(name)
    driver.find_element(By.ID, "auth-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "auth-submit").click()
    until(lambda: urlsplit(driver.current_url).path == "/newsroom/", timeout=10)


def card_text(driver, rid: str) -> str:
    return driver.execute_script(
        "var c = document.querySelector('[data-story=\"' + arguments[0] + '\"]'); return c ? c.textContent : '';", rid)


def test_a_story_taken_in_one_browser_shows_as_taken_in_another(dash_duo, news, users, settings):
    _, ids = news
    rid = ids["long"][0]
    dash_duo.start_server(create_app(settings.with_(profile="jiaozuo", push="off", manager_refresh_ms=1000)))
    sign_in(dash_duo.driver, dash_duo.server_url, "alice", "/newsroom/?status=resolved")
    other = second_browser()
    try:
        sign_in(other, dash_duo.server_url, "bob", "/newsroom/?status=resolved")
        for driver in (dash_duo.driver, other):
            until(lambda d=driver: "认领此线索" in card_text(d, rid), timeout=20)
        assert "长期难题：历时 40天13小时 终获解决" in card_text(other, rid)

        dash_duo.find_element(f"[data-story='{rid}'] button[data-action='take']").click()
        until(lambda: "你已于" in card_text(dash_duo.driver, rid), timeout=10)
        # Bob's page refreshes on its own: the mark arrives with alice's name and no take button.
        until(lambda: "alice 已于" in card_text(other, rid), timeout=20)
        assert other.find_elements(By.CSS_SELECTOR, f"[data-story='{rid}'] button") == []

        dash_duo.find_element(f"[data-story='{rid}'] button[data-action='release']").click()
        until(lambda: "认领此线索" in card_text(other, rid), timeout=20)
        assert "alice" not in card_text(other, rid)
        assert dash_duo.get_logs() == []
    finally:
        other.quit()


def test_search_and_filters_live_in_the_address(dash_duo, news, users, settings):
    _, ids = news
    dash_duo.start_server(create_app(settings.with_(profile="jiaozuo", push="off")))
    sign_in(dash_duo.driver, dash_duo.server_url, "alice", "/newsroom/?district=武陟县")
    until(lambda: len(dash_duo.find_elements(f"#{nid.LIST} [data-story]")) == 3, timeout=20)
    shown = {e.get_attribute("data-story") for e in dash_duo.find_elements(f"#{nid.LIST} [data-story]")}
    assert shown <= set(ids["surge"])
    assert "激增：武陟县城市管理类诉求 8 件，常态 1 件" in card_text(dash_duo.driver, shown.pop())

    # "All districts again" is a link to the bare address: a new page. Type only into the new page's box,
    # once that page has its stories.
    old_list = dash_duo.find_element(f"#{nid.LIST}")
    dash_duo.find_element(f"#{nid.RESET}").click()
    WebDriverWait(dash_duo.driver, 20).until(staleness_of(old_list))
    until(lambda: urlsplit(dash_duo.driver.current_url).query == "", timeout=10)
    until(lambda: len(dash_duo.find_elements(f"#{nid.LIST} [data-story]")) > 0, timeout=20)
    box = dash_duo.find_element(f"#{nid.SEARCH}")
    box.send_keys("入园\n")
    until(lambda: parse_qs(urlsplit(dash_duo.driver.current_url).query) == {"q": ["入园"]}, timeout=10)
    dash_duo.wait_for_contains_text(f"#{nid.COUNT}", "符合条件 6 条，显示 3 条")
    texts = dash_duo.driver.execute_script(
        f"return Array.from(document.querySelectorAll('#{nid.LIST} .n-text'), p => p.textContent)")
    assert len(texts) == 3 and all("138****5678" in t and "13812345678" not in t for t in texts)

    # A slip in the address is named in the page's language; the rest of the view is shown, with the
    # controls at what is shown, until the reporter changes something.
    dash_duo.driver.get(dash_duo.server_url + "/newsroom/?period=week&status=resolved")
    dash_duo.wait_for_contains_text(f"#{nid.ERROR}", "地址中有无法识别的部分，已按默认值显示：时段 的取值 'week' 无效")
    until(lambda: dash_duo.find_element(f"#{nid.PERIOD} input[value='today']").is_selected(), timeout=10)
    assert dash_duo.find_element(f"#{nid.STATUS} input[value='resolved']").is_selected()
    dash_duo.wait_for_contains_text(f"#{nid.COUNT}", "符合条件 3 条")
    assert not dash_duo.find_element(f"#{nid.MANAGER_LINK}").is_displayed()      # a reporter's page
    dash_duo.find_element(f"#{nid.STATUS} input[value='all']").click()
    until(lambda: not dash_duo.find_element(f"#{nid.ERROR}").is_displayed(), timeout=10)
    until(lambda: parse_qs(urlsplit(dash_duo.driver.current_url).query) == {}, timeout=10)
