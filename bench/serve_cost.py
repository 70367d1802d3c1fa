"""Serving cost against history size: does one wall refresh stay flat as the history grows?

Loads N synthetic appeals (created, assigned, most resolved) through the real aggregator into an
embedded Redis, then measures, for each N:
  - read:  what a web worker does per refresh (GET the snapshot + parse it),
  - build: what the aggregator does per snapshot (compute every figure from the aggregates),
  - ingest: events applied per second while loading.
Prints each figure with its unit and the ratio to the smallest history. Run: `make bench`.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import clock, snapshot  # noqa: E402
from dashboard.aggregator import Aggregator  # noqa: E402
from dashboard.keys import Keys  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from dashboard.settings import Settings  # noqa: E402
from dashboard.store import EmbeddedRedis, connect  # noqa: E402

SIZES = [int(x) for x in sys.argv[1:]] or [1_000, 10_000, 100_000]
REPEAT = 300


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


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def timed(fn, repeat=REPEAT):
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    profile = load_profile("jiaozuo")
    end = datetime.now(profile.tz).replace(microsecond=0)
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persist=False).start()
        try:
            settings = Settings(redis_url=server.url, batch=2000)
            client = connect(server.url)
            keys = Keys(profile.city)
            agg = Aggregator(client, profile, settings, consumer="bench")
            agg.ensure_group()
            clock.set_replay(client, keys, end.timestamp(), speed=0)
            loaded, rows = 0, []
            for size in SIZES:
                batch = list(events(profile, loaded, size - loaded, end, rng))
                pipe = client.pipeline(transaction=False)
                for n, e in enumerate(batch, 1):
                    pipe.xadd(keys.stream, e)
                    if n % 5000 == 0:
                        pipe.execute()
                pipe.execute()
                t = time.perf_counter()
                agg.run_until_idle()
                ingest = len(batch) / (time.perf_counter() - t)
                loaded = size
                read = timed(lambda: json.loads(snapshot.read_raw(client, keys)))
                build = timed(lambda: snapshot.build(client, keys, profile), repeat=100)
                rows.append((size, percentile(read, 0.5), percentile(read, 0.95),
                             percentile(build, 0.5), percentile(build, 0.95), ingest,
                             len(snapshot.read_raw(client, keys))))
        finally:
            server.stop()
    base = rows[0]
    print(f"{'appeals':>9} {'read p50':>10} {'read p95':>10} {'ratio':>6} {'build p50':>10} {'build p95':>10} "
          f"{'ratio':>6} {'ingest':>12} {'snapshot':>9}")
    for size, r50, r95, b50, b95, ingest, nbytes in rows:
        print(f"{size:>9,} {r50:>8.3f}ms {r95:>8.3f}ms {r95 / base[2]:>6.2f} {b50:>8.2f}ms {b95:>8.2f}ms "
              f"{b95 / base[4]:>6.2f} {ingest:>8,.0f} ev/s {nbytes / 1024:>7.1f}KB")
    print("ratio: p95 at this history size divided by p95 at the smallest one (1.00 = flat)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
