"""The catalog extract against the project's DynamoDB emulator (dynalite) and S3 (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shopflow.sources.products import extract_products
from shopflow.staging import Staging
from shopflow_local.devstack import aws_emulator
from shopflow_local.devstack.process import free_port
from shopflow_local.home import shopflow_home

pytestmark = pytest.mark.integration

D = date(2025, 3, 4)
TABLE = "products"
BUCKET = "staging-products"


@dataclass
class Emulators:
    s3: str
    dynamodb: str


@pytest.fixture(scope="module")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    run_dir = tmp_path_factory.mktemp("aws-run")
    try:
        s3 = aws_emulator.start_s3(free_port(), run_dir)
        ddb = aws_emulator.start_dynamodb(free_port(), run_dir, shopflow_home())
        aws_emulator.ensure_bucket(s3, BUCKET)
        yield Emulators(s3, ddb)
    finally:
        aws_emulator.stop_all(run_dir)


def good_item(i: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "product_id": {"S": f"P{i:05d}"},
        "sku": {"S": f"SKU-{i}"},
        "name": {"S": f"Product {i}"},
        "category": {"S": "toys" if i % 2 else "books"},
        "price": {"N": f"{i}.{i % 100:02d}"},
        "currency": {"S": "EUR"},
        "active": {"BOOL": i % 7 != 0},
        "updated_at": {"S": f"2025-03-0{1 + i % 3}T10:00:00Z"},
    }
    if i % 5:
        item["brand"] = {"S": f"Brand {i % 5}"}
    return item


SPECIAL: dict[str, dict[str, Any]] = {
    "X-EXACT": good_item(1)
    | {
        "product_id": {"S": "X-EXACT"},
        "price": {"N": "1234567.8912"},
        "updated_at": {"S": "2025-03-03T23:30:00.5+02:00"},
        "attributes": {
            "M": {
                "weight_g": {"N": "0.1"},
                "color": {"S": "réd"},
                "tags": {"L": [{"S": "a"}, {"N": "1E+2"}, {"BOOL": True}, {"NULL": True}]},
                "dims": {"M": {"w": {"N": "10"}, "h": {"N": "2.50"}}},
            }
        },
    },
    "X-NO-BRAND": good_item(5) | {"product_id": {"S": "X-NO-BRAND"}, "price": {"N": "0.10"}},
    "X-NO-SKU": {k: v for k, v in good_item(2).items() if k != "sku"}
    | {"product_id": {"S": "X-NO-SKU"}},
    "X-TOO-PRECISE": good_item(3)
    | {"product_id": {"S": "X-TOO-PRECISE"}, "price": {"N": "0.12345"}},
    "X-BAD-TS": good_item(4) | {"product_id": {"S": "X-BAD-TS"}, "updated_at": {"S": "soon"}},
    "X-PRICE-AS-TEXT": good_item(6)
    | {"product_id": {"S": "X-PRICE-AS-TEXT"}, "price": {"S": "9.99"}},
}
QUARANTINED = {
    "X-NO-SKU": "missing_sku",
    "X-TOO-PRECISE": "bad_price",
    "X-BAD-TS": "bad_updated_at",
    "X-PRICE-AS-TEXT": "bad_price",
}
GOOD = 150


@pytest.fixture(scope="module")
def catalog(emulators: Emulators) -> str:
    ddb = aws_emulator.aws_client("dynamodb", emulators.dynamodb)
    aws_emulator.ensure_products_table(emulators.dynamodb, TABLE)
    items = [good_item(i) for i in range(1, GOOD + 1)] + list(SPECIAL.values())
    for start in range(0, len(items), 25):
        request: Any = {TABLE: [{"PutRequest": {"Item": it}} for it in items[start : start + 25]]}
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems")
    return emulators.dynamodb


def plain_count(endpoint: str) -> int:
    ddb = aws_emulator.aws_client("dynamodb", endpoint)
    total, kwargs = 0, {"TableName": TABLE, "Select": "COUNT"}
    while True:
        page = ddb.scan(**kwargs)  # type: ignore[arg-type]
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run(endpoint: str, staging: Staging, **kwargs: Any) -> Any:
    client = aws_emulator.aws_client("dynamodb", endpoint)
    return extract_products(D, dynamodb=client, staging=staging, table=TABLE, **kwargs)


def test_snapshot_counts_order_and_quarantine(catalog: str, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    result = run(catalog, staging, segments=3, page_limit=17)
    products = staging.read_table("products", D, "products")
    quarantine = staging.read_table("products", D, "quarantine")

    assert result.rows_in == plain_count(catalog) == GOOD + len(SPECIAL)
    assert result.rows_loaded == products.num_rows == GOOD + 2
    assert result.rows_quarantined == len(QUARANTINED)
    ids = products.column("product_id").to_pylist()
    assert ids == sorted(ids)
    reasons = {r["record_key"]: r["reason"] for r in quarantine.to_pylist()}
    assert reasons == QUARANTINED
    manifest = staging.read_manifest("products", D)
    assert manifest.counts["rows_in"] == result.rows_in


def test_prices_attributes_and_optional_fields_are_exact(catalog: str, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    run(catalog, staging)
    rows = {r["product_id"]: r for r in staging.read_table("products", D, "products").to_pylist()}
    exact = rows["X-EXACT"]
    assert exact["price"] == Decimal("1234567.8912")
    assert exact["updated_at"] == datetime(2025, 3, 3, 21, 30, 0, 500000, tzinfo=UTC)
    attributes = json.loads(exact["attributes"], parse_float=Decimal)
    assert attributes == {
        "color": "réd",
        "dims": {"h": Decimal("2.50"), "w": 10},
        "tags": ["a", Decimal("1E+2"), True, None],
        "weight_g": Decimal("0.1"),
    }
    assert rows["X-NO-BRAND"]["brand"] is None and rows["X-NO-BRAND"]["attributes"] is None
    assert rows["X-NO-BRAND"]["price"] == Decimal("0.10")
    for i in range(1, GOOD + 1):
        assert rows[f"P{i:05d}"]["price"] == Decimal(f"{i}.{i % 100:02d}")
        assert rows[f"P{i:05d}"]["active"] is (i % 7 != 0)


def test_a_second_snapshot_is_identical_parquet(catalog: str, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    run(catalog, staging, segments=4)
    first = staging.read_manifest("products", D)
    run(catalog, staging, segments=1)
    second = staging.read_manifest("products", D)
    for name in ("products", "quarantine"):
        assert [f.sha256 for f in first.tables[name].files] == [
            f.sha256 for f in second.tables[name].files
        ]


def test_snapshot_staged_on_s3(catalog: str, emulators: Emulators, tmp_path: Path) -> None:
    s3 = Staging.from_uri(f"s3://{BUCKET}/stage", s3=aws_emulator.aws_client("s3", emulators.s3))
    local = Staging.from_uri(str(tmp_path / "staging"))
    result = run(catalog, s3)
    run(catalog, local)
    assert result.manifest_uri == f"s3://{BUCKET}/stage/raw/products/dt=2025-03-04/_manifest.json"
    assert s3.read_table("products", D, "products").equals(
        local.read_table("products", D, "products")
    )


def test_task_glue_uses_the_aws_connection(
    catalog: str, emulators: Emulators, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shopflow.tasks import extract

    extra = {
        "region_name": "us-east-1",
        "endpoint_url": "http://127.0.0.1:1",  # overridden per service below
        "service_config": {
            "s3": {"endpoint_url": emulators.s3},
            "dynamodb": {"endpoint_url": catalog},
        },
        "products_table": TABLE,
    }
    conn = {"conn_type": "aws", "login": "test", "password": "test", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_AWS", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW_VAR_SHOPFLOW_STAGING_URI", f"s3://{BUCKET}/glue")
    summary = extract.extract_products(D, run_id="scheduled__x")
    assert summary["source"] == "products"
    assert summary["rows_in"] == plain_count(catalog)
    assert (
        summary["manifest_uri"] == f"s3://{BUCKET}/glue/raw/products/dt=2025-03-04/_manifest.json"
    )
    s3 = Staging.from_uri(f"s3://{BUCKET}/glue", s3=aws_emulator.aws_client("s3", emulators.s3))
    assert s3.read_manifest("products", D).run_id == "scheduled__x"
