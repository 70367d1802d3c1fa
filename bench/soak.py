"""Soak: does a wall screen's memory stay bounded while it runs for a long time?

    .venv/bin/python bench/soak.py                    # 35 minutes: 5 to settle, 30 measured
    .venv/bin/python bench/soak.py --minutes 240 --speed 20 --json soak.json

Starts an embedded Redis, one `civicwall aggregate`, the simulated feed at ``--speed`` times its normal
rate (default 10: the simulated day runs ten times faster, so ten times as many appeals a minute), and
gunicorn with push on, as `make run` does. One headless Chromium shows the wall in kiosk mode with the
profile's playlist rotating. Every ``--sample-s`` seconds it forces a garbage collection in the page
and reads Chromium's own counters (CDP Performance.getMetrics): JS heap in use, DOM nodes, event
listeners. It also counts the updates the page received, the views it showed and the events written.

The result is the growth of each counter from the first sample after ``--settle-min`` minutes to the
end (the target is under 10 %), also as the slope per hour of a least-squares line through the
measured samples, so a leak that a single endpoint might hide shows as a steady slope.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Wall, chromium  # noqa: E402  (bench/ is this script's own folder)

from dashboard.keys import Keys  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402

# Counts kept by the page itself: updates of the headline figure and changes of view.
COUNT = """
window.cwSoak = {updates: 0, views: 0};
new MutationObserver(() => { window.cwSoak.updates += 1; })
  .observe(document.getElementById('wall-kpi-received'), {childList: true, characterData: true, subtree: true});
new MutationObserver(() => { window.cwSoak.views += 1; })
  .observe(document.getElementById('wall-canvas'), {attributes: true, attributeFilter: ['class']});
"""
METRICS = ("JSHeapUsedSize", "JSHeapTotalSize", "Nodes", "JSEventListeners", "Documents", "Frames")
TARGET_GROWTH = 0.10
WINDOW_MIN = 2.0          # minutes of samples whose median is the start, and the end, of the growth


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:            # a server still starting
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def sample(driver) -> dict[str, float]:
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    metrics = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    out = {name: metrics.get(name, 0.0) for name in METRICS}
    page = driver.execute_script(
        "return Object.assign({freshness: document.getElementById('wall-freshness').className,"
        " view: document.getElementById('wall-canvas').className,"
        " rows: document.querySelectorAll('.ticker-row').length}, window.cwSoak)")
    out.update(page)
    return out


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 3600


def summarise(samples: list[dict], settle_min: float, console_errors: int, meta: dict) -> tuple[dict, bool]:
    """Print and return the growth of each counter after ``settle_min``. A single sample moves by a few
    per cent with the moment the garbage collector ran, so the start and the end are each the median
    of the samples in a WINDOW_MIN window: just after settling, and at the end of the run."""
    measured = [s for s in samples if s["minute"] >= settle_min]
    head = [s for s in measured if s["minute"] < measured[0]["minute"] + WINDOW_MIN]
    tail = [s for s in measured if s["minute"] > measured[-1]["minute"] - WINDOW_MIN]
    last = measured[-1]
    summary: dict = {**meta, "events_written": last["events"], "events_per_s": last["events"] / (last["minute"] * 60),
                     "updates_received": last["updates"], "views_shown": last["views"],
                     "console_errors": console_errors, "from_minute": measured[0]["minute"],
                     "to_minute": last["minute"], "window_min": WINDOW_MIN}
    print()
    print(f"events written {last['events']} ({summary['events_per_s']:.2f}/s), headline updates on the page "
          f"{last['updates']}, views shown {last['views']}, console errors {console_errors}")
    print(f"growth from minute {measured[0]['minute']:.1f} to {last['minute']:.1f}, medians of {WINDOW_MIN:g}-minute "
          f"windows (target under {TARGET_GROWTH:.0%}):")
    ok = console_errors == 0
    for name, unit, scale in (("JSHeapUsedSize", "MiB", 2**20), ("Nodes", "", 1), ("JSEventListeners", "", 1)):
        a = statistics.median(s[name] for s in head) / scale
        b = statistics.median(s[name] for s in tail) / scale
        growth = (b - a) / a if a else 0.0
        peak = max(s[name] for s in measured) / scale
        slope = slope_per_hour([(s["minute"] * 60, s[name] / scale) for s in measured])
        ok &= growth < TARGET_GROWTH
        summary[name] = {"first": a, "last": b, "peak": peak, "growth": growth, "slope_per_hour": slope}
        print(f"  {name:17} {a:10.2f} -> {b:10.2f} {unit:3}  growth {growth:+7.2%}  peak {peak:10.2f}  "
              f"slope {slope:+.2f}{unit}/h  {'met' if growth < TARGET_GROWTH else 'NOT MET'}")
    return summary, ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=35, help="length of the run (default 35)")
    p.add_argument("--settle-min", type=float, default=5, help="minutes before growth is measured (default 5)")
    p.add_argument("--sample-s", type=float, default=30, help="seconds between samples (default 30)")
    p.add_argument("--speed", type=float, default=10, help="event rate as a multiple of the simulated day's (default 10)")
    p.add_argument("--profile", default="jiaozuo", help="city profile (default jiaozuo)")
    p.add_argument("--json", type=Path, help="also write every sample and the summary to this file")
    p.add_argument("--summarise", type=Path, metavar="JSON", help="only summarise a run saved with --json")
    args = p.parse_args()
    if args.summarise:
        saved = json.loads(args.summarise.read_text(encoding="utf-8"))
        meta = {k: saved["summary"][k] for k in ("minutes", "speed", "profile")}
        return 0 if summarise(saved["samples"], args.settle_min, saved["summary"]["console_errors"], meta)[1] else 1
    if args.minutes <= args.settle_min:
        p.error("--minutes must be longer than --settle-min")

    # Stopped early (Ctrl-C, or kill when it runs in the background): stop what it started, then exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    profile = load_profile(args.profile)
    keys = Keys(profile.city)
    samples: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        wall = Wall(tmp, feed=["--speed", str(args.speed)], profile=args.profile, push="on")
        client, base, logs, driver = wall.client, wall.base, wall.logs, None
        try:
            wait(lambda: wall.ready(keys), 120, "the wall and the first snapshot")
            driver = chromium("--disable-backgrounding-occluded-windows",
                              capabilities={"goog:loggingPrefs": {"browser": "ALL"}})
            driver.execute_cdp_cmd("Performance.enable", {})
            driver.get(base + "?kiosk=1")
            try:
                wait(lambda: driver.execute_script("return document.getElementById('wall-kpi-received')?.textContent")
                     not in (None, "", "—"), 180, "the page's first figures")
            except SystemExit:
                print("page:", driver.execute_script("return document.body.innerText.slice(0, 300)"),
                      driver.get_log("browser")[:5], file=sys.stderr)
                print((logs / "web.log").read_text(errors="replace")[-6000:], file=sys.stderr)
                raise
            driver.execute_script(COUNT)
            events_at_start = client.xlen(keys.stream)
            started = time.monotonic()
            print(f"soak: {args.minutes:g} min, {args.speed:g}x event rate, profile {args.profile}, sample every "
                  f"{args.sample_s:g} s (growth measured after {args.settle_min:g} min)", flush=True)
            print(f"{'min':>6} {'heap MiB':>9} {'nodes':>7} {'listeners':>9} {'updates':>8} {'views':>6} "
                  f"{'events':>7}  state", flush=True)
            while True:
                elapsed = time.monotonic() - started
                s = sample(driver)
                s["minute"] = elapsed / 60
                s["events"] = client.xlen(keys.stream) - events_at_start
                samples.append(s)
                print(f"{s['minute']:6.1f} {s['JSHeapUsedSize'] / 2**20:9.2f} {s['Nodes']:7.0f} "
                      f"{s['JSEventListeners']:9.0f} {s['updates']:8d} {s['views']:6d} {s['events']:7d}  "
                      f"{s['freshness'].replace('freshness ', '')}", flush=True)
                if elapsed >= args.minutes * 60:
                    break
                time.sleep(max(0.0, min(args.sample_s, args.minutes * 60 - elapsed)))
            errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        finally:
            if driver is not None:
                driver.quit()
            wall.stop()

    summary, ok = summarise(samples, args.settle_min, len(errors),
                            {"minutes": args.minutes, "speed": args.speed, "profile": args.profile})
    for e in errors[:5]:
        print("  console:", e.get("message", "")[:200])
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "samples": samples}, indent=1), encoding="utf-8")
        print(f"written {args.json}")
    return 0 if ok and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
