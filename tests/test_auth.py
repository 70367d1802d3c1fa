"""Sign-in for the manager page: the users file keeps only hashes, the page and its feed need a signed-in
manager, wrong passwords and other sites' addresses get nowhere, and a session is good on every worker."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dashboard.auth import FAIL_LIMIT
from dashboard.errors import ConfigError
from dashboard.users import UserStore
from dashboard.web import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def store(settings):
    users = UserStore(settings.users_file)
    users.add("wang", "manager", PASSWORD)
    users.add("li", "newsroom", PASSWORD)
    return users


@pytest.fixture
def web(settings, store, client):
    return create_app(settings.with_(profile="nyc", push="off")).server.test_client()


def sign_in(web, name="wang", password=PASSWORD, target="/manager/"):
    return web.post("/signin", data={"name": name, "password": password, "next": target})


def test_the_users_file_holds_hashes_not_passwords(store):
    raw = store.path.read_text(encoding="utf-8")
    assert PASSWORD not in raw
    assert [u["password"].split(":")[0] for u in json.loads(raw)["users"]] == ["scrypt", "scrypt"]
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    assert store.verify("wang", PASSWORD).role == "manager"
    assert store.verify("wang", PASSWORD + "x") is None and store.verify("nobody", PASSWORD) is None


@pytest.mark.parametrize("name, role, password, message", [
    ("wang li", "manager", PASSWORD, "1-40 letters"),
    ("wang", "admin", PASSWORD, "role 'admin' is not one of manager, newsroom"),
    ("wang", "manager", "short", "at least 8 characters"),
])
def test_bad_users_are_refused_with_the_reason(tmp_path, name, role, password, message):
    with pytest.raises(ConfigError, match=message):
        UserStore(tmp_path / "users.json").add(name, role, password)


def test_the_user_command_adds_lists_and_removes(settings, tmp_path):
    env = {"CIVICWALL_USERS_FILE": str(tmp_path / "cli-users.json"), "PATH": "/usr/bin:/bin"}

    def civicwall(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "dashboard.cli", "user", *args], input=stdin, env=env,
                              capture_output=True, text=True, timeout=60)

    added = civicwall("add", "zhao", "--role", "manager", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert civicwall("list").stdout == "zhao\tmanager\n"
    assert UserStore(tmp_path / "cli-users.json").verify("zhao", PASSWORD) is not None
    again = civicwall("add", "zhao", "--role", "newsroom", "--password-stdin", stdin=PASSWORD + "x\n")
    assert "changed the existing user zhao: role manager -> newsroom, new password" in again.stdout
    assert civicwall("list").stdout == "zhao\tnewsroom\n"
    short = civicwall("add", "qian", "--role", "manager", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    assert civicwall("remove", "zhao").returncode == 0 and civicwall("list").stdout == ""
    assert civicwall("remove", "zhao").returncode == 1


def test_the_page_and_its_feed_need_a_signed_in_manager(web):
    answer = web.get("/manager/?period=7d")
    assert answer.status_code == 303 and answer.headers["Location"] == "/signin?next=%2Fmanager%2F%3Fperiod%3D7d"
    assert web.get("/manager/feed").status_code == 401
    assert web.get("/manager/_dash-layout").status_code == 401
    # The wall, the public API and the health check are open.
    assert web.get("/").status_code == 200 and web.get("/healthz").status_code == 200
    assert web.get("/api/v1/manager/summary").status_code == 200

    signed = sign_in(web, target="/manager/?period=7d")
    assert signed.status_code == 303 and signed.headers["Location"] == "/manager/?period=7d"
    assert web.get("/manager/?period=7d").status_code == 200
    assert web.get("/manager/feed").json["panels"]["m-user.children"] == "wang"
    cookie = web.get_cookie("civicwall_session")
    assert cookie.http_only and cookie.same_site == "Lax"

    assert web.post("/signout").status_code == 303
    assert web.get("/manager/feed").status_code == 401


def test_a_newsroom_user_may_not_open_the_manager_page(web):
    landed = sign_in(web, "li", target="")
    assert landed.status_code == 303 and landed.headers["Location"] == "/newsroom/"    # where the role goes
    assert web.get("/manager/feed").status_code == 403
    page = web.get("/manager/")
    text = page.get_data(as_text=True)
    assert page.status_code == 403 and "li (newsroom)" in text and 'href="/newsroom/"' in text
    assert 'action="/signout"' in text
    form = web.get("/signin").get_data(as_text=True)
    assert "Signed in as li (newsroom)." in form


def test_a_signed_out_browser_following_a_briefing_link_gets_the_form(web):
    link = web.get("/manager/briefings/2024-05-27.pdf", headers={"Accept": "text/html,application/xhtml+xml,*/*"})
    assert link.status_code == 303
    assert link.headers["Location"] == "/signin?next=%2Fmanager%2Fbriefings%2F2024-05-27.pdf"
    assert web.get("/manager/briefings/2024-05-27.pdf").status_code == 401          # a script: JSON


def test_wrong_passwords_get_nowhere_and_lock_the_name_after_ten(web):
    for _ in range(FAIL_LIMIT):
        answer = sign_in(web, password="not the password")
        assert answer.status_code == 401 and "The name or the password is wrong." in answer.get_data(as_text=True)
    locked = sign_in(web)                                   # even the right password, for 15 minutes
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert web.get("/manager/feed").status_code == 401


def test_the_form_sends_only_to_this_server_and_escapes_what_it_echoes(web):
    assert sign_in(web, target="//evil.example/x").headers["Location"] == "/manager/"
    assert sign_in(web, target="https://evil.example/").headers["Location"] == "/manager/"
    page = web.get('/signin?next=/manager/"><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_a_removed_user_is_out_at_once(web, store):
    sign_in(web)
    assert web.get("/manager/feed").status_code == 200
    store.remove("wang")
    assert web.get("/manager/feed").status_code == 401


def test_a_session_is_good_on_every_worker(settings, store, client):
    """Two apps on one Redis (two gunicorn workers) share the signing key kept there."""
    one = create_app(settings.with_(profile="nyc", push="off")).server
    two = create_app(settings.with_(profile="nyc", push="off")).server
    first = one.test_client()
    sign_in(first)
    second = two.test_client()
    second.set_cookie("civicwall_session", first.get_cookie("civicwall_session").value)
    assert second.get("/manager/feed").status_code == 200
