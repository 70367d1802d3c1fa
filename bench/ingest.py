"""Ingest: how many events per second the aggregator applies, against a bare consumer on the same stream.

Writes N synthetic events (appeals created, assigned, half of them responded, most resolved, some
rated, over the last 30 days, in the Jiaozuo profile) into an embedded Redis, then drains the same
stream three ways, each with its own consumer group so each sees every entry:

  - bare:       XREADGROUP + XACK only, the practical limit of client and server;
  - aggregator: the real Aggregator in this process (validate, apply, acknowledge);
  - processes:  P `civicwall aggregate --until-idle` processes sharing one group, on a fresh copy of
                the stream in another database (state starts empty each time), for P = 1 and 2.

Prints each rate in events/s and the ratios. Run: `make bench-ingest` (or `python bench/ingest.py
--events 200000 --batch 1000 [--profile]`).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.aggregator import Aggregator  # noqa: E402
from dashboard.keys import Keys  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from dashboard.settings import Settings  # noqa: E402
from dashboard.store import EmbeddedRedis, connect  # noqa: E402


def synthetic(profile, count: int, end: datetime, rng: random.Random, span_s: int = 30 * 86400):
    """About `count` events for appeals created over the `span_s` seconds before `end`; yields plain
    dicts in the event contract, each appeal's events one after another."""
    cats = [c.name for c in profile.categories]
    channels = list(profile.channels)
    n = i = 0
    while n < count:
        created = end - timedelta(seconds=rng.randrange(span_s))
        rid = f"b{i}"
        i += 1
        base = {"v": "1", "request_id": rid}
        out = [base | {"event_id": f"{rid}c", "type": "created", "ts": created.isoformat(),
                       "district": rng.choice(profile.districts).id, "category": rng.choice(cats),
                       "channel": rng.choice(channels), "title": f"诉求 {i}",
                       "deadline": (created + timedelta(days=3)).isoformat()}]
        out.append(base | {"event_id": f"{rid}a", "type": "assigned",
                           "ts": (created + timedelta(minutes=5)).isoformat(), "unit": f"单位{i % 40}"})
        if rng.random() < 0.5:
            out.append(base | {"event_id": f"{rid}p", "type": "responded",
                               "ts": (created + timedelta(minutes=rng.randrange(5, 120))).isoformat()})
        if rng.random() < 0.8:
            done = min(end, created + timedelta(minutes=rng.lognormvariate(6, 1)))
            out.append(base | {"event_id": f"{rid}r", "type": "resolved", "ts": done.isoformat(),
                               "text": "已办结"})
            if rng.random() < 0.3:
                out.append(base | {"event_id": f"{rid}s", "type": "rated", "ts": done.isoformat(),
                                   "satisfaction": str(rng.randint(1, 5))})
        yield from out
        n += len(out)


def fill(client, stream: str, events: list[dict]) -> float:
    t = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for k, e in enumerate(events, 1):
        pipe.xadd(stream, e)
        if k % 5000 == 0:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - t


def bare(client, stream: str, batch: int) -> tuple[int, float]:
    client.xgroup_create(stream, "bench-bare", id="0")
    done = 0
    t = time.perf_counter()
    while True:
        reply = client.xreadgroup("bench-bare", "c", {stream: ">"}, count=batch)
        entries = reply[0][1] if reply else []
        if not entries:
            break
        client.xack(stream, "bench-bare", *[eid for eid, _ in entries])
        done += len(entries)
    return done, time.perf_counter() - t


def processes(url: str, count: int, batch: int, events: list[dict]) -> float:
    client = connect(url)
    client.flushdb()
    keys = Keys("jiaozuo")
    fill(client, keys.stream, events)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICWALL_")}
    env |= {"REDIS_URL": url, "CIVICWALL_PROFILE": "jiaozuo", "CIVICWALL_BATCH": str(batch)}
    # The group exists before the processes start, so none of them races to create it.
    Aggregator(client, load_profile("jiaozuo"), Settings(redis_url=url, batch=batch), consumer="setup").ensure_group()
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "dashboard.cli", "aggregate", "--until-idle",
                               "--consumer", f"p{k}"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=ROOT) for k in range(count)]
    for p in procs:
        p.wait()
    elapsed = time.perf_counter() - t
    applied = int(client.hget(keys.meta, "applied") or 0) + int(client.hget(keys.meta, "unchanged") or 0)
    if applied != len(events):
        raise SystemExit(f"{count} processes applied {applied} of {len(events)} events")
    client.flushdb()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=Settings().batch)
    parser.add_argument("--shape", choices=("history", "live"), default="history",
                        help="history: appeals over 30 days, each one's events together (a backfill); "
                             "live: the last hour in time order")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported (the machine is noisy)")
    parser.add_argument("--profile", action="store_true", help="print where the aggregator's own time goes")
    parser.add_argument("--no-processes", action="store_true", help="skip the multi-process runs")
    args = parser.parse_args()
    profile = load_profile("jiaozuo")
    rng = random.Random(7)
    end = datetime.now(profile.tz).replace(microsecond=0)
    if args.shape == "history":
        events = list(synthetic(profile, args.events, end, rng))
    else:
        # A live stream: appeals of the last hour, every event in time order, so an appeal's
        # creation, assignment and resolution arrive in different batches.
        events = sorted(synthetic(profile, args.events, end, rng, span_s=3600), key=lambda e: e["ts"])
        events = [e for e in events if e["ts"] <= end.isoformat()]
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persist=False).start()
        try:
            client = connect(server.url)
            keys = Keys(profile.city)
            for _ in range(args.repeat):
                # Each round from an empty state: fill, drain bare, then aggregate the same entries.
                client.flushdb()
                written = fill(client, keys.stream, events)
                n_bare, t_bare = bare(client, keys.stream, args.batch)
                settings = Settings(redis_url=server.url, batch=args.batch)
                agg = Aggregator(client, profile, settings, consumer="bench")
                agg.ensure_group()
                prof = cProfile.Profile() if args.profile else None
                t = time.perf_counter()
                if prof:
                    prof.enable()
                agg.run_until_idle()
                if prof:
                    prof.disable()
                t_agg = time.perf_counter() - t
                meta = client.hgetall(keys.meta)
                applied = int(meta.get(b"applied", 0)) + int(meta.get(b"unchanged", 0))
                if applied != len(events):
                    raise SystemExit(f"the aggregator applied {applied} of {len(events)} events")
                rounds.append((n_bare / t_bare, applied / t_agg, len(events) / written))
            info = client.info("memory")
            multi = {} if args.no_processes else {
                p: processes(server.url.rsplit("/", 1)[0] + "/1", p, args.batch, events) for p in (1, 2)}
        finally:
            server.stop()
    r_bare = statistics.median(r[0] for r in rounds)
    r_agg = statistics.median(r[1] for r in rounds)
    ratios = [r[1] / r[0] for r in rounds]
    print(f"events: {len(events):,} per round ({args.shape}), {args.repeat} rounds "
          f"({statistics.median(r[2] for r in rounds):,.0f}/s written with pipelined XADD)")
    print(f"bare consumer (XREADGROUP + XACK, batch {args.batch}): median {r_bare:,.0f} events/s "
          f"(rounds: {', '.join(f'{r[0]:,.0f}' for r in rounds)})")
    print(f"aggregator, one process:                  median {r_agg:,.0f} events/s "
          f"(rounds: {', '.join(f'{r[1]:,.0f}' for r in rounds)})")
    print(f"ratio aggregator / bare, per round: {', '.join(f'{x:.2f}' for x in ratios)}; "
          f"median {statistics.median(ratios):.2f}")
    for p, elapsed in multi.items():
        print(f"aggregate --until-idle, {p} process(es):  {len(events) / elapsed:,.0f} events/s "
              f"(ratio to 1 process {multi[1] / elapsed:.2f}; includes start-up)")
    print(f"Redis memory after the last round: {info['used_memory'] / 2**20:,.0f} MiB")
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)
    return 0


if __name__ == "__main__":
    sys.exit(main())
