"""Save a PNG of the wall (1920x1080), or of the manager or the newsroom page, with headless Chromium.

    python scripts/screenshot.py [URL] [-o docs/screenshot-wall.png] [--view overview]
    python scripts/screenshot.py --self-contained [--profile nyc] [-o ...]
    python scripts/screenshot.py --page manager [--self-contained ...] [-o docs/screenshot-manager.png]
    python scripts/screenshot.py --page newsroom --self-contained --history-hours 192 [-o ...]
    python scripts/screenshot.py --self-contained --profile P.toml --import MAPPING FILE [--view districts]

The wall's picture is of one view of the playlist (``--view``, default overview) in kiosk mode, as a
wall screen shows it. The manager page's picture is the whole page, 1600 pixels wide, as a desk
screen scrolls through it.

By default it only looks at a wall that is already being served (``make run``). With
``--self-contained`` it starts its own embedded Redis, writes 30 hours of simulated history for the
profile (Jiaozuo by default) with ``dashboard.feeds.simulate``, aggregates, serves the app on a free
port in a thread, takes the picture and stops everything it started.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars",
         "--window-size=1920,1080", "--force-device-scale-factor=1")
HEADLINE = "#wall-kpi-received"
# The manager page needs a sign-in: --self-contained adds this user to its own, temporary users file.
SHOT_USER = "值班长"
SHOT_PASSWORD = secrets.token_urlsafe(12)


def _browser(width: int, height: int):
    """Headless Chromium through chromedriver, its viewport width x height CSS pixels at scale 1."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    _viewport(driver, width, height)
    return driver


def _viewport(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def capture(url: str, output: Path, timeout: float = 30.0, view: str = "overview") -> Path:
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser(1920, 1080)
    try:
        driver.get(url.rstrip("/") + f"/?view={view}&kiosk=1")
        wait = WebDriverWait(driver, timeout)
        wait.until(lambda d: d.execute_script(
            "const c = document.getElementById('wall-canvas'); return !!c && c.className === arguments[0];",
            f"wall view-{view}"))
        wait.until(lambda d: d.execute_script(
            "const e = document.querySelector(arguments[0]); return !!e && e.textContent.trim().length > 0;",
            HEADLINE))
        # Every graph has drawn its SVG, the fonts are in and the view's fade-in is over.
        wait.until(lambda d: d.execute_script(
            "const g = document.querySelectorAll('.graph');"
            "return g.length > 0 && [...g].every(x => x.querySelector('.main-svg'))"
            " && document.fonts.status === 'loaded'"
            " && document.getElementById('wall-canvas').getAnimations().every(a => a.playState !== 'running');"))
        output.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(output))
    finally:
        driver.quit()
    return output


MANAGER_READY = (
    "const v = document.querySelector('#m-kpis [data-kpi=received] .m-kpi-value');"
    "const rows = document.querySelectorAll('#m-league-body tr');"
    "const svg = document.querySelector('#m-times-chart .main-svg');"
    "return !!v && v.textContent.length > 0 && rows.length > 0 && !!svg && document.fonts.status === 'loaded'"
    " && [...document.querySelectorAll('#m-dl-body .m-countdown')].every(c => c.textContent.length > 0);")


NEWSROOM_READY = (
    "const n = document.querySelectorAll('#n-list .n-story, #n-list .n-none');"
    "return n.length > 0 && document.fonts.status === 'loaded';")


def capture_manager(url: str, output: Path, timeout: float = 30.0, width: int = 1600, query: str = "",
                    user: str = "", password: str = "", page: str = "manager") -> Path:
    """The manager or the newsroom page, signed in as ``user``, whole."""
    from selenium.webdriver.support.ui import WebDriverWait

    ready = MANAGER_READY if page == "manager" else NEWSROOM_READY
    driver = _browser(width, 1000)
    try:
        driver.get(url.rstrip("/") + f"/{page}/" + (f"?{query}" if query else ""))
        if driver.find_elements("id", "auth-name"):          # the sign-in form first
            driver.find_element("id", "auth-name").send_keys(user)
            driver.find_element("id", "auth-password").send_keys(password)
            driver.find_element("id", "auth-submit").click()
        WebDriverWait(driver, timeout).until(lambda d: d.execute_script(ready))
        # The whole page in one picture: the viewport as tall as the page, then wait for the graph to
        # settle at its new size.
        height = driver.execute_script("return document.documentElement.scrollHeight")
        _viewport(driver, width, int(height))
        WebDriverWait(driver, timeout).until(lambda d: d.execute_script(ready))
        output.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(output))
    finally:
        driver.quit()
    return output


def _backfill(client, profile, settings, at: float | None, hours: float = 30) -> str:
    """Write ``hours`` of simulated history (by default today and yesterday) up to ``at`` (default: now).

    With ``at`` the wall's clock is pinned there (replay mode), so the picture shows a busy
    afternoon whatever the hour the script runs at.
    """
    from dashboard import clock
    from dashboard.feeds.simulate import Simulator, run
    from dashboard.keys import Keys

    keys = Keys(profile.city, settings.stream)
    stats = run(Simulator(profile, backfill_hours=hours, start=at), client, keys, threading.Event(), once=True)
    if at is not None:
        clock.set_replay(client, keys, at, speed=0)
    return f"backfilled {stats.backfilled} simulated events ({stats.created} appeals)"


def _afternoon(profile_name: str, hhmm: str) -> float:
    """The latest past HH:MM in the profile's time zone."""
    from datetime import datetime, timedelta

    from dashboard.profiles import load_profile

    tz = load_profile(profile_name).tz
    hour, minute = (int(x) for x in hhmm.split(":"))
    now = datetime.now(tz)
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at > now:
        at -= timedelta(days=1)
    return at.timestamp()


def _imported(client, profile, settings, mapping_path: str, data_path: str, at: float | None = None) -> str:
    """Import a history through a mapping (as ``civicwall import``) and pin the clock at ``at``, else at its
    last event."""
    from dashboard import clock
    from dashboard.feeds.common import xadd_all
    from dashboard.imports.command import read_files
    from dashboard.imports.mapping import load_mapping
    from dashboard.keys import Keys

    keys = Keys(profile.city, settings.stream)
    done = read_files(load_mapping(mapping_path), profile, [data_path])
    xadd_all(client, keys.stream, done.events)
    clock.set_replay(client, keys, at if at is not None else float(done.times[-1]), speed=0)
    return f"imported {len(done.events)} events from {done.report.rows} rows"


@contextmanager
def serve_self_contained(profile_name: str, at: float | None = None, hours: float = 30,
                         imported: tuple[str, str] | None = None) -> Iterator[str]:
    from werkzeug.serving import make_server

    from dashboard.aggregator import Aggregator
    from dashboard.profiles import load_profile
    from dashboard.settings import Settings
    from dashboard.store import EmbeddedRedis, connect
    from dashboard.users import UserStore
    from dashboard.web import create_app

    with tempfile.TemporaryDirectory(prefix="civicwall-shot-") as tmp:
        redis_server = EmbeddedRedis(Path(tmp), persist=False).start()
        http = None
        try:
            settings = Settings.from_env(redis_url=redis_server.url, profile=profile_name, push="off",  # WSGI: polls
                                         users_file=str(Path(tmp) / "users.json"))
            UserStore(settings.users_file).add(SHOT_USER, "manager", SHOT_PASSWORD)
            profile = load_profile(settings.profile)
            client = connect(settings.redis_url)
            if imported:
                print(_imported(client, profile, settings, *imported, at=at), flush=True)
            else:
                print(_backfill(client, profile, settings, at, hours), flush=True)
            print(f"aggregated {Aggregator(client, profile, settings).run_until_idle()} entries", flush=True)
            http = make_server("127.0.0.1", 0, create_app(settings).server, threaded=True)
            threading.Thread(target=http.serve_forever, daemon=True).start()
            yield f"http://127.0.0.1:{http.server_port}/"
        finally:
            if http is not None:
                http.shutdown()
            redis_server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8050/", help="wall to capture")
    parser.add_argument("-o", "--output", help="PNG path (default docs/screenshot-<page>.png)")
    parser.add_argument("--self-contained", action="store_true",
                        help="start an embedded Redis and the app here instead of using a running wall")
    parser.add_argument("--profile", default="jiaozuo", help="profile for --self-contained (default jiaozuo)")
    parser.add_argument("--at", metavar="HH:MM",
                        help="with --self-contained: pin the wall's clock to the latest past HH:MM in the city")
    parser.add_argument("--page", choices=("wall", "manager", "newsroom"), default="wall", help="page to capture (default wall)")
    parser.add_argument("--user", default="", help="--page manager on a running server: sign in as this user "
                        "(the password is read from standard input)")
    parser.add_argument("--query", default="", help="the manager page's address parameters, e.g. league_by=district")
    parser.add_argument("--view", default="overview", help="view of the wall's playlist to capture (default overview)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the page")
    parser.add_argument("--history-hours", type=float, default=30,
                        help="--self-contained: hours of simulated history before --at (default 30)")
    parser.add_argument("--clock", metavar="ISO", help="--self-contained: pin the wall's clock at this moment "
                        "(in the profile's zone unless it has an offset)")
    parser.add_argument("--import", dest="imported", nargs=2, metavar=("MAPPING", "FILE"),
                        help="--self-contained: import FILE through MAPPING instead of simulating, and show the "
                             "wall as of its last event")
    args = parser.parse_args(argv)
    output = Path(args.output or ROOT / "docs" / f"screenshot-{args.page}.png")

    def take(url: str) -> None:
        if args.page in ("manager", "newsroom"):
            user, password = (SHOT_USER, SHOT_PASSWORD) if args.self_contained else (args.user, sys.stdin.readline().strip())
            capture_manager(url, output, args.timeout, query=args.query, user=user, password=password, page=args.page)
        else:
            capture(url, output, args.timeout, args.view)

    if args.self_contained:
        at = _afternoon(args.profile, args.at) if args.at else None
        if args.clock:
            from datetime import datetime

            from dashboard.profiles import load_profile
            moment = datetime.fromisoformat(args.clock)
            at = (moment if moment.tzinfo else moment.replace(tzinfo=load_profile(args.profile).tz)).timestamp()
        with serve_self_contained(args.profile, at, args.history_hours, args.imported) as url:
            take(url)
    else:
        take(args.url)
    print(f"saved {output} ({output.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
