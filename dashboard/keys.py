"""Redis key names. Every key of one city shares the hash tag ``{city}`` so a city's whole state
lives on one Redis Cluster slot and one Lua script can touch all of it atomically."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    city: str
    stream_override: str = ""

    @property
    def prefix(self) -> str:
        return f"cw:{{{self.city}}}:"

    @property
    def stream(self) -> str:
        return self.stream_override or self.prefix + "events"

    @property
    def deadletter(self) -> str:
        return self.prefix + "deadletter"

    @property
    def rejected(self) -> str:
        return self.prefix + "rejected"      # hash: reason -> count, plus "total"

    @property
    def repaired(self) -> str:
        return self.prefix + "repaired"      # hash: repair -> count

    @property
    def snapshot(self) -> str:
        return self.prefix + "snapshot"      # JSON string, ready to serve

    @property
    def published(self) -> str:
        return self.prefix + "published"     # pub/sub channel: built_at of each new snapshot

    @property
    def snapshot_lock(self) -> str:
        return self.prefix + "snapshot:lock"

    @property
    def clock(self) -> str:
        return self.prefix + "clock"         # hash: replay clock (mode, data_ts, wall_ts, speed)

    @property
    def heartbeat(self) -> str:
        return self.prefix + "aggregators"   # hash: consumer name -> last beat (epoch s)

    @property
    def meta(self) -> str:
        return self.prefix + "meta"          # hash: last_event_ts, events_applied, ...

    def request(self, request_id: str) -> str:
        return self.prefix + "r:" + request_id

    def day(self, day: str) -> str:
        return self.prefix + "d:" + day

    def all_time(self) -> str:
        return self.prefix + "d:all"

    def frt(self, day: str) -> str:
        return self.prefix + "frt:" + day

    def ttr(self, day: str) -> str:
        return self.prefix + "ttr:" + day

    @property
    def ttr_all(self) -> str:
        return self.prefix + "ttr:all"

    @property
    def open(self) -> str:
        return self.prefix + "open"

    @property
    def open_deadlines(self) -> str:
        return self.prefix + "open:dl"

    @property
    def created(self) -> str:
        return self.prefix + "created"       # sorted set: request id, score = creation time

    @property
    def facts(self) -> str:
        return self.prefix + "facts"         # hash: request id -> the manager view's fields, as JSON

    @property
    def changes(self) -> str:
        return self.prefix + "changes"       # stream: one entry per batch, the ids whose facts changed

    @property
    def orphans(self) -> str:
        return self.prefix + "orphans"       # set: requests with events but no creation yet

    @property
    def recent(self) -> str:
        return self.prefix + "recent"

    @property
    def recent_resolved(self) -> str:
        return self.prefix + "recent:res"

    @property
    def taken(self) -> str:
        return self.prefix + "taken"         # hash: request id -> {"by": user, "at": epoch s}, newsroom marks

    @property
    def taken_log(self) -> str:
        return self.prefix + "taken:log"     # stream: every take and release, with its user

    def briefing(self, day: str, kind: str) -> str:
        return self.prefix + "briefing:" + day + ":" + kind     # the day's briefing file, kind html or pdf

    def briefing_lock(self, day: str) -> str:
        return self.prefix + "briefing:" + day + ":lock"        # SET NX: one scheduler makes the day's briefing

    @property
    def briefings(self) -> str:
        return self.prefix + "briefings"     # hash: date of each stored briefing -> {"stored", "until", "whole_day"}

    @property
    def open311_seen(self) -> str:
        return self.prefix + "open311:seen"  # hash: service_request_id -> "status|updated_datetime" last emitted

    @property
    def open311_meta(self) -> str:
        return self.prefix + "open311:meta"  # hash: last poll's time, counts and error

    @property
    def unknown_districts(self) -> str:
        return self.prefix + "districts:unknown"   # sorted set: district value no profile district matched -> events
