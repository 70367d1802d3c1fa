"""Open311 GeoReport v2: a requests.json file, and a live endpoint polled as a feed of changes.

The endpoint is a local HTTP server answering with GeoReport JSON written by hand from the specification
(tests/data/open311/): it selects by start_date/end_date on requested_datetime, pages with page and
page_size, and can throttle with 429 + Retry-After or refuse with a GeoReport error."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from dashboard import cli
from dashboard.imports.open311 import GeoReportClient, Open311Error, Poller, open311_mapping, retry_after
from dashboard.keys import Keys

from .conftest import wait_until

DATA = Path(__file__).parent / "data" / "open311"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc).timestamp()


def records(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


class Endpoint:
    """A GeoReport v2 server in a thread. ``state`` is what requests.json holds now."""

    def __init__(self):
        self.state: list[dict] = records("requests.json")
        self.page_size = 2                 # the server's own default, as many servers have one
        self.throttle: list[str] = []      # Retry-After values for the next answers (429)
        self.error: tuple[int, bytes] | None = None
        self.log: list[tuple[float, dict[str, str]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                endpoint.log.append((time.monotonic(), params))
                if url.path != "/open311/v2/requests.json":
                    return self._send(404, b'[{"code":404,"description":"not found"}]')
                if endpoint.throttle:
                    self.send_response(429)
                    self.send_header("Retry-After", endpoint.throttle.pop(0))
                    self.end_headers()
                    return
                if endpoint.error:
                    return self._send(*endpoint.error)
                start = datetime.fromisoformat(params["start_date"].replace("Z", "+00:00"))
                end = datetime.fromisoformat(params["end_date"].replace("Z", "+00:00"))
                chosen = [r for r in endpoint.state
                          if start <= datetime.fromisoformat(r["requested_datetime"]) <= end]
                size = int(params.get("page_size", endpoint.page_size))
                page = int(params.get("page", 1))
                self._send(200, json.dumps(chosen[(page - 1) * size: page * size]).encode())

            def _send(self, code: int, body: bytes):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/open311/v2"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


def poller(client, nyc, endpoint, **api) -> Poller:
    api = {"min_interval": 0.0} | api
    return Poller(client, Keys(nyc.city), nyc, GeoReportClient(endpoint.url, **api), open311_mapping(nyc),
                  lookback_days=7, now=lambda: NOW)


def stream(client, nyc) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in client.xrange(Keys(nyc.city).stream)]


def kinds(events) -> list[tuple[str, str]]:
    return sorted((e["request_id"], e["type"]) for e in events)


# -- a requests.json file ---------------------------------------------------------------------------

def test_a_requests_json_file_imports(client, nyc, redis_url, tmp_path, capsys):
    report = tmp_path / "r.json"
    code = cli.main(["import", "--profile", "nyc", "--redis-url", redis_url, "--report", str(report),
                     "open311", str(DATA / "requests.json")])
    assert code == 0
    got = stream(client, nyc)
    raw = records("requests.json")
    closed = {r["service_request_id"]: r["updated_datetime"] for r in raw if r["status"] == "closed"}
    # Every request is created (and assigned to its agency); only the closed ones are resolved, at their
    # updated_datetime; an open request's updated_datetime is not a closing.
    assert kinds(e for e in got if e["type"] == "created") == sorted((r["service_request_id"], "created") for r in raw)
    resolved = {e["request_id"]: e["ts"] for e in got if e["type"] == "resolved"}
    assert {k: datetime.fromisoformat(v) for k, v in resolved.items()} == \
        {k: datetime.fromisoformat(v) for k, v in closed.items()}
    created = {e["request_id"]: e for e in got if e["type"] == "created"}
    assert created["638344"]["category"] == "Pothole"
    assert created["638344"]["unit"] == "Department of Transportation"
    assert (created["638344"]["lat"], created["638344"]["lon"]) == ("40.757287", "-73.989921")
    assert datetime.fromisoformat(created["638344"]["deadline"]) == datetime.fromisoformat("2026-12-03T08:12:00-05:00")
    assert "lat" not in created["638362"]                       # empty coordinates are no location
    assert [e["text"] for e in got if e["request_id"] == "638351" and e["type"] == "resolved"] == ["Graffiti removed."]
    assert json.loads(report.read_text())["rows_rejected"] == {}


# -- the live feed ------------------------------------------------------------------------------------

def test_the_first_poll_pages_through_the_window_and_emits_every_lifecycle(client, nyc, endpoint):
    result = poller(client, nyc, endpoint).poll_once()
    raw = records("requests.json")
    assert (result.records, result.new, result.closed) == (len(raw), len(raw), 0)
    got = stream(client, nyc)
    expected = [(r["service_request_id"], "created") for r in raw] + \
        [(r["service_request_id"], "assigned") for r in raw] + \
        [(r["service_request_id"], "resolved") for r in raw if r["status"] == "closed"]
    assert kinds(got) == sorted(expected)
    # Three pages of two, then an empty page; each asked for the last seven days up to now.
    params = [p for _, p in endpoint.log]
    assert [p.get("page") for p in params] == ["1", "2", "3", "4"]
    assert {(p["start_date"], p["end_date"]) for p in params} == {("2026-11-26T12:00:00Z", "2026-12-03T12:00:00Z")}


def test_later_polls_emit_only_what_changed_and_survive_a_restart(client, nyc, endpoint):
    first = poller(client, nyc, endpoint)
    first.poll_once()
    before = len(stream(client, nyc))
    again = first.poll_once()
    assert (again.new, again.closed, again.reopened, again.events) == (0, 0, 0, 0)
    assert again.unchanged == len(records("requests.json"))
    endpoint.state = records("requests-later.json")
    # A new poller, as after a restart: what was emitted is remembered in Redis.
    later = poller(client, nyc, endpoint).poll_once()
    assert (later.new, later.closed, later.reopened) == (1, 1, 1)
    new = stream(client, nyc)[before:]
    assert kinds(new) == [("638349", "resolved"), ("638351", "reopened"), ("638377", "assigned"),
                          ("638377", "created")]
    reopened = next(e for e in new if e["type"] == "reopened")
    assert datetime.fromisoformat(reopened["ts"]) == datetime.fromisoformat("2026-12-02T18:00:00-05:00")
    # The request received before the window never reached the stream.
    assert all(e["request_id"] != "600001" for e in stream(client, nyc))
    # Closed again after the reopening: a second closing, under its own event id.
    endpoint.state = [dict(r, status="closed", updated_datetime="2026-12-03T06:00:00-05:00")
                      if r["service_request_id"] == "638351" else r for r in endpoint.state]
    closed_again = poller(client, nyc, endpoint).poll_once()
    assert closed_again.closed == 1
    resolved = [e["event_id"] for e in stream(client, nyc) if e["request_id"] == "638351" and e["type"] == "resolved"]
    assert len(resolved) == len(set(resolved)) == 2


def test_the_aggregator_counts_the_polled_changes(client, nyc, endpoint, settings):
    from dashboard import snapshot
    from dashboard.aggregator import Aggregator

    poller(client, nyc, endpoint).poll_once()
    endpoint.state = records("requests-later.json")
    poller(client, nyc, endpoint).poll_once()
    Aggregator(client, nyc, settings, consumer="test").run_until_idle()
    a = snapshot.build(client, Keys(nyc.city), nyc)["all_time"]
    later = [r for r in records("requests-later.json") if r["service_request_id"] != "600001"]
    assert a["received"] == len(later)
    assert a["open"] == sum(r["status"] == "open" for r in later)


def test_throttling_is_honoured(client, nyc, endpoint):
    endpoint.throttle = ["1", "1"]
    started = time.monotonic()
    poller(client, nyc, endpoint).poll_once()
    times = [t for t, _ in endpoint.log]
    # Two refusals, each followed by the wait the server asked for, then the pages.
    assert len(times) == 2 + 4
    assert times[1] - times[0] >= 0.97 and times[2] - times[1] >= 0.97
    assert time.monotonic() - started >= 2.0


def test_the_client_keeps_its_minimum_interval(client, nyc, endpoint):
    poller(client, nyc, endpoint, min_interval=0.3).poll_once()
    times = [t for t, _ in endpoint.log]
    # The client spaces its sends; the server sees them with a little scheduling jitter either way.
    assert len(times) == 4 and all(b - a >= 0.27 for a, b in zip(times, times[1:]))


def test_a_server_that_ignores_page_is_read_once(client, nyc, endpoint):
    endpoint.page_size = 100                       # everything on every page, whatever page is asked
    result = poller(client, nyc, endpoint, page_size=0).poll_once()
    assert result.new == len(records("requests.json"))
    assert [p.get("page") for _, p in endpoint.log] == ["1", "2"]   # page 2 repeated page 1: stop


def test_errors_name_the_servers_description_and_never_end_the_feed(client, nyc, endpoint):
    endpoint.error = (403, (DATA / "error-403.json").read_bytes())
    p = poller(client, nyc, endpoint)
    with pytest.raises(Open311Error, match="HTTP 403: 403 Invalid api_key received"):
        p.poll_once()
    stop = threading.Event()
    runner = threading.Thread(target=p.run, args=(stop, 0.05))
    runner.start()
    try:
        meta = wait_until(lambda: client.hgetall(Keys(nyc.city).open311_meta), timeout=10,
                          what="the first poll's outcome in Redis")
        assert meta[b"ok"] == b"0" and b"Invalid api_key" in meta[b"summary"]
        assert runner.is_alive()
        endpoint.error = None                       # the server recovers; the feed carries on
        wait_until(lambda: client.hget(Keys(nyc.city).open311_meta, "ok") == b"1", timeout=10,
                   what="a successful poll after the server recovered")
    finally:
        stop.set()
        runner.join(5)
    assert len(stream(client, nyc)) > 0


def test_an_unreachable_endpoint_is_a_clear_error(client, nyc):
    api = GeoReportClient("http://127.0.0.1:9/open311/v2", min_interval=0, timeout=2)
    with pytest.raises(Open311Error, match="cannot be reached"):
        api.get(start_date="2026-12-01T00:00:00Z")
    with pytest.raises(Open311Error, match="not an http"):
        GeoReportClient("ftp://example.org/open311")


@pytest.mark.parametrize("header, expected", [("7", 7.0), ("100000", 300.0), (None, 5.0), ("soon", 5.0)])
def test_retry_after_values(header, expected):
    assert retry_after(header, 5.0) == expected


def test_retry_after_as_an_http_date():
    from email.utils import format_datetime
    when = format_datetime(datetime.fromtimestamp(time.time() + 30, timezone.utc), usegmt=True)
    assert 25 <= retry_after(when, 5.0) <= 30


def test_the_command_polls_once(client, nyc, endpoint, redis_url, capsys):
    code = cli.main(["open311", "--profile", "nyc", "--redis-url", redis_url, "--once", "--min-interval", "0",
                     "--lookback-days", "400", endpoint.url])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{len(records('requests.json'))} new" in out


def test_a_copy_of_the_open311_mapping_with_a_district_rule(client, nyc, redis_url, tmp_path, capsys):
    packaged = (Path(__file__).resolve().parents[1] / "dashboard" / "imports" / "open311.toml").read_text(encoding="utf-8")
    mine = packaged.replace('zone = "UTC"', 'zone = "America/New_York"').replace(
        '[status]', 'district = "extended_attributes.borough"\n\n[status]')
    copy = tmp_path / "my311.toml"
    copy.write_text(mine, encoding="utf-8")
    data = [dict(r, extended_attributes={"borough": "MANHATTAN"}) for r in records("requests.json")]
    (tmp_path / "r.json").write_text(json.dumps(data), encoding="utf-8")
    assert cli.main(["import", "--profile", "nyc", "--redis-url", redis_url, str(copy), str(tmp_path / "r.json")]) == 0
    created = [e for e in stream(client, nyc) if e["type"] == "created"]
    assert {e["district"] for e in created} == {"MANHATTAN"} and len(created) == len(data)
    # A name the records do not carry is a mistake, not an empty column.
    copy.write_text(mine.replace("extended_attributes.borough", "borogh"), encoding="utf-8")
    assert cli.main(["import", "--profile", "nyc", "--redis-url", redis_url, str(copy), str(tmp_path / "r.json")]) == 2
    assert "no column 'borogh'" in capsys.readouterr().err
