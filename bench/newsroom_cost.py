"""The newsroom view's cost against the number of appeals a web worker holds.

The newsroom ranks appeals from the manager view's in-memory table (dashboard/newsroom.py) and reads
each appeal's title and text opening from Redis once, keeping them in memory. This loads N synthetic
appeals spread over 89 days (as bench/manager_cost.py, with titles drawn from 2,000 made-up questions
and a 150-character Chinese text each) through the real aggregator into an embedded Redis, then measures
for each N:

  - first: the first newsroom refresh of a fresh worker for today (it reads the texts it needs);
  - texts MiB: the worker's memory growth over that first refresh;
  - first 30d: the first 30-day refresh after it (it reads the older texts the 30-day usual level needs);
  - today, 30 days: one whole refresh (callbacks.newsroom.feed: ranking, cards, options) after that,
    p50 and p95;
  - search: a 30-day refresh with a two-word search.

Prints each figure with its unit and the 30-day p95's ratio to the smallest size.
Run: `make bench-newsroom` (sizes as arguments: `python bench/newsroom_cost.py 10000 100000`).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callbacks import newsroom as page  # noqa: E402
from dashboard.manager import ManagerData  # noqa: E402
from dashboard.newsroom import NewsroomData  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from dashboard.taken import TakenMarks  # noqa: E402
from _common import grow, history_store, percentile, timed  # noqa: E402
from manager_cost import CHUNK, events as manager_events, rss_mib  # noqa: E402

SIZES = [10_000, 100_000, 300_000]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
FILLER = "小区门口的路灯坏了好几天，晚上出行很不方便，希望有关部门尽快安排人员维修。" * 5


def question(n: int) -> str:
    word = ""
    while True:
        n, r = divmod(n, 26)
        word += LETTERS[r]
        if not n:
            return f"question {word}"


def events(profile, start: int, count: int, end: datetime, rng: random.Random):
    titles = [question(i) for i in range(2000)]
    for e in manager_events(profile, start, count, end, rng):
        if e["type"] == "created":
            e = e | {"title": rng.choice(titles), "text": FILLER[:150]}
        yield e


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=SIZES, metavar="APPEALS",
                        help="appeals held, in increasing order (default: 10000 100000 300000)")
    parser.add_argument("--repeat", type=int, default=10, help="refreshes timed per figure (default 10)")
    args = parser.parse_args()
    profile = load_profile("jiaozuo")
    end = datetime.now(profile.tz).replace(microsecond=0)
    rng = random.Random(1)
    rows = []
    with history_store(profile, end.timestamp()) as store:
        client, keys = store.client, store.keys
        loaded = 0
        for size in sorted(args.sizes):
            loaded = grow(store, lambda start, n: events(profile, start, n, end, rng), loaded, size, CHUNK)
            print(f"{size:,} appeals applied", file=sys.stderr, flush=True)

            managers = ManagerData(lambda: client, keys, profile, reuse_s=0)
            managers.current()                                   # the table loaded, as the manager page would
            data = NewsroomData(managers, TakenMarks(lambda: client, keys))
            gc.collect()
            before = rss_mib()
            t = time.perf_counter()
            page.feed(data, profile, {}, "bench")
            first = time.perf_counter() - t
            texts_mib = rss_mib() - before
            today = timed(lambda: page.feed(data, profile, {}, "bench"), args.repeat)
            t = time.perf_counter()
            page.feed(data, profile, {"period": ["30d"]}, "bench")           # reads the older texts it needs
            first_month = time.perf_counter() - t
            month = timed(lambda: page.feed(data, profile, {"period": ["30d"]}, "bench"), args.repeat)
            search = timed(lambda: page.feed(data, profile, {"period": ["30d"], "q": ["question 路灯"]}, "bench"),
                           args.repeat)
            rows.append((len(managers.table.frame(end.timestamp())), len(data.texts), first, texts_mib, first_month,
                         percentile(today, 0.5), percentile(today, 0.95), percentile(month, 0.5),
                         percentile(month, 0.95), percentile(search, 0.5)))
    base = rows[0]
    print(f"{'appeals held':>13} {'texts held':>11} {'first':>8} {'texts MiB':>10} {'first 30d':>10} "
          f"{'today p50':>10} {'p95':>8} {'30d p50':>9} {'p95':>8} {'ratio':>6} {'search p50':>11}")
    for held, texts, first, mib, first_month, t50, t95, m50, m95, s50 in rows:
        print(f"{held:>13,} {texts:>11,} {first:>7.2f}s {mib:>10.0f} {first_month:>9.2f}s {t50:>8.0f}ms {t95:>6.0f}ms "
              f"{m50:>7.0f}ms {m95:>6.0f}ms {m95 / base[8]:>6.1f} {s50:>9.0f}ms")
    print("ratio: the 30-day refresh's p95 divided by its p95 at the smallest size")
    return 0


if __name__ == "__main__":
    sys.exit(main())
