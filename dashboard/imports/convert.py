"""Rows of an export, through a mapping, into contract-v1 events; with an account of everything left out.

Each row becomes the lifecycle of one appeal (docs/import.md, "What a row becomes"):

* ``created`` at the received time: category, district, channel, unit, title, text, location, deadline;
* ``assigned`` to the unit, at the assigned time, or at the received time when only a unit is mapped;
* ``responded`` at the first-response time;
* ``resolved`` at the closing time, with the resolution text;
* ``rated`` with the satisfaction value, at the rating time, else the closing time.

Event ids are ``<source>:<id>:<type>``, so a file imported twice counts once. Request ids are the
export's own case numbers.

Nothing is dropped without a count. A row is *rejected* (no events) when it has no id, repeats an earlier
row's id, or has no usable received time. A *part* of a row is dropped when its time is unreadable, a
placeholder (1900-01-01 …), or earlier than the received time (a closing time before the opening time is
reported so, with the row's line); an unusable location is dropped the same way. Every event is then
checked by the contract's own validator against the profile, so the summary also names what the
aggregator would reject or repair (an unknown district, a label cut to length).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..contract import CONTRACT_VERSION, Rejection, Validator
from ..errors import ConfigError
from ..profiles import Profile, normalise_name
from .mapping import TIME_FIELDS, Mapping, Spec
from .tables import cell_text, header_key
from .times import BadTime, Placeholder, TimeReader, iso

EXAMPLES = 3                       # lines kept per reason for the report
NOT_RATED = {"未评价", "未回访", "无评价", "不评价", "拒绝评价", "未做评价", "无", "not rated", "no rating", "n/a",
             "none", "-"}
LATER = ("assigned", "responded", "resolved", "rated")
_SUFFIXES = ("街道办事处", "街道", "自治县", "自治州", "新区", "区", "县", "市", "旗", "镇", "乡",
             " district", " borough", " county")
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_PAIR = re.compile(rf"^\(?\s*({_NUMBER})\s*[,;\s]\s*({_NUMBER})\s*\)?$")
_WKT = re.compile(rf"^POINT\s*\(\s*({_NUMBER})\s+({_NUMBER})\s*\)$", re.IGNORECASE)


@dataclass
class Report:
    """What an import read, produced and left out, with up to three example lines per reason."""

    rows: int = 0
    rows_imported: int = 0
    rejected: Counter = field(default_factory=Counter)      # rows without events, by reason
    dropped: Counter = field(default_factory=Counter)       # parts of imported rows, by reason
    notes: Counter = field(default_factory=Counter)         # worth knowing, nothing lost
    contract_rejected: Counter = field(default_factory=Counter)
    repairs: Counter = field(default_factory=Counter)
    events_by_type: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    file: str = ""                 # named in examples when an import reads several files

    def example(self, reason: str, line: int, detail: str = "") -> None:
        kept = self.examples.setdefault(reason, [])
        if len(kept) < EXAMPLES:
            where = " ".join(w for w in (self.file, f"line {line}" if line > 0 else "") if w)
            kept.append(": ".join(w for w in (where, detail) if w))

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "rows_imported": self.rows_imported, "rows_rejected": dict(self.rejected),
                "parts_dropped": dict(self.dropped), "notes": dict(self.notes),
                "events": dict(self.events_by_type), "contract_rejected": dict(self.contract_rejected),
                "repairs": dict(self.repairs), "examples": self.examples}

    def lines(self) -> list[str]:
        """The human summary: one line per group, each reason with its count and example lines."""
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.events_by_type.items()))
        out = [f"{self.rows} rows read: {self.rows_imported} imported, {sum(self.rejected.values())} rejected; "
               f"{sum(self.events_by_type.values())} events" + (f" ({kinds})" if kinds else "")]
        for title, counter in (("rows rejected", self.rejected), ("parts dropped", self.dropped),
                               ("events the contract rejects", self.contract_rejected),
                               ("repairs the contract makes", self.repairs), ("notes", self.notes)):
            if not counter:
                continue
            out.append(f"{title}:")
            for reason, n in counter.most_common():
                where = self.examples.get(reason)
                out.append(f"  {reason}: {n}" + (f"  ({'; '.join(where)})" if where else ""))
        return out


@dataclass
class Converted:
    events: list[dict[str, str]]
    times: list[int]
    report: Report


class DistrictMatcher:
    """A district value, code or short name to the profile's district id.

    Matches what the contract matches (id, name, boundary key such as an adcode, aliases; ignoring case,
    width and spacing) and, beyond it, the short form of a name without its 区/县/市/district suffix
    (``山阳`` for 山阳区) when that short form names one district only.
    """

    def __init__(self, profile: Profile):
        self.table = profile.district_lookup()
        short: dict[str, set[str]] = {}
        for d in profile.districts:
            for name in (d.id, d.name):
                norm = normalise_name(name)
                for suffix in _SUFFIXES:
                    if norm.endswith(suffix) and len(norm) > len(suffix):
                        short.setdefault(norm[: -len(suffix)].strip(), set()).add(d.id)
        for stem, ids in short.items():
            if len(ids) == 1 and stem not in self.table:
                self.table[stem] = next(iter(ids))
        # Names as they may be written in running text, in two passes: the full names first (山阳区,
        # MANHATTAN), then aliases and short forms (山阳), which also occur inside other words (解放军,
        # 博爱医院). Two characters or more (温 alone is too common a character), longest first, never
        # inside a longer Latin word.
        full = {normalise_name(n) for d in profile.districts for n in (d.id, d.name)}
        self._finders = [self._finder([n for n in self.table if n in full]),
                         self._finder([n for n in self.table if n not in full])]

    @staticmethod
    def _finder(names: list[str]) -> re.Pattern | None:
        written = sorted((n for n in names if len(n) >= 2), key=len, reverse=True)
        return re.compile("(?<![a-z0-9])(?:" + "|".join(map(re.escape, written)) + ")(?![a-z0-9])") \
            if written else None

    def find(self, text: str) -> str | None:
        """The district first named in ``text`` by its full name, else by an alias or short form."""
        if not text:
            return None
        norm = normalise_name(text)
        for finder in self._finders:
            m = finder.search(norm) if finder is not None else None
            if m:
                return self.table[m.group(0)]
        return None

    def match(self, value: str) -> str | None:
        return self.table.get(normalise_name(value)) if value else None


class Converter:
    def __init__(self, mapping: Mapping, profile: Profile, columns: list[str], *, validate: bool = True,
                 now=None, where: str = ""):
        self.mapping = mapping
        self.profile = profile
        self.where = where
        self.index = self._resolve_columns(columns)
        self.readers = {name: TimeReader(mapping.tz, formats=specs[0].formats, kind=specs[0].kind,
                                         day_first=mapping.day_first, earliest=mapping.earliest,
                                         latest=mapping.latest)
                        for name, specs in mapping.fields.items() if name in TIME_FIELDS}
        self.districts = DistrictMatcher(profile)
        kwargs = {} if now is None else {"now": now}
        self.validator = Validator(profile, **kwargs) if validate else None
        self.seen: set[str] = set()
        self.width = len(columns)
        self.last_problems: Counter = Counter()
        # Fields read from one column as they are (most of them): straight to the cell.
        self._plain = {name: self.index[specs[0].columns[0]] for name, specs in mapping.fields.items()
                       if len(specs) == 1 and len(specs[0].columns) == 1 and not specs[0].search
                       and specs[0].pattern is None and not specs[0].map and not specs[0].default
                       and specs[0].value is None and not specs[0].names}

    def _resolve_columns(self, columns: list[str]) -> dict[str | int, int]:
        exact = {name: i for i, name in enumerate(columns)}
        loose: dict[str, int] = {}
        for i, name in enumerate(columns):
            loose.setdefault(header_key(name), i)
        index, missing = {}, []
        for ref in sorted(self.mapping.referenced_columns(), key=str):
            if isinstance(ref, int):
                if ref > len(columns):
                    raise ConfigError(f"mapping {self.mapping.path}: column {ref}, but the file has "
                                      f"{len(columns)} columns")
                index[ref] = ref - 1
            elif ref in exact:
                index[ref] = exact[ref]
            elif header_key(ref) in loose:
                index[ref] = loose[header_key(ref)]
            else:
                missing.append(ref)
        if missing:
            shown = ", ".join(repr(c) for c in columns[:40]) + (" …" if len(columns) > 40 else "")
            named = [c for c in columns if not re.fullmatch(r"column \d+", c)]
            hint = ""
            if len(named) == 1 and len(columns) > 1:
                hint = ("; its first line has one filled cell: if that is a title above the header, set "
                        "[file] skip_rows = 1")
            elif not self.mapping.file.header:
                hint = "; without a header row, name the columns in [file] columns or use column numbers"
            where = f" ({self.where})" if self.where else ""
            raise ConfigError(f"mapping {self.mapping.path}: the file{where} has no column "
                              f"{', '.join(map(repr, missing))}; its columns are {shown or 'none'}{hint}")
        return index

    # -- values ------------------------------------------------------------------------------------

    def _cell(self, row: list[Any], ref: str | int) -> Any:
        i = self.index[ref]
        return row[i] if i < len(row) else None

    def _candidates(self, spec: Spec, row: list[Any]) -> Iterator[str]:
        """Values for a text field, best first."""
        if spec.value is not None:
            yield spec.value
            return
        texts = [cell_text(self._cell(row, c)).strip() for c in spec.columns]
        if spec.pattern is not None:
            for text in texts + [cell_text(self._cell(row, c)) for c in spec.search]:
                for m in spec.pattern.finditer(text):
                    found = (m.group(1) if spec.pattern.groups else m.group(0)) or ""
                    if found.strip():
                        yield found.strip()
            return
        if spec.join is not None:
            joined = spec.join.join(t for t in texts if t)
            if joined:
                yield joined
            return
        yield from (t for t in texts if t)

    def _text(self, name: str, row: list[Any]) -> str:
        i = self._plain.get(name)
        if i is not None:
            value = row[i] if i < len(row) else None
            return value.strip() if type(value) is str else cell_text(value).strip()
        specs = self.mapping.fields.get(name, ())
        for spec in specs:
            value = next(self._candidates(spec, row), "")
            if value:
                return spec.map.get(normalise_name(value), value) if spec.map else value
        return next((spec.default for spec in specs if spec.default), "")

    def _district(self, row: list[Any], line: int, report: Report) -> str:
        """The first source that names one of the profile's districts wins; failing that, the first
        value found is kept as written (the contract counts it as an unknown district)."""
        specs = self.mapping.fields.get("district", ())
        if not specs:
            return ""
        first = ""
        for spec in specs:
            if spec.names:
                for ref in (*spec.columns, *spec.search):
                    found = self.districts.find(cell_text(self._cell(row, ref)))
                    if found is not None:
                        return found
                continue
            for candidate in self._candidates(spec, row):
                value = spec.map.get(normalise_name(candidate), candidate) if spec.map else candidate
                found = self.districts.match(value)
                if found is not None:
                    return found
                first = first or value
        if first:
            report.notes["district_not_in_profile"] += 1
            report.example("district_not_in_profile", line, repr(first[:40]))
            return first
        default = next((spec.default for spec in specs if spec.default), "")
        if default:
            return self.districts.match(default) or default
        report.notes["district_not_found"] += 1
        report.example("district_not_found", line)
        return ""

    def _time(self, name: str, row: list[Any], line: int, report: Report, counts: Counter) -> int | None:
        specs = self.mapping.fields.get(name)
        if not specs:
            return None
        spec = specs[0]
        raw = next((self._cell(row, c) for c in spec.columns
                    if cell_text(self._cell(row, c)).strip()), None)
        if raw is None and spec.default:
            raw = spec.default
        try:
            return self.readers[name].read(raw)
        except Placeholder as exc:
            counts[f"placeholder:{name}"] += 1
            report.example(f"placeholder:{name}", line, str(exc).split(" is outside")[0])
        except BadTime as exc:
            counts[f"bad_time:{name}"] += 1
            report.example(f"bad_time:{name}", line, str(exc))
        return None

    def _location(self, row: list[Any], line: int, report: Report) -> dict[str, str]:
        if "location" in self.mapping.fields:
            text = self._text("location", row)
            if not text:
                return {}
            m = _PAIR.match(text)
            lat, lon = (m.group(1), m.group(2)) if m else (None, None)
            w = _WKT.match(text) if not m else None
            if w:
                lon, lat = w.group(1), w.group(2)
        else:
            lat, lon = self._text("lat", row), self._text("lon", row)
            if not lat and not lon:
                return {}
        try:
            y, x = float(lat), float(lon)
        except (TypeError, ValueError):
            y = x = float("nan")
        if not (-90 <= y <= 90 and -180 <= x <= 180) or (y == 0 and x == 0):
            report.dropped["bad_location"] += 1
            report.example("bad_location", line, repr(f"{lat},{lon}" if lat is not None else "")[:50])
            return {}
        return {"lat": f"{y:.6f}", "lon": f"{x:.6f}"}

    # -- rows ----------------------------------------------------------------------------------------

    def row_events(self, line: int, row: list[Any] | None, report: Report) -> list[tuple[int, dict[str, str]]]:
        report.rows += 1
        if row is None:
            report.rejected["not_a_record"] += 1
            report.example("not_a_record", line)
            return []
        if not any(cell_text(v).strip() for v in row):
            report.notes["empty_row"] += 1
            report.rows -= 1                   # a blank line is not a row of the export
            return []
        if len(row) != self.width and self.mapping.file.format != "open311":
            # Fewer or more cells than columns: an unquoted delimiter in a text shifts what follows.
            report.notes["ragged_row"] += 1
            report.example("ragged_row", line, f"{len(row)} cells, {self.width} columns")
        key = self._text("id", row)
        if not key:
            report.rejected["missing:id"] += 1
            report.example("missing:id", line)
            return []
        if key in self.seen:
            report.rejected["duplicate_id"] += 1
            report.example("duplicate_id", line, repr(key[:40]))
            return []
        problems: Counter = Counter()
        created = self._time("created", row, line, report, problems)
        if created is None:
            reason = next(iter(problems), "missing:created")
            report.rejected[reason] += 1
            if not problems:
                report.example(reason, line)
            return []
        source, tz = self.mapping.source, self.mapping.tz
        created_iso = iso(created, tz)

        def event(kind: str, ts: int, **extra: str) -> tuple[int, dict[str, str]]:
            base = {"v": CONTRACT_VERSION, "event_id": f"{source}:{key}:{kind}", "type": kind,
                    "request_id": key, "ts": created_iso if ts == created else iso(ts, tz), "source": source}
            return ts, base | {k: v for k, v in extra.items() if v}

        unit = self._text("unit", row)
        first = event("created", created, channel=self._text("channel", row), category=self._text("category", row),
                      district=self._district(row, line, report), unit=unit, title=self._text("title", row),
                      text=self._text("text", row), **self._location(row, line, report))
        times = {name: self._time(name, row, line, report, problems) for name in (*LATER, "deadline")}
        status = self._text("status", row)
        closed = bool(status) and normalise_name(status) in self.mapping.closed
        if self.mapping.closing_needs_status and not closed:
            times["resolved"] = None          # a last-update time of an appeal still open
        for name, ts in times.items():
            if ts is not None and ts < created:
                problems[f"before_created:{name}"] += 1
                report.example(f"before_created:{name}", line,
                               f"{iso(ts, tz)} < received {created_iso}")
                times[name] = None
        if times["deadline"] is not None:
            first[1]["deadline"] = iso(times["deadline"], tz)
        out = [first]
        if unit:
            out.append(event("assigned", times["assigned"] or created, unit=unit))
        elif times["assigned"] is not None:
            problems["assigned_without_unit"] += 1
            report.example("assigned_without_unit", line)
        if times["responded"] is not None:
            out.append(event("responded", times["responded"]))
        if times["resolved"] is not None:
            out.append(event("resolved", times["resolved"], unit=unit, text=self._text("resolution", row)))
        elif closed:
            report.notes["closed_status_without_closing_time"] += 1
            report.example("closed_status_without_closing_time", line)
        satisfaction = self._text("satisfaction", row)
        if satisfaction and normalise_name(satisfaction) in NOT_RATED:
            report.notes["not_rated"] += 1          # 未评价: the citizen gave no rating
            satisfaction = ""
        if satisfaction:
            at = times["rated"] or times["resolved"]
            if at is None:
                problems["rating_without_time"] += 1
                report.example("rating_without_time", line, "no rating or closing time")
            else:
                out.append(event("rated", at, satisfaction=satisfaction))
        report.dropped.update(problems)
        self.last_problems = problems
        report.rows_imported += 1
        self.seen.add(key)                 # only a row that was imported claims its id
        return out

    def convert(self, rows: Iterable[tuple[int, list[Any] | None]], report: Report | None = None,
                progress=lambda n: None) -> Converted:
        report = report or Report()
        pairs: list[tuple[int, dict[str, str]]] = []
        validator = self.validator
        for line, row in rows:
            events = self.row_events(line, row, report)
            if events and validator is not None:
                # The contract refusing the creation refuses the row: its other events would wait for
                # a creation that never comes.
                first = validator.validate(events[0][1])
                if isinstance(first, Rejection):
                    reason = f"contract:{first.reason}"
                    report.rejected[reason] += 1
                    report.example(reason, line, first.detail[:80])
                    report.rows_imported -= 1
                    report.dropped.subtract(self.last_problems)      # a row not imported drops no parts
                    report.dropped = +report.dropped
                    self.seen.discard(events[0][1]["request_id"])
                    events = []
            for i, (ts, fields) in enumerate(events):
                if validator is not None:
                    checked = first if i == 0 else validator.validate(fields)
                    if isinstance(checked, Rejection):
                        report.contract_rejected[checked.reason] += 1
                        detail = checked.detail[:80]
                        if checked.reason == "invalid_satisfaction":
                            detail = f"{fields.get('satisfaction', '')[:40]!r}: {detail}"
                        report.example(checked.reason, line, detail)
                        continue
                    report.repairs.update(checked.repairs)
                pairs.append((ts, fields))
                report.events_by_type[fields["type"]] += 1
            progress(1)
        pairs.sort(key=lambda pair: pair[0])     # stable: lifecycle and file order survive ties
        return Converted([e for _, e in pairs], [t for t, _ in pairs], report)
