"""Two gunicorn workers serve the same figures: no figure lives in one worker's memory."""

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
import sys
import time
from pathlib import Path

import pytest
import requests

from dashboard.aggregator import Aggregator
from dashboard.keys import Keys
from dashboard.store import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def gunicorn(redis_url, client, nyc, settings):
    keys = Keys(nyc.city)
    for i in range(25):
        client.xadd(keys.stream, {"v": "1", "event_id": f"c{i}", "type": "created", "request_id": f"r{i}",
                                  "ts": "2024-05-27T01:00:00-04:00", "district": "QUEENS"})
    Aggregator(client, nyc, settings).run_until_idle()
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "CIVICWALL_PROFILE": "nyc"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--workers", "2", "--bind",
                             f"127.0.0.1:{port}", "--chdir", str(ROOT), "app:server"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if requests.get(base + "/healthz", timeout=10).ok:
                    break
            except requests.RequestException:  # not up yet, or still booting its workers
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("gunicorn did not start: " + proc.communicate()[1].decode()[-2000:])
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_both_workers_return_the_same_snapshot(gunicorn):
    bodies, workers = {}, set()

    def fetch(_):
        return requests.get(gunicorn + "/api/v1/snapshot", timeout=10, headers={"Connection": "close"})

    # Concurrent requests keep one worker busy so the other accepts too; on a loaded machine the
    # second worker may still be starting when the first answers, so keep asking for a while.
    deadline, asked = time.monotonic() + 60, 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(workers) < 2 and time.monotonic() < deadline:
            for r in pool.map(fetch, range(16)):
                assert r.status_code == 200
                worker = r.headers["X-Civicwall-Worker"]
                workers.add(worker)
                bodies.setdefault(worker, r.content)
            asked += 16
    assert len(workers) == 2, f"only one worker answered {asked} requests in 60 s"
    first, second = bodies.values()
    assert first == second
    assert b'"received":25' in first
