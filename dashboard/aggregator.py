"""The aggregator: a consumer-group reader that validates entries and applies them to shared state.

Each batch goes to Redis as one Lua script (dashboard/apply.lua) that applies the valid events,
writes rejected entries to the dead-letter stream, and acknowledges every entry of the batch, all
atomically. Any number of aggregators can share the stream through the consumer group.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import redis
import structlog

from . import snapshot
from .contract import Rejection, Validator
from .errors import StoreUnavailable
from .keys import Keys
from .masking import mask_text
from .profiles import Profile
from .settings import Settings
from .store import TRANSIENT, text_twin, translated

log = structlog.get_logger("civicwall.aggregator")
APPLY_LUA = (Path(__file__).parent / "apply.lua").read_text(encoding="utf-8")
DEAD_LETTER_VALUE_BYTES = 8192
UNKNOWN_KEEP = 200           # distinct unknown district values remembered (the most frequent)


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    unchanged: int = 0
    rejected: int = 0
    acked: int = 0
    reasons: Counter = field(default_factory=Counter)
    unknown_districts: Counter = field(default_factory=Counter)


def _district_value(raw) -> str:
    """An event's district as sent, cleaned like a label and masked (it is shown to operators)."""
    value = raw.get("district")
    if value is None:
        value = raw.get(b"district", b"")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return mask_text(" ".join(str(value).split()))[:80]


def _as_sent(value) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Aggregator:
    def __init__(self, client: redis.Redis, profile: Profile, settings: Settings,
                 consumer: str | None = None, validator: Validator | None = None):
        self.client = client
        # Entries are read as text decoded by hiredis (in C), which the validator takes as it is.
        self.reader = text_twin(client)
        self.profile = profile
        self.settings = settings
        self.keys = Keys(profile.city, settings.stream)
        self.group = settings.group
        self.consumer = consumer or default_consumer_name()
        self.validator = validator or Validator(profile)
        self._apply = client.register_script(APPLY_LUA)
        self._last_snapshot = 0.0
        self._unpublished = False      # events applied since the last snapshot
        self._last_claim = 0.0

    # -- group management --------------------------------------------------------------------

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing; an existing group is kept.

        Also records when this Redis's state began, so screens can tell that a Redis which came
        back empty is counting afresh (``pipeline.state_since``)."""
        with translated("creating the consumer group"):
            self.client.hsetnx(self.keys.meta, "state_since", time.time())
            try:
                self.client.xgroup_create(self.keys.stream, self.group, id="0", mkstream=True)
                log.info("aggregator.group_created", stream=self.keys.stream, group=self.group)
            except redis.exceptions.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # -- one batch ----------------------------------------------------------------------------

    def process(self, entries: list[tuple[bytes, dict | None]]) -> BatchResult:
        """Validate and apply entries (as returned by XREADGROUP) in one atomic script call."""
        return self.apply_prepared(*self.prepare(entries))

    def prepare(self, entries: list[tuple[bytes, dict | None]]) -> tuple[list | None, BatchResult]:
        """Validate a batch and build the apply script's arguments (no Redis call)."""
        result = BatchResult()
        if not entries:
            return None, result
        events, rejects = [], []
        repairs: Counter = Counter()
        unknown: Counter = Counter()
        for entry_id, raw in entries:
            eid = entry_id if type(entry_id) is str else entry_id.decode()
            if not raw:
                # The entry was trimmed from the stream before it was processed: its body is gone
                # (Redis returns nil, redis-py an empty dict; XADD cannot write an entry without fields).
                rejects.append((eid, Rejection("entry_trimmed", "the stream was trimmed past this pending entry"), {}))
                continue
            outcome = self.validator.validate(raw)
            if isinstance(outcome, Rejection):
                rejects.append((eid, outcome, raw))
            else:
                events.append(outcome.as_wire(eid))
                if outcome.repairs:
                    repairs.update(outcome.repairs)
                    if "unknown_district" in outcome.repairs:
                        unknown[_district_value(raw)] += 1
        args: list = [self.keys.prefix, self.group,
                      orjson.dumps({"events": events, "repairs": repairs, "recent_keep": 200}),
                      len(rejects)]
        for eid, rej, raw in rejects:
            args += [eid, rej.reason, rej.detail or rej.reason, len(raw)]
            for k, v in raw.items():
                # The dead letter keeps the bytes as they were sent (text read through the reader
                # carries non-UTF-8 bytes as surrogate escapes), and enough of each value to see
                # what was wrong, not 10 MB of it.
                args += [_as_sent(k), _as_sent(v)[:DEAD_LETTER_VALUE_BYTES]]
            result.reasons[rej.reason] += 1
        result.unknown_districts = unknown
        return args, result

    def apply_prepared(self, args: list | None, result: BatchResult) -> BatchResult:
        """Run the apply script on a prepared batch: apply, dead-letter and acknowledge, atomically."""
        if args is None:
            return result
        keys = [self.keys.stream, self.keys.deadletter]
        with translated("applying a batch"):
            try:
                reply = self._apply(keys=keys, args=args)
            except redis.exceptions.NoScriptError:
                # The server's scripts were flushed again between loading and running it: send the
                # script itself, which cannot miss.
                reply = self.client.eval(APPLY_LUA, len(keys), *keys, *args)
        return self._settled(result, reply)

    def _note_unknown_districts(self, counts: Counter) -> None:
        """The district values no profile district matched, by how many events carried them (the most
        frequent UNKNOWN_KEEP kept), so an operator can see what to add as aliases. A redelivered
        batch counts again: these are counts of deliveries, a guide rather than a figure."""
        key = self.keys.unknown_districts
        with translated("noting unknown districts"):
            pipe = self.client.pipeline(transaction=False)
            for value, n in counts.items():
                pipe.zincrby(key, n, value)
            pipe.zremrangebyrank(key, 0, -UNKNOWN_KEEP - 1)
            pipe.execute()

    def _settled(self, result: BatchResult, reply: list) -> BatchResult:
        result.applied, result.duplicates, result.unchanged, result.rejected, result.acked = reply
        if result.unknown_districts:
            self._note_unknown_districts(result.unknown_districts)
        if result.reasons:
            log.info("aggregator.rejected", entries=result.rejected, reasons=dict(result.reasons),
                     deadletter=self.keys.deadletter)
        return result

    def catch_up(self, entries: list | None = None, max_s: float | None = None) -> int:
        """Work through a backlog of new entries, starting with ``entries`` if given, for at most
        ``max_s`` seconds (then the caller can publish a snapshot and come back).

        Redis and this process work side by side, over one connection whose commands are sent
        without waiting for the replies before them: while Redis runs the apply script on one batch
        and then the read of the batch after the next, this process validates the next one and
        queues its script behind them. So Redis always has the next command waiting. Up to two
        batches are in flight; their entries stay pending in the consumer group until a script has
        acknowledged them, so a crash at any point loses nothing (they are re-read on restart, and
        applying twice is a no-op). Returns the number of entries worked through."""
        until = None if max_s is None else time.monotonic() + max_s

        def time_left() -> bool:
            return until is None or time.monotonic() <= until

        with translated("working through a backlog"):
            return self._pipelined(entries, time_left)

    def _pipelined(self, entries: list | None, time_left) -> int:
        reader = self.reader
        sha = reader.script_load(APPLY_LUA)
        conn = reader.connection_pool.get_connection()
        owed: deque[BatchResult | None] = deque()    # one per command sent: a batch's result, or None for a read
        total = 0

        def send_read() -> None:
            conn.send_command("XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", self.settings.batch,
                              "STREAMS", self.keys.stream, ">")
            owed.append(None)

        def send_apply(batch: list) -> None:
            args, result = self.prepare(batch)
            conn.send_command("EVALSHA", sha, 2, self.keys.stream, self.keys.deadletter, *args)
            owed.append(result)

        try:
            if entries:
                total += len(entries)
                send_apply(entries)
            if not entries or time_left():
                send_read()
                if time_left():
                    send_read()
            while owed:
                result = owed.popleft()
                if result is not None:
                    self._settled(result, reader.parse_response(conn, "EVALSHA"))
                    continue
                reply = reader.parse_response(conn, "XREADGROUP")
                batch = reply[0][1] if reply else []
                if batch:
                    total += len(batch)
                    send_apply(batch)
                    if time_left():
                        send_read()
        except redis.exceptions.ResponseError as exc:
            conn.disconnect()                   # replies are still owed on it
            if "NOGROUP" in str(exc):
                self._group_lost()
                return total
            if isinstance(exc, redis.exceptions.NoScriptError):   # the server's scripts were flushed meanwhile
                return total + self.drain_own_pending()
            raise
        except BaseException:
            conn.disconnect()
            raise
        finally:
            reader.connection_pool.release(conn)
        return total

    # -- reading ------------------------------------------------------------------------------

    def read(self, entry_id: str = ">", block: int | None = None) -> list:
        """One XREADGROUP; recreates the group if a Redis restart lost it (NOGROUP)."""
        try:
            with translated("reading the stream"):
                reply = self.reader.xreadgroup(self.group, self.consumer, {self.keys.stream: entry_id},
                                               count=self.settings.batch, block=block)
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._group_lost()
            return []
        return reply[0][1] if reply else []

    def _group_lost(self) -> None:
        """A Redis restart (or someone) removed the consumer group: recreate it, from the start."""
        log.warning("aggregator.group_missing", stream=self.keys.stream, group=self.group)
        self.ensure_group()

    def drain_own_pending(self) -> int:
        """Re-process entries this consumer read but never acknowledged (after a crash)."""
        total, cursor = 0, "0"
        while True:
            entries = self.read(cursor)
            if not entries:
                return total
            self.process(entries)
            total += len(entries)
            cursor = entries[-1][0]

    def claim_abandoned(self) -> int:
        """Take over entries that another (dead) consumer left pending for too long."""
        total, start = 0, "0-0"
        while True:
            with translated("claiming abandoned entries"):
                try:
                    reply = self.reader.xautoclaim(self.keys.stream, self.group, self.consumer,
                                                   self.settings.claim_idle_ms, start_id=start,
                                                   count=self.settings.batch)
                except redis.exceptions.ResponseError as exc:
                    if "NOGROUP" in str(exc):
                        self.ensure_group()
                        return total
                    raise
            start, entries = reply[0], reply[1]
            # Redis >= 7 also returns the ids whose bodies were trimmed away (and drops them from the
            # pending list): count them as lost rather than letting them vanish.
            if len(reply) > 2 and reply[2]:
                entries = list(entries) + [(i, None) for i in reply[2]]
            if entries:
                self.process(entries)
                total += len(entries)
            if start in (b"0-0", "0-0") or not entries:
                return total

    # -- the loop -----------------------------------------------------------------------------

    def step(self) -> BatchResult:
        """One read-apply round plus housekeeping; used by the loop and by tests."""
        now = time.monotonic()
        if now - self._last_claim > self.settings.claim_idle_ms / 1000 / 2:
            self._last_claim = now
            self.claim_abandoned()
        block = self.settings.block_ms
        if self._unpublished:
            # Events are waiting to be published: wake up when their snapshot is due, not a whole
            # block later, so a quiet moment after a burst does not delay the wall.
            due = self._last_snapshot + self._gap(True) - time.monotonic()
            block = max(1, min(block, int(due * 1000) + 1))
        entries = self.read(">", block=block)
        result = self.process(entries)
        if len(entries) >= self.settings.batch:
            # A backlog: read, validate and apply side by side, and come back in time to publish.
            self.catch_up(max_s=min(0.5, self.settings.snapshot_ms / 1000))
        if entries:
            log.debug("aggregator.batch", events=len(entries), applied=result.applied,
                      duplicates=result.duplicates, rejected=result.rejected)
        self.maybe_snapshot(force=bool(entries))
        return result

    def _gap(self, events: bool) -> float:
        # After new events, publish within publish_ms (screens with push show them at once); without
        # events, every snapshot_ms, so screens can tell a quiet hour from a dead aggregator. During
        # a backlog, catch_up comes back to publish at most twice a second.
        return (self.settings.publish_ms if events else self.settings.snapshot_ms) / 1000

    def maybe_snapshot(self, force: bool = False) -> None:
        now = time.monotonic()
        self._unpublished = self._unpublished or force
        if now - self._last_snapshot < self._gap(self._unpublished):
            return
        self._last_snapshot = now
        self._unpublished = False
        with translated("publishing the heartbeat"):
            self.client.hset(self.keys.heartbeat, self.consumer, time.time())
        snapshot.store(self.client, self.keys, snapshot.build(self.client, self.keys, self.profile))

    def run_until_idle(self) -> int:
        """Process everything currently in the stream, then build a snapshot. For CLIs and tests."""
        self.ensure_group()
        total = self.drain_own_pending() + self.catch_up()
        snapshot.store(self.client, self.keys, snapshot.build(self.client, self.keys, self.profile))
        return total

    def run(self, stop: threading.Event | None = None) -> None:
        """Run until ``stop`` is set. Never exits on bad input; waits out Redis outages."""
        stop = stop or threading.Event()
        backoff = 0.2
        started = False
        log.info("aggregator.start", stream=self.keys.stream, group=self.group, consumer=self.consumer)
        while not stop.is_set():
            try:
                if not started:
                    self.ensure_group()
                    resumed = self.drain_own_pending()
                    if resumed:
                        log.info("aggregator.resumed", entries=resumed)
                    started = True
                self.step()
                backoff = 0.2
            except (StoreUnavailable, *TRANSIENT) as exc:
                log.warning("aggregator.store_unavailable", error=str(exc), retry_in_s=backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                started = False
        log.info("aggregator.stop", consumer=self.consumer)
