"""NYC 311 exports as contract-v1 lifecycle events.

Reads the three shapes NYC Open Data hands out for service requests: the Socrata CSV (snake_case
headers), the Socrata JSON array (same keys, every value a string, a nested ``location`` object), and
the portal's "Title Case" CSV (``Created Date``, ``Closed Date`` ...). Headers are normalised, so all
three read the same way; a file without a header row needs its column names given explicitly.

Each record becomes at most three events, all field values strings:

* ``created`` at created_date: category, district (the borough exactly as given, ``Unspecified``
  included: the aggregator counts unknown districts), channel, handling unit, title, a short text,
  location and the record's own due date as deadline;
* ``assigned`` to the agency at created_date;
* ``resolved`` at closed_date, with the resolution description as text.

NYC publishes naive local times. They are emitted with their real UTC offset (-04:00 or -05:00), so
the contract never has to guess a zone. A wall time that falls in the spring-forward gap is read with
the offset in force before the change (02:30 becomes 03:30 EDT); one that occurs twice in the autumn
is read as its first (daylight-time) occurrence. Event ids are ``nyc311:<unique_key>:<type>``, so a
file replayed twice counts once.

Pieces that cannot become a truthful event are left out and counted by reason in
``FeedResult.skipped``: a 1900-01-01 placeholder or a closed date before the created date yields no
``resolved`` event, an unusable due date or location is dropped from the ``created`` event, and a
record without a key or a usable created date yields nothing.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from ..contract import CONTRACT_VERSION
from ..errors import FeedError

NEW_YORK = ZoneInfo("America/New_York")
SOURCE = "nyc311"
PLACEHOLDER_BEFORE = datetime(2000, 1, 1)       # NYC uses 1900-01-01 for "no date"
# US portal form, 12- or 24-hour: 03/24/2025 11:33:07 PM, 3/24/2025 23:33, 03/24/2025
_US_TIME = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?)?$")
_NOT_A_VALUE = {"", "n/a", "na", "null", "none", "unspecified"}


@dataclass
class FeedResult:
    """Events in event-time order (stable), their epoch seconds, and what was left out."""

    events: list[dict[str, str]] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    records: int = 0
    skipped: Counter = field(default_factory=Counter)

    def skipped_text(self) -> str:
        if not self.skipped:
            return "nothing skipped"
        return "skipped " + ", ".join(f"{reason}={n}" for reason, n in sorted(self.skipped.items()))


def normalise_header(name: str) -> str:
    """``Created Date``, ``created_date`` and `` CREATED-DATE`` all become ``created_date``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def parse_time(text: str) -> datetime | None:
    """A naive NYC wall time from ISO (``2024-05-27T02:08:51.000``) or US (``03/24/2025 11:33:07 PM``)
    form; None for an empty value. Raises ValueError for anything else."""
    raw = text.strip()
    if not raw:
        return None
    if raw[:4].isdigit() and raw[4:5] == "-":
        parsed = datetime.fromisoformat(raw.replace(" ", "T", 1))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(NEW_YORK).replace(tzinfo=None)
        return parsed
    m = _US_TIME.match(raw)
    if not m:
        raise ValueError(f"unrecognised date {raw[:40]!r}")
    month, day, year, hour, minute, second, half = m.groups()
    hour = int(hour or 0)
    if half:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} with {half} in {raw[:40]!r}")
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    return datetime(int(year), int(month), int(day), hour, int(minute or 0), int(second or 0))


def localise(naive: datetime) -> tuple[int, str]:
    """(epoch seconds, ISO 8601 with New York's offset at that instant)."""
    epoch = math.floor(naive.replace(tzinfo=NEW_YORK).timestamp())
    return epoch, datetime.fromtimestamp(epoch, NEW_YORK).isoformat()


# -- reading files ---------------------------------------------------------------------------------

def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".json", ".csv"):
        return suffix[1:]
    with path.open("rb") as fh:
        head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if head[:1] in (b"[", b"{") else "csv"


def read_records(path: str | Path, fmt: str = "auto", columns: list[str] | None = None) -> Iterator[dict[str, str]]:
    """Records with normalised keys and string values."""
    path = Path(path)
    if not path.is_file():
        raise FeedError(f"{path}: no such file")
    fmt = detect_format(path) if fmt == "auto" else fmt
    try:
        if fmt == "json":
            yield from _json_records(path)
        elif fmt == "csv":
            yield from _csv_records(path, columns)
        else:
            raise FeedError(f"unknown format {fmt!r}: use csv, json or auto")
    except UnicodeDecodeError as exc:
        raise FeedError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _csv_records(path: Path, columns: list[str] | None) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        if columns:
            names = [normalise_header(c) for c in columns]
        else:
            names = [normalise_header(c) for c in next(reader, [])]
            if "unique_key" not in names or "created_date" not in names:
                raise FeedError(
                    f"{path.name}: no header row naming unique_key and created_date; for a file without "
                    "a header give the column names (e.g. --columns unique_key,created_date,closed_date,"
                    "complaint_type,borough)")
        for row in reader:
            if row:
                yield dict(zip(names, row))


def _json_records(path: Path) -> Iterator[dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise FeedError(f"{path.name}: not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = data.get("data", data.get("rows", []))
    if not isinstance(data, list):
        raise FeedError(f"{path.name}: expected a JSON array of records")
    for item in data:
        if not isinstance(item, dict):
            continue
        record = {normalise_header(k): ("" if v is None else str(v))
                  for k, v in item.items() if not isinstance(v, (dict, list))}
        location = item.get("location")
        if isinstance(location, dict) and not record.get("latitude"):
            record["latitude"] = str(location.get("latitude", ""))
            record["longitude"] = str(location.get("longitude", ""))
        yield record


# -- records to events -----------------------------------------------------------------------------

def _value(record: dict[str, str], name: str) -> str:
    return " ".join(record.get(name, "").split())


def _meaningful(record: dict[str, str], name: str) -> str:
    value = _value(record, name)
    return "" if value.lower() in _NOT_A_VALUE else value


def _time(record: dict[str, str], name: str, skipped: Counter) -> datetime | None:
    try:
        parsed = parse_time(record.get(name, ""))
    except ValueError:
        skipped[f"bad_{name}"] += 1
        return None
    if parsed is not None and parsed < PLACEHOLDER_BEFORE:
        skipped[f"placeholder_{name}"] += 1
        return None
    return parsed


def _location(record: dict[str, str], skipped: Counter) -> dict[str, str]:
    lat, lon = _value(record, "latitude"), _value(record, "longitude")
    if not lat and not lon:
        return {}
    try:
        y, x = float(lat), float(lon)
    except ValueError:
        skipped["bad_location"] += 1
        return {}
    if not (-90 <= y <= 90 and -180 <= x <= 180) or (y == 0 and x == 0):
        skipped["bad_location"] += 1
        return {}
    return {"lat": f"{y:.6f}", "lon": f"{x:.6f}"}


def describe(record: dict[str, str]) -> str:
    """A one-line text: what, in what kind of place, where."""
    text = _meaningful(record, "descriptor") or _meaningful(record, "complaint_type")
    place = _meaningful(record, "location_type")
    if place:
        text += f" ({place})"
    address = _meaningful(record, "incident_address")
    if not address:
        corners = [_meaningful(record, f"intersection_street_{i}") for i in (1, 2)]
        address = " & ".join(c for c in corners if c) or _meaningful(record, "street_name")
    return f"{text} at {address}" if address else text


def record_events(record: dict[str, str], skipped: Counter) -> list[tuple[int, dict[str, str]]]:
    """The lifecycle events of one record as (epoch, fields), in lifecycle order."""
    key = _value(record, "unique_key")
    if not key:
        skipped["missing_unique_key"] += 1
        return []
    created = _time(record, "created_date", skipped)
    if created is None:
        if not _value(record, "created_date"):
            skipped["missing_created_date"] += 1
        return []
    created_epoch, created_iso = localise(created)
    agency = _value(record, "agency")

    def event(kind: str, iso: str, **extra: str) -> dict[str, str]:
        base = {"v": CONTRACT_VERSION, "event_id": f"{SOURCE}:{key}:{kind}", "type": kind,
                "request_id": key, "ts": iso, "source": SOURCE}
        return base | {k: v for k, v in extra.items() if v}

    first = event("created", created_iso, channel=_value(record, "open_data_channel_type"),
                  category=_value(record, "complaint_type"), district=_value(record, "borough"),
                  unit=agency, title=_value(record, "descriptor") or _value(record, "complaint_type"),
                  text=describe(record), **_location(record, skipped))
    due = _time(record, "due_date", skipped)
    if due is not None:
        due_epoch, due_iso = localise(due)
        if due_epoch < created_epoch:
            skipped["due_date_before_created"] += 1
        else:
            first["deadline"] = due_iso
    out = [(created_epoch, first)]
    if agency:
        out.append((created_epoch, event("assigned", created_iso, unit=agency)))
    else:
        skipped["assigned_without_agency"] += 1
    closed = _time(record, "closed_date", skipped)
    if closed is not None:
        epoch, iso = localise(closed)
        if epoch < created_epoch:
            skipped["closed_before_created"] += 1
        else:
            out.append((epoch, event("resolved", iso, unit=agency,
                                     text=_value(record, "resolution_description"))))
    elif _value(record, "status").lower() == "closed" and not _value(record, "closed_date"):
        skipped["closed_status_without_date"] += 1
    return out


def events_from_records(records: Iterable[dict[str, str]]) -> FeedResult:
    result = FeedResult()
    pairs: list[tuple[int, dict[str, str]]] = []
    seen: set[str] = set()
    for record in records:
        result.records += 1
        key = _value(record, "unique_key")
        if key and key in seen:
            result.skipped["duplicate_record"] += 1
            continue
        seen.add(key)
        pairs.extend(record_events(record, result.skipped))
    pairs.sort(key=lambda pair: pair[0])          # stable: lifecycle and file order survive ties
    result.times = [t for t, _ in pairs]
    result.events = [e for _, e in pairs]
    return result


def load_events(path: str | Path, fmt: str = "auto", columns: list[str] | None = None) -> FeedResult:
    """Every event of an NYC 311 export, sorted by event time (stable)."""
    return events_from_records(read_records(path, fmt, columns))
