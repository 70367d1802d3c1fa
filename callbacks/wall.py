"""How wall screens stay current.

A screen does not run a Dash server callback per refresh. Its timer fires a client-side function
(``assets/wall.js``) that fetches ``GET /api/v1/wall?category=…&have=…`` and applies the answer with
``dash_clientside.set_props``. The answer carries only the panels this screen does not have yet:
the screen sends back the fingerprints of what it was last sent (``have``), and the server names
each panel's current fingerprint in the same order.

Why not a Dash callback: Dash's per-callback dispatch and answer encoding cost about 20 ms of CPU
each, so 200 screens polling every 2 s saturated two cores (docs/performance.md). Here each version
of the panels is rendered once (shared between workers through Redis), each distinct answer is
encoded once per worker, and a refresh is a dictionary lookup plus a short string join.

Panels are named ``<component id>.<property>``; figures are split into ``….figure.data`` and
``….figure.layout`` so that a screen whose figure layout is unchanged receives only the traces, and
the map is ``wall-map.style`` (fills, labels, footnote), because its outlines never change after the
page has loaded.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from dash import ClientsideFunction, Input, State
from flask import Response, request
from plotly.utils import PlotlyJSONEncoder

from dashboard import figures
from dashboard.errors import SnapshotMissing, StoreUnavailable
from dashboard.figures import ALL
from dashboard.geo import MapGeometry
from dashboard.i18n import strings
from dashboard.profiles import Profile
from dashboard.settings import Settings
from layouts import ids
from layouts.wall import (case_card, case_cards, case_texts, category_options, headline_texts, make_status, ticker_row,
                          ticker_rows, ticker_texts)

Source = Callable[[], dict[str, Any]]   # returns the snapshot or raises StoreUnavailable / SnapshotMissing

FEED_PATH = "/api/v1/wall"
MAP_STYLE = f"{ids.MAP}.style"

# Every panel a screen can receive, in the order their fingerprints travel.
PANELS: tuple[str, ...] = (
    *(f"{i}.children" for i in ids.HEADLINES),
    f"{ids.GAUGE_RESPONSE}.figure.data", f"{ids.GAUGE_RESPONSE}.figure.layout",
    f"{ids.GAUGE_ON_TIME}.figure.data", f"{ids.GAUGE_ON_TIME}.figure.layout",
    MAP_STYLE,
    f"{ids.MAP_CATEGORY}.options",
    f"{ids.RANKING}.figure.data", f"{ids.RANKING}.figure.layout",
    f"{ids.CHANNELS}.figure.data", f"{ids.CHANNELS}.figure.layout",
    f"{ids.HOURLY}.figure.data", f"{ids.HOURLY}.figure.layout",
    f"{ids.TICKER}.children",
    f"{ids.CASES}.children",
)
MAX_CATEGORY_CHARS = 200
# A 200 that says so: the screen keeps its picture and marks it stale, and a wall that polls through
# a long outage does not fill its browser console with failed requests.
STORE_UNAVAILABLE = json.dumps({"error": "store_unavailable",
                                "message": "the data store (Redis) is unreachable; retry shortly"})
UNKNOWN_CATEGORY = json.dumps({"error": "unknown_category", "message": "category is not one this wall shows"})
MAX_HAVE_CHARS = 20 * len(PANELS)


def register(app, source: Source, *, profile: Profile, settings: Settings,
             geometry: MapGeometry | None = None) -> "WallFeed":
    """Serve the feed and wire the browser side: the refresh timer and the one-second clock."""
    feed = WallFeed(source, profile, settings, geometry)

    @app.server.get(FEED_PATH)
    def wall_feed():
        started = time.perf_counter()
        category = request.args.get("category", ALL)[:MAX_CATEGORY_CHARS]
        have = request.args.get("have", "")
        timings: dict[str, float] = {}
        code, body = feed.answer(category, have if len(have) <= MAX_HAVE_CHARS else "", timings=timings)
        data = body.encode("utf-8")
        headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
        if len(data) > 1024 and request.accept_encodings["gzip"] > 0:     # honours q=0, any case
            # Component trees and figure JSON shrink five- to tenfold; level 1 costs well under 1 ms.
            data = gzip.compress(data, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
        # The time this answer took here, for the browser's network panel and bench/screens_load.py.
        timings["wall"] = (time.perf_counter() - started) * 1000
        headers["Server-Timing"] = ", ".join(f"{name};dur={ms:.2f}" for name, ms in timings.items())
        return Response(data, status=code, mimetype="application/json", headers=headers)

    # The browser side runs on timers of its own (assets/wall.js explains why): one callback starts
    # them when the page's config arrives, one follows the map's category picker. Neither has an
    # input that changes by itself, so Dash's undo history does not grow while the wall runs.
    app.clientside_callback(
        ClientsideFunction(namespace="civicwall", function_name="start"),
        Input(ids.CONFIG, "data"), State(ids.STATUS, "data"), *(State(g, "figure") for g in ids.GRAPHS),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="civicwall", function_name="choose"),
        Input(ids.MAP_CATEGORY, "value"),
    )
    return feed


class WallFeed:
    """Answers screens' refreshes. ``answer`` is the whole server side of one refresh."""

    RENDERED_MAX = 16      # panel versions kept per worker
    ANSWERS_MAX = 256      # encoded (version, have) answers kept per worker

    def __init__(self, source: Source, profile: Profile, settings: Settings, geometry: MapGeometry | None):
        self.source = source
        self.profile = profile
        self.settings = settings
        self.geometry = geometry if geometry is not None and len(geometry.ids) > 0 else None
        self._rendered: OrderedDict[tuple, tuple[dict[str, str], list[str]]] = OrderedDict()
        self._answers: OrderedDict[tuple, str] = OrderedDict()
        self._lock = threading.Lock()
        self._drawing = threading.Lock()

    def answer(self, category: str, have: str = "", now: float | None = None,
               timings: dict[str, float] | None = None) -> tuple[int, str]:
        """(HTTP status, JSON body) for a screen showing ``category`` that holds the panels ``have``
        names. When the store is unreachable the answer is only an error code. ``timings``, when
        given, receives the milliseconds spent reading the snapshot and drawing panels."""
        timings = {} if timings is None else timings
        started = time.perf_counter()
        try:
            snapshot = self.source()
        except StoreUnavailable:
            timings["read"] = (time.perf_counter() - started) * 1000
            return 200, STORE_UNAVAILABLE
        except SnapshotMissing:
            snapshot = None
        timings["read"] = (time.perf_counter() - started) * 1000
        return self.compose(snapshot, category, have, now, timings)

    def offers(self, snapshot: dict[str, Any] | None, category: str) -> bool:
        """Whether ``category`` is a view this wall serves (each view is rendered and kept, so only
        the profile's categories and those in the data are)."""
        return not category or category == ALL or (
            snapshot is not None and category in _categories(self.profile, snapshot)) or (
            snapshot is None and category in {c.name for c in self.profile.categories})

    def compose(self, snapshot: dict[str, Any] | None, category: str, have: str = "",
                now: float | None = None, timings: dict[str, float] | None = None) -> tuple[int, str]:
        """The answer for a snapshot already read (None: there is none yet). Cheap when this
        version was drawn before: a dictionary lookup and the status."""
        timings = {} if timings is None else timings
        now = time.time() if now is None else now
        category = category or ALL
        tz = self.profile.timezone
        if snapshot is None:
            status = make_status(None, category, tz, self.settings.stale_after_s, now)
            return 200, _join(status, '"panels":{},"prints":""')
        if not self.offers(snapshot, category):
            return 400, UNKNOWN_CATEGORY
        status = make_status(snapshot, category, tz, self.settings.stale_after_s, now)
        key = (snapshot.get("built_at"), category, have)
        with self._lock:
            part = self._answers.get(key)
        if part is None:
            started = time.perf_counter()
            encoded, prints = self.rendered(snapshot, category)
            timings["panels"] = (time.perf_counter() - started) * 1000
            shown = have.split(".") if have else []
            if len(shown) != len(prints):
                shown = [""] * len(prints)
            changed = [(name, encoded[name]) for name, now_print, old in zip(PANELS, prints, shown)
                       if now_print and now_print != old]
            panels = ",".join(f"{json.dumps(name)}:{value}" for name, value in changed)
            part = f'"panels":{{{panels}}},"prints":"{".".join(prints)}"'
            with self._lock:
                self._answers[key] = part
                while len(self._answers) > self.ANSWERS_MAX:
                    self._answers.popitem(last=False)
        return 200, _join(status, part)

    def is_drawn(self, snapshot: dict[str, Any], category: str) -> bool:
        with self._lock:
            return (snapshot.get("built_at"), category or ALL) in self._rendered

    def rendered(self, snapshot: dict[str, Any], category: str) -> tuple[dict[str, str], list[str]]:
        """Every panel of one snapshot version, encoded as JSON, with its fingerprint in PANELS
        order ('' for a panel this wall does not have, such as a map without boundaries).

        Building figures costs tens of milliseconds, so a version is built once: a worker keeps the
        last few, and the first worker to build one shares it with the others through
        ``source.shared_get/shared_set`` (Redis) when the source offers them."""
        key = (snapshot.get("built_at"), category)
        with self._lock:
            hit = self._rendered.get(key)
        if hit is not None:
            return hit
        with self._drawing:                 # threads asking for the same new version wait for one draw
            with self._lock:
                hit = self._rendered.get(key)
            return hit if hit is not None else self._draw(key, snapshot, category)

    def _draw(self, key: tuple, snapshot: dict[str, Any], category: str) -> tuple[dict[str, str], list[str]]:
        name = f"{snapshot.get('built_at')!r}:{category}"
        shared = self.source.shared_get(name) if hasattr(self.source, "shared_get") else None
        hit = _parse_shared(shared) if shared else None
        if hit is None:
            encoded = {k: v if type(v) is Encoded else _component_json(v)
                       for k, v in panels(snapshot, self.profile, self.geometry, category).items()}
            prints = [_fingerprint(encoded[p]) if p in encoded else "" for p in PANELS]
            hit = (encoded, prints)
            if hasattr(self.source, "shared_set"):
                self.source.shared_set(name, _format_shared(encoded, prints))
        with self._lock:
            self._rendered[key] = hit
            while len(self._rendered) > self.RENDERED_MAX:
                self._rendered.popitem(last=False)
        return hit


def _categories(profile: Profile, snapshot: dict[str, Any]) -> set[str]:
    return {c.name for c in profile.categories} | {r["name"] for r in snapshot.get("by_category", [])}


def _join(status: dict[str, Any], part: str) -> str:
    return '{"status":' + json.dumps(status, ensure_ascii=False) + "," + part + "}"


def prints_of(body: str) -> str:
    """The fingerprints an answer body (from ``compose``) names; '' for error or empty answers."""
    tail = body.rfind(',"prints":"')
    return body[tail + 11:-2] if tail >= 0 and body.endswith('"}') else ""


def _fingerprint(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


# The shared form is one line per panel: name, fingerprint and JSON, tab-separated. JSON text from
# json.dumps never holds a raw newline or tab, so splitting is exact and no re-encoding is needed.
def _format_shared(encoded: dict[str, str], prints: list[str]) -> str:
    return "\n".join(f"{name}\t{fp}\t{encoded.get(name, '')}" for name, fp in zip(PANELS, prints))


def _parse_shared(text: str) -> tuple[dict[str, str], list[str]] | None:
    lines = text.split("\n")
    if len(lines) != len(PANELS):
        return None                      # written by another version of the code
    encoded, prints = {}, []
    for name, line in zip(PANELS, lines):
        parts = line.split("\t", 2)
        if len(parts) != 3 or parts[0] != name:
            return None
        prints.append(parts[1])
        if parts[1]:
            encoded[name] = parts[2]
    return encoded, prints


def panels(snapshot: dict[str, Any], profile: Profile, geometry: MapGeometry | None,
           category: str) -> dict[str, Any]:
    """Every panel's current value as plain JSON-ready data, keyed by panel name."""
    lang = profile.language
    s = strings(lang, profile.labels)
    out: dict[str, Any] = {f"{k}.children": v for k, v in headline_texts(snapshot, s).items()}
    graphs = {
        ids.GAUGE_RESPONSE: figures.response_gauge(snapshot, lang),
        ids.GAUGE_ON_TIME: figures.on_time_gauge(snapshot, lang),
        ids.RANKING: figures.category_ranking(snapshot, lang),
        ids.CHANNELS: figures.channel_split(snapshot, lang),
        ids.HOURLY: figures.hourly(snapshot, lang),
    }
    for graph_id, fig in graphs.items():
        out[f"{graph_id}.figure.data"] = fig["data"]
        out[f"{graph_id}.figure.layout"] = fig["layout"]
    if geometry is not None:
        out[MAP_STYLE] = figures.map_style(geometry, snapshot, category, lang)
    out[f"{ids.MAP_CATEGORY}.options"] = category_options(profile, snapshot, s)
    # Rows and cards as encoded JSON: most of them were on the previous version too, and building
    # and encoding Dash components was a third of drawing a version.
    # (With none, the panels' "nothing yet" text comes from the layout's own functions.)
    today = snapshot.get("today", "")
    ticker, cases = snapshot.get("ticker", []), snapshot.get("resolved_cases", [])
    out[f"{ids.TICKER}.children"] = Encoded.list(_ticker_row_json(ticker_texts(r, today)) for r in ticker) \
        if ticker else ticker_rows(snapshot, s)
    out[f"{ids.CASES}.children"] = Encoded.list(_case_card_json(case_texts(r, s)) for r in cases) \
        if cases else case_cards(snapshot, s)
    return out


class Encoded(str):
    """A panel value that is already JSON text."""

    @classmethod
    def list(cls, items) -> Encoded:
        return cls("[" + ",".join(items) + "]")


def _component_json(component) -> str:
    return json.dumps(component, ensure_ascii=False, separators=(",", ":"), cls=PlotlyJSONEncoder)


@functools.lru_cache(maxsize=4096)
def _ticker_row_json(texts: tuple) -> str:
    return _component_json(ticker_row(texts))


@functools.lru_cache(maxsize=1024)
def _case_card_json(texts: tuple) -> str:
    return _component_json(case_card(texts))
