"""The wall's "now": real time, or the replay clock that follows replayed data.

The clock lives in Redis so that every aggregator and web worker agrees on it. A replay sets it to
(data time, real time, speed); "now" is then data_ts + (real now - wall_ts) * speed. Speed 0 pins
the clock at data_ts (used for as-fast-as-possible replays and after a replay has finished).
"""

from __future__ import annotations

import time

import redis

from .keys import Keys
from .store import translated


def now(client: redis.Redis, keys: Keys, real: float | None = None) -> tuple[float, str]:
    """(epoch seconds, "live" | "replay")."""
    moment, mode, _ = reading(client, keys, real)
    return moment, mode


def reading(client: redis.Redis, keys: Keys, real: float | None = None) -> tuple[float, str, float]:
    """(epoch seconds, "live" | "replay", seconds the clock moves per real second)."""
    real = time.time() if real is None else real
    with translated("reading the clock"):
        raw = client.hgetall(keys.clock)
    if not raw or raw.get(b"mode") != b"replay":
        return real, "live", 1.0
    data_ts = float(raw[b"data_ts"])
    wall_ts = float(raw[b"wall_ts"])
    speed = float(raw.get(b"speed", b"0"))
    return data_ts + max(0.0, real - wall_ts) * speed, "replay", speed


def set_replay(client: redis.Redis, keys: Keys, data_ts: float, speed: float, real: float | None = None) -> None:
    real = time.time() if real is None else real
    with translated("setting the replay clock"):
        client.hset(keys.clock, mapping={"mode": "replay", "data_ts": repr(float(data_ts)),
                                         "wall_ts": repr(real), "speed": repr(float(speed))})


def set_live(client: redis.Redis, keys: Keys) -> None:
    with translated("resetting the clock"):
        client.delete(keys.clock)
