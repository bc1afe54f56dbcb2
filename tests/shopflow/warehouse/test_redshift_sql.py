"""Redshift's load as a statement list: parses, one transaction, COPY with an IAM role, no secrets.

``tests/integration/test_warehouse_postgres.py`` runs the same list on Postgres.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from shopflow.warehouse.arrow import arrow_schema
from shopflow.warehouse.base import AuditRow, LoadContext
from shopflow.warehouse.redshift import RedshiftWarehouse
from shopflow.warehouse.tables import TABLES

pytestmark = pytest.mark.unit

ARN = "arn:aws:iam::123456789012:role/shopflow-loader"
PREFIX = "s3://shop-staging/warehouse"
DAY = date(2024, 3, 1)
RUN = "scheduled__2024-03-02T01:00:00+00:00"
AUDIT = [AuditRow("sales", 3, 3, 0, 0, datetime(2024, 3, 2, 1), datetime(2024, 3, 2, 1, 5))]
DELTAS = {
    name: arrow_schema(spec).empty_table() for name, spec in TABLES.items() if name != "load_audit"
}
DERIVE = [
    "-- rebuild\ndelete from analytics.fct_session\n"
    "where session_id in (select session_id from delta_fct_session)"
]


def warehouse() -> RedshiftWarehouse:
    return RedshiftWarehouse(lambda: None, iam_role_arn=ARN, staging_prefix=PREFIX)


def statements(run_id: str = RUN, wh: RedshiftWarehouse | None = None) -> list[str]:
    return (wh or warehouse()).statements_for_load(
        DELTAS, business_date=DAY, run_id=run_id, audit=AUDIT, derive=DERIVE
    )


def test_every_statement_parses_as_redshift() -> None:
    for sql in statements():
        tree = sqlglot.parse_one(sql, read="redshift", error_level=ErrorLevel.RAISE)
        if isinstance(tree, exp.Command):  # sqlglot has no LOCK expression
            assert sql.startswith("lock "), sql


def test_one_transaction_around_everything_but_the_ddl() -> None:
    sql = statements()
    assert sql.count("begin") == 1 and sql.count("commit") == 1
    begin = sql.index("begin")
    assert sql[-1] == "commit"
    assert all(s.startswith("create ") for s in sql[:begin])  # idempotent DDL only
    body = sql[begin + 1 : -1]
    assert any(s.startswith("copy ") for s in body) and any(s.startswith("insert ") for s in body)


def test_ddl_carries_distribution_and_sort_keys() -> None:
    ddl = [s for s in statements() if s.startswith("create table")]
    assert len(ddl) == len(TABLES)
    for spec in TABLES.values():
        (create,) = [s for s in ddl if f"analytics.{spec.name} (" in s]
        if spec.distkey:
            assert f"distkey ({spec.distkey})" in create
        else:
            assert "diststyle even" in create
        assert f"sortkey ({', '.join(spec.sortkey)})" in create
        assert "primary key" not in create


def test_temp_tables_copy_parquet_with_the_iam_role() -> None:
    sql = statements()
    for name in TABLES:
        assert f'create temp table "delta_{name}" (like "analytics"."{name}")' in sql
    copies = [s for s in sql if s.startswith("copy ")]
    assert len(copies) == len(TABLES)  # every delta given, plus the audit rows
    for s in copies:
        assert f"iam_role '{ARN}'" in s and s.endswith("format as parquet")
        run = "run_id=scheduled__2024-03-02T01_00_00_00_00"
        assert f"from '{PREFIX}/warehouse_load/dt=2024-03-01/{run}/" in s
    uri = warehouse().staging_uri("dim_customer", LoadContext(DAY, RUN))
    assert f"from '{uri}'" in "\n".join(copies)


def test_keys_are_deterministic_per_run() -> None:
    assert statements() == statements()
    other = [s for s in statements("manual__2024-03-05") if s.startswith("copy ")]
    assert all("run_id=manual__2024-03-05/" in s for s in other)


def test_lock_between_staging_and_merge() -> None:
    sql = statements()
    (lock,) = [i for i, s in enumerate(sql) if s.startswith("lock ")]
    last_copy = max(i for i, s in enumerate(sql) if s.startswith("copy "))
    first_merge = min(
        i for i, s in enumerate(sql) if s.startswith(("delete ", "insert ", "update "))
    )
    assert last_copy < lock < first_merge
    for name in TABLES:
        assert f'"analytics"."{name}"' in sql[lock]


def test_derive_runs_inside_the_transaction_after_the_merge() -> None:
    sql = statements()
    derive = sql.index(DERIVE[0])
    assert derive == len(sql) - 2
    assert 'insert into "analytics"."load_audit"' in "\n".join(sql[:derive])


@pytest.mark.parametrize(
    "arn", ["arn:aws:iam::1:role/x", "x' iam_role 'y", "arn:aws:iam::123456789012:user/u"]
)
def test_refuses_a_malformed_role(arn: str) -> None:
    with pytest.raises(ValueError, match="iam_role_arn"):
        RedshiftWarehouse(lambda: None, iam_role_arn=arn, staging_prefix=PREFIX)


def test_refuses_a_quote_in_the_staging_prefix() -> None:
    with pytest.raises(ValueError, match="prefix"):
        RedshiftWarehouse(lambda: None, iam_role_arn=ARN, staging_prefix="s3://b/x'y")


def test_airflow_connection_gives_no_secret_to_sql(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built from Airflow connections holding a password and AWS keys: none reaches the SQL."""
    password, key_id, secret = "pw-Sup3rSecret", "AKIAEXAMPLEKEYID0000", "aws/Secret+Key0123456789"
    redshift = {
        "conn_type": "redshift",
        "host": "cluster.abc.eu-west-1.redshift.amazonaws.com",
        "port": 5439,
        "login": "loader",
        "password": password,
        "schema": "shop",
        "extra": {"iam_role_arn": ARN, "s3_staging_prefix": PREFIX, "aws_conn_id": "stage_aws"},
    }
    aws = {"conn_type": "aws", "login": key_id, "password": secret}
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_WAREHOUSE", json.dumps(redshift))
    monkeypatch.setenv("AIRFLOW_CONN_STAGE_AWS", json.dumps(aws))
    from shopflow.warehouse.factory import warehouse_from_connection

    wh = warehouse_from_connection()
    assert isinstance(wh, RedshiftWarehouse) and wh.dbapi_conn_id() == "shop_warehouse"
    text = "\n".join(statements(wh=wh))
    assert ARN in text
    for secret_text in (password, key_id, secret, "aws_access_key_id", "credentials"):
        assert secret_text not in text


def test_a_table_outside_the_contract_is_refused() -> None:
    with pytest.raises(Exception, match="no warehouse table"):
        warehouse().statements_for_load(
            {"orders": pa.table({"a": [1]})}, business_date=DAY, run_id=RUN, audit=AUDIT
        )
