"""Reading the dates real exports contain, in one column and in any mix.

``TimeReader.read(text)`` returns epoch seconds, ``None`` for an empty value, or raises
``BadTime`` (unreadable) or ``Placeholder`` (a stand-in for "no date", such as 1900-01-01).

Recognised without configuration, in this order:

* the mapping's own ``formats`` (``strptime`` patterns), when it gives any;
* year first, any of ``-`` ``/`` ``.`` or 年月日 between the parts, one- or two-digit month and day,
  optional time with ``:`` or 时分秒, optional fraction, optional ``T``, optional offset (``Z``,
  ``+08:00``, ``+0800``): ``2019/4/25 9:32:09``, ``2017-06-08 17:31:20``, ``2024-05-27T02:08:51.000``,
  ``2020年1月3日 8时5分``, ``2020-01-03T08:05:00+08:00``;
* month first (or day first when the mapping says ``day_first = true``) with a four-digit year and an
  optional 12-hour clock: ``03/24/2025 11:33:07 PM``, ``3/24/2025 23:33``;
* Excel serial day numbers (``43580.396``) only for a column whose format is ``excel``;
* Unix epoch seconds (or milliseconds, 13 digits) only for a column whose format is ``epoch``.

A time with an offset is taken as written; one without is in the mapping's time zone. A local time that
falls in a spring-forward gap is read with the offset in force before the change (02:30 becomes 03:30
summer time); one that occurs twice in the autumn is read as its first occurrence.

Placeholders: dates before ``earliest`` (default 1971-01-01, which catches 1900-01-01, 1899-12-30 and
1970-01-01) or from ``latest`` on (default 2100-01-01, which catches 9999-12-31) are not times. The
mapping can move both bounds.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

EXCEL_EPOCH = datetime(1899, 12, 30)        # Excel's day 0 (with its 1900 leap-year bug folded in)

_YMD = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s*T\s*|\s+|(?<=日))(\d{1,2})\s*[:时點点]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:[.,](\d+))?\s*秒?)?\s*分?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE)
_HOUR_ONLY = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(\d{1,2})\s*[时點点]$")   # 2019年4月26日 8时
_MDY = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*([AaPp]\.?[Mm]\.?)?)?$")
_BARE_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d*)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2})(\d{2})(\d{2})?)?$")   # 20200103 0805[00]


class BadTime(ValueError):
    """Not a time this reader understands; the message quotes the value."""


class Placeholder(ValueError):
    """A date that stands for "no date" (1900-01-01, 1970-01-01, 9999-12-31 ...)."""


class TimeReader:
    def __init__(self, tz: ZoneInfo, *, formats: tuple[str, ...] = (), kind: str = "auto",
                 day_first: bool = False, earliest: date = date(1971, 1, 1), latest: date = date(2100, 1, 1)):
        self.tz = tz
        self.formats = formats
        self.kind = kind                  # auto | excel | epoch
        self.day_first = day_first
        self.earliest = datetime(earliest.year, earliest.month, earliest.day)
        self.latest = datetime(latest.year, latest.month, latest.day)

    def read(self, value) -> int | None:
        """Epoch seconds of ``value`` (a string, or a datetime/date/number from a spreadsheet)."""
        try:
            return self._read(value)
        except Placeholder:
            raise Placeholder(f"{str(value).strip()[:40]!r} is outside {self.earliest.date()} … "
                              f"{self.latest.date()}") from None

    def _read(self, value) -> int | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return self._epoch(value)
        if isinstance(value, date):
            return self._epoch(datetime(value.year, value.month, value.day))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self._number(float(value), str(value), sheet=True)
        text = str(value).strip()
        if not text:
            return None
        if self.kind in ("excel", "epoch"):
            try:
                number = float(text)
            except ValueError:
                pass
            else:
                return self._number(number, text)
        for fmt in self.formats:
            try:
                return self._epoch(datetime.strptime(text, fmt))
            except ValueError:
                continue
        parsed = self._parse(text)
        if parsed is None:
            if _BARE_NUMBER.match(text):
                raise BadTime(f"a bare number {text[:40]!r} is not a date (say format = \"excel\" or "
                              "\"epoch\" for this column)")
            raise BadTime(f"unrecognised date {text[:40]!r}")
        return self._epoch(parsed)

    # -- pieces ---------------------------------------------------------------------------------

    def _number(self, number: float, text: str, sheet: bool = False) -> int:
        """A number: epoch seconds (or milliseconds) for an ``epoch`` column, else an Excel serial day
        when the column says ``excel`` or the number came from a spreadsheet cell."""
        if not math.isfinite(number):
            raise BadTime(f"unrecognised date {text[:40]!r}")
        if self.kind == "epoch":
            seconds = number / 1000 if abs(number) >= 1e11 else number
            try:
                moment = datetime.fromtimestamp(seconds, timezone.utc)
            except (OverflowError, OSError, ValueError):
                raise BadTime(f"{text[:40]!r} is not a time in epoch seconds") from None
            return self._epoch(moment)
        if self.kind == "excel" or sheet:
            if not 0 < number < 2958466:            # Excel's own range: 1900-01-01 .. 9999-12-31
                raise BadTime(f"{text[:40]!r} is not an Excel day number (for Unix time, say format = "
                              "\"epoch\" for this column)")
            naive = EXCEL_EPOCH + timedelta(seconds=round(number * 86400))
            return self._epoch(naive)
        raise BadTime(f"a bare number {text[:40]!r} is not a date (say format = \"excel\" or \"epoch\" "
                      "for this column)")

    def _parse(self, text: str) -> datetime | None:
        m = _YMD.match(text)
        if m:
            y, mo, d, h, mi, s, frac, off = m.groups()
            return _build(y, mo, d, h, mi, s, frac, off, text)
        m = _HOUR_ONLY.match(text)
        if m:
            y, mo, d, h = m.groups()
            return _build(y, mo, d, h, None, None, None, None, text)
        m = _MDY.match(text)
        if m:
            a, b, y, h, mi, s, frac, half = m.groups()
            mo, d = (b, a) if self.day_first else (a, b)
            if int(mo) > 12 and int(d) <= 12:
                raise BadTime(f"{text[:40]!r}: month {int(mo)}? the day comes first here: set [time] "
                              f"day_first = {str(not self.day_first).lower()}")
            hour = int(h or 0)
            if half:
                if not 1 <= hour <= 12:
                    raise BadTime(f"hour {hour} with {half} in {text[:40]!r}")
                hour = hour % 12 + (12 if half[0].lower() == "p" else 0)
            return _build(y, mo, d, str(hour), mi, s, frac, None, text)
        m = _COMPACT.match(text)
        if m:
            y, mo, d, h, mi, s = m.groups()
            return _build(y, mo, d, h, mi, s, None, None, text)
        return None

    def _epoch(self, moment: datetime) -> int:
        local = moment if moment.tzinfo is None else moment.astimezone(self.tz).replace(tzinfo=None)
        if not self.earliest <= local < self.latest:
            raise Placeholder(local.isoformat(sep=" "))       # read() words the message with the value as given
        if moment.tzinfo is not None:
            return math.floor(moment.timestamp())
        # fold=0: a repeated hour is its first occurrence; a skipped one takes the earlier offset.
        return math.floor(moment.replace(tzinfo=self.tz, fold=0).timestamp())


def _build(y, mo, d, h, mi, s, frac, off, text) -> datetime:
    try:
        moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                          int((frac or "0")[:6].ljust(6, "0")))
    except ValueError as exc:
        raise BadTime(f"{text[:40]!r}: {exc}") from None
    if off:
        if off.upper() == "Z":
            return moment.replace(tzinfo=timezone.utc)
        sign = 1 if off[0] == "+" else -1
        digits = off[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:])
        if minutes > 18 * 60:
            raise BadTime(f"offset {off} in {text[:40]!r}")
        return moment.replace(tzinfo=timezone(sign * timedelta(minutes=minutes)))
    return moment


def iso(epoch: int, tz: ZoneInfo) -> str:
    """The contract's form: ISO 8601 with the offset in force at that instant."""
    return datetime.fromtimestamp(epoch, tz).isoformat()
