"""Arrow side of a load: each delta cast to its table's exact columns and types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from shopflow.warehouse.errors import DeltaError
from shopflow.warehouse.results import AuditRow
from shopflow.warehouse.tables import LOAD_AUDIT, TableSpec

_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")
_TYPES: dict[str, pa.DataType] = {
    "bigint": pa.int64(),
    "int": pa.int32(),
    "text": pa.string(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def arrow_type(logical: str) -> pa.DataType:
    """The Arrow type of a logical type of tables.py (timestamps are naive UTC, microseconds)."""
    m = _DECIMAL.fullmatch(logical)
    if m:
        return pa.decimal128(int(m[1]), int(m[2]))
    return _TYPES[logical]


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """The table's columns as an Arrow schema, in declaration order."""
    return pa.schema(
        [pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in spec.columns]
    )


def conform(spec: TableSpec, table: pa.Table) -> pa.Table:
    """``table`` with exactly the spec's columns, in order, cast losslessly to their types.

    Raises DeltaError for missing or extra columns, lossy casts, floats for decimals
    (money stays exact) and nulls in non-null columns.
    """
    have, want = set(table.column_names), set(spec.column_names)
    if have != want:
        raise DeltaError(
            f"delta for {spec.name}: missing columns {sorted(want - have)}, "
            f"unexpected columns {sorted(have - want)}"
        )
    arrays = [
        _cast(spec.name, c.name, table.column(c.name), arrow_type(c.type)) for c in spec.columns
    ]
    for column, array in zip(spec.columns, arrays, strict=True):
        if not column.nullable and array.null_count:
            raise DeltaError(f"delta for {spec.name}: {array.null_count} null(s) in {column.name}")
    return pa.Table.from_arrays(arrays, schema=arrow_schema(spec))


def _cast(table: str, name: str, col: pa.ChunkedArray, to: pa.DataType) -> pa.ChunkedArray:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if col.type == to:
        return col
    if pa.types.is_decimal(to) and pa.types.is_floating(col.type):
        raise DeltaError(f"delta for {table}: {name} is {col.type}; decimals must not be floats")
    try:
        if pa.types.is_timestamp(col.type) and col.type.tz is not None:
            col = pc.cast(col, pa.timestamp(col.type.unit, "UTC")).cast(pa.timestamp(col.type.unit))
        return pc.cast(col, to, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DeltaError(f"delta for {table}: {name} ({col.type}) -> {to}: {exc}") from exc


def _utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def audit_table(rows: Sequence[AuditRow], *, run_id: str, business_date: date) -> pa.Table:
    """``load_audit`` rows of a load as an Arrow table of that table's columns."""
    records = [
        {
            "run_id": run_id,
            "source": r.source,
            "business_date": business_date,
            "rows_in": r.rows_in,
            "rows_loaded": r.rows_loaded,
            "rows_duplicate": r.rows_duplicate,
            "rows_quarantined": r.rows_quarantined,
            "started_at": _utc(r.started_at),
            "finished_at": _utc(r.finished_at),
        }
        for r in rows
    ]
    sources = [r.source for r in rows]
    if len(set(sources)) != len(sources):
        raise DeltaError(f"audit rows name a source twice: {sorted(sources)}")
    return conform(LOAD_AUDIT, pa.Table.from_pylist(records, schema=arrow_schema(LOAD_AUDIT)))
