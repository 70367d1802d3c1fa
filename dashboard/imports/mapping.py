"""The mapping file: how one export's columns become the event contract's fields (docs/import.md).

A mapping is TOML with four parts::

    source = "taidi2020"                 # names the producer; event ids are <source>:<id>:<type>

    [file]                               # how to read the file (all optional)
    format = "csv"                       # csv | excel | json; default by the file's suffix
    encoding = "auto"                    # auto: UTF-8, UTF-8 with BOM, else GB18030 (a superset of GBK)
    header = true                        # false: the first row is data; name the columns below
    columns = ["unique_key", "created_date"]
    delimiter = ","
    sheet = "工单"                        # Excel: the sheet's name; default the first sheet
    skip_rows = 0                        # lines above the header (a title some exports put on top)
    records = "data"                     # JSON: the key holding the array of records

    [time]
    zone = "Asia/Shanghai"               # required: the zone of times written without an offset
    day_first = false                    # 04/05/2020 is 4 May when true (default: 5 April)
    earliest = "1971-01-01"              # earlier dates are placeholders for "no date"
    latest = "2100-01-01"                # and so are these and later ones

    [fields]                             # contract field = where its value comes from
    id = "留言编号"
    created = "留言时间"
    district = { pattern = "(A\\d)[区县市]", in = ["留言主题", "留言详情"] }
    channel = { value = "web" }

    [status]
    closed = ["Closed", "已办结"]         # status values that mean finished (checked against times)
    closing_needs_status = false         # true: the resolved column is a last-update time, a closing
                                         # time only when the status is closed (Open311 updated_datetime)

Each field's source is either a column name (a string, or a whole number counting columns from 1), or a
table with: ``column`` (or ``columns``, the first non-empty of several, or all joined with ``join``),
``value`` (a constant), ``pattern`` (a regular expression; its first group, else the whole match, is the
value) searched in the column and then in the columns listed in ``in``, ``names = true`` (district only:
the first of the profile's district names, short names and aliases written in those columns), ``map`` (value → replacement,
compared ignoring case, width and spaces), ``default`` (when nothing else gave a value) and, for time
fields, ``format`` (``excel``, ``epoch``, or one or more ``strptime`` patterns tried first). A text field
may also take a list of such sources, tried in order.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigError
from ..profiles import normalise_name

TIME_FIELDS = ("created", "assigned", "responded", "resolved", "rated", "deadline")
TEXT_FIELDS = ("id", "category", "district", "channel", "unit", "title", "text", "resolution",
               "satisfaction", "status", "lat", "lon", "location")
ALL_FIELDS = TIME_FIELDS + TEXT_FIELDS
REQUIRED_FIELDS = ("id", "created")
FORMATS = ("csv", "excel", "json", "open311")
_SOURCE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_SPEC_KEYS = {"column", "columns", "join", "value", "pattern", "names", "in", "map", "default", "format"}
_FILE_KEYS = {"format", "encoding", "header", "columns", "delimiter", "sheet", "skip_rows", "records"}
_TIME_KEYS = {"zone", "day_first", "earliest", "latest"}


@dataclass(frozen=True)
class Spec:
    """Where one field's value comes from."""

    columns: tuple[str | int, ...] = ()
    join: str | None = None          # None: the first non-empty column; else all non-empty, joined
    value: str | None = None
    pattern: re.Pattern | None = None
    search: tuple[str | int, ...] = ()
    names: bool = False              # district: the first of the profile's district names found in the text
    map: dict[str, str] = field(default_factory=dict)      # normalised value -> replacement
    default: str = ""
    formats: tuple[str, ...] = ()    # strptime patterns (time fields)
    kind: str = "auto"               # auto | excel | epoch (time fields)

    def referenced(self) -> tuple[str | int, ...]:
        return self.columns + self.search


@dataclass(frozen=True)
class FileOptions:
    format: str = ""                 # "" = by suffix
    encoding: str = "auto"
    header: bool = True
    columns: tuple[str, ...] = ()
    delimiter: str = ","
    sheet: str = ""
    skip_rows: int = 0
    records: str = ""


@dataclass(frozen=True)
class Mapping:
    source: str
    tz: ZoneInfo
    fields: dict[str, tuple[Spec, ...]]      # tried in order: the first that gives a value wins
    file: FileOptions = FileOptions()
    day_first: bool = False
    earliest: date = date(1971, 1, 1)
    latest: date = date(2100, 1, 1)
    closed: frozenset[str] = frozenset()      # normalised status values that mean finished
    closing_needs_status: bool = False        # the resolved column is a last-update time (Open311)
    path: str = ""

    def referenced_columns(self) -> set[str | int]:
        return {c for specs in self.fields.values() for spec in specs for c in spec.referenced()}


def load_mapping(path: str | Path) -> Mapping:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"mapping {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mapping {path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"mapping {path}: not valid TOML: {exc}") from None
    return parse_mapping(raw, str(path))


def parse_mapping(raw: dict, where: str = "<mapping>") -> Mapping:
    at = f"mapping {where}"
    unknown = set(raw) - {"source", "file", "time", "fields", "status"}
    if unknown:
        raise ConfigError(f"{at}: unknown keys {', '.join(sorted(unknown))} (allowed: source, [file], [time], "
                          "[fields], [status])")
    source = raw.get("source")
    if not isinstance(source, str) or not _SOURCE.match(source):
        raise ConfigError(f"{at}: source must be 1-40 letters, digits, '.', '_' or '-' (it prefixes every "
                          f"event id), got {source!r}")
    time = _table(raw, "time", at)
    _only(time, _TIME_KEYS, f"{at} [time]")
    zone = time.get("zone")
    if not isinstance(zone, str):
        raise ConfigError(f"{at} [time]: zone is required: the time zone of times written without an offset, "
                          "e.g. \"Asia/Shanghai\" or \"America/New_York\"")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{at} [time]: unknown time zone {zone!r}") from None
    fields_raw = _table(raw, "fields", at)
    unknown = set(fields_raw) - set(ALL_FIELDS)
    if unknown:
        raise ConfigError(f"{at} [fields]: unknown fields {', '.join(sorted(unknown))} "
                          f"(allowed: {', '.join(ALL_FIELDS)})")
    fields = {name: _specs(value, name, f"{at} [fields] {name}") for name, value in fields_raw.items()}
    for name in REQUIRED_FIELDS:
        if name not in fields:
            raise ConfigError(f"{at} [fields]: {name} is required (the column holding the "
                              f"{'case number' if name == 'id' else 'time the appeal was received'})")
    if ("lat" in fields) != ("lon" in fields):
        raise ConfigError(f"{at} [fields]: lat and lon go together (or give location for one column with both)")
    status = _table(raw, "status", at)
    _only(status, {"closed", "closing_needs_status"}, f"{at} [status]")
    needs_status = _bool(status.get("closing_needs_status", False), f"{at} [status] closing_needs_status")
    if needs_status and ("status" not in fields or not status.get("closed")):
        raise ConfigError(f"{at} [status]: closing_needs_status needs a status field and the closed values")
    closed = status.get("closed", [])
    if not isinstance(closed, list) or not all(isinstance(v, str) for v in closed):
        raise ConfigError(f"{at} [status]: closed must be a list of status values")
    return Mapping(
        source=source, tz=tz, fields=fields, file=_file_options(_table(raw, "file", at), f"{at} [file]"),
        day_first=_bool(time.get("day_first", False), f"{at} [time] day_first"),
        earliest=_date(time.get("earliest", "1971-01-01"), f"{at} [time] earliest"),
        latest=_date(time.get("latest", "2100-01-01"), f"{at} [time] latest"),
        closed=frozenset(normalise_name(v) for v in closed), closing_needs_status=needs_status, path=where,
    )


def _table(raw: dict, key: str, at: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{at}: [{key}] must be a table")
    return value


def _only(table: dict, allowed: set[str], at: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{at}: unknown keys {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})")


def _bool(value, at: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{at}: expected true or false, got {value!r}")
    return value


def _date(value, at: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{at}: expected a date such as 1971-01-01, got {value!r}") from None


def _column(value, at: str) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{at}: a column is a name or a number counted from 1, got {value!r}")
    if isinstance(value, int) and value < 1:
        raise ConfigError(f"{at}: column numbers count from 1, got {value}")
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{at}: empty column name")
    return value


def _specs(value, name: str, at: str) -> tuple[Spec, ...]:
    """One source, or a list of them tried in order (for a district: the first that names one of the
    profile's districts; for other text fields: the first that is not empty)."""
    if not isinstance(value, list):
        return (_spec(value, name, at),)
    if name in TIME_FIELDS or name == "id":
        raise ConfigError(f"{at}: a list of sources is for text fields; {name} takes one")
    if not value:
        raise ConfigError(f"{at}: an empty list of sources")
    return tuple(_spec(v, name, f"{at} [{i}]") for i, v in enumerate(value, 1))


def _spec(value, name: str, at: str) -> Spec:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return Spec(columns=(_column(value, at),))
    if not isinstance(value, dict):
        raise ConfigError(f"{at}: give a column name or number, a table (column, columns, value, pattern, …), "
                          "or a list of them")
    _only(value, _SPEC_KEYS, at)
    if "column" in value and "columns" in value:
        raise ConfigError(f"{at}: column and columns together; use one")
    columns = (_column(value["column"], at),) if "column" in value else \
        tuple(_column(c, at) for c in _list(value.get("columns", []), f"{at} columns"))
    search = tuple(_column(c, at) for c in _list(value.get("in", []), f"{at} in"))
    constant = value.get("value")
    if constant is not None and (columns or search):
        raise ConfigError(f"{at}: value is a constant; it cannot be combined with column, columns or in")
    if constant is not None and not isinstance(constant, (str, int, float)):
        raise ConfigError(f"{at}: value must be text or a number")
    pattern = None
    if "pattern" in value:
        try:
            pattern = re.compile(str(value["pattern"]))
        except re.error as exc:
            raise ConfigError(f"{at}: pattern {value['pattern']!r} is not a regular expression: {exc}") from None
        if pattern.groups > 1:
            raise ConfigError(f"{at}: pattern has {pattern.groups} groups; the value is group 1, give at most one "
                              "(use (?:...) for the others)")
    names = _bool(value.get("names", False), f"{at} names")
    if names and name != "district":
        raise ConfigError(f"{at}: names = true finds district names; it applies to district only")
    if names and pattern is not None:
        raise ConfigError(f"{at}: names and pattern together; use one")
    if search and pattern is None and not names:
        raise ConfigError(f"{at}: in lists columns to search; it needs a pattern, or names = true")
    if not columns and not search and constant is None and "default" not in value:
        raise ConfigError(f"{at}: names no column, value or default")
    join = value.get("join")
    if join is not None and not isinstance(join, str):
        raise ConfigError(f"{at}: join must be text (the separator), got {join!r}")
    mapping = value.get("map", {})
    if not isinstance(mapping, dict):
        raise ConfigError(f"{at}: map must be a table of value = replacement")
    if name in TIME_FIELDS:
        unusable = set(value) - {"column", "columns", "default", "format"}
        if unusable:
            raise ConfigError(f"{at}: a time field takes column, columns, default and format; not "
                              f"{', '.join(sorted(unusable))}")
    formats, kind = (), "auto"
    if "format" in value:
        if name not in TIME_FIELDS:
            raise ConfigError(f"{at}: format applies to time fields only ({', '.join(TIME_FIELDS)})")
        raw_formats = value["format"]
        if not isinstance(raw_formats, (str, list)):
            raise ConfigError(f"{at}: format is excel, epoch, or a strptime pattern (or a list of them)")
        raw_formats = [raw_formats] if isinstance(raw_formats, str) else raw_formats
        if raw_formats in (["excel"], ["epoch"]):
            kind = raw_formats[0]
        elif any(f in ("excel", "epoch") for f in raw_formats):
            raise ConfigError(f"{at}: format excel or epoch stands alone")
        else:
            if not all(isinstance(f, str) and "%" in f for f in raw_formats):
                raise ConfigError(f"{at}: format takes strptime patterns such as \"%d.%m.%Y %H:%M\", "
                                  "or excel, or epoch")
            for pattern in raw_formats:
                try:
                    datetime.strptime("", pattern)
                except ValueError as exc:
                    if "directive" in str(exc):
                        raise ConfigError(f"{at}: format {pattern!r}: {exc}") from None
            formats = tuple(raw_formats)
    return Spec(columns=columns, join=join, value=None if constant is None else str(constant), pattern=pattern,
                search=search, names=names, map={normalise_name(k): str(v) for k, v in mapping.items()},
                default=str(value.get("default", "")), formats=formats, kind=kind)


def _list(value, at: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{at}: expected a list")
    return value


def _file_options(raw: dict, at: str) -> FileOptions:
    _only(raw, _FILE_KEYS, at)
    fmt = str(raw.get("format", "")).lower()
    if fmt and fmt not in FORMATS:
        raise ConfigError(f"{at}: format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    encoding = str(raw.get("encoding", "auto"))
    if encoding != "auto":
        import codecs
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(f"{at}: unknown encoding {encoding!r} (try auto, utf-8, utf-8-sig, gbk, gb18030)") from None
    header = _bool(raw.get("header", True), f"{at} header")
    columns = tuple(str(c) for c in _list(raw.get("columns", []), f"{at} columns"))
    if len(set(columns)) != len(columns):
        raise ConfigError(f"{at}: columns names a column twice")
    delimiter = str(raw.get("delimiter", ","))
    if len(delimiter) != 1 or delimiter in "\r\n\"":
        raise ConfigError(f"{at}: delimiter must be one character other than a quote or a line break, "
                          f"got {delimiter!r}")
    skip = raw.get("skip_rows", 0)
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise ConfigError(f"{at}: skip_rows must be a whole number, 0 or more")
    return FileOptions(format=fmt, encoding=encoding, header=header, columns=columns, delimiter=delimiter,
                       sheet=str(raw.get("sheet", "")), skip_rows=skip, records=str(raw.get("records", "")))
