"""`civicwall run` (what `make run` starts): serves the wall, and Ctrl-C stops everything it started."""

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests

from dashboard.store import free_port

from .conftest import wait_until

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
    # A stream of its own: every process run starts must use it.
    stream = "cw:{jiaozuo}:run-test"
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "run", "--stream", stream], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    redis_url = next(line.split("REDIS_URL=")[1].strip() for line in lines if "REDIS_URL=" in line)
    store = redis.Redis.from_url(redis_url)
    assert store.xlen(stream) > 0 and not store.exists("cw:{jiaozuo}:events")
    store.close()

    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 0
    assert processes_mentioning(str(data_dir)) == []
    assert processes_mentioning(f"127.0.0.1:{port}") == []


def healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


def start_quiet_run(tmp_path) -> tuple[subprocess.Popen, int, Path]:
    """`civicwall run` with an embedded Redis and no demo feed, on a free port; output discarded."""
    port = free_port()
    data_dir = tmp_path / "run-data"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("CIVICWALL_")}
    env |= {"CIVICWALL_PORT": str(port), "CIVICWALL_DATA_DIR": str(data_dir), "CIVICWALL_FEED": "none"}
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port, data_dir


def test_a_dead_aggregator_is_restarted_and_a_killed_run_leaves_nothing_behind(tmp_path):
    proc, port, data_dir = start_quiet_run(tmp_path)

    def aggregators():
        return [p for p in processes_mentioning(str(data_dir))
                if b"aggregate" in Path(f"/proc/{p}/cmdline").read_bytes()]

    first = wait_until(aggregators)
    os.kill(first[0], signal.SIGKILL)
    wait_until(lambda: [p for p in aggregators() if p not in first])   # a new one took its place
    wait_until(lambda: healthy(f"http://127.0.0.1:{port}/healthz"))
    proc.kill()                                                        # SIGKILL: no clean-up code runs
    proc.wait()
    wait_until(lambda: processes_mentioning(str(data_dir)) == [])


def test_a_killed_web_server_is_replaced_and_leaves_no_worker_behind(tmp_path):
    proc, port, data_dir = start_quiet_run(tmp_path)
    health = f"http://127.0.0.1:{port}/healthz"
    try:
        wait_until(lambda: healthy(health))
        old = [p for p in processes_mentioning(str(data_dir)) if b"gunicorn" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(old) >= 2                                          # the master and its workers
        master = min(old)
        os.kill(master, signal.SIGKILL)
        wait_until(lambda: healthy(health) and not any(Path(f"/proc/{p}").exists() for p in old),
                   what="a new web server, and none of the old one's workers left")
        assert proc.poll() is None                                    # the rest kept running
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    wait_until(lambda: processes_mentioning(str(data_dir)) == [])


def test_run_refuses_a_port_that_is_in_use(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("CIVICWALL_")}
        env |= {"CIVICWALL_PORT": str(port), "CIVICWALL_DATA_DIR": str(tmp_path)}
        proc = subprocess.run([sys.executable, "-m", "dashboard.cli", "run"], env=env, capture_output=True,
                              text=True, timeout=60)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr


def test_run_reports_an_unreachable_redis_url(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICWALL_")}
    env |= {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "CIVICWALL_PORT": str(free_port()),
            "CIVICWALL_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "dashboard.cli", "run"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "Redis unavailable while checking the server at start-up" in proc.stderr


def test_a_reader_that_stops_early_ends_the_snapshot_command_quietly(redis_url, client, nyc, settings):
    from dashboard.aggregator import Aggregator
    from dashboard.keys import Keys

    keys = Keys(nyc.city)
    for i in range(40):
        client.xadd(keys.stream, {"v": "1", "event_id": f"c{i}", "type": "created", "request_id": f"r{i}",
                                  "ts": f"2024-05-27T01:{i:02d}:00-04:00", "district": "QUEENS",
                                  "title": f"Noise from a construction site on block {i}, " * 4})
    Aggregator(client, nyc, settings).run_until_idle()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICWALL_")}
    env |= {"REDIS_URL": redis_url, "CIVICWALL_PROFILE": "nyc"}
    # As `civicwall snapshot | head -c 1`: the pipe closes after the first byte. The pipe holds one
    # page, less than the snapshot, so the command is still writing when its reader goes away.
    assert len(client.get(keys.snapshot)) > 6000
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "snapshot"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    assert proc.stdout.read(1) == b"{"
    proc.stdout.close()
    _, err = proc.communicate(timeout=30)
    assert b"Traceback" not in err and proc.returncode in (0, 141), err.decode()
