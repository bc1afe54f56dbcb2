"""generate_day is a pure function of (config, date): repeatable and independent of other days."""

from __future__ import annotations

from datetime import date

import pytest

from shopflow.errors import ShopflowError
from shopflow_local.devstack.generator import (
    EPOCH,
    GeneratorConfig,
    clickstream,
    generate_day,
    orders,
)

pytestmark = pytest.mark.unit

CFG = GeneratorConfig(seed=7, scale=0.01)
TABLES = ("customers", "orders", "order_items", "fx_rates", "products", "interactions",
          "click_lines", "click_events")  # fmt: skip


def clear_caches() -> None:
    orders.placed.cache_clear()
    clickstream.browse_part.cache_clear()
    clickstream.purchase_part.cache_clear()


def assert_same_day(a, b) -> None:  # type: ignore[no-untyped-def]
    for name in TABLES:
        assert getattr(a, name).equals(getattr(b, name)), name


def test_same_inputs_give_identical_tables() -> None:
    first = generate_day(date(2025, 1, 9), CFG)
    clear_caches()
    second = generate_day(date(2025, 1, 9), CFG)
    assert_same_day(first, second)


def test_a_day_does_not_depend_on_days_generated_before() -> None:
    clear_caches()
    alone = generate_day(date(2025, 1, 9), CFG)
    clear_caches()
    for day in (date(2025, 1, 10), date(2025, 1, 8), date(2025, 1, 2)):
        generate_day(day, CFG)
    after_others = generate_day(date(2025, 1, 9), CFG)
    assert_same_day(alone, after_others)


def test_seed_and_date_change_the_data() -> None:
    base = generate_day(date(2025, 1, 9), CFG)
    other_seed = generate_day(date(2025, 1, 9), GeneratorConfig(seed=8, scale=0.01))
    other_day = generate_day(date(2025, 1, 10), CFG)
    assert not base.orders.equals(other_seed.orders)
    assert not base.interactions.equals(other_day.interactions)
    assert not base.click_lines.equals(other_seed.click_lines)


def test_days_before_the_epoch_are_refused() -> None:
    with pytest.raises(ShopflowError, match="starts at"):
        generate_day(date(2024, 12, 31), CFG)
    assert generate_day(EPOCH, CFG).orders.num_rows > 0


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ShopflowError):
        GeneratorConfig(scale=0)
    with pytest.raises(ShopflowError):
        GeneratorConfig(seed=-1)
