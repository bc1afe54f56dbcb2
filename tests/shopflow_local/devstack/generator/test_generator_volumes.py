"""Volumes follow the data contract's scale table (per day, linear in the scale factor)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow.compute as pc
import pytest

from shopflow_local.devstack.generator import (
    GeneratorConfig,
    catalog,
    customers,
    generate_day,
    orders,
)
from shopflow_local.devstack.generator.config import day_index
from shopflow_local.devstack.generator.ids import ORDER_BLOCK

pytestmark = pytest.mark.unit

SCALE = 0.1
CFG = GeneratorConfig(seed=3, scale=SCALE)
DAY = date(2025, 1, 12)


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return generate_day(DAY, CFG)


def near(value: float, expected: float, tolerance: float) -> bool:
    return abs(value - expected) <= tolerance * expected


def test_base_populations() -> None:
    assert customers.base_customers(CFG).num_rows == 20_000
    assert catalog.base_catalog(CFG).num_rows == 2_000


def test_orders_and_lines_per_day(data) -> None:  # type: ignore[no-untyped-def]
    placed_today = data.orders.filter(
        pc.equal(pc.divide(data.orders["order_id"], ORDER_BLOCK), day_index(DAY) + 1)
    )
    assert near(placed_today.num_rows, 50_000 * SCALE, 0.05)
    today = orders.placed(day_index(DAY), CFG)
    assert near(len(today.lines.order_row) / len(today.order_id), 2.5, 0.05)
    assert set(np.bincount(today.lines.order_row)) <= {1, 2, 3, 4, 5}


def test_status_updates_reach_about_30_percent_of_the_previous_week(data) -> None:  # type: ignore[no-untyped-def]
    index = day_index(DAY)
    previous = sum(len(orders.placed(index - k, CFG).order_id) for k in range(1, 8))
    placed_day = pc.subtract(pc.divide(data.orders["order_id"], ORDER_BLOCK), 1)
    updates = pc.sum(pc.less(placed_day, index)).as_py()
    assert 0.25 <= updates / previous <= 0.35


def test_customers_products_interactions_clicks(data) -> None:  # type: ignore[no-untyped-def]
    signups = customers.new_customer_ids(day_index(DAY), CFG)
    assert near(len(signups), 1_000 * SCALE, 0.35)
    # the day's 6 rates, plus the 5 non-USD rates of each earlier day (up to 14)
    own = data.fx_rates.filter(pc.equal(data.fx_rates.column("rate_date"), DAY))
    assert own.num_rows == 6
    earlier = min(day_index(DAY), 14)
    assert data.fx_rates.num_rows == 6 + 5 * earlier
    assert near(data.products.num_rows, 0.01 * 2_000, 0.6)
    assert near(data.interactions.num_rows, 200_000 * SCALE, 0.03)
    assert near(data.click_events.num_rows, 1_000_000 * SCALE, 0.1)
    sessions = pc.count_distinct(data.click_events["session_id"]).as_py()
    assert near(sessions, 100_000 * SCALE, 0.15)
    assert sorted(set(data.click_lines["file_hour"].to_pylist())) == list(range(24))


def test_volumes_scale_linearly() -> None:
    small = generate_day(DAY, GeneratorConfig(seed=3, scale=SCALE / 4))
    big = generate_day(DAY, CFG)
    for name in ("interactions", "click_events"):
        ratio = getattr(big, name).num_rows / getattr(small, name).num_rows
        assert near(ratio, 4, 0.1), name
