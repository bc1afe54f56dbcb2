"""A day's staged Arrow tables (and extract counts), conformed for the transform models.

``StagedDay.from_staging`` lists every table of each source's committed manifest and
reads it lazily, row group by row group (``StagedDay.chunks``), so the transform never
holds a whole day in Arrow. ``conform`` gives each input the columns the models
expect: missing columns become nulls, extra ones are dropped, timestamps become
naive UTC microseconds, typed columns are cast safely (a lossy cast fails). Opaque
columns (``None`` below) keep their staged type; the models cast them.

``StagedDay.scan`` offers DuckDB the same conformed columns straight from the staged
Parquet files (``ParquetScan``), for a table whose columns need no cast but the
timestamp one: DuckDB then reads the files itself, in parallel, within its memory limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopflow.names import SOURCES
from shopflow.staging import Staging
from shopflow.warehouse.names import ident

TS = pa.timestamp("us")
MONEY = pa.decimal128(12, 2)

_STR = pa.string()
_I64 = pa.int64()
_QUARANTINE: dict[str, pa.DataType | None] = {"record_key": _STR, "raw": _STR, "reason": _STR}

INPUTS: dict[tuple[str, str], dict[str, pa.DataType | None]] = {
    ("sales", "customers"): {
        "customer_id": _I64, "email": _STR, "country": _STR, "created_at": TS, "updated_at": TS,
    },
    ("sales", "orders"): {
        "order_id": _I64, "customer_id": _I64, "status": _STR, "currency": _STR,
        "order_ts": TS, "updated_at": TS, "shipping_amount": MONEY, "discount_amount": MONEY,
    },
    ("sales", "order_items"): {
        "order_id": _I64, "line_no": pa.int32(), "product_id": _STR, "quantity": pa.int32(),
        "unit_price": MONEY,
    },
    ("sales", "fx_rates"): {
        "rate_date": pa.date32(), "currency": _STR, "usd_per_unit": pa.decimal128(18, 8),
    },
    ("interactions", "interactions"): {
        "interaction_id": _STR, "email": _STR, "type": _STR, "channel": _STR,
        "campaign_id": _STR, "occurred_at_raw": _STR, "occurred_at": TS, "properties": None,
    },
    ("products", "products"): {
        "product_id": _STR, "sku": _STR, "name": _STR, "category": _STR, "brand": _STR,
        "price": None, "currency": _STR, "active": pa.bool_(), "updated_at": None,
        "attributes": None,
    },
    ("clickstream", "events"): {
        "event_id": _STR, "event_type": _STR, "ts": TS, "session_id": _STR,
        "anonymous_id": _STR, "customer_id": _I64, "product_id": _STR, "order_id": _I64,
        "page_url": _STR, "referrer": _STR, "utm_source": _STR, "utm_campaign": _STR,
        "device": _STR, "source_file": _STR,
    },
    **{(source, "quarantine"): _QUARANTINE for source in SOURCES},
}  # fmt: skip
"""(source, staged table) -> expected columns and types; ``None`` = keep the staged type."""


def input_name(source: str, table: str) -> str:
    """The name a staged table is registered under in the transform's DuckDB."""
    return f"raw_{source}_{table}"


CHUNK_ROWS = 131_072
"""Rows per chunk of an in-memory table (staged tables come one row group at a time)."""


@dataclass(frozen=True)
class StagedTable:
    """A committed staged table, read on demand: whole (``read``) or by row group."""

    staging: Staging
    source: str
    day: date
    name: str
    num_rows: int

    def read(self) -> pa.Table:
        """The whole table, every file verified."""
        return self.staging.read_table(self.source, self.day, self.name)

    def paths(self, cache_dir: Path) -> list[Path]:
        """Its verified local files, in order (S3 files copied to cache_dir)."""
        return self.staging.local_paths(self.source, self.day, self.name, cache_dir=cache_dir)

    def row_groups(self, cache_dir: Path) -> Iterator[pa.Table]:
        """Its row groups in order, from verified local files (S3 files copied to cache_dir)."""
        for path in self.paths(cache_dir):
            with pq.ParquetFile(path) as file:
                for index in range(file.num_row_groups):
                    yield file.read_row_group(index)


@dataclass(frozen=True)
class StagedSource:
    """The staged tables of one source (in memory or ``StagedTable``) and its extract counts."""

    tables: Mapping[str, pa.Table | StagedTable]
    counts: Mapping[str, int] = field(default_factory=dict)

    def extract_counts(self) -> dict[str, int]:
        """rows_in/loaded/duplicate/quarantined; derived from row counts when not recorded."""
        if self.counts:
            return {k: int(self.counts.get(k, 0)) for k in _COUNT_KEYS}
        quarantined = self.tables["quarantine"].num_rows if "quarantine" in self.tables else 0
        loaded = sum(t.num_rows for name, t in self.tables.items() if name != "quarantine")
        return {
            "rows_in": loaded + quarantined,
            "rows_loaded": loaded,
            "rows_duplicate": 0,
            "rows_quarantined": quarantined,
        }


_COUNT_KEYS = ("rows_in", "rows_loaded", "rows_duplicate", "rows_quarantined")


@dataclass(frozen=True)
class StagedDay:
    """Everything the transform reads for one business date, by source."""

    sources: Mapping[str, StagedSource]

    @classmethod
    def from_staging(
        cls, staging: Staging, day: date, sources: tuple[str, ...] = SOURCES
    ) -> StagedDay:
        """Every table listed in each source's committed manifest for ``day`` (read lazily)."""
        staged = {}
        for source in sources:
            manifest = staging.read_manifest(source, day)
            tables: dict[str, pa.Table | StagedTable] = {
                name: StagedTable(staging, source, day, name, entry.rows)
                for name, entry in manifest.tables.items()
            }
            staged[source] = StagedSource(tables=tables, counts=dict(manifest.counts))
        return cls(sources=staged)

    def _staged(self, source: str, name: str) -> pa.Table | StagedTable | None:
        staged = self.sources.get(source)
        return staged.tables.get(name) if staged is not None else None

    def table(self, source: str, name: str) -> pa.Table:
        """The staged table conformed to ``INPUTS`` (empty when the source did not stage it)."""
        table = self._staged(source, name)
        return conform(
            table.read() if isinstance(table, StagedTable) else table, INPUTS[(source, name)]
        )

    def chunks(self, source: str, name: str, cache_dir: Path) -> Iterator[pa.Table]:
        """The table conformed to ``INPUTS``, chunk by chunk, in order; at least one chunk
        (empty when the source did not stage it), so its columns are always known."""
        columns = INPUTS[(source, name)]
        table = self._staged(source, name)
        if isinstance(table, StagedTable):
            parts: Iterator[pa.Table] = table.row_groups(cache_dir)
        elif table is not None:
            parts = (
                table.slice(start, CHUNK_ROWS) for start in range(0, table.num_rows, CHUNK_ROWS)
            )
        else:
            parts = iter(())
        empty = True
        for part in parts:
            empty = False
            yield conform(part, columns)
        if empty:
            yield conform(None if table is None else _empty(table), columns)

    def scan(self, source: str, name: str, cache_dir: Path) -> ParquetScan | None:
        """The staged files of a table and the select list that conforms them to ``INPUTS``,
        or None when ``chunks`` must do it (not staged as files, no file, a cast needed)."""
        table = self._staged(source, name)
        if not isinstance(table, StagedTable):
            return None
        paths = table.paths(cache_dir)
        schemas = [pq.read_schema(path) for path in paths]
        if not schemas or any(not s.equals(schemas[0]) for s in schemas[1:]):
            return None
        schema = schemas[0]
        columns = INPUTS[(source, name)]
        select = _select_list(schema, columns)
        if select is None:
            return None
        conformed = conform(schema.empty_table(), columns).schema
        return ParquetScan(tuple(paths), tuple(select), conformed)


@dataclass(frozen=True)
class ParquetScan:
    """Staged Parquet files of one table, for DuckDB to read directly.

    ``select``: SQL expressions over the files' columns giving exactly what ``conform``
    gives (the columns of ``INPUTS`` in order, missing ones null, timestamps naive UTC);
    ``conformed``: the schema ``conform`` gives, to check DuckDB's types against.
    """

    paths: tuple[Path, ...]
    select: tuple[str, ...]
    conformed: pa.Schema


_SQL_TYPES = {
    _STR: "varchar",
    _I64: "bigint",
    pa.int32(): "integer",
    pa.bool_(): "boolean",
    pa.date32(): "date",
    TS: "timestamp",
}


def _sql_type(typ: pa.DataType) -> str | None:
    if pa.types.is_decimal128(typ):
        return f"decimal({typ.precision}, {typ.scale})"
    return _SQL_TYPES.get(typ)


def _select_list(schema: pa.Schema, columns: Mapping[str, pa.DataType | None]) -> list[str] | None:
    """SQL that conforms Parquet files of this Arrow schema as ``conform`` does, else None.

    Only what needs no cast, or the timestamp one, which DuckDB does the same way (session
    time zone UTC): a timestamp in microseconds with a time zone becomes its UTC wall time.
    """
    select = []
    for name, typ in columns.items():
        quoted = ident(name)
        if name not in schema.names:
            sql_type = _sql_type(typ or _STR)
            if sql_type is None:
                return None
            select.append(f"cast(null as {sql_type}) as {quoted}")
            continue
        staged = schema.field(name).type
        expression = quoted
        if pa.types.is_timestamp(staged):
            if staged.unit != "us":
                return None
            staged, expression = TS, f"cast({quoted} as timestamp) as {quoted}"
        if typ is not None and staged != typ:
            return None
        select.append(expression)
    return select


def conform(table: pa.Table | None, columns: Mapping[str, pa.DataType | None]) -> pa.Table:
    """Exactly ``columns``, in order; see the module docstring."""
    rows = 0 if table is None else table.num_rows
    arrays: list[pa.ChunkedArray] = []
    names: list[str] = []
    for name, typ in columns.items():
        if table is None or name not in table.column_names:
            col = pa.chunked_array([pa.nulls(rows, typ or _STR)])
        else:
            col = table.column(name)
            if pa.types.is_timestamp(col.type) and col.type != TS:
                col = col.cast(TS)  # tz-aware values are stored as UTC: keep them, drop the tz
            if typ is not None and col.type != typ:
                col = _cast(col, typ)
        arrays.append(col)
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def _empty(table: pa.Table | StagedTable) -> pa.Table:
    """No rows, the staged columns (so opaque columns keep their staged type)."""
    if isinstance(table, StagedTable):
        return table.read().slice(0, 0)
    return table.slice(0, 0)


def _cast(col: pa.ChunkedArray, typ: pa.DataType) -> pa.ChunkedArray:
    if pa.types.is_string(typ) and pa.types.is_dictionary(col.type):
        return pc.cast(col.cast(col.type.value_type), typ)
    return col.cast(typ, safe=True)
