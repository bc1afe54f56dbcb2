"""The extractor: which operators it serves, check results as data-quality facets."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.sql.operators.sql import SQLCheckResult
from openlineage.client.event_v2 import Dataset

from shopflow.lineage import extractor
from shopflow.lineage.datasets import TASKS, tables_of_check
from shopflow.lineage.quality_facets import attach_check_results
from shopflow.quality import operators

pytestmark = pytest.mark.unit

WAREHOUSE = SimpleNamespace(conn_type="duckdb", host="/srv/warehouse.duckdb", port=None,
                            schema=None, login=None, password="never", extra_dejson={})  # fmt: skip


def test_it_serves_the_taskflow_tasks_and_the_check_operators_of_shopflow() -> None:
    names = extractor.ShopflowExtractor.get_operator_classnames()
    assert "_PythonDecoratedOperator" in names
    checks = {
        operators.ColumnCheckOperator,
        operators.TableCheckOperator,
        operators.RunCheckOperator,
    }
    assert set(extractor.CHECK_OPERATORS) == {cls.__name__ for cls in checks}


def test_every_task_of_the_dags_is_described() -> None:
    from shopflow.names import DAG_ID, SOURCES, extract_task_id

    described = {task for dag, task in TASKS if dag == DAG_ID}
    assert described == {*map(extract_task_id, SOURCES), "transform", "load", "report"}


def test_results_naming_a_table_go_to_its_dataset_the_rest_to_the_run() -> None:
    table = Dataset(namespace="duckdb:///w.duckdb", name="w.analytics.dim_customer")
    results = [
        SQLCheckResult(name="customer_id.null_check", check_type="not_null", success=True,
                       column="customer_id", table="analytics.dim_customer", actual="0"),
        SQLCheckResult(name="reconciliation", check_type="expression_is_true", success=False),
    ]  # fmt: skip
    run_facets = attach_check_results([table], results)
    (assertion,) = table.facets["dataQualityAssertions"].assertions
    assert (assertion.assertion, assertion.column, assertion.success) == (
        "not_null",
        "customer_id",
        True,
    )
    (test,) = run_facets["test"].tests
    assert (test.name, test.status) == ("reconciliation", "fail")


def check_operator(**fields: Any) -> Any:
    return SimpleNamespace(task_type="RunCheckOperator", dag_id="shop_daily_etl",
                           task_id="quality.x", check_results=[], **fields)  # fmt: skip


def test_a_check_reads_the_tables_its_sql_names() -> None:
    op = check_operator(sql="select 1 from analytics.fct_order_line join analytics.dim_product")
    assert tables_of_check(op) == ["analytics.dim_product", "analytics.fct_order_line"]
    assert tables_of_check(check_operator(table="analytics.load_audit", sql="")) == [
        "analytics.load_audit"
    ]


def test_check_lineage_on_completion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shopflow.tasks.connections.get_connection", lambda conn_id: WAREHOUSE)
    op = check_operator(sql="select count(*) from analytics.load_audit where run_id = $run_id")
    context = {"logical_date": datetime(2025, 1, 3, 1, tzinfo=UTC), "params": {}, "run_id": "r"}
    ti = SimpleNamespace(get_template_context=lambda: context)

    lineage = extractor.ShopflowExtractor(op).extract_on_complete(ti)

    assert lineage is not None
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("duckdb:///srv/warehouse.duckdb", "warehouse.analytics.load_audit")
    ]
