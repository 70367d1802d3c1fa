"""How fast ``civicwall import`` reads, checks and writes a history, beside pandas merely parsing the file.

The real five-column NYC file (17,418 rows, no header) is repeated with fresh ids into exports of 100k and
500k rows. For each size: rows/s of reading and converting through examples/mappings/nyc311-5col-noheader.toml
(every time parsed, every district matched, every event checked by the contract), the same file's
``pandas.read_csv`` (parsing only, no time parsing: a floor, not a rival), the ratio between them, the
resident memory the converted history adds, and events/s of writing it to an embedded Redis.

    .venv/bin/python bench/import_speed.py [--sizes 100000,500000]
"""

from __future__ import annotations

import argparse
import csv
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCE = ROOT.parent / "shared" / "data" / "nyc311" / "gozzi98_nyc311_2020_5col_noheader.csv"
MAPPING = ROOT / "examples" / "mappings" / "nyc311-5col-noheader.toml"


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def make_export(rows: int, folder: Path) -> Path:
    base = list(csv.reader(SOURCE.open(newline="", encoding="utf-8")))
    path = folder / f"export-{rows}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        for i in range(rows):
            row = list(base[i % len(base)])
            row[0] = f"{row[0]}-{i // len(base)}"
            out.writerow(row)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,500000")
    args = parser.parse_args()
    import pandas as pd

    from dashboard.feeds.common import xadd_all
    from dashboard.imports.command import read_files
    from dashboard.imports.mapping import load_mapping
    from dashboard.keys import Keys
    from dashboard.profiles import load_profile
    from dashboard.store import EmbeddedRedis, connect

    if not SOURCE.exists():
        print(f"needs {SOURCE}", file=sys.stderr)
        return 2
    profile, mapping = load_profile("nyc"), load_mapping(MAPPING)
    print(f"{'rows':>8} {'read+check':>11} {'rows/s':>8} {'pandas':>8} {'ratio':>6} {'+RSS MB':>8} "
          f"{'events':>8} {'write ev/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = make_export(size, Path(tmp))
            t = time.perf_counter()
            pd.read_csv(path, header=None, dtype=str)
            pandas_s = time.perf_counter() - t
            gc.collect()
            before = rss_mb()
            t = time.perf_counter()
            done = read_files(mapping, profile, [path])
            read_s = time.perf_counter() - t
            grown = rss_mb() - before
            assert done.report.rows == size
            server = EmbeddedRedis(Path(tmp) / f"redis-{size}", persist=False).start()
            try:
                client = connect(server.url)
                t = time.perf_counter()
                for start in range(0, len(done.events), 10_000):
                    xadd_all(client, Keys(profile.city).stream, done.events[start:start + 10_000])
                write_s = time.perf_counter() - t
            finally:
                server.stop()
            print(f"{size:>8} {read_s:>10.1f}s {size / read_s:>8,.0f} {pandas_s:>7.2f}s {read_s / pandas_s:>5.1f}x "
                  f"{grown:>8.0f} {len(done.events):>8} {len(done.events) / write_s:>10,.0f}")
            del done
            gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
