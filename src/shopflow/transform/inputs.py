"""A day's staged Arrow tables (and extract counts), conformed for the transform models.

``StagedDay.from_staging`` reads every table of each source's committed manifest.
``conform`` gives each input the columns the models expect: missing columns become
nulls, extra ones are dropped, timestamps become naive UTC microseconds, typed
columns are cast safely (a lossy cast fails). Opaque columns (``None`` below) keep
their staged type; the models cast them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from shopflow.names import SOURCES
from shopflow.staging import Staging

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


@dataclass(frozen=True)
class StagedSource:
    """The staged tables of one source and the counts its extract recorded."""

    tables: Mapping[str, pa.Table]
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
        """Read every table listed in each source's committed manifest for ``day``."""
        staged = {}
        for source in sources:
            manifest = staging.read_manifest(source, day)
            tables = {name: staging.read_table(source, day, name) for name in manifest.tables}
            staged[source] = StagedSource(tables=tables, counts=dict(manifest.counts))
        return cls(sources=staged)

    def table(self, source: str, name: str) -> pa.Table:
        """The staged table conformed to ``INPUTS`` (empty when the source did not stage it)."""
        columns = INPUTS[(source, name)]
        staged = self.sources.get(source)
        table = staged.tables.get(name) if staged is not None else None
        return conform(table, columns)


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


def _cast(col: pa.ChunkedArray, typ: pa.DataType) -> pa.ChunkedArray:
    if pa.types.is_string(typ) and pa.types.is_dictionary(col.type):
        return pc.cast(col.cast(col.type.value_type), typ)
    return col.cast(typ, safe=True)
