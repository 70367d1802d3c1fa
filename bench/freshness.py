"""Freshness: the time from an XADD to the changed figure on a real browser's page.

Starts an embedded Redis, one `civicwall aggregate`, gunicorn (gunicorn.conf.py) and headless
Chromium on the wall. A MutationObserver in the page records when the "received today" figure
changes (Date.now(), the same clock as this script's). Then, ROUNDS times, at random moments, it
writes one new appeal with XADD and waits for the page to show the count it expects; the latency is
the page's time of change minus the time just before the XADD. Prints p50/p95/max for each refresh
interval asked for. Run: `make bench-freshness` (or `python bench/freshness.py --refresh-ms 2000 500`).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import stop_all  # noqa: E402  (bench/ is this script's own folder)

from dashboard.keys import Keys  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from dashboard.store import EmbeddedRedis, connect, free_port  # noqa: E402

KPI = "wall-kpi-received"
OBSERVE = """
window.__changes = [];
const target = document.getElementById(arguments[0]);
new MutationObserver(() => window.__changes.push([target.textContent, Date.now()]))
  .observe(target, {childList: true, characterData: true, subtree: true});
"""


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1920,1080",
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")))


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def measure(refresh_ms: int, rounds: int, rng: random.Random) -> list[float]:
    profile = load_profile("jiaozuo")
    keys = Keys(profile.city)
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        srv = EmbeddedRedis(Path(tmp), persist=False).start()
        driver = None
        try:
            client = connect(srv.url)
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICWALL_")}
            env |= {"REDIS_URL": srv.url, "CIVICWALL_PROFILE": "jiaozuo", "CIVICWALL_REFRESH_MS": str(refresh_ms),
                    "CIVICWALL_PORT": str(port)}
            procs.append(subprocess.Popen([sys.executable, "-m", "dashboard.cli", "aggregate"], env=env, cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--config",
                                           str(ROOT / "gunicorn.conf.py"), "--workers", "2", "app:server"],
                                          env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            base = f"http://127.0.0.1:{port}/"

            def up():
                try:
                    return requests.get(base + "healthz", timeout=2).ok and client.exists(keys.snapshot)
                except requests.RequestException:
                    return False
            wait(up, 60, "the wall and the first snapshot")
            driver = browser()
            driver.get(base)
            wait(lambda: driver.execute_script(f"return document.getElementById('{KPI}')?.textContent") not in
                 (None, "", "—"), 60, "the page's first figures")
            driver.execute_script(OBSERVE, KPI)
            latencies = []
            for n in range(rounds):
                time.sleep(rng.uniform(0.5, 1.5))          # land at any point of the refresh cycle
                shown = int(driver.execute_script(f"return document.getElementById('{KPI}').textContent"))
                expected = str(shown + 1)
                sent = time.time() * 1000
                client.xadd(keys.stream, {"v": "1", "event_id": f"fresh-{n}", "type": "created",
                                          "request_id": f"fresh-{n}", "ts": datetime.now(profile.tz).isoformat(),
                                          "district": profile.districts[0].id, "channel": "hotline"})
                seen = wait(lambda: next((t for text, t in driver.execute_script("return window.__changes")
                                          if text == expected), None), 30, f"the page to show {expected}")
                latencies.append(seen - sent)
            return latencies
        finally:
            if driver is not None:
                driver.quit()
            stop_all(procs, srv)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refresh-ms", type=int, nargs="+", default=[2000, 1000, 500])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rng = random.Random(5)
    print(f"{'refresh':>8} {'rounds':>7} {'p50':>8} {'p95':>8} {'max':>8}   (XADD to the figure changing in Chromium)")
    for refresh in args.refresh_ms:
        lat = sorted(measure(refresh, args.rounds, rng))
        p95 = statistics.quantiles(lat, n=20, method="inclusive")[18]
        print(f"{refresh:>6}ms {len(lat):>7} {statistics.median(lat):>6.0f}ms {p95:>6.0f}ms {lat[-1]:>6.0f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
