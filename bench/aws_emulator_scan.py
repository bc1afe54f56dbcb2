"""Benchmark the DynamoDB emulators on the catalog workload, and moto's S3 on clickstream files.

For each DynamoDB candidate (moto server, dynalite) it loads N product items
(the S3 shape of docs/data-contract.md) with batch_write_item into a fresh table,
then does a full parallel scan (4 segments, paginated, one boto3 client per
segment), and checks the scan returns every item with exact prices. Each
measurement repeats; the medians are printed. Usage (all options: ``--help``):

    .venv/bin/python bench/aws_emulator_scan.py --items 20000 --repeat 5 --engines moto,dynalite
"""

from __future__ import annotations

import argparse
import gzip
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from shopflow_local.devstack import aws_emulator
from shopflow_local.devstack.process import free_port
from shopflow_local.home import shopflow_home

TABLE = "products_bench"
BUCKET = "bench-bucket"
CATEGORIES = ("apparel", "shoes", "home", "garden", "toys", "books", "electronics", "beauty")
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD")
ENGINES: dict[str, aws_emulator.DynamoDBEngine] = {"moto": "moto", "dynalite": "dynalite"}


def product_items(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """count catalog items as DynamoDB AttributeValue maps."""
    rng = random.Random(seed)
    items = []
    for i in range(count):
        cents = rng.randint(99, 99_999)
        item: dict[str, Any] = {
            "product_id": {"S": f"P{i:07d}"},
            "sku": {"S": f"SKU-{rng.randint(0, 10**8):08d}"},
            "name": {"S": f"Product {i} {rng.choice(CATEGORIES)} item"},
            "category": {"S": rng.choice(CATEGORIES)},
            "price": {"N": f"{cents // 100}.{cents % 100:02d}"},
            "currency": {"S": rng.choice(CURRENCIES)},
            "active": {"BOOL": rng.random() > 0.05},
            "updated_at": {
                "S": f"2024-03-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z"
            },
        }
        if rng.random() > 0.1:
            item["brand"] = {"S": f"Brand{rng.randint(1, 400)}"}
        if rng.random() > 0.2:
            item["attributes"] = {
                "M": {
                    "color": {"S": rng.choice(("red", "blue", "black", "white"))},
                    "weight_g": {"N": str(rng.randint(10, 5000))},
                    "tags": {"L": [{"S": f"tag{rng.randint(1, 50)}"} for _ in range(3)]},
                }
            }
        items.append(item)
    return items


def chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load(endpoint: str, items: list[dict[str, Any]]) -> None:
    """Recreate the table and batch-write every item, retrying unprocessed ones."""
    ddb = aws_emulator.aws_client("dynamodb", endpoint)
    if TABLE in ddb.list_tables()["TableNames"]:
        ddb.delete_table(TableName=TABLE)
        ddb.get_waiter("table_not_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1})
    aws_emulator.ensure_products_table(endpoint, TABLE)
    for batch in chunks(items, 25):
        request: Any = {TABLE: [{"PutRequest": {"Item": item}} for item in batch]}
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems")


def scan_segment(client: Any, segment: int, total: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": TABLE, "Segment": segment, "TotalSegments": total}
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def parallel_scan(clients: list[Any]) -> list[dict[str, Any]]:
    """Full scan, one thread and client per segment."""
    total = len(clients)
    with ThreadPoolExecutor(total) as pool:
        parts = pool.map(lambda seg: scan_segment(clients[seg], seg, total), range(total))
        return [item for part in parts for item in part]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench_dynamodb(
    engine: aws_emulator.DynamoDBEngine, items: list[dict[str, Any]], repeat: int, segments: int
) -> dict[str, list[float]]:
    expected = {i["product_id"]["S"]: Decimal(i["price"]["N"]) for i in items}
    with tempfile.TemporaryDirectory() as run:
        run_dir = Path(run)
        start_s, endpoint = timed(
            lambda: aws_emulator.start_dynamodb(
                free_port(), run_dir, shopflow_home(), engine=engine
            )
        )
        loads, scans = [], []
        try:
            for _ in range(repeat):
                loads.append(timed(lambda: load(endpoint, items))[0])
                clients = [aws_emulator.aws_client("dynamodb", endpoint) for _ in range(segments)]
                seconds, got = timed(partial(parallel_scan, clients))
                scans.append(seconds)
                prices = {i["product_id"]["S"]: Decimal(i["price"]["N"]) for i in got}
                assert len(got) == len(items) and prices == expected, f"{engine}: wrong scan"
        finally:
            aws_emulator.stop_all(run_dir)
    return {"start": [start_s], "load": loads, "scan": scans}


def put_all(s3: Any, keys: list[str], body: bytes) -> None:
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def get_all(s3: Any, prefix: str) -> int:
    """List prefix and read every object; return the bytes read."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sum(
        len(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read())
        for obj in listed.get("Contents", [])
    )


def bench_s3(repeat: int, files: int = 24, size: int = 2 << 20) -> dict[str, list[float]]:
    """moto S3: put, list and get `files` gzip objects of `size` bytes under one dt= prefix."""
    body = gzip.compress(random.Random(1).randbytes(size), compresslevel=1)
    prefix = "clickstream/dt=2024-03-01/"
    keys = [f"{prefix}hour={hour:02d}/part-0.json.gz" for hour in range(files)]
    with tempfile.TemporaryDirectory() as run:
        run_dir = Path(run)
        endpoint = aws_emulator.start_s3(free_port(), run_dir)
        puts, gets = [], []
        try:
            aws_emulator.ensure_bucket(endpoint, BUCKET)
            s3 = aws_emulator.aws_client("s3", endpoint)
            for _ in range(repeat):
                puts.append(timed(partial(put_all, s3, keys, body))[0])
                seconds, read = timed(partial(get_all, s3, prefix))
                assert read == files * len(body), "S3 read back the wrong size"
                gets.append(seconds)
        finally:
            aws_emulator.stop_all(run_dir)
    return {"put": puts, "list+get": gets}


def report(name: str, figures: dict[str, list[float]]) -> None:
    for step, values in figures.items():
        print(
            f"{name:<18} {step:<9} median {statistics.median(values):7.2f} s"
            f"   min {min(values):7.2f}   max {max(values):7.2f}   n={len(values)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--engines", default="moto,dynalite")
    parser.add_argument("--no-s3", action="store_true", help="skip the moto S3 measurement")
    args = parser.parse_args()
    items = product_items(args.items)
    print(f"{args.items} items, {args.segments} segments, {args.repeat} repeats")
    for name in args.engines.split(","):
        if name not in ENGINES:
            parser.error(f"unknown engine {name}")
        report(f"dynamodb/{name}", bench_dynamodb(ENGINES[name], items, args.repeat, args.segments))
    if not args.no_s3:
        report("s3/moto 24x2MiB", bench_s3(args.repeat))


if __name__ == "__main__":
    main()
