"""The manager view's cost against the number of appeals a web worker holds.

Each web worker keeps the appeals of the last 90 days in memory (dashboard/manager.py) and computes
the manager page's figures from them on every refresh. This loads N synthetic appeals spread over
those 90 days (created, assigned to one of 300 handling units, most answered, resolved and some rated)
through the real aggregator into an embedded Redis, then measures, for each N:

  - load: a worker's first full load of its table from Redis (seconds), and the table's memory;
  - follow: a refresh of the table when nothing changed (one XRANGE), and after 100 new events;
  - page: one whole manager page refresh (callbacks.manager.feed: summary, deadline list, response
    times by category, league table of units, filter options, drawn as the page's panels) for the
    default view (today) and for the heaviest (30 days, response times and league by unit), with
    answers never reused, p50 and p95 over repeated refreshes;
  - api: one league-table answer by unit for 30 days (the heaviest figure alone).

Prints each figure with its unit and its ratio to the smallest size. For scale: NYC 311 receives about
3.2 million requests a year, some 800,000 in 90 days; a Chinese prefecture-level 12345 centre a tenth
of that.
Run: `make bench-manager` (sizes as arguments: `python bench/manager_cost.py 10000 100000 1000000`).
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callbacks import manager as page  # noqa: E402
from dashboard import manager_api  # noqa: E402
from dashboard.manager import FactsTable, Filters, ManagerData  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from _common import grow, history_store, percentile, timed  # noqa: E402  (bench/ is this script's own folder)

SIZES = [10_000, 100_000, 1_000_000]
UNITS = 300
CHUNK = 200_000          # appeals written and applied at a time
DAYS = 89                # inside the 90 days a worker holds


def events(profile, start: int, count: int, end: datetime, rng: random.Random):
    span = DAYS * 86400
    cats = [c.name for c in profile.categories]
    channels = list(profile.channels)
    for i in range(start, start + count):
        created = end - timedelta(seconds=rng.randrange(span))
        rid = f"m{i}"
        base = {"v": "1", "request_id": rid}
        yield base | {"event_id": f"{rid}c", "type": "created", "ts": created.isoformat(),
                      "district": rng.choice(profile.districts).id, "category": rng.choice(cats),
                      "channel": rng.choice(channels), "title": f"appeal {i}"}
        yield base | {"event_id": f"{rid}a", "type": "assigned", "ts": created.isoformat(),
                      "unit": f"unit {rng.randrange(UNITS)}"}
        if rng.random() < 0.9:
            answered = min(end, created + timedelta(minutes=rng.lognormvariate(3, 1)))
            yield base | {"event_id": f"{rid}f", "type": "responded", "ts": answered.isoformat()}
        if rng.random() < 0.8:
            done = min(end, created + timedelta(minutes=rng.lognormvariate(7, 1.2)))
            yield base | {"event_id": f"{rid}r", "type": "resolved", "ts": done.isoformat()}
            if rng.random() < 0.5:
                yield base | {"event_id": f"{rid}s", "type": "rated", "ts": done.isoformat(),
                              "satisfaction": str(rng.choice((2, 4, 5, 5)))}


def rss_mib() -> float:
    """This process's resident memory now (Linux /proc), MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=SIZES, metavar="APPEALS",
                        help="appeals held, in increasing order (default: 10000 100000 1000000)")
    parser.add_argument("--repeat", type=int, default=0, help="page refreshes timed per size (default: by size)")
    sizes = sorted(parser.parse_args().sizes)
    repeat_arg = parser.parse_args().repeat
    profile = load_profile("jiaozuo")
    end = datetime.now(profile.tz).replace(microsecond=0)
    rng = random.Random(1)
    rows = []
    with history_store(profile, end.timestamp()) as store:
        client, keys, agg = store.client, store.keys, store.agg
        loaded, extra = 0, 0
        for size in sizes:
            loaded = grow(store, lambda start, n: events(profile, start, n, end, rng), loaded, size, CHUNK)
            print(f"{size:,} appeals applied", file=sys.stderr, flush=True)

            gc.collect()
            before = rss_mib()
            table = FactsTable(lambda: client, keys, profile.tz)
            t = time.perf_counter()
            frame = table.frame(end.timestamp())
            load_s = time.perf_counter() - t
            frame_mib = frame.memory_usage(deep=True).sum() / 2**20
            rss = rss_mib() - before
            assert len(frame) >= size, (len(frame), size)
            idle = timed(lambda: table.frame(end.timestamp()), 50)

            def hundred_new():
                nonlocal extra
                for e in events(profile, 10_000_000 + extra, 40, end, rng):
                    client.xadd(keys.stream, e)
                extra += 40
                agg.run_until_idle()
                t = time.perf_counter()
                table.frame(end.timestamp())
                return (time.perf_counter() - t) * 1000

            follow = [hundred_new() for _ in range(10)]

            data = ManagerData(lambda: client, keys, profile, reuse_s=0)
            data.table = table
            repeat = repeat_arg or (40 if size <= 100_000 else 10)
            default = timed(lambda: page.feed(data, profile, {}, manager_api.PREFIX), repeat)
            heavy_args = {"period": ["30d"], "times_by": ["unit"], "league_by": ["unit"]}
            heavy = timed(lambda: page.feed(data, profile, heavy_args, manager_api.PREFIX), repeat)
            league = timed(lambda: data.answer("league", Filters(period="30d"), by="unit",
                                               rank_by="on_time_rate"), repeat)
            rows.append((len(frame), load_s, frame_mib, rss, percentile(idle, 0.5), percentile(follow, 0.5),
                         percentile(default, 0.5), percentile(default, 0.95), percentile(heavy, 0.5),
                         percentile(heavy, 0.95), percentile(league, 0.5)))
    base = rows[0]
    print(f"{'appeals held':>13} {'load':>8} {'table MiB':>10} {'RSS MiB':>8} {'idle follow':>12} {'+100 events':>12} "
          f"{'page p50':>10} {'p95':>9} {'30d/unit p50':>13} {'p95':>9} {'ratio':>6} {'league p50':>11}")
    for held, load_s, mib, rss, idle, follow, d50, d95, h50, h95, lg in rows:
        print(f"{held:>13,} {load_s:>7.1f}s {mib:>10.0f} {rss:>8.0f} {idle:>10.2f}ms {follow:>10.1f}ms "
              f"{d50:>8.0f}ms {d95:>7.0f}ms {h50:>11.0f}ms {h95:>7.0f}ms {h95 / base[9]:>6.1f} {lg:>9.0f}ms")
    print("ratio: the 30-day page refresh's p95 divided by its p95 at the smallest size "
          "(the cost grows with the appeals held, not with the whole history)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
