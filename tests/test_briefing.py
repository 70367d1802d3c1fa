"""The daily briefing: its figures against pandas over a raw NYC 311 export, its text as printed (read
back from the PDF by OCR), personal data masked in a Chinese briefing, the schedule's once-a-day
rule between two schedulers, and the routes that serve stored briefings. Real Redis throughout."""

from __future__ import annotations

import re
import subprocess
import threading
from datetime import date, datetime, time as clock_time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pandas as pd
import pytest
from flask import Flask

from dashboard import briefing, briefing_render, briefing_web, briefings, clock
from dashboard.aggregator import Aggregator
from dashboard.errors import StoreUnavailable
from dashboard.feeds.nyc311 import load_events
from dashboard.feeds.simulate import Simulator
from dashboard.keys import Keys
from dashboard.settings import Settings
from dashboard.store import connect, free_port

from .conftest import require_file, xadd_all
from .test_manager_figures import GOZZI, GOZZI_COLUMNS, nyc_raw

NY = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2020, 1, 3)                                         # 4,556 appeals, the day before 5,397
CLOCK = datetime(2020, 1, 12, 12, 0, tzinfo=NY).timestamp()   # the replay stopped nine days later
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
ID_NUMBER = re.compile(r"(?<![0-9])[1-8][0-9]{16}[0-9Xx](?![0-9])")


def load(redis_url, profile, events, times, until) -> None:
    """Flush, send the events that happened by ``until``, aggregate, and stop the clock at ``until``."""
    client = connect(redis_url)
    client.flushdb()
    keys = Keys(profile.city)
    xadd_all(client, keys.stream, [e for e, t in zip(events, times) if t <= until])
    Aggregator(client, profile, Settings(redis_url=redis_url, batch=2000)).run_until_idle()
    clock.set_replay(client, keys, until, speed=0)
    client.close()


def ocr(pdf: bytes, tmp_path, lang: str) -> str:
    """The first page of a PDF as an image (pdftoppm), read back by tesseract."""
    (tmp_path / "b.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "200", "-f", "1", "-l", "1", "-png", "-singlefile", str(tmp_path / "b.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    done = subprocess.run(["tesseract", str(tmp_path / "page.png"), "-", "-l", lang], capture_output=True,
                          check=True, timeout=120)
    return done.stdout.decode("utf-8")


def pdf_text(pdf: bytes, tmp_path) -> str:
    (tmp_path / "t.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(tmp_path / "t.pdf"), "-"], capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8")


def cell(html: str, key: str, attr: str = "data-figure") -> str:
    found = re.search(rf'{attr}="{key}">([^<]*)<', html)
    assert found, key
    return found[1]


# -- the NYC briefing against pandas over the raw file ----------------------------------------------

@pytest.fixture(scope="module")
def gozzi_briefing(redis_url, nyc):
    feed = load_events(require_file(GOZZI), columns=GOZZI_COLUMNS)
    load(redis_url, nyc, feed.events, feed.times, CLOCK)
    client = connect(redis_url)
    made = briefings.make(client, Keys(nyc.city), nyc, DAY)
    client.flushdb()
    client.close()
    return made, nyc_raw(GOZZI, CLOCK, names=GOZZI_COLUMNS)


def midnight(d: date, tz=NY) -> float:
    return datetime.combine(d, clock_time(0), tz).timestamp()


def by_hand(raw: pd.DataFrame, d: date) -> dict:
    """The briefing's figures for day ``d`` from the raw rows, by docs/briefing.md."""
    lo, hi = midnight(d), midnight(d + timedelta(days=1))
    received = (raw.c >= lo) & (raw.c < hi)
    closed = raw.r.notna() & (raw.r >= lo) & (raw.r < hi)
    took = (raw.r - raw.c)[closed]
    open_ = (raw.c < hi) & ~(raw.r < hi)
    hours = pd.to_datetime(raw.c[received], unit="s", utc=True).dt.tz_convert(NY).dt.hour
    return {
        "received": int(received.sum()),
        "resolved_now": int((received & raw.r.notna()).sum()),
        "resolved_in_period": int(closed.sum()),
        "on_time": (int((closed & (raw.r <= raw.dl)).sum()), int(closed.sum())),
        "median_resolution": took[took >= 0].median(),
        "open": int(open_.sum()),
        "overdue": int((open_ & (raw.dl < hi)).sum()),
        "hourly": np.bincount(hours, minlength=24).tolist(),
        "categories": raw.category[received].value_counts(),
    }


@pytest.mark.slow
def test_figures_match_pandas_over_the_raw_file_and_the_page_shows_them(gozzi_briefing):
    made, raw = gozzi_briefing
    c = made.content
    want, want_before = by_hand(raw, DAY), by_hand(raw, DAY - timedelta(days=1))
    cur, prev = c["summary"]["current"], c["summary"]["previous"]
    assert c["whole_day"] and c["day"] == "2020-01-03"
    for got, w, open_, overdue in ((cur, want, c["open"], c["overdue"]),
                                   (prev, want_before, c["open_before"], c["overdue_before"])):
        assert got["received"] == w["received"]
        assert got["resolved_in_period"] == w["resolved_in_period"]
        assert (got["resolution_rate"]["num"], got["resolution_rate"]["den"]) == (w["resolved_now"], w["received"])
        assert (got["on_time_rate"]["num"], got["on_time_rate"]["den"]) == w["on_time"]
        assert got["resolution"]["median_s"] == pytest.approx(w["median_resolution"])
        assert (open_, overdue) == (w["open"], w["overdue"])
    assert c["hourly"] == want["hourly"] and c["hourly_before"] == want_before["hourly"]
    top = want["categories"]
    assert [(r["name"], r["count"]) for r in c["categories"]] == list(zip(top.index, top.values))[:briefing.TOP]
    print(f"\n{DAY}: received {want['received']} (day before {want_before['received']}), resolved that day "
          f"{want['resolved_in_period']}, open at the end {want['open']}, overdue {want['overdue']}, "
          f"median to resolve {want['median_resolution'] / 3600:.2f} h")

    page = made.html.decode("utf-8")
    assert cell(page, "received") == str(want["received"])
    assert cell(page, "received", "data-figure-before") == str(want_before["received"])
    assert cell(page, "resolved_in_period") == str(want["resolved_in_period"])
    assert cell(page, "open") == str(want["open"]) and cell(page, "overdue") == str(want["overdue"])
    assert f"({want['resolved_now']}/{want['received']})" in cell(page, "resolution_rate")
    # One file: the charts are inside it, nothing is fetched.
    assert page.count('src="data:image/png;base64,') == 2
    assert not re.search(r'(src|href)="(?!data:)', page)


@pytest.mark.slow
def test_the_printed_pdf_reads_back_with_the_title_date_and_received_count(gozzi_briefing, tmp_path):
    made, raw = gozzi_briefing
    assert made.pdf.startswith(b"%PDF")
    text = ocr(made.pdf, tmp_path, "eng")
    assert "Daily briefing" in text
    assert "2020-01-03" in text
    # Tesseract reads a table column by column, so the count is looked for as a word of its own.
    assert str(by_hand(raw, DAY)["received"]) in text.split(), text[:800]


# -- a Chinese briefing: personal data masked -------------------------------------------------------

T_ZH = datetime(2026, 3, 18, 21, 0, tzinfo=SHANGHAI).timestamp()
RAW_PHONE, RAW_ID = "13812345678", "410802199001011234"


def crafted_case(category: str, day_start: float) -> list[dict[str, str]]:
    """An appeal of the day's largest category, resolved in five minutes and rated satisfied, so the
    rule picks it first; its text carries a phone and an ID number and markup."""
    rid = "JZ-CRAFTED-1"
    base = {"v": "1", "request_id": rid, "source": "test"}
    t = day_start + 10 * 3600

    def ts(offset: float) -> str:
        return datetime.fromtimestamp(t + offset, SHANGHAI).isoformat()

    text = f"<b>路灯</b><script>alert(1)</script>不亮，联系电话{RAW_PHONE}，身份证号{RAW_ID}。"
    return [
        base | {"event_id": rid + ":c", "type": "created", "ts": ts(0), "category": category, "district": "温县",
                "channel": "hotline", "title": f"路灯不亮 电话{RAW_PHONE}", "text": text, "unit": "温县城管局"},
        base | {"event_id": rid + ":a", "type": "assigned", "ts": ts(30), "unit": "温县城管局"},
        base | {"event_id": rid + ":f", "type": "responded", "ts": ts(60), "unit": "温县城管局"},
        base | {"event_id": rid + ":r", "type": "resolved", "ts": ts(300), "unit": "温县城管局",
                "text": f"已修复。回访电话{RAW_PHONE}。"},
        base | {"event_id": rid + ":s", "type": "rated", "ts": ts(900), "satisfaction": "5"},
    ]


@pytest.mark.slow
def test_chinese_briefing_masks_phone_and_id_numbers_and_prints_its_title(redis_url, jiaozuo, tmp_path):
    events = Simulator(jiaozuo, seed=7, start=T_ZH, per_day=240, backfill_hours=48).due(T_ZH)
    day_start = midnight(date(2026, 3, 18), SHANGHAI)
    created = [e for e in events if e["type"] == "created"
               and day_start <= datetime.fromisoformat(e["ts"]).timestamp() < T_ZH]
    largest = pd.Series([e["category"] for e in created]).value_counts().index[0]
    events += crafted_case(largest, day_start)
    load(redis_url, jiaozuo, events, [datetime.fromisoformat(e["ts"]).timestamp() for e in events], T_ZH)
    client = connect(redis_url)
    keys = Keys(jiaozuo.city)
    made = briefings.make(client, keys, jiaozuo, date(2026, 3, 18))
    typical = [case["id"] for case in made.content["typical"]]
    assert typical[0] == "JZ-CRAFTED-1" and len(typical) == briefing.TYPICAL
    raw_texts = [orjson.loads(client.get(keys.request(rid))) for rid in typical]
    numbers = {n for s in raw_texts for f in ("title", "text", "rtext")
               for n in MOBILE.findall(s.get(f) or "") + ID_NUMBER.findall(s.get(f) or "")}
    assert {RAW_PHONE, RAW_ID} <= numbers
    page, printed = made.html.decode("utf-8"), pdf_text(made.pdf, tmp_path)
    assert "138****5678" in page and "138****5678" in printed
    for number in numbers:
        assert number not in page and number not in printed, number
    # Markup in a citizen's text arrives as text.
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "简报" in ocr(made.pdf, tmp_path, "chi_sim").replace(" ", "")
    client.close()


# -- the schedule ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_one_schedule_step_makes_the_days_briefing_once_and_a_second_scheduler_does_not(client, jiaozuo, redis_url,
                                                                                        tmp_path):
    keys = Keys(jiaozuo.city)
    at_20 = datetime(2026, 3, 18, 20, 0, tzinfo=SHANGHAI).timestamp()
    events = Simulator(jiaozuo, seed=5, start=at_20, per_day=120, backfill_hours=30).due(at_20)
    load(redis_url, jiaozuo, events, [datetime.fromisoformat(e["ts"]).timestamp() for e in events], at_20 - 60)
    first = briefings.Scheduler(client, keys, jiaozuo, clock_time(20, 0), tmp_path / "a", name="a")
    second = briefings.Scheduler(client, keys, jiaozuo, clock_time(20, 0), tmp_path / "b", name="b")
    assert first.step() is None                         # 19:59: not yet
    clock.set_replay(client, keys, at_20 + 1800, speed=0)
    assert first.step() == "2026-03-18"
    assert second.step() is None and first.step() is None
    assert list(briefings.stored(client, keys)) == ["2026-03-18"]
    assert [p.name for p in (tmp_path / "a").iterdir()] != [] and not (tmp_path / "b").exists()
    assert client.get(keys.briefing_lock("2026-03-18")) == b"a"
    assert client.ttl(keys.briefing("2026-03-18", "pdf")) > 89 * 86400
    # Served by the route as stored.
    app = Flask("t")
    briefing_web.register(app, lambda: client, keys, jiaozuo)
    answer = app.test_client().get("/manager/briefings/2026-03-18.pdf")
    assert answer.status_code == 200 and answer.data.startswith(b"%PDF")


def test_a_scheduler_without_redis_logs_and_keeps_going(jiaozuo):
    dead = connect(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.2, retries=0)
    scheduler = briefings.Scheduler(dead, Keys(jiaozuo.city), jiaozuo, clock_time(20, 0))
    with pytest.raises(StoreUnavailable):
        scheduler.step()
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    scheduler.run(stop, poll_s=0.05)                    # returns when stopped, having retried
    assert stop.is_set()


# -- the routes ------------------------------------------------------------------------------------

def test_routes_list_serve_and_refuse(client, nyc):
    keys = Keys(nyc.city)
    for day in ("2024-05-26", "2024-05-27"):
        briefings.store(client, keys, briefings.Made(day, b"<!DOCTYPE html><p>x</p>", b"%PDF-1.7 test",
                                                      {"until": 0.0, "whole_day": True}))
    app = Flask("t")
    briefing_web.register(app, lambda: client, keys, nyc)
    web = app.test_client()
    listed = web.get("/manager/briefings/")
    assert listed.status_code == 200
    assert [b["date"] for b in listed.json["briefings"]] == ["2024-05-27", "2024-05-26"]
    assert listed.json["briefings"][0]["pdf"] == "/manager/briefings/2024-05-27.pdf"
    pdf = web.get("/manager/briefings/2024-05-27.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="briefing-nyc-2024-05-27.pdf"'
    page = web.get("/manager/briefings/2024-05-26.html")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Content-Disposition"].startswith("inline;")
    missing = web.get("/manager/briefings/2024-05-25.pdf")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    for bad in ("2024-13-40.pdf", "yesterday.pdf", "2024-05-27.doc", "2024-5-27.html", "２０２４-05-27.pdf"):
        answer = web.get("/manager/briefings/" + bad)
        assert answer.status_code == 400 and answer.json["error"] == "bad_name", bad


# -- pure parts ------------------------------------------------------------------------------------

def frame(rows: list[tuple]) -> pd.DataFrame:
    """Appeals as (id, category, c, r, dl, sat, rated_at)."""
    df = pd.DataFrame(rows, columns=["id", "category", "c", "r", "dl", "sat", "rated_at"]).set_index("id")
    for col in ("district", "channel", "unit"):
        df[col] = ""
    return df.astype({"c": float, "r": float, "dl": float, "sat": float, "rated_at": float})


def test_typical_cases_go_round_the_largest_categories_preferring_satisfied_on_time_and_fast():
    from dashboard.manager import Window
    nan = np.nan
    f = frame([
        ("a1", "A", 0, 500, 1000, 5, 600),      # satisfied, on time, 500 s
        ("a2", "A", 0, 100, 1000, 2, 600),      # fastest, but not satisfied
        ("a3", "A", 0, 50, 1000, nan, nan),     # not rated
        ("a4", "A", 10, nan, 1000, nan, nan),   # open: never typical
        ("b1", "B", 0, 400, 100, 5, 600),       # satisfied but late
        ("b2", "B", 0, 300, 1000, 4, 600),      # satisfied, on time
        ("c1", "C", 0, 200, 1000, 5, 600),
        ("x1", "A", -5000, -4000, 0, 5, -3000),  # resolved before the window
    ])
    w = Window(0, 2000, True, False)
    # Received: A 4, B 2, C 1, so A, B, C, then round again.
    assert briefing.typical_cases(f, w, n=5) == ["a1", "b2", "c1", "a3", "b1"]
    assert briefing.typical_cases(f, w, n=2) == ["a1", "b2"]
    assert briefing.typical_cases(f, Window(5000, 6000, True, False)) == []


def test_day_of_refuses_a_day_not_begun_and_one_older_than_the_days_held():
    now = datetime(2026, 3, 18, 9, 0, tzinfo=SHANGHAI).timestamp()
    d = briefing.day_of(date(2026, 3, 18), now, SHANGHAI)
    assert not d.whole and d.until == now and d.previous.end == now - 86400
    whole = briefing.day_of(date(2026, 3, 17), now, SHANGHAI)
    assert whole.whole and whole.until == midnight(date(2026, 3, 18), SHANGHAI)
    with pytest.raises(briefing.BriefingError, match="has not begun"):
        briefing.day_of(date(2026, 3, 19), now, SHANGHAI)
    with pytest.raises(briefing.BriefingError, match="more than 90 days"):
        briefing.day_of(date(2025, 12, 1), now, SHANGHAI)


def test_a_day_before_the_first_appeal_held_is_refused_by_name(client, nyc):
    keys = Keys(nyc.city)
    clock.set_replay(client, keys, datetime(2024, 5, 27, 9, 0, tzinfo=NY).timestamp(), speed=0)
    with pytest.raises(briefing.BriefingError, match="no appeal is held"):
        briefings.make(client, keys, nyc, date(2024, 5, 26))


def test_masked_text_is_cut_after_masking():
    text = "电话" + RAW_PHONE + "。" * 10
    out = briefing.masked(text, 10)
    assert RAW_PHONE not in out and out.endswith("…") and len(out) == 10
    assert not re.search(r"[0-9]{5}", briefing.masked("x" * 5 + RAW_PHONE, 12))


def test_a_missing_chromium_is_named(monkeypatch):
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(briefing_render.RenderError, match="CHROMIUM=/nonexistent/chromium"):
        briefing_render.pdf("<p>x</p>")


@pytest.mark.slow
def test_cli_writes_both_files_and_stores_them(client, nyc, redis_url, tmp_path, capsys):
    """civicwall briefing --date, end to end on a handful of appeals."""
    from dashboard.cli import main

    keys = Keys(nyc.city)
    t = datetime(2024, 5, 27, 9, 0, tzinfo=NY)
    events = [{"v": "1", "event_id": f"e{i}", "type": "created", "request_id": f"R{i}",
               "ts": (t + timedelta(minutes=i)).isoformat(), "category": "Noise", "district": "BRONX",
               "title": "Loud music", "text": "Call me at (212) 555-0134"} for i in range(3)]
    load(redis_url, nyc, events, [t.timestamp()] * 3, (t + timedelta(hours=2)).timestamp())
    code = main(["briefing", "--profile", "nyc", "--redis-url", redis_url, "--date", "2024-05-27",
                 "--out", str(tmp_path)])
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["briefing-nyc-2024-05-27.html", "briefing-nyc-2024-05-27.pdf"]
    assert "received 3" in capsys.readouterr().err
    assert list(briefings.stored(client, keys)) == ["2024-05-27"]
    assert main(["briefing", "--profile", "nyc", "--redis-url", redis_url, "--date", "2024-06-30"]) == 2
