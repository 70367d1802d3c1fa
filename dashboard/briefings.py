"""``civicwall briefing``: make the daily briefing (简报) for a day, store it, or make it every day.

``make`` reads the manager view's table as of the day (dashboard/briefing.py), draws the page and
prints the PDF (dashboard/briefing_render.py). Both files are written to a folder and stored in
Redis for KEEP_DAYS days, so every web worker can serve them (dashboard/briefing_web.py).

``Scheduler`` makes the day's briefing once the wall's clock (the replay's during a replay) has
passed the chosen time on a day whose stored briefing, if any, was taken before that time. A SET NX
lock per day means two schedulers never make the same day twice; Redis errors are logged and
retried, nothing a step raises ends the loop.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, time as clock_time
from pathlib import Path
from typing import Any

import orjson
import redis
import structlog

from . import briefing, clock
from .errors import CivicwallError, StoreUnavailable
from .i18n import strings
from .keys import Keys
from .manager import read_states
from .manager_table import FactsTable
from .profiles import Profile, load_profile
from .settings import Settings, parse_hhmm
from .store import connect, translated

log = structlog.get_logger("civicwall.briefing")
KEEP_DAYS = 90
KEEP_S = KEEP_DAYS * 86400
LOCK_S = 600            # a scheduler that died while making a briefing holds its day this long
DEFAULT_AT = "20:00"
POLL_S = 30.0
KINDS = ("html", "pdf")


@dataclass(frozen=True)
class Made:
    day: str
    html: bytes
    pdf: bytes
    content: dict[str, Any]


def make(client, keys: Keys, profile: Profile, day: date, *, table: FactsTable | None = None,
         clock_now: float | None = None) -> Made:
    """The briefing of ``day`` as far as the wall's clock (or ``clock_now``) has gone."""
    now = clock.reading(client, keys)[0] if clock_now is None else clock_now
    d = briefing.day_of(day, now, profile.tz)
    table = table or FactsTable(lambda: client, keys, profile.tz)
    frame = table.frame(d.until)
    s = strings(profile.language, profile.labels)
    content = briefing.content(frame, d, profile, s, lambda ids: read_states(client, keys, ids))
    # Imported here: matplotlib is needed to make a briefing, not to list or serve the stored ones
    # (every web worker imports this module).
    from . import briefing_render as render

    page = render.html(content, profile, made_at=now)
    return Made(day.isoformat(), page.encode("utf-8"), render.pdf(page), content)


def file_name(city: str, day: str, kind: str) -> str:
    return f"briefing-{city}-{day}.{kind}"


def write_files(made: Made, city: str, folder: Path) -> list[Path]:
    """The two files in ``folder``, readable by this account only (they are for the city's leaders,
    not for everyone on the machine)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in KINDS:
        path = folder / file_name(city, made.day, kind)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(getattr(made, kind))
        tmp.chmod(0o600)
        os.replace(tmp, path)            # a reader never sees half a file
        paths.append(path)
    return paths


# -- Redis ------------------------------------------------------------------------------------------

def store(client, keys: Keys, made: Made, real_now: float | None = None) -> None:
    """Both files for KEEP_DAYS days, and the day in the index (with when it was stored and up to
    when its figures go); index entries older than KEEP_DAYS are dropped."""
    real_now = time.time() if real_now is None else real_now
    meta = {"stored": real_now, "until": made.content["until"], "whole_day": made.content["whole_day"]}
    with translated("storing the briefing"):
        old = [d for d, m in _index(client, keys).items() if m.get("stored", 0) < real_now - KEEP_S]
        pipe = client.pipeline(transaction=True)
        for kind in KINDS:
            pipe.set(keys.briefing(made.day, kind), getattr(made, kind), ex=KEEP_S)
        pipe.hset(keys.briefings, made.day, orjson.dumps(meta))
        if old:
            pipe.hdel(keys.briefings, *old)
        pipe.execute()


def _index(client, keys: Keys) -> dict[str, dict[str, Any]]:
    return {d.decode(): orjson.loads(m) for d, m in client.hgetall(keys.briefings).items()}


def stored(client, keys: Keys, real_now: float | None = None) -> dict[str, dict[str, Any]]:
    """The stored briefings' days (newest first) with when each was stored and how far it goes."""
    real_now = time.time() if real_now is None else real_now
    with translated("listing the stored briefings"):
        index = _index(client, keys)
    fresh = {d: m for d, m in index.items() if m.get("stored", 0) >= real_now - KEEP_S}
    return dict(sorted(fresh.items(), reverse=True))


def read(client, keys: Keys, day: str, kind: str) -> bytes | None:
    if kind not in KINDS:
        raise ValueError(kind)
    with translated("reading a stored briefing"):
        return client.get(keys.briefing(day, kind))


# -- the schedule -----------------------------------------------------------------------------------

class Scheduler:
    """Makes each day's briefing once the wall's clock passes ``at`` (local time)."""

    def __init__(self, client, keys: Keys, profile: Profile, at: clock_time, folder: Path | None = None,
                 name: str | None = None):
        self.client, self.keys, self.profile, self.at, self.folder = client, keys, profile, at, folder
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.table = FactsTable(lambda: client, keys, profile.tz)

    def step(self) -> str | None:
        """One look at the clock; the day whose briefing it made, or None."""
        now = clock.reading(self.client, self.keys)[0]
        local = datetime.fromtimestamp(now, self.profile.tz)
        due = datetime.combine(local.date(), self.at, self.profile.tz).timestamp()
        if now < due:
            return None
        day = local.date().isoformat()
        with translated("checking for the day's briefing"):
            if self._done(day, due):
                return None
            if not self.client.set(self.keys.briefing_lock(day), self.name, nx=True, ex=LOCK_S):
                return None
            if self._done(day, due):       # another scheduler finished between the look and the lock
                return None
        made = make(self.client, self.keys, self.profile, local.date(), table=self.table, clock_now=now)
        paths = write_files(made, self.profile.city, self.folder) if self.folder else []
        store(self.client, self.keys, made)
        log.info("briefing.made", day=day, by=self.name, files=[str(p) for p in paths],
                 received=made.content["summary"]["current"]["received"])
        return day

    def _done(self, day: str, due: float) -> bool:
        meta = self.client.hget(self.keys.briefings, day)
        return meta is not None and orjson.loads(meta).get("until", 0) >= due

    def run(self, stop: threading.Event, poll_s: float = POLL_S) -> None:
        log.info("briefing.schedule", at=self.at.strftime("%H:%M"), city=self.profile.city, by=self.name)
        failures = 0
        while not stop.is_set():
            try:
                self.step()
                failures, delay = 0, poll_s
            except (StoreUnavailable, redis.RedisError) as exc:
                failures += 1
                delay = min(poll_s, 0.5 * 2 ** failures)
                log.warning("briefing.store_unavailable", error=str(exc), retry_in_s=delay)
            except CivicwallError as exc:
                # The day stays locked for LOCK_S, so it is tried again then, not every poll.
                log.error("briefing.failed", error=str(exc))
                delay = poll_s
            except Exception:            # a wall must keep running whatever one briefing does
                log.exception("briefing.unexpected")
                delay = poll_s
            stop.wait(delay)


# -- the command ------------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--date", type=_day_arg, help="the local day (YYYY-MM-DD) to make the briefing for")
    what.add_argument("--schedule", action="store_true",
                      help="keep running and make each day's briefing when the wall's clock passes --at")
    parser.add_argument("--at", metavar="HH:MM",
                        help=f"with --schedule: local time (env CIVICWALL_BRIEFING_AT, default {DEFAULT_AT})")
    parser.add_argument("--out", metavar="DIR", help="folder for the files (default <CIVICWALL_DATA_DIR>/briefings)")


def _day_arg(text: str) -> date:
    day = briefing.parse_day(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD")
    return day


def main(args, settings: Settings) -> int:
    profile = load_profile(settings.profile)
    keys = Keys(profile.city, settings.stream)
    client = connect(settings.redis_url, socket_timeout=settings.socket_timeout_s)
    folder = Path(args.out or Path(settings.data_dir) / "briefings")
    if args.schedule:
        at = parse_hhmm(args.at or settings.briefing_at or DEFAULT_AT, "--at")
        from .feeds.common import stop_on_signals

        with stop_on_signals() as stop:
            Scheduler(client, keys, profile, at, folder).run(stop)
        return 0
    if args.at:
        raise CivicwallError("--at goes with --schedule; --date makes the briefing as far as the clock has gone")
    made = make(client, keys, profile, args.date)
    paths = write_files(made, profile.city, folder)
    store(client, keys, made)
    cur = made.content["summary"]["current"]
    print(f"briefing for {made.day} ({'whole day' if made.content['whole_day'] else 'day so far'}): "
          f"received {cur['received']}, resolved that day {cur['resolved_in_period']}, "
          f"open {made.content['open']}, overdue {made.content['overdue']}", file=sys.stderr)
    for path in paths:
        print(path)
    return 0
