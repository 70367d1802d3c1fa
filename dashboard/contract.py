"""The event contract, version 1: turn one raw stream entry into a normalised event or a rejection.

docs/events.md is the specification for producers; this module is its executable form. Validation is
pure (no Redis) so every rule can be tested on hand-made entries.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping

from .masking import mask_text
from .profiles import Profile, normalise_name

CONTRACT_VERSION = "1"
TYPES = ("created", "assigned", "responded", "resolved", "rated", "reopened")
REQUIRED = ("v", "event_id", "type", "request_id", "ts")
OPTIONAL = ("channel", "category", "district", "title", "text", "lat", "lon", "deadline", "unit",
            "satisfaction", "source")

MAX_FIELDS = 64
MAX_VALUE_BYTES = 256 * 1024          # one field larger than this rejects the entry
MAX_TEXT_CHARS = 4000                 # longer citizen text is cut (a documented repair)
MAX_TITLE_CHARS = 200
MAX_LABEL_CHARS = 80                  # category, unit, channel, district
MAX_ID_CHARS = 128
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc).timestamp()
FUTURE_SLACK_S = 24 * 3600
MAX_DEADLINE_S = 400 * 86400

SATISFACTION_WORDS = {
    "满意": 5, "非常满意": 5, "satisfied": 5, "very satisfied": 5,
    "基本满意": 4, "fairly satisfied": 4,
    "一般": 3, "neutral": 3,
    "不满意": 1, "dissatisfied": 1, "very dissatisfied": 1,
}

# Invisible or direction-changing characters: never meaningful in ids and labels, and a classic way
# to make a screen show something other than what was sent (a soft hyphen between the groups of a
# phone number is not drawn by browsers). Every Unicode format character (category Cf, as of Unicode
# 15; tests/test_contract.py checks the list against the running Python's tables) and the blank
# Hangul fillers and combining grapheme joiner, which render as nothing.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
LABELS = (("category", "cat"), ("unit", "unit"), ("channel", "ch"), ("source", "source"))
CACHE_MAX = 50_000
# Values up to this many characters are at most MAX_VALUE_BYTES in UTF-8 (four bytes a character).
_FAST_CHARS = MAX_VALUE_BYTES // 4
_ISO_SPACE = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d)")


@dataclass
class Rejection:
    reason: str           # stable, machine-readable: "missing_field:ts", "invalid_utf8:text", ...
    detail: str = ""      # human sentence for the dead-letter entry


@dataclass(slots=True)
class Event:
    """A valid event, with times as integer epoch seconds and local calendar fields precomputed."""

    event_id: str
    request_id: str
    type: str
    ts: int
    day: str              # city-local date of ts, YYYY-MM-DD
    mod: int              # city-local minute of the day of ts, 0..1439
    fields: dict = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)

    def as_wire(self, entry_id: str) -> dict:
        """The compact form the apply script receives."""
        return {"id": entry_id, "e": self.event_id, "r": self.request_id, "t": self.type,
                "ts": self.ts, "day": self.day, "mod": self.mod, **self.fields}


class Validator:
    """Validates entries for one profile; ``now`` is injectable for tests."""

    def __init__(self, profile: Profile, now=time.time):
        self.profile = profile
        self.tz = profile.tz
        self.now = now
        self._districts = profile.district_lookup()
        # Labels, districts and calendar minutes repeat endlessly in a stream; each distinct value is
        # cleaned, masked and looked up once (the caches are emptied when they grow past CACHE_MAX).
        self._labels: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
        self._district_cache: dict[str, tuple[str | None, str]] = {}
        self._minutes: dict[int, tuple[str, int]] = {}
        self._quarters: dict[int, tuple[str, int]] = {}
        self._minute_starts: dict[str, int] = {}
        self._day_starts: dict[str, int] = {}
        self._deadline_s: dict[tuple[str, str], int] = {}
        self._channels = {normalise_name(k): k for k in profile.channels}
        for k, label in profile.channels.items():
            self._channels.setdefault(normalise_name(label), k)

    def validate(self, raw: Mapping[bytes | str, bytes | str]) -> Event | Rejection:
        decoded = self._decode(raw)
        if isinstance(decoded, Rejection):
            return decoded
        f = decoded
        for name in REQUIRED:
            if not f.get(name, "").strip():
                return Rejection(f"missing_field:{name}", f"required field {name!r} is missing or empty")
        if f["v"].strip() != CONTRACT_VERSION:
            return Rejection("unsupported_version", f"contract version {f['v'][:20]!r} is not supported (this is v1)")
        etype = f["type"].strip().lower()
        if etype not in TYPES:
            return Rejection("unknown_type", f"type {f['type'][:40]!r} is not one of {', '.join(TYPES)}")
        ids = {}
        for name in ("event_id", "request_id"):
            value = _clean_label(f[name])
            if not value or len(value) > MAX_ID_CHARS or value != f[name]:
                return Rejection(f"invalid_id:{name}", f"{name} must be 1-{MAX_ID_CHARS} visible characters, no surrounding spaces")
            ids[name] = value
        ts = self._time(f["ts"])
        if isinstance(ts, Rejection):
            ts.reason = ts.reason.replace("{field}", "ts")
            return ts
        ts_value, repaired_naive = ts
        day, mod = self._calendar(ts_value)
        event = Event(event_id=ids["event_id"], request_id=ids["request_id"], type=etype, ts=ts_value,
                      day=day, mod=mod)
        if repaired_naive:
            event.repairs.append("naive_time_in_city_tz")
        problem = self._optional(f, event)
        return problem or event

    # -- pieces ---------------------------------------------------------------------------------

    def _calendar(self, ts: int) -> tuple[str, int]:
        """City-local date and minute of the day, through two caches: one of minutes (a live stream
        stays within a few of them) and, behind it, one of quarter hours (a backfill spreads over
        days). Since 2000 every zone's offset and every change of offset falls on a quarter hour, so
        within one quarter the local date is fixed and the local minute moves with the clock."""
        minute = ts // 60
        hit = self._minutes.get(minute)
        if hit is None:
            quarter, into = divmod(minute, 15)
            start = self._quarters.get(quarter)
            if start is None:
                if len(self._quarters) > CACHE_MAX:
                    self._quarters.clear()
                local = datetime.fromtimestamp(quarter * 900, self.tz)
                start = self._quarters[quarter] = (local.date().isoformat(), local.hour * 60 + local.minute)
            if len(self._minutes) > CACHE_MAX:
                self._minutes.clear()
            hit = self._minutes[minute] = (start[0], start[1] + into)
        return hit

    def _label(self, name: str, raw: str) -> tuple[str, tuple[str, ...]]:
        """A label field cleaned, cut to length and masked, with the repairs that took."""
        key = (name, raw)
        hit = self._labels.get(key)
        if hit is not None:
            return hit
        if len(self._labels) > CACHE_MAX:
            self._labels.clear()
        repairs = []
        value = _clean_label(raw)
        if len(value) > MAX_LABEL_CHARS:
            value = value[:MAX_LABEL_CHARS]
            repairs.append(f"truncated:{name}")
        # Labels are counted and shown as they are, on every screen: personal data in one is
        # masked here, once, so no aggregate ever holds it.
        masked = mask_text(value)
        if masked != value:
            value = masked
            repairs.append(f"masked:{name}")
        if name == "channel" and value:
            known = self._channels.get(normalise_name(value))
            if known:
                value = known
            else:
                repairs.append("unknown_channel")
        hit = self._labels[key] = (value, tuple(repairs))
        return hit

    def _district(self, raw: str) -> tuple[str | None, str]:
        """(district id or None, cleaned text) for a district field."""
        hit = self._district_cache.get(raw)
        if hit is None:
            if len(self._district_cache) > CACHE_MAX:
                self._district_cache.clear()
            cleaned = _clean_label(raw)
            hit = self._district_cache[raw] = (self._districts.get(normalise_name(cleaned)) if cleaned else None,
                                               cleaned)
        return hit

    def _decode(self, raw: Mapping) -> dict[str, str] | Rejection:
        if len(raw) > MAX_FIELDS:
            return Rejection("too_many_fields", f"{len(raw)} fields; at most {MAX_FIELDS} are accepted")
        try:
            # The common cases in one pass, for values of a sane size. Text from the aggregator's
            # reader (decoded by hiredis, bytes that are not UTF-8 kept as surrogate escapes): one
            # encode of all of it proves every byte was valid UTF-8, and the entry is used as it is.
            # Bytes from other clients: decoded here. Anything else goes through the careful loop
            # below, which names what is wrong.
            values = raw.values()
            if max(map(len, values)) <= _FAST_CHARS:
                if type(next(iter(values))) is str:
                    "".join(raw).encode()
                    "".join(values).encode()
                    return raw if type(raw) is dict else dict(raw)
                return {k.decode(): v.decode() for k, v in raw.items()}
        except (AttributeError, UnicodeError, TypeError, ValueError, StopIteration):
            pass
        out: dict[str, str] = {}
        for key, value in raw.items():
            try:
                name = key.decode("utf-8") if isinstance(key, bytes) else str(key)
                name.encode("utf-8")
            except UnicodeError:
                return Rejection("invalid_utf8:field_name", "a field name is not valid UTF-8")
            if isinstance(value, bytes):
                if len(value) > MAX_VALUE_BYTES:
                    return Rejection(f"field_too_large:{name[:40]}", f"{len(value)} bytes; the limit is {MAX_VALUE_BYTES}")
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    return _not_utf8(name)
            else:
                value = str(value)
                try:
                    size = len(value.encode("utf-8"))
                except UnicodeEncodeError:       # a surrogate escape: the producer sent bytes that are not UTF-8
                    return _not_utf8(name)
                if size > MAX_VALUE_BYTES:
                    return Rejection(f"field_too_large:{name[:40]}", f"{size} bytes; the limit is {MAX_VALUE_BYTES}")
            out[name] = value
        return out

    def _time(self, text: str, future_ok: bool = False) -> tuple[int, bool] | Rejection:
        raw = text.strip()
        fast = self._fast_time(raw)
        if fast is not None:
            if not future_ok and fast > self.now() + FUTURE_SLACK_S:
                return Rejection("time_in_future:{field}", f"{raw[:60]!r} is more than 24 hours in the future")
            return fast, False
        candidate = raw if raw[10:11] == "T" else _ISO_SPACE.sub(r"\1T\2", raw)
        if candidate.endswith(("z", "Z")):
            candidate = candidate[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            return Rejection("invalid_time:{field}", f"{raw[:60]!r} is not an ISO 8601 date-time")
        if parsed.year < 1900 or "T" not in candidate:
            return Rejection("invalid_time:{field}", f"{raw[:60]!r} needs a date and a time")
        naive = parsed.tzinfo is None
        if naive:
            parsed = parsed.replace(tzinfo=self.tz)
        value = parsed.timestamp()
        if value < EARLIEST:
            return Rejection("time_too_old:{field}", f"{raw[:60]!r} is before 2000-01-01 (a placeholder date?)")
        if not future_ok and value > self.now() + FUTURE_SLACK_S:
            return Rejection("time_in_future:{field}", f"{raw[:60]!r} is more than 24 hours in the future")
        return math.floor(value), naive

    def _fast_time(self, raw: str) -> int | None:
        """Epoch seconds of the common form 2024-05-27T01:00:00-04:00 (or …Z), from a cache of minute
        starts (a live stream stays within a few minutes) filled from a cache of day starts (a
        backfill spreads over days); None for any other form, which the full parser then handles."""
        n = len(raw)
        if n == 25 and raw[19] in "+-" or n == 20 and raw[19] in "Zz":
            seconds = raw[17:19]
            if raw[16] != ":" or not seconds.isascii() or not seconds.isdigit() or seconds >= "60":
                return None
            key = raw[:16] + raw[19:]
            start = self._minute_starts.get(key)
            if start is None:
                start = self._minute_start(raw, n)
                if start is None:
                    return None
                if len(self._minute_starts) > CACHE_MAX:
                    self._minute_starts.clear()
                self._minute_starts[key] = start
            return start + int(seconds)
        return None

    def _minute_start(self, raw: str, n: int) -> int | None:
        clock = raw[11:13] + raw[14:16]
        if raw[10] != "T" or raw[13] != ":" or not clock.isascii() or not clock.isdigit() \
                or clock[:2] >= "24" or clock[2:] >= "60":
            return None
        key = raw[:10] + raw[19:]
        start = self._day_starts.get(key)
        if start is None:
            try:
                parsed = datetime.fromisoformat(raw[:10] + "T00:00:00" + ("+00:00" if n == 20 else raw[19:]))
            except ValueError:
                return None
            if parsed.tzinfo is None or parsed.timestamp() < EARLIEST:
                return None
            if len(self._day_starts) > CACHE_MAX:
                self._day_starts.clear()
            start = self._day_starts[key] = int(parsed.timestamp())
        return start + int(clock[:2]) * 3600 + int(clock[2:]) * 60

    def _optional(self, f: dict[str, str], event: Event) -> Rejection | None:
        out = event.fields
        for name, short in LABELS:
            raw = f.get(name)
            if not raw:
                continue
            value, repairs = self._label(name, raw)
            if repairs:
                event.repairs.extend(repairs)
            if value:
                out[short] = value
        raw = f.get("district")
        if raw:
            found, cleaned = self._district(raw)
            if found:
                out["dist"] = found
            elif cleaned:
                event.repairs.append("unknown_district")
        get = f.get
        for name, limit in (("title", MAX_TITLE_CHARS), ("text", MAX_TEXT_CHARS)):
            raw = get(name)
            if not raw:
                continue
            value = _clean_text(raw)
            if len(value) > limit:
                value = value[:limit] + "…"
                event.repairs.append(f"truncated:{name}")
            if value:
                out[name] = value
        lat, lon = get("lat") or "", get("lon") or ""
        if lat.strip() or lon.strip():
            try:
                lat, lon = float(lat), float(lon)
            except ValueError:
                return Rejection("invalid_location", "lat and lon must both be decimal degrees")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
                return Rejection("invalid_location", f"lat {lat} / lon {lon} is outside the globe")
            out["lat"], out["lon"] = round(lat, 6), round(lon, 6)
        deadline = get("deadline")
        if deadline and deadline.strip():
            parsed = self._time(deadline, future_ok=True)
            if isinstance(parsed, Rejection):
                parsed.reason = parsed.reason.replace("{field}", "deadline")
                return parsed
            out["dl"] = parsed[0]
            if event.type == "created" and out["dl"] < event.ts:
                return Rejection("deadline_before_created", "the deadline is earlier than the creation time")
            if out["dl"] > event.ts + MAX_DEADLINE_S:
                return Rejection("deadline_too_far", "the deadline is more than 400 days after the event")
        elif event.type == "created":
            rule = (out.get("cat", ""), out.get("unit", ""))
            default = self._deadline_s.get(rule)
            if default is None:
                if len(self._deadline_s) > CACHE_MAX:
                    self._deadline_s.clear()
                default = self._deadline_s[rule] = round(self.profile.deadline_hours(*rule) * 3600)
            out["dl"] = event.ts + default
        if event.type == "assigned" and "unit" not in out:
            return Rejection("missing_field:unit", "an assigned event must name the handling unit")
        if event.type == "rated":
            score = _satisfaction(f.get("satisfaction", ""))
            if score is None:
                return Rejection("invalid_satisfaction", "satisfaction must be an integer 1-5 or a documented word")
            out["sat"] = score
        return None


def _not_utf8(name: str) -> Rejection:
    name = name[:40]
    return Rejection(f"invalid_utf8:{name}",
                     f"field {name!r} is not valid UTF-8 (GBK or other legacy encodings must be converted)")


def _clean_label(text: str) -> str:
    if text.isascii() and text.isprintable() and text == text.strip() and "  " not in text:
        return text                      # nothing to normalise, remove or collapse
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", _CONTROL.sub("", text.replace("\t", " ").replace("\r", " ").replace("\n", " ")))
    return re.sub(r"\s+", " ", text).strip()


def _clean_text(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text.strip()
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    return _INVISIBLE.sub("", _CONTROL.sub("", text)).strip()


def _satisfaction(text: str) -> int | None:
    raw = text.strip()
    if raw in SATISFACTION_WORDS:
        return SATISFACTION_WORDS[raw]
    if raw.casefold() in SATISFACTION_WORDS:
        return SATISFACTION_WORDS[raw.casefold()]
    normalised = unicodedata.normalize("NFKC", raw)
    if normalised.isdigit() and 1 <= int(normalised) <= 5:
        return int(normalised)
    return None
