"""Clickstream (data contract, S4) to staging: every object under ``clickstream/dt=D/``.

Objects are read one at a time, in key order, gunzipped as a stream and cut into
blocks of whole lines. Each block becomes an Arrow table of lines (split with
numpy, no per-line Python) that DuckDB parses in one vectorised query
(``sql/clickstream_parse.sql``): JSON validity, field extraction, typing and the
quarantine reason. Duplicates by ``event_id`` are dropped as the blocks stream by,
keeping the first copy by (file, line): the only state across blocks is a DuckDB
table of the ids seen so far. Events and quarantined lines go to staging block by
block, so memory holds one block plus those ids, never the day.
Counts: rows_in = lines read = loaded + duplicate + quarantined.
"""

from __future__ import annotations

import gzip
import queue
import tempfile
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar, cast

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.errors import PermanentError, ShopflowError
from shopflow.sources.quarantine import QUARANTINE_SCHEMA, RAW_MAX_CHARS
from shopflow.sources.result import ExtractResult
from shopflow.staging import Staging

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SOURCE = "clickstream"
T = TypeVar("T")
PREFIX = "clickstream"
BLOCK_BYTES = 32 << 20
GZIP_MAGIC = b"\x1f\x8b"
FETCH_WORKERS = 2
"""Objects downloaded and gunzipped at once, each by its own thread."""
MEMORY_LIMIT = "1GB"
"""DuckDB's budget: one block being parsed plus the ids seen (SF1: ~1M short strings)."""

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("anonymous_id", pa.string()),
        pa.field("customer_id", pa.int64()),
        pa.field("product_id", pa.string()),
        pa.field("order_id", pa.int64()),
        pa.field("page_url", pa.string()),
        pa.field("referrer", pa.string()),
        pa.field("utm_source", pa.string()),
        pa.field("utm_campaign", pa.string()),
        pa.field("device", pa.string()),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
    ]
)
_EVENT_COLUMNS = [f.name for f in EVENTS_SCHEMA if f.name not in {"source_file", "source_line"}]
_PARSED_EVENT_COLUMNS = [*_EVENT_COLUMNS, "source_file", "line_no"]


def _parse_sql() -> str:
    return resources.files("shopflow.sources").joinpath("sql/clickstream_parse.sql").read_text()


# -- lines (pure) -------------------------------------------------------------------


def split_lines(block: bytes, first_line_no: int) -> pa.Table:
    """Table (line_no, line, utf8_ok) of a block of whole lines; no line objects in Python.

    Each ``line`` keeps its line break (zero-copy; JSON ignores trailing whitespace and
    the parser strips it from quarantined text). A trailing newline ends the last line;
    line numbers start at first_line_no. A line with invalid UTF-8 gets U+FFFD in place
    of the bad bytes and ``utf8_ok = false`` (the parser quarantines it as not JSON).
    """
    if not block:
        return pa.table(
            {
                "line_no": pa.array([], pa.int64()),
                "line": pa.array([], pa.string()),
                "utf8_ok": pa.array([], pa.bool_()),
            }
        )
    lines = _binary_lines(block)
    try:
        text = lines.cast(pa.string())
        ok = pa.array(np.ones(len(lines), dtype=np.bool_))
    except pa.ArrowInvalid:
        text = _binary_lines(block.decode("utf-8", errors="replace").encode()).cast(pa.string())
        if len(text) != len(lines):
            raise ShopflowError("line count changed while repairing invalid UTF-8") from None
        added = pc.subtract(
            pc.count_substring(text, pattern="\ufffd"),
            pc.count_substring(lines, pattern="\ufffd"),
        )
        ok = pc.equal(added, 0)
    numbers = np.arange(first_line_no, first_line_no + len(lines), dtype=np.int64)
    return pa.table({"line_no": numbers, "line": text, "utf8_ok": ok})


def _binary_lines(block: bytes) -> pa.Array:
    """Zero-copy binary array of the lines of block, each with its newline."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 0x0A)
    if ends.size == 0 or ends[-1] != len(block) - 1:
        ends = np.append(ends, len(block) - 1)  # the last line has no newline
    offsets = np.concatenate(([0], ends + 1)).astype(np.int32)
    return pa.Array.from_buffers(
        pa.binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )


def iter_blocks(stream: IO[bytes], block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Blocks of whole lines from a byte stream (the last may lack its newline)."""
    carry = b""
    while True:
        chunk = stream.read(block_bytes)
        if not chunk:
            if carry:
                yield carry
            return
        data = carry + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        yield data[: cut + 1]


# -- parsing (DuckDB) -----------------------------------------------------------------


@dataclass
class Counts:
    """Lines read so far and where they went (data contract, rule 9)."""

    rows_in: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0


class ClickParser:
    """Turns batches of lines into events and quarantine rows, batch by batch. A context.

    Batches must come in file order, and in line order within a file: an event id seen
    in an earlier batch (or earlier in the same batch) makes a later copy a duplicate.
    The only state kept across batches is the DuckDB table of ids seen so far.
    """

    def __init__(self, work_dir: Path | None = None, memory_limit: str = MEMORY_LIMIT) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="shopflow-clicks-", dir=work_dir)
        self.con = duckdb.connect(config={"memory_limit": memory_limit})
        self.con.execute("set TimeZone = 'UTC'")
        self.con.execute(f"set temp_directory = '{_sql_text(self._tmp.name)}'")
        self.con.execute("create table seen (event_id varchar)")
        cols = ", ".join(_EVENT_COLUMNS)
        self._parse = (
            f"select pos, source_file, line_no, reason, "
            f"case when reason is not null then source_file || ':' || line_no end as record_key, "
            f"case when reason is not null then left(rtrim(line, chr(13) || chr(10)), "
            f"{RAW_MAX_CHARS:d}) end as raw, {cols} "
            f"from ({_parse_sql()})"
        )
        # Narrow on purpose: only ids and positions go through the join and window.
        self._first_copies = (
            "select pos from (select event_id, pos from parsed where reason is null) "
            "anti join seen using (event_id) "
            "qualify row_number() over (partition by event_id order by pos) = 1"
        )
        self.counts = Counts()

    def __enter__(self) -> ClickParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release DuckDB and its spill directory."""
        self.con.close()
        self._tmp.cleanup()

    def parse(self, lines: pa.Table, *, source_file: str) -> tuple[pa.Table, pa.Table]:
        """(events, quarantine) of one table of (line_no, line, utf8_ok) from source_file."""
        return self.parse_batch([(source_file, lines)])

    def parse_batch(self, parts: Sequence[tuple[str, pa.Table]]) -> tuple[pa.Table, pa.Table]:
        """(events, quarantine) of (source_file, lines) parts, in file then line order.

        One DuckDB pass parses every part and one more finds the first copies, however
        many files the batch holds. Events are the first copies not seen before, in
        order; both tables have the staged schemas.
        """
        parts = [(name, lines) for name, lines in parts if lines.num_rows]
        if not parts:
            return EVENTS_SCHEMA.empty_table(), QUARANTINE_SCHEMA.empty_table()
        chunk = _batch_table(parts)
        n = chunk.num_rows
        self.con.register("chunk", chunk)
        try:
            parsed = self.con.sql(self._parse).to_arrow_table()
        finally:
            self.con.unregister("chunk")
        # DuckDB's parallel scan returns rows in any order: pick rows by position instead.
        pos = parsed.column("pos").to_numpy()
        if pos.size != n:
            raise ShopflowError(f"parsing returned {pos.size} rows of {n}")
        row_of = np.empty(n, dtype=np.int64)
        row_of[pos] = np.arange(n, dtype=np.int64)
        bad = np.sort(pos[pc.is_valid(parsed.column("reason")).to_numpy(zero_copy_only=False)])
        self.con.register("parsed", parsed.select(["pos", "event_id", "reason"]))
        try:
            first = self.con.sql(self._first_copies).to_arrow_table().column("pos").to_numpy()
        finally:
            self.con.unregister("parsed")
        first = np.sort(first)
        bounds = np.cumsum([0] + [lines.num_rows for _, lines in parts])
        quarantine = _chunk_per_part(
            _conform(parsed.select(QUARANTINE_SCHEMA.names).take(row_of[bad]), QUARANTINE_SCHEMA),
            np.diff(np.searchsorted(bad, bounds)),
        )
        events = _chunk_per_part(
            _conform(
                parsed.select(_PARSED_EVENT_COLUMNS)
                .take(row_of[first])
                .rename_columns({"line_no": "source_line"}),
                EVENTS_SCHEMA,
            ),
            np.diff(np.searchsorted(first, bounds)),
        )
        self.con.register("kept", events.select(["event_id"]))
        try:
            self.con.execute("insert into seen select event_id from kept")
        finally:
            self.con.unregister("kept")
        self.counts.rows_in += n
        self.counts.rows_quarantined += quarantine.num_rows
        self.counts.rows_loaded += events.num_rows
        self.counts.rows_duplicate += n - quarantine.num_rows - events.num_rows
        return events, quarantine


def _batch_table(parts: Sequence[tuple[str, pa.Table]]) -> pa.Table:
    """The parts' lines as one table (no copy of the lines) with pos and source_file."""
    lines = pa.concat_tables([table for _, table in parts])
    n = lines.num_rows
    sizes = [table.num_rows for _, table in parts]
    files = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(len(parts), dtype=np.int32), sizes)),
        pa.array([name for name, _ in parts], pa.string()),
    )
    return lines.append_column("source_file", files).add_column(
        0, "pos", pa.array(np.arange(n, dtype=np.int64))
    )


def _chunk_per_part(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """table with one chunk per part (rows[i] rows each), as parsing part by part gave.

    The Parquet writer's pages (its dictionary fallback) follow the chunks it is given,
    so this keeps the staged bytes independent of how many files share a batch.
    """
    batches: list[pa.RecordBatch] = []
    offset = 0
    for count in rows.tolist():
        if count:
            batches.extend(table.slice(offset, count).combine_chunks().to_batches())
            offset += count
    return pa.Table.from_batches(batches, schema=table.schema)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast DuckDB output (string views, dictionaries, ...) to a staged schema, by name."""
    arrays = [table.column(f.name).cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


# -- I/O ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectRef:
    """An object to read: its key and size in bytes."""

    key: str
    size: int


def day_prefix(day: date) -> str:
    """``clickstream/dt=YYYY-MM-DD/``."""
    return f"{PREFIX}/dt={day.isoformat()}/"


def list_objects(s3: S3Client, bucket: str, day: date) -> list[ObjectRef]:
    """Every object under the day's prefix, sorted by key (folder markers skipped)."""
    refs: list[ObjectRef] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=day_prefix(day)):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):
                refs.append(ObjectRef(obj["Key"], int(obj.get("Size", 0))))
    return sorted(refs, key=lambda ref: ref.key)


class _Peekable:
    """A read-only stream that lets us look at its first bytes (gzip or not)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.head: bytes = raw.read(2)

    def read(self, size: int = -1) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            rest = self.raw.read(-1 if size < 0 else max(size - len(head), 0))
            return head + rest
        return cast(bytes, self.raw.read(size))


@contextmanager
def open_object(s3: S3Client, bucket: str, key: str) -> Iterator[IO[bytes]]:
    """A stream of the object's bytes, gunzipped when it is gzip (multi-member too)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        stream = _Peekable(body)
        if stream.head.startswith(GZIP_MAGIC):
            with gzip.GzipFile(fileobj=stream, mode="rb") as unzipped:  # type: ignore[call-overload]
                yield unzipped
        else:
            yield cast(IO[bytes], stream)
    finally:
        body.close()


def object_lines(
    s3: S3Client, bucket: str, key: str, block_bytes: int = BLOCK_BYTES
) -> Iterator[pa.Table]:
    """Tables of (line_no, line, utf8_ok) of one object, block by block."""
    line_no = 1
    try:
        with open_object(s3, bucket, key) as stream:
            for block in iter_blocks(stream, block_bytes):
                lines = split_lines(block, line_no)
                line_no += lines.num_rows
                yield lines
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:  # the object itself is broken
        raise PermanentError(f"s3://{bucket}/{key} is not readable gzip: {exc}") from None


class Prefetch(Generic[T]):
    """The items of an iterator, produced by a thread started now, at most `depth` ahead.

    Iterate it once; an error in the producer is raised there. ``close()`` stops the
    producer (and closes its iterator) even when it was left early or never read.
    """

    def __init__(self, items: Iterator[T], depth: int = 2, name: str = "clickstream") -> None:
        self._slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._items = items
        self._worker = threading.Thread(target=self._produce, name=name, daemon=True)
        self._worker.start()

    def _put(self, kind: str, value: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._slots.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put("item", item):
                    return
            self._put("end", None)
        except BaseException as exc:  # handed to the consumer
            self._put("error", exc)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        while True:
            kind, value = self._slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        """Stop the producer and wait for it."""
        self._stop.set()
        self._worker.join()


def ordered_blocks(
    keys: Sequence[str],
    read: Callable[[str], Iterator[pa.Table]],
    *,
    workers: int = FETCH_WORKERS,
    depth: int = 2,
) -> Iterator[tuple[str, pa.Table]]:
    """(key, lines) of every key in key order, up to `workers` objects read at once.

    Each object in flight has its own thread (download, gunzip, split) and holds at
    most `depth` blocks ahead of the consumer, so memory is bounded by workers, depth
    and the block size, not by the day.
    """

    def start(key: str) -> Prefetch[tuple[str, pa.Table]]:
        return Prefetch(((key, lines) for lines in read(key)), depth, name=f"clickstream-{key}")

    pending = iter(keys)
    running: deque[Prefetch[tuple[str, pa.Table]]] = deque()
    try:
        for key in islice(pending, max(workers, 1)):
            running.append(start(key))
        while running:
            yield from running[0]
            running.popleft().close()
            following = next(pending, None)
            if following is not None:
                running.append(start(following))
    finally:
        for ahead in running:
            ahead.close()


def batches(
    blocks: Iterator[tuple[str, pa.Table]], batch_bytes: int
) -> Iterator[list[tuple[str, pa.Table]]]:
    """Consecutive (key, lines) blocks grouped until they hold at least batch_bytes of text."""
    batch: list[tuple[str, pa.Table]] = []
    size = 0
    for key, lines in blocks:
        batch.append((key, lines))
        size += lines.column("line").nbytes
        if size >= batch_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def extract_clickstream(
    business_date: date,
    *,
    s3: S3Client,
    bucket: str,
    staging: Staging,
    run_id: str | None = None,
    block_bytes: int = BLOCK_BYTES,
    workers: int = FETCH_WORKERS,
) -> ExtractResult:
    """Stage the events and quarantine of business_date; return the reconciled counts."""
    started = time.perf_counter()
    refs = list_objects(s3, bucket, business_date)
    with (
        ClickParser() as parser,
        staging.writer(SOURCE, business_date, run_id=run_id) as writer,
    ):
        writer.declare("events", EVENTS_SCHEMA)
        writer.declare("quarantine", QUARANTINE_SCHEMA)
        blocks = ordered_blocks(
            [ref.key for ref in refs],
            lambda key: object_lines(s3, bucket, key, block_bytes),
            workers=workers,
        )
        for batch in batches(blocks, block_bytes):
            events, quarantine = parser.parse_batch(batch)
            writer.write("events", events)
            writer.write("quarantine", quarantine)
        tallies = asdict(parser.counts)
        writer.set_counts(**tallies, files=len(refs))
    return ExtractResult(
        source=SOURCE,
        business_date=business_date,
        manifest_uri=writer.manifest_uri,
        bytes_in=sum(ref.size for ref in refs),
        seconds=time.perf_counter() - started,
        tables={"events": tallies["rows_loaded"], "quarantine": tallies["rows_quarantined"]},
        **tallies,
    )
