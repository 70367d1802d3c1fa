"""One typed settings object: explicit argument > environment variable > default.

Every knob civicwall reads from the environment is declared here and nowhere else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from datetime import time as clock_time
from typing import Any, Mapping

from . import playlist as playlists
from .errors import ConfigError

ENV_PREFIX = "CIVICWALL_"


def _env_name(name: str) -> str:
    return "REDIS_URL" if name == "redis_url" else ENV_PREFIX + name.upper()


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. ``docs`` for each field is the text of the README's configuration table."""

    redis_url: str = field(default="", metadata={"doc": "Redis to use; empty starts an embedded server (make run) "})
    profile: str = field(default="jiaozuo", metadata={"doc": "City profile: a built-in name or a path to a .toml file"})
    stream: str = field(default="", metadata={"doc": "Stream key producers write to; default cw:{<city>}:events"})
    group: str = field(default="civicwall-agg", metadata={"doc": "Consumer group of the aggregators"})
    batch: int = field(default=500, metadata={"doc": "Entries the aggregator reads and applies per round trip"})
    block_ms: int = field(default=1000, metadata={"doc": "How long one blocking stream read waits for new entries"})
    claim_idle_ms: int = field(default=30000, metadata={"doc": "Pending entries idle this long are reclaimed from dead consumers"})
    snapshot_ms: int = field(default=1000, metadata={"doc": "The snapshot is rebuilt at least this often, even with no events"})
    publish_ms: int = field(default=100, metadata={"doc": "After new events arrive, the snapshot is republished within this many ms (and no more often)"})
    refresh_ms: int = field(default=2000, metadata={"doc": "How often a wall screen polls when it has no push stream"})
    manager_refresh_ms: int = field(default=10000, metadata={"doc": "How often the manager and newsroom pages refresh their figures"})
    stale_after_s: int = field(default=15, metadata={"doc": "A snapshot older than this is shown as delayed"})
    socket_timeout_s: float = field(default=5.0, metadata={"doc": "Redis socket timeout for ordinary commands"})
    host: str = field(default="127.0.0.1", metadata={"doc": "Address the web server binds (make run)"})
    port: int = field(default=8050, metadata={"doc": "Port the web server binds (make run)"})
    workers: int = field(default=2, metadata={"doc": "gunicorn workers started by make run"})
    threads: int = field(default=4, metadata={"doc": "Threads per gunicorn worker for page loads and polls (gunicorn.conf.py)"})
    data_dir: str = field(default=".run", metadata={"doc": "Where make run keeps the embedded Redis files and logs"})
    feed: str = field(default="simulate", metadata={"doc": "Demo feed make run starts: simulate or none"})
    playlist: str = field(default="", metadata={"doc": "Views a wall rotates through, as view:seconds,... (overview, districts, trends, stories); empty: the profile's [[playlist]]"})
    push: str = field(default="on", metadata={"doc": "on: screens get each new snapshot pushed (server-sent events), polling only as a fallback; off: screens poll"})
    users_file: str = field(default="", metadata={"doc": "Users who may sign in to the manager and newsroom pages (civicwall user add); empty: <data_dir>/users.json"})
    briefing_at: str = field(default="", metadata={"doc": "Local time (HH:MM) at which civicwall run's scheduler makes the day's briefing; empty: no scheduler"})
    secret_key: str = field(default="", repr=False, metadata={"doc": "Key that signs sign-in cookies; empty: a random key kept in Redis and shared by every worker"})

    def __post_init__(self) -> None:
        checks = [
            ("batch", 1, 10_000),
            ("block_ms", 10, 60_000),
            ("claim_idle_ms", 1000, 86_400_000),
            ("snapshot_ms", 100, 60_000),
            ("publish_ms", 20, 60_000),
            ("refresh_ms", 250, 600_000),
            ("manager_refresh_ms", 500, 600_000),
            ("stale_after_s", 2, 86_400),
            ("port", 1, 65_535),
            ("workers", 1, 64),
            ("threads", 1, 256),
        ]
        for name, low, high in checks:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f"{_env_name(name)} must be between {low} and {high}, got {value}")
        if self.push not in {"on", "off"}:
            raise ConfigError(f"CIVICWALL_PUSH must be on or off, got {self.push!r}")
        if self.publish_ms > self.snapshot_ms:
            raise ConfigError(f"CIVICWALL_PUBLISH_MS ({self.publish_ms}) must not exceed CIVICWALL_SNAPSHOT_MS ({self.snapshot_ms})")
        if self.playlist:
            playlists.parse(self.playlist)          # raises ConfigError naming the bad entry
        if self.feed not in {"simulate", "none"}:
            raise ConfigError(f"CIVICWALL_FEED must be simulate or none, got {self.feed!r}")
        if self.briefing_at:
            parse_hhmm(self.briefing_at, "CIVICWALL_BRIEFING_AT")
        if self.stale_after_s * 1000 < 3 * self.snapshot_ms:
            raise ConfigError(
                f"CIVICWALL_STALE_AFTER_S ({self.stale_after_s} s) must be at least three snapshot intervals "
                f"(CIVICWALL_SNAPSHOT_MS = {self.snapshot_ms} ms), or healthy screens would flap to 'delayed'"
            )
        if self.socket_timeout_s * 1000 <= self.block_ms:
            raise ConfigError(
                f"CIVICWALL_SOCKET_TIMEOUT_S ({self.socket_timeout_s}) must be longer than "
                f"CIVICWALL_BLOCK_MS ({self.block_ms} ms), or a quiet stream makes blocking reads time out"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from ``env`` (default ``os.environ``); keyword overrides win over both."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(_env_name(f.name))
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def documented(cls) -> list[tuple[str, str, str]]:
        """(environment variable, default, description) for every setting, for docs and --help."""
        return [(_env_name(f.name), repr(f.default), f.metadata.get("doc", "")) for f in fields(cls)]


def parse_hhmm(text: str, what: str) -> clock_time:
    """A local time of day written HH:MM (24-hour clock), or ConfigError naming ``what``."""
    match = re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", text.strip())
    if not match:
        raise ConfigError(f"{what} must be a time of day as HH:MM (for example 20:00), got {text!r}")
    return clock_time(int(match[1]), int(match[2]))


def _coerce(name: str, type_name: Any, raw: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        what = "a whole number" if kind == "int" else "a number"
        raise ConfigError(f"{_env_name(name)} must be {what}, got {raw!r}") from None
    return raw
