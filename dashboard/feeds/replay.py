"""``civicwall replay FILE``: play an NYC 311 export, or any export through ``--mapping``, into the event stream.

The file is read whole (see ``dashboard.feeds.nyc311``, or ``dashboard.imports`` with ``--mapping``),
its events sorted by event time and written
with XADD to the city's stream (no MAXLEN: the aggregator, not the producer, decides what history is
kept). ``--speed N`` keeps the file's rhythm N times faster than it happened; ``--speed max`` (the
default) sends pipelined chunks as fast as Redis takes them.

The wall's clock follows the replay unless ``--no-clock`` is given: at N× it is set to (data time of
the event just sent, real now, speed N) about once a second, so the wall's "now" runs on between
events; at max speed it is pinned (speed 0) to the last event time sent after every chunk. At the end,
or when interrupted, it is pinned to the last event time sent. ``civicwall clock --live`` returns
the wall to real time.

Profile: the replayed data is New York's, while civicwall's default profile is jiaozuo. When neither
``--profile`` nor CIVICWALL_PROFILE chose one, replay uses the ``nyc`` profile and says so on stderr.
An explicitly chosen profile is respected, with a warning if its time zone is not New York's. With
``--mapping`` the file can be anyone's, so the chosen (or default) profile is used as it is.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from dataclasses import fields
from datetime import datetime

import structlog
from tqdm import tqdm

from .. import clock
from ..keys import Keys
from ..profiles import load_profile
from ..settings import Settings
from ..store import connect
from .common import CHUNK, stop_on_signals, xadd_all
from .nyc311 import NEW_YORK, FeedResult, load_events

log = structlog.get_logger("civicwall.replay")
CLOCK_EVERY_S = 1.0          # how often the clock is re-anchored at N× speed
MAX_WAIT_S = 0.5             # longest single sleep, so Ctrl-C and SIGTERM are seen promptly


def _speed(text: str) -> float:
    """``max`` (0.0 here) or a positive multiple of real time."""
    if text.strip().lower() == "max":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--speed takes a number or 'max', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--speed must be positive, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"--limit takes a whole number of events, got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="NYC 311 export: Socrata CSV or JSON, or a portal CSV with Title Case headers; "
                                "with --mapping any export the mapping reads")
    p.add_argument("--mapping", metavar="TOML",
                   help="read FILE through this mapping (docs/import.md) in the chosen profile, instead of as NYC 311")
    p.add_argument("--speed", type=_speed, default=0.0, metavar="N|max",
                   help="N: replay N× faster than real time; max: as fast as possible (default)")
    p.add_argument("--format", choices=("csv", "json", "auto"), default="auto",
                   help="file format (default auto: by suffix, else by content)")
    p.add_argument("--columns", help="comma-separated column names for a CSV without a header row")
    p.add_argument("--limit", type=_count, help="send only the first N events (in event-time order)")
    p.add_argument("--no-clock", action="store_true", help="leave the wall's clock alone")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")


def profile_name(args, settings: Settings) -> str:
    """The profile chosen by the user, else ``nyc`` (see the module docstring)."""
    default = next(f.default for f in fields(Settings) if f.name == "profile")
    chosen = getattr(args, "profile", None) or os.environ.get("CIVICWALL_PROFILE") or settings.profile != default
    if chosen:
        return settings.profile
    print("civicwall replay: no --profile given; using the nyc profile for NYC 311 data", file=sys.stderr)
    return "nyc"


def load_mapped(args, settings: Settings):
    """(profile, feed) for ``--mapping``: the file read through the mapping, in the chosen profile."""
    from ..imports.command import read_files
    from ..imports.mapping import load_mapping

    profile = load_profile(settings.profile)
    done = read_files(load_mapping(args.mapping), profile, [args.file])
    skipped = done.report.rejected + done.report.dropped + done.report.contract_rejected
    return profile, FeedResult(events=done.events, times=done.times, records=done.report.rows, skipped=skipped)


def main(args, settings: Settings) -> int:
    if getattr(args, "mapping", None):
        if getattr(args, "columns", None) or getattr(args, "format", "auto") != "auto":
            print("civicwall replay: --columns and --format are for NYC files; with --mapping, the mapping's "
                  "[file] table says how to read the file", file=sys.stderr)
            return 2
        profile, feed = load_mapped(args, settings)
    else:
        profile = load_profile(profile_name(args, settings))
        if profile.timezone != NEW_YORK.key:
            print(f"civicwall replay: warning: profile {profile.city!r} is in {profile.timezone}, not New York; "
                  "boroughs will count as unknown districts", file=sys.stderr)
        columns = [c for c in args.columns.split(",") if c.strip()] if getattr(args, "columns", None) else None
        feed = load_events(args.file, getattr(args, "format", "auto"), columns)
    limit = getattr(args, "limit", None)
    if limit is not None:
        feed.events, feed.times = feed.events[:limit], feed.times[:limit]
    keys = Keys(profile.city, settings.stream)
    client = connect(settings.redis_url, socket_timeout=settings.socket_timeout_s)
    show = bool(getattr(args, "progress", False)) or sys.stderr.isatty()
    player = Player(client, keys, feed, speed=args.speed, set_clock=not getattr(args, "no_clock", False))
    with stop_on_signals() as stop, tqdm(total=len(feed.events), unit="ev", file=sys.stderr,
                                          disable=not show, desc="replay") as bar:
        sent = player.run(stop, bar.update)
    interrupted = sent < len(feed.events)
    print(summary(feed, sent, keys.stream, player.last_ts, interrupted, profile.tz))
    log.info("replay.done", file=str(args.file), records=feed.records, events=sent,
             skipped=dict(feed.skipped), interrupted=interrupted)
    return 130 if interrupted else 0


def summary(feed: FeedResult, sent: int, stream: str, last_ts: float | None, interrupted: bool, tz) -> str:
    pinned = "" if last_ts is None else f"; last event at {datetime.fromtimestamp(last_ts, tz).isoformat()}"
    sent_text = f"interrupted after {sent} of {len(feed.events)} events" if interrupted else f"{sent} events sent"
    return f"replay: {feed.records} records read, {sent_text} to {stream}; {feed.skipped_text()}{pinned}"


class Player:
    """Writes a feed's events to the stream at a given pace and keeps the replay clock in step."""

    def __init__(self, client, keys: Keys, feed: FeedResult, *, speed: float, set_clock: bool = True):
        self.client = client
        self.keys = keys
        self.feed = feed
        self.speed = speed
        self.set_clock = set_clock
        self.sent = 0
        self.last_ts: float | None = None

    def run(self, stop: threading.Event, progress=lambda n: None) -> int:
        """Send until done or ``stop`` is set; then pin the clock to the last event time sent."""
        if self.speed > 0:
            self._paced(stop, progress)
        else:
            self._flat_out(stop, progress)
        if self.set_clock and self.last_ts is not None:
            clock.set_replay(self.client, self.keys, self.last_ts, 0.0)
        return self.sent

    def _send(self, start: int, stop_at: int) -> None:
        xadd_all(self.client, self.keys.stream, self.feed.events[start:stop_at])
        self.sent = stop_at
        self.last_ts = float(self.feed.times[stop_at - 1])

    def _flat_out(self, stop: threading.Event, progress) -> None:
        total = len(self.feed.events)
        for start in range(0, total, CHUNK):
            if stop.is_set():
                return
            end = min(start + CHUNK, total)
            self._send(start, end)
            if self.set_clock:
                clock.set_replay(self.client, self.keys, self.last_ts, 0.0)
            progress(end - start)

    def _paced(self, stop: threading.Event, progress) -> None:
        times, total = self.feed.times, len(self.feed.events)
        if not total:
            return
        first, started = times[0], time.monotonic()
        anchored = -math.inf
        i = 0
        while i < total and not stop.is_set():
            due = started + (times[i] - first) / self.speed
            wait = due - time.monotonic()
            if wait > 0:
                stop.wait(min(wait, MAX_WAIT_S))
                continue
            elapsed_data = first + (time.monotonic() - started) * self.speed
            end = i
            while end < total and end - i < CHUNK and times[end] <= elapsed_data:
                end += 1
            end = max(end, i + 1)
            self._send(i, end)
            progress(end - i)
            i = end
            if self.set_clock and time.monotonic() - anchored >= CLOCK_EVERY_S:
                anchored = time.monotonic()
                clock.set_replay(self.client, self.keys, self.last_ts, self.speed)

