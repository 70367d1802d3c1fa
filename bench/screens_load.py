"""Many wall screens against gunicorn while events arrive: delays, response times and errors.

Starts an embedded Redis, a simulated Jiaozuo history, one `civicwall aggregate`, a feeder writing
EVENTS_PER_S events per second, and gunicorn; then SCREENS virtual screens connect with random phases,
exactly as assets/wall.js does:
  - push (the default, as the wall runs): each screen holds the event stream; the figure is the
    delay from the aggregator building a snapshot to each screen receiving it;
  - poll (`--mode poll --worker-class gthread`): each screen asks the wall feed every
    CIVICWALL_REFRESH_MS, carrying the fingerprints the previous answer gave it; the figures are the
    round trip a screen sees and the time spent in the web worker.
Also prints bytes on the wire, CPU per process, Redis commands slower than 2 ms and the error count.
Run: `make bench-screens` (defaults: push, 500 screens over two load-generator processes, 60 s,
100 events/s).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from itertools import zip_longest
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import stop_all  # noqa: E402  (bench/ is this script's own folder)

from dashboard.feeds.simulate import Simulator, run  # noqa: E402
from dashboard.keys import Keys  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from dashboard.settings import Settings  # noqa: E402
from dashboard.store import EmbeddedRedis, connect, free_port  # noqa: E402


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


class Connection:
    """One screen's HTTP/1.1 connection, kept open between refreshes as a browser keeps it, and opened
    again when the server closes it. asyncio keeps hundreds of screens cheap, so the load generator
    does not distort the timing (its own lateness is measured and printed too)."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def get(self, path: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port), timeout)
            try:
                return await asyncio.wait_for(self._exchange(path), timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")

    async def _exchange(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "content-length" not in headers:
            raise ValueError("the wall feed is expected to send a Content-Length")
        body = await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(lines[0].split()[1]), headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def screen(port, refresh_s, stop_at, stats, seed):
    """One wall screen, polling the wall feed as assets/wall.js does: the fingerprints it was last
    sent go back with each request, so it receives only the panels it does not have."""
    rng = random.Random(seed)
    have = ""
    conn = Connection(port)
    await asyncio.sleep(rng.uniform(0, refresh_s))
    while time.monotonic() < stop_at:
        t = time.perf_counter()
        try:
            query = urllib.parse.urlencode({"category": "__all__", "have": have})
            code, headers, body = await conn.get("/api/v1/wall?" + query, 10)
            elapsed = (time.perf_counter() - t) * 1000
            data = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
            answer = json.loads(data) if code == 200 else {}
            if code == 200 and "status" in answer:
                stats["round_trip"].append(elapsed)
                timing = {m.split(";dur=")[0].strip(): float(m.split(";dur=")[1])
                          for m in headers["server-timing"].split(",")}
                stats["server"].append(timing["wall"])
                stats["read"].append(timing.get("read", 0.0))
                stats["draw"].append(timing.get("panels", 0.0))
                stats["bytes"].append(len(body))
                stats["panels"].append(len(answer["panels"]))
                have = answer["prints"] or have
            else:
                stats["errors"].append(code if code != 200 else answer.get("error", "no status"))
        except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            stats["errors"].append(type(exc).__name__)
        await asyncio.sleep(max(0.0, refresh_s - (time.perf_counter() - t)))
    conn.close()


async def pushed_screen(port, stop_at, stats, seed):
    """One wall screen with push, as assets/wall.js does it: one event stream, each event applied as
    it comes. The delay of an event is its arrival here minus the moment the aggregator built the
    snapshot it carries (status.built_at: both on this machine's clock)."""
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, 2.0))           # screens switched on at different moments
    while time.monotonic() < stop_at:
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
            writer.write(b"GET /api/v1/wall/stream?category=__all__ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Accept-Encoding: gzip\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            if int(lines[0].split()[1]) != 200 or headers.get("transfer-encoding") != "chunked":
                raise ValueError(f"unexpected answer to the stream: {lines[0]}")
            inflate = zlib.decompressobj(31) if headers.get("content-encoding") == "gzip" else None
            text, prints = "", []
            while time.monotonic() < stop_at:
                left = stop_at - time.monotonic()
                size = int((await asyncio.wait_for(reader.readline(), left + 1)).strip(), 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    raise ConnectionError("the server ended the stream")
                arrived = time.time()
                stats["bytes"].append(size)
                text += (inflate.decompress(chunk[:-2]) if inflate else chunk[:-2]).decode("utf-8")
                while "\n\n" in text:
                    event, text = text.split("\n\n", 1)
                    for line in event.split("\n"):
                        if not line.startswith("data: ") or line == "data: ":
                            continue
                        # A browser parses the whole answer; this script reads only the status and
                        # the fingerprints, so that it can stand for hundreds of screens on one core.
                        if line.startswith('data: {"error"'):
                            stats["errors"].append(json.loads(line[6:])["error"])
                            continue
                        status = json.loads(line[16:line.index(',"panels":')])
                        now_prints = line[line.rindex(',"prints":"') + 11:-2].split(".")
                        if status.get("built_at"):
                            stats["round_trip"].append((arrived - status["built_at"]) * 1000)
                            stats["panels"].append(sum(1 for a, b in zip_longest(now_prints, prints) if a and a != b))
                        prints = now_prints
        except asyncio.TimeoutError:
            if time.monotonic() < stop_at:
                stats["errors"].append("TimeoutError")
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            stats["errors"].append(type(exc).__name__)
            await asyncio.sleep(1.0)
        finally:
            if writer is not None:
                writer.close()


async def loop_lag(stop_at, lags):
    """How late this script's own event loop wakes up: a round trip can be no more exact than that."""
    while time.monotonic() < stop_at:
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append((time.perf_counter() - t - 0.01) * 1000)


async def screens(port, first, count, refresh_s, seconds, push=False):
    stats = {"round_trip": [], "server": [], "read": [], "draw": [], "bytes": [], "panels": [], "errors": [],
             "lag": []}
    stop_at = time.monotonic() + seconds
    one = (lambda i: pushed_screen(port, stop_at, stats, i)) if push else \
        (lambda i: screen(port, refresh_s, stop_at, stats, i))
    await asyncio.gather(loop_lag(stop_at, stats["lag"]), *(one(i) for i in range(first, first + count)))
    return stats


def screens_in_process(args) -> dict:
    return asyncio.run(screens(*args))


def all_screens(port, count, refresh_s, seconds, push, processes) -> dict:
    """The screens spread over ``processes`` load-generator processes (browsers are not one thread:
    with hundreds of pushed screens, one Python process would be the slowest part measured)."""
    shares = [count // processes + (1 if k < count % processes else 0) for k in range(processes)]
    firsts = [sum(shares[:k]) for k in range(processes)]
    jobs = [(port, firsts[k], shares[k], refresh_s, seconds, push) for k in range(processes) if shares[k]]
    if len(jobs) == 1:
        return screens_in_process(jobs[0])
    with ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(screens_in_process, jobs))
    return {name: [v for part in parts for v in part[name]] for name in parts[0]}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process and its live children (gunicorn's workers)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return 0.0
    return total + sum(cpu_seconds(k) for k in kids)


def cpu_now(groups: dict[str, int]) -> dict[str, float]:
    out = {name: cpu_seconds(pid) for name, pid in groups.items()}
    # This script and its load-generator processes (counted once they have ended).
    own = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    out["screens + feeder (this script)"] = sum(u.ru_utime + u.ru_stime for u in own)
    return out


def pct(values, q):
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--events-per-s", type=float, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--refresh-ms", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2,
                        help="load-generator processes the screens are spread over")
    parser.add_argument("--threads", type=int, default=Settings().threads, help="threads per worker")
    parser.add_argument("--mode", choices=("push", "poll"), default="push",
                        help="push: each screen holds an event stream (the default); poll: screens poll the feed")
    parser.add_argument("--worker-class", choices=("uvicorn", "gthread", "sync"), default="uvicorn",
                        help="uvicorn: gunicorn.conf.py with push on (the default); gthread: gunicorn.conf.py "
                             "with push off; sync: gunicorn's default, for comparison")
    args = parser.parse_args()
    if args.mode == "push" and args.worker_class != "uvicorn":
        parser.error("push needs --worker-class uvicorn")
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
            env |= {"REDIS_URL": srv.url, "CIVICWALL_PROFILE": "jiaozuo", "CIVICWALL_REFRESH_MS": str(args.refresh_ms),
                    "CIVICWALL_THREADS": str(args.threads),
                    "CIVICWALL_PUSH": "on" if args.worker_class == "uvicorn" else "off"}
            procs.append(subprocess.Popen([sys.executable, "-m", "dashboard.cli", "aggregate"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            port = free_port()
            gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(args.workers),
                        "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), "app:server"]
            gunicorn[1:1] = (["--worker-class", "sync"] if args.worker_class == "sync"
                             else ["--config", str(ROOT / "gunicorn.conf.py")])
            procs.append(subprocess.Popen(gunicorn, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
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
            threading.Thread(target=feeder, args=(client, keys, args.events_per_s, stop, profile), daemon=True).start()
            applied_before = int(client.hget(keys.meta, "applied") or 0)
            groups = {"gunicorn workers": procs[1].pid, "aggregator": procs[0].pid, "redis": srv.process.pid}
            client.config_set("slowlog-log-slower-than", 2000)       # microseconds
            client.slowlog_reset()
            cpu_before = cpu_now(groups)
            started = time.monotonic()
            stats = all_screens(port, args.screens, args.refresh_ms / 1000, args.seconds,
                                args.mode == "push", args.processes)
            stop.set()
            elapsed = time.monotonic() - started
            cpu_after = cpu_now(groups)
            slow = client.slowlog_get(128)
            applied = int(client.hget(keys.meta, "applied") or 0) - applied_before
        finally:
            stop.set()
            stop_all(procs, srv)
    how = "push (event streams)" if args.mode == "push" else f"polling every {args.refresh_ms} ms"
    print(f"screens {args.screens} in {args.processes} load-generator processes, {how}, gunicorn workers {args.workers} "
          f"({args.worker_class}{f' x {args.threads} threads' if args.worker_class != 'sync' else ''}), "
          f"events {args.events_per_s:.0f}/s for {elapsed:.0f} s (applied {applied / elapsed:.0f}/s)")
    results, errors, sizes = stats["round_trip"], stats["errors"], stats["bytes"]
    if args.mode == "push":
        return _push_report(args, stats, elapsed, cpu_before, cpu_after, slow)
    print(f"refreshes answered: {len(results)} ({len(results) / args.seconds:.1f}/s; "
          f"expected {args.screens / (args.refresh_ms / 1000):.1f}/s)")
    print(f"round trip as a screen sees it: p50 {pct(results, 50):.1f} ms, p95 {pct(results, 95):.1f} ms, "
          f"p99 {pct(results, 99):.1f} ms, max {max(results):.1f} ms")
    print(f"lateness of the load generator's own loop: p50 {pct(stats['lag'], 50):.1f} ms, "
          f"p95 {pct(stats['lag'], 95):.1f} ms (a floor under the round trips above)")
    server = stats["server"]
    print(f"time in the web worker (Server-Timing): p50 {pct(server, 50):.2f} ms, p95 {pct(server, 95):.2f} ms, "
          f"p99 {pct(server, 99):.2f} ms, max {max(server):.2f} ms")
    print(f"  of which reading the snapshot: p99 {pct(stats['read'], 99):.2f} ms, max {max(stats['read']):.2f} ms; "
          f"drawing or fetching panels: p99 {pct(stats['draw'], 99):.2f} ms, max {max(stats['draw']):.2f} ms")
    print(f"answer size on the wire: median {statistics.median(sizes) / 1024:.1f} KiB, "
          f"mean {statistics.fmean(sizes) / 1024:.1f} KiB, max {max(sizes) / 1024:.1f} KiB; "
          f"panels per answer: mean {statistics.fmean(stats['panels']):.1f}")
    print("CPU used, share of one core: " + ", ".join(
        f"{name} {(cpu_after[name] - cpu_before[name]) / elapsed * 100:.0f} %" for name in cpu_after))
    kinds = {}
    for entry in slow:
        name = entry["command"].split(b" ")[0].decode("ascii", "replace").upper()
        kinds.setdefault(name, []).append(entry["duration"] / 1000)
    print("Redis commands slower than 2 ms (these hold every other client): " + (", ".join(
        f"{name} x{len(d)} (max {max(d):.1f} ms)" for name, d in sorted(kinds.items())) or "none"))
    print(f"errors: {len(errors)} {sorted(set(map(str, errors)))}")
    return 0 if not errors else 1


def _push_report(args, stats, elapsed, cpu_before, cpu_after, slow) -> int:
    delays, errors = stats["round_trip"], stats["errors"]
    print(f"snapshots delivered: {len(delays)} ({len(delays) / args.seconds:.1f}/s over {args.screens} screens)")
    print(f"built by the aggregator to received by a screen: p50 {pct(delays, 50):.1f} ms, "
          f"p95 {pct(delays, 95):.1f} ms, p99 {pct(delays, 99):.1f} ms, max {max(delays):.1f} ms")
    print(f"lateness of the load generator's own loop: p50 {pct(stats['lag'], 50):.1f} ms, "
          f"p95 {pct(stats['lag'], 95):.1f} ms (a floor under the delays above)")
    print(f"bytes on the wire: {sum(stats['bytes']) / elapsed / 1024:.0f} KiB/s for all screens, "
          f"median chunk {statistics.median(stats['bytes'])} B; panels per event: mean {statistics.fmean(stats['panels']):.1f}")
    print("CPU used, share of one core: " + ", ".join(
        f"{name} {(cpu_after[name] - cpu_before[name]) / elapsed * 100:.0f} %" for name in cpu_after))
    print(f"Redis commands slower than 2 ms: {len(slow)}")
    print(f"errors: {len(errors)} {sorted(set(map(str, errors)))}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
