"""S1 writer: the sales database, MySQL/MariaDB through pymysql or a SQLite file.

Rows go in as batched multi-row upserts: for MySQL the VALUES lists are built
vectorised from Arrow (pymysql's per-value escaping in Python is the bottleneck
otherwise), for SQLite sqlite3's executemany. A day is one transaction. Upserts keep
the newest updated_at, so days can come in any order.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pymysql

from shopflow.errors import ShopflowError
from shopflow_local.devstack.generator.config import GeneratorConfig, day_index
from shopflow_local.devstack.generator.customers import base_customers
from shopflow_local.devstack.generator.ids import ORDER_BLOCK, sql_datetime

SQL_DIR = Path(__file__).parents[2] / "sql"
TABLES = ("customers", "orders", "order_items", "fx_rates")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")
MYSQL_STATEMENT_BYTES = 4_000_000
"""Size of the multi-row statements sent to MySQL (MariaDB's default packet is 16 MB)."""
UPSERT_ROWS = 50_000
"""Rows converted to Python tuples or SQL text at a time: bounds the writer's memory."""


@dataclass(frozen=True)
class SalesUrl:
    """Where S1 lives: ``sqlite:///abs/path.sqlite`` or ``mysql://user[:pw]@host:port/db``."""

    dialect: Literal["sqlite", "mysql"]
    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    database: str = "shop"

    @classmethod
    def parse(cls, url: str) -> SalesUrl:
        """Parse a sales URL, rejecting anything else with a clear message."""
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            path = unquote(url[len("sqlite://") :])
            if not path or path == "/":
                raise ShopflowError(f"sqlite URL needs a file path: {url}")
            return cls("sqlite", path=Path(path))
        if parts.scheme in {"mysql", "mariadb", "mysql+pymysql"}:
            database = parts.path.lstrip("/") or "shop"
            if not _IDENTIFIER.match(database):
                raise ShopflowError(f"database name must be letters, digits, _: {database!r}")
            return cls(
                "mysql",
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 3306,
                user=unquote(parts.username or "root"),
                password=unquote(parts.password or ""),
                database=database,
            )
        raise ShopflowError(f"sales URL must start with sqlite:/// or mysql://, got {url!r}")


def named_statements(path: Path) -> dict[str, str]:
    """Statements of a .sql file, keyed by the ``-- name: X`` line before each."""
    statements: dict[str, str] = {}
    name = None
    for line in path.read_text().splitlines():
        if line.startswith("-- name:"):
            name = line.split(":", 1)[1].strip()
            statements[name] = ""
        elif name is not None and not line.startswith("--"):
            statements[name] += line + "\n"
    return {key: text.strip().rstrip(";").strip() for key, text in statements.items()}


def script_statements(path: Path) -> list[str]:
    """The ;-separated statements of a DDL script, comments dropped."""
    text = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


class SalesDb:
    """An open connection to S1 with the generator's upserts."""

    def __init__(self, url: SalesUrl, conn: Any) -> None:
        self.url = url
        self.conn = conn
        self.upserts = named_statements(SQL_DIR / f"sales_upserts_{url.dialect}.sql")

    def execute_script(self, path: Path) -> None:
        """Run every statement of a DDL script."""
        cur = self.conn.cursor()
        for statement in script_statements(path):
            cur.execute(statement)
        self.conn.commit()

    def upsert(self, table: str, data: pa.Table) -> int:
        """Upsert the rows of an Arrow table into ``table``, UPSERT_ROWS at a time (the
        Python rows or SQL text of one slice only); the number of rows sent."""
        cur = self.conn.cursor()
        if self.url.dialect == "mysql":
            cur.max_stmt_length = MYSQL_STATEMENT_BYTES
        for start in range(0, data.num_rows, UPSERT_ROWS):
            part = data.slice(start, UPSERT_ROWS)
            statements = None
            if self.url.dialect == "mysql":
                statements = mysql_statements(self.upserts[table], part)
            if statements is None:
                cur.executemany(self.upserts[table], sql_rows(part))
            for statement in statements or ():
                cur.execute(statement)
        return data.num_rows

    def generated_days(self) -> list[date]:
        """Days whose rows are in the database (their USD fx row is)."""
        cur = self.conn.cursor()
        cur.execute(self.upserts["generated_days"])
        return [d if isinstance(d, date) else date.fromisoformat(d) for (d,) in cur.fetchall()]

    def count(self, table: str, where: str = "") -> int:
        """Rows of one of TABLES (an optional fixed condition)."""
        if table not in TABLES:
            raise ShopflowError(f"unknown sales table {table!r}")
        cur = self.conn.cursor()
        cur.execute(f"select count(*) from {table} {where}")
        return int(cur.fetchone()[0])

    def commit(self) -> None:
        """Commit the open transaction."""
        self.conn.commit()


@contextmanager
def open_sales(url: str, *, create: bool = False) -> Iterator[SalesDb]:
    """A connection to S1; ``create`` makes the MySQL database or SQLite file if missing."""
    parsed = SalesUrl.parse(url)
    conn: Any
    if parsed.dialect == "sqlite":
        assert parsed.path is not None
        if not create and not parsed.path.exists():
            raise ShopflowError(f"no sales database at {parsed.path}; run prepare first")
        parsed.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(parsed.path)
    else:
        if create:
            _create_mysql_database(parsed)
        conn = _mysql_connect(parsed, parsed.database)
    try:
        yield SalesDb(parsed, conn)
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def _mysql_connect(url: SalesUrl, database: str | None) -> pymysql.Connection[Any]:
    try:
        return pymysql.connect(
            host=url.host,
            port=url.port,
            user=url.user,
            password=url.password,
            database=database,
            charset="utf8mb4",
            autocommit=False,
        )
    except pymysql.err.OperationalError as exc:
        raise ShopflowError(
            f"cannot connect to MySQL at {url.host}:{url.port} as {url.user}: {exc.args[-1]}"
        ) from None


def _create_mysql_database(url: SalesUrl) -> None:
    conn = _mysql_connect(url, None)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"create database if not exists `{url.database}` "
                "character set utf8mb4 collate utf8mb4_unicode_ci"
            )
    finally:
        conn.close()


def sql_rows(data: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as tuples of str/int/None: timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff',
    decimals and dates as their exact text."""
    columns: list[Sequence[Any]] = []
    for column in data.columns:
        kind = column.type
        if pa.types.is_timestamp(kind):
            us = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
            text = sql_datetime(np.asarray(us, dtype=np.int64))
            columns.append(pc.if_else(column.is_valid(), text, None).to_pylist())
        elif pa.types.is_decimal(kind) or pa.types.is_date(kind):
            columns.append(column.cast(pa.string()).to_pylist())
        else:
            columns.append(column.to_pylist())
    return list(zip(*columns, strict=True))


_VALUES = re.compile(r"^(.*\bvalues\s*)\((?:\s*%s\s*,?)+\)(.*)$", re.IGNORECASE | re.DOTALL)
_UNSAFE = r"[\\\x00-\x1f\x7f]"
"""Characters the vectorised MySQL literals do not escape (strings with them go the slow way)."""


def mysql_statements(upsert: str, data: pa.Table) -> list[str] | None:
    """The upsert as multi-row statements of at most MYSQL_STATEMENT_BYTES with the
    rows' literals inlined, built vectorised; None when a string needs escapes beyond
    doubled quotes (then the caller lets pymysql escape)."""
    match = _VALUES.match(upsert)
    if match is None:
        raise ShopflowError(f"not a single-row VALUES upsert: {upsert[:60]}...")
    head, tail = match.group(1), match.group(2)
    literals = [_mysql_literals(column) for column in data.columns]
    if any(lit is None for lit in literals):
        return None
    rows = pc.binary_join_element_wise("(", pc.binary_join_element_wise(*literals, ","), ")", "")
    sizes = np.cumsum(pc.binary_length(rows).to_numpy(zero_copy_only=False) + 1)
    statements = []
    start = 0
    while start < len(sizes):
        base = sizes[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(sizes, base + MYSQL_STATEMENT_BYTES)))
        statements.append(head + ",".join(rows.slice(start, stop - start).to_pylist()) + tail)
        start = stop
    return statements


def _mysql_literals(column: pa.ChunkedArray) -> pa.Array | None:
    """The SQL literal of each value (NULL for nulls); None if a string needs escapes
    beyond doubled quotes."""
    kind = column.type
    values = column.combine_chunks()
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        text = values.cast(pa.string())
    elif pa.types.is_boolean(kind):
        text = values.cast(pa.int8()).cast(pa.string())
    else:
        if pa.types.is_timestamp(kind):
            us = values.cast(pa.int64()).to_numpy(zero_copy_only=False)
            text = pc.if_else(values.is_valid(), sql_datetime(np.asarray(us, np.int64)), None)
        else:
            text = values.cast(pa.string())
        if pc.any(pc.match_substring_regex(text, _UNSAFE)).as_py():
            return None
        text = pc.binary_join_element_wise("'", pc.replace_substring(text, "'", "''"), "'", "")
    return pc.fill_null(text, "NULL")


def prepare_sales(url: str, cfg: GeneratorConfig) -> int:
    """Create the schema and write the base customers unless all are there; rows written."""
    dialect = SalesUrl.parse(url).dialect
    size = cfg.volumes.base_customers
    with open_sales(url, create=True) as db:
        db.execute_script(SQL_DIR / f"sales_schema_{dialect}.sql")
        if db.count("customers", f"where customer_id between 1 and {size}") == size:
            return 0
        written = db.upsert("customers", base_customers(cfg))
        db.commit()
        return written


def write_sales(url: str, day: date, tables: dict[str, pa.Table]) -> dict[str, int]:
    """Upsert day D's S1 tables in one transaction; rows sent per table.

    Items of orders placed before D (their status changed on D) are sent only when
    their placing day is not in the database yet: items never change, so the final
    state is the same, and an order never exists without its items.
    """
    with open_sales(url) as db:
        items = tables["order_items"]
        placed_on = items.column("order_id").to_numpy() // ORDER_BLOCK - 1
        present = [day_index(d) for d in db.generated_days()]
        needed = (placed_on == day_index(day)) | ~np.isin(placed_on, present)
        tables = {**tables, "order_items": items.filter(pa.array(needed))}
        sent = {name: db.upsert(name, tables[name]) for name in TABLES if name in tables}
        db.commit()
    return sent


def sales_counts(url: str) -> dict[str, int]:
    """Rows per S1 table now."""
    with open_sales(url) as db:
        return {name: db.count(name) for name in TABLES}
