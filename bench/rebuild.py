"""Rebuild: the state for N events recomputed from the stream, with its time and its memory.

Writes N synthetic events (the `history` shape of bench/ingest.py: appeals over 30 days) into an
embedded Redis, then times one aggregator process rebuilding all the state from the stream, as after
losing it (`civicwall aggregate --until-idle` does the same). Prints the rate, the total time, Redis
memory (with and without the stream) and the aggregator's peak memory, per million appeals.
Run: `make bench-rebuild` (10 million events, about 10 minutes) or `python bench/rebuild.py --events N`.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest import synthetic  # noqa: E402  (bench/ is this script's own folder)

from dashboard.aggregator import Aggregator  # noqa: E402
from dashboard.keys import Keys  # noqa: E402
from dashboard.profiles import load_profile  # noqa: E402
from dashboard.settings import Settings  # noqa: E402
from dashboard.store import EmbeddedRedis, connect  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    profile = load_profile("jiaozuo")
    keys = Keys(profile.city)
    end = datetime.now(profile.tz).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persist=False).start()
        try:
            client = connect(server.url)
            t = time.perf_counter()
            pipe = client.pipeline(transaction=False)
            written = appeals = 0
            for e in synthetic(profile, args.events, end, random.Random(3)):
                pipe.xadd(keys.stream, e)
                written += 1
                appeals += e["type"] == "created"
                if written % 5000 == 0:
                    pipe.execute()
            pipe.execute()
            t_write = time.perf_counter() - t
            before = client.info("memory")["used_memory"]
            agg = Aggregator(client, profile, Settings(redis_url=server.url, batch=args.batch), consumer="rebuild")
            t = time.perf_counter()
            agg.run_until_idle()
            t_rebuild = time.perf_counter() - t
            meta = client.hgetall(keys.meta)
            applied = int(meta.get(b"applied", 0)) + int(meta.get(b"unchanged", 0))
            after = client.info("memory")["used_memory"]
        finally:
            server.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024     # kilobytes on Linux
    per_m = 1_000_000 / appeals / 2**20
    print(f"events: {written:,} for {appeals:,} appeals, written in {t_write:.0f} s")
    print(f"rebuild from the stream: {t_rebuild:.0f} s ({t_rebuild / 60:.1f} min), {applied / t_rebuild:,.0f} events/s "
          f"(applied {applied:,}); target under 300 s")
    print(f"Redis: {after / 2**20:,.0f} MiB in all, {(after - before) / 2**20:,.0f} MiB of state "
          f"= {after * per_m:,.0f} MiB per million appeals, {(after - before) * per_m:,.0f} MiB without the stream")
    print(f"aggregator process peak memory: {peak_rss / 2**20:,.0f} MiB "
          f"(this script also held the event generator)")
    return 0 if applied == written else 1


if __name__ == "__main__":
    sys.exit(main())
