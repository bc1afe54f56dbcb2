"""Run the transform models over one day's staging; list the derive statements.

``transform_day`` is a pure function of its inputs (apart from the audit clock): it
registers the staged Arrow tables in an in-memory DuckDB, creates every model of
``models/*.sql`` in dependency order (found from the tables each model reads; the
delta models as views, read once, the others as tables) and returns the deltas.
Emails are hashed before DuckDB sees them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from shopflow.errors import ShopflowError
from shopflow.sources.result import ReconciliationError
from shopflow.transform.deltas import DELTA_SOURCES, Deltas
from shopflow.transform.hashing import replace_email
from shopflow.transform.inputs import INPUTS, SOURCES, StagedDay, input_name
from shopflow.warehouse.arrow import arrow_schema
from shopflow.warehouse.results import AuditRow
from shopflow.warehouse.tables import TABLES

_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DERIVE_NAME = re.compile(r"^[0-9]{2}_[a-z0-9_]+$")
_HASHED = {("sales", "customers"), ("interactions", "interactions")}
_ORDER = {"quarantine": ("source", "record_key", "reason", "raw")}


class TransformError(ShopflowError):
    """The transform models or their output are inconsistent."""


@dataclass(frozen=True)
class Model:
    """One ``models/<name>.sql`` file and the models it reads."""

    name: str
    sql: str
    depends_on: frozenset[str]


def _sql_files(package: str, pattern: re.Pattern[str]) -> dict[str, str]:
    root = resources.files("shopflow.transform").joinpath(package)
    files = {}
    for item in root.iterdir():
        if item.name.endswith(".sql"):
            name = item.name.removesuffix(".sql")
            if not pattern.match(name):
                raise TransformError(
                    f"{package}/{item.name}: name does not match {pattern.pattern}"
                )
            files[name] = item.read_text(encoding="utf-8")
    return files


def _reads(sql: str) -> set[str]:
    """Names of the tables a query reads, CTEs excluded."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table)} - ctes


@functools.cache
def models() -> tuple[Model, ...]:
    """Every model, each after the models it reads."""
    files = _sql_files("models", _MODEL_NAME)
    found = {
        name: Model(name, sql, frozenset(_reads(sql) & files.keys())) for name, sql in files.items()
    }
    ordered: list[Model] = []
    done: set[str] = set()
    while len(ordered) < len(found):
        ready = sorted(n for n, m in found.items() if n not in done and m.depends_on <= done)
        if not ready:
            raise TransformError(f"models form a cycle: {sorted(found.keys() - done)}")
        ordered.extend(found[n] for n in ready)
        done.update(ready)
    return tuple(ordered)


def derive_statements() -> list[str]:
    """The derive files in name order, comments stripped, split into single statements."""
    files = _sql_files("derive", _DERIVE_NAME)
    return [stmt for name in sorted(files) for stmt in split_statements(files[name])]


def split_statements(text: str) -> list[str]:
    """Split SQL text on semicolons outside quotes; drop comments and empty statements."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            end = i + 1
            while end < n:
                if text[end] == ch:
                    if end + 1 < n and text[end + 1] == ch:  # doubled quote
                        end += 2
                        continue
                    break
                end += 1
            current.append(text[i : end + 1])
            i = end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            current.append(" ")
        elif ch == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(ch)
            i += 1
    statements.append("".join(current))
    cleaned = ("\n".join(line.rstrip() for line in s.strip().splitlines()) for s in statements)
    return [s for s in cleaned if s]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _register(
    con: duckdb.DuckDBPyConnection,
    inputs: StagedDay,
    business_date: date,
    run_id: str,
    hash_key: str,
) -> None:
    for source, table in INPUTS:
        data = inputs.table(source, table)
        if (source, table) in _HASHED:
            data = replace_email(data, hash_key)
        con.register(input_name(source, table), data)
    context = pa.table(
        {"business_date": pa.array([business_date], pa.date32()), "run_id": [run_id]}
    )
    con.register("run_context", context)


def _fetch(con: duckdb.DuckDBPyConnection, name: str) -> pa.Table:
    spec = TABLES[name]
    schema = arrow_schema(spec)
    order = ", ".join(_ORDER.get(name, spec.key))
    query = f"select {', '.join(spec.column_names)} from {name} order by {order}"
    table = con.sql(query).to_arrow_table()
    columns = [table.column(f.name).cast(f.type) for f in schema]
    result = pa.Table.from_arrays(columns, schema=schema)
    for f in schema:
        if not f.nullable and result.column(f.name).null_count:
            raise TransformError(f"{name}.{f.name}: the transform produced nulls")
    return result


def _audit(
    inputs: StagedDay,
    dropped: Iterable[tuple[str, int, int]],
    business_date: date,
    started_at: datetime,
    finished_at: datetime,
) -> list[AuditRow]:
    """Extract counts plus what the transform dropped; rule 9 must still hold."""
    extra = {source: (int(dup), int(quar)) for source, dup, quar in dropped}
    rows = []
    for source in SOURCES:
        if source not in inputs.sources:
            continue
        counts = inputs.sources[source].extract_counts()
        duplicate, quarantined = extra.get(source, (0, 0))
        row = AuditRow(
            source=source,
            rows_in=counts["rows_in"],
            rows_loaded=counts["rows_loaded"] - duplicate - quarantined,
            rows_duplicate=counts["rows_duplicate"] + duplicate,
            rows_quarantined=counts["rows_quarantined"] + quarantined,
            started_at=started_at,
            finished_at=finished_at,
        )
        accounted = row.rows_loaded + row.rows_duplicate + row.rows_quarantined
        if row.rows_loaded < 0 or row.rows_in != accounted:
            raise ReconciliationError(
                f"{source} on {business_date}: rows_in {row.rows_in} != loaded "
                f"{row.rows_loaded} + duplicate {row.rows_duplicate} + quarantined "
                f"{row.rows_quarantined}"
            )
        rows.append(row)
    return rows


def transform_day(
    inputs: StagedDay,
    *,
    business_date: date,
    run_id: str,
    hash_key: str,
    started_at: datetime | None = None,
) -> Deltas:
    """One day's staging -> deltas of every table the day feeds, plus audit rows.

    ``started_at`` (naive UTC) defaults to now; ``finished_at`` is taken at the end.
    """
    if not hash_key:
        raise TransformError("the email hash key is empty; configure it before transforming")
    started = started_at or _now()
    with duckdb.connect(":memory:") as con:
        con.execute("set TimeZone = 'UTC'")
        _register(con, inputs, business_date, run_id, hash_key)
        for model in models():
            kind = "view" if model.name in DELTA_SOURCES else "table"  # deltas: read once
            try:
                con.execute(f"create {kind} {model.name} as\n{model.sql}")
            except duckdb.Error as exc:
                first = (str(exc).strip().splitlines() or [""])[0]
                raise TransformError(f"transform model {model.name} failed: {first}") from exc
        tables = {name: _fetch(con, name) for name in DELTA_SOURCES}
        dropped = con.execute(
            "select source, rows_duplicate, rows_quarantined from int_source_counts"
        ).fetchall()
    audit = _audit(inputs, dropped, business_date, started, _now())
    staged = tuple(s for s in SOURCES if s in inputs.sources)
    return Deltas(**tables, audit=audit, sources=staged)
