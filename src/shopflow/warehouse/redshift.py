"""Redshift: Parquet on S3, ``COPY`` with an IAM role, then the merge, all in one transaction.

There is no Redshift here, so the whole load is a statement list
(:meth:`RedshiftWarehouse.statements_for_load`) that tests parse and run the
Postgres-compatible part of. Bulk load: each delta is written, batch by batch as
it is read, as one Parquet file under a deterministic key
(``<prefix>/warehouse_load/dt=D/run_id=R/<table>.parquet``, overwritten by a
retry) and copied into ``delta_<table>`` created ``like`` its table; Parquet
columns load by position and both sides follow tables.py's column order.
Locking: ``lock`` on every warehouse table in one statement and a fixed order,
after staging and before the first merge. No credentials appear in the SQL:
COPY authorises with the cluster's IAM role (an ARN is no secret).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shopflow.warehouse.base import (
    AuditRow,
    Delta,
    DeltaInput,
    LoadContext,
    LoadResult,
    Params,
    Phase,
    Step,
    Warehouse,
    stage_inputs,
)
from shopflow.warehouse.ddl import create_all
from shopflow.warehouse.merge import MergeStyle
from shopflow.warehouse.names import delta, delta_name, target
from shopflow.warehouse.params import to_format
from shopflow.warehouse.tables import TABLES, TableSpec

_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_S3_PREFIX = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[\w.=/-]*)?")
_KEY_PART = re.compile(r"[^\w.=-]")
EXTRA_KEYS = ("iam_role_arn", "s3_staging_prefix", "aws_conn_id")


def null_safe_distinct(left: str, right: str) -> str:
    """``is distinct from`` spelt out, for Redshift, which lacks it."""
    return (
        f"({left} <> {right} or ({left} is null and {right} is not null)"
        f" or ({left} is not null and {right} is null))"
    )


class RedshiftWarehouse(Warehouse):
    """Redshift through any DBAPI connection (``RedshiftSQLHook`` under Airflow)."""

    dialect = "redshift"
    merge_style = MergeStyle(delete_using=True, distinct=null_safe_distinct)

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        iam_role_arn: str,
        staging_prefix: str,
        upload: Callable[[str, bytes], None] | None = None,
        conn_id: str | None = None,
    ) -> None:
        super().__init__(conn_id)
        if not _ARN.fullmatch(iam_role_arn):
            raise ValueError("iam_role_arn must look like arn:aws:iam::<account>:role/<name>")
        if not _S3_PREFIX.fullmatch(staging_prefix.rstrip("/")):
            raise ValueError("the S3 staging prefix must look like s3://bucket/path")
        self._connect = connect
        self.iam_role_arn = iam_role_arn
        self.staging_prefix = staging_prefix.rstrip("/")
        self._upload = upload

    @classmethod
    def from_airflow(cls, conn_id: str) -> RedshiftWarehouse:
        """From an Airflow redshift connection whose extra names ``iam_role_arn`` and
        ``s3_staging_prefix`` (and optionally ``aws_conn_id`` for the upload)."""
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = RedshiftSQLHook(redshift_conn_id=conn_id)
        extra = dict(hook.conn.extra_dejson)
        ours = {key: extra.pop(key, None) for key in EXTRA_KEYS}
        hook.conn.extra = json.dumps(extra)  # the rest are redshift_connector arguments
        s3 = S3Hook(aws_conn_id=ours["aws_conn_id"] or "aws_default")

        def upload(uri: str, body: bytes) -> None:
            bucket, key = uri.removeprefix("s3://").split("/", 1)
            s3.load_bytes(body, key=key, bucket_name=bucket, replace=True)

        return cls(
            hook.get_conn,
            iam_role_arn=str(ours["iam_role_arn"] or ""),
            staging_prefix=str(ours["s3_staging_prefix"] or ""),
            upload=upload,
            conn_id=conn_id,
        )

    def staging_uri(self, table: str, ctx: LoadContext) -> str:
        """Deterministic S3 location of a delta's Parquet file for one load."""
        run = _KEY_PART.sub("_", ctx.run_id)
        return (
            f"{self.staging_prefix}/warehouse_load/dt={ctx.business_date.isoformat()}"
            f"/run_id={run}/{table}.parquet"
        )

    def statements_for_load(
        self,
        deltas: Mapping[str, DeltaInput],
        *,
        business_date: date,
        run_id: str,
        audit: Sequence[AuditRow],
        derive: Sequence[str] = (),
    ) -> list[str]:
        """Every statement ``load_day`` executes for these arguments, in order."""
        staged = stage_inputs(deltas, audit, run_id=run_id, business_date=business_date)
        return [s.sql for s in self.plan_load(staged, LoadContext(business_date, run_id), derive)]

    def _before_load(
        self, staged: Mapping[str, Delta], ctx: LoadContext, result: LoadResult
    ) -> None:
        if self._upload is None:
            raise ValueError("RedshiftWarehouse needs an upload function to stage deltas on S3")
        started = time.perf_counter()
        for table, data in staged.items():
            buf = io.BytesIO()
            with pq.ParquetWriter(buf, data.schema, compression="snappy") as writer:
                for batch in data.batches():
                    writer.write_batch(batch)
            self._upload(self.staging_uri(table, ctx), buf.getvalue())
        result.add_seconds("upload", time.perf_counter() - started)

    @contextmanager
    def _session(self) -> Iterator[_DbapiSession]:
        conn = self._connect()
        try:
            conn.autocommit = True  # the plan says begin and commit itself
            yield _DbapiSession(conn)
        finally:
            conn.close()

    def _ensure_steps(self) -> list[Step]:
        return [
            Step(Phase.ENSURE, "creating the warehouse schema", sql)
            for sql in create_all("redshift")
        ]

    def _stage_steps(self, spec: TableSpec, *, filled: bool, ctx: LoadContext) -> list[Step]:
        steps = [
            Step(
                Phase.STAGE,
                f"creating {delta_name(spec.name)}",
                f"create temp table {delta(spec)} (like {target(spec)})",
            )
        ]
        if filled:
            steps.append(
                Step(
                    Phase.STAGE,
                    f"copying {spec.name}.parquet into {delta_name(spec.name)}",
                    f"copy {delta(spec)}\nfrom {_literal(self.staging_uri(spec.name, ctx))}\n"
                    f"iam_role {_literal(self.iam_role_arn)}\nformat as parquet",
                    table=spec.name,
                )
            )
        return steps

    def _lock_steps(self) -> list[Step]:
        tables = ", ".join(target(spec) for spec in TABLES.values())
        return [Step(Phase.LOCK, "locking the warehouse tables", f"lock {tables}")]

    def _as_text(self, column: str, logical: str) -> str:
        if logical == "bool":
            return f"case when {column} then 'true' when not {column} then 'false' end"
        return super()._as_text(column, logical)

    def _hash_sum(self, row_text: str) -> str:
        return f"coalesce(sum(strtol(substring(md5({row_text}), 1, 15), 16)::decimal(38, 0)), 0)"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _DbapiSession:
    """Any DBAPI connection with the ``format`` paramstyle, in autocommit mode."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def run(self, step: Step, data: Delta | None) -> int:
        cur = self.conn.cursor()
        try:
            cur.execute(step.sql)
            return int(cur.rowcount)
        finally:
            cur.close()

    def rollback(self) -> None:
        self.run(Step(Phase.COMMIT, "rolling back", "rollback"), None)

    def fetch_arrow(self, sql: str, params: Params) -> pa.Table:
        cur = self.conn.cursor()
        try:
            cur.execute(*to_format(sql, params))
            names = [d[0] for d in cur.description or ()]
            rows = cur.fetchall() if names else []
        finally:
            cur.close()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        return pa.table({n: pa.array(v) for n, v in zip(names, columns, strict=True)})

    def fetch_one(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        cur = self.conn.cursor()
        try:
            cur.execute(*to_format(sql, params))
            row = cur.fetchone()
        finally:
            cur.close()
        return None if row is None else tuple(row)
