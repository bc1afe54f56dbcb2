"""Merge SQL generated from tables.py: shape per Upkeep, explicit columns, parses per dialect."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from shopflow.warehouse.base import LoadContext, Phase, Warehouse
from shopflow.warehouse.ddl import ENFORCED_KEYS, create_all, create_table, index_name
from shopflow.warehouse.duckdb import DuckDBWarehouse
from shopflow.warehouse.merge import MergeStyle, Role, merge_statements
from shopflow.warehouse.names import ident
from shopflow.warehouse.postgres import PostgresWarehouse
from shopflow.warehouse.redshift import RedshiftWarehouse
from shopflow.warehouse.tables import DIM_CUSTOMER, TABLES, Column, TableSpec, Upkeep

pytestmark = pytest.mark.unit

STYLES: dict[str, MergeStyle] = {
    "duckdb": DuckDBWarehouse.merge_style,
    "postgres": PostgresWarehouse.merge_style,
    "redshift": RedshiftWarehouse.merge_style,
}
MERGED = [spec for spec in TABLES.values() if spec.upkeep is not Upkeep.REBUILD]
ROLES = {
    Upkeep.UPSERT_NEWEST: [Role.REPLACED, Role.INSERTED],
    Upkeep.SNAPSHOT: [Role.REPLACED, Role.INSERTED, Role.DEACTIVATED],
    Upkeep.INSERT_NEW: [Role.INSERTED],
    Upkeep.REPLACE_PARTITION: [Role.DELETED, Role.INSERTED],
    Upkeep.APPEND_PER_RUN: [Role.REPLACED, Role.INSERTED],
    Upkeep.REBUILD: [],
}


def parse(sql: str, dialect: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read=dialect, error_level=ErrorLevel.RAISE)
    assert not isinstance(tree, exp.Command), sql
    return tree


@pytest.mark.parametrize("dialect", STYLES)
@pytest.mark.parametrize("spec", MERGED, ids=lambda s: s.name)
def test_statements_parse_and_name_every_column(dialect: str, spec: TableSpec) -> None:
    for statement in merge_statements(spec, STYLES[dialect]):
        tree = parse(statement.sql, dialect)
        assert not list(tree.find_all(exp.Star)), statement.sql
        if isinstance(tree, exp.Insert):
            assert isinstance(tree.this, exp.Schema)
            assert [c.name for c in tree.this.expressions] == spec.column_names
            select = tree.expression
            assert isinstance(select, exp.Select)
            assert [c.name for c in select.expressions] == spec.column_names


@pytest.mark.parametrize("spec", TABLES.values(), ids=lambda s: s.name)
def test_roles_follow_upkeep(spec: TableSpec) -> None:
    for style in STYLES.values():
        assert [m.role for m in merge_statements(spec, style)] == ROLES[spec.upkeep]
        assert all(m.table == spec.name for m in merge_statements(spec, style))


def test_upsert_newest_lets_the_delta_win_ties() -> None:
    remove, insert = merge_statements(DIM_CUSTOMER, STYLES["postgres"])
    assert 'd."updated_at" >= "analytics"."dim_customer"."updated_at"' in remove.sql
    assert remove.sql.startswith(
        'delete from "analytics"."dim_customer"\nusing "delta_dim_customer"'
    )
    assert insert.sql.endswith('on conflict ("customer_id") do nothing')  # the primary key
    assert "where not exists" in merge_statements(DIM_CUSTOMER, STYLES["duckdb"])[1].sql


def test_only_dialects_with_primary_keys_insert_on_conflict() -> None:
    for dialect, style in STYLES.items():
        assert style.on_conflict is (dialect in ENFORCED_KEYS), dialect


def test_snapshot_deactivates_only_from_a_non_empty_snapshot() -> None:
    replace, _insert, deactivate = merge_statements(TABLES["dim_product"], STYLES["duckdb"])
    assert 'set "active" = false' in deactivate.sql
    assert 'exists (select 1 from "delta_dim_product")' in deactivate.sql
    for column in ("sku", "price", "active", "updated_at"):
        assert f'd."{column}" is distinct from' in replace.sql
    assert 'd."product_id" is distinct from' not in replace.sql  # the key is matched, not compared


def test_redshift_spells_out_null_safe_inequality() -> None:
    replace = merge_statements(TABLES["dim_product"], STYLES["redshift"])[0]
    assert "distinct" not in replace.sql
    assert '(d."brand" is null and "analytics"."dim_product"."brand" is not null)' in replace.sql


def test_quarantine_clears_partitions_named_by_delta_or_audit() -> None:
    clear, insert = merge_statements(TABLES["quarantine"], STYLES["postgres"])
    assert 'from "delta_quarantine" as d' in clear.sql
    assert 'from "delta_load_audit" as a' in clear.sql
    assert 'a."business_date" = "analytics"."quarantine"."business_date"' in clear.sql
    assert "where" not in insert.sql  # every delta row goes in


def test_audit_is_rewritten_per_run_and_source() -> None:
    remove, _ = merge_statements(TABLES["load_audit"], STYLES["redshift"])
    assert 'd."run_id" = "analytics"."load_audit"."run_id"' in remove.sql
    assert 'd."source" = "analytics"."load_audit"."source"' in remove.sql


@pytest.mark.parametrize(
    ("dialect", "using"), [("duckdb", False), ("postgres", True), ("redshift", True)]
)
def test_delete_style_is_the_dialects(dialect: str, using: bool) -> None:
    remove = merge_statements(TABLES["fct_order_line"], STYLES[dialect])[0]
    assert ("\nusing " in remove.sql) is using
    assert ("where exists" in remove.sql) is not using


def test_a_declaration_change_reaches_every_dialect() -> None:
    wider = dataclasses.replace(
        DIM_CUSTOMER, columns=(*DIM_CUSTOMER.columns, Column("segment", "text"))
    )
    for dialect, style in STYLES.items():
        insert = merge_statements(wider, style)[1]
        tree = parse(insert.sql, dialect)
        assert [c.name for c in tree.this.expressions][-1] == "segment"


def test_merge_requires_the_columns_its_upkeep_reads() -> None:
    no_updated_at = dataclasses.replace(
        DIM_CUSTOMER, columns=tuple(c for c in DIM_CUSTOMER.columns if c.name != "updated_at")
    )
    with pytest.raises(ValueError, match="updated_at"):
        merge_statements(no_updated_at, STYLES["duckdb"])


@pytest.mark.parametrize("bad", ["Customer", "a;drop table x", 'a"b', "", "1st"])
def test_identifiers_are_validated(bad: str) -> None:
    with pytest.raises(ValueError):
        ident(bad)


@pytest.mark.parametrize(
    "warehouse", [DuckDBWarehouse("/tmp/unused.duckdb"), PostgresWarehouse("")]
)
def test_load_plan_order(warehouse: Warehouse) -> None:
    """Ensure, then one transaction: stage every delta table, lock, merge, derive, commit."""
    ctx = LoadContext(date(2024, 3, 1), "run-1")
    steps = warehouse.plan_load({"dim_customer", "load_audit"}, ctx, ["select 1", "select 2"])
    load = [s for s in steps if s.phase is not Phase.ENSURE]
    assert [s.sql for s in load].count("begin") == 1 == [s.sql for s in load].count("commit")
    assert load[0].sql == "begin" and load[-1].sql == "commit"
    phases = [s.phase for s in load]
    order = [Phase.BEGIN, Phase.STAGE, Phase.LOCK, Phase.MERGE, Phase.DERIVE, Phase.COMMIT]
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == [
        p for p in order if p in phases
    ]
    creates = [s for s in load if s.sql.startswith("create temp table")]
    assert len(creates) == len(TABLES)  # every delta_<table> exists for derive
    assert {s.data for s in load if s.data} == {"dim_customer", "load_audit"}
    merged = {s.table for s in load if s.phase is Phase.MERGE}
    assert merged == {"dim_customer", "quarantine", "load_audit"}


def test_secondary_indexes_only_on_postgres() -> None:
    """Declared indexes become CREATE INDEX IF NOT EXISTS on Postgres, after their table;
    DuckDB and Redshift get none (zone maps, sort keys)."""
    postgres = create_all("postgres")
    declared = [(spec, index) for spec in TABLES.values() for index in spec.indexes]
    assert declared
    names = [index_name(spec, index) for spec, index in declared]
    assert len(set(names)) == len(names)
    for (spec, index), name in zip(declared, names, strict=True):
        assert set(index.columns) <= set(spec.column_names)
        (create,) = [s for s in postgres if f" {name} " in s]
        assert create.startswith("create index if not exists")
        assert f"on {spec.qualified} ({', '.join(index.columns)})" in create
        assert postgres.index(create) > postgres.index(create_table(spec, "postgres"))
        assert sqlglot.parse_one(create, read="postgres") is not None
    for dialect in ("duckdb", "redshift"):
        assert not [s for s in create_all(dialect) if "index" in s]
