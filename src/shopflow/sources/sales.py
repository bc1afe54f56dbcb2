"""Sales database (data contract, S1) to staging: customers, orders, order_items, fx_rates of day D.

Reads go through connectorx's record-batch stream (``return_type="arrow_stream"``,
optionally split over ``partition_num`` connections with ``partition_on``) from a
connectorx URL: ``sqlite:///abs/path.sqlite`` or ``mysql://user:pass@host:port/shop``.
Each table's batches are collected, sorted by primary key in Arrow and staged before
the next table is read, so the staged Parquet is byte-identical whatever the partitioning
and memory holds one table (SF10's two million customers of a full refresh: ~200 MB).
connectorx cannot bind parameters: the only values inlined in the SQL are dates
formatted from ``date`` objects. Every
column is cast to a fixed Arrow schema with safe casts, so decimals stay exact
(MySQL DECIMAL arrives as decimal128(38,10); SQLite values are read as text and
parsed into decimal128) and a value that would lose digits fails the extract.
Names (``full_name``) are never selected. Rows are staged sorted by primary key.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc

from shopflow.errors import PermanentError, ShopflowError
from shopflow.sources.result import ExtractResult
from shopflow.staging import Staging

SOURCE = "sales"
Dialect = Literal["mysql", "sqlite"]
UTC_TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(12, 2)
RATE = pa.decimal128(18, 8)
FX_LOOKBACK_DAYS = 7
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class TableSpec:
    """A staged sales table: its columns (Arrow types) and primary key."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...]


def _schema(*fields: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(name, typ, nullable=nullable) for name, typ, nullable in fields])


TABLES: dict[str, TableSpec] = {
    "customers": TableSpec(
        "customers",
        _schema(
            ("customer_id", pa.int64(), False),
            ("email", pa.string(), True),
            ("country", pa.string(), True),
            ("created_at", UTC_TS, True),
            ("updated_at", UTC_TS, True),
        ),
        ("customer_id",),
    ),
    "orders": TableSpec(
        "orders",
        _schema(
            ("order_id", pa.int64(), False),
            ("customer_id", pa.int64(), True),
            ("status", pa.string(), True),
            ("currency", pa.string(), True),
            ("order_ts", UTC_TS, True),
            ("updated_at", UTC_TS, True),
            ("shipping_amount", MONEY, True),
            ("discount_amount", MONEY, True),
        ),
        ("order_id",),
    ),
    "order_items": TableSpec(
        "order_items",
        _schema(
            ("order_id", pa.int64(), False),
            ("line_no", pa.int32(), False),
            ("product_id", pa.string(), True),
            ("quantity", pa.int32(), True),
            ("unit_price", MONEY, True),
        ),
        ("order_id", "line_no"),
    ),
    "fx_rates": TableSpec(
        "fx_rates",
        _schema(
            ("rate_date", pa.date32(), False),
            ("currency", pa.string(), False),
            ("usd_per_unit", RATE, True),
        ),
        ("rate_date", "currency"),
    ),
}


# -- queries (pure) -----------------------------------------------------------------


def dialect_of(url: str) -> Dialect:
    """The SQL dialect of a connectorx URL."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return "sqlite"
    if scheme in {"mysql", "mariadb"}:
        return "mysql"
    raise ShopflowError(f"unsupported sales database URL scheme {scheme!r}: use mysql or sqlite")


def _select_list(spec: TableSpec, dialect: Dialect, alias: str) -> str:
    """Column list. SQLite decimals are read as text: stored text as it is (exact, and too
    many digits fail the cast later), a stored REAL printed at the column's scale."""
    cols = []
    for f in spec.schema:
        ref = f"{alias}.{f.name}"
        if dialect == "sqlite" and isinstance(f.type, pa.Decimal128Type):
            cols.append(
                f"case when typeof({ref}) = 'real' then printf('%.{f.type.scale}f', {ref}) "
                f"else cast({ref} as text) end as {f.name}"
            )
        else:
            cols.append(f"{ref} as {f.name}")
    return ", ".join(cols)


def _ts(day: date) -> str:
    """A timestamp literal for day 00:00; built from a date, so safe to inline."""
    return f"'{day.isoformat()} 00:00:00'"


def _dt(day: date) -> str:
    return f"'{day.isoformat()}'"


def build_queries(day: date, dialect: Dialect, *, customers_full_refresh: bool) -> dict[str, str]:
    """SELECTs of customers, orders and order_items for day D (connectorx cannot bind values).

    Timestamps compare against 'YYYY-MM-DD 00:00:00' literals: a DATETIME in MySQL, and in
    SQLite text (either 'T' or ' ' separated) orders the same way.
    """
    start, end = _ts(day), _ts(day + timedelta(days=1))

    def in_day(alias: str) -> str:
        return f"{alias}.updated_at >= {start} and {alias}.updated_at < {end}"

    customers = f"c.updated_at < {end}" if customers_full_refresh else in_day("c")
    return {
        "customers": (
            f"select {_select_list(TABLES['customers'], dialect, 'c')} "
            f"from customers c where {customers}"
        ),
        "orders": (
            f"select {_select_list(TABLES['orders'], dialect, 'o')} "
            f"from orders o where {in_day('o')}"
        ),
        "order_items": (
            f"select {_select_list(TABLES['order_items'], dialect, 'i')} "
            f"from order_items i join orders o on o.order_id = i.order_id where {in_day('o')}"
        ),
    }


def fx_window(day: date, orders: pa.Table) -> tuple[date, date]:
    """Rate dates the day's orders may need: [min(order_date) - 7 days, max(D, max order_date)]."""
    lo = hi = day
    if orders.num_rows:
        stats = pc.min_max(orders.column("order_ts"))
        lo_ts, hi_ts = stats["min"].as_py(), stats["max"].as_py()
        if isinstance(lo_ts, datetime) and isinstance(hi_ts, datetime):
            lo, hi = min(day, lo_ts.date()), max(day, hi_ts.date())
    return lo - timedelta(days=FX_LOOKBACK_DAYS), hi


def fx_query(lo: date, hi: date, dialect: Dialect) -> str:
    """SELECT of fx_rates with rate_date in [lo, hi]."""
    return (
        f"select {_select_list(TABLES['fx_rates'], dialect, 'r')} from fx_rates r "
        f"where r.rate_date >= {_dt(lo)} and r.rate_date <= {_dt(hi)}"
    )


# -- Arrow normalisation (pure) -----------------------------------------------------


def normalize(data: pa.Table | pa.RecordBatch, spec: TableSpec) -> pa.Table:
    """Cast rows to the table's schema exactly; fail instead of rounding or overflowing."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    missing = [n for n in spec.schema.names if n not in table.column_names]
    if missing:
        raise PermanentError(f"sales.{spec.name}: the query returned no column {missing}")
    columns = []
    for f in spec.schema:
        col = table.column(f.name)
        try:
            columns.append(_cast(col, f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise PermanentError(
                f"sales.{spec.name}.{f.name}: cannot convert {col.type} to {f.type} exactly: {exc}"
            ) from None
    return pa.Table.from_arrays(columns, schema=spec.schema)


def _cast(col: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if col.type == target:
        return col
    if pa.types.is_timestamp(target):
        if pa.types.is_timestamp(col.type) and col.type.tz is not None:
            return col.cast(target)
        naive = col.cast(pa.timestamp(target.unit))  # text or naive: the values are UTC
        return naive.cast(target)
    return col.cast(target, safe=True)


def sort_by_key(table: pa.Table, spec: TableSpec) -> pa.Table:
    """Rows in primary-key order, so the staged files are the same on every run."""
    return table.sort_by([(k, "ascending") for k in spec.key])


# -- I/O ------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def read_arrow(url: str, query: str, *, partition_on: str | None, partition_num: int) -> pa.Table:
    """Run query through connectorx; errors never carry the password."""
    import connectorx as cx

    partitioned = partition_on is not None and partition_num > 1
    try:
        reader = cx.read_sql(
            url,
            query,
            return_type="arrow_stream",
            batch_size=BATCH_ROWS,
            partition_on=partition_on if partitioned else None,
            partition_num=partition_num if partitioned else None,
        )
        return reader.read_all()
    except Exception as exc:  # connectorx raises plain RuntimeError/ValueError
        message = str(exc)
        password = urlsplit(url).password
        if password:
            message = message.replace(password, "***")
        raise ShopflowError(f"reading {redact_url(url)} failed: {message}") from None


@dataclass
class _Read:
    table: pa.Table
    bytes_in: int


def _read_table(url: str, query: str, spec: TableSpec, partition_num: int) -> _Read:
    raw = read_arrow(url, query, partition_on=spec.key[0], partition_num=partition_num)
    return _Read(sort_by_key(normalize(raw, spec), spec), raw.nbytes)


def _slices(table: pa.Table, size: int = BATCH_ROWS) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, size):
        yield table.slice(start, size)


def extract_sales(
    business_date: date,
    *,
    url: str,
    staging: Staging,
    customers_full_refresh: bool = False,
    run_id: str | None = None,
    partition_num: int = 1,
) -> ExtractResult:
    """Stage the sales tables of business_date; return the reconciled counts.

    partition_num > 1 reads customers, orders and order_items over that many
    connections, split on the first key column (connectorx ``partition_on``).
    """
    started = time.perf_counter()
    dialect = dialect_of(url)
    queries = build_queries(business_date, dialect, customers_full_refresh=customers_full_refresh)
    tables: dict[str, int] = {}
    bytes_in = 0
    with staging.writer(SOURCE, business_date, run_id=run_id) as writer:

        def stage(name: str, query: str, partitions: int) -> pa.Table:
            """Read, sort and stage one table (one table in memory at a time)."""
            nonlocal bytes_in
            read = _read_table(url, query, TABLES[name], partitions)
            writer.declare(name, TABLES[name].schema)
            for part in _slices(read.table):
                writer.write(name, part)
            tables[name] = read.table.num_rows
            bytes_in += read.bytes_in
            return read.table

        for name, query in queries.items():
            staged = stage(name, query, partition_num)
            if name == "orders":
                lo, hi = fx_window(business_date, staged)
            del staged
        stage("fx_rates", fx_query(lo, hi, dialect), 1)
        rows = sum(tables.values())
        writer.set_counts(rows_in=rows, rows_loaded=rows, rows_duplicate=0, rows_quarantined=0)
    return ExtractResult(
        source=SOURCE,
        business_date=business_date,
        manifest_uri=writer.manifest_uri,
        rows_in=rows,
        rows_loaded=rows,
        rows_duplicate=0,
        rows_quarantined=0,
        bytes_in=bytes_in,
        seconds=time.perf_counter() - started,
        tables=tables,
    )
