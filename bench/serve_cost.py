"""Serving cost against history size: does one wall refresh stay flat as the history grows?

Loads N synthetic appeals (created, assigned, most resolved, over 30 days) through the real aggregator
into an embedded Redis, then measures, for each N:
  - refresh: the whole server side of one screen's refresh (WallFeed.answer over a real Redis
    source: read and parse the snapshot, find or draw the panels, encode the answer), for a screen
    that holds the previous version, so panels are drawn again each time; "cold" also forgets the
    ticker rows, case cards and map colours already encoded (the worst case, as after a restart);
  - build: what the aggregator does per snapshot (compute every figure from the aggregates);
  - textbook: what a typical Dash live dashboard does per refresh instead: read the latest day of
    the stream (a thirtieth of this 30-day history) and recompute the headline figures with pandas;
  - memory: Redis memory per million appeals, with and without the stream itself.
Prints each figure with its unit, the ratio to the smallest history, and textbook / civicwall.
Run: `make bench-serve` (sizes as arguments: `python bench/serve_cost.py 10000 100000 1000000 10000000`;
ten million appeals take about 40 minutes and 6 GiB of Redis). The stream is trimmed to
its latest thirtieth as the appeals are applied, so Redis holds the state, not 28 million entries.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

import callbacks.wall as wall_module  # noqa: E402
from callbacks.wall import WallFeed  # noqa: E402
from dashboard import figures, geo, snapshot  # noqa: E402
from dashboard.web import SnapshotSource  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from _common import history_store, percentile, timed, xadd_all  # noqa: E402  (bench/ is this script's own folder)

SIZES = [10_000, 100_000, 1_000_000]
REPEAT = 200
CHUNK = 250_000          # appeals written and applied at a time


def events(profile, start: int, count: int, end: datetime, rng: random.Random):
    span = 30 * 86400
    cats = [c.name for c in profile.categories]
    for i in range(start, start + count):
        created = end - timedelta(seconds=rng.randrange(span))
        rid = f"b{i}"
        base = {"v": "1", "request_id": rid}
        yield base | {"event_id": f"{rid}c", "type": "created", "ts": created.isoformat(),
                      "district": rng.choice(profile.districts).id, "category": rng.choice(cats),
                      "channel": rng.choice(list(profile.channels))}
        yield base | {"event_id": f"{rid}a", "type": "assigned", "ts": created.isoformat(), "unit": f"unit {i % 40}"}
        if rng.random() < 0.8:
            done = min(end, created + timedelta(minutes=rng.lognormvariate(6, 1)))
            yield base | {"event_id": f"{rid}r", "type": "resolved", "ts": done.isoformat()}


def textbook_refresh(client, keys, count: int) -> dict:
    """The usual live Dash dashboard: pull the latest day of raw events and recompute with pandas."""
    rows = []
    for _, fields in client.xrevrange(keys.stream, max="+", min="-", count=count):
        rows.append({k.decode(): v.decode() for k, v in fields.items()})
    df = pd.DataFrame(rows)
    if df.empty:
        return {}
    created = df[df["type"] == "created"]
    resolved = df[df["type"] == "resolved"]
    return {"received": len(created), "resolved": int(resolved["request_id"].isin(created["request_id"]).sum()),
            "by_district": created.groupby("district").size().to_dict(),
            "by_category": created.groupby("category").size().sort_values(ascending=False).to_dict()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=SIZES, metavar="APPEALS",
                        help="history sizes, in increasing order (default: 10000 100000 1000000)")
    sizes = sorted(parser.parse_args().sizes)
    profile = load_profile("jiaozuo")
    end = datetime.now(profile.tz).replace(microsecond=0)
    rng = random.Random(1)
    geometry = geo.map_geometry(geo.boundaries(profile))
    with history_store(profile, end.timestamp()) as store:
        settings, client, keys, agg = store.settings, store.client, store.keys, store.agg
        source = SnapshotSource(settings, keys)
        source.REUSE_S = 0                      # every refresh reads Redis, as the first one does
        # A plain function has no shared render cache: every version is drawn here (worst case).
        feed = WallFeed(lambda: source(), profile, settings, geometry)
        loaded, written, rows = 0, 0, []
        for size in sizes:
            applying = 0.0
            while loaded < size:
                # In chunks, so that ten million appeals never sit in this process's memory.
                n = min(CHUNK, size - loaded)
                written += xadd_all(client, keys.stream, events(profile, loaded, n, end, rng))
                t = time.perf_counter()
                agg.run_until_idle()
                applying += time.perf_counter() - t
                loaded += n
                # Every entry is applied and acknowledged: the stream keeps only the latest
                # thirtieth, as much as the textbook approach reads, so memory holds the state.
                client.xtrim(keys.stream, maxlen=written // 30, approximate=False)
            ingest = (written - sum(r[-1] for r in rows)) / applying
            # In a live stream the latest day of entries is the day's events; this history spans
            # 30 days, so the textbook reads the latest thirtieth of the stream.
            day_entries = written // 30
            have = feed.answer("__all__", "")[1].split('"prints":"')[1].split('"')[0]

            def refresh():
                feed._rendered.clear()          # draw the panels: the cost of a new version
                feed._answers.clear()
                code, _ = feed.answer("__all__", have)
                assert code == 200

            served = timed(refresh, REPEAT)

            def cold_refresh():
                for cache in (wall_module._ticker_row_json, wall_module._case_card_json, figures._fill,
                              figures.ink_for):
                    cache.cache_clear()
                refresh()

            cold = timed(cold_refresh, REPEAT)
            build = timed(lambda: snapshot.build(client, keys, profile), repeat=100)
            textbook = timed(lambda: textbook_refresh(client, keys, day_entries), repeat=5)
            memory = client.info("memory")["used_memory"]
            stream_bytes = client.memory_usage(keys.stream, samples=1000) or 0
            rows.append((size, percentile(served, 0.5), percentile(served, 0.95), percentile(cold, 0.95),
                         percentile(build, 0.5),
                         percentile(build, 0.95), percentile(textbook, 0.5), day_entries, ingest,
                         memory, stream_bytes, written - sum(r[-1] for r in rows)))
    base = rows[0]
    print(f"{'appeals':>10} {'refresh p50':>12} {'p95':>9} {'ratio':>6} {'cold p95':>9} {'build p50':>10} {'p95':>9} "
          f"{'textbook p50':>13} {'(entries)':>10} {'textbook/refresh':>17} {'ingest':>12} "
          f"{'Redis MiB/M appeals':>20} {'without stream':>15}")
    for size, s50, s95, c95, b50, b95, tb50, entries, ingest, memory, stream, _ in rows:
        per_m = 1_000_000 / size / 2**20
        print(f"{size:>10,} {s50:>10.2f}ms {s95:>7.2f}ms {s95 / base[2]:>6.2f} {c95:>7.2f}ms {b50:>8.2f}ms {b95:>7.2f}ms "
              f"{tb50:>11.0f}ms {entries:>10,} {tb50 / s95:>17.0f} {ingest:>8,.0f} ev/s "
              f"{memory * per_m:>20,.0f} {(memory - stream) * per_m:>15,.0f}")
    print("ratio: refresh p95 at this history size divided by p95 at the smallest one (1.00 = flat)")
    print("textbook/refresh: the textbook refresh's median divided by civicwall's p95")
    return 0


if __name__ == "__main__":
    sys.exit(main())
