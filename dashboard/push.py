"""Push: a new snapshot reaches every screen as soon as the aggregator publishes it.

The wall is served as an ASGI application (gunicorn with uvicorn workers, see gunicorn.conf.py):

- ``GET /api/v1/wall/stream?category=…&have=…`` is a server-sent event stream. Each event is exactly
  the body the polling feed (``/api/v1/wall``) would answer: the status plus the panels that differ
  from what this screen was last sent. The first event brings the screen up to date from ``have``.
- Everything else (the page, Dash's files, the polling feed, the JSON API) is the Flask application,
  run in a thread pool by a2wsgi.

One ``Hub`` per worker process listens on the Redis channel ``cw:{city}:published``. When a message
arrives it reads the snapshot once, draws the panels of each view that screens are watching once (in
a thread, so the event loop never waits for Redis or for drawing), and wakes every stream. A stream
sends the newest version only, so a screen that fell behind simply skips ahead and one slow screen
never holds up the others.

Most screens of a view hold the same panels, so they are sent the same event: it is encoded and
compressed once per worker (``Frames``), not once per screen. A compressed stream is one gzip member
whose body is a run of such pieces: each is raw deflate that refers to nothing before it and ends on
a byte boundary without closing the stream, so any sequence of pieces is valid deflate. Each stream
keeps only its own CRC-32 and length for the gzip trailer.

Why server-sent events rather than WebSockets (or Dash's WebSocket callbacks): the wall only ever
sends from server to screen; an event stream is plain HTTP (proxies, TLS and the CSP's
``connect-src 'self'`` need nothing new), and the answers are the polling feed's answers, so a screen
falls back to polling by simply not receiving events. docs/performance.md has the measurements.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import struct
import time
import zlib
from collections import Counter, OrderedDict
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

import redis
import redis.asyncio
import structlog
from a2wsgi import WSGIMiddleware

from callbacks.wall import MAX_CATEGORY_CHARS, MAX_HAVE_CHARS, STORE_UNAVAILABLE, UNKNOWN_CATEGORY, WallFeed, prints_of

from .errors import SnapshotMissing, StoreUnavailable
from .keys import Keys
from .settings import Settings
from .store import TRANSIENT

STREAM_PATH = "/api/v1/wall/stream"
KEEPALIVE_S = 5.0          # a "ping" event this often: the screen's sign that the stream is alive
RETRY_MS = 3000            # what EventSource would wait before reconnecting (wall.js reconnects itself)
log = structlog.get_logger("civicwall.push")

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"   # deflate, no name, no time, unknown OS
GZIP_LAST_BLOCK = zlib.compressobj(1, zlib.DEFLATED, -15).flush()   # an empty final block: 03 00

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Hub:
    """This worker's view of the published snapshot, and the signal that wakes its streams."""

    def __init__(self, feed: WallFeed, source, keys: Keys, settings: Settings):
        self.feed = feed
        self.source = source
        self.keys = keys
        self.settings = settings
        self.snapshot: dict[str, Any] | None = None
        self.error: str | None = None          # "store_unavailable" while Redis cannot be read
        self.version = 0
        self.watching: Counter[str] = Counter()
        self.closing = asyncio.Event()
        self._event = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="civicwall-push-hub")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=self.settings.socket_timeout_s + 1)
        except TimeoutError:
            pass

    async def stop(self) -> None:
        self.closing.set()
        self._notify()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def wait(self, version: int, timeout: float) -> None:
        """Return when the version moves on from ``version``, or after ``timeout`` seconds."""
        if self.version != version:
            return
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            pass

    def _notify(self) -> None:
        self.version += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def _run(self) -> None:
        backoff = 0.2
        poll_s = max(0.25, self.settings.snapshot_ms / 1000)
        while not self.closing.is_set():
            client = None
            try:
                client = redis.asyncio.from_url(self.settings.redis_url, socket_connect_timeout=2,
                                                socket_keepalive=True, health_check_interval=30)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self.keys.published)
                await self.refresh()
                backoff = 0.2
                while not self.closing.is_set():
                    # A message means a new snapshot; without one, read anyway now and then, so a
                    # missed message or a Redis that stopped answering is noticed within a snapshot
                    # interval.
                    await pubsub.get_message(timeout=poll_s)
                    await self.refresh()
            except asyncio.CancelledError:
                raise
            except (*TRANSIENT, redis.exceptions.RedisError) as exc:
                log.warning("push.store_unavailable", error=f"{type(exc).__name__}: {exc}", retry_in_s=backoff)
                self._set(self.snapshot, "store_unavailable")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:       # never let one bad snapshot end pushing for this worker
                log.exception("push.hub_error")
                await asyncio.sleep(1.0)
            finally:
                if client is not None:
                    try:
                        await client.aclose()
                    except Exception:
                        pass

    async def refresh(self) -> None:
        """Read the snapshot and draw the watched views, in a thread; wake the streams if it changed."""
        views = [c for c, n in self.watching.items() if n > 0]
        try:
            snapshot = await asyncio.to_thread(self._read_and_draw, views)
            self._set(snapshot, None)
        except StoreUnavailable:
            self._set(self.snapshot, "store_unavailable")
        except SnapshotMissing:
            self._set(None, None)
        finally:
            self._ready.set()

    def _read_and_draw(self, views: list[str]) -> dict[str, Any]:
        snapshot = self.source.latest()
        if self.snapshot is None or snapshot.get("built_at") != self.snapshot.get("built_at"):
            for category in views:
                if self.feed.offers(snapshot, category):
                    self.feed.rendered(snapshot, category)
        return snapshot

    def _set(self, snapshot: dict[str, Any] | None, error: str | None) -> None:
        built = (snapshot or {}).get("built_at")
        if error != self.error or built != (self.snapshot or {}).get("built_at") or (snapshot is None) != (self.snapshot is None):
            self.snapshot, self.error = snapshot, error
            self._notify()


def deflated(data: bytes) -> bytes:
    """``data`` as raw deflate that needs nothing before it and leaves the stream open (a fresh
    compressor, sync-flushed, never finished): pieces like this concatenate into valid deflate."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


class Frame:
    """One event as sent: its bytes, the same bytes compressed, and the panels it leaves a screen with."""

    __slots__ = ("raw", "packed", "prints", "made")

    def __init__(self, text: str, prints: str = ""):
        self.raw = text.encode("utf-8")
        self.packed = deflated(self.raw)
        self.prints = prints
        self.made = time.monotonic()


class Frames:
    """Events shared by this worker's streams, keyed by (hub version, view, panels held).

    An event carries the server's time (``status.checked_at``, which screens set their clock by), so
    one is reused for at most ``FRESH_S``; after that the next stream that needs it makes it again."""

    FRESH_S = 1.0
    MAX = 256

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, Frame] = OrderedDict()

    def get(self, key: tuple) -> Frame | None:
        frame = self._kept.get(key)
        return frame if frame is not None and time.monotonic() - frame.made < self.FRESH_S else None

    def put(self, key: tuple, frame: Frame) -> Frame:
        self._kept[key] = frame
        self._kept.move_to_end(key)
        while len(self._kept) > self.MAX:
            self._kept.popitem(last=False)
        return frame


PING = Frame("event: ping\ndata: \n\n")
RETRY = Frame(f"retry: {RETRY_MS}\n\n")


class Push:
    """The ASGI side of the wall: event streams, and the Flask application for everything else."""

    def __init__(self, flask_app, feed: WallFeed, source, keys: Keys, settings: Settings, security_headers: dict[str, str]):
        self.feed = feed
        self.settings = settings
        self.hub = Hub(feed, source, keys, settings)
        self.wsgi = WSGIMiddleware(flask_app, workers=settings.threads)
        self.headers = [(k.lower().encode(), v.encode()) for k, v in security_headers.items()]
        self.frames = Frames()
        self.streams = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "http" and scope["path"] == STREAM_PATH:
            if scope["method"] not in ("GET", "HEAD"):
                await self._json(send, 405, {"error": "method_not_allowed", "message": "the API is read-only: use GET"})
            else:
                await self.stream(scope, receive, send)
        elif kind == "http":
            await self.wsgi(scope, receive, send)
        # WebSocket connections are not offered: the server closes them without an answer.

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loop = asyncio.get_running_loop()
                self._watch_exit()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.hub.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _watch_exit(self) -> None:
        # uvicorn waits for open responses before a worker exits, and an event stream never ends by
        # itself: on SIGTERM/SIGINT end the streams first (screens poll until they reconnect).
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def chained(signum, frame, previous=previous):
                loop.call_soon_threadsafe(self._closing)
                previous(signum, frame)
            try:
                signal.signal(sig, chained)
            except ValueError:          # not the main thread (an embedded server in tests)
                pass

    def close_streams(self) -> None:
        """End every open stream (from any thread); screens poll until they reconnect elsewhere."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._closing)

    def _closing(self) -> None:
        self.hub.closing.set()
        self.hub._notify()

    async def _json(self, send: Send, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"cache-control", b"no-store"),
            (b"content-length", str(len(data)).encode()), *self.headers]})
        await send({"type": "http.response.body", "body": data})

    async def stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        category = (query.get("category", [""])[0] or "")[:MAX_CATEGORY_CHARS]
        have = query.get("have", [""])[0]
        have = have if len(have) <= MAX_HAVE_CHARS else ""
        hub = self.hub
        await hub.start()
        if hub.snapshot is not None and not self.feed.offers(hub.snapshot, category):
            await send({"type": "http.response.start", "status": 400, "headers": [
                (b"content-type", b"application/json"), (b"cache-control", b"no-store"), *self.headers]})
            await send({"type": "http.response.body", "body": UNKNOWN_CATEGORY.encode()})
            return
        accept = dict(scope.get("headers", [])).get(b"accept-encoding", b"").decode("latin-1")
        packed = _accepts_gzip(accept)
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"),
                   (b"x-accel-buffering", b"no"), (b"x-civicwall-worker", str(os.getpid()).encode()),
                   *self.headers]
        if packed:
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        crc, length = 0, 0

        async def emit(frame: Frame, head: bytes = b"") -> None:
            nonlocal crc, length
            if packed:
                crc, length = zlib.crc32(frame.raw, crc), length + len(frame.raw)
            await send({"type": "http.response.body", "body": head + (frame.packed if packed else frame.raw),
                        "more_body": True})

        gone = asyncio.create_task(_disconnected(receive))
        hub.watching[category] += 1
        self.streams += 1
        version = -1
        try:
            await emit(RETRY, GZIP_HEADER if packed else b"")
            while not gone.done() and not hub.closing.is_set():
                if version != hub.version:
                    version = hub.version
                    frame = await self._frame(version, category, have)
                    have = frame.prints or have
                    await emit(frame)
                    continue
                waiting = asyncio.create_task(hub.wait(version, KEEPALIVE_S))
                await asyncio.wait({waiting, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not waiting.done():
                    waiting.cancel()
                elif version == hub.version and not gone.done():
                    await emit(PING)
        except OSError:
            pass                       # the screen went away mid-write
        finally:
            hub.watching[category] -= 1
            self.streams -= 1
            gone.cancel()
        try:
            tail = GZIP_LAST_BLOCK + struct.pack("<II", crc, length & 0xFFFFFFFF) if packed else b""
            await send({"type": "http.response.body", "body": tail, "more_body": False})
        except OSError:
            pass

    async def _frame(self, version: int, category: str, have: str) -> Frame:
        """The event that brings a screen holding ``have`` up to the hub's current version."""
        hub = self.hub
        key = (version, category, have)
        frame = self.frames.get(key)
        if frame is not None:
            return frame
        if hub.error is not None:
            body = STORE_UNAVAILABLE
        else:
            snapshot = hub.snapshot
            if snapshot is not None and not self.feed.is_drawn(snapshot, category):
                _, body = await asyncio.to_thread(self.feed.compose, snapshot, category, have)
            else:
                _, body = self.feed.compose(snapshot, category, have)
        return self.frames.put(key, Frame(f"data: {body}\n\n", prints_of(body)))


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


def asgi_app(dash_app) -> Push:
    """The wall as an ASGI application (for uvicorn workers); ``dash_app`` comes from create_app."""
    parts = dash_app.civicwall
    return Push(dash_app.server, parts.feed, parts.source, parts.keys, parts.settings, parts.security_headers)

