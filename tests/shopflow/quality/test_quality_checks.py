"""Quality check declarations: names, portable SQL, placeholders, and the operators they build."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
import sqlglot
from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from shopflow.quality import evaluate
from shopflow.quality.checks import (
    COMPARISONS,
    ORPHAN_LIMIT,
    QUARANTINE_LIMIT,
    RUN_CHECKS,
    TABLE_CHECKS,
    RunCheck,
    ShareLimit,
    check_names,
    dollar_style,
    placeholders,
)
from shopflow.quality.operators import (
    FAILURE_PREFIX,
    ColumnCheckOperator,
    RunCheckOperator,
    TableCheckOperator,
    build_quality_checks,
)
from shopflow.warehouse.params import to_format
from shopflow.warehouse.tables import TABLES

pytestmark = pytest.mark.unit

DIALECTS = ("duckdb", "postgres", "redshift")
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def build(conn_id: str = "warehouse_x") -> dict[str, Any]:
    with DAG("quality_unit", schedule=None, start_date=datetime(2024, 1, 1)):
        return {op.task_id: op for op in build_quality_checks(conn_id)}


def declared_sql() -> list[tuple[str, str]]:
    """(label, SQL) of every query the checks send, as sent (``$name`` placeholders)."""
    out = []
    for declared in TABLE_CHECKS:
        if declared.columns:
            out.append((f"{declared.table} columns", evaluate.column_checks_sql(declared)))
        if declared.statements:
            out.append((f"{declared.table} statements", evaluate.table_checks_sql(declared)))
    return out + [(check.name, check.sql) for check in RUN_CHECKS]


# -- declarations ----------------------------------------------------------------------------


def test_names_are_unique_and_stable() -> None:
    names = check_names()
    assert len(names) == len(set(names))
    for declared in TABLE_CHECKS:
        assert declared.table in TABLES
        for name in declared.statements:
            assert IDENTIFIER.fullmatch(name), name  # the operator uses it as a column alias
    for check in RUN_CHECKS:
        assert IDENTIFIER.fullmatch(check.name), check.name
    assert "fct_order_line.quantity.min" in names
    assert "customer_daily_key_unique" in names


def test_every_key_is_checked_non_null_and_unique() -> None:
    by_table = {d.table: d for d in TABLE_CHECKS}
    for spec in TABLES.values():
        if not spec.key:
            continue
        declared = by_table[spec.name]
        for column in spec.key:
            assert declared.columns[column]["null_check"] == {"equal_to": 0}
        if len(spec.key) == 1:
            assert declared.columns[spec.key[0]]["unique_check"] == {"equal_to": 0}
        else:
            statement = declared.statements[f"{spec.name}_key_unique"]["check_statement"]
            assert all(column in statement for column in spec.key)


def test_contract_value_ranges() -> None:
    (order_lines,) = [d for d in TABLE_CHECKS if d.table == "fct_order_line"]
    assert order_lines.columns["quantity"]["min"] == {"greater_than": 0}
    assert order_lines.columns["unit_price"]["min"] == {"geq_to": 0}
    assert order_lines.columns["line_revenue_usd"]["min"] == {"geq_to": 0}
    assert "fx_rate" in order_lines.statements["order_line_has_fx_rate"]["check_statement"]


def test_contract_share_limits() -> None:
    assert (ORPHAN_LIMIT.basis_points, ORPHAN_LIMIT.at_least) == (50, 25)  # 0.5 %, >= 25 (ADR 0007)
    assert (QUARANTINE_LIMIT.basis_points, QUARANTINE_LIMIT.at_least) == (100, 10)
    limits = {check.name: check.share_limit for check in RUN_CHECKS if check.share_limit}
    assert limits == {"orphan_order_lines": ORPHAN_LIMIT, "quarantine_share": QUARANTINE_LIMIT}
    assert [ORPHAN_LIMIT.label, QUARANTINE_LIMIT.label] == ["0.5 %", "1 %"]


@pytest.mark.parametrize(
    ("limit", "total", "allowed"),
    [
        (ORPHAN_LIMIT, 0, 25),
        (ORPHAN_LIMIT, 140, 25),
        (ORPHAN_LIMIT, 5_199, 25),  # 0.5 % is 25.995: the minimum still decides
        (ORPHAN_LIMIT, 5_200, 26),
        (ORPHAN_LIMIT, 6_000, 30),
        (ORPHAN_LIMIT, 6_199, 30),
        (QUARANTINE_LIMIT, 200, 10),
        (QUARANTINE_LIMIT, 1_199, 11),
        (QUARANTINE_LIMIT, 5_000, 50),
        (QUARANTINE_LIMIT, 5_099, 50),
    ],
)
def test_share_limit_allows_the_larger_of_share_and_minimum(
    limit: ShareLimit, total: int, allowed: int
) -> None:
    assert limit.allowed(total) == allowed


@pytest.mark.parametrize(("basis_points", "at_least"), [(0, 5), (10_001, 5), (50, -1)])
def test_share_limit_rejects_nonsense(basis_points: int, at_least: int) -> None:
    with pytest.raises(ValueError, match="not a share limit"):
        ShareLimit(basis_points, at_least)


@pytest.mark.parametrize("check", [c for c in RUN_CHECKS if c.share_limit], ids=lambda c: c.name)
def test_share_limits_are_bound_not_written(check: RunCheck) -> None:
    assert check.share_limit is not None
    assert check.bind("r") == {"run_id": "r", **check.share_limit.parameters()}
    assert str(check.share_limit) in check.description
    code = "\n".join(line.split("--")[0] for line in check.text.splitlines())
    literals = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?", re.sub(r"'(?:[^']|'')*'", "''", code)))
    assert literals <= {"0", "1", "1.0", "10000.0"}, literals  # basis points per unit, no threshold
    assert "per cent" not in code and "%" not in code


def test_column_checks_use_the_operator_format() -> None:
    for declared in TABLE_CHECKS:
        for column, checks in declared.columns.items():
            assert column in TABLES[declared.table].column_names
            for check, expected in checks.items():
                assert check in SQLColumnCheckOperator.column_checks
                assert expected and set(expected) <= COMPARISONS


@pytest.mark.parametrize(("label", "sql"), declared_sql(), ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_sql_parses_in_every_dialect(label: str, sql: str, dialect: str) -> None:
    assert len(sqlglot.parse(sql, read=dialect)) == 1  # one statement
    if dialect != "duckdb":  # what psycopg / redshift_connector receive
        names = re.findall(r"\$([A-Za-z_]\w*)", sql)
        formatted, values = to_format(sql, dict.fromkeys(names, "x"))
        assert formatted.count("%s") == len(values or [])
        assert sqlglot.parse_one(formatted, read=dialect) is not None


@pytest.mark.parametrize("check", RUN_CHECKS, ids=lambda c: c.name)
def test_run_check_sql_is_portable_and_bound(check: RunCheck) -> None:
    text = check.text
    if check.counted is None:
        assert text.startswith(f"-- {check.name}: ")
    else:  # the row_count template, filled in for its table
        table, column = check.counted
        assert f"analytics.{table} as dated" in text and f"dated.{column} =" in text
        assert "counted_table" not in text.split("with", 1)[1]
    code = "\n".join(line.split("--")[0] for line in text.splitlines()).lower()
    for construct in ("::", " filter (", "qualify", "ilike", "string_agg", "listagg"):
        assert construct not in code, construct
    assert placeholders(text) == set(check.bind("r"))
    if check.warning_parameters:
        assert set(check.bind("r", warning=True)) == set(check.bind("r"))
    assert not re.search(r"{[{%#]", text)  # the operator renders sql with Jinja


def test_placeholders_skip_strings_comments_and_casts() -> None:
    sql = "select ':no', x::int -- :nor\nfrom t where a = :yes and b = :yes_2 /* :no */"
    assert placeholders(sql) == {"yes", "yes_2"}
    assert dollar_style(sql) == (
        "select ':no', x::int -- :nor\nfrom t where a = $yes and b = $yes_2 /* :no */"
    )


# -- evaluate mirrors the operators ---------------------------------------------------------


def test_run_local_templates_match_the_provider() -> None:
    assert SQLColumnCheckOperator.sql_check_template == evaluate.COLUMN_CHECK_TEMPLATE
    assert SQLColumnCheckOperator.column_checks == evaluate.COLUMN_CHECK_STATEMENTS
    assert SQLTableCheckOperator.sql_check_template == evaluate.TABLE_CHECK_TEMPLATE


def test_run_local_sends_the_operators_queries() -> None:
    ops = build()
    for declared in TABLE_CHECKS:
        if declared.columns:
            op = ops[f"{declared.table}_column_checks"]
            assert evaluate.column_checks_sql(declared) == op.sql
        if declared.statements:
            op = ops[f"{declared.table}_table_checks"]
            assert evaluate.table_checks_sql(declared) == op.sql


@pytest.mark.parametrize(
    ("expected", "value", "passes"),
    [
        ({"equal_to": 0}, 0, True),
        ({"equal_to": 0}, 2, False),
        ({"greater_than": 0}, 1, True),
        ({"greater_than": 0}, 0, False),
        ({"geq_to": 0}, 0, True),
        ({"geq_to": 0}, -1, False),
        ({"geq_to": 0, "leq_to": 5}, 6, False),
        ({"geq_to": 0}, None, False),
    ],
)
def test_column_comparison_matches_the_operator(
    expected: dict[str, int], value: Any, passes: bool
) -> None:
    assert evaluate.column_passes(expected, value) is passes
    op = SQLColumnCheckOperator(
        task_id="op", table="t", column_mapping={"x": {"min": dict(expected)}}, accept_none=False
    )
    if value is not None:  # the stock operator raises TypeError on None; ours fails it
        assert op._get_match(expected, value) is passes


def test_check_result_status() -> None:
    fail = evaluate.CheckResult("a", False, "error", "d")
    warn = evaluate.CheckResult("b", False, "warning", "d")
    ok = evaluate.CheckResult("c", True, "error", "d")
    assert [r.status for r in (fail, warn, ok)] == ["fail", "warn", "pass"]
    assert evaluate.failures([fail, warn, ok]) == [fail]
    assert warn.to_dict() == {
        "name": "b",
        "passed": False,
        "severity": "warning",
        "detail": "d",
        "status": "warn",
    }


# -- operators -------------------------------------------------------------------------------


def test_operators_build_with_conn_id_and_accept_none() -> None:
    ops = build("warehouse_x")
    assert len(ops) == sum(bool(d.columns) + bool(d.statements) for d in TABLE_CHECKS) + len(
        RUN_CHECKS
    )
    for op in ops.values():
        assert isinstance(op, SQLColumnCheckOperator | SQLTableCheckOperator | SQLCheckOperator)
        assert op.conn_id == "warehouse_x"
        assert op.retry_on_failure is False
        if isinstance(op, SQLColumnCheckOperator | SQLTableCheckOperator):
            assert op.accept_none is False
            assert op.table.startswith("analytics.")
    for check in RUN_CHECKS:
        op = ops[check.name]
        assert isinstance(op, RunCheckOperator)
        assert "parameters" in op.template_fields
        assert op.parameters == check.bind("{{ run_id }}")
        assert op.sql == check.sql
    assert build()["row_count_order_lines"].warning_parameters == {"min_history_days": 0}
    assert build()["reconciliation"].warning_parameters == {}


def test_share_limits_reach_the_operator_rendered() -> None:
    op = build()["orphan_order_lines"]
    op.render_template_fields({"run_id": "scheduled__x"})
    assert op.parameters == {
        "run_id": "scheduled__x",
        "limit_basis_points": 50,
        "limit_at_least": 25,
        "limit_label": "0.5 %",
    }


def test_declarations_are_not_shared_with_operators() -> None:
    op = build()["fct_order_line_column_checks"]
    op.column_mapping["quantity"]["min"]["success"] = False  # what execute() writes
    fresh = build()["fct_order_line_column_checks"]
    assert "success" not in fresh.column_mapping["quantity"]["min"]


def test_failures_name_the_checks() -> None:
    ops = build()
    columns = ops["fct_order_line_column_checks"]
    assert isinstance(columns, ColumnCheckOperator)
    for checks in columns.column_mapping.values():
        for values in checks.values():
            values["success"] = True
    columns.column_mapping["quantity"]["min"]["success"] = False
    with pytest.raises(
        AirflowFailException, match=rf"^{re.escape(FAILURE_PREFIX)} fct_order_line\.quantity\.min\n"
    ):
        columns._raise_exception("Test failed.")

    table = ops["customer_daily_table_checks"]
    assert isinstance(table, TableCheckOperator)
    table.checks["customer_daily_key_unique"]["success"] = False
    with pytest.raises(AirflowFailException, match="failed: customer_daily_key_unique\nboom"):
        table._raise_exception("boom")

    with pytest.raises(AirflowFailException, match="failed: quarantine_share\n"):
        ops["quarantine_share"]._raise_exception("Test failed.")


def test_empty_column_result_fails_instead_of_raising() -> None:
    op = build()["fct_order_line_column_checks"]
    assert op._get_match({"greater_than": 0}, None) is False
    assert op._get_match({"greater_than": 0}, 1) is True
