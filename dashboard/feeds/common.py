"""Pieces every producer command shares: writing events to the stream, and stopping on signals."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

import redis

from ..store import translated

CHUNK = 1000          # XADDs per pipeline round trip


def xadd_all(client: redis.Redis, stream: str, events: Sequence[dict[str, str]], chunk: int = CHUNK) -> int:
    """XADD every event in order, pipelined in chunks, without MAXLEN (trimming is the consumer's call).

    Redis failures surface as ``StoreUnavailable``. Returns the number of events written.
    """
    for start in range(0, len(events), chunk):
        with translated("writing events to the stream"):
            pipe = client.pipeline(transaction=False)
            for fields in events[start:start + chunk]:
                pipe.xadd(stream, fields)
            pipe.execute()
    return len(events)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An Event that SIGINT and SIGTERM set instead of raising; the previous handlers come back after.

    Outside the main thread (where handlers cannot be installed) the Event is only set by the caller.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
