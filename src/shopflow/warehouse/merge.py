"""Merge statements from ``delta_<table>`` into ``analytics.<table>``, one set per ``Upkeep``.

Generated from ``tables.py``, so a change to a table declaration changes every
dialect. A dialect only chooses a :class:`MergeStyle`. Every statement names its
columns; none carries a value, so nothing is bound. Each statement has a
:class:`Role` that tells the load result what its row count means.

Preconditions (the transform's job): keys are unique within a delta, and
``UPSERT_NEWEST`` tables have ``updated_at``, ``SNAPSHOT`` tables ``active``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from shopflow.warehouse.names import column_list, delta, ident, target
from shopflow.warehouse.tables import LOAD_AUDIT, TableSpec, Upkeep

UPDATED_AT = "updated_at"
ACTIVE = "active"
PARTITION = ("source", "business_date")


class Role(Enum):
    """What a merge statement's row count means."""

    REPLACED = "replaced"  # target rows removed to be re-inserted from the delta (updates)
    INSERTED = "inserted"  # rows inserted, replacements included
    DEACTIVATED = "deactivated"
    DELETED = "deleted"  # rows removed for good (a replaced partition)


def is_distinct_from(left: str, right: str) -> str:
    """Null-safe inequality in standard SQL."""
    return f"{left} is distinct from {right}"


@dataclass(frozen=True)
class MergeStyle:
    """A dialect's choices: ``delete ... using`` or a correlated ``exists``; null-safe ``<>``;
    new keys inserted with ``on conflict (key) do nothing`` (a dialect whose tables declare
    their key: each delta row probes the key's index) or ``where not exists`` (a join)."""

    delete_using: bool = False
    distinct: Callable[[str, str], str] = is_distinct_from
    on_conflict: bool = False


@dataclass(frozen=True)
class MergeStatement:
    """One statement of a table's merge."""

    table: str
    purpose: str
    sql: str
    role: Role


def merge_statements(spec: TableSpec, style: MergeStyle) -> list[MergeStatement]:
    """The statements that merge ``delta_<table>`` into the table, in execution order."""
    builders: dict[Upkeep, Callable[[TableSpec, MergeStyle], list[MergeStatement]]] = {
        Upkeep.UPSERT_NEWEST: _upsert_newest,
        Upkeep.SNAPSHOT: _snapshot,
        Upkeep.INSERT_NEW: _insert_new,
        Upkeep.REPLACE_PARTITION: _replace_partition,
        Upkeep.APPEND_PER_RUN: _append_per_run,
        Upkeep.REBUILD: lambda _spec, _style: [],
    }
    return builders[spec.upkeep](spec, style)


def _require(spec: TableSpec, *columns: str) -> None:
    missing = [c for c in columns if c not in spec.column_names]
    if missing:
        raise ValueError(f"{spec.name} ({spec.upkeep.name}) lacks column(s) {missing}")


def _match(columns: tuple[str, ...] | list[str], left: str, right: str) -> str:
    """``left.c = right.c and ...`` for every column."""
    return " and ".join(f"{left}.{ident(c)} = {right}.{ident(c)}" for c in columns)


def _delete_matching(spec: TableSpec, style: MergeStyle, extra: str = "") -> str:
    """Delete target rows whose key is in the delta (and ``extra`` holds, over ``d``)."""
    tgt = target(spec)
    cond = _match(spec.key, "d", tgt) + (f"\n  and {extra}" if extra else "")
    if style.delete_using:
        return f"delete from {tgt}\nusing {delta(spec)} as d\nwhere {cond}"
    return (
        f"delete from {tgt}\nwhere exists (\n  select 1 from {delta(spec)} as d\n  where {cond}\n)"
    )


def _insert_absent(spec: TableSpec, style: MergeStyle) -> str:
    """Insert the delta rows whose key is absent from the target."""
    tgt = target(spec)
    if style.on_conflict:
        return f"{_insert_all(spec)}\non conflict ({column_list(list(spec.key))}) do nothing"
    return (
        f"insert into {tgt} ({column_list(spec.column_names)})\n"
        f"select {column_list(spec.column_names, 'd')}\n"
        f"from {delta(spec)} as d\n"
        f"where not exists (\n"
        f"  select 1 from {tgt} as t\n  where {_match(spec.key, 't', 'd')}\n)"
    )


def _insert_all(spec: TableSpec) -> str:
    return (
        f"insert into {target(spec)} ({column_list(spec.column_names)})\n"
        f"select {column_list(spec.column_names, 'd')}\n"
        f"from {delta(spec)} as d"
    )


def _upsert_newest(spec: TableSpec, style: MergeStyle) -> list[MergeStatement]:
    _require(spec, UPDATED_AT)
    newer = f"d.{ident(UPDATED_AT)} >= {target(spec)}.{ident(UPDATED_AT)}"
    return [
        MergeStatement(
            spec.name,
            f"removing {spec.name} rows that the delta supersedes",
            _delete_matching(spec, style, newer),
            Role.REPLACED,
        ),
        MergeStatement(
            spec.name, f"inserting new {spec.name} rows", _insert_absent(spec, style), Role.INSERTED
        ),
    ]


def _snapshot(spec: TableSpec, style: MergeStyle) -> list[MergeStatement]:
    """Newest ``updated_at`` wins per row, as for UPSERT_NEWEST, so snapshots commute.

    A row missing from a non-empty snapshot is deactivated when it is not newer
    than the snapshot's as-of time (its greatest ``updated_at``); the row takes
    that time as ``updated_at``, so re-loading an older snapshot cannot revive it.
    """
    _require(spec, ACTIVE, UPDATED_AT)
    tgt = target(spec)
    upd, active = ident(UPDATED_AT), ident(ACTIVE)
    changed = "\n    or ".join(
        style.distinct(f"d.{ident(c)}", f"{tgt}.{ident(c)}")
        for c in spec.column_names
        if c not in spec.key
    )
    newer = f"({tgt}.{upd} is null or d.{upd} >= {tgt}.{upd})"
    deactivate = (
        f"update {tgt}\nset {active} = false, {upd} = coalesce(s.as_of, {tgt}.{upd})\n"
        f"from (select max({upd}) as as_of from {delta(spec)}) as s\n"
        f"where {tgt}.{active}\n"
        f"  and ({tgt}.{upd} is null or s.as_of is null or {tgt}.{upd} <= s.as_of)\n"
        f"  and exists (select 1 from {delta(spec)})\n"
        f"  and not exists (\n"
        f"    select 1 from {delta(spec)} as d\n    where {_match(spec.key, 'd', tgt)}\n  )"
    )
    return [
        MergeStatement(
            spec.name,
            f"removing {spec.name} rows that the snapshot changes",
            _delete_matching(spec, style, f"({changed})\n  and {newer}"),
            Role.REPLACED,
        ),
        MergeStatement(
            spec.name,
            f"inserting new and changed {spec.name} rows",
            _insert_absent(spec, style),
            Role.INSERTED,
        ),
        MergeStatement(
            spec.name,
            f"deactivating {spec.name} rows missing from the snapshot",
            deactivate,
            Role.DEACTIVATED,
        ),
    ]


def _insert_new(spec: TableSpec, style: MergeStyle) -> list[MergeStatement]:
    return [
        MergeStatement(
            spec.name, f"inserting new {spec.name} rows", _insert_absent(spec, style), Role.INSERTED
        )
    ]


def _replace_partition(spec: TableSpec, _style: MergeStyle) -> list[MergeStatement]:
    """Clear every (source, business_date) of the delta or of this load's audit rows, refill."""
    _require(spec, *PARTITION)
    tgt = target(spec)
    in_delta = _match(PARTITION, "d", tgt)
    in_audit = _match(PARTITION, "a", tgt)
    clear = (
        f"delete from {tgt}\n"
        f"where exists (\n  select 1 from {delta(spec)} as d\n  where {in_delta}\n)\n"
        f"or exists (\n  select 1 from {delta(LOAD_AUDIT)} as a\n  where {in_audit}\n)"
    )
    return [
        MergeStatement(
            spec.name, f"clearing the {spec.name} partitions of this load", clear, Role.DELETED
        ),
        MergeStatement(spec.name, f"inserting {spec.name} rows", _insert_all(spec), Role.INSERTED),
    ]


def _append_per_run(spec: TableSpec, style: MergeStyle) -> list[MergeStatement]:
    return [
        MergeStatement(
            spec.name,
            f"removing {spec.name} rows this load rewrites",
            _delete_matching(spec, style),
            Role.REPLACED,
        ),
        MergeStatement(spec.name, f"inserting {spec.name} rows", _insert_all(spec), Role.INSERTED),
    ]
