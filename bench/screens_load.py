"""Many wall screens against gunicorn while events arrive: response times and errors.

Starts an embedded Redis, a simulated Jiaozuo history, one `civicwall aggregate`, a feeder writing
EVENTS_PER_S events per second, and gunicorn; then SCREENS virtual screens each send the wall's refresh
callback exactly as the browser does (same payload, carrying the status the previous answer gave it),
every CIVICWALL_REFRESH_MS, with random phases. Prints p50/p95/p99 of the server's answer time, the
error count and the throughput. Run: `make bench-screens` (defaults: 200 screens, 60 s, 100 events/s).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.feeds.simulate import Simulator, run  # noqa: E402
from dashboard.keys import Keys  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from dashboard.store import EmbeddedRedis, connect, free_port  # noqa: E402


def find(node, component_id):
    if isinstance(node, dict):
        props = node.get("props", {})
        if props.get("id") == component_id:
            return props
        for value in props.values():
            hit = find(value, component_id)
            if hit:
                return hit
    elif isinstance(node, list):
        for item in node:
            hit = find(item, component_id)
            if hit:
                return hit
    return None


def refresh_callback(base: str):
    deps = requests.get(base + "/_dash-dependencies", timeout=30).json()
    layout = requests.get(base + "/_dash-layout", timeout=30).json()
    cb = next(c for c in deps if any(i["id"] == "wall-refresh" for i in c["inputs"]))
    outputs = []
    for part in cb["output"].strip(".").split("..."):
        cid, _, prop = part.rpartition(".")
        outputs.append({"id": cid, "property": prop})
    values = {(i["id"], i["property"]): (find(layout, i["id"]) or {}).get(i["property"])
              for i in cb["inputs"] + cb["state"]}
    return cb, outputs, values


def feeder(client, keys, rate: float, stop: threading.Event, profile) -> None:
    rng = random.Random(3)
    n = 0
    start = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - start) * rate)
        pipe = client.pipeline(transaction=False)
        while n < due:
            rid = f"load-{n // 2}"
            ts = datetime.now(profile.tz).isoformat()
            etype = "created" if n % 2 == 0 else "resolved"
            pipe.xadd(keys.stream, {"v": "1", "event_id": f"{rid}:{etype}", "type": etype, "request_id": rid,
                                    "ts": ts, "district": rng.choice(profile.districts).id,
                                    "category": rng.choice(profile.categories).name, "channel": "hotline"})
            n += 1
        pipe.execute()
        stop.wait(0.05)


def screen(base, cb, outputs, values, refresh_s, stop, results, errors, seed):
    rng = random.Random(seed)
    session = requests.Session()
    state = dict(values)
    n = 0
    stop.wait(rng.uniform(0, refresh_s))
    while not stop.is_set():
        n += 1
        body = {"output": cb["output"], "outputs": outputs,
                "inputs": [{**i, "value": n if i["property"] == "n_intervals" else state[(i["id"], i["property"])]}
                           for i in cb["inputs"]],
                "changedPropIds": ["wall-refresh.n_intervals"],
                "state": [{**s, "value": state[(s["id"], s["property"])]} for s in cb["state"]]}
        t = time.perf_counter()
        try:
            r = session.post(base + "/_dash-update-component", json=body, timeout=10)
            elapsed = (time.perf_counter() - t) * 1000
            if r.status_code == 200:
                results.append(elapsed)
                reply = r.json().get("response", {})
                status = reply.get("wall-status", {}).get("data")
                if status is not None:
                    state[("wall-status", "data")] = status
            elif r.status_code == 204:      # no update at all
                results.append(elapsed)
            else:
                errors.append(r.status_code)
        except requests.RequestException as exc:
            errors.append(type(exc).__name__)
        stop.wait(max(0.0, refresh_s - (time.perf_counter() - t)))


def pct(values, q):
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--events-per-s", type=float, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--refresh-ms", type=int, default=2000)
    args = parser.parse_args()
    profile = load_profile("jiaozuo")
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        srv = EmbeddedRedis(Path(tmp), persist=False).start()
        stop = threading.Event()
        try:
            client = connect(srv.url)
            keys = Keys(profile.city)
            run(Simulator(profile, backfill_hours=30), client, keys, threading.Event(), once=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICWALL_")}
            env |= {"REDIS_URL": srv.url, "CIVICWALL_PROFILE": "jiaozuo", "CIVICWALL_REFRESH_MS": str(args.refresh_ms)}
            procs.append(subprocess.Popen([sys.executable, "-m", "dashboard.cli", "aggregate"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            port = free_port()
            procs.append(subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--workers",
                                           str(args.workers), "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT),
                                           "app:server"], env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(base + "/healthz", timeout=5).ok and client.get(keys.snapshot):
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the wall did not come up")
                time.sleep(0.2)
            cb, outputs, values = refresh_callback(base)
            threading.Thread(target=feeder, args=(client, keys, args.events_per_s, stop, profile), daemon=True).start()
            results, errors = [], []
            threads = [threading.Thread(target=screen, daemon=True,
                                        args=(base, cb, outputs, values, args.refresh_ms / 1000, stop,
                                              results, errors, i)) for i in range(args.screens)]
            applied_before = int(client.hget(keys.meta, "applied") or 0)
            started = time.monotonic()
            for t in threads:
                t.start()
            stop.wait(args.seconds)
            stop.set()
            for t in threads:
                t.join(timeout=15)
            elapsed = time.monotonic() - started
            applied = int(client.hget(keys.meta, "applied") or 0) - applied_before
        finally:
            stop.set()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=20)
            srv.stop()
    print(f"screens {args.screens}, refresh {args.refresh_ms} ms, gunicorn workers {args.workers}, "
          f"events {args.events_per_s:.0f}/s for {elapsed:.0f} s (applied {applied / elapsed:.0f}/s)")
    print(f"refreshes answered: {len(results)} ({len(results) / elapsed:.1f}/s; "
          f"expected {args.screens / (args.refresh_ms / 1000):.1f}/s)")
    print(f"server answer time: p50 {pct(results, 50):.1f} ms, p95 {pct(results, 95):.1f} ms, "
          f"p99 {pct(results, 99):.1f} ms, max {max(results):.1f} ms")
    print(f"errors: {len(errors)} {sorted(set(map(str, errors)))}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
