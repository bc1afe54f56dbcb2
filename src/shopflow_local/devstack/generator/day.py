"""One day of all four sources, generated in memory as Arrow tables (no I/O)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from shopflow_local.devstack.generator import (
    catalog,
    clickstream,
    customers,
    fx,
    interactions,
    orders,
)
from shopflow_local.devstack.generator.config import GeneratorConfig, day_index


@dataclass(frozen=True)
class DayData:
    """What day D writes to each source.

    customers/orders/order_items/fx_rates: S1 rows to upsert (newest updated_at wins);
    products: S3 items changed on D; interactions: S2's file dt=D; click_lines:
    (file_hour, line) of every line under S4's dt=D; click_events: the distinct events
    behind those lines with the dirt each got (extra_field, malformed,
    duplicate_file_hour), for tests and summaries.
    """

    day: date
    customers: pa.Table
    orders: pa.Table
    order_items: pa.Table
    fx_rates: pa.Table
    products: pa.Table
    interactions: pa.Table
    click_lines: pa.Table
    click_events: pa.Table
    seconds: dict[str, float] = field(default_factory=dict, compare=False)
    """Generation time per source; not part of the data."""

    def row_counts(self) -> dict[str, int]:
        """Rows per table of this day."""
        return {
            "customers": self.customers.num_rows,
            "orders": self.orders.num_rows,
            "order_items": self.order_items.num_rows,
            "fx_rates": self.fx_rates.num_rows,
            "products": self.products.num_rows,
            "interactions": self.interactions.num_rows,
            "click_lines": self.click_lines.num_rows,
        }


def generate_day(day: date, cfg: GeneratorConfig) -> DayData:
    """Day D of every source: a pure function of (cfg, D), whatever was generated before.

    The whole day in memory; ``generate.stream_day`` makes the same day a source at a time.
    """
    index = day_index(day)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    sales = orders.orders_of_day(index, cfg)
    people = customers.customers_of_day(index, cfg, sales.earlier_signups)
    rates = fx.fx_rows_with_history(index, cfg)
    lap("sales")
    products = catalog.changed_products(index, cfg)
    lap("catalog")
    marketing = interactions.interactions_of_day(index, cfg)
    lap("interactions")
    lines, events = clickstream.clickstream_of_day(index, cfg)
    lap("clickstream")
    return DayData(
        day=day,
        customers=people,
        orders=sales.orders,
        order_items=sales.items,
        fx_rates=rates,
        products=products,
        interactions=marketing,
        click_lines=lines,
        click_events=events,
        seconds=seconds,
    )
