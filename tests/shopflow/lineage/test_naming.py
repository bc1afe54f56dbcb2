"""Dataset names and asset URIs per source and warehouse dialect: locating fields only."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.amazon.aws.assets.redshift import (
    convert_asset_to_openlineage as redshift_to_ol,
)
from airflow.providers.postgres.assets.postgres import convert_asset_to_openlineage as pg_to_ol
from airflow.sdk import Asset

from shopflow.errors import ShopflowError
from shopflow.lineage import naming
from shopflow.lineage.naming import DatasetName

pytestmark = pytest.mark.unit

DAY = date(2025, 1, 2)
SECRET = "s3cr3t-Passw0rd"


def conn(conn_type: str, **fields: Any) -> Any:
    base = {"host": None, "port": None, "schema": None, "login": "admin", "password": SECRET}
    extra = fields.pop("extra", {})
    return SimpleNamespace(conn_type=conn_type, extra_dejson=extra, **{**base, **fields})


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        (
            conn("mysql", host="db.example.com", schema="shop"),
            ("mysql://db.example.com:3306", "shop.orders"),
        ),
        (conn("mysql", host="db", port=3307, schema="shop"), ("mysql://db:3307", "shop.orders")),
        (
            conn("mysql", extra={"url": f"mysql://u:{SECRET}@h:3310/shop"}),
            ("mysql://h:3310", "shop.orders"),
        ),
        (conn("sqlite", host="/data/sales.sqlite"), ("sqlite:///data/sales.sqlite", "orders")),
    ],
)
def test_sales_tables_are_named_by_host_port_and_database(
    connection: Any, expected: tuple[str, str]
) -> None:
    assert naming.sales_tables(connection, ("orders",)) == [DatasetName(*expected)]


def test_a_sales_connection_of_another_type_is_refused() -> None:
    with pytest.raises(ShopflowError, match="unsupported conn_type 'oracle'"):
        naming.sales_tables(conn("oracle", host="h"), ("orders",))


@pytest.mark.parametrize(
    ("connection", "namespace", "asset"),
    [
        (conn("postgres", host="pg.internal", schema="shopflow"), "postgres://pg.internal:5432",
         "postgres://pg.internal:5432/shopflow/analytics/fct_order_line"),
        (conn("redshift", host="prod.abc123.eu-west-1.redshift.amazonaws.com", schema="dwh"),
         "redshift://prod.eu-west-1:5439",
         "redshift://prod.eu-west-1:5439/dwh/analytics/fct_order_line"),
        (conn("duckdb", host="/srv/warehouse.duckdb"), "duckdb:///srv/warehouse.duckdb",
         "duckdb:///srv/warehouse.duckdb/warehouse/analytics/fct_order_line"),
    ],
)  # fmt: skip
def test_warehouse_tables_per_dialect(connection: Any, namespace: str, asset: str) -> None:
    dataset = naming.warehouse_table(connection, "analytics.fct_order_line")
    assert dataset.namespace == namespace
    assert dataset.name.endswith(".analytics.fct_order_line")
    assert naming.asset_uri(dataset) == asset


@pytest.mark.parametrize(
    ("connection", "to_ol"),
    [
        (conn("postgres", host="pg.internal", port=6432, schema="shopflow"), pg_to_ol),
        (
            conn("redshift", host="prod.abc.us-east-1.redshift.amazonaws.com", schema="dwh"),
            redshift_to_ol,
        ),
    ],
)
def test_the_providers_translate_the_asset_back_into_the_same_dataset(
    connection: Any, to_ol: Any
) -> None:
    dataset = naming.warehouse_table(connection, "analytics.customer_daily")
    translated = to_ol(Asset(uri=naming.asset_uri(dataset)), None)
    assert (translated.namespace, translated.name) == dataset


def test_the_api_endpoint_keeps_no_credentials_or_query() -> None:
    ds = naming.api_endpoint(f"https://user:{SECRET}@api.example.com:8443/base/?token=x", "/v1/i")
    assert ds == DatasetName("https://api.example.com:8443", "/base/v1/i")


def test_dynamodb_and_s3_and_staging() -> None:
    assert naming.dynamodb_table("eu-west-1", None, "products") == DatasetName(
        "dynamodb://dynamodb.eu-west-1.amazonaws.com", "products"
    )
    assert naming.dynamodb_table("us-east-1", "http://127.0.0.1:4566", "p").namespace == (
        "dynamodb://127.0.0.1:4566"
    )
    assert naming.s3_object("bucket", "clickstream/dt=2025-01-02/") == DatasetName(
        "s3://bucket", "clickstream/dt=2025-01-02"
    )
    assert naming.staging_partition("s3://stage/prefix/", "sales", DAY) == DatasetName(
        "s3://stage", "prefix/raw/sales/dt=2025-01-02"
    )
    assert naming.staging_partition("/srv/staging", "sales", DAY) == DatasetName(
        "file", "/srv/staging/raw/sales/dt=2025-01-02"
    )
    assert naming.staging_partition("file:///srv/staging", "sales", DAY).name.startswith("/srv/")


def test_no_name_carries_the_login_or_password() -> None:
    names = [
        *naming.sales_tables(conn("mysql", host="h", schema="s"), ("orders",)),
        naming.warehouse_table(conn("postgres", host="h", schema="d"), "analytics.t"),
        naming.warehouse_table(conn("redshift", host="h", schema="d"), "analytics.t"),
    ]
    for dataset in names:
        assert SECRET not in str(dataset) and "admin" not in str(dataset)
