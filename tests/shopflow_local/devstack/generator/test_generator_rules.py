"""Business rules the generated data keeps: statuses, channels, instants, references."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

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
from shopflow_local.devstack.generator.ids import US_PER_DAY, US_PER_HOUR, creation_day_of, epoch_us
from shopflow_local.devstack.generator.orders import Status

pytestmark = pytest.mark.unit

CFG = GeneratorConfig(seed=5, scale=0.05)
DAY = date(2025, 1, 10)
NEXT = {
    Status.PLACED: {Status.PAID, Status.CANCELLED},
    Status.PAID: {Status.SHIPPED, Status.CANCELLED},
    Status.SHIPPED: {Status.DELIVERED},
    Status.DELIVERED: {Status.REFUNDED},
    Status.CANCELLED: set(),
    Status.REFUNDED: set(),
}


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return generate_day(DAY, CFG)


def test_status_only_moves_forward_within_7_days() -> None:
    placed = orders.placed(3, CFG)
    start = epoch_us(date(2025, 1, 4))
    before, before_at = placed.status_at(start)
    assert (before_at < 0).all(), "nothing happens before the order day"
    seen = set()
    for hour in range(1, 9 * 24, 3):
        status, updated = placed.status_at(start + hour * US_PER_HOUR)
        for old, new in set(zip(before.tolist(), status.tolist(), strict=True)):
            if old != new:
                assert Status(new) in NEXT[Status(old)], (old, new)
                seen.add((old, new))
        assert (updated >= before_at).all()
        before, before_at = status, updated
    assert len(seen) >= 6
    reached = np.where(placed.times < np.iinfo(np.int64).max, placed.times, 0).max(axis=1)
    assert ((reached - placed.order_us) < 7 * US_PER_DAY).all()
    final, _ = placed.status_at(start + 30 * US_PER_DAY)
    shares = np.bincount(final, minlength=6) / len(final)
    assert shares[Status.DELIVERED] > 0.85 and 0 < shares[Status.CANCELLED] < 0.1


def test_order_rows_carry_their_state_at_the_end_of_the_day(data) -> None:  # type: ignore[no-untyped-def]
    start = datetime.combine(DAY, datetime.min.time())
    updated = data.orders["updated_at"].to_pylist()
    order_ts = data.orders["order_ts"].to_pylist()
    assert all(start <= u < start + timedelta(days=1) for u in updated)
    assert all(o <= u for o, u in zip(order_ts, updated, strict=True))
    assert pc.all(pc.is_in(data.orders["status"], value_set=pc.unique(data.orders["status"])))
    items_orders = pc.unique(data.order_items["order_id"])
    assert pc.all(pc.is_in(items_orders, value_set=data.orders["order_id"])).as_py()
    assert pc.all(pc.greater(data.order_items["quantity"], 0)).as_py()
    assert pc.all(pc.greater_equal(data.order_items["unit_price"], Decimal(0))).as_py()


def test_orders_reference_existing_customers(data) -> None:  # type: ignore[no-untyped-def]
    ids = data.orders["customer_id"].to_numpy()
    created_on = creation_day_of(ids)
    assert (created_on <= day_index(DAY)).all()
    earlier_signups = ids[(created_on >= 0) & (created_on < day_index(DAY))]
    assert np.isin(earlier_signups, data.customers["customer_id"].to_numpy()).all()
    today = created_on == day_index(DAY)
    created = customers.created_us(ids[today], CFG)
    order_us = data.orders["order_ts"].cast("int64").to_numpy()[today]
    assert (created <= order_us).all()


def test_customer_rows_of_the_day(data) -> None:  # type: ignore[no-untyped-def]
    rows = data.customers
    assert pc.count_distinct(rows["customer_id"]).as_py() == rows.num_rows
    emails = pc.utf8_lower(pc.utf8_trim_whitespace(rows["email"]))
    expected = customers.canonical_emails(rows["customer_id"].to_numpy(), CFG.seed)
    assert emails.to_pylist() == expected.to_pylist()
    assert pc.all(pc.less_equal(rows["created_at"], rows["updated_at"])).as_py()


def test_interaction_types_channels_and_instants(data) -> None:  # type: ignore[no-untyped-def]
    rows = data.interactions.to_pylist()
    allowed = {"email_sent": {"email"}, "email_open": {"email"}, "email_click": {"email"},
               "sms_sent": {"sms"}, "sms_click": {"sms"}, "push_open": {"push"},
               "unsubscribe": {"email", "sms"}}  # fmt: skip
    offsets = set()
    for row in rows:
        assert row["channel"] in allowed[row["type"]]
        local = datetime.fromisoformat(row["occurred_at"])
        assert local == row["occurred_at_utc"]
        assert row["occurred_at_utc"].date() == DAY
        offsets.add(row["occurred_at"][23:])
    assert {"Z", "-05:00", "+05:30"} <= offsets
    assert len({r["id"] for r in rows}) == len(rows)
    assert data.interactions["occurred_at_utc"].type.tz == "UTC"
    assert {r["type"] for r in rows} == set(allowed)


def test_clickstream_funnels_and_references(data) -> None:  # type: ignore[no-untyped-def]
    events = data.click_events.sort_by([("session_id", "ascending"), ("ts", "ascending")])
    first = pc.min(events["ts"]).as_py()
    by_session = events.group_by("session_id").aggregate([("ts", "min")])
    whole = by_session.filter(
        pc.and_(
            pc.greater_equal(by_session["ts_min"], f"{DAY}T02:00"),
            pc.less(by_session["ts_min"], f"{DAY}T18:00"),
        )
    )
    assert first < f"{DAY}T00:00" and whole.num_rows > 1000
    complete = events.filter(pc.is_in(events["session_id"], value_set=whole["session_id"]))
    in_cart: dict[str, bool] = {}
    for row in complete.to_pylist():
        if row["event_type"] == "add_to_cart":
            in_cart[row["session_id"]] = True
        if row["event_type"] in {"checkout_start", "remove_from_cart"}:
            assert in_cart.get(row["session_id"]), row
        if row["event_type"] in {"product_view", "add_to_cart"}:
            assert row["product_id"] and row["page_url"].endswith(row["product_id"])
        if row["event_type"] == "remove_from_cart":
            assert row["product_id"] and row["page_url"].endswith("/cart")
        assert (row["order_id"] is not None) == (row["event_type"] == "purchase")
    purchases = events.filter(pc.equal(events["event_type"], "purchase"))
    assert purchases.num_rows > 0
    placed_ids = np.concatenate(
        [orders.placed(day_index(DAY) + k, CFG).order_id for k in (-1, 0, 1)]
    )
    assert np.isin(purchases["order_id"].to_numpy(), placed_ids).all()
    assert pc.all(purchases["customer_id"].is_valid()).as_py()
    assert set(events["device"].to_pylist()) == {"desktop", "mobile", "tablet"}


def test_fx_rates_and_products(data) -> None:  # type: ignore[no-untyped-def]
    rates = dict(
        zip(
            data.fx_rates["currency"].to_pylist(),
            data.fx_rates["usd_per_unit"].to_pylist(),
            strict=True,
        )
    )
    assert set(rates) == {"USD", "EUR", "GBP", "JPY", "CAD", "AUD"}
    assert rates["USD"] == Decimal("1.00000000")
    assert Decimal("0.004") < rates["JPY"] < Decimal("0.01")
    changed = data.products
    assert changed.num_rows > 0
    stamp = datetime.fromisoformat(changed["updated_at"][0].as_py())
    assert stamp.date() == DAY and stamp.tzinfo == UTC
    base = catalog.base_catalog(CFG)
    assert pc.all(pc.is_in(changed["product_id"], value_set=base["product_id"])).as_py()
    assert pc.all(pc.less(base["updated_at"], "2025-01-01")).as_py()
    assert 0 < pc.sum(base["brand"].is_null()).as_py() < base.num_rows
    assert 0 < pc.sum(base["attributes"].is_null()).as_py() < base.num_rows
    assert 0 < pc.sum(pc.invert(base["active"])).as_py() < base.num_rows / 5
