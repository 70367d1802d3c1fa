"""Freshness: the time from an XADD to the changed figure on a real browser's page.

Starts an embedded Redis, one `civicwall aggregate`, gunicorn (gunicorn.conf.py) and headless
Chromium on the wall. A MutationObserver in the page records when the "received today" figure
changes (Date.now(), the same clock as this script's). Then, ROUNDS times, at random moments, it
writes one new appeal with XADD and waits for the page to show the count it expects; the latency is
the page's time of change minus the time just before the XADD.

Modes: `push` is the wall's default (a server-sent event stream per screen; CIVICWALL_PUSH=on),
`poll-N` turns push off and polls every N ms. `--background R` adds R events/s of other kinds
(first responses to earlier appeals) while measuring, so the aggregator republishes continuously.
Prints p50/p95/max per mode. Run: `make bench-freshness`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import Wall, chromium  # noqa: E402  (bench/ is this script's own folder)

from dashboard.keys import Keys  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from dashboard.store import connect  # noqa: E402

KPI = "wall-kpi-received"
OBSERVE = """
window.__changes = [];
const target = document.getElementById(arguments[0]);
new MutationObserver(() => window.__changes.push([target.textContent, Date.now()]))
  .observe(target, {childList: true, characterData: true, subtree: true});
"""


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def measure(mode: str, rounds: int, rng: random.Random, background: float = 0.0) -> list[float]:
    push = mode == "push"
    refresh_ms = 2000 if push else int(mode.split("-", 1)[1])
    profile = load_profile("jiaozuo")
    keys = Keys(profile.city)
    with tempfile.TemporaryDirectory() as tmp:
        wall = Wall(tmp, profile="jiaozuo", refresh_ms=refresh_ms, push="on" if push else "off")
        client, base, driver = wall.client, wall.base, None
        try:
            wait(lambda: wall.ready(keys), 60, "the wall and the first snapshot")
            driver = chromium()
            driver.get(base)
            wait(lambda: driver.execute_script(f"return document.getElementById('{KPI}')?.textContent") not in
                 (None, "", "—"), 60, "the page's first figures")
            driver.execute_script(OBSERVE, KPI)
            stop = threading.Event()
            if background:
                threading.Thread(target=_background, args=(wall.server.url, keys, profile, background, stop),
                                 daemon=True).start()
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
            stop.set()
            return latencies
        finally:
            if driver is not None:
                driver.quit()
            wall.stop()


def _background(url: str, keys: Keys, profile, rate: float, stop: threading.Event) -> None:
    """First responses to a pool of earlier appeals at ``rate`` per second: work for the aggregator
    and a new snapshot to publish, without changing the count the page is watched for."""
    client = connect(url)
    now = datetime.now(profile.tz)
    pool = [f"bg-{i}" for i in range(500)]
    for rid in pool:
        client.xadd(keys.stream, {"v": "1", "event_id": f"{rid}-c", "type": "created", "request_id": rid,
                                  "ts": (now - timedelta(days=2)).isoformat(), "channel": "hotline",
                                  "district": profile.districts[0].id})
    n, started = 0, time.monotonic()
    while not stop.is_set():
        n += 1
        client.xadd(keys.stream, {"v": "1", "event_id": f"bg-r{n}", "type": "responded",
                                  "request_id": pool[n % len(pool)], "ts": datetime.now(profile.tz).isoformat()})
        ahead = started + n / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["push", "poll-2000", "poll-1000", "poll-500"],
                        help="push, or poll-N for polling every N ms with push off")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--background", type=float, nargs="+", default=[0.0],
                        help="other events per second while measuring (each value is a separate run)")
    args = parser.parse_args()
    rng = random.Random(5)
    print(f"{'mode':>10} {'bg ev/s':>8} {'rounds':>7} {'p50':>8} {'p95':>8} {'max':>8}   "
          "(XADD to the figure changing in Chromium)")
    for background in args.background:
        for mode in args.modes:
            lat = sorted(measure(mode, args.rounds, rng, background))
            p95 = statistics.quantiles(lat, n=20, method="inclusive")[18]
            print(f"{mode:>10} {background:>8.0f} {len(lat):>7} {statistics.median(lat):>6.0f}ms "
                  f"{p95:>6.0f}ms {lat[-1]:>6.0f}ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
