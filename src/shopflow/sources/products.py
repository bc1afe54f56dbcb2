"""Product catalog (data contract, S3: DynamoDB ``products``) to staging: a full snapshot.

A parallel scan (Segment/TotalSegments, one thread per segment) through the
low-level client, so numbers arrive as strings and become exact decimals; no
float ever holds a price. ``attributes`` (M) is staged as canonical JSON text
(sorted keys, numbers verbatim), a missing ``brand`` as null. Rows are sorted by
``product_id``. An item that lacks a required attribute or carries a value of the
wrong type goes to the ``quarantine`` table with a reason.
"""

from __future__ import annotations

import base64
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from shopflow.sources.quarantine import QUARANTINE_SCHEMA, RAW_MAX_CHARS
from shopflow.sources.result import ExtractResult
from shopflow.staging import Staging

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SOURCE = "products"
PRICE = pa.decimal128(18, 4)
"""Wider than order prices so any sane catalog price fits; more digits fail the extract."""

PRODUCTS_SCHEMA = pa.schema(
    [
        pa.field("product_id", pa.string(), nullable=False),
        pa.field("sku", pa.string()),
        pa.field("name", pa.string()),
        pa.field("category", pa.string()),
        pa.field("brand", pa.string()),
        pa.field("price", PRICE),
        pa.field("currency", pa.string()),
        pa.field("active", pa.bool_()),
        pa.field("updated_at", pa.timestamp("us", tz="UTC")),
        pa.field("attributes", pa.string()),
    ]
)
REQUIRED_STRINGS = ("sku", "name", "category", "currency", "updated_at")
_JSON_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")

Item = dict[str, Any]


# -- item conversion (pure) ---------------------------------------------------------


def attribute_json(value: dict[str, Any]) -> str:
    """Canonical JSON text of a DynamoDB AttributeValue: sorted keys, numbers exact."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return json.dumps(inner, ensure_ascii=False)
    if kind == "N":
        return inner if _JSON_NUMBER.match(inner) else json.dumps(inner)
    if kind == "BOOL":
        return "true" if inner else "false"
    if kind == "NULL":
        return "null"
    if kind == "B":
        return json.dumps(base64.b64encode(inner).decode())
    if kind == "M":
        parts = (
            f"{json.dumps(k, ensure_ascii=False)}:{attribute_json(v)}"
            for k, v in sorted(inner.items())
        )
        return "{" + ",".join(parts) + "}"
    if kind == "L":
        return "[" + ",".join(attribute_json(v) for v in inner) + "]"
    if kind in {"SS", "NS", "BS"}:
        members = [{kind[0]: v} for v in inner]
        return "[" + ",".join(sorted(attribute_json(v) for v in members)) + "]"
    raise ValueError(f"unknown DynamoDB type {kind}")


def _fits(value: Decimal, typ: pa.Decimal128Type) -> bool:
    """True when value is finite and fits precision/scale without rounding."""
    if not value.is_finite():
        return False
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > typ.scale:
        return False
    return abs(value) < Decimal(10) ** (typ.precision - typ.scale)


def _timestamp(text: str) -> datetime:
    ts = datetime.fromisoformat(text)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def convert_item(item: Item) -> tuple[dict[str, Any] | None, str | None]:
    """(row, None) for a good item, (None, reason) for one to quarantine."""
    pid = item.get("product_id", {}).get("S")
    if not pid:
        return None, "missing_product_id"
    row: dict[str, Any] = {"product_id": pid}
    for name in REQUIRED_STRINGS:
        if name not in item:
            return None, f"missing_{name}"
        if "S" not in item[name]:
            return None, f"bad_{name}"
        row[name] = item[name]["S"]
    brand = item.get("brand")
    if brand is not None and "S" not in brand and "NULL" not in brand:
        return None, "bad_brand"
    row["brand"] = None if brand is None else brand.get("S")
    price = item.get("price")
    if price is None:
        return None, "missing_price"
    try:
        row["price"] = Decimal(price["N"])
    except (KeyError, InvalidOperation):
        return None, "bad_price"
    if not _fits(row["price"], PRICE):
        return None, "bad_price"
    if "active" not in item:
        return None, "missing_active"
    if "BOOL" not in item["active"]:
        return None, "bad_active"
    row["active"] = bool(item["active"]["BOOL"])
    try:
        row["updated_at"] = _timestamp(row["updated_at"])
    except ValueError:
        return None, "bad_updated_at"
    attributes = item.get("attributes")
    if attributes is not None and "M" not in attributes and "NULL" not in attributes:
        return None, "bad_attributes"
    row["attributes"] = (
        None if attributes is None or "NULL" in attributes else attribute_json(attributes)
    )
    return row, None


def to_tables(items: list[Item]) -> tuple[pa.Table, pa.Table]:
    """(products, quarantine) tables, both sorted by product id; prices exact or an error."""
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for item in items:
        row, reason = convert_item(item)
        if row is not None:
            rows.append(row)
        else:
            key = str(item.get("product_id", {}).get("S", ""))
            raw = attribute_json({"M": item})[:RAW_MAX_CHARS]
            bad.append({"record_key": key, "raw": raw, "reason": reason})
    rows.sort(key=lambda r: r["product_id"])
    bad.sort(key=lambda r: (r["record_key"], r["raw"]))
    products = pa.Table.from_pylist(rows, schema=PRODUCTS_SCHEMA)
    quarantine = pa.Table.from_pylist(bad, schema=QUARANTINE_SCHEMA)
    return products, quarantine


# -- I/O ------------------------------------------------------------------------------


def scan_segment(
    client: DynamoDBClient, table: str, segment: int, total: int, page_limit: int | None = None
) -> tuple[list[Item], int]:
    """Every item of one scan segment, paginated; and the response bytes."""
    items: list[Item] = []
    size = 0
    kwargs: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": total,
        "ConsistentRead": True,
    }
    if page_limit is not None:
        kwargs["Limit"] = page_limit
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        headers = page.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        size += int(headers.get("content-length", 0) or 0)
        if "LastEvaluatedKey" not in page:
            return items, size
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def parallel_scan(
    client: DynamoDBClient, table: str, segments: int, page_limit: int | None = None
) -> tuple[list[Item], int]:
    """Full scan, one thread per segment (boto3 clients are thread-safe); items and bytes."""
    if segments < 1:
        raise ValueError("segments must be >= 1")
    with ThreadPoolExecutor(max_workers=segments) as pool:
        parts = list(
            pool.map(
                lambda seg: scan_segment(client, table, seg, segments, page_limit),
                range(segments),
            )
        )
    return [item for items, _ in parts for item in items], sum(size for _, size in parts)


def extract_products(
    business_date: date,
    *,
    dynamodb: DynamoDBClient,
    staging: Staging,
    table: str = "products",
    segments: int = 4,
    run_id: str | None = None,
    page_limit: int | None = None,
) -> ExtractResult:
    """Stage a full snapshot of the catalog under business_date (tables products, quarantine).

    page_limit caps items per scan page (DynamoDB pages at 1 MB anyway); for tests.
    """
    started = time.perf_counter()
    items, bytes_in = parallel_scan(dynamodb, table, segments, page_limit)
    products, quarantine = to_tables(items)
    counts = {
        "rows_in": len(items),
        "rows_loaded": products.num_rows,
        "rows_duplicate": 0,
        "rows_quarantined": quarantine.num_rows,
    }
    with staging.writer(SOURCE, business_date, run_id=run_id) as writer:
        writer.write("products", products)
        writer.write("quarantine", quarantine)
        writer.set_counts(**counts)
    return ExtractResult(
        source=SOURCE,
        business_date=business_date,
        manifest_uri=writer.manifest_uri,
        bytes_in=bytes_in,
        seconds=time.perf_counter() - started,
        tables={"products": products.num_rows, "quarantine": quarantine.num_rows},
        **counts,
    )
