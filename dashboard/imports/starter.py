"""``civicwall profile new`` and ``civicwall profile check``.

``profile new --mapping M FILE... -o city.toml`` reads an export through its mapping and writes a starter
profile: the districts, categories and channels found in the data (most frequent first, with their counts
and each category's observed time to resolve as comments), the mapping's time zone, a language guessed
from the values (Chinese when they hold Chinese characters), and a tile map, because a new city rarely has
a boundary file yet. The file is loaded back before it is kept, so it is a valid profile; edit the names,
deadlines and targets, and add a ``[boundary]`` when there is a GeoJSON file.

``profile check`` loads a profile, its boundaries, and the district values the aggregator could not match,
and lists what does not join (the same check ``civicwall run`` makes at start).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import json
import re
import shlex
import statistics
from collections import Counter, defaultdict
from pathlib import Path

from ..contract import EARLIEST
from ..errors import ConfigError
from ..profiles import Boundary, District, Profile, load_profile, normalise_name
from ..settings import Settings
from .convert import Converter, Report
from .mapping import Mapping, load_mapping
from .tables import open_table

CITY_ID = re.compile(r"^[a-z0-9_-]{1,32}$")     # as profiles require
MAX_DISTRICTS = 300          # more distinct values than this is not a district column
MAX_CATEGORIES = 200
_CJK = re.compile(r"[\u3400-\u9fff]")
NOT_A_PLACE = {"unspecified", "unknown", "n/a", "#n/a", "na", "none", "null", "other", "-", "?", "unknown district",
               "未知", "不详", "其他", "无", "空", "未知区县"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = sub.add_parser("new", help="write a starter profile from an export (districts, categories, channels)")
    new.add_argument("files", nargs="+", metavar="FILE", help="exports read through the mapping")
    new.add_argument("--mapping", required=True, help="the mapping file the exports are read with")
    new.add_argument("-o", "--out", required=True, help="where to write the profile (.toml); not overwritten")
    new.add_argument("--city", help="the city id (letters, digits, - and _; default from the output file's name)")
    new.add_argument("--title", help="the wall's title (default: the city id)")
    check = sub.add_parser("check", help="list the districts that do not join to a region (profile and data)")
    for parser in (new, check):           # accepted after the action too: `civicwall profile check --profile nyc`
        parser.add_argument("--profile", default=argparse.SUPPRESS, help="profile name or .toml path")
        parser.add_argument("--redis-url", default=argparse.SUPPRESS, help="Redis URL (env REDIS_URL)")
        parser.add_argument("--stream", default=argparse.SUPPRESS, help="stream key")


def _placeholder_profile(mapping: Mapping) -> Profile:
    """A profile with no districts worth matching, to read an export before its city has a profile."""
    return Profile(city="starter", title="starter", language="en", timezone=mapping.tz.key,
                   boundary=Boundary(source="tiles", join_property="district"),
                   districts=(District(id="\u0000", name="\u0000", key="\u0000"),), channels={}, categories=(),
                   default_deadline_hours=72, target_first_response_min=60, target_on_time_rate=0.9)


@dataclasses.dataclass
class Found:
    rows: int = 0
    districts: Counter = dataclasses.field(default_factory=Counter)
    categories: Counter = dataclasses.field(default_factory=Counter)
    channels: Counter = dataclasses.field(default_factory=Counter)
    hours: dict[str, list[float]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    chinese: int = 0             # rows whose title or text has Chinese characters


def survey(mapping: Mapping, paths: list[str | Path]) -> Found:
    """Distinct districts, categories and channels in the exports, with counts; hours to resolve per category."""
    if "district" in mapping.fields and all(s.names for s in mapping.fields["district"]) \
            and not any(s.columns for s in mapping.fields["district"]):
        raise ConfigError("the mapping finds districts only by the profile's names (names = true); a starter "
                          "profile needs a district column or a pattern to collect them from")
    profile = _placeholder_profile(mapping)
    found = Found()
    seen: set[str] = set()
    for path in paths:
        table = open_table(path, mapping.file)
        conv = Converter(mapping, profile, table.columns, validate=False)
        report = Report()
        for line, row in table.rows:
            if row is None or not any(str(v or "").strip() for v in row):
                continue
            key = conv._text("id", row)
            if not key or key in seen:
                continue                  # what the import would reject is not counted here either
            created = conv._time("created", row, line, report, Counter())
            if created is None or created < EARLIEST:
                continue
            seen.add(key)
            found.rows += 1
            district = _district(conv, row)
            if district:
                found.districts[district] += 1
            category = conv._text("category", row)
            if category:
                found.categories[category] += 1
            if _CJK.search(conv._text("title", row) + conv._text("text", row)):
                found.chinese += 1
            channel = conv._text("channel", row)
            if channel:
                found.channels[channel] += 1
            resolved = conv._time("resolved", row, line, report, Counter())
            if category and created is not None and resolved is not None and resolved >= created:
                found.hours[category].append((resolved - created) / 3600)
    return found


def _district(conv: Converter, row) -> str:
    """The first value the mapping's district sources give; a ``names`` source gives its column as is."""
    for spec in conv.mapping.fields.get("district", ()):
        if spec.names:
            for ref in spec.columns:
                value = str(conv._cell(row, ref) or "").strip()
                if value:
                    return value
            continue
        for candidate in conv._candidates(spec, row):
            return spec.map.get(normalise_name(candidate), candidate) if spec.map else candidate
    return ""


def _appeals(n: int) -> str:
    return "1 appeal" if n == 1 else f"{n} appeals"


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def merged(counter: Counter) -> Counter:
    """Values that civicwall would match as one (case, width, spacing) counted together, under their most
    frequent spelling."""
    groups: dict[str, Counter] = defaultdict(Counter)
    for value, n in counter.items():
        groups[normalise_name(value)][value] += n
    return Counter({spellings.most_common(1)[0][0]: sum(spellings.values()) for spellings in groups.values()})


def render(found: Found, mapping: Mapping, city: str, title: str) -> str:
    found.districts, found.channels = merged(found.districts), merged(found.channels)
    if len(found.districts) > MAX_DISTRICTS:
        raise ConfigError(f"{len(found.districts)} distinct district values: that is not a district column "
                          f"(at most {MAX_DISTRICTS}); check the mapping's district")
    if not found.districts:
        raise ConfigError("no district values found: the mapping needs a district field that the data fills")
    places = [(d, n) for d, n in found.districts.most_common() if normalise_name(d) not in NOT_A_PLACE]
    # Chinese when the labels are, or when most appeals are written in it.
    chinese = bool(_CJK.search(" ".join([*(d for d, _ in places), *found.categories]))) or found.chinese * 2 > found.rows
    lines = [
        f"# A starter profile written by `civicwall profile new` from {found.rows} rows. Edit it: the names on",
        "# screens, deadlines, targets; add aliases for the spellings producers use. Districts are drawn as a",
        "# tile map until you add a [boundary] table (source = \"file\", path = \"your.geojson\", join_property).",
        f"city = {_toml(city)}",
        f"title = {_toml(title)}",
        f"language = {_toml('zh-CN' if chinese else 'en')}",
        f"timezone = {_toml(mapping.tz.key)}",
        "default_deadline_hours = 72",
        "",
        "[targets]",
        "first_response_minutes = 60",
        "on_time_rate = 0.9",
        "",
    ]
    if found.channels:
        lines.append("[channels]")
        for channel, n in found.channels.most_common():
            lines.append(f"{_toml(channel)} = {_toml(channel)}   # {_appeals(n)}")
        lines.append("")
    if not places:
        raise ConfigError("no district values found: the mapping's district column holds only "
                          + ", ".join(found.districts))
    lines.append(f"# {len(places)} districts, most appeals first (a district id is what the data says).")
    for district, n in places:
        lines += ["[[districts]]", f"id = {_toml(district)}   # {_appeals(n)}"]
    for district, n in found.districts.most_common():
        if normalise_name(district) in NOT_A_PLACE:
            lines.append(f"# not a district, left out: {_toml(district)} ({_appeals(n)}, counted as unknown district)")
    lines.append("")
    categories = found.categories.most_common(MAX_CATEGORIES)
    if categories:
        left = len(found.categories) - len(categories)
        lines.append(f"# {len(found.categories)} categories, most appeals first"
                     + (f" (the {left} rarest left out)" if left else "") + ". Deadlines are 72 h until you set them;")
        lines.append("# the comments say how long this export took to resolve each (median and 90th percentile).")
        for category, n in categories:
            hours = found.hours.get(category, [])
            note = _appeals(n)
            if len(hours) >= 5:
                q90 = statistics.quantiles(hours, n=10)[-1]
                note += f"; resolved in {statistics.median(hours):.0f} h (median), {q90:.0f} h (90%)"
            lines += ["[[categories]]", f"name = {_toml(category)}", f"deadline_hours = 72   # {note}"]
    return "\n".join(lines) + "\n"


def _city_id(text: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")[:32]
    return slug or "city"


def main(args, settings: Settings) -> int:
    if args.action == "check":
        return _check(settings)
    out = Path(args.out)
    if out.suffix != ".toml":
        raise ConfigError(f"{out}: a profile is a .toml file")
    if out.exists():
        raise ConfigError(f"{out} exists; choose another name or remove it first")
    if not out.resolve().parent.is_dir():
        raise ConfigError(f"{out}: the folder {out.resolve().parent} does not exist")
    city = args.city or _city_id(out.stem)
    if not CITY_ID.match(city):
        raise ConfigError(f"--city {city!r}: a city id is 1-32 lower-case letters, digits, '-' or '_' "
                          "(it becomes part of Redis keys)")
    if not os.access(out.resolve().parent, os.W_OK):
        raise ConfigError(f"{out}: cannot write in {out.resolve().parent}")
    mapping = load_mapping(args.mapping)
    text = render(survey(mapping, args.files), mapping, city, args.title or city)
    tmp = out.with_name(out.stem + ".partial.toml")
    try:
        tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{out}: cannot be written ({exc.strerror or exc})") from None
    try:
        profile = load_profile(str(tmp))          # what is kept is a profile civicwall loads
    except ConfigError:
        tmp.unlink()
        raise
    tmp.replace(out)
    print(f"profile new: wrote {out}: {len(profile.districts)} districts, {len(profile.categories)} categories, "
          f"{len(profile.channels)} channels, {profile.language}, {profile.timezone}")
    print(f"  try it: CIVICWALL_PROFILE={shlex.quote(str(out))} .venv/bin/civicwall import --dry-run "
          + " ".join(shlex.quote(str(f)) for f in [args.mapping, *args.files]))
    return 0


def _check(settings: Settings) -> int:
    from .. import geo
    from ..keys import Keys
    from ..store import connect

    profile = load_profile(settings.profile)
    fc = geo.boundaries(profile)
    client = connect(settings.redis_url, socket_timeout=settings.socket_timeout_s)
    unknown = geo.unknown_in_data(client, Keys(profile.city, settings.stream))
    lines = geo.join_lines(profile, fc, unknown)
    print(f"profile {profile.city}: {len(profile.districts)} districts, {len(fc['features'])} regions "
          f"({profile.boundary.source})")
    for line in lines or ["every district joins to a region, and the data names no other district"]:
        print("  " + line)
    return 1 if lines else 0
