"""``civicwall simulate``: a live 12345 day for a profile, written to the event stream as it happens.

For 焦作 the appeals come from ``dashboard.feeds.appeals`` and its text bank: ten county-level
units weighted by population, hotline/web/WeChat, twelve categories, handling units, first
responses, resolutions against the deadline, ratings and the odd reopen. Other profiles get plain
placeholder content with the same rhythm.

On start the past ``--backfill-hours`` of history are written at once, so the wall has today and
yesterday to show; then each event is written when its time comes. Events are written in event-time
order and never carry a timestamp ahead of real time: later lifecycle steps wait in a queue.

``--speed S`` compresses what happens after the start S-fold: an appeal due one hour after the start
is written 1/S hours after it, and stamped with that real time. Deadlines are not sent (the contract
derives them from the profile), so at S > 1 on-time rates read higher than at real speed. The wall's
clock is left alone: the simulator is live, not a replay.

With one seed the appeals (ids, content, times) are the same whenever the simulator starts, so a
restart at speed 1 re-sends history the aggregator already has and it counts once.
"""

from __future__ import annotations

import argparse
import heapq
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from ..errors import StoreUnavailable
from ..keys import Keys
from ..profiles import Profile, load_profile
from ..settings import Settings
from ..store import connect
from .appeals import AppealModel, Step, day_arrivals, request_ids
from .common import stop_on_signals, xadd_all

log = structlog.get_logger("civicwall.simulate")
MAX_WAIT_S = 1.0


class Simulator:
    """Appeal events for a profile from ``start - backfill_hours`` on, handed out as real time passes."""

    def __init__(self, profile: Profile, *, seed: int = 0, per_day: float = 600, speed: float = 1.0,
                 start: float | None = None, backfill_hours: float = 30.0):
        if per_day <= 0 or speed <= 0 or backfill_hours < 0:
            raise ValueError("per_day and speed must be positive and backfill_hours not negative")
        self.profile = profile
        self.seed = seed
        self.per_day = per_day
        self.speed = speed
        self.model = AppealModel(profile, seed)
        self.start = int(time.time() if start is None else start)
        self.history_from = self.start - int(backfill_hours * 3600)
        self.appeals = 0
        self._heap: list[Step] = []
        self._next_day = datetime.fromtimestamp(self.history_from, profile.tz).date()
        self._prefix = "JZ" if self.model.rich else profile.city.upper()[:4]

    # Model time runs S-fold faster than real time after the start, and equals it before.
    def real_time(self, model: float) -> float:
        return model if model <= self.start else self.start + (model - self.start) / self.speed

    def model_time(self, real: float) -> float:
        return real if real <= self.start else self.start + (real - self.start) * self.speed

    def due(self, real_now: float) -> list[dict[str, str]]:
        """Every event whose (real) time has come and that was not handed out yet, in time order."""
        limit = self.model_time(real_now)
        out = []
        while self._peek().at <= limit:
            out.append(self._render(heapq.heappop(self._heap)))
        return out

    def next_due(self) -> float:
        """Real time of the next event."""
        return self.real_time(self._peek().at)

    def _peek(self) -> Step:
        # A day's appeals are generated once the queue reaches that day, so nothing earlier is missing.
        while not self._heap or self._heap[0].at >= self._day_start(self._next_day):
            self._generate_day()
        return self._heap[0]

    def _day_start(self, day) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=self.profile.tz).timestamp()

    def _generate_day(self) -> None:
        day = self._next_day
        arrivals = day_arrivals(self.seed, self.profile, day, self.per_day)
        for rid, created in zip(request_ids(self.seed, day, len(arrivals), self._prefix), arrivals):
            if created >= self.history_from:
                self.appeals += 1
                for step in self.model.lifecycle(rid, created):
                    heapq.heappush(self._heap, step)
        self._next_day = day + timedelta(days=1)

    def _render(self, step: Step) -> dict[str, str]:
        ts = math.floor(self.real_time(step.at))
        head = {k: step.fields[k] for k in ("v", "event_id", "type", "request_id")}
        return head | {"ts": datetime.fromtimestamp(ts, self.profile.tz).isoformat()} | step.fields


@dataclass
class Stats:
    sent: int = 0
    backfilled: int = 0
    created: int = 0


def run(sim: Simulator, client, keys: Keys, stop: threading.Event, *, duration: float | None = None,
        once: bool = False, log_every_s: float = 60.0) -> Stats:
    """Write the backfill, then (unless ``once``) live events until ``stop`` or ``duration`` seconds.

    A Redis outage while live is waited out with backoff; events keep their times and go out late.
    """
    stats = Stats()
    backfill = sim.due(sim.start)
    stats.backfilled = stats.sent = xadd_all(client, keys.stream, backfill)
    stats.created = sum(1 for e in backfill if e["type"] == "created")
    log.info("simulate.backfill", events=len(backfill), appeals=stats.created, stream=keys.stream)
    if once:
        return stats
    end = time.time() + duration if duration is not None else math.inf
    pending: list[dict[str, str]] = []
    backoff, last_log = 0.5, time.monotonic()
    while not stop.is_set() and time.time() < end:
        pending += sim.due(time.time())
        if pending:
            try:
                xadd_all(client, keys.stream, pending)
            except StoreUnavailable as exc:
                log.warning("simulate.store_unavailable", error=str(exc), waiting=len(pending), retry_in_s=backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            stats.sent += len(pending)
            stats.created += sum(1 for e in pending if e["type"] == "created")
            pending, backoff = [], 0.5
        if time.monotonic() - last_log >= log_every_s:
            last_log = time.monotonic()
            log.info("simulate.progress", sent=stats.sent, appeals=stats.created)
        stop.wait(max(0.0, min(sim.next_due() - time.time(), end - time.time(), MAX_WAIT_S)))
    return stats


def number_arg(kind, zero_ok: bool = False):
    """An argparse type: a number of ``kind`` that is positive (or zero, with ``zero_ok``)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0 or (value == 0 and not zero_ok):
            raise argparse.ArgumentTypeError(f"must be {'0 or more' if zero_ok else 'positive'}, got {text!r}")
        return value
    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speed", type=number_arg(float), default=1.0, metavar="S",
                   help="1 = real time (default); S > 1 compresses time S-fold")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same appeals (default 0)")
    p.add_argument("--per-day", type=number_arg(float), default=600, metavar="N",
                   help="appeals on a mid-week day (default 600)")
    p.add_argument("--backfill-hours", type=number_arg(float, zero_ok=True), default=30.0, metavar="H",
                   help="hours of history written at once on start (default 30)")
    p.add_argument("--duration", type=number_arg(float), metavar="SECONDS",
                   help="stop after this many seconds (default: run until stopped)")
    p.add_argument("--once", action="store_true", help="write the backfill, then exit")


def main(args, settings: Settings) -> int:
    profile = load_profile(settings.profile)
    sim = Simulator(profile, seed=args.seed, per_day=args.per_day, speed=args.speed,
                    backfill_hours=args.backfill_hours)
    keys = Keys(profile.city, settings.stream)
    client = connect(settings.redis_url, socket_timeout=settings.socket_timeout_s)
    with stop_on_signals() as stop:
        stats = run(sim, client, keys, stop, duration=args.duration, once=args.once)
    since = datetime.fromtimestamp(sim.history_from, profile.tz).isoformat(timespec="minutes")
    print(f"simulate: {stats.sent} events sent to {keys.stream} ({stats.created} appeals, "
          f"{stats.backfilled} events of history since {since})")
    return 0
