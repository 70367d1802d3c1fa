"""Pieces the benchmark scripts share."""

from __future__ import annotations

import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace


@contextmanager
def history_store(profile, clock_at: float):
    """An embedded Redis with an aggregator ready on the profile's stream and the wall's clock stopped
    at ``clock_at``: ``settings``, ``client``, ``keys``, ``agg``. Stopped on the way out."""
    from dashboard import clock
    from dashboard.aggregator import Aggregator
    from dashboard.keys import Keys
    from dashboard.settings import Settings
    from dashboard.store import EmbeddedRedis, connect

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persist=False).start()
        try:
            settings = Settings(redis_url=server.url, batch=2000)
            client = connect(server.url)
            keys = Keys(profile.city)
            agg = Aggregator(client, profile, settings, consumer="bench")
            agg.ensure_group()
            clock.set_replay(client, keys, clock_at, speed=0)
            yield SimpleNamespace(settings=settings, client=client, keys=keys, agg=agg)
        finally:
            server.stop()


def grow(store, events, loaded: int, size: int, chunk: int = 200_000) -> int:
    """Write and apply appeals ``loaded`` .. ``size`` - 1 through ``store`` (see history_store), ``chunk``
    at a time, trimming the applied stream; ``events(start, count)`` yields their events. Returns
    ``size``."""
    while loaded < size:
        n = min(chunk, size - loaded)
        xadd_all(store.client, store.keys.stream, events(loaded, n))
        store.agg.run_until_idle()
        store.client.xtrim(store.keys.stream, maxlen=1000, approximate=False)
        loaded += n
    return loaded


def xadd_all(client, stream: str, events, every: int = 5000) -> int:
    """Write ``events`` to ``stream`` in pipelines of ``every``; how many were written."""
    pipe = client.pipeline(transaction=False)
    n = 0
    for n, e in enumerate(events, 1):
        pipe.xadd(stream, e)
        if n % every == 0:
            pipe.execute()
    pipe.execute()
    return n


def percentile(values, q: float) -> float:
    """The q-quantile of ``values`` by nearest rank (q = 0.95: p95)."""
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def timed(fn, repeat: int) -> list[float]:
    """Milliseconds each of ``repeat`` calls of ``fn`` took."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def stop_all(procs: list[subprocess.Popen], server) -> None:
    """Stop the child processes a benchmark started (all asked first, then waited for), then its Redis."""
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=20)
    server.stop()


def child_env(redis_url: str, **settings: str) -> dict[str, str]:
    """This process's environment without any civicwall setting of the shell, plus REDIS_URL and the
    given settings (``profile="nyc"`` becomes CIVICWALL_PROFILE=nyc)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICWALL_")}
    env["REDIS_URL"] = redis_url
    env.update({"CIVICWALL_" + name.upper(): str(value) for name, value in settings.items()})
    return env


def chromium(*flags: str, capabilities: dict | None = None):
    """Headless Chromium at 1920x1080 whose timers are never throttled (CHROMIUM, CHROMEDRIVER override
    the Debian paths)."""
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1920,1080",
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding", *flags):
        options.add_argument(flag)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    return webdriver.Chrome(options=options, service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")))


class Wall:
    """What a browser benchmark measures against, in ``folder``: an embedded Redis, one
    `civicwall aggregate`, gunicorn with gunicorn.conf.py (two workers) and, given ``feed`` (its
    arguments), `civicwall simulate`. ``settings`` become CIVICWALL_ variables. Each process logs to
    ``folder``/logs/<name>.log. ``stop()`` stops all of it."""

    def __init__(self, folder, feed: list[str] | None = None, **settings):
        import sys
        from pathlib import Path

        from dashboard.store import EmbeddedRedis, connect, free_port

        root = Path(__file__).resolve().parents[1]
        self.server = EmbeddedRedis(Path(folder), persist=False).start()
        self.client = connect(self.server.url)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}/"
        self.env = child_env(self.server.url, port=port, **settings)
        self.logs = Path(folder) / "logs"
        self.logs.mkdir()
        self.procs: list[subprocess.Popen] = []
        cli = [sys.executable, "-m", "dashboard.cli"]
        runs = [("aggregate", cli + ["aggregate"])]
        if feed is not None:
            runs.append(("simulate", cli + ["simulate", *feed]))
        runs.append(("web", [str(Path(sys.executable).parent / "gunicorn"), "--config", str(root / "gunicorn.conf.py"),
                             "--workers", "2", "app:server"]))
        for name, argv in runs:
            with open(self.logs / f"{name}.log", "wb") as log:
                self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=root))

    def ready(self, keys) -> bool:
        """The web server answers and the aggregator has published a snapshot."""
        import requests

        try:
            return requests.get(self.base + "healthz", timeout=2).ok and bool(self.client.exists(keys.snapshot))
        except requests.RequestException:
            return False

    def stop(self) -> None:
        stop_all(self.procs, self.server)
