"""``civicwall import MAPPING FILE...``: load a history into the event stream, as fast as Redis takes it.

Every file is read through the mapping (docs/import.md), its rows turned into events and checked against
the profile's contract; the events of all files are sorted by time and written with pipelined XADDs. A
progress bar shows the reading and the writing; the summary names every rejected row and dropped part by
reason, with example lines. ``--dry-run`` reads and reports without writing; ``--report FILE`` writes the
same summary as JSON. The wall's clock is left alone: the summary says how to look at the history as of
its last event (``civicwall clock --at``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import structlog
from tqdm import tqdm

from ..errors import ConfigError
from ..keys import Keys
from ..profiles import Profile, load_profile
from ..settings import Settings
from ..store import connect
from ..feeds.common import CHUNK, stop_on_signals, xadd_all
from .convert import Converted, Converter, Report
from .mapping import Mapping, load_mapping
from .tables import open_table

log = structlog.get_logger("civicwall.import")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("mapping", help="the mapping file (TOML) that says which column holds what (docs/import.md), "
                                   "or open311 for GeoReport v2 requests.json files")
    p.add_argument("files", nargs="+", metavar="FILE", help="CSV, Excel or JSON exports read through the mapping")
    p.add_argument("--dry-run", action="store_true", help="read, check and report; write nothing")
    p.add_argument("--report", metavar="FILE", help="also write the summary as JSON to FILE")
    p.add_argument("--progress", action="store_true", help="show progress bars even when stderr is not a terminal")


def read_files(mapping: Mapping, profile: Profile, paths: list[str | Path], show: bool = False) -> Converted:
    """Every file's events, sorted by time together; one report for all. Ids repeated across files
    count as duplicates, as within one file."""
    report, events, times, seen = Report(), [], [], set()
    for path in paths:
        report.file = Path(path).name if len(paths) > 1 else ""
        table = open_table(path, mapping.file)
        if not table.columns:                  # an empty file, or a JSON array with no records
            report.notes["empty_file"] += 1
            report.example("empty_file", 0, "" if report.file else Path(path).name)
            continue
        where = ", ".join(w for w in (Path(path).name if len(paths) > 1 else "", table.where) if w)
        converter = Converter(mapping, profile, table.columns, where=where)
        rows_before = report.rows
        converter.seen = seen
        with tqdm(unit=" rows", file=sys.stderr, disable=not show, desc=f"read {Path(path).name}") as bar:
            done = converter.convert(table.rows, report, bar.update)
        if report.rows == rows_before:
            report.notes["empty_file"] += 1
            report.example("empty_file", 0, table.where or ("" if report.file else Path(path).name))
        events.extend(done.events)
        times.extend(done.times)
    if len(paths) > 1:
        order = sorted(range(len(times)), key=times.__getitem__)
        events, times = [events[i] for i in order], [times[i] for i in order]
    return Converted(events, times, report)


def check_report_path(report: Path, inputs: list[Path]) -> None:
    """Before anything is read or written: the report can be written there, and is none of the inputs."""
    target = report.resolve()
    if target.is_dir():
        raise ConfigError(f"--report {report}: that is a folder; name a file, e.g. {report / 'import-report.json'}")
    if any(target == p.resolve() for p in inputs if p.exists()):
        raise ConfigError(f"--report {report}: that is one of the files being imported; name another")
    if not target.parent.is_dir():
        raise ConfigError(f"--report {report}: the folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise ConfigError(f"--report {report}: cannot write there")


def main(args, settings: Settings) -> int:
    profile = load_profile(settings.profile)
    if args.report:
        check_report_path(Path(args.report), [Path(args.mapping), *map(Path, args.files)])
    open311 = args.mapping == "open311" and not Path(args.mapping).exists()
    if open311:
        from .open311 import open311_mapping
        mapping = open311_mapping(profile)
    else:
        mapping = load_mapping(args.mapping)
    if mapping.tz.key != profile.timezone and not open311:
        print(f"civicwall import: warning: the mapping reads times in {mapping.tz.key}, the profile "
              f"{profile.city!r} counts days in {profile.timezone}; is --profile the right city?", file=sys.stderr)
    show = bool(args.progress) or sys.stderr.isatty()
    started = time.monotonic()
    done = read_files(mapping, profile, args.files, show)
    read_s = time.monotonic() - started
    keys = Keys(profile.city, settings.stream)
    sent = 0
    interrupted = False
    if not args.dry_run and done.events:
        client = connect(settings.redis_url, socket_timeout=settings.socket_timeout_s)
        with stop_on_signals() as stop, tqdm(total=len(done.events), unit=" ev", file=sys.stderr,
                                              disable=not show, desc="write") as bar:
            for start in range(0, len(done.events), CHUNK * 10):
                if stop.is_set():
                    interrupted = True
                    break
                chunk = done.events[start:start + CHUNK * 10]
                sent += xadd_all(client, keys.stream, chunk)
                bar.update(len(chunk))
    total_s = time.monotonic() - started
    print(summary(done, sent, keys.stream, profile, args.dry_run, read_s, total_s, interrupted))
    if args.report:
        body = done.report.as_dict() | {"events_written": sent, "stream": keys.stream, "dry_run": bool(args.dry_run)}
        try:
            Path(args.report).write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"civicwall import: the events were written, but not the report: {exc}", file=sys.stderr)
            return 1
    log.info("import.done", files=[str(f) for f in args.files], events=sent, rows=done.report.rows,
             rejected=sum(done.report.rejected.values()), seconds=round(total_s, 2))
    return 130 if interrupted else 0


def summary(done: Converted, sent: int, stream: str, profile: Profile, dry_run: bool, read_s: float,
            total_s: float, interrupted: bool) -> str:
    lines = ["import: " + done.report.lines()[0]] + ["  " + line for line in done.report.lines()[1:]]
    if dry_run:
        lines.append(f"dry run: nothing written (read and checked in {read_s:.1f} s)")
    else:
        rate = sent / total_s if total_s > 0 else 0
        verb = f"interrupted after {sent} of {len(done.events)}" if interrupted else f"{sent}"
        lines.append(f"{verb} events written to {stream} in {total_s:.1f} s ({rate:,.0f} events/s)")
    if done.times:
        first = datetime.fromtimestamp(done.times[0], profile.tz)
        last = datetime.fromtimestamp(done.times[-1], profile.tz)
        lines.append(f"the history runs from {first.isoformat()} to {last.isoformat()}; to see the wall as of "
                     f"its end: civicwall clock --at {last.replace(tzinfo=None).isoformat(timespec='minutes')}")
    return "\n".join(lines)
