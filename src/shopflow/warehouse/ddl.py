"""CREATE statements for every warehouse table, in each dialect, from ``tables.py``."""

from __future__ import annotations

import re

from shopflow.warehouse.tables import SCHEMA, TABLES, Index, TableSpec

DIALECTS = ("duckdb", "postgres", "redshift")

# Postgres text compares bytewise (collation "C"), as Redshift's default collation
# does: the keys are ASCII ids, and their sorts and B-trees then need no locale rules
# (sorting a day's click events by session_id took 2.3x as long in C.UTF-8).
_TYPES = {
    "duckdb": {"bigint": "bigint", "int": "integer", "text": "varchar", "bool": "boolean",
               "date": "date", "timestamp": "timestamp"},
    "postgres": {"bigint": "bigint", "int": "integer", "text": 'text collate "C"',
                 "bool": "boolean", "date": "date", "timestamp": "timestamp"},
    "redshift": {"bigint": "bigint", "int": "integer", "text": "varchar(65535)",
                 "bool": "boolean", "date": "date", "timestamp": "timestamp"},
}  # fmt: skip
_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")
ENFORCED_KEYS = ("postgres",)
"""Dialects whose tables declare their primary key. Redshift would not enforce one.
DuckDB keeps a key's index in memory for a whole transaction and never spills it
(10 M click events outgrow any budget), so it checks each delta's keys instead
(duckdb.py); the merges keep keys unique given unique deltas (ADR 0004)."""


def column_type(logical: str, dialect: str) -> str:
    """The dialect's type for a logical type of tables.py."""
    if _DECIMAL.fullmatch(logical):
        return logical.replace(",", ", ")
    return _TYPES[dialect][logical]


def create_table(spec: TableSpec, dialect: str) -> str:
    """CREATE TABLE IF NOT EXISTS for spec, with Redshift's DISTKEY/SORTKEY where declared."""
    cols = [
        f"{c.name} {column_type(c.type, dialect)}{'' if c.nullable else ' not null'}"
        for c in spec.columns
    ]
    if spec.key and dialect in ENFORCED_KEYS:
        cols.append(f"primary key ({', '.join(spec.key)})")
    body = ",\n    ".join(cols)
    sql = f"create table if not exists {spec.qualified} (\n    {body}\n)"
    if dialect == "redshift":
        dist = f"distkey ({spec.distkey})" if spec.distkey else "diststyle even"
        sort = f" compound sortkey ({', '.join(spec.sortkey)})" if spec.sortkey else ""
        sql += f"\n{dist}{sort}"
    return sql


def index_name(spec: TableSpec, index: Index) -> str:
    """``<table>_<columns>_idx``, within 63 bytes."""
    name = f"{spec.name}_{'_'.join(index.columns)}_idx"
    if len(name) > 63:
        raise ValueError(f"index name {name!r} is longer than 63 bytes")
    return name


def create_indexes(spec: TableSpec, dialect: str) -> list[str]:
    """CREATE INDEX IF NOT EXISTS for spec's secondary indexes (Postgres only)."""
    if dialect != "postgres":
        return []
    unknown = {c for i in spec.indexes for c in i.columns} - set(spec.column_names)
    if unknown:
        raise ValueError(f"{spec.name} has no column(s) {sorted(unknown)} to index")
    return [
        f"create index if not exists {index_name(spec, i)} on {spec.qualified} "
        f"({', '.join(i.columns)})"
        for i in spec.indexes
    ]


def create_all(dialect: str) -> list[str]:
    """The schema, every table and its indexes, in dependency-free order."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    statements = [f"create schema if not exists {SCHEMA}"]
    for spec in TABLES.values():
        statements += [create_table(spec, dialect), *create_indexes(spec, dialect)]
    return statements
