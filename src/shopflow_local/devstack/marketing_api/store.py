"""The interactions on disk: one Parquet file per UTC day, held sorted in memory.

A day is read once, kept sorted by (occurred_at_utc, id) with every record already
serialised to JSON, and read again when its file changes (mtime, size or inode).
Selecting a range is a binary search per day and a byte slice, so pages cost almost
nothing to build.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopflow.errors import ShopflowError

log = logging.getLogger(__name__)

Key = tuple[int, str]
"""A record's place in the global order: (occurred_at_utc in µs since the epoch, id)."""

US_PER_DAY = 86_400_000_000
EPOCH = date(1970, 1, 1)
MAX_CACHED_BYTES = 1_500_000_000
_DAY_FILE = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})\.parquet$")


class StoreError(ShopflowError):
    """A day file that cannot be served."""


def day_of(us: int) -> date:
    """The UTC day holding the instant ``us`` (µs since the epoch)."""
    return EPOCH + timedelta(days=us // US_PER_DAY)


def day_start(day: date) -> int:
    """The first µs of a UTC day."""
    return (day - EPOCH).days * US_PER_DAY


@dataclass(frozen=True)
class DayData:
    """One day's records sorted by key; record i is ``body[offsets[i]:offsets[i+1]]``
    (its JSON followed by a comma)."""

    ts: np.ndarray
    ids: list[str]
    body: memoryview
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """About the memory it holds: the JSON, the keys and the id strings."""
        return len(self.body) + self.ts.nbytes + self.offsets.nbytes + 80 * len(self.ids)

    def index_at(self, us: int) -> int:
        """Index of the first record at or after the instant ``us``."""
        return int(np.searchsorted(self.ts, us, side="left"))

    def index_after(self, key: Key) -> int:
        """Index of the first record whose key is greater than ``key``."""
        us, record_id = key
        lo = int(np.searchsorted(self.ts, us, side="left"))
        hi = int(np.searchsorted(self.ts, us, side="right"))
        return bisect_right(self.ids, record_id, lo, hi)

    def key(self, index: int) -> Key:
        """The key of record ``index``."""
        return int(self.ts[index]), self.ids[index]

    def json(self, start: int, stop: int) -> memoryview:
        """Records start..stop-1 as JSON, each followed by a comma."""
        return self.body[int(self.offsets[start]) : int(self.offsets[stop])]


@dataclass(frozen=True)
class Run:
    """Consecutive records start..stop-1 of one day."""

    day: DayData
    start: int
    stop: int


@dataclass
class Selection:
    """Records in key order, as runs over day data."""

    runs: list[Run] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(run.stop - run.start for run in self.runs)

    def head(self, count: int) -> Selection:
        """The first ``count`` records."""
        runs = []
        for run in self.runs:
            if count <= 0:
                break
            stop = min(run.stop, run.start + count)
            runs.append(Run(run.day, run.start, stop))
            count -= stop - run.start
        return Selection(runs)

    def last_key(self) -> Key | None:
        """The key of the last record, None when empty."""
        if not self.runs:
            return None
        last = self.runs[-1]
        return last.day.key(last.stop - 1)

    def ids(self) -> Iterator[str]:
        """The record ids in order."""
        for run in self.runs:
            yield from run.day.ids[run.start : run.stop]

    def json_parts(self) -> list[memoryview]:
        """Every record's JSON (each followed by a comma), in order."""
        return [run.day.json(run.start, run.stop) for run in self.runs]

    def picked_json_parts(self, keep: Callable[[str], bool]) -> list[memoryview]:
        """The JSON of the records whose id ``keep`` accepts, in order."""
        parts = []
        for run in self.runs:
            for index in range(run.start, run.stop):
                if keep(run.day.ids[index]):
                    parts.append(run.day.json(index, index + 1))
        return parts


class InteractionStore:
    """Serves ``data_dir/interactions/dt=YYYY-MM-DD.parquet``; a missing day has no records.

    Keeps the most recently used days, at most ``max_cached_days`` and, beyond the newest
    one, at most ``max_cached_bytes`` (an SF10 day holds about 1 GB).
    """

    def __init__(
        self, data_dir: Path, *, max_cached_days: int = 8, max_cached_bytes: int = MAX_CACHED_BYTES
    ) -> None:
        self.directory = Path(data_dir) / "interactions"
        self.max_cached_days = max(1, max_cached_days)
        self.max_cached_bytes = max_cached_bytes
        self._cache: OrderedDict[date, tuple[tuple[int, int, int], DayData]] = OrderedDict()
        self._lock = threading.Lock()
        self._day_locks: dict[date, threading.Lock] = {}
        self._duckdb = duckdb.connect()

    def days(self, first: date, last: date) -> list[date]:
        """The days from first to last (inclusive) that have a file, in order."""
        found = []
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    match = _DAY_FILE.match(entry.name)
                    if match:
                        try:
                            day = date.fromisoformat(match.group(1))
                        except ValueError:
                            continue
                        if first <= day <= last:
                            found.append(day)
        except FileNotFoundError:
            return []
        return sorted(found)

    def day(self, day: date) -> DayData | None:
        """The records of a day, read again when its file changed; None without a file."""
        path = self.directory / f"dt={day.isoformat()}.parquet"
        with self._lock:
            day_lock = self._day_locks.setdefault(day, threading.Lock())
        with day_lock:
            try:
                stat = path.stat()
            except FileNotFoundError:
                with self._lock:
                    self._cache.pop(day, None)
                return None
            signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            with self._lock:
                cached = self._cache.get(day)
                if cached and cached[0] == signature:
                    self._cache.move_to_end(day)
                    return cached[1]
            data = read_day(path, day, self._duckdb)
            with self._lock:
                self._cache[day] = (signature, data)
                self._cache.move_to_end(day)
                while len(self._cache) > self.max_cached_days or (
                    len(self._cache) > 1 and self._cached_bytes() > self.max_cached_bytes
                ):
                    self._cache.popitem(last=False)
            return data

    def cached_days(self) -> list[date]:
        """The days held in memory, least recently used first."""
        with self._lock:
            return list(self._cache)

    def _cached_bytes(self) -> int:
        return sum(data.nbytes for _, data in self._cache.values())

    def select(
        self,
        start_us: int,
        end_us: int,
        *,
        after: Key | None = None,
        through: Key | None = None,
        limit: int | None = None,
    ) -> Selection:
        """Records with start <= occurred_at < end, key > after, key <= through; at most limit."""
        selection = Selection()
        low = start_us if after is None else max(start_us, after[0])
        high = end_us - 1 if through is None else min(end_us - 1, through[0])
        remaining = limit
        if low > high or remaining == 0:
            return selection
        for day in self.days(day_of(low), day_of(high)):
            data = self.day(day)
            if data is None:
                continue
            first = data.index_at(start_us)
            if after is not None:
                first = max(first, data.index_after(after))
            stop = data.index_at(end_us)
            if through is not None:
                stop = min(stop, data.index_after(through))
            if first >= stop:
                continue
            if remaining is not None:
                stop = min(stop, first + remaining)
                remaining -= stop - first
            selection.runs.append(Run(data, first, stop))
            if remaining == 0:
                break
        return selection


_DAY_SQL = """
select
    epoch_us(occurred_at_utc) as us,
    id,
    json_type(json(properties)) as properties_type,
    to_json({
        id: id, email: email, type: type, channel: channel, campaign_id: campaign_id,
        occurred_at: occurred_at, properties: coalesce(json(properties), '{}'::json)
    }) || ',' as record
from read_parquet($path)
where id is not null and us >= $low and us < $high
order by us, id
"""


def read_day(path: Path, day: date, connection: duckdb.DuckDBPyConnection) -> DayData:
    """Read one day file, keep the records of that day, sort them and render their JSON.

    DuckDB does the work in C++: reading, sorting, and JSON with the ``properties``
    string embedded as an object (it must hold one).
    """
    low = day_start(day)
    params = {"path": str(path), "low": low, "high": low + US_PER_DAY}
    try:
        total = pq.ParquetFile(path).metadata.num_rows
        with connection.cursor() as cursor:
            table: pa.Table = cursor.sql(_DAY_SQL, params=params).to_arrow_table()
    except (OSError, pa.ArrowException, duckdb.Error) as exc:
        raise StoreError(f"cannot read {path.name}: {exc}") from exc
    if table.num_rows < total:
        log.warning(
            "%s: skipped %d records without an id or outside the day",
            path.name,
            total - table.num_rows,
        )
    kinds = pc.unique(pc.drop_null(table["properties_type"])).to_pylist()
    if any(kind != "OBJECT" for kind in kinds):
        raise StoreError(f"{path.name}: properties must hold JSON objects, found {kinds}")
    records = pc.cast(table["record"], pa.large_string()).combine_chunks()
    if len(records) == 0:
        return DayData(np.zeros(0, np.int64), [], memoryview(b""), np.zeros(1, np.int64))
    _, offset_buffer, data_buffer = records.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)
    offsets = offsets[records.offset : records.offset + len(records) + 1]
    return DayData(
        ts=table["us"].to_numpy(),
        ids=table["id"].to_pylist(),
        body=memoryview(data_buffer),
        offsets=offsets,
    )
