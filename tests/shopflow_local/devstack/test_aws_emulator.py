"""The local S3 (moto) and DynamoDB (dynalite) as real background servers, driven by boto3."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

import shopflow
from shopflow.errors import ShopflowError
from shopflow_local.devstack import aws_emulator
from shopflow_local.devstack.aws import dynalite
from shopflow_local.devstack.process import free_port, port_open, read_pid

pytestmark = pytest.mark.integration

SRC = Path(shopflow.__file__).resolve().parents[1]
BUCKET = "shopflow-test"
PRICES = [Decimal("19.99"), Decimal("0.10"), Decimal("1234567.89"), Decimal("0.333333333333")]


@dataclass
class Emulators:
    s3: str
    dynamodb: str
    run_dir: Path
    home: Path


@pytest.fixture(scope="module")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    root = tmp_path_factory.mktemp("aws")
    run_dir, home = root / "run", root / "home"
    try:
        s3 = aws_emulator.start_s3(free_port(), run_dir)
        dynamodb = aws_emulator.start_dynamodb(free_port(), run_dir, home)
        yield Emulators(s3, dynamodb, run_dir, home)
    finally:
        aws_emulator.stop_all(run_dir)


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def alive(pid: int) -> bool:
    """True while pid runs (a zombie left to a non-reaping init counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def ndjson_gz(events: list[dict[str, Any]]) -> bytes:
    return gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode())


def test_s3_clickstream_objects_round_trip(emulators: Emulators) -> None:
    aws_emulator.ensure_bucket(emulators.s3, BUCKET)
    aws_emulator.ensure_bucket(emulators.s3, BUCKET)  # idempotent
    s3 = aws_emulator.aws_client("s3", emulators.s3)
    files = {
        f"clickstream/dt=2024-03-01/hour={hour:02d}/part-{part}.json.gz": [
            {"event_id": f"e-{hour}-{part}-{i}", "event_type": "page_view", "ts": "x"}
            for i in range(3)
        ]
        for hour in (0, 1, 23)
        for part in (0, 1)
    }
    files["clickstream/dt=2024-03-02/hour=00/part-0.json.gz"] = [{"event_id": "other-day"}]
    for key, events in files.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=ndjson_gz(events))

    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix="clickstream/dt=2024-03-01/", PaginationConfig={"PageSize": 2}
    )
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    assert sorted(keys) == sorted(k for k in files if "dt=2024-03-01/" in k)
    for key in keys:
        body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        assert [json.loads(line) for line in body.decode().splitlines()] == files[key]
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]


def product(i: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "product_id": f"P{i:05d}",
        "sku": f"SKU-{i}",
        "name": f"Product {i}",
        "category": "shoes",
        "price": PRICES[i % len(PRICES)],
        "currency": "EUR",
        "active": i % 7 != 0,
        "updated_at": "2024-03-01T10:00:00Z",
        "attributes": {"color": "red", "weight_g": Decimal(i), "tags": ["a", "b"]},
    }
    if i % 3:
        item["brand"] = "Acme"
    return item


def parallel_scan(endpoint: str, table: str, segments: int = 4) -> list[dict[str, Any]]:
    clients = [aws_emulator.aws_client("dynamodb", endpoint) for _ in range(segments)]
    deserialize = TypeDeserializer().deserialize

    def segment(seg: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table, "Segment": seg, "TotalSegments": segments}
        while True:
            page = clients[seg].scan(Limit=7, **kwargs)
            rows += [{k: deserialize(v) for k, v in item.items()} for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    with ThreadPoolExecutor(segments) as pool:
        return [row for rows in pool.map(segment, range(segments)) for row in rows]


def write_products(endpoint: str, table: str, items: list[dict[str, Any]]) -> None:
    ddb = aws_emulator.aws_client("dynamodb", endpoint)
    serialize = TypeSerializer().serialize
    for start in range(0, len(items), 25):
        batch = items[start : start + 25]
        request: Any = {
            table: [
                {"PutRequest": {"Item": {k: serialize(v) for k, v in item.items()}}}
                for item in batch
            ]
        }
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems")


def test_dynamodb_catalog_scan_keeps_exact_prices(emulators: Emulators) -> None:
    aws_emulator.ensure_products_table(emulators.dynamodb)
    aws_emulator.ensure_products_table(emulators.dynamodb)  # idempotent
    described = aws_emulator.aws_client("dynamodb", emulators.dynamodb).describe_table(
        TableName="products"
    )["Table"]
    assert described["KeySchema"] == [{"AttributeName": "product_id", "KeyType": "HASH"}]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    items = [product(i) for i in range(130)]
    write_products(emulators.dynamodb, "products", items)

    scanned = parallel_scan(emulators.dynamodb, "products")

    assert len(scanned) == len(items)
    assert sorted(scanned, key=lambda row: row["product_id"]) == items
    by_id = {row["product_id"]: row for row in scanned}
    assert by_id["P00000"]["price"] == Decimal("19.99")
    assert str(by_id["P00003"]["price"]) == "0.333333333333"
    assert "brand" not in by_id["P00003"]


def test_ensure_products_table_rejects_another_key_schema(emulators: Emulators) -> None:
    ddb = aws_emulator.aws_client("dynamodb", emulators.dynamodb)
    ddb.create_table(
        TableName="products_wrong",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(ShopflowError, match="another key schema"):
        aws_emulator.ensure_products_table(emulators.dynamodb, "products_wrong")


def test_healthy(emulators: Emulators) -> None:
    assert aws_emulator.healthy(emulators.s3)
    assert aws_emulator.healthy(emulators.dynamodb)
    assert not aws_emulator.healthy(aws_emulator.endpoint_url(free_port()))


def test_busy_port_is_a_one_line_error(emulators: Emulators, tmp_path: Path) -> None:
    with pytest.raises(ShopflowError) as s3_error:
        aws_emulator.start_s3(port_of(emulators.dynamodb), tmp_path)
    with pytest.raises(ShopflowError) as ddb_error:
        aws_emulator.start_dynamodb(port_of(emulators.s3), tmp_path, emulators.home)
    for error in (s3_error, ddb_error):
        assert "already in use" in str(error.value)
        assert "\n" not in str(error.value)
    assert not list(tmp_path.glob("*.pid"))


def test_dynalite_install_is_skipped_when_the_lock_is_unchanged(emulators: Emulators) -> None:
    install_dir = emulators.home / "node"
    assert dynalite.is_installed(install_dir)
    marker = install_dir / "node_modules" / "kept-by-skip"
    marker.write_text("npm ci would delete this")

    assert dynalite.ensure_installed(install_dir) == dynalite.cli_path(install_dir)
    assert marker.exists()
    (install_dir / dynalite.STAMP).write_text("an older lock\n")
    assert not dynalite.is_installed(install_dir)


def test_moto_can_stand_in_for_dynamodb(tmp_path: Path) -> None:
    endpoint = aws_emulator.start_dynamodb(free_port(), tmp_path, tmp_path, engine="moto")
    try:
        aws_emulator.ensure_products_table(endpoint)
        write_products(endpoint, "products", [product(0), product(3)])
        prices = sorted(row["price"] for row in parallel_scan(endpoint, "products"))
        assert prices == [Decimal("0.333333333333"), Decimal("19.99")]
    finally:
        assert aws_emulator.stop_all(tmp_path) == ["dynamodb"]
    assert not (tmp_path / "node").exists()  # moto needs no npm


def test_emulators_outlive_their_starter_and_stop_cleanly(
    emulators: Emulators, tmp_path: Path
) -> None:
    s3_port, ddb_port = free_port(), free_port()
    starter = (
        "import sys; from pathlib import Path; "
        "from shopflow_local.devstack import aws_emulator as a; "
        f"run = Path({str(tmp_path)!r}); a.start_s3({s3_port}, run); "
        f"a.start_dynamodb({ddb_port}, run, Path({str(emulators.home)!r}))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    try:
        subprocess.run([sys.executable, "-c", starter], env=env, check=True, timeout=120)
        pids = [read_pid(tmp_path / f"{name}.pid") for name in aws_emulator.NAMES]
        assert all(pid is not None and alive(pid) for pid in pids)
        assert aws_emulator.healthy(aws_emulator.endpoint_url(s3_port))
        assert aws_emulator.healthy(aws_emulator.endpoint_url(ddb_port))
    finally:
        stopped = aws_emulator.stop_all(tmp_path)

    assert stopped == ["s3", "dynamodb"]
    assert not any(pid is not None and alive(pid) for pid in pids)
    assert not port_open(s3_port) and not port_open(ddb_port)
    assert aws_emulator.stop_all(tmp_path) == []


def test_an_emulator_that_exits_at_start_is_reported(tmp_path: Path) -> None:
    install_dir = tmp_path / "home" / "node"
    dynalite.cli_path(install_dir).parent.mkdir(parents=True)
    dynalite.cli_path(install_dir).write_text("console.error('broken'); process.exit(3)\n")
    (install_dir / dynalite.STAMP).write_text(dynalite.lock_digest() + "\n")

    with pytest.raises(ShopflowError, match="did not start") as error:
        aws_emulator.start_dynamodb(free_port(), tmp_path / "run", tmp_path / "home")
    assert "dynamodb.log" in str(error.value)
    assert "broken" in (tmp_path / "run" / "dynamodb.log").read_text()
    assert not (tmp_path / "run" / "dynamodb.pid").exists()
