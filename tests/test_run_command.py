"""`civicwall run` (what `make run` starts): serves the wall, and Ctrl-C stops everything it started."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from dashboard.store import free_port

pytestmark = pytest.mark.slow


def processes_mentioning(needle: str) -> list[int]:
    """Pids whose command line or environment contains ``needle`` (this test's own port or directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle.encode() in blob:
            found.append(int(entry.name))
    return found


def test_run_serves_the_wall_and_sigint_stops_every_process(tmp_path):
    port = free_port()
    data_dir = tmp_path / "run-data"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("CIVICWALL_")}
    env |= {"CIVICWALL_PORT": str(port), "CIVICWALL_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if url in line:
            break
    assert any(url in line for line in lines), "".join(lines)

    # The wall answers, and the aggregator has published figures from the simulated feed.
    assert requests.get(url, timeout=10).status_code == 200
    while time.monotonic() < deadline:
        r = requests.get(url + "api/v1/snapshot", timeout=10)
        if r.status_code == 200 and r.json()["all_time"]["received"] > 0:
            break
    assert r.status_code == 200 and r.json()["city"] == "jiaozuo"
    assert processes_mentioning(str(data_dir)), "no child process found to check"

    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 0
    assert processes_mentioning(str(data_dir)) == []
    assert processes_mentioning(f"127.0.0.1:{port}") == []
