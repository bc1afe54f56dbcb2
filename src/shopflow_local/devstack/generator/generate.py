"""``shopflow generate``: write generated days into the four sources.

Determinism and order independence: the same (seed, date, SF) always gives the
same data, whatever order days are generated in; re-generating a day replaces it,
never duplicates it. How:

- Every random draw comes from a stream keyed by (seed, day index since EPOCH,
  stream id[, hour]) or from a hash of (seed, entity id[, day]); never from state
  left by another day. Day D regenerates the few earlier days it depends on (orders
  of D-7..D-1 for status updates, clickstream sessions of D-1 and D+1 that cross
  midnight) instead of reading them back.
- Ids come from blocks reserved per day (customers, orders) or from D's streams.
- Writes are upserts in which the newest ``updated_at`` wins (S1, DynamoDB), or
  replace day D's whole partition (the Parquet file dt=D, S3 keys under dt=D).
- Day D references only base customers or customers it creates itself (plus the
  creation rows of the customers its order updates reference, re-written with their
  own older ``updated_at``), so any subset of days is referentially intact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import cast

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from shopflow.errors import ShopflowError
from shopflow_local.devstack.aws_emulator import ensure_bucket
from shopflow_local.devstack.generator import (
    catalog,
    clickstream,
    customers,
    fx,
    interactions,
    orders,
)
from shopflow_local.devstack.generator.config import GeneratorConfig, day_index
from shopflow_local.devstack.generator.day import DayData
from shopflow_local.devstack.generator.targets import Targets
from shopflow_local.devstack.generator.writers.catalog_dynamodb import (
    prepare_catalog,
    write_changes,
)
from shopflow_local.devstack.generator.writers.clickstream_s3 import (
    hour_files,
    write_hour_files,
    write_hour_pieces,
)
from shopflow_local.devstack.generator.writers.interactions_files import write_interactions
from shopflow_local.devstack.generator.writers.sales_db import prepare_sales, write_sales

LARGE_SCALE = 2.0
"""From this scale on, orders and sessions are computed without their per-day caches:
those save recomputing a few neighbouring days but would hold gigabytes."""
COLUMNS = ("customers", "orders", "order_items", "fx_rates", "products", "interactions",
           "click_lines", "click_objects")  # fmt: skip


@dataclass(frozen=True)
class DaySummary:
    """Rows written to each source for one day, and seconds spent per step."""

    day: date
    rows: dict[str, int]
    seconds: dict[str, float] = field(compare=False)
    """generate_<source> and write_<source> per step; write_all for the concurrent writes."""

    @property
    def wall_seconds(self) -> float:
        """Generation plus the (concurrent) writes."""
        steps = self.seconds
        return sum(v for k, v in steps.items() if k.startswith("generate_")) + steps.get(
            "write_all", 0.0
        )


@dataclass(frozen=True)
class GenerateSummary:
    """What ``generate`` wrote, day by day."""

    cfg: GeneratorConfig
    days: tuple[DaySummary, ...]
    seconds: float = field(compare=False)

    def totals(self) -> dict[str, int]:
        """Rows written per source over all days."""
        return {c: sum(d.rows.get(c, 0) for d in self.days) for c in (*COLUMNS, "click_bytes")}

    def __str__(self) -> str:
        head = ["day", *COLUMNS, "seconds"]
        body = [
            [d.day.isoformat(), *(f"{d.rows.get(c, 0):,}" for c in COLUMNS),
             f"{d.wall_seconds:.1f}"]
            for d in self.days
        ]  # fmt: skip
        totals = self.totals()
        body.append(["total", *(f"{totals[c]:,}" for c in COLUMNS), f"{self.seconds:.1f}"])
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        lines = [
            "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
            for row in [head, *body]
        ]
        title = (
            f"generated {len(self.days)} day(s) at scale {self.cfg.scale} (seed {self.cfg.seed})"
        )
        return "\n".join([title, *lines])


def prepare_targets(targets: Targets, cfg: GeneratorConfig) -> None:
    """Schema, bucket, table, folders and the base population; safe to repeat."""
    prepare_sales(targets.sales_url, cfg)
    (targets.api_data_dir / "interactions").mkdir(parents=True, exist_ok=True)
    ensure_bucket(targets.aws_s3_endpoint, targets.bucket)
    prepare_catalog(targets.aws_dynamodb_endpoint, targets.products_table, cfg)


def write_day(data: DayData, targets: Targets) -> DaySummary:
    """Write one generated day, held whole, to the four sources, concurrently."""
    seconds = {f"generate_{k}": v for k, v in data.seconds.items()}

    def timed(name: str, step: Callable[[], dict[str, int]]) -> dict[str, int]:
        start = time.perf_counter()
        result = step()
        seconds[f"write_{name}"] = time.perf_counter() - start
        return result

    def sales() -> dict[str, int]:
        tables = {
            "customers": data.customers,
            "orders": data.orders,
            "order_items": data.order_items,
            "fx_rates": data.fx_rates,
        }
        return write_sales(targets.sales_url, data.day, tables)

    def marketing() -> dict[str, int]:
        write_interactions(targets.api_data_dir, data.day, data.interactions)
        return {"interactions": data.interactions.num_rows}

    def catalog() -> dict[str, int]:
        endpoint, table = targets.aws_dynamodb_endpoint, targets.products_table
        return {"products": write_changes(endpoint, table, data.products)}

    def clicks() -> dict[str, int]:
        endpoint, bucket = targets.aws_s3_endpoint, targets.bucket
        files = hour_files(data.day, data.click_lines).items()
        written = write_hour_files(endpoint, bucket, data.day, files)
        return {f"click_{k}": v for k, v in written.items()}

    steps = {"sales": sales, "interactions": marketing, "catalog": catalog, "clickstream": clicks}
    rows: dict[str, int] = {}
    began = time.perf_counter()
    with ThreadPoolExecutor(len(steps)) as pool:
        futures = [pool.submit(timed, name, step) for name, step in steps.items()]
        for future in futures:
            rows.update(future.result())
    seconds["write_all"] = time.perf_counter() - began
    return DaySummary(data.day, rows, seconds)


def stream_day(
    day: date, cfg: GeneratorConfig, targets: Targets, *, cached: bool = True
) -> DaySummary:
    """``write_day(generate_day(day, cfg))`` one source at a time: each source goes to its
    writer (in the background) as soon as it is made and is dropped once written, and the
    clickstream is made piece by piece as it is written, so little of the day is held at
    once. ``cached=False`` also keeps the orders and session streams out of their caches."""
    index = day_index(day)
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    began = time.perf_counter()

    def timed(name: str, step: Callable[..., object], *args: object) -> object:
        start = time.perf_counter()
        result = step(*args)
        seconds[f"write_{name}"] = time.perf_counter() - start
        return result

    def made(name: str, start: float) -> None:
        seconds[f"generate_{name}"] = time.perf_counter() - start

    with ThreadPoolExecutor(3) as pool:
        start = time.perf_counter()
        sales = orders.orders_of_day(index, cfg, cached=cached)
        tables = {
            "customers": customers.customers_of_day(index, cfg, sales.earlier_signups),
            "orders": sales.orders,
            "order_items": sales.items,
            "fx_rates": fx.fx_rows_with_history(index, cfg),
        }
        del sales
        made("sales", start)
        wrote_sales = pool.submit(timed, "sales", write_sales, targets.sales_url, day, tables)
        del tables
        start = time.perf_counter()
        products = catalog.changed_products(index, cfg)
        made("catalog", start)
        rows["products"] = products.num_rows
        endpoint, table = targets.aws_dynamodb_endpoint, targets.products_table
        wrote_catalog = pool.submit(timed, "catalog", write_changes, endpoint, table, products)
        del products
        start = time.perf_counter()
        marketing = interactions.interactions_of_day(index, cfg)
        made("interactions", start)
        rows["interactions"] = marketing.num_rows
        wrote_marketing = pool.submit(
            timed, "interactions", write_interactions, targets.api_data_dir, day, marketing
        )
        del marketing
        pieces = clickstream.hour_slices(index, cfg, keep_streams=cached)
        endpoint, bucket = targets.aws_s3_endpoint, targets.bucket
        clicks = timed("clickstream", write_hour_pieces, endpoint, bucket, day, pieces)
        rows.update({f"click_{k}": v for k, v in cast(dict[str, int], clicks).items()})
        wrote_marketing.result()
        wrote_catalog.result()
        rows.update(cast(dict[str, int], wrote_sales.result()))
    made_seconds = sum(v for k, v in seconds.items() if k.startswith("generate_"))
    seconds["write_all"] = time.perf_counter() - began - made_seconds
    return DaySummary(day, rows, seconds)


def generate(
    start: date,
    days: int,
    cfg: GeneratorConfig,
    targets: Targets,
    *,
    progress: bool = True,
) -> GenerateSummary:
    """Generate days [start, start + days) into targets (preparing them first)."""
    if days < 1:
        raise ShopflowError(f"days must be at least 1, got {days}")
    day_index(start)
    began = time.perf_counter()
    summaries = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
        disable=not progress,
    ) as bar:
        task = bar.add_task("preparing targets", total=days)
        prepare_targets(targets, cfg)
        for offset in range(days):
            day = start + timedelta(days=offset)
            bar.update(task, description=f"generating {day}")
            summaries.append(stream_day(day, cfg, targets, cached=cfg.scale < LARGE_SCALE))
            bar.advance(task)
        bar.update(task, description="done")
    return GenerateSummary(cfg, tuple(summaries), time.perf_counter() - began)
