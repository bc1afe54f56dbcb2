"""DuckDB: a single file, a single writer.

Keys: the tables declare no primary key (``ddl.ENFORCED_KEYS``); each delta's keys
are checked unique before the merges, which keep them unique in the tables.
Bulk load: a delta's Parquet files are scanned in place (``read_parquet``) when
they hold exactly the table's schema; otherwise its Arrow table, or its stream of
conformed batches, is registered as a view; either is copied into a temp table.
A warehouse bounded by ``within`` (the load) opens the file with a memory limit
and a spill folder, so the merges and the derive spill instead of growing.
Locking: DuckDB locks the file for the process that opens it, so a
session opens the file only for one load or query and waits for another
process's lock with a bounded retry loop; threads of one process queue on a
per-file mutex.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

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
from shopflow.warehouse.errors import WarehouseError
from shopflow.warehouse.merge import MergeStyle
from shopflow.warehouse.names import column_list, delta, delta_name, ident
from shopflow.warehouse.tables import TableSpec

_MUTEXES: dict[str, threading.Lock] = {}
_MUTEXES_GUARD = threading.Lock()
_GLOB = re.compile(r"[*?\[\]{}]")  # read_parquet would expand these in a path


def scannable(paths: Iterable[Path | str]) -> list[str] | None:
    """The paths as ``read_parquet`` takes them, or None when one holds a glob character
    (``read_parquet`` would expand it) or there is none: read them another way then."""
    files = [str(path) for path in paths]
    if not files or any(_GLOB.search(f) for f in files):
        return None
    return files


def _mutex(path: str) -> threading.Lock:
    with _MUTEXES_GUARD:
        return _MUTEXES.setdefault(path, threading.Lock())


def _arrow_view(table: str) -> str:
    return f"shopflow_arrow_{delta_name(table)}"


class DuckDBWarehouse(Warehouse):
    """A DuckDB file; through the DuckDB provider's hook when an Airflow connection is given."""

    dialect = "duckdb"
    merge_style = MergeStyle(delete_using=False)

    def __init__(
        self,
        path: str | Path,
        *,
        conn_id: str | None = None,
        lock_timeout: float = 600.0,
        memory_limit: str | None = None,
        temp_directory: Path | None = None,
    ) -> None:
        super().__init__(conn_id)
        if not str(path) or str(path) == ":memory:":
            raise ValueError("the DuckDB warehouse needs a database file")
        self.path = str(Path(path).expanduser().resolve())
        self.lock_timeout = lock_timeout
        self.memory_limit = memory_limit
        self.temp_directory = temp_directory

    def within(self, *, memory_limit: str | None, scratch: Path | None) -> DuckDBWarehouse:
        """The same file, opened with DuckDB's ``memory_limit`` and ``temp_directory``."""
        return DuckDBWarehouse(
            self.path,
            conn_id=self._conn_id,
            lock_timeout=self.lock_timeout,
            memory_limit=memory_limit,
            temp_directory=scratch,
        )

    def _limits(self) -> dict[str, Any]:
        limits = {"memory_limit": self.memory_limit, "temp_directory": self.temp_directory}
        return {key: str(value) for key, value in limits.items() if value is not None}

    @classmethod
    def from_airflow(cls, conn_id: str) -> DuckDBWarehouse:
        """From an Airflow connection of type duckdb (host = the database file)."""
        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

        return cls(DuckDBHook(duckdb_conn_id=conn_id).get_database(), conn_id=conn_id)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._conn_id:
            from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

            conn: duckdb.DuckDBPyConnection = DuckDBHook(
                duckdb_conn_id=self._conn_id, database=self.path, **self._limits()
            ).get_conn()
            return conn
        return duckdb.connect(self.path, config=self._limits())

    def _open(self, deadline: float) -> duckdb.DuckDBPyConnection:
        """Connect, retrying while another process holds the file lock, until ``deadline``."""
        pause = 0.05
        while True:
            try:
                return self._connect()
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WarehouseError(
                        f"DuckDB file {self.path} stayed locked by another process for "
                        f"{self.lock_timeout:g} s; stop that process or retry later"
                    ) from exc
                time.sleep(min(pause, left))
                pause = min(pause * 2, 1.0)

    @contextmanager
    def _session(self) -> Iterator[_DuckDBSession]:
        deadline = time.monotonic() + self.lock_timeout
        mutex = _mutex(self.path)
        if not mutex.acquire(timeout=self.lock_timeout):
            raise WarehouseError(
                f"DuckDB file {self.path} stayed busy with another thread for "
                f"{self.lock_timeout:g} s"
            )
        try:
            conn = self._open(deadline)
            try:
                yield _DuckDBSession(conn)
            finally:
                conn.close()
        finally:
            mutex.release()

    def _stage_steps(self, spec: TableSpec, *, filled: bool, ctx: LoadContext) -> list[Step]:
        cols = ", ".join(f"{ident(c.name)} {column_type(c.type, 'duckdb')}" for c in spec.columns)
        steps = [
            Step(
                Phase.STAGE,
                f"creating {delta_name(spec.name)}",
                f"create temp table {delta(spec)} ({cols})",
            )
        ]
        if filled:
            names = column_list(spec.column_names)
            steps.append(
                Step(
                    Phase.STAGE,
                    f"bulk-loading {delta_name(spec.name)}",
                    f"insert into {delta(spec)} ({names})\n"
                    f"select {names} from {ident(_arrow_view(spec.name))}",
                    data=spec.name,
                )
            )
            if spec.key:
                steps.append(unique_keys_step(spec, _raise_if_any))
        return steps

    def _lock_steps(self) -> list[Step]:
        return []  # the session holds the file (other processes) and the mutex (threads)

    def _hash_sum(self, row_text: str) -> str:
        return f"coalesce(sum(md5_number_lower({row_text})), 0)"


def _raise_if_any(repeated: str, message: str) -> str:
    """The tables declare no primary key here (ddl.ENFORCED_KEYS): ``error()`` fails the load
    when the delta repeats a key, where a key index would not spill."""
    return f"select error('{message}') from ({repeated} limit 1) as repeated"


class _DuckDBSession:
    """One DuckDB connection."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn

    def run(self, step: Step, data: Delta | None) -> int:
        if not step.data or data is None:
            return self._execute(step)
        view = _arrow_view(step.data)
        scanned = self._expose(view, data)
        try:
            count = self._execute(step)
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses it
                self._hide(view, scanned)
            raise
        self._hide(view, scanned)
        return count

    def _execute(self, step: Step) -> int:
        cursor = self.conn.execute(step.sql)
        if step.role is None:
            return -1
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def _expose(self, view: str, data: Delta) -> bool:
        """Make data readable as view: its files scanned in place (True), else Arrow (False)."""
        files = scannable(data.files)
        if files is not None:
            self.conn.read_parquet(files).create_view(view, replace=True)
            return True
        table = data.in_memory
        self.conn.register(view, table if table is not None else data.reader())
        return False

    def _hide(self, view: str, scanned: bool) -> None:
        if scanned:
            self.conn.execute(f"drop view if exists {ident(view)}")
        else:
            self.conn.unregister(view)

    def rollback(self) -> None:
        self.conn.execute("rollback")

    def fetch_arrow(self, sql: str, params: Params) -> pa.Table:
        relation = self.conn.sql(sql, params=_params(params))
        return relation.to_arrow_table() if relation is not None else pa.table({})

    def fetch_one(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        return self.conn.execute(sql, _params(params)).fetchone()


def _params(params: Params) -> Any:
    if not params:
        return None
    return dict(params) if hasattr(params, "keys") else list(params)
