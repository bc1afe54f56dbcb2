"""Postgres through psycopg 3.

Bulk load: ``COPY delta_<table> (...) FROM STDIN`` in CSV, written by Arrow's C++
CSV writer one record batch at a time as the delta is read (nulls unquoted,
strings quoted, so empty text stays text): a COPY holds one batch, never the
day, and every COPY runs inside the load's one transaction. Locking: a
transaction-scoped advisory lock on a fixed key, taken after the temp tables
are filled and before the first merge, so concurrent loads stage in parallel
and merge one after the other (read committed: the second sees the first's
rows). Temp tables are ``on commit drop``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg.rows import tuple_row

from shopflow.warehouse.base import (
    Delta,
    LoadContext,
    Params,
    Phase,
    Step,
    Warehouse,
    unique_keys_step,
)
from shopflow.warehouse.ddl import column_type
from shopflow.warehouse.merge import MergeStyle
from shopflow.warehouse.names import column_list, delta, delta_name, ident
from shopflow.warehouse.params import to_format
from shopflow.warehouse.sql import fixed_sql
from shopflow.warehouse.tables import TableSpec

COPY_BATCH_ROWS = 100_000
_CSV = pa_csv.WriteOptions(include_header=False, batch_size=COPY_BATCH_ROWS)

# Arrow types for result columns, by Postgres type oid.
_OID_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", "UTC"),
}
_NUMERIC = 1700


class PostgresWarehouse(Warehouse):
    """A Postgres database; ``connect`` opens a psycopg 3 connection (from a URL or a hook)."""

    dialect = "postgres"
    merge_style = MergeStyle(delete_using=True, on_conflict=True)  # primary keys: ddl.ENFORCED_KEYS

    def __init__(
        self,
        conninfo: str = "",
        *,
        connect: Callable[[], psycopg.Connection[Any]] | None = None,
        conn_id: str | None = None,
    ) -> None:
        super().__init__(conn_id)
        self._connect = connect or (lambda: psycopg.connect(conninfo))

    @classmethod
    def from_airflow(cls, conn_id: str) -> PostgresWarehouse:
        """From an Airflow postgres connection, through the provider's PostgresHook."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        hook = PostgresHook(postgres_conn_id=conn_id)

        def connect() -> psycopg.Connection[Any]:
            conn = hook.get_conn()
            if not isinstance(conn, psycopg.Connection):
                raise TypeError("the postgres provider did not return a psycopg 3 connection")
            return conn

        return cls(connect=connect, conn_id=conn_id)

    @contextmanager
    def _session(self) -> Iterator[_PostgresSession]:
        conn = self._connect()
        try:
            conn.row_factory = tuple_row
            conn.autocommit = True  # the plan says begin and commit itself
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
            conn.execute(fixed_sql("postgres_session"))
            yield _PostgresSession(conn)
        finally:
            conn.close()

    def _ensure_steps(self) -> list[Step]:
        *steps, commit = super()._ensure_steps()
        upgrade = fixed_sql("postgres_upgrade")
        return [*steps, Step(Phase.ENSURE, "upgrading an earlier warehouse", upgrade), commit]

    def _stage_steps(self, spec: TableSpec, *, filled: bool, ctx: LoadContext) -> list[Step]:
        cols = ", ".join(f"{ident(c.name)} {column_type(c.type, 'postgres')}" for c in spec.columns)
        steps = [
            Step(
                Phase.STAGE,
                f"creating {delta_name(spec.name)}",
                f"create temp table {delta(spec)} ({cols}) on commit drop",
            )
        ]
        if filled:
            steps += [
                Step(
                    Phase.STAGE,
                    f"copying rows into {delta_name(spec.name)}",
                    f"copy {delta(spec)} ({column_list(spec.column_names)}) "
                    "from stdin (format csv)",
                    data=spec.name,
                ),
                Step(  # temp tables get no statistics otherwise; the merge plans need them
                    Phase.STAGE,
                    f"analyzing {delta_name(spec.name)}",
                    f"analyze {delta(spec)}",
                ),
            ]
            if spec.key:
                steps.append(unique_keys_step(spec, _raise_if_any))
        return steps

    def _lock_steps(self) -> list[Step]:
        return [Step(Phase.LOCK, "waiting for the load lock", fixed_sql("postgres_load_lock"))]

    def _hash_sum(self, row_text: str) -> str:
        return f"coalesce(sum(('x' || substr(md5({row_text}), 1, 16))::bit(64)::bigint), 0)"


def _raise_if_any(repeated: str, message: str) -> str:
    """The merges insert new keys ``on conflict do nothing``, which would keep one row of a
    repeated key silently. A grouping, not a primary key on the temp table: at SF 10
    building that index took minutes (temp buffers are small)."""
    return (
        f"do $$ begin\n  if exists ({repeated}) then\n"
        f"    raise exception '{message}';\n  end if;\nend $$"
    )


class _PostgresSession:
    """One psycopg connection in autocommit mode; transactions are explicit statements."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def run(self, step: Step, data: Delta | None) -> int:
        with self.conn.cursor() as cur:
            if data is None:
                cur.execute(step.sql)
                return cur.rowcount
            rows = 0
            with cur.copy(step.sql) as copy:
                for batch in data.batches():  # at most deltas.BATCH_ROWS rows each
                    buf = io.BytesIO()
                    pa_csv.write_csv(batch, buf, _CSV)
                    copy.write(buf.getbuffer())
                    rows += batch.num_rows
            return rows

    def rollback(self) -> None:
        self.conn.execute("rollback")

    def fetch_arrow(self, sql: str, params: Params) -> pa.Table:
        with self.conn.cursor() as cur:
            cur.execute(*to_format(sql, params))
            if cur.description is None:
                return pa.table({})
            rows = cur.fetchall()
            columns = list(zip(*rows, strict=True)) if rows else [()] * len(cur.description)
            return pa.table(
                {
                    d.name: pa.array(values, type=_arrow_type(d))
                    for d, values in zip(cur.description, columns, strict=True)
                }
            )

    def fetch_one(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        with self.conn.cursor() as cur:
            cur.execute(*to_format(sql, params))
            return cur.fetchone()


def _arrow_type(column: Any) -> pa.DataType | None:
    """Arrow type of a result column; None lets Arrow infer (unconstrained numeric, others)."""
    if column.type_code == _NUMERIC and column.precision is not None:
        return pa.decimal128(column.precision, column.scale or 0)
    return _OID_TYPES.get(column.type_code)
