"""The web application: the Dash app factory, the snapshot API and the health check.

Every worker reads the same snapshot string from Redis (one GET per refresh), so any number of
gunicorn workers and hosts show the same numbers and none keeps figures of its own.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dash
import plotly.io.json
import structlog
from flask import Response, request

from callbacks.wall import FEED_PATH, register
from layouts.wall import wall_layout

from . import auth, briefing_web, geo, manager_api, snapshot
from .errors import SnapshotMissing, StoreUnavailable
from .i18n import strings
from .keys import Keys
from .manager import ManagerData
from .newsroom import NewsroomData
from .taken import TakenMarks
from .profiles import load_profile
from .settings import Settings
from .store import connect, translated
from .users import UserStore, users_path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS = PROJECT_ROOT / "assets"
log = structlog.get_logger("civicwall.web")


class SnapshotSource:
    """Reads the stored snapshot for one profile; calling it returns the parsed dict.

    The Redis client is created on first use in the process that uses it. redis-py pools do reset
    themselves after a fork, but a client created lazily (and dropped in the child by the at-fork
    hook) means a gunicorn master that imported the app with --preload never opens a connection
    its workers would inherit, and a lock held during the fork cannot deadlock the child.
    """

    REUSE_S = 0.25

    def __init__(self, settings: Settings, keys: Keys):
        self.settings = settings
        self.keys = keys
        self._parsed: tuple[float, dict[str, Any]] | None = None
        self._client = None
        self._pid = 0
        self._lock = threading.Lock()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (s := ref()) and s._reset())

    def _reset(self) -> None:
        self._client, self._pid, self._lock, self._parsed = None, 0, threading.Lock(), None

    def client(self):
        pid = os.getpid()
        if self._client is None or self._pid != pid:
            with self._lock:
                if self._client is None or self._pid != pid:
                    # A screen refresh must not hang on an unreachable host: short timeouts, no retries
                    # (the next tick is the retry), so the wall can say "stale" within one interval.
                    self._client = connect(self.settings.redis_url, retries=0,
                                           socket_timeout=min(self.settings.socket_timeout_s, 2.0))
                    self._pid = pid
        return self._client

    def read_raw(self) -> str:
        return snapshot.read_raw(self.client(), self.keys)

    def __call__(self) -> dict[str, Any]:
        """The parsed snapshot. Refreshes from many screens within REUSE_S share one read and one
        parse per worker (pushed screens do not wait for this: the push hub reads each version as
        soon as it is published)."""
        now = time.monotonic()
        cached = self._parsed
        if cached is not None and now - cached[0] < self.REUSE_S:
            return cached[1]
        return self.latest()

    def latest(self) -> dict[str, Any]:
        """The snapshot as stored right now (one GET), also kept for the next REUSE_S."""
        now = time.monotonic()
        parsed = json.loads(self.read_raw())
        self._parsed = (now, parsed)
        return parsed

    def try_read(self) -> dict[str, Any] | None:
        try:
            return self()
        except (StoreUnavailable, SnapshotMissing) as exc:
            log.warning("web.snapshot_unavailable", error=type(exc).__name__)
            return None

    # A small cache shared by all workers: the panels of one snapshot version are built by the first
    # worker that needs them and read by the others. Failures only cost a rebuild.
    def shared_get(self, name: str) -> str | None:
        try:
            with translated("reading the render cache"):
                raw = self.client().get(self.keys.prefix + "render:" + name)
        except StoreUnavailable:
            return None
        return raw.decode("utf-8") if raw is not None else None

    def shared_set(self, name: str, value: str, ttl_s: int = 60) -> None:
        try:
            with translated("writing the render cache"):
                self.client().set(self.keys.prefix + "render:" + name, value, ex=ttl_s)
        except StoreUnavailable:
            pass

    def ping(self) -> bool:
        try:
            with translated("checking health"):
                return bool(self.client().ping())
        except StoreUnavailable:
            return False


def create_app(settings: Settings | None = None) -> dash.Dash:
    """The wall for ``settings.profile``; settings default to ``Settings.from_env()``."""
    # Layout answers are mostly plain JSON; Plotly's "orjson" engine would walk every value in Python
    # before encoding, the standard json engine encodes them in C.
    plotly.io.json.config.default_engine = "json"
    settings = settings or Settings.from_env()
    profile = load_profile(settings.profile)
    source = SnapshotSource(settings, Keys(profile.city, settings.stream))
    fc = geo.boundaries(profile)
    missing = geo.check_join(profile, fc)
    if missing:
        log.warning("web.districts_without_boundary", districts=missing, source=profile.boundary.source)
    try:
        unknown = geo.unknown_in_data(source.client(), source.keys)
    except StoreUnavailable:
        unknown = []          # Redis is not up yet: the wall starts anyway and says so on screen
    if unknown:
        log.warning("web.data_districts_without_region", values=dict(unknown[:50]))
    geometry = geo.map_geometry(fc)
    log.info("web.boundaries", city=profile.city, regions=len(fc["features"]), payload_bytes=geo.payload_bytes(fc))

    app = dash.Dash("civicwall", assets_folder=str(ASSETS), assets_ignore=MANAGER_ASSETS, title=profile.title,
                    update_title=None, serve_locally=True)
    feed_url = app.config.requests_pathname_prefix.rstrip("/") + FEED_PATH
    app.layout = lambda: wall_layout(profile, settings, source.try_read(), geometry, feed_url=feed_url)
    feed = register(app, source, profile=profile, settings=settings, geometry=geometry)
    managers = ManagerData(source.client, source.keys, profile)
    manager_api.register(app.server, managers)
    briefing_web.register(app.server, source.client, source.keys, profile)
    manager_app = _manager_app(app, profile, settings, managers)
    newsroom_app = _newsroom_app(app, profile, settings, NewsroomData(managers, TakenMarks(source.client, source.keys)))
    auth.register(app.server, UserStore(users_path(settings)), source.client, source.keys, profile,
                  settings.secret_key, {MANAGER_PATH: "manager", NEWSROOM_PATH: "newsroom"})
    _routes(app.server, source, profile.city)
    headers = security_headers(content_security_policy(app.csp_hashes() + manager_app.csp_hashes()
                                                       + newsroom_app.csp_hashes()))
    _security_headers(app.server, headers)
    # What the ASGI server (dashboard.push) needs to stream the same answers.
    app.civicwall = SimpleNamespace(feed=feed, source=source, keys=source.keys, settings=settings,
                                    security_headers=headers, managers=managers)
    _register_page_scripts(app)
    _register_page_scripts(manager_app)
    _register_page_scripts(newsroom_app)
    return app


# Each page loads only its own scripts and styles from assets/.
MANAGER_ASSETS = r"^(manager|newsroom|feedpage|auth)\."
WALL_ASSETS = r"^(canvas|ticker|wall|newsroom|auth)\."


def _manager_app(wall: dash.Dash, profile, settings: Settings, managers: ManagerData) -> dash.Dash:
    """The manager page at /manager/: a second Dash app on the wall's Flask server, so it shares the
    server's routes, headers and workers but none of the wall's scripts."""
    from callbacks.manager import FEED_SUFFIX, register as register_manager
    from layouts.manager import manager_layout

    app = dash.Dash("civicwall-manager", server=wall.server, url_base_pathname=MANAGER_PATH,
                    assets_folder=str(ASSETS), assets_ignore=WALL_ASSETS, serve_locally=True,
                    title=f"{profile.title} · {strings(profile.language, profile.labels)['m_title']}",
                    update_title=None)
    prefix = app.config.requests_pathname_prefix
    layout = manager_layout(profile, feed_url=prefix + FEED_SUFFIX, api_url=manager_api.PREFIX, newsroom_url=NEWSROOM_PATH,
                            refresh_ms=settings.manager_refresh_ms,
                            wall_url=wall.config.requests_pathname_prefix)
    app.layout = layout
    register_manager(app, managers, profile)
    return app


MANAGER_PATH = "/manager/"
NEWSROOM_PATH = "/newsroom/"
# The newsroom page borrows the manager page's stylesheet (same controls), not its script.
NEWSROOM_ASSETS = r"^(canvas|ticker|wall|auth)\.|^manager\.js$"


def _newsroom_app(wall: dash.Dash, profile, settings: Settings, data: NewsroomData) -> dash.Dash:
    """The newsroom page at /newsroom/, a third Dash app on the same server (like the manager page)."""
    from callbacks.newsroom import FEED_SUFFIX, MARK_SUFFIX, register as register_newsroom
    from layouts.newsroom import newsroom_layout

    app = dash.Dash("civicwall-newsroom", server=wall.server, url_base_pathname=NEWSROOM_PATH,
                    assets_folder=str(ASSETS), assets_ignore=NEWSROOM_ASSETS, serve_locally=True,
                    title=f"{profile.title} · {strings(profile.language, profile.labels)['n_title']}",
                    update_title=None)
    prefix = app.config.requests_pathname_prefix
    app.layout = newsroom_layout(profile, feed_url=prefix + FEED_SUFFIX, action_url=prefix + MARK_SUFFIX,
                                 refresh_ms=settings.manager_refresh_ms,
                                 wall_url=wall.config.requests_pathname_prefix, manager_url=MANAGER_PATH)
    register_newsroom(app, data, profile)
    return app


def _register_page_scripts(app: dash.Dash) -> None:
    """Dash serves a script bundle (/_dash-component-suites/...) only once it has registered its path,
    which it does during a process's first request, and it marks that setup done before finishing it.
    A browser asking a just-started worker for a dozen scripts at once therefore got 500s for some of
    them and stayed on "Loading..." for good, typically right after a restart. Serving the page once
    here, before any real request, completes that setup in every process that builds the app."""
    from .auth import STARTUP

    with app.server.test_client() as c:
        answer = c.get(app.config.requests_pathname_prefix, environ_overrides={STARTUP: True})
    if answer.status_code != 200:
        raise RuntimeError(f"the wall's page could not be rendered at start-up (HTTP {answer.status_code})")


def create_server(settings: Settings | None = None):
    """What gunicorn serves: with push on (the default) the ASGI application for uvicorn workers,
    else the plain WSGI (Flask) application."""
    settings = settings or Settings.from_env()
    app = create_app(settings)
    if settings.push == "on":
        from .push import asgi_app

        return asgi_app(app)
    return app.server


def content_security_policy(inline_script_hashes: list[str]) -> str:
    """Scripts only from this server plus Dash's own inline bootstrap (allowed by its hash), so nothing
    that arrives as data can ever run. Plotly sets inline styles, hence 'unsafe-inline' for styles only."""
    directives = {
        "default-src": ["'self'"],
        # Dash returns them quoted; the three pages share the same bootstrap, so each hash once.
        "script-src": ["'self'", *dict.fromkeys(inline_script_hashes)],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }


def _security_headers(server, headers: dict[str, str]) -> None:
    @server.after_request
    def add_security_headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store", "Retry-After": "2"})


def _routes(server, source: SnapshotSource, city: str) -> None:
    @server.get("/api/v1/snapshot")
    def api_snapshot():
        try:
            raw = source.read_raw()
        except StoreUnavailable as exc:
            log.warning("web.api_store_unavailable", error=str(exc))
            return _error(503, "store_unavailable", "the data store (Redis) is unreachable; retry shortly")
        except SnapshotMissing:
            return _error(503, "snapshot_missing",
                          f"no snapshot yet for {city}: the aggregator has not published one")
        return Response(raw, mimetype="application/json", headers={"Cache-Control": "no-store"})

    @server.get("/healthz")
    def healthz():
        # The worker is healthy even when Redis is not: the wall then shows its last picture.
        body = {"status": "ok", "city": city, "worker": os.getpid(),
                "redis": "ok" if source.ping() else "unavailable"}
        return Response(json.dumps(body), mimetype="application/json", headers={"Cache-Control": "no-store"})

    @server.get("/api", defaults={"rest": ""}, strict_slashes=False)
    @server.get("/api/<path:rest>")
    def api_unknown(rest):
        return _error(404, "not_found", f"unknown API path; the API has /api/v1/snapshot, {FEED_PATH} and "
                      f"{manager_api.PREFIX}/{{{','.join(manager_api.FIGURES)}}} (docs/api.md)")

    @server.errorhandler(405)
    def method_not_allowed(exc):
        if request.path == "/api" or request.path.startswith("/api/"):
            return _error(405, "method_not_allowed", "the API is read-only: use GET")
        return exc

    @server.after_request
    def worker_header(response):
        response.headers["X-Civicwall-Worker"] = str(os.getpid())
        return response
