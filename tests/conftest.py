"""Shared fixtures: a real Redis server for the whole run, and a clean environment per test.

The server comes from --redis-url or CIVICWALL_TEST_REDIS_URL when given (CI runs the suite against
the embedded server and against Debian's), otherwise an embedded redis-server is started. REDIS_URL
itself is ignored, so a developer's own server is never flushed by accident.

Reference data (real 311 exports, district boundaries) is read from ../shared/data next to the
project, or from the folder CIVICWALL_TEST_DATA names.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import redis

from dashboard.keys import Keys
from dashboard.profiles import load_profile
from dashboard.settings import ENV_PREFIX, Settings
from dashboard.store import EmbeddedRedis, connect

SHARED_DATA = Path(os.environ.get("CIVICWALL_TEST_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
NYC_CSV = SHARED_DATA / "nyc311" / "anthonyupf_nyc311_2024-05-27_socrata.csv"
NYC_JSON = SHARED_DATA / "nyc311" / "anthonyupf_nyc311_2024-05-27_socrata.json"


def pytest_addoption(parser):
    parser.addoption("--redis-url", default=os.environ.get("CIVICWALL_TEST_REDIS_URL", ""),
                     help="use this Redis instead of starting an embedded one (it will be FLUSHDB'd)")


@pytest.fixture(scope="session")
def redis_url(request, tmp_path_factory):
    url = request.config.getoption("--redis-url")
    if url:
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def chromium_binary():
    """dash_duo starts Chrome; Debian installs it as chromium."""
    previous = os.environ.get("DASH_TEST_CHROMEPATH")
    if previous is None and os.path.exists("/usr/bin/chromium"):
        os.environ["DASH_TEST_CHROMEPATH"] = "/usr/bin/chromium"
    yield
    if previous is None:
        os.environ.pop("DASH_TEST_CHROMEPATH", None)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No test inherits the shell's civicwall configuration."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) or name == "REDIS_URL":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(redis_url):
    c = connect(redis_url)
    c.flushdb()
    yield c
    c.flushdb()
    c.close()


@pytest.fixture
def settings(redis_url, tmp_path):
    # One view for an hour: a screen under test does not rotate unless the test asks it to. Users who
    # may sign in live in the test's own folder.
    return Settings(redis_url=redis_url, block_ms=100, claim_idle_ms=1000, playlist="overview:3600",
                    users_file=str(tmp_path / "users.json"))


@pytest.fixture(scope="session")
def nyc():
    return load_profile("nyc")


@pytest.fixture(scope="session")
def jiaozuo():
    return load_profile("jiaozuo")


@pytest.fixture
def nyc_keys(nyc):
    return Keys(nyc.city)


def require_file(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"test data missing: {path} (the suite reads ../shared/data next to the project, "
                    "or the folder CIVICWALL_TEST_DATA names)")
    return path


def wait_until(condition, timeout: float = 120, what: str = "condition", interval: float = 0.05):
    """Poll ``condition`` until it returns something true (errors count as "not yet": a server may be
    restarting) and return that value; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def xadd_all(client: redis.Redis, stream: str, entries: list[dict]) -> None:
    pipe = client.pipeline(transaction=False)
    for e in entries:
        pipe.xadd(stream, e)
    pipe.execute()
