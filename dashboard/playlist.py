"""The wall's playlist: which view a screen shows, and for how long.

A view is one arrangement of the wall's panels on the 1920x1080 canvas (assets/wall.css):

- ``overview``: everything (headline figures, gauges, map, rankings, hourly volume, ticker, cases);
- ``districts``: the district map large, with the category ranking and the channels;
- ``trends``: hourly volume today against yesterday large, with the gauges, ranking and channels;
- ``stories``: the live ticker and the recently resolved cases large.

The header and the headline figures are on every view. Every panel is on the page all the time and
receives every update, whether shown or not, so a view that comes round already holds current
figures: rotating never shows an empty panel.

Screens rotate on the server's clock: the position in the cycle is the server's Unix time modulo the
cycle's length. Screens in one room therefore turn together, and a screen that reloads carries on
where it was. A playlist is configured in the profile (``[[playlist]]`` tables with ``view`` and
``dwell_s``) or by the CIVICWALL_PLAYLIST setting, written ``overview:60,districts:20``; the setting
wins. A screen can also be pinned to one view with ``?view=<name>`` in its URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

VIEWS = ("overview", "districts", "trends", "stories")
MIN_DWELL_S = 5
MAX_DWELL_S = 86_400
MAX_SLOTS = 32


@dataclass(frozen=True)
class Slot:
    view: str
    dwell_s: int


DEFAULT = (Slot("overview", 60),)


def slot(view: object, dwell_s: object, where: str) -> Slot:
    """One checked entry; ``where`` names the configuration and the entry it came from, for the error.
    ``dwell_s`` is text (from the setting) or an integer (from a profile, checked by from_tables)."""
    name = str(view).strip()
    if name not in VIEWS:
        raise ConfigError(f"{where}: unknown view {name!r}; the views are {', '.join(VIEWS)}")
    try:
        seconds = int(str(dwell_s).strip())
    except ValueError:
        raise ConfigError(f"{where}: dwell time of {name!r} must be a whole number of seconds, got {dwell_s!r}") from None
    if not MIN_DWELL_S <= seconds <= MAX_DWELL_S:
        raise ConfigError(f"{where}: dwell time of {name!r} must be between {MIN_DWELL_S} and {MAX_DWELL_S} s, "
                          f"got {seconds}")
    return Slot(name, seconds)


def checked(slots: list[Slot], where: str) -> tuple[Slot, ...]:
    if not slots:
        raise ConfigError(f"{where}: the playlist is empty; name at least one view")
    if len(slots) > MAX_SLOTS:
        raise ConfigError(f"{where}: at most {MAX_SLOTS} entries, got {len(slots)}")
    return tuple(slots)


def parse(text: str, where: str = "CIVICWALL_PLAYLIST") -> tuple[Slot, ...]:
    """``overview:60,districts:20`` -> slots. A view without ``:seconds`` is an error, not a guess."""
    slots = []
    for part in text.split(","):
        if not part.strip():
            continue
        view, sep, seconds = part.partition(":")
        if not sep:
            raise ConfigError(f"{where}: write each entry as view:seconds (e.g. overview:60), got {part.strip()!r}")
        slots.append(slot(view, seconds, f"{where} entry {len(slots) + 1}"))
    return checked(slots, where)


def from_tables(tables: object, where: str) -> tuple[Slot, ...]:
    """The profile's ``[[playlist]]`` tables -> slots."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where}: playlist must be a list of tables ([[playlist]] with view and dwell_s)")
    slots = []
    for n, t in enumerate(tables, 1):
        if "view" not in t or "dwell_s" not in t:
            raise ConfigError(f"{where} entry {n}: each [[playlist]] entry needs view and dwell_s, got {sorted(t)}")
        extra = sorted(set(t) - {"view", "dwell_s"})
        if extra:
            raise ConfigError(f"{where} entry {n}: unknown key(s) {', '.join(extra)}; an entry has view and dwell_s")
        if isinstance(t["dwell_s"], bool) or not isinstance(t["dwell_s"], int):
            raise ConfigError(f"{where} entry {n}: dwell time of {t['view']!r} must be a whole number of seconds "
                              f"(unquoted), got {t['dwell_s']!r}")
        slots.append(slot(t["view"], t["dwell_s"], f"{where} entry {n}"))
    return checked(slots, where)


def current(slots: tuple[Slot, ...], now: float) -> tuple[int, float]:
    """(index of the slot shown at Unix time ``now``, seconds until the next one)."""
    cycle = sum(s.dwell_s for s in slots)
    t = now % cycle
    for i, s in enumerate(slots):
        if t < s.dwell_s:
            return i, s.dwell_s - t
        t -= s.dwell_s
    return len(slots) - 1, 0.0       # only reachable through rounding at the cycle's end


def as_config(slots: tuple[Slot, ...]) -> list[list]:
    """The form the browser receives: [[view, dwell_s], ...]."""
    return [[s.view, s.dwell_s] for s in slots]


def effective(setting: str, profile_slots: tuple[Slot, ...]) -> tuple[Slot, ...]:
    """The CIVICWALL_PLAYLIST setting when given, else the profile's playlist."""
    return parse(setting) if setting else profile_slots
