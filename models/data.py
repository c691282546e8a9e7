"""Reads and validates a shop's own catalog and events (docs/data-format.md).

    catalog: CSV, JSON Lines or Parquet; columns id, title, categories, and
             optional description, price, currency, brand, image_url, url,
             available, plus any other column, kept as a typed attribute
    events:  CSV, JSON Lines or Parquet; user and/or session, item, timestamp
             (ISO 8601 or epoch seconds), optional type (view / cart /
             purchase) and basket (an order id)

Validation never stops at the first bad row: rows that cannot be used are
rejected and counted by reason, with the line numbers of the first few of
each kind, and training goes on with the rest. Input that cannot be trained
on at all (a missing column, text that is not UTF-8, no events left, every
event naming an unknown item) raises DataError naming the problem.

Events are held as compact numpy columns (a few bytes per event), never as a
shoppers x items table: memory grows with the number of events.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import json
import math
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

# Weight of one event of each type; repeated events of a shopper on an item add up.
EVENT_WEIGHTS = {"view": 1.0, "cart": 2.0, "purchase": 4.0}
DEFAULT_EVENT_TYPE = "view"  # an empty or missing `type`

# Catalog columns with a meaning (the rest are kept as attributes as they are typed).
CATALOG_REQUIRED = ("id", "title")
STRING_FIELDS = ("description", "currency", "brand", "image_url", "url")
KNOWN_ATTRIBUTES = STRING_FIELDS + ("price", "available")
EVENT_COLUMNS = ("user", "session", "item", "timestamp", "type", "basket")

# What the engine accepts (src/bundle/limits.rs): refused here already, with a clear message.
MAX_ITEMS = 2_000_000
MAX_CATEGORIES = 100_000
MAX_CATEGORY_MEMBERSHIPS = 20_000_000

EXAMPLES_SHOWN = 3  # line numbers reported per kind of problem
LATEST_EPOCH = 32_503_680_000  # 3000-01-01: later "epoch seconds" are milliseconds or garbage
TRUE_WORDS = {"true", "yes", "1", "y", "t"}
FALSE_WORDS = {"false", "no", "0", "n", "f"}


class DataError(Exception):
    """Input that cannot be trained on; the message names the file and the problem."""


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------


@dataclass
class Problems:
    """Rows rejected (or fields dropped) for one reason: a count and the first few examples."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES_SHOWN:
            self.examples.append(f"{where}: {message}")


@dataclass
class FileReport:
    path: Path
    rows: int = 0
    accepted: int = 0
    rejected: dict[str, Problems] = field(default_factory=dict)   # row dropped
    warnings: dict[str, Problems] = field(default_factory=dict)   # row kept, a field dropped

    def reject(self, kind: str, where: str, message: str) -> None:
        self.rejected.setdefault(kind, Problems()).add(where, message)

    def warn(self, kind: str, where: str, message: str) -> None:
        self.warnings.setdefault(kind, Problems()).add(where, message)

    @property
    def rejected_rows(self) -> int:
        return sum(p.count for p in self.rejected.values())

    def lines(self, noun: str) -> list[str]:
        out = [f"{self.path}: {self.rows:,} rows read, {self.accepted:,} {noun} kept, "
               f"{self.rejected_rows:,} rejected"]
        for label, problems in (("rejected", self.rejected), ("warning", self.warnings)):
            for kind, p in sorted(problems.items(), key=lambda kv: -kv[1].count):
                out.append(f"  {label}: {kind}: {p.count:,} row(s)")
                out.extend(f"    {example}" for example in p.examples)
        return out


# --------------------------------------------------------------------------
# Reading rows: CSV, JSON Lines, Parquet; UTF-8 only
# --------------------------------------------------------------------------


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix, kind in ((".csv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"),
                         (".parquet", "parquet")):
        if name.endswith(suffix):
            return kind
    raise DataError(f"{path}: unknown file type: name it .csv, .jsonl (JSON Lines) or .parquet "
                    "(optionally .gz for CSV and JSON Lines)")


def _open_text(path: Path) -> io.TextIOBase:
    try:
        raw = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")
    except OSError as error:
        raise DataError(f"{path}: cannot open: {error.strerror or error}") from None
    head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raw.close()
        raise DataError(f"{path}: the file is UTF-16 text; save it as UTF-8")
    # utf-8-sig: a UTF-8 byte order mark (as spreadsheet programs write) is fine.
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")


def _encoding_error(path: Path, error: UnicodeDecodeError) -> DataError:
    """Names the first line that is not UTF-8 (text is decoded in blocks, so the
    reader's position does not tell; only a failing file is read again for it)."""
    line, opener = 0, gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as raw:
        for line, data in enumerate(raw, start=1):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as bad:
                return DataError(f"{path}: line {line} is not UTF-8 text ({bad.reason}: byte "
                                 f"0x{data[bad.start]:02x} at column {bad.start + 1}); save the file as UTF-8")
    return DataError(f"{path}: not UTF-8 text ({error.reason}); save the file as UTF-8")


def csv_rows(path: Path, files: ExitStack) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(header, rows): each row with the line it starts on. Header names are stripped.
    The file is closed with `files`."""
    text = files.enter_context(_open_text(path))
    reader = csv.reader(text)
    try:
        header = next(reader, None)
    except UnicodeDecodeError as error:
        raise _encoding_error(path, error) from None
    except csv.Error as error:
        raise DataError(f"{path}: line 1: not CSV: {error}") from None
    if not header:
        raise DataError(f"{path}: the file is empty (a header row is needed)")

    def rows():
        line = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as error:
                raise _encoding_error(path, error) from None
            except csv.Error as error:
                raise DataError(f"{path}: line {line}: cannot be read as CSV: {error}") from None
            yield line, row
            line = reader.line_num + 1

    return [h.strip() for h in header], rows()


def json_rows(path: Path, report: FileReport, files: ExitStack) -> Iterator[tuple[int, dict]]:
    """Objects of a JSON Lines file with their line numbers; blank lines are skipped,
    lines that are not a JSON object are rejected (reported)."""
    text = files.enter_context(_open_text(path))
    line = 0
    while True:
        try:
            raw = text.readline()
        except UnicodeDecodeError as error:
            raise _encoding_error(path, error) from None
        if not raw:
            return
        line += 1
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            report.rows += 1
            report.reject("not JSON", f"line {line}", error.msg)
            continue
        if not isinstance(value, dict):
            report.rows += 1
            report.reject("not JSON", f"line {line}", f"a JSON {type(value).__name__}, not an object")
            continue
        yield line, value


def parquet_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (`.venv/bin/pip install pyarrow`), "
                        "or give CSV / JSON Lines") from None
    try:
        table = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises its own types
        raise DataError(f"{path}: not a Parquet file: {error}") from None
    names = [n.strip() for n in table.schema_arrow.names]

    def rows():
        row = 0
        for batch in table.iter_batches(batch_size=65536):
            for record in batch.to_pylist():
                row += 1
                yield row, {k.strip(): v for k, v in record.items()}

    return names, rows()


def _column_lookup(columns: list[str]) -> dict[str, str]:
    """Column names as written -> the lower-case name used for the known columns."""
    return {c.lower(): c for c in columns}


class Progress:
    """Prints '<what>: N rows' at most every few seconds (to stderr), and the total at the end."""

    def __init__(self, what: str, log: Callable[[str], None], every: float = 5.0):
        self.what, self.log, self.every = what, log, every
        self.started = self.last = time.monotonic()

    def tick(self, count: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.log(f"  {self.what}: {count:,} rows ({now - self.started:.0f} s)")


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------


def as_id(value) -> str | None:
    """An id from a cell: text (stripped), or a whole number written as one."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def parse_categories(value) -> list[str]:
    """`A|B` or a JSON array of strings (in CSV: the array as text). Raises ValueError."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"{text[:60]!r} starts like a JSON array but is not one ({error.msg})") from None
        else:
            value = text.split("|")
    if not isinstance(value, list):
        raise ValueError(f"{value!r} is neither `A|B` text nor an array of names")
    out: list[str] = []
    for name in value:
        if not isinstance(name, str):
            raise ValueError(f"category {name!r} is not text")
        name = name.strip()
        if name and name not in out:
            out.append(name)
    return out


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"{value!r} is not true/false")


def parse_number(value) -> float | int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, (int, float)):
        number = value
    else:
        text = str(value).strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def parse_timestamp(value) -> float:
    """Epoch seconds from ISO 8601 text (no zone = UTC) or epoch seconds. Raises ValueError."""
    if isinstance(value, bool) or value is None:
        raise ValueError("empty")
    if isinstance(value, dt.datetime):  # Parquet timestamp columns
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp()
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        if not text:
            raise ValueError("empty")
        try:
            seconds = float(text)
        except ValueError:
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{text!r} is neither ISO 8601 nor epoch seconds") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
            return moment.timestamp()
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r} is not a time (epoch seconds must be >= 0)")
    if seconds >= LATEST_EPOCH:
        raise ValueError(f"{value!r} is after the year 3000: milliseconds? give epoch seconds")
    return seconds


def iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------


@dataclass
class Item:
    id: str
    title: str
    categories: list[str]
    attributes: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        value = {"id": self.id, "title": self.title, "categories": self.categories}
        if self.attributes:
            value["attributes"] = self.attributes
        return value


@dataclass
class Catalog:
    items: list[Item]
    report: FileReport
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {item.id: i for i, item in enumerate(self.items)}

    def __len__(self) -> int:
        return len(self.items)

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    def categories(self) -> dict[str, int]:
        """Every category with its number of items, most common first."""
        counts: dict[str, int] = {}
        for item in self.items:
            for name in item.categories:
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _infer_column(values: list[str]):
    """The type of a CSV attribute column: int, float, bool if every non-empty value
    reads as one (ints with a leading zero, like codes '0042', stay text), else str."""
    present = [v.strip() for v in values if v is not None and v.strip()]
    if not present:
        return None
    if all(v.lower() in ("true", "false") for v in present):
        return lambda v: v.strip().lower() == "true"
    try:
        numbers = [parse_number(v) for v in present]
    except ValueError:
        return str.strip
    if all(isinstance(n, int) for n in numbers):
        if any(v.lstrip("-").startswith("0") and len(v.lstrip("-")) > 1 for v in present):
            return str.strip  # codes like 0042: a number would lose the zeros
        return lambda v: int(v.strip())
    return lambda v: float(v.strip())


def _attribute(name: str, value, where: str, report: FileReport):
    """A known optional field converted to its type, or None (dropped with a warning)."""
    try:
        if name == "price":
            return float(parse_number(value))
        if name == "available":
            return parse_bool(value)
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        return value.strip()
    except ValueError as error:
        report.warn(f"bad {name} (field dropped)", where, str(error))
        return None


def read_catalog(path: Path, log: Callable[[str], None] = stderr_log) -> Catalog:
    with ExitStack() as files:
        return _read_catalog(Path(path), log, files)


def _read_catalog(path: Path, log: Callable[[str], None], files: ExitStack) -> Catalog:
    kind = _format_of(path)
    report = FileReport(path)
    if kind == "csv":
        columns, rows = csv_rows(path, files)
        records = ((line, dict(zip(columns, row)), len(row) == len(columns) or not any(row)) for line, row in rows)
        where = "line"
    elif kind == "parquet":
        columns, rows = parquet_rows(path)
        records = ((line, row, True) for line, row in rows)
        where = "row"
    else:
        columns, records, where = None, ((line, row, True) for line, row in json_rows(path, report, files)), "line"

    items: list[Item] = []
    first_line: dict[str, int] = {}
    raw_extra: list[dict] = []  # CSV: other columns as text, typed per column at the end
    lookup = _column_lookup(columns) if columns is not None else None
    if lookup is not None:
        _require(path, lookup, CATALOG_REQUIRED, "catalog")
    progress = Progress(f"reading {path.name}", log)
    for line, record, well_formed in records:
        report.rows += 1
        progress.tick(report.rows)
        at = f"{where} {line}"
        if kind == "csv" and not any(v.strip() for v in record.values()):
            report.rows -= 1  # a blank line
            continue
        if not well_formed:
            report.reject("wrong number of fields", at, f"{len(record)} fields, the header has {len(columns)}")
            continue
        fields = {k.lower(): k for k in record} if lookup is None else lookup
        if lookup is None and (missing := [c for c in CATALOG_REQUIRED if c not in fields]):
            report.reject(f"no {missing[0]}", at, f"the object has no {missing[0]!r} field")
            continue
        item_id = as_id(record.get(fields["id"]))
        if item_id is None:
            report.reject("no id", at, f"id {record.get(fields['id'])!r} is empty or not text")
            continue
        title = record.get(fields["title"])
        if not isinstance(title, str) or not title.strip():
            report.reject("no title", at, f"item {item_id!r} has no title")
            continue
        if item_id in first_line:
            report.reject("duplicate id", at, f"id {item_id!r} is already on {where} {first_line[item_id]} "
                                               "(the first one is kept)")
            continue
        try:
            categories = parse_categories(record.get(fields["categories"])) if "categories" in fields else []
        except ValueError as error:
            report.reject("bad categories", at, str(error))
            continue
        attributes, extra = {}, {}
        for name, column in fields.items():
            if name in ("id", "title", "categories"):
                continue
            value = record.get(column)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if name in KNOWN_ATTRIBUTES:
                typed = _attribute(name, value, at, report)
                if typed is not None:
                    attributes[name] = typed
            elif kind == "csv":
                extra[column] = value
            elif isinstance(value, (str, bool, int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
                attributes[column] = value.strip() if isinstance(value, str) else value
            else:
                report.warn("attribute that is not text, number or true/false (field dropped)", at,
                            f"{column!r} is {type(value).__name__}")
        first_line[item_id] = line
        items.append(Item(item_id, title.strip(), categories, attributes))
        raw_extra.append(extra)
    if kind == "csv":
        others = [c for c in columns if c.lower() not in CATALOG_REQUIRED + ("categories",) + KNOWN_ATTRIBUTES]
        for column in others:
            convert = _infer_column([extra.get(column) for extra in raw_extra])
            if convert is None:
                continue
            for item, extra in zip(items, raw_extra):
                if extra.get(column) is not None and extra[column].strip():
                    item.attributes[column] = convert(extra[column])
    report.accepted = len(items)
    if not items:
        raise DataError(f"{path}: no catalog items left after validation ({report.rows} rows read"
                        + _first_problem(report) + ")")
    catalog = Catalog(items, report)
    _check_catalog_limits(path, catalog)
    return catalog


def _require(path: Path, lookup: dict[str, str], needed, what: str) -> None:
    for name in needed:
        if name not in lookup:
            raise DataError(f"{path}: the {what} has no {name!r} column (columns: {', '.join(lookup.values())}); "
                            "see docs/data-format.md")


def _first_problem(report: FileReport) -> str:
    if not report.rejected:
        return ""
    kind, problems = max(report.rejected.items(), key=lambda kv: kv[1].count)
    return f"; {problems.count} rejected for {kind}, e.g. {problems.examples[0]}"


def _check_catalog_limits(path: Path, catalog: Catalog) -> None:
    if len(catalog) > MAX_ITEMS:
        raise DataError(f"{path}: {len(catalog):,} items; the engine loads at most {MAX_ITEMS:,} (maxItems)")
    categories = catalog.categories()
    if len(categories) > MAX_CATEGORIES:
        raise DataError(f"{path}: {len(categories):,} distinct categories; the engine loads at most "
                        f"{MAX_CATEGORIES:,} (maxCategories)")
    memberships = sum(categories.values())
    if memberships > MAX_CATEGORY_MEMBERSHIPS:
        raise DataError(f"{path}: {memberships:,} item-category pairs; the engine loads at most "
                        f"{MAX_CATEGORY_MEMBERSHIPS:,} (maxCategoryMemberships)")


# --------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------


@dataclass
class Events:
    """Accepted events as columns, in file order."""

    shopper: np.ndarray      # int32: row in shopper_ids
    item: np.ndarray         # int32: catalog index
    time: np.ndarray         # float64: epoch seconds
    kind: np.ndarray         # int8: index into TYPES
    basket: np.ndarray       # int32: basket code, -1 = none
    shopper_ids: list[str]   # "user" values, or "session:<id>" for session-only events
    users: int
    sessions: int
    baskets: int
    report: FileReport
    unknown_items: Problems
    unknown_ids: int

    TYPES = tuple(EVENT_WEIGHTS)

    def __len__(self) -> int:
        return len(self.item)

    def weights(self, weights: dict[str, float] | None = None) -> np.ndarray:
        table = np.array([(weights or EVENT_WEIGHTS)[t] for t in self.TYPES], np.float32)
        return table[self.kind]

    def order(self) -> np.ndarray:
        """Event positions by shopper, then time, then file order."""
        return np.lexsort((np.arange(len(self.item)), self.time, self.shopper))

    def sequences(self) -> list[np.ndarray]:
        """Per shopper (row of shopper_ids), their items oldest first."""
        order = self.order()
        bounds = np.searchsorted(self.shopper[order], np.arange(len(self.shopper_ids) + 1))
        items = self.item[order]
        return [items[bounds[s]:bounds[s + 1]] for s in range(len(self.shopper_ids))]


def read_events(path: Path, catalog: Catalog, log: Callable[[str], None] = stderr_log) -> Events:
    with ExitStack() as files:
        return _read_events(Path(path), catalog, log, files)


def _read_events(path: Path, catalog: Catalog, log: Callable[[str], None], files: ExitStack) -> Events:
    kind = _format_of(path)
    report = FileReport(path)
    unknown = Problems()
    unknown_ids: set[str] = set()
    index = catalog.index
    type_code = {t: i for i, t in enumerate(Events.TYPES)}
    default_type = type_code[DEFAULT_EVENT_TYPE]
    shoppers: dict[str, int] = {}
    users: set[str] = set()
    sessions: set[str] = set()
    baskets: dict[str, int] = {}
    col_shopper, col_item, col_kind, col_basket = (np.zeros(1 << 16, np.int32), np.zeros(1 << 16, np.int32),
                                                   np.zeros(1 << 16, np.int8), np.zeros(1 << 16, np.int32))
    col_time = np.zeros(1 << 16, np.float64)
    n = 0
    unset = object()  # no timestamp parsed yet (consecutive rows often repeat one)
    last_time_text, last_time = unset, 0.0
    progress = Progress(f"reading {path.name}", log)

    if kind == "csv":
        columns, raw_rows = csv_rows(path, files)
        lookup = _column_lookup(columns)
        _require(path, lookup, ("item", "timestamp"), "events file")
        if "user" not in lookup and "session" not in lookup:
            raise DataError(f"{path}: the events file has neither a 'user' nor a 'session' column "
                            f"(columns: {', '.join(columns)}); see docs/data-format.md")
        position = {name: columns.index(lookup[name]) for name in EVENT_COLUMNS if name in lookup}
        width = len(columns)
        i_user, i_session = position.get("user"), position.get("session")
        i_item, i_time = position["item"], position["timestamp"]
        i_type, i_basket = position.get("type"), position.get("basket")

        def records():
            for line, row in raw_rows:
                if len(row) != width:
                    if not any(cell.strip() for cell in row):
                        continue
                    report.rows += 1
                    report.reject("wrong number of fields", f"line {line}", f"{len(row)} fields, the header has {width}")
                    continue
                yield (line, row[i_user] if i_user is not None else None,
                       row[i_session] if i_session is not None else None, row[i_item], row[i_time],
                       row[i_type] if i_type is not None else None, row[i_basket] if i_basket is not None else None)
        where = "line"
    else:
        if kind == "parquet":
            columns, raw = parquet_rows(path)
            lookup = _column_lookup(columns)
            _require(path, lookup, ("item", "timestamp"), "events file")
            if "user" not in lookup and "session" not in lookup:
                raise DataError(f"{path}: the events file has neither a 'user' nor a 'session' column")
            where = "row"
        else:
            raw = json_rows(path, report, files)
            lookup = None
            where = "line"

        def records():
            for line, obj in raw:
                keys = lookup or {k.lower(): k for k in obj}
                get = lambda name: obj.get(keys[name]) if name in keys else None  # noqa: E731
                if lookup is None and "item" not in keys:
                    report.rows += 1
                    report.reject("no item", f"line {line}", "the object has no 'item' field")
                    continue
                yield (line, get("user"), get("session"), get("item"), get("timestamp"), get("type"), get("basket"))

    for line, user, session, item, stamp, event_type, basket in records():
        report.rows += 1
        if report.rows & 0xFFFF == 0:
            progress.tick(report.rows)
        user = as_id(user) if user is not None else None
        session = as_id(session) if session is not None else None
        if user is None and session is None:
            report.reject("no user or session", f"{where} {line}", "both are empty")
            continue
        item_id = as_id(item)
        if item_id is None:
            report.reject("no item", f"{where} {line}", f"item {item!r} is empty")
            continue
        row = index.get(item_id)
        if row is None:
            unknown.add(f"{where} {line}", f"item {item_id!r} is not in the catalog")
            unknown_ids.add(item_id)
            continue
        if stamp is not last_time_text and stamp != last_time_text:
            try:
                last_time = parse_timestamp(stamp)
            except ValueError as error:
                report.reject("bad timestamp", f"{where} {line}", str(error))
                last_time_text = unset
                continue
            last_time_text = stamp
        if event_type is None or event_type == "":
            code = default_type
        else:
            code = type_code.get(event_type.strip().lower() if isinstance(event_type, str) else event_type)
            if code is None:
                report.reject("unknown type", f"{where} {line}",
                              f"type {event_type!r} is not one of {', '.join(Events.TYPES)}")
                continue
        if user is not None:
            key = user
            users.add(user)
        else:
            key = "session:" + session
        if session is not None:
            sessions.add(session)
        shopper = shoppers.get(key)
        if shopper is None:
            shopper = shoppers[key] = len(shoppers)
        basket_id = as_id(basket) if basket is not None else None
        if basket_id is None:
            basket_code = -1
        else:
            basket_code = baskets.get(basket_id)
            if basket_code is None:
                basket_code = baskets[basket_id] = len(baskets)
        if n == len(col_item):
            col_shopper, col_item, col_kind, col_basket, col_time = (
                np.resize(c, 2 * n) for c in (col_shopper, col_item, col_kind, col_basket, col_time))
        col_shopper[n], col_item[n], col_kind[n], col_basket[n], col_time[n] = shopper, row, code, basket_code, last_time
        n += 1
    report.accepted = n
    if n == 0:
        if unknown.count and not report.rejected_rows:
            raise DataError(f"{path}: every event ({unknown.count:,}) names an item that is not in the catalog, "
                            f"e.g. {unknown.examples[0]}; do the events and the catalog use the same ids?")
        why = _first_problem(report)
        if unknown.count:
            why += f"; {unknown.count:,} name items not in the catalog, e.g. {unknown.examples[0]}"
        raise DataError(f"{path}: no events left after validation ({report.rows:,} rows read{why})")
    return Events(
        shopper=col_shopper[:n].copy(), item=col_item[:n].copy(), time=col_time[:n].copy(),
        kind=col_kind[:n].copy(), basket=col_basket[:n].copy(), shopper_ids=list(shoppers),
        users=len(users), sessions=len(sessions), baskets=len(baskets), report=report,
        unknown_items=unknown, unknown_ids=len(unknown_ids))


# --------------------------------------------------------------------------
# The data report
# --------------------------------------------------------------------------


def report_lines(catalog: Catalog, events: Events, weights: dict[str, float] | None = None) -> list[str]:
    weights = weights or EVENT_WEIGHTS
    out = ["data report", "catalog"]
    out += ["  " + line for line in catalog.report.lines("items")]
    out.append(f"  {len(catalog):,} items, {len(catalog.categories()):,} categories")
    out.append("events")
    out += ["  " + line for line in events.report.lines("events")]
    if events.unknown_items.count:
        out.append(f"  events naming unknown items (dropped): {events.unknown_items.count:,} "
                   f"({events.unknown_ids:,} distinct ids)")
        out.extend(f"    {e}" for e in events.unknown_items.examples)
    pairs = np.unique(events.shopper.astype(np.int64) * len(catalog) + events.item).size
    mentioned = np.bincount(events.item, minlength=len(catalog)) > 0
    cold = np.flatnonzero(~mentioned)
    out.append(f"shoppers {len(events.shopper_ids):,}: {events.users:,} users, {events.sessions:,} sessions"
               + (f", {events.baskets:,} baskets" if events.baskets else ", no baskets"))
    per = np.bincount(events.shopper)
    out.append(f"  events per shopper: median {int(np.median(per))}, max {int(per.max())}; "
               f"{int((per < 2).sum()):,} shopper(s) with a single event")
    counts = np.bincount(events.kind, minlength=len(Events.TYPES))
    out.append("  types: " + ", ".join(f"{t} {int(c):,} (weight {weights[t]:g})" for t, c in zip(Events.TYPES, counts)))
    out.append(f"items with events {int(mentioned.sum()):,} of {len(catalog):,}; "
               f"{len(cold):,} no event mentions"
               + (" (kept: found by search and browsing, never recommended), e.g. "
                  + ", ".join(repr(catalog.items[i].id) for i in cold[:EXAMPLES_SHOWN]) if len(cold) else ""))
    first, last = float(events.time.min()), float(events.time.max())
    out.append(f"time span {iso(first)} .. {iso(last)} ({(last - first) / 86400:.1f} days)")
    out.append(f"density {pairs / (len(events.shopper_ids) * len(catalog)):.3g} "
               f"({pairs:,} distinct shopper-item pairs / {len(events.shopper_ids):,} shoppers x "
               f"{len(catalog):,} items)")
    return out
