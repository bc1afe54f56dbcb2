"""The warehouse interface: one class per dialect behind it, callers never branch on the database.

A load is a *plan*, a list of :class:`Step`: ensure the schema; ``begin``; stage
every ``delta_<table>`` temp table (bulk load); take the load lock; merge each
table (``merge.py``); run the transform's derive statements; ``commit``. The
plan's shape is the same in every dialect; the dialect supplies the staging
and lock statements, the merge style and a session that executes steps.
Deltas stream (``deltas.py``): each bulk load reads its delta batch by batch, or
scans its Parquet files, so a day is never held whole in Arrow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from shopflow.warehouse import ddl
from shopflow.warehouse.arrow import audit_table
from shopflow.warehouse.deltas import Delta, DeltaInput, ParquetDelta, as_delta
from shopflow.warehouse.errors import DeltaError, WarehouseError
from shopflow.warehouse.merge import MergeStyle, Role, merge_statements
from shopflow.warehouse.names import column_list, delta, delta_name, ident, target
from shopflow.warehouse.results import AuditRow, LoadResult, TableLoad
from shopflow.warehouse.tables import LOAD_AUDIT, TABLES, TableSpec, Upkeep

__all__ = [
    "AuditRow",
    "Delta",
    "DeltaInput",
    "LoadContext",
    "LoadResult",
    "ParquetDelta",
    "Phase",
    "Step",
    "Warehouse",
    "WarehouseError",
]

Params = Sequence[Any] | Mapping[str, Any]
ALWAYS_MERGED = (Upkeep.REPLACE_PARTITION, Upkeep.APPEND_PER_RUN)


class Phase(Enum):
    """Where a step belongs; the load result sums seconds per phase."""

    ENSURE = "ensure"
    BEGIN = "begin"
    STAGE = "stage"
    LOCK = "lock"
    MERGE = "merge"
    DERIVE = "derive"
    COMMIT = "commit"


@dataclass(frozen=True)
class Step:
    """One statement of a plan. ``data`` names the delta whose rows the statement consumes."""

    phase: Phase
    purpose: str
    sql: str
    table: str | None = None
    role: Role | None = None
    data: str | None = None


@dataclass(frozen=True)
class LoadContext:
    """Identity of a load, for dialects that name things after it (Redshift's S3 keys)."""

    business_date: date
    run_id: str


def unique_keys_step(spec: TableSpec, fail: Callable[[str, str], str]) -> Step:
    """A stage step failing the load when ``delta_<table>`` repeats a key, for dialects whose
    merges would not: ``fail(repeated, message)`` is the dialect's statement that raises
    ``message`` when the query ``repeated`` returns a row. A grouping, which spills."""
    keys = column_list(list(spec.key))
    repeated = f"select 1 from {delta(spec)} group by {keys} having count(*) > 1"
    message = f"{delta_name(spec.name)} holds a key ({', '.join(spec.key)}) more than once"
    return Step(
        Phase.STAGE,
        f"checking the keys of {delta_name(spec.name)} are unique",
        fail(repeated, message),
    )


BEGIN = Step(Phase.BEGIN, "beginning the load transaction", "begin")
COMMIT = Step(Phase.COMMIT, "committing the load", "commit")
READ_ONLY = Step(Phase.BEGIN, "beginning a read-only transaction", "begin transaction read only")


class Session(Protocol):
    """An open connection of one dialect, for the duration of one load or query."""

    def run(self, step: Step, data: Delta | None) -> int:
        """Execute a step (bulk-loading ``data`` if given); the affected row count or -1."""
        ...

    def rollback(self) -> None:
        """Abandon the open transaction."""
        ...

    def fetch_arrow(self, sql: str, params: Params) -> pa.Table:
        """A query's rows as an Arrow table."""
        ...

    def fetch_one(self, sql: str, params: Params) -> tuple[Any, ...] | None:
        """A query's first row."""
        ...


class Warehouse(ABC):
    """Schema, loads, queries and checksums of the ``analytics`` schema in one database.

    Query parameters are written ``?`` (positional) or ``$name`` (named) in every dialect.
    """

    dialect: ClassVar[str]
    merge_style: ClassVar[MergeStyle]

    def __init__(self, conn_id: str | None = None) -> None:
        self._conn_id = conn_id

    # -- the interface -------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the schema and every table when missing (idempotent)."""
        with self._session() as session:
            self._execute(session, self._ensure_steps(), {}, None)

    def query_arrow(self, sql: str, params: Params = ()) -> pa.Table:
        """Rows of a query, as Arrow, in a read-only transaction."""
        table: pa.Table = self._read("running a query", lambda s: s.fetch_arrow(sql, params))
        return table

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """First column of the first row of a query (read-only), or None without rows."""
        row = self._read("running a query", lambda s: s.fetch_one(sql, params))
        return None if row is None else row[0]

    def within(self, *, memory_limit: str | None, scratch: Path | None) -> Warehouse:
        """This warehouse bounded for a load: an in-process engine's memory budget (a size
        such as ``1.5GB``) and the folder it spills to beyond it. A database server bounds
        itself, so by default the warehouse comes back unchanged."""
        return self

    def load_day(
        self,
        deltas: Mapping[str, DeltaInput],
        *,
        business_date: date,
        run_id: str,
        audit: Sequence[AuditRow],
        derive: Sequence[str] = (),
    ) -> LoadResult:
        """Merge one day's deltas and audit rows, then run ``derive``, in one transaction.

        Every table gets a ``delta_<table>`` temp table (empty when no delta is given)
        that ``derive`` may read. Tables without a delta are not merged, except
        ``quarantine`` (its partitions named by ``audit`` are cleared) and ``load_audit``.
        A delta is a ``pa.Table`` (conformed up front) or a ``ParquetDelta`` (files
        checked from their footers up front, read batch by batch while staging).
        Rolls back everything and raises WarehouseError on any failure.
        """
        started = time.perf_counter()
        staged = stage_inputs(deltas, audit, run_id=run_id, business_date=business_date)
        ctx = LoadContext(business_date, run_id)
        result = LoadResult(self.dialect, business_date, run_id)
        steps = self.plan_load(staged, ctx, derive)
        for step in steps:
            if step.phase is Phase.MERGE and step.table and step.table not in result.tables:
                given = staged.get(step.table)
                result.tables[step.table] = TableLoad(
                    step.table, staged=given.num_rows if given is not None else 0
                )
        self._before_load(staged, ctx, result)
        with self._session() as session:
            self._execute(session, steps, staged, result)
        result.add_seconds("total", time.perf_counter() - started)
        return result

    def dbapi_conn_id(self) -> str | None:
        """The Airflow connection id, for the common.sql check operators (None outside Airflow)."""
        return self._conn_id

    def checksum(self, table: str, exclude: Sequence[str] = ()) -> str:
        """Order-independent checksum of a table's content: equal data, equal checksum.

        Sums a 64-bit slice of each row's md5, so it is comparable within one dialect.
        """
        spec = _spec(table)
        unknown = set(exclude) - set(spec.column_names)
        if unknown:
            raise ValueError(f"{table} has no column(s) {sorted(unknown)}")
        columns = [c for c in spec.columns if c.name not in exclude]
        row = " || chr(31) || ".join(
            f"coalesce({self._as_text(ident(c.name), c.type)}, chr(30))" for c in columns
        )
        sql = f"select count(*), {self._hash_sum(row)} from {target(spec)}"
        found = self._read(f"checksumming {table}", lambda s: s.fetch_one(sql, ()))
        count, total = found if found else (0, 0)
        text = f"{table}|{','.join(c.name for c in columns)}|{count}|{int(total or 0)}"
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    def _read(self, purpose: str, fetch: Callable[[Session], Any]) -> Any:
        """``fetch`` on a fresh session inside a read-only transaction, rolled back after."""
        with self._session() as session:
            try:
                session.run(READ_ONLY, None)
                return fetch(session)
            except Exception as exc:
                raise WarehouseError.during(purpose, self.dialect, exc) from exc
            finally:
                _quietly(session.rollback)

    # -- the plan ------------------------------------------------------------------------

    def plan_load(
        self, given: Collection[str], ctx: LoadContext, derive: Sequence[str] = ()
    ) -> list[Step]:
        """Every step of a load whose deltas are ``given`` (table names), in order."""
        steps = [*self._ensure_steps(), BEGIN]
        for spec in TABLES.values():
            steps += self._stage_steps(spec, filled=spec.name in given, ctx=ctx)
        steps += self._lock_steps()
        for spec in TABLES.values():
            if spec.name in given or spec.upkeep in ALWAYS_MERGED:
                steps += [
                    Step(Phase.MERGE, m.purpose, m.sql, table=m.table, role=m.role)
                    for m in merge_statements(spec, self.merge_style)
                ]
        steps += [
            Step(Phase.DERIVE, f"running derive statement {i} of {len(derive)}{_label(sql)}", sql)
            for i, sql in enumerate(derive, 1)
        ]
        steps.append(COMMIT)
        return steps

    def _execute(
        self,
        session: Session,
        steps: Sequence[Step],
        staged: Mapping[str, Delta],
        result: LoadResult | None,
    ) -> None:
        """Run steps in order; on failure roll back the open transaction and raise."""
        in_transaction = False
        for step in steps:
            started = time.perf_counter()
            try:
                count = session.run(step, staged[step.data] if step.data else None)
            except BaseException as exc:
                if in_transaction:
                    _quietly(session.rollback)
                if not isinstance(exc, Exception):
                    raise
                raise WarehouseError.during(step.purpose, self.dialect, exc) from exc
            if step.sql in ("begin", "commit"):
                in_transaction = step.sql == "begin"
            if result is not None:
                _record(result, step, count, time.perf_counter() - started)

    # -- what each dialect supplies ------------------------------------------------------

    @abstractmethod
    def _session(self) -> AbstractContextManager[Session]:
        """A fresh connection, closed on exit (other processes may need the database)."""

    def _ensure_steps(self) -> list[Step]:
        """Schema DDL in its own transaction, by default."""
        ddl_steps = [
            Step(Phase.ENSURE, "creating the warehouse schema", sql)
            for sql in ddl.create_all(self.dialect)
        ]
        return [
            Step(Phase.ENSURE, "beginning the schema transaction", "begin"),
            *(dataclasses.replace(s, phase=Phase.ENSURE) for s in self._lock_steps()),
            *ddl_steps,
            Step(Phase.ENSURE, "committing the schema", "commit"),
        ]

    @abstractmethod
    def _stage_steps(self, spec: TableSpec, *, filled: bool, ctx: LoadContext) -> list[Step]:
        """Create ``delta_<table>`` with the table's columns and, when ``filled``, bulk-load it."""

    @abstractmethod
    def _lock_steps(self) -> list[Step]:
        """Statements that serialise loads inside the transaction (may be none)."""

    def _before_load(  # noqa: B027 - an optional hook, empty by default
        self, staged: Mapping[str, Delta], ctx: LoadContext, result: LoadResult
    ) -> None:
        """Work before the transaction opens (Redshift uploads its Parquet files)."""

    def _as_text(self, column: str, logical: str) -> str:
        """A column rendered as text, for checksums."""
        return f"cast({column} as varchar)"

    @abstractmethod
    def _hash_sum(self, row_text: str) -> str:
        """SQL summing a 64-bit number taken from md5(row_text) over all rows (0 when empty)."""


def stage_inputs(
    deltas: Mapping[str, DeltaInput],
    audit: Sequence[AuditRow],
    *,
    run_id: str,
    business_date: date,
) -> dict[str, Delta]:
    """The load's deltas, validated (files: from their footers), with the audit rows as
    ``load_audit``."""
    if LOAD_AUDIT.name in deltas:
        raise DeltaError("load_audit rows come through audit=, not as a delta")
    staged = {name: as_delta(_spec(name), given) for name, given in deltas.items()}
    rows = audit_table(audit, run_id=run_id, business_date=business_date)
    staged[LOAD_AUDIT.name] = Delta.from_table(LOAD_AUDIT, rows)
    return staged


def _spec(table: str) -> TableSpec:
    try:
        return TABLES[table]
    except KeyError:
        raise DeltaError(f"no warehouse table {table!r}; known: {sorted(TABLES)}") from None


def _label(sql: str) -> str:
    """`` (name)`` from a leading ``-- name`` comment line, for error messages."""
    first = sql.lstrip().split("\n", 1)[0]
    return f" ({first[2:].strip()[:80]})" if first.startswith("--") else ""


def _record(result: LoadResult, step: Step, count: int, seconds: float) -> None:
    result.add_seconds(step.phase.value, seconds)
    load = result.tables.get(step.table) if step.table else None
    if load is None or step.role is None:
        return
    load.seconds += seconds
    if step.role is Role.REPLACED:
        load.updated += count
        load.inserted -= count
    elif step.role is Role.INSERTED:
        load.inserted += count
    elif step.role is Role.DEACTIVATED:
        load.deactivated += count
    else:
        load.deleted += count


def _quietly(action: Callable[[], None]) -> None:
    """Run ``action``, ignoring its failure: the original error is the one worth raising."""
    with contextlib.suppress(Exception):
        action()
