"""S3 writer: the DynamoDB table ``products``.

The base catalog goes in with BatchWriteItem when absent (its last item, written
last, marks it complete); a day's changed products with conditional PutItem, so
the newest ``updated_at`` wins whatever order days come in. Prices are DynamoDB
numbers written from their exact decimal text.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
from botocore.exceptions import ClientError

from shopflow.errors import ShopflowError
from shopflow_local.devstack.aws_emulator import ensure_products_table
from shopflow_local.devstack.generator.catalog import base_catalog, product_ids
from shopflow_local.devstack.generator.config import GeneratorConfig
from shopflow_local.devstack.generator.writers.aws import dynamodb_client

WORKERS = 4
BATCH = 25

Item = dict[str, Any]


def attribute(value: Any) -> dict[str, Any]:
    """A JSON value (Decimals for numbers) as a DynamoDB attribute value."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, Decimal | int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {k: attribute(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"L": [attribute(v) for v in value]}
    if value is None:
        return {"NULL": True}
    raise ShopflowError(f"cannot store {type(value).__name__} in DynamoDB")


def items_of(table: pa.Table) -> list[Item]:
    """DynamoDB items of catalog rows; optional attributes are left out when null."""
    items = []
    for row in table.to_pylist():
        item: Item = {
            "product_id": {"S": row["product_id"]},
            "sku": {"S": row["sku"]},
            "name": {"S": row["name"]},
            "category": {"S": row["category"]},
            "price": {"N": str(row["price"])},
            "currency": {"S": row["currency"]},
            "active": {"BOOL": row["active"]},
            "updated_at": {"S": row["updated_at"]},
        }
        if row["brand"] is not None:
            item["brand"] = {"S": row["brand"]}
        if row["attributes"] is not None:
            item["attributes"] = attribute(json.loads(row["attributes"], parse_float=Decimal))
        items.append(item)
    return items


def prepare_catalog(endpoint: str, table: str, cfg: GeneratorConfig) -> int:
    """Create the table and write the base catalog unless its last item is there."""
    ensure_products_table(endpoint, table)
    ddb = dynamodb_client(endpoint)
    last_id = product_ids(np.array([cfg.volumes.products - 1]), cfg)[0].as_py()
    if "Item" in ddb.get_item(TableName=table, Key={"product_id": {"S": last_id}}):
        return 0
    items = items_of(base_catalog(cfg))
    last = items[-1]
    batches = [items[i : i + BATCH] for i in range(0, len(items) - 1, BATCH)]
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda batch: _batch_write(endpoint, table, batch), batches))
    ddb.put_item(TableName=table, Item=last)
    return len(items)


def _batch_write(endpoint: str, table: str, items: list[Item]) -> None:
    ddb = dynamodb_client(endpoint)
    pending: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
    for attempt in range(10):
        answer = ddb.batch_write_item(RequestItems={table: pending})
        pending = answer.get("UnprocessedItems", {}).get(table, [])
        if not pending:
            return
        time.sleep(0.05 * 2**attempt)
    raise ShopflowError(f"DynamoDB kept {len(pending)} items unprocessed in {table}")


def write_changes(endpoint: str, table: str, changed: pa.Table) -> int:
    """Put day D's product versions where no newer version is stored; items sent."""
    items = items_of(changed)

    def put(batch: list[Item]) -> None:
        ddb = dynamodb_client(endpoint)
        for item in batch:
            try:
                ddb.put_item(
                    TableName=table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(product_id) OR updated_at <= :u",
                    ExpressionAttributeValues={":u": item["updated_at"]},
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    batches = [items[i::WORKERS] for i in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(put, batches))
    return len(items)


def catalog_inventory(endpoint: str, table: str) -> dict[str, int]:
    """Items in the table (a COUNT scan: exact on the emulators and on AWS)."""
    ddb = dynamodb_client(endpoint)
    count = 0
    kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
    while True:
        page = ddb.scan(**kwargs)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return {"products": count}
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
