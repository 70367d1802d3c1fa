"""``civicwall run``: everything the demo needs, started, watched and stopped together.

Starts a real redis-server (embedded, unless REDIS_URL names one), one aggregator, the demo feed,
gunicorn serving the wall and, with CIVICWALL_BRIEFING_AT set, the daily briefing's scheduler. The
aggregator, the feed, the scheduler, the embedded Redis and, once it has answered, the web server
are restarted if they die (the aggregator resumes from the consumer group, the feed's events are
idempotent, open wall screens reconnect by themselves); if the web server cannot start
(a port in use, say), or one of them keeps dying, everything stops. Ctrl-C, SIGTERM or SIGHUP (the terminal closing) stop every process
it started, and the children are also tied to this process's life, so even a SIGKILL of
``civicwall run`` leaves nothing behind.
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
from .feeds.simulate import number_arg
from .users import UserStore, users_path
from .profiles import load_profile
from .settings import Settings
from .store import EmbeddedRedis, connect, die_with_parent, port_is_free, redact_url, translated

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_PORT = 6390   # preferred, so the URL stays the same between runs; any free port if taken
RESTART_LIMIT = 5      # restarts of one process within RESTART_WINDOW_S before giving up
RESTART_WINDOW_S = 60


def add_arguments(parser) -> None:
    parser.add_argument("--feed", choices=["simulate", "none"],
                        help="demo feed to start (env CIVICWALL_FEED; default simulate)")
    # The feed's own check, so that a bad value fails here, at once, not in the feed's log.
    parser.add_argument("--speed", type=number_arg(float), default=1.0, help="speed of the simulated day (1 = real time)")


class Child:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, restart: bool):
        self.name, self.argv, self.env, self.restart = name, argv, env, restart
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts: list[float] = []

    def start(self) -> None:
        self.starts = [t for t in self.starts if time.monotonic() - t < RESTART_WINDOW_S] + [time.monotonic()]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=PROJECT_ROOT, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=die_with_parent)

    def exited(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def may_restart(self) -> bool:
        return self.restart and len(self.starts) < RESTART_LIMIT

    def signal_group(self, sig: int) -> None:
        """Signal the child and everything it started (its session's process group): when gunicorn's
        master dies, its workers outlive it for a while and would keep the port."""
        if self.proc:
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def stop(self) -> None:
        self.signal_group(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        if not self.proc:
            return
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        self.signal_group(signal.SIGKILL)      # the leader is gone: nothing of its group may stay
        self.proc.wait()


def _wait_http(url: str, web: Child, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if web.exited() is not None:
            raise CivicwallError(f"the web server exited while starting; see {web.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise CivicwallError(f"the web server did not answer on {url} within {timeout:.0f} s; see {web.log_path}")


def _check_redis(url: str, settings: Settings) -> None:
    client = connect(url, socket_timeout=settings.socket_timeout_s, retries=0)
    try:
        with translated("checking the server at start-up"):
            client.ping()
    finally:
        client.close()


def _join_notes(profile, url: str, settings: Settings) -> None:
    """Say which districts do not join to a region: the profile's own, and values seen in the data."""
    from . import geo
    from .keys import Keys

    try:
        client = connect(url, socket_timeout=settings.socket_timeout_s)
        unknown = geo.unknown_in_data(client, Keys(profile.city, settings.stream))
        lines = geo.join_lines(profile, geo.boundaries(profile), unknown)
    except CivicwallError as exc:
        lines = [f"could not check how districts join to regions: {exc}"]
    for line in lines:
        print(f"  note: {line}\n", flush=True)


def main(args, settings: Settings) -> int:
    profile = load_profile(settings.profile)
    feed = args.feed or settings.feed
    if not port_is_free(settings.port, settings.host):
        raise CivicwallError(f"port {settings.port} on {settings.host} is already in use; "
                             "stop what uses it or choose another with CIVICWALL_PORT")
    data_dir = Path(settings.data_dir).resolve()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    embedded = None
    # The processes started here see the same profile and stream as this command was given.
    env = dict(os.environ, CIVICWALL_PROFILE=settings.profile)
    if settings.stream:
        env["CIVICWALL_STREAM"] = settings.stream
    if settings.redis_url:
        url = settings.redis_url
        _check_redis(url, settings)
        print(f"civicwall: using Redis at {redact_url(url)}")
    else:
        embedded = EmbeddedRedis(data_dir / "redis", port=EMBEDDED_PORT).start()
        url = embedded.url
        print(f"civicwall: started embedded redis-server (files in {data_dir / 'redis'});\n"
              f"  other commands reach it with REDIS_URL={url}")
    env["REDIS_URL"] = url
    cli = [sys.executable, "-m", "dashboard.cli"]
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "--config", str(PROJECT_ROOT / "gunicorn.conf.py"),
                "--workers", str(settings.workers), "--bind", f"{settings.host}:{settings.port}",
                "--chdir", str(PROJECT_ROOT), "app:server"]
    children = [Child("aggregator", cli + ["aggregate"], env, log_dir, restart=True)]
    if feed == "simulate":
        children.append(Child("feed", cli + ["simulate", "--speed", str(args.speed)], env, log_dir, restart=True))
    if settings.briefing_at:
        children.append(Child("briefing", cli + ["briefing", "--schedule", "--at", settings.briefing_at,
                                                 "--out", str(data_dir / "briefings")], env, log_dir, restart=True))
    web = Child("web", gunicorn, env, log_dir, restart=False)
    children.append(web)

    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    status = 0
    try:
        for child in children:
            print(f"  starting {child.name}: log in {child.log_path}", flush=True)
            child.start()
        base = f"http://{settings.host}:{settings.port}"
        _wait_http(base + "/healthz", web)
        web.restart = True          # it could start, so a later death is worth a restart
        print(f"\n  civicwall is serving the {profile.city} wall on {base}/\n"
              f"  the manager view on {base}/manager/ and the newsroom on {base}/newsroom/\n"
              "  (Ctrl-C stops everything)\n", flush=True)
        _join_notes(profile, url, settings)
        users = users_path(settings)
        if not UserStore(users).users():
            where = "" if users == Path(".run") / "users.json" else f"CIVICWALL_USERS_FILE={users} "
            print("  No one can sign in to the manager view or the newsroom yet; add someone with\n"
                  f"    {where}.venv/bin/civicwall user add NAME --role manager   (or --role newsroom)\n",
                  flush=True)
        while not stopping:
            if embedded and embedded.process and embedded.process.poll() is not None:
                print("civicwall: the embedded redis-server died; restarting it", file=sys.stderr, flush=True)
                embedded.start()
            for child in children:
                code = child.exited()
                if code is None:
                    continue
                if child.may_restart():
                    print(f"civicwall: {child.name} exited with code {code}; restarting it "
                          f"(see {child.log_path})", file=sys.stderr, flush=True)
                    child.signal_group(signal.SIGKILL)
                    child.start()
                else:
                    print(f"civicwall: {child.name} exited with code {code}; stopping everything "
                          f"(see {child.log_path})", file=sys.stderr, flush=True)
                    stopping.append(None)
                    status = 1
                    break
            time.sleep(0.3)
    finally:
        print("civicwall: stopping…", flush=True)
        for child in children:
            child.stop()
        deadline = time.monotonic() + 10
        for child in children:
            child.wait(deadline)
        if embedded:
            embedded.stop()
        print("civicwall: stopped", flush=True)
    return status
