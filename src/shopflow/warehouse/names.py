"""Identifiers of the warehouse: validated, then quoted. Shared by every dialect."""

from __future__ import annotations

import re

from shopflow.warehouse.tables import SCHEMA, TableSpec

DELTA_PREFIX = "delta_"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def ident(name: str) -> str:
    """``name`` double-quoted, after checking it is a plain lower-case identifier."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


def target(spec: TableSpec) -> str:
    """The quoted ``analytics.<table>``."""
    return f"{ident(SCHEMA)}.{ident(spec.name)}"


def delta_name(table: str) -> str:
    """Unquoted name of a load's temp table for ``table``: ``delta_<table>``."""
    return DELTA_PREFIX + table


def delta(spec: TableSpec) -> str:
    """The quoted temp table name ``delta_<table>``."""
    return ident(delta_name(spec.name))


def column_list(columns: list[str], prefix: str = "") -> str:
    """Quoted, comma-separated columns, each optionally qualified by ``prefix``."""
    qual = f"{prefix}." if prefix else ""
    return ", ".join(qual + ident(c) for c in columns)
