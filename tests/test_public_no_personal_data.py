"""No answer a browser or another system can get without a sign-in, nor the signed-in newsroom page,
carries a citizen's phone number, ID number, e-mail address, plate or name as written; the signed-in
manager page shows the manager tier (phone numbers, names and plates, to call a citizen back) and still
never an ID number.

Appeals whose titles, texts and replies carry each kind of personal data go through the real
aggregator; then every public page, API answer and CSV file, and the newsroom and manager pages'
feeds, are fetched and searched for the raw values (and for any seven-digit run of the numbers)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from dashboard import clock
from dashboard.aggregator import Aggregator
from dashboard.keys import Keys
from dashboard.users import UserStore
from dashboard.web import create_app

PHONE, ID_NUMBER, EMAIL, PLATE = "13812345678", "410802199001011234", "li.si@example.com", "豫H12345"
SPELLED = "一三九八七六五四三二一"                  # 13987654321 read aloud
NAME = "李四"
RAW = (PHONE, ID_NUMBER, EMAIL, PLATE, SPELLED, "13987654321", "村民李四")


def _ev(eid, etype, rid, ts, **extra):
    return {"v": "1", "event_id": eid, "type": etype, "request_id": rid, "ts": ts.isoformat(), **extra}


@pytest.fixture
def loaded(client, settings, jiaozuo):
    keys = Keys(jiaozuo.city)
    noon = datetime.now(jiaozuo.tz).replace(hour=12, minute=0, second=0, microsecond=0)
    clock.set_replay(client, keys, noon.timestamp(), speed=0)
    events = []
    for i, (title, text) in enumerate([
        (f"村民{NAME}反映路灯坏了，电话{PHONE}", f"身份证{ID_NUMBER}，邮箱{EMAIL}"),
        (f"车牌{PLATE}占道，身份证{ID_NUMBER}", f"打{SPELLED}找村民{NAME}"),
        (f"联系人：{NAME}，{PHONE}", "白菜卖不出去"),
        (f"车牌{PLATE}占道", f"打{SPELLED}找村民{NAME}，邮箱{EMAIL}"),
    ]):
        rid = f"p{i}"
        t = noon - timedelta(hours=4 - i)
        events += [
            _ev(f"{rid}c", "created", rid, t, channel="hotline", category="城市管理", district="温县", title=title,
                text=text, unit="市城管局", deadline=(t + timedelta(hours=1 + i)).isoformat()),
            _ev(f"{rid}f", "responded", rid, t + timedelta(minutes=5)),
        ]
        if i in (0, 3):
            # Resolved and rated very satisfied: a story on the newsroom page ("praised").
            events.append(_ev(f"{rid}r", "resolved", rid, t + timedelta(minutes=40),
                              text=f"已修复，已回访村民{NAME}（{PHONE}），身份证{ID_NUMBER}"))
            events.append(_ev(f"{rid}s", "rated", rid, t + timedelta(minutes=50), satisfaction="5"))
    for e in events:
        client.xadd(keys.stream, e)
    Aggregator(client, jiaozuo, settings).run_until_idle()
    return events


def _leaks(body: str) -> list[str]:
    found = [raw for raw in RAW if raw in body]
    digits = re.sub(r"[\s-]", "", body)          # separators out, stars kept: kept head and tail do not join
    for number in (PHONE, ID_NUMBER, "13987654321"):
        found += [number[i:i + 7] for i in range(len(number) - 6) if number[i:i + 7] in digits]
    return found


PUBLIC = ["/", "/api/v1/snapshot", "/api/v1/wall?category=__all__&have=", "/api/v1/manager/summary",
          "/api/v1/manager/deadlines?state=overdue,due_soon,on_track&limit=5000",
          "/api/v1/manager/deadlines?state=overdue,due_soon,on_track&limit=5000&format=csv",
          "/api/v1/manager/times?by=unit", "/api/v1/manager/league?by=unit&format=csv",
          "/api/v1/manager/options", "/healthz", "/signin"]


def test_no_public_answer_and_not_the_newsroom_carries_personal_data(loaded, settings, jiaozuo):
    UserStore(settings.users_file).add("wang", "manager", "correct horse")
    UserStore(settings.users_file).add("li", "newsroom", "correct horse")
    web = create_app(settings.with_(profile="jiaozuo", push="off")).server.test_client()
    seen = {}
    for path in PUBLIC:
        answer = web.get(path)
        assert answer.status_code == 200, path
        seen[path] = answer.get_data(as_text=True)
    # The newsroom tier masks as the public one.
    assert web.post("/signin", data={"name": "li", "password": "correct horse"}).status_code == 303
    newsroom = web.get("/newsroom/feed?status=resolved").get_data(as_text=True)
    seen["/newsroom/feed"] = newsroom + web.get("/newsroom/feed?q=村民").get_data(as_text=True)
    assert web.post("/signout").status_code in (302, 303)
    # The texts did arrive, masked: the check is not passing on empty answers.
    assert "村民李*反映路灯坏了" in seen["/api/v1/snapshot"] or "村民李*反映路灯坏了" in seen["/api/v1/wall?category=__all__&have="]
    assert "村民李*反映路灯坏了" in newsroom and "豫H*****" in newsroom and "l***@example.com" in newsroom
    leaks = {path: _leaks(body) for path, body in seen.items()}
    assert {path: found for path, found in leaks.items() if found} == {}

    # The manager page's feed: the manager tier keeps the phone, the name and the plate, not the ID.
    assert web.post("/signin", data={"name": "wang", "password": "correct horse"}).status_code == 303
    manager = web.get("/manager/feed?state=overdue,due_soon,on_track").get_data(as_text=True)
    assert f"联系人：{NAME}，{PHONE}" in manager and f"车牌{PLATE}占道" in manager
    assert ID_NUMBER not in manager and "身份证410802********1234" in manager
