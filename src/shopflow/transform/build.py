"""Run the transform models over one day's staging; list the derive statements.

``transform_day`` is a pure function of its inputs (apart from the audit clock): in an
in-memory DuckDB (spilling to a scratch folder) it reads the staged Parquet files through
views, or copies a table chunk by chunk where it must pass through Python first (emails to
hash, a cast to make, tables given in memory); it creates every model of
``models/{staging,intermediate,marts}/*.sql`` in dependency order (found from the tables
each model reads; views or tables, see ``Model``) and returns the deltas;
``transform_day_into`` streams them to a staging writer instead, batch by batch.
Emails are hashed before DuckDB sees them. DuckDB runs within ``memory_limit`` and spills
to the scratch folder beyond it, so memory stays bounded whatever the day's size. The
layout and conventions: ``models/README.md``.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from shopflow.errors import ShopflowError
from shopflow.sources.result import ReconciliationError
from shopflow.transform.deltas import DELTA_MODELS, DELTA_SOURCES, Deltas
from shopflow.transform.hashing import replace_email
from shopflow.transform.inputs import INPUTS, SOURCES, ParquetScan, StagedDay, input_name
from shopflow.warehouse.arrow import arrow_schema
from shopflow.warehouse.duckdb import scannable
from shopflow.warehouse.results import AuditRow
from shopflow.warehouse.tables import TABLES

if TYPE_CHECKING:
    from shopflow.staging.writer import PartitionWriter

_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
LAYERS: dict[str, tuple[str, ...]] = {
    "staging": ("stg_",),
    "intermediate": ("int_",),
    "marts": ("dim_", "fct_"),
}
"""Model folder -> the name prefixes of its models, in build order: a model reads only
models of its own layer or an earlier one."""
_VIEW = re.compile(r"^-- materialized: view$", re.MULTILINE)
_DERIVE_NAME = re.compile(r"^[0-9]{2}_[a-z0-9_]+$")
_HASHED = {("sales", "customers"), ("interactions", "interactions")}
_ORDER = {"quarantine": ("source", "record_key", "reason", "raw")}
MEMORY_LIMIT = "1.5GB"
"""DuckDB's default budget (``memory_limit``); beyond it, it spills to the scratch folder."""
BATCH_ROWS = 131_072
"""Rows per delta batch fetched from DuckDB."""


class TransformError(ShopflowError):
    """The transform models or their output are inconsistent."""


@dataclass(frozen=True)
class Model:
    """One ``models/<layer>/<name>.sql`` file and the models it reads.

    ``view``: created as a view, not a table. The delta models are views (read once) and
    so is a model whose file has the line ``-- materialized: view``.
    """

    name: str
    layer: str
    sql: str
    depends_on: frozenset[str]
    view: bool = False


def _folder(*parts: str) -> Traversable:
    return resources.files("shopflow.transform").joinpath(*parts)


def _sql_files(folder: str, pattern: re.Pattern[str]) -> dict[str, str]:
    """Name -> text of the ``*.sql`` files of ``folder`` (a path below the package)."""
    files = {}
    for item in _folder(*folder.split("/")).iterdir():
        if item.name.endswith(".sql"):
            name = item.name.removesuffix(".sql")
            if not pattern.match(name):
                raise TransformError(f"{folder}/{item.name}: name does not match {pattern.pattern}")
            files[name] = item.read_text(encoding="utf-8")
    return files


def _reads(sql: str) -> set[str]:
    """Names of the tables a query reads, CTEs excluded."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table)} - ctes


def _model_files() -> dict[str, tuple[str, str]]:
    """Model name -> (layer, SQL), from the layer folders; names are unique across them."""
    files: list[tuple[str, str, str]] = []
    for item in _folder("models").iterdir():
        if item.name.endswith(".sql"):
            raise TransformError(f"models/{item.name}: a model belongs in a layer folder")
        if not item.is_dir():
            continue  # README.md
        if item.name not in LAYERS:
            raise TransformError(f"models/{item.name}/: not a layer folder ({', '.join(LAYERS)})")
        files += [
            (item.name, n, s) for n, s in _sql_files(f"models/{item.name}", _MODEL_NAME).items()
        ]
    found: dict[str, tuple[str, str]] = {}
    for layer, name, sql in sorted(files, key=lambda f: list(LAYERS).index(f[0])):
        if name in found:
            raise TransformError(f"model {name} is in models/{found[name][0]}/ and models/{layer}/")
        found[name] = (layer, sql)
    for name, (layer, _) in found.items():
        if not name.startswith(LAYERS[layer]):
            prefixes = " or ".join(LAYERS[layer])
            raise TransformError(f"models/{layer}/{name}.sql: name must start {prefixes}")
    return found


def _check(found: dict[str, Model]) -> None:
    """Models read only their own or earlier layers; every delta has its mart."""
    rank = list(LAYERS).index
    for model in found.values():
        later = sorted(d for d in model.depends_on if rank(found[d].layer) > rank(model.layer))
        if later:
            raise TransformError(f"{model.layer} model {model.name} reads later models {later}")
    for table, name in DELTA_MODELS.items():
        if name not in found or found[name].layer != "marts":
            raise TransformError(f"delta {table}: no mart model models/marts/{name}.sql")


@functools.cache
def models() -> tuple[Model, ...]:
    """Every model, each after the models it reads (layer by layer where that allows)."""
    files = _model_files()
    deltas = set(DELTA_MODELS.values())
    found = {
        name: Model(
            name,
            layer,
            sql,
            frozenset(_reads(sql) & files.keys()),
            view=name in deltas or _VIEW.search(sql) is not None,
        )
        for name, (layer, sql) in files.items()
    }
    _check(found)
    rank = list(LAYERS).index
    ordered: list[Model] = []
    done: set[str] = set()
    while len(ordered) < len(found):
        ready = sorted(
            (n for n, m in found.items() if n not in done and m.depends_on <= done),
            key=lambda n: (rank(found[n].layer), n),
        )
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


def _connect(scratch: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB bounded by memory_limit, spilling into scratch beyond it.

    In memory, not a database file: a day that fits runs at memory speed (a file
    database writes every model table to disk), one that does not spills to scratch.
    """
    con = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(scratch / "spill"),
            "preserve_insertion_order": False,  # every delta is fetched with an order by
        },
    )
    con.execute("set TimeZone = 'UTC'")
    return con


def _load_inputs(
    con: duckdb.DuckDBPyConnection,
    inputs: StagedDay,
    business_date: date,
    run_id: str,
    hash_key: str,
    cache_dir: Path,
) -> None:
    """Every input as a DuckDB view over its staged files (``_scan_view``) or, when that
    cannot be (emails to hash, a cast to make, tables in memory), copied into a table chunk
    by chunk, emails hashed on the way."""
    for source, table in INPUTS:
        name = input_name(source, table)
        scan = None if (source, table) in _HASHED else inputs.scan(source, table, cache_dir)
        if scan is not None and _scan_view(con, name, scan):
            continue
        statement = f"create table {name} as select * from chunk"
        for chunk in inputs.chunks(source, table, cache_dir):
            data = replace_email(chunk, hash_key) if (source, table) in _HASHED else chunk
            con.register("chunk", data)
            try:
                con.execute(statement)
            finally:
                con.unregister("chunk")
            statement = f"insert into {name} select * from chunk"
    context = pa.table(
        {"business_date": pa.array([business_date], pa.date32()), "run_id": [run_id]}
    )
    con.register("run_context", context)


def _scan_view(con: duckdb.DuckDBPyConnection, name: str, scan: ParquetScan) -> bool:
    """Create view ``name`` over a table's staged files, conformed in SQL; False (and no
    view) when DuckDB types a column otherwise than ``conform`` would. The staging model
    of the table reads the files, in parallel, instead of a copy of them."""
    files = scannable(scan.paths)
    if files is None:
        return False
    con.read_parquet(files).project(", ".join(scan.select)).create_view(name, replace=False)
    con.register("conformed", scan.conformed.empty_table())
    try:
        expected = con.execute("describe conformed").fetchall()
    finally:
        con.unregister("conformed")
    if [row[:2] for row in con.execute(f"describe {name}").fetchall()] == [r[:2] for r in expected]:
        return True
    con.execute(f"drop view {name}")
    return False


def _batches(con: duckdb.DuckDBPyConnection, name: str) -> Iterator[pa.RecordBatch]:
    """The delta of warehouse table ``name``, read from its mart model, batch by batch."""
    spec = TABLES[name]
    schema = arrow_schema(spec)
    order = ", ".join(_ORDER.get(name, spec.key))
    query = f"select {', '.join(spec.column_names)} from {DELTA_MODELS[name]} order by {order}"
    for batch in con.sql(query).fetch_record_batch(BATCH_ROWS):
        columns = [batch.column(f.name).cast(f.type) for f in schema]
        result = pa.RecordBatch.from_arrays(columns, schema=schema)
        for f in schema:
            if not f.nullable and result.column(f.name).null_count:
                raise TransformError(f"{name}.{f.name}: the transform produced nulls")
        yield result


def delta_names(sources: Iterable[str]) -> list[str]:
    """The deltas a day with these staged sources feeds (see ``Deltas.tables``)."""
    staged = set(sources)
    return [name for name, src in DELTA_SOURCES.items() if src is None or src in staged]


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


DeltaSink = Callable[[str, Iterator[pa.RecordBatch]], None]
"""Takes a delta's name and its batches (exactly the warehouse columns, in key order)."""


def _transform(
    inputs: StagedDay,
    sink: DeltaSink,
    names: Iterable[str],
    *,
    business_date: date,
    run_id: str,
    hash_key: str,
    started_at: datetime | None,
    memory_limit: str,
    work_dir: Path | None,
) -> list[AuditRow]:
    """Build the models over inputs, hand each named delta to sink; the audit rows."""
    if not hash_key:
        raise TransformError("the email hash key is empty; configure it before transforming")
    started = started_at or _now()
    with (
        tempfile.TemporaryDirectory(prefix="shopflow-transform-", dir=work_dir) as folder,
        _connect(Path(folder), memory_limit) as con,
    ):
        _load_inputs(con, inputs, business_date, run_id, hash_key, Path(folder) / "cache")
        for model in models():
            kind = "view" if model.view else "table"
            try:
                con.execute(f"create {kind} {model.name} as\n{model.sql}")
            except duckdb.Error as exc:
                first = (str(exc).strip().splitlines() or [""])[0]
                raise TransformError(f"transform model {model.name} failed: {first}") from exc
        for name in names:
            sink(name, _batches(con, name))
        dropped = con.execute(
            "select source, rows_duplicate, rows_quarantined from int_source_counts"
        ).fetchall()
    return _audit(inputs, dropped, business_date, started, _now())


def transform_day(
    inputs: StagedDay,
    *,
    business_date: date,
    run_id: str,
    hash_key: str,
    started_at: datetime | None = None,
    memory_limit: str = MEMORY_LIMIT,
    work_dir: Path | None = None,
) -> Deltas:
    """One day's staging -> deltas of every table the day feeds, plus audit rows, in memory.

    ``started_at`` (naive UTC) defaults to now; ``finished_at`` is taken at the end.
    ``work_dir`` holds the scratch folder (default: the system's temporary folder).
    """
    tables: dict[str, pa.Table] = {}

    def collect(name: str, batches: Iterator[pa.RecordBatch]) -> None:
        tables[name] = pa.Table.from_batches(list(batches), schema=arrow_schema(TABLES[name]))

    audit = _transform(
        inputs, collect, DELTA_SOURCES, business_date=business_date, run_id=run_id,
        hash_key=hash_key, started_at=started_at, memory_limit=memory_limit, work_dir=work_dir,
    )  # fmt: skip
    staged = tuple(s for s in SOURCES if s in inputs.sources)
    return Deltas(**tables, audit=audit, sources=staged)


def transform_day_into(
    inputs: StagedDay,
    writer: PartitionWriter,
    *,
    business_date: date,
    run_id: str,
    hash_key: str,
    memory_limit: str = MEMORY_LIMIT,
    work_dir: Path | None = None,
) -> tuple[dict[str, int], list[AuditRow]]:
    """``transform_day`` streamed: each delta the day feeds goes to writer batch by batch;
    returns (rows per delta, audit rows)."""

    def write(name: str, batches: Iterator[pa.RecordBatch]) -> None:
        writer.declare(name, arrow_schema(TABLES[name]))
        writer.write_batches(name, batches)

    names = delta_names(s for s in SOURCES if s in inputs.sources)
    audit = _transform(
        inputs, write, names, business_date=business_date, run_id=run_id, hash_key=hash_key,
        started_at=None, memory_limit=memory_limit, work_dir=work_dir,
    )  # fmt: skip
    return {name: writer.rows(name) for name in names}, audit
