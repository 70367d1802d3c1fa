"""Pieces the benchmark scripts share."""

from __future__ import annotations

import subprocess


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
