"""Open311 GeoReport v2: ``requests.json`` files, and a live endpoint polled as a feed of changes.

Records become events through the packaged mapping ``open311.toml`` (docs/import.md, "Open311"):
``requested_datetime`` is the received time, ``updated_datetime`` the closing time when ``status`` is
``closed``, ``service_name`` the category, ``agency_responsible`` the unit, ``status_notes`` the reply. A
mapping of one's own (``--mapping``) may add to it, a district rule for example.

``civicwall open311 URL`` polls ``URL/requests.json`` every ``--every`` seconds for the requests
received in the last ``--lookback-days`` (GeoReport's ``start_date``/``end_date`` select on the received
time, so a closing of an older request is seen as long as the request is inside the window), page by page
(``page``, and ``page_size`` when given; it stops at a short or empty page, or at a page that repeats the
previous one, for servers that ignore ``page``). It emits only what changed since the last poll: the
lifecycle of a request it has not seen, ``resolved`` when a request it saw open is closed, ``reopened`` when
one it saw closed is open again. What it last emitted per request is kept in Redis
(``cw:{city}:open311:seen``), so a restarted poller does not emit anything twice.

It is a polite client: at most one request per ``--min-interval`` seconds; on HTTP 429 or 503 it waits as
long as ``Retry-After`` says (seconds or an HTTP date; else a backoff doubling from 5 s to 5 minutes);
a failed poll is logged with the server's GeoReport error description and retried at the next interval,
never ending the process.
"""

from __future__ import annotations

import argparse
import dataclasses
import email.utils
import json
import math
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import structlog

from ..errors import CivicwallError, FeedError
from ..keys import Keys
from ..profiles import Profile, load_profile
from ..settings import Settings
from ..store import connect, translated
from ..feeds.common import stop_on_signals, xadd_all
from ..contract import Rejection
from .convert import Converter, Report
from .mapping import Mapping, load_mapping
from .tables import Table, json_records, records_table

log = structlog.get_logger("civicwall.open311")
PACKAGED = Path(__file__).with_name("open311.toml")
FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
          "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
          "address", "address_id", "zipcode", "lat", "long", "media_url")
USER_AGENT = "civicwall-open311/1 (+https://github.com/civicwall)"
MAX_PAGES = 200
BACKOFF_MIN_S, BACKOFF_MAX_S = 5.0, 300.0


class Open311Error(CivicwallError):
    """The endpoint could not be reached or answered with an error; the message says which."""


def open311_mapping(profile: Profile, path: str | Path | None = None) -> Mapping:
    """The packaged mapping (or ``path``), in the profile's time zone."""
    mapping = load_mapping(path or PACKAGED)
    return dataclasses.replace(mapping, tz=profile.tz) if path is None else mapping


def open311_table(path: Path, options) -> Table:
    """A requests.json file as a table: every field the specification names is a column, present or not,
    and so is every other key the records carry (``extended_attributes.borough``); a mapping naming
    anything else is told so. A GeoReport error answer saved as a file is named as one."""
    data = json_records(Path(path), options)
    if data and all(isinstance(d, dict) and set(d) <= {"code", "description"} for d in data):
        raise FeedError(f"{Path(path).name}: a GeoReport error answer, not service requests: "
                        f"{error_text(json.dumps(data).encode())}")
    return records_table(data, FIELDS)


# -- the HTTP side -----------------------------------------------------------------------------------

class GeoReportClient:
    """GET ``requests.json`` pages politely. ``wait(seconds)`` sleeps (and returns True to stop early)."""

    def __init__(self, base_url: str, *, api_key: str = "", jurisdiction_id: str = "", page_size: int = 0,
                 min_interval: float = 1.0, timeout: float = 30.0, wait: Callable[[float], bool] | None = None,
                 retries: int = 4):
        base = base_url.rstrip("/")
        self.url = base if base.endswith(".json") else base + "/requests.json"
        if not self.url.startswith(("http://", "https://")):
            raise Open311Error(f"{base_url!r} is not an http(s) URL")
        self.api_key, self.jurisdiction_id, self.page_size = api_key, jurisdiction_id, page_size
        self.min_interval, self.timeout, self.retries = min_interval, timeout, retries
        self.wait = wait or (lambda s: bool(time.sleep(s)))
        self._last = -math.inf
        self.requests_made = 0

    def _params(self, extra: dict[str, Any]) -> dict[str, Any]:
        params = {k: v for k, v in extra.items() if v not in (None, "")}
        if self.api_key:
            params["api_key"] = self.api_key
        if self.jurisdiction_id:
            params["jurisdiction_id"] = self.jurisdiction_id
        if self.page_size:
            params["page_size"] = self.page_size
        return params

    def get(self, **params: Any) -> list[dict]:
        url = self.url + "?" + urllib.parse.urlencode(self._params(params))
        backoff = BACKOFF_MIN_S
        for attempt in range(self.retries + 1):
            gap = self._last + self.min_interval - time.monotonic()
            if gap > 0 and self.wait(gap):
                raise Open311Error("stopped")
            self._last = time.monotonic()
            self.requests_made += 1
            try:
                req = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    body = resp.read()
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 503) and attempt < self.retries:
                    delay = retry_after(exc.headers.get("Retry-After"), backoff)
                    log.warning("open311.throttled", status=exc.code, wait_s=round(delay, 1))
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                    if self.wait(delay):
                        raise Open311Error("stopped") from None
                    continue
                raise Open311Error(f"{self.url}: HTTP {exc.code}: {error_text(exc.read())}") from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise Open311Error(f"{self.url}: cannot be reached ({reason})") from None
            try:
                data = json.loads(body.decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError):
                raise Open311Error(f"{self.url}: the answer is not JSON ({body[:60]!r})") from None
            if isinstance(data, dict):          # some servers wrap the array
                data = next((v for k, v in data.items() if k in ("requests", "service_requests", "data")
                             and isinstance(v, list)), data)
            if not isinstance(data, list):
                raise Open311Error(f"{self.url}: expected an array of service requests")
            if data and all(isinstance(d, dict) and set(d) <= {"code", "description"} for d in data):
                raise Open311Error(f"{self.url}: {error_text(body)}")
            return data
        raise Open311Error(f"{self.url}: still throttled after {self.retries} retries")

    def all_pages(self, **params: Any) -> list[dict]:
        """Every page of one query, in order."""
        out: list[dict] = []
        previous: list | None = None
        for page in range(1, MAX_PAGES + 1):
            batch = self.get(**params, page=page)
            ids = [r.get("service_request_id") for r in batch if isinstance(r, dict)]
            if not batch or ids == previous:
                break
            out.extend(batch)
            previous = ids
            if self.page_size and len(batch) < self.page_size:
                break
        return out


def retry_after(value: str | None, fallback: float) -> float:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), capped at 5 minutes."""
    if value:
        value = value.strip()
        if value.isdigit():
            return min(float(value), BACKOFF_MAX_S)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return min(max((when - datetime.now(timezone.utc)).total_seconds(), 0.0), BACKOFF_MAX_S)
    return fallback


def error_text(body: bytes) -> str:
    """GeoReport errors are ``[{"code": 403, "description": "..."}]``; anything else, its start."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
        if isinstance(data, list) and data and isinstance(data[0], dict) and "description" in data[0]:
            return "; ".join(f"{d.get('code', '')} {d.get('description', '')}".strip() for d in data)
    except ValueError:
        pass
    text = " ".join(body[:400].decode("utf-8", "replace").split())
    return text[:200] or "no description"


def w3c(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# -- the feed ------------------------------------------------------------------------------------------

@dataclass
class PollResult:
    records: int = 0
    new: int = 0
    closed: int = 0
    reopened: int = 0
    unchanged: int = 0
    events: int = 0
    report: Report = field(default_factory=Report)

    def line(self) -> str:
        return (f"{self.records} requests: {self.new} new, {self.closed} closed, {self.reopened} reopened, "
                f"{self.unchanged} unchanged; {self.events} events written")


class Poller:
    def __init__(self, client, keys: Keys, profile: Profile, api: GeoReportClient, mapping: Mapping, *,
                 lookback_days: float = 7.0, now: Callable[[], float] = time.time):
        self.client, self.keys, self.profile, self.api, self.mapping = client, keys, profile, api, mapping
        self.lookback = timedelta(days=lookback_days)
        self.now = now

    def poll_once(self) -> PollResult:
        end = datetime.fromtimestamp(self.now(), timezone.utc)
        records = self.api.all_pages(start_date=w3c(end - self.lookback), end_date=w3c(end))
        return self.apply(records)

    def apply(self, records: list[dict]) -> PollResult:
        """Emit what changed in ``records`` since what was last emitted for each of them."""
        result = PollResult(records=len(records))
        table = records_table(records, FIELDS)
        converter = Converter(self.mapping, self.profile, table.columns)
        with translated("reading what the Open311 feed emitted before"):
            ids = [str(r.get("service_request_id", "")).strip() if isinstance(r, dict) else "" for r in records]
            before = dict(zip(ids, self.client.hmget(self.keys.open311_seen, ids))) if ids else {}
        out: list[dict[str, str]] = []
        seen_now: dict[str, str] = {}
        for (line, row), rid, record in zip(table.rows, ids, records):
            events = converter.row_events(line, row, result.report)
            if not events:
                continue
            status = "closed" if any(e["type"] == "resolved" for _, e in events) else "open"
            state = f"{status}|{record.get('updated_datetime') or ''}"
            old = before.get(rid)
            old = old.decode() if isinstance(old, bytes) else old
            if old is None:
                chosen = [self._once(e) if e["type"] in ("resolved", "rated") else e for _, e in events]
                result.new += 1
            else:
                old_status = old.split("|", 1)[0]
                if old_status == status:
                    result.unchanged += 1
                    continue
                if status == "closed":
                    chosen = [self._once(e) for _, e in events if e["type"] in ("resolved", "rated")]
                    result.closed += 1
                else:
                    chosen = [self._reopened(rid, record, events)]
                    result.reopened += 1
            out.extend(chosen)
            seen_now[rid] = state
        checked = []
        for e in out:
            verdict = converter.validator.validate(e)
            if isinstance(verdict, Rejection):
                result.report.contract_rejected[verdict.reason] += 1
                continue
            checked.append(e)
        checked.sort(key=lambda e: e["ts"])
        if checked:
            xadd_all(self.client, self.keys.stream, checked)
        if seen_now:
            with translated("remembering what the Open311 feed emitted"):
                self.client.hset(self.keys.open311_seen, mapping=seen_now)
        result.events = len(checked)
        return result

    @staticmethod
    def _once(event: dict[str, str]) -> dict[str, str]:
        """A closing seen by the poller: its event id carries the closing time, so a request closed,
        reopened and closed again is closed twice."""
        return event | {"event_id": f"{event['event_id']}:{event['ts']}"}

    def _reopened(self, rid: str, record: dict, events) -> dict[str, str]:
        created = events[0][1]
        ts = str(record.get("updated_datetime") or "").strip() or datetime.fromtimestamp(
            self.now(), self.profile.tz).isoformat(timespec="seconds")
        return {"v": created["v"], "event_id": f"{self.mapping.source}:{rid}:reopened:{ts}", "type": "reopened",
                "request_id": created["request_id"], "ts": ts, "source": self.mapping.source}

    def run(self, stop: threading.Event, every_s: float) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                result = self.poll_once()
                log.info("open311.poll", **{k: v for k, v in dataclasses.asdict(result).items() if k != "report"})
                self._meta(ok=True, line=result.line())
            except CivicwallError as exc:        # Open311Error, StoreUnavailable: try again next time
                log.warning("open311.poll_failed", error=str(exc))
                try:
                    self._meta(ok=False, line=str(exc))
                except CivicwallError:
                    pass
            stop.wait(max(0.0, every_s - (time.monotonic() - started)))

    def _meta(self, ok: bool, line: str) -> None:
        with translated("recording the Open311 poll"):
            self.client.hset(self.keys.open311_meta, mapping={
                "last_poll": f"{self.now():.0f}", "ok": "1" if ok else "0", "summary": line[:500]})


# -- the command ----------------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="the endpoint's base URL (…/open311/v2) or its requests.json URL")
    p.add_argument("--every", type=float, default=60.0, metavar="S", help="seconds between polls (default 60)")
    p.add_argument("--lookback-days", type=float, default=7.0, metavar="D",
                   help="poll the requests received in the last D days (default 7)")
    p.add_argument("--page-size", type=int, default=0, help="ask for this many requests a page (page_size)")
    p.add_argument("--min-interval", type=float, default=1.0, metavar="S",
                   help="at most one HTTP request every S seconds (default 1)")
    p.add_argument("--api-key", default="", help="the endpoint's api_key, if it needs one")
    p.add_argument("--jurisdiction-id", default="", help="jurisdiction_id, for servers that host several cities")
    p.add_argument("--mapping", help="a mapping of your own instead of the packaged GeoReport one")
    p.add_argument("--once", action="store_true", help="poll once, print what changed, and exit")


def main(args, settings: Settings) -> int:
    profile = load_profile(settings.profile)
    mapping = open311_mapping(profile, args.mapping)
    client = connect(settings.redis_url, socket_timeout=settings.socket_timeout_s)
    keys = Keys(profile.city, settings.stream)
    with stop_on_signals() as stop:
        api = GeoReportClient(args.url, api_key=args.api_key, jurisdiction_id=args.jurisdiction_id,
                              page_size=args.page_size, min_interval=args.min_interval, wait=stop.wait)
        poller = Poller(client, keys, profile, api, mapping, lookback_days=args.lookback_days)
        if args.once:
            try:
                result = poller.poll_once()
            except Open311Error as exc:
                poller._meta(ok=False, line=str(exc))
                raise
            poller._meta(ok=True, line=result.line())
            print("open311: " + result.line())
            for line in result.report.lines()[1:]:
                print("  " + line)
            return 0
        print(f"open311: polling {api.url} every {args.every:g} s into {keys.stream} (Ctrl-C to stop)")
        poller.run(stop, args.every)
    return 0
