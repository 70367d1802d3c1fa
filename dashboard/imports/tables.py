"""Reading an export as a table: column names and rows of raw values, whatever the file's shape.

* CSV (any one-character delimiter; quoted fields may hold line breaks): UTF-8, UTF-8 with a byte-order
  mark, UTF-16 with one, or GB18030 (which reads every GBK and GB2312 file). ``encoding = "auto"`` looks at
  the first megabyte: a byte-order mark decides; text that is valid UTF-8 is UTF-8; anything else is tried
  as GB18030. A file that turns out not to be in the chosen encoding further on stops with the line number.
* Excel (``.xlsx``, ``.xlsm``, ``.xls``, ``.ods``) through python-calamine: date cells arrive as dates,
  numbers as numbers (a whole-number id such as 20200103001.0 is written back as ``20200103001``).
* JSON: an array of records, or an object holding one under ``records`` (default: ``data``, ``rows``,
  ``requests``, ``records``, or the only list in it). Nested objects are flattened with dots
  (``location.latitude``); lists are kept as JSON text.

Rows come out as ``(line, values)``: the line (1-based, of the file for CSV, of the sheet for Excel, the
record's position for JSON) is what a rejection report names.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import FeedError
from .mapping import FileOptions

SNIFF_BYTES = 1 << 20
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
JSON_KEYS = ("data", "rows", "requests", "records", "service_requests")

csv.field_size_limit(min(sys.maxsize, 1 << 30))     # real exports carry long texts in one field


@dataclass
class Table:
    columns: list[str]
    rows: Iterator[tuple[int, list[Any] | None]]
    where: str = ""               # for Excel: which sheet was read


def header_key(name: str) -> str:
    """``Created Date``, ``created_date`` and `` CREATED-DATE`` compare equal."""
    return re.sub(r"[\W_]+", "_", str(name).strip().casefold()).strip("_")


def detect_format(path: Path, options: FileOptions) -> str:
    if options.format:
        return options.format
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "excel"
    return "json" if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") else "csv"


def detect_encoding(path: Path) -> str:
    """The encoding of a text file: by byte-order mark, else UTF-8 if its start decodes, else GB18030."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError as exc:
        # UTF-8 text before the first bad byte (not only ASCII): a UTF-8 file with a bad line, which
        # the reader then names. Only ASCII before it: the file is in a legacy encoding.
        if any(b >= 0x80 for b in head[:exc.start]):
            return "utf-8"
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        pass
    line = _bad_line(path, "utf-8")
    raise FeedError(f"{path.name}: line {line}: neither UTF-8 nor GBK/GB18030 text; say the encoding in the "
                    "mapping's [file] encoding (big5, utf-16, cp1252 …)")


def open_table(path: str | Path, options: FileOptions) -> Table:
    path = Path(path)
    if not path.exists():
        raise FeedError(f"{path}: no such file")
    if not path.is_file():
        raise FeedError(f"{path}: not a file")
    fmt = detect_format(path, options)
    if fmt == "open311":
        from .open311 import open311_table
        return open311_table(path, options)
    if fmt == "csv":
        return _csv_table(path, options)
    if fmt == "excel":
        return _excel_table(path, options)
    return _json_table(path, options)


def _names(header: list[Any], options: FileOptions, width: int, where: str) -> list[str]:
    if options.header:
        names = []
        for i, cell in enumerate(header, 1):
            name = cell_text(cell).strip() or f"column {i}"
            names.append(name)
        seen: dict[str, int] = {}
        for i, name in enumerate(names):     # a repeated header gets a suffix: the second "备注" is "备注 (2)"
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                names[i] = f"{name} ({seen[name]})"
        if options.columns:                 # names given beside a header replace it
            return list(options.columns) + names[len(options.columns):]
        return names
    if options.columns:
        return list(options.columns)
    return [f"column {i}" for i in range(1, width + 1)]


def _csv_table(path: Path, options: FileOptions) -> Table:
    encoding = detect_encoding(path) if options.encoding == "auto" else options.encoding
    fh = path.open(newline="", encoding=encoding)
    # strict: a quote that is never closed would otherwise swallow the rest of the file into one field.
    delimiter = "\t" if options.delimiter == "," and path.suffix.lower() == ".tsv" else options.delimiter
    reader = csv.reader(fh, delimiter=delimiter, strict=True)

    def advance() -> tuple[int, list[str]] | None:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return None
        except UnicodeDecodeError as exc:
            fh.close()
            line = _bad_line(path, encoding) or start
            raise FeedError(f"{path.name}: line {line}: not {encoding} text ({exc.reason}); say the encoding "
                            "in the mapping's [file] encoding") from None
        except csv.Error as exc:
            fh.close()
            why = "a quoted field is never closed (a stray \" in the text?)" if "end of data" in str(exc) \
                else f"{exc} (a quote inside a field that is not doubled?)"
            raise FeedError(f"{path.name}: line {start}: {why}") from None
        return start, row

    for _ in range(options.skip_rows):
        if advance() is None:
            break
    first = advance() if options.header else None
    header = first[1] if first else []
    if options.header and first is None:
        fh.close()
        raise FeedError(f"{path.name}: empty file (no header row)")

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            while (item := advance()) is not None:
                yield item
        finally:
            fh.close()

    if not options.header and not options.columns:
        # Numbered columns: peek at the first row for the width.
        item = advance()
        width = len(item[1]) if item else 0

        def with_first() -> Iterator[tuple[int, list[Any]]]:
            if item is not None:
                yield item
            yield from rows()
        return Table(_names([], options, width, path.name), with_first())
    return Table(_names(header, options, len(header), path.name), rows())


def _bad_line(path: Path, encoding: str) -> int | None:
    """The first line that does not decode (the reader reads ahead, so its position is not the line's).
    Splitting on b"\\n" is safe for UTF-8 and GB18030, whose multi-byte sequences never contain 0x0A."""
    if encoding.replace("_", "-").lower() in ("utf-16", "utf-16-le", "utf-16-be"):
        return None
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return number
    return None


def _excel_table(path: Path, options: FileOptions) -> Table:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:                                # pragma: no cover - a declared dependency
        raise FeedError("reading Excel files needs python-calamine (pip install python-calamine)") from None
    try:
        book = CalamineWorkbook.from_path(str(path))
        names = book.sheet_names
        if options.sheet:
            if options.sheet not in names:
                raise FeedError(f"{path.name}: no sheet {options.sheet!r}; it has {', '.join(names)}")
            sheet = book.get_sheet_by_name(options.sheet)
            data = sheet.to_python(skip_empty_area=False)
        else:
            # The first sheet with anything in it: exports often open with an empty cover sheet.
            for index in range(len(names)):
                sheet = book.get_sheet_by_index(index)
                data = sheet.to_python(skip_empty_area=False)
                if any(any(str(c).strip() for c in r if c is not None) for r in data):
                    break
    except FeedError:
        raise
    except Exception as exc:                          # calamine raises its own error types per format
        raise FeedError(f"{path.name}: cannot be read as a spreadsheet: {exc}") from None
    offset = options.skip_rows
    header = data[offset] if options.header and len(data) > offset else []
    start = offset + (1 if options.header else 0)
    width = max((len(r) for r in data[start:start + 50]), default=0)
    body = ((i + 1, list(row)) for i, row in enumerate(data) if i >= start)
    return Table(_names(header, options, width, path.name), body, f"sheet {sheet.name!r}")


def flatten(record: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, list):
            out[name] = json.dumps(value, ensure_ascii=False)
        else:
            out[name] = value
    return out


def json_records(path: Path, options: FileOptions) -> list:
    """The array of records in a JSON file (at its top, or under ``records``, or under the one list key)."""
    encoding = detect_encoding(path) if options.encoding == "auto" else options.encoding
    try:
        data = json.loads(path.read_text(encoding=encoding))
    except UnicodeDecodeError as exc:
        raise FeedError(f"{path.name}: not {encoding} text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise FeedError(f"{path.name}: not valid JSON: {exc}") from None
    if isinstance(data, dict):
        if options.records:
            if not isinstance(data.get(options.records), list):
                raise FeedError(f"{path.name}: no array of records under {options.records!r}")
            data = data[options.records]
        else:
            lists = [k for k, v in data.items() if isinstance(v, list)]
            key = next((k for k in JSON_KEYS if k in lists), lists[0] if len(lists) == 1 else None)
            if key is None:
                raise FeedError(f"{path.name}: a JSON object without one array of records; name it in the "
                                "mapping's [file] records")
            data = data[key]
    if not isinstance(data, list):
        raise FeedError(f"{path.name}: expected a JSON array of records")
    return data


def records_table(records: list, first: tuple[str, ...] = ()) -> Table:
    """Records as a table: nested objects flattened with dots; the columns are ``first`` (present in the
    records or not) and then every other key the records carry. An item that is not an object is a row
    of None."""
    flat = [(flatten(item) if isinstance(item, dict) else None) for item in records]
    names = list(dict.fromkeys([*first, *(k for r in flat if r for k in r)]))
    body = ((i, None if r is None else [r.get(n) for n in names]) for i, r in enumerate(flat, 1))
    return Table(names, body)


def _json_table(path: Path, options: FileOptions) -> Table:
    return records_table(json_records(path, options))


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)

