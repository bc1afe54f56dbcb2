"""CREATE statements for every warehouse table, in each dialect, from ``tables.py``."""

from __future__ import annotations

import re

from shopflow.warehouse.tables import SCHEMA, TABLES, TableSpec

DIALECTS = ("duckdb", "postgres", "redshift")

_TYPES = {
    "duckdb": {"bigint": "bigint", "int": "integer", "text": "varchar", "bool": "boolean",
               "date": "date", "timestamp": "timestamp"},
    "postgres": {"bigint": "bigint", "int": "integer", "text": "text", "bool": "boolean",
                 "date": "date", "timestamp": "timestamp"},
    "redshift": {"bigint": "bigint", "int": "integer", "text": "varchar(65535)",
                 "bool": "boolean", "date": "date", "timestamp": "timestamp"},
}  # fmt: skip
_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")


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
    if spec.key and dialect != "redshift":
        cols.append(f"primary key ({', '.join(spec.key)})")
    body = ",\n    ".join(cols)
    sql = f"create table if not exists {spec.qualified} (\n    {body}\n)"
    if dialect == "redshift":
        dist = f"distkey ({spec.distkey})" if spec.distkey else "diststyle even"
        sort = f" compound sortkey ({', '.join(spec.sortkey)})" if spec.sortkey else ""
        sql += f"\n{dist}{sort}"
    return sql


def create_all(dialect: str) -> list[str]:
    """The schema and every table, in dependency-free order."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    return [f"create schema if not exists {SCHEMA}"] + [
        create_table(spec, dialect) for spec in TABLES.values()
    ]
