"""``civicwall run``: everything the demo needs, started and stopped together.

Starts a real redis-server (embedded, unless REDIS_URL names one), one aggregator, the profile's
demo feed and gunicorn serving the wall. Ctrl-C (or SIGTERM) stops every process it started.
If any of them exits on its own, the others are stopped too, so nothing is left half-running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .errors import CivicwallError
from .profiles import load_profile
from .settings import Settings
from .store import EmbeddedRedis, redact_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_PORT = 6390   # preferred, so the URL stays the same between runs; any free port if taken


def add_arguments(parser) -> None:
    parser.add_argument("--feed", choices=["simulate", "none"], default="simulate",
                        help="demo feed to start (default: simulate a live day for the profile)")
    parser.add_argument("--speed", default="1", help="speed of the simulated day (1 = real time)")


def _spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / f"{name}.log", "ab")
    print(f"  starting {name}: logs in {log_dir / (name + '.log')}", flush=True)
    return subprocess.Popen(argv, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CivicwallError("the web server exited while starting; see its log")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise CivicwallError(f"the web server did not answer on {url} within {timeout:.0f} s")


def main(args, settings: Settings) -> int:
    profile = load_profile(settings.profile)
    data_dir = Path(settings.data_dir).resolve()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    embedded = None
    env = dict(os.environ)
    env["CIVICWALL_PROFILE"] = settings.profile
    if settings.redis_url:
        url = settings.redis_url
        print(f"civicwall: using Redis at {redact_url(url)}")
    else:
        embedded = EmbeddedRedis(data_dir / "redis", port=EMBEDDED_PORT).start()
        url = embedded.url
        print(f"civicwall: started embedded redis-server (files in {data_dir / 'redis'});\n"
              f"  other commands reach it with REDIS_URL={url}")
    env["REDIS_URL"] = url
    bin_dir = Path(sys.executable).parent
    civicwall = [sys.executable, "-m", "dashboard.cli"]
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def on_signal(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        procs["aggregator"] = _spawn("aggregator", civicwall + ["aggregate"], env, log_dir)
        if args.feed == "simulate":
            procs["feed"] = _spawn("feed", civicwall + ["simulate", "--speed", str(args.speed)], env, log_dir)
        bind = f"{settings.host}:{settings.port}"
        procs["web"] = _spawn("web", [str(bin_dir / "gunicorn"), "--workers", str(settings.workers),
                                      "--bind", bind, "--chdir", str(PROJECT_ROOT), "--timeout", "60",
                                      "app:server"], env, log_dir)
        base = f"http://{settings.host}:{settings.port}"
        _wait_http(base + "/healthz", procs["web"])
        print(f"\n  civicwall is serving the {profile.city} wall on {base}/\n  (Ctrl-C stops everything)\n", flush=True)
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"civicwall: {name} exited with code {proc.returncode}; stopping the rest "
                          f"(see {log_dir / (name + '.log')})", file=sys.stderr)
                    stopping = True
                    break
            time.sleep(0.3)
    finally:
        print("civicwall: stopping…", flush=True)
        _stop(procs)
        if embedded:
            embedded.stop()
        print("civicwall: stopped", flush=True)
    return 0
