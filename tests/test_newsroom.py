"""The newsroom's ranking reasons on constructed cases, its search and filters, and the taken marks.

Each case is written as events into a real Redis and applied by the aggregator; what each appeal must
(and must not) be ranked for follows from how the case was built, with the rules of docs/newsroom.md
(profile defaults: at least 5 and 3x the usual level for a surge or a shared question, a usual level
over the previous 28 days, fast = at most 10 % of the category's median with 20 resolved behind it,
long-standing = 30 days or more, praised = rated 5).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from dashboard import clock
from dashboard.aggregator import Aggregator
from dashboard.keys import Keys
from dashboard.manager import FilterError, ManagerData
from dashboard.newsroom import NewsroomData, Query, baseline_for, question_key
from dashboard.manager import Window
from dashboard.profiles import NewsroomRules
from dashboard.taken import MarkRefused, TakenMarks

from .conftest import xadd_all

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 15, 0, tzinfo=SH)          # a Monday afternoon
TODAY = NOW.replace(hour=0, minute=0)
PHONE = "13812345678"


class Case:
    """Events of constructed appeals, ids numbered in order."""

    def __init__(self):
        self.events: list[dict[str, str]] = []
        self.n = 0

    def appeal(self, at: datetime, *, district="温县", category="城市管理", title="", text="",
               resolved_after: timedelta | None = None, rating: int | None = None) -> str:
        self.n += 1
        rid = f"T-{self.n:05d}"

        def ev(kind, when, **extra):
            self.events.append({"v": "1", "event_id": f"{rid}:{kind}", "type": kind, "request_id": rid,
                                "ts": when.isoformat(), **extra})

        ev("created", at, district=district, category=category, channel="hotline", title=title, text=text,
           unit="某单位")
        if resolved_after is not None:
            ev("resolved", at + resolved_after, text="已处理完毕，电话回复诉求人。", unit="某单位")
            if rating is not None:
                ev("rated", at + resolved_after + timedelta(minutes=5), satisfaction=str(rating))
        return rid


@pytest.fixture
def news(client, jiaozuo, settings):
    c = Case()
    ids: dict[str, list[str]] = {}

    def add(name, *args, **kwargs):
        ids.setdefault(name, []).append(c.appeal(*args, **kwargs))

    # Usual levels: 28 days of history before today, each appeal created at 09:00 (inside today's
    # hours up to 15:00) and resolved after 10 hours.
    for back in range(1, 29):
        day = TODAY - timedelta(days=back) + timedelta(hours=9)
        add("hist", day, district="武陟县", category="城市管理", title=f"路灯不亮{back}",
            resolved_after=timedelta(hours=10))                           # 1 a day
        for k in range(3):
            add("hist", day + timedelta(minutes=k), district="修武县", category="交通出行", title="公交晚点",
                resolved_after=timedelta(hours=10))                       # 3 a day; the same title: usual 3
    # Today, up to 15:00.
    for k in range(8):                                                    # 8 against 1: a surge
        add("surge", TODAY + timedelta(hours=8, minutes=k), district="武陟县", category="城市管理",
            title=f"{'甲乙丙丁戊己庚辛'[k]}栋停水", text="整栋楼停水，没人管。")
    for k in range(4):                                                    # 4: below the minimum
        add("few", TODAY + timedelta(hours=9, minutes=k), district="博爱县", category="城市管理", title=f"噪音{k}")
    for k in range(8):                                                    # 8 against 3: under 3x
        add("usual", TODAY + timedelta(hours=10, minutes=k), district="修武县", category="交通出行", title="公交晚点")
    districts = ["解放区", "中站区", "马村区", "山阳区", "孟州市", "沁阳市"]
    for k, d in enumerate(districts):                                     # 6 ask the same: shared
        add("shared", TODAY + timedelta(hours=11, minutes=k), district=d, category=f"教育{k}",
            title=f"幼儿园入园报名咨询（{k + 1}号）", text=f"孩子今年入园，怎么报名？联系电话{PHONE}")
    # Resolved today: fast against 城市管理's median of 10 hours (28 history appeals behind it).
    add("fast", TODAY + timedelta(hours=12), district="温县", category="城市管理", title="井盖丢失",
        resolved_after=timedelta(minutes=30))                             # 5 % of the median: fast
    add("slow", TODAY + timedelta(hours=12, minutes=1), district="温县", category="城市管理", title="树枝折断",
        resolved_after=timedelta(hours=2))                                # 20 %: not fast
    add("long", TODAY - timedelta(days=40), district="温县", category="住房物业", title="房产证办理多年未果",
        resolved_after=timedelta(days=40, hours=13))                      # resolved today after 40 days
    add("not_long", TODAY - timedelta(days=20), district="温县", category="住房物业", title="楼道灯坏",
        resolved_after=timedelta(days=20, hours=13))                      # 20 days: not long-standing
    add("praised", TODAY + timedelta(hours=6), district="温县", category="住房物业", title="电梯修好了",
        resolved_after=timedelta(hours=5), rating=5)
    add("rated4", TODAY + timedelta(hours=6, minutes=1), district="温县", category="住房物业", title="门禁修好了",
        resolved_after=timedelta(hours=5), rating=4)

    keys = Keys(jiaozuo.city)
    xadd_all(client, keys.stream, c.events)
    Aggregator(client, jiaozuo, settings).run_until_idle()
    clock.set_replay(client, keys, NOW.timestamp(), speed=0)
    data = NewsroomData(ManagerData(lambda: client, keys, jiaozuo), TakenMarks(lambda: client, keys))
    return data, ids


def ask(data, profile, **args):
    query = Query.from_query({k: [v] if isinstance(v, str) else v for k, v in args.items()}, profile)
    return data.answer(query)


def kinds(answer) -> dict[str, set[str]]:
    return {s["id"]: {r["kind"] for r in s["reasons"]} for s in answer["stories"]}


def test_each_reason_is_given_where_the_case_has_it_and_nowhere_else(news, jiaozuo):
    data, ids = news
    answer = ask(data, jiaozuo, limit="200")
    found = kinds(answer)
    assert answer["usual_level"] == {"shifts": 28, "step_days": 1.0}

    surged = [i for i in ids["surge"] if "surge" in found.get(i, ())]
    assert len(surged) == 3                          # eight qualify; three per surge are shown
    assert all(found[i] == {"surge"} for i in surged)
    story = next(s for s in answer["stories"] if s["id"] == surged[0])
    surge = next(r for r in story["reasons"] if r["kind"] == "surge")
    assert surge == {"kind": "surge", "count": 8, "usual": 1.0}
    for name in ("few", "usual", "hist"):
        assert not any("surge" in found.get(i, ()) for i in ids[name]), name

    shared = [i for i in ids["shared"] if "shared" in found.get(i, ())]
    assert len(shared) == 3
    reason = next(r for s in answer["stories"] if s["id"] == shared[0] for r in s["reasons"])
    assert reason == {"kind": "shared", "count": 6, "usual": 0.0}
    assert not any("shared" in found.get(i, ()) for i in ids["usual"])     # 8 against a usual 3

    assert found[ids["fast"][0]] == {"fast"}
    fast = next(s for s in answer["stories"] if s["id"] == ids["fast"][0])["reasons"][0]
    assert fast == {"kind": "fast", "seconds": 1800.0, "usual_seconds": 36000.0}
    assert ids["slow"][0] not in found
    assert found[ids["long"][0]] == {"long_standing"}
    assert ids["not_long"][0] not in found
    assert found[ids["praised"][0]] == {"praised"}
    assert ids["rated4"][0] not in found

    # The scores, from the formulas in docs/newsroom.md.
    score = {s["id"]: s["score"] for s in answer["stories"]}
    assert score[surged[0]] == round(4 + math.log2(8 / 1 / 3), 2)
    assert score[shared[0]] == round(4 + math.log2(6 / 5), 2)
    assert score[ids["fast"][0]] == round(2 + math.log10(0.1 / (1800 / 36000)), 2)
    assert score[ids["long"][0]] == round(2 + math.log2((40 * 86400 + 13 * 3600) / (30 * 86400)), 2)
    assert score[ids["praised"][0]] == 1.0


def test_the_order_is_by_score_and_the_groups_are_capped(news, jiaozuo):
    data, ids = news
    answer = ask(data, jiaozuo, limit="200")
    scores = [s["score"] for s in answer["stories"]]
    assert scores == sorted(scores, reverse=True)
    # A surge of 8 at 3x the threshold ratio outweighs a single praise.
    position = {s["id"]: n for n, s in enumerate(answer["stories"])}
    assert max(position[i] for i in ids["surge"] if i in position) < position[ids["praised"][0]]
    # matched counts every appeal with a reason that passes the filters, before the cap per group.
    assert answer["matched"] == 8 + 6 + 1 + 1 + 1


def test_filters_status_and_period(news, jiaozuo):
    data, ids = news
    only = kinds(ask(data, jiaozuo, district="武陟县", limit="200"))
    assert set(only) <= set(ids["surge"]) and len(only) == 3
    resolved = kinds(ask(data, jiaozuo, status="resolved", limit="200"))
    assert set(resolved) == {ids["fast"][0], ids["long"][0], ids["praised"][0]}
    opened = kinds(ask(data, jiaozuo, status="open", limit="200"))
    assert set(opened) <= set(ids["surge"]) | set(ids["shared"])
    assert len(ask(data, jiaozuo, limit="2")["stories"]) == 2
    with pytest.raises(FilterError, match="Status: 'closed' is not one of all, open, resolved"):
        ask(data, jiaozuo, status="closed")
    with pytest.raises(FilterError, match="unknown parameter 'sort'"):
        ask(data, jiaozuo, sort="score")


def test_search_finds_words_but_never_what_masking_hides(news, jiaozuo):
    data, ids = news
    hits = ask(data, jiaozuo, q="入园 报名", limit="200")
    assert {s["id"] for s in hits["stories"]} <= set(ids["shared"]) and hits["matched"] == 6
    for s in hits["stories"]:
        assert PHONE not in s["text"] and "138****5678" in s["text"]
    assert ask(data, jiaozuo, q=PHONE)["matched"] == 0
    assert ask(data, jiaozuo, q="5678")["matched"] == 6        # what the masked text still shows
    assert ask(data, jiaozuo, q="138****5678")["matched"] == 6  # as copied from the page


def test_question_keys_and_the_usual_level_window():
    assert question_key("3号楼停水！") == question_key("5号楼 停水") == "号楼停水"
    assert question_key("Street Light OUT") == question_key("street light out 2") == "streetlightout"
    rules = NewsroomRules()
    today = Window(1000 * 86400.0, 1000 * 86400.0 + 15 * 3600, True)
    assert baseline_for(today, rules, held_since=None).shifts == 0
    assert baseline_for(today, rules, held_since=today.start - 10 * 86400).shifts == 10
    assert baseline_for(today, rules, held_since=0).shifts == 28
    week = Window(today.end - 7 * 86400, today.end, False)
    assert (baseline_for(week, rules, 0).step_s, baseline_for(week, rules, 0).shifts) == (7 * 86400, 4)


def test_taken_marks_are_shared_tied_to_users_and_kept_in_redis(news, client, jiaozuo):
    data, ids = news
    rid = ids["fast"][0]
    marks = data.marks
    mark = marks.take(rid, "alice", at=NOW.timestamp())
    assert mark == {"by": "alice", "at": NOW.timestamp()}
    assert marks.take(rid, "alice")["at"] == NOW.timestamp()          # taking again keeps the first mark
    with pytest.raises(MarkRefused, match="already taken by alice"):
        marks.take(rid, "bob")
    with pytest.raises(MarkRefused, match="taken by alice, not by bob"):
        marks.release(rid, "bob")
    # Another worker (a new object on the same Redis) sees it, on the story too.
    other = TakenMarks(lambda: client, Keys(jiaozuo.city))
    assert other.all() == {rid: mark}
    story = next(s for s in ask(data, jiaozuo, limit="200")["stories"] if s["id"] == rid)
    assert story["taken"] == mark
    assert rid not in kinds(ask(data, jiaozuo, hide_taken="1", limit="200"))
    other.release(rid, "bob", any_user=True)                           # a manager may release anyone's
    assert marks.all() == {}
    log = marks.log()
    assert [(e["action"], e["by"], e["id"]) for e in log] == [("release", "bob", rid), ("take", "alice", rid)]
    marks.release(rid, "alice")                                        # already free: nothing to do
    assert len(marks.log()) == 2
    with pytest.raises(MarkRefused, match="not a request id"):
        marks.take("", "alice")


# -- over HTTP: sign-in, roles, the mark and a restart ----------------------------------------------

PASSWORD = "correct horse battery"
HEADERS = {"X-Requested-With": "civicwall"}


@pytest.fixture
def users(settings):
    from dashboard.users import UserStore

    store = UserStore(settings.users_file)
    for name, role in (("alice", "newsroom"), ("bob", "newsroom"), ("wang", "manager")):
        store.add(name, role, PASSWORD)
    return store


def browser(settings, name: str | None):
    from dashboard.web import create_app

    web = create_app(settings.with_(profile="jiaozuo", push="off")).server.test_client()
    if name:
        answer = web.post("/signin", data={"name": name, "password": PASSWORD, "next": "/newsroom/"})
        assert answer.status_code == 303 and answer.headers["Location"].endswith("/newsroom/")
    return web


def test_the_newsroom_needs_a_sign_in_and_the_right_role(news, users, settings):
    anonymous = browser(settings, None)
    assert anonymous.get("/newsroom/").status_code == 303
    assert anonymous.get("/newsroom/feed").status_code == 401
    assert anonymous.post("/newsroom/mark", json={"id": "T-00001", "action": "take"}, headers=HEADERS).status_code == 401
    alice = browser(settings, "alice")
    assert alice.get("/newsroom/").status_code == 200
    refused = alice.get("/manager/")
    assert refused.status_code == 403 and "newsroom" in refused.get_data(as_text=True)
    assert browser(settings, "wang").get("/newsroom/").status_code == 200       # managers may read it too


def test_a_mark_over_http_is_tied_to_its_user_and_survives_a_restart(news, users, settings):
    _, ids = news
    rid = ids["long"][0]
    alice, bob = browser(settings, "alice"), browser(settings, "bob")
    # Without the page's header (a form posted from another site could not add it): refused.
    assert alice.post("/newsroom/mark", json={"id": rid, "action": "take"}).status_code == 403
    assert alice.post("/newsroom/mark", json={"id": "T-99999", "action": "take"}, headers=HEADERS).status_code == 404
    assert alice.post("/newsroom/mark", json={"id": rid}, headers=HEADERS).status_code == 400
    taken = alice.post("/newsroom/mark", json={"id": rid, "action": "take"}, headers=HEADERS)
    assert taken.status_code == 200 and taken.get_json()["mark"]["by"] == "alice"
    clash = bob.post("/newsroom/mark", json={"id": rid, "action": "take"}, headers=HEADERS)
    assert clash.status_code == 409 and clash.get_json()["mark"]["by"] == "alice"
    assert bob.post("/newsroom/mark", json={"id": rid, "action": "release"}, headers=HEADERS).status_code == 409

    # A server started afresh on the same Redis: bob's page shows alice's mark on the story.
    restarted = browser(settings, "bob")
    feed = restarted.get("/newsroom/feed?status=resolved", headers=HEADERS).get_data(as_text=True)
    assert "Taken by alice" in feed or "alice 已于" in feed
    assert restarted.get("/newsroom/feed?status=resolved&hide_taken=1").get_data(as_text=True).count(rid) == 0
    assert alice.post("/newsroom/mark", json={"id": rid, "action": "release"}, headers=HEADERS).status_code == 200


def test_the_feed_names_a_bad_address_and_never_sends_the_raw_phone(news, users, settings):
    alice = browser(settings, "alice")
    # What cannot be used is named in the page's language and left at its default; the rest is shown.
    answer = alice.get("/newsroom/feed?period=week&perod=1&district=哥谭&district=武陟&status=open&status=all"
                       "&category=无此类&hide_taken=yes").get_json()
    assert answer["status"]["problems"] == [
        "未知参数 'perod'",
        "时段 的取值 'week' 无效（可选：today, 7d, 30d）",
        "状态 只能给一个值",
        "隐藏已认领 的取值 'yes' 无效（可选：0, 1）",
        "'哥谭' 不是本地区县（可选：解放区, 中站区, 马村区, 山阳区, 修武县, 博爱县, 武陟县, 温县, 沁阳市, 孟州市）",
    ]
    assert answer["status"]["state"] == {"period": "today", "district": ["武陟县"], "category": ["无此类"],
                                         "status": "all", "q": "", "hide_taken": False}
    assert answer["status"]["notes"] == ["现有工单中没有诉求类别为 '无此类' 的（是否拼写有误？），其各项数字为零"]
    body = alice.get("/newsroom/feed?q=入园").get_data(as_text=True)
    assert "138****5678" in body and PHONE not in body


def test_without_earlier_appeals_there_is_no_surge_and_no_shared_question(jiaozuo):
    """A fresh install: eight appeals today in one district and category, all asking the same, and
    nothing held from before today. Without a usual level neither reason is given."""
    from dashboard.manager import windows
    from dashboard.manager_table import frame_from_facts
    from dashboard.newsroom import reasons

    import orjson

    start = TODAY.timestamp()
    ids = [f"F{i}" for i in range(8)]
    raws = [orjson.dumps({"ct": start + 3600 * (i + 1), "cat": "城市管理", "dist": "温县", "ch": "hotline"})
            for i in range(8)]
    frame = frame_from_facts(ids, raws)
    w, _ = windows("today", NOW.timestamp(), SH)
    found = reasons(frame, pd.Series("停水", index=frame.index), NOW.timestamp(), w, NewsroomRules())
    assert found["baseline"].shifts == 0
    assert len(found["scored"]) == 0
    # Appeals held from before yesterday began: one usual day, with nothing like these, so both
    # reasons are given against a usual level of 0 (counted as 1).
    raws.append(orjson.dumps({"ct": start - 86400 - 60, "cat": "其他", "dist": "孟州市", "ch": "web"}))
    frame = frame_from_facts(ids + ["F-early"], raws)
    found = reasons(frame, pd.Series("停水", index=frame.index), NOW.timestamp(), w, NewsroomRules())
    assert found["baseline"].shifts == 1
    assert found["scored"]["surge_n"].tolist() == [8.0] * 8 and found["scored"]["shared_n"].tolist() == [8.0] * 8
