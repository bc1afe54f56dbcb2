"""S1 orders and order_items: placed orders per day and their status over time.

An order's whole life (paid, shipped, delivered, or cancelled/refunded) is drawn
when it is placed, from the placing day's stream; its row on any later day is
its state at the end of that day. Every transition happens within 7 days of the
order date, so day D rewrites the orders of D-7..D-1 that changed on D by
regenerating those days, not by reading anything back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import numpy as np
import pyarrow as pa

from shopflow_local.devstack.generator import customers
from shopflow_local.devstack.generator.catalog import list_price_usd_cents, product_ids
from shopflow_local.devstack.generator.config import EPOCH, GeneratorConfig
from shopflow_local.devstack.generator.fx import rates
from shopflow_local.devstack.generator.ids import (
    US_PER_DAY,
    US_PER_HOUR,
    creation_day_of,
    decimal_from_units,
    epoch_us,
    order_ids,
    timestamps,
)
from shopflow_local.devstack.generator.streams import Stream, choice, rng
from shopflow_local.devstack.generator.vocabulary import COUNTRY_CURRENCY, CURRENCIES

LIFETIME_DAYS = 7
"""No status changes more than 7 days after the order date."""
NEVER = np.iinfo(np.int64).max
MINUTE = 60_000_000

HOUR_WEIGHTS = np.array(
    [2, 1.3, 1, 0.8, 0.8, 1, 1.6, 2.6, 3.6, 4.4, 4.9, 5.2,
     5.4, 5.3, 5.1, 5, 5.1, 5.4, 5.9, 6.4, 6.6, 5.9, 4.6, 3.1]
)  # fmt: skip
"""Relative orders (and sessions) per UTC hour."""
LINE_COUNT_WEIGHTS = [0.3, 0.25, 0.2, 0.15, 0.1]
QUANTITY_WEIGHTS = [0.7, 0.2, 0.05, 0.03, 0.02]
SHIPPING_USD_CENTS = np.array([499, 699, 999, 1499])


class Status(IntEnum):
    """Order statuses; the column order of ``PlacedOrders.times``."""

    PLACED = 0
    PAID = 1
    SHIPPED = 2
    DELIVERED = 3
    CANCELLED = 4
    REFUNDED = 5


STATUS_NAMES = tuple(s.name.lower() for s in Status)

ORDER_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("status", pa.string()),
        ("currency", pa.string()),
        ("order_ts", pa.timestamp("us")),
        ("updated_at", pa.timestamp("us")),
        ("shipping_amount", pa.decimal128(12, 2)),
        ("discount_amount", pa.decimal128(12, 2)),
    ]
)
ITEM_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("line_no", pa.int32()),
        ("product_id", pa.string()),
        ("quantity", pa.int32()),
        ("unit_price", pa.decimal128(12, 2)),
    ]
)


@dataclass(frozen=True)
class Lines:
    """Order lines; ``order_row`` indexes the orders they belong to."""

    order_row: np.ndarray
    line_no: np.ndarray
    product_index: np.ndarray
    quantity: np.ndarray
    unit_cents: np.ndarray


@dataclass(frozen=True)
class PlacedOrders:
    """The orders placed on one day with their whole future."""

    day: int
    order_id: np.ndarray
    customer_id: np.ndarray
    currency: np.ndarray
    order_us: np.ndarray
    times: np.ndarray
    """(n, 6) µs at which each order reached each Status; NEVER when it does not."""
    shipping_cents: np.ndarray
    discount_cents: np.ndarray
    lines: Lines

    def status_at(self, at_us: int) -> tuple[np.ndarray, np.ndarray]:
        """Status code and updated_at of every order as of instant ``at_us`` (exclusive)."""
        reached = np.where(self.times < at_us, self.times, -1)
        status = np.argmax(reached, axis=1)
        return status, reached[np.arange(len(status)), status]


def day_start_us(day: int) -> int:
    """First µs of day index ``day``."""
    return epoch_us(EPOCH) + day * US_PER_DAY


def times_in_day(gen: np.random.Generator, day: int, count: int) -> np.ndarray:
    """Instants of day index ``day`` following the daily traffic curve."""
    hour = choice(gen, HOUR_WEIGHTS, count)
    return day_start_us(day) + hour * US_PER_HOUR + gen.integers(0, US_PER_HOUR, count)


@lru_cache(maxsize=16)
def placed(day: int, cfg: GeneratorConfig) -> PlacedOrders:
    """The orders placed on day index ``day`` (a pure function of its arguments)."""
    gen = rng(cfg.seed, day, Stream.ORDERS)
    start = day_start_us(day)
    count = int(gen.poisson(cfg.volumes.orders))
    signups = customers.new_customer_ids(day, cfg)
    first_buyers = signups[gen.random(len(signups)) < 0.3][:count]
    signup_us = customers.created_us(first_buyers, cfg)
    late = start + US_PER_DAY - signup_us
    n_base = count - len(first_buyers)
    base_ids = 1 + (cfg.volumes.base_customers * gen.random(n_base) ** 1.5).astype(np.int64)
    customer_id = np.concatenate([base_ids, first_buyers])
    order_us = np.concatenate(
        [
            times_in_day(gen, day, n_base),
            signup_us + (gen.random(len(late)) * late).astype(np.int64),
        ]
    )
    order = np.argsort(order_us, kind="stable")
    customer_id, order_us = customer_id[order], order_us[order]
    country = customers.profiles(customer_id, cfg).country
    currency = COUNTRY_CURRENCY[country].astype(np.int64)
    times = _lifecycle(gen, order_us)
    lines = _lines(day, cfg, currency)
    subtotal = np.bincount(
        lines.order_row, weights=lines.quantity * lines.unit_cents, minlength=count
    ).astype(np.int64)
    fx = rates(day, cfg.seed)[currency]
    ship_usd = SHIPPING_USD_CENTS[gen.integers(0, len(SHIPPING_USD_CENTS), count)]
    free = (gen.random(count) < 0.4) | (subtotal * fx >= 7_500)
    shipping = np.where(free, 0, _to_local_cents(ship_usd / fx, currency))
    discounted = gen.random(count) < 0.2
    pct = gen.integers(1, 5, count) * 5
    discount = np.where(discounted, _to_local_cents(subtotal * pct / 100, currency), 0)
    return PlacedOrders(
        day=day,
        order_id=order_ids(day, count),
        customer_id=customer_id,
        currency=currency,
        order_us=order_us,
        times=times,
        shipping_cents=shipping,
        discount_cents=discount,
        lines=lines,
    )


def _lifecycle(gen: np.random.Generator, order_us: np.ndarray) -> np.ndarray:
    """When each order gets paid, shipped, delivered, cancelled or refunded (<= 7 days)."""
    n = len(order_us)
    times = np.full((n, len(Status)), NEVER, dtype=np.int64)
    times[:, Status.PLACED] = order_us
    fate = gen.random(n)
    failed = fate < 0.02
    cancelled = (fate >= 0.02) & (fate < 0.05)
    refunded = fate >= 0.96
    paid = order_us + gen.integers(1 * MINUTE, 30 * MINUTE, n)
    shipped = paid + gen.integers(12 * US_PER_HOUR, 60 * US_PER_HOUR, n)
    delivered = shipped + gen.integers(24 * US_PER_HOUR, 84 * US_PER_HOUR, n)
    refund = delivered + gen.integers(6 * US_PER_HOUR, 20 * US_PER_HOUR, n)
    cancel_failed = order_us + gen.integers(30 * MINUTE, 24 * US_PER_HOUR, n)
    cancel_paid = paid + gen.integers(1 * US_PER_HOUR, 20 * US_PER_HOUR, n)
    shipping = ~failed & ~cancelled
    times[:, Status.PAID] = np.where(failed, NEVER, paid)
    times[:, Status.SHIPPED] = np.where(shipping, shipped, NEVER)
    times[:, Status.DELIVERED] = np.where(shipping, delivered, NEVER)
    times[:, Status.CANCELLED] = np.select([failed, cancelled], [cancel_failed, cancel_paid], NEVER)
    times[:, Status.REFUNDED] = np.where(refunded, refund, NEVER)
    return times


def _lines(day: int, cfg: GeneratorConfig, currency: np.ndarray) -> Lines:
    """1 to 5 lines per order, popular products more often, some unknown products."""
    gen = rng(cfg.seed, day, Stream.ORDER_LINES)
    n_lines = 1 + choice(gen, LINE_COUNT_WEIGHTS, len(currency))
    order_row = np.repeat(np.arange(len(currency)), n_lines)
    total = len(order_row)
    starts = np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    size = cfg.volumes.products
    product = (size * gen.random(total) ** 2).astype(np.int64)
    unknown = gen.random(total) < cfg.dirt.unknown_product_rate
    product = np.where(unknown, size + (size * gen.random(total)).astype(np.int64), product)
    quantity = 1 + choice(gen, QUANTITY_WEIGHTS, total)
    line_currency = currency[order_row]
    promo = np.where(gen.random(total) < 0.1, 1 - gen.integers(1, 4, total) / 10, 1.0)
    local = list_price_usd_cents(product, cfg.seed) * promo / rates(day, cfg.seed)[line_currency]
    return Lines(
        order_row=order_row,
        line_no=np.arange(total) - starts + 1,
        product_index=product,
        quantity=quantity,
        unit_cents=_to_local_cents(local, line_currency),
    )


def _to_local_cents(amount: np.ndarray, currency: np.ndarray) -> np.ndarray:
    """Round amounts (in hundredths of a currency unit) to cents, whole yen for JPY."""
    jpy = currency == CURRENCIES.index("JPY")
    return np.where(jpy, np.round(amount / 100) * 100, np.round(amount)).astype(np.int64)


def order_rows(orders: PlacedOrders, rows: np.ndarray, at_us: int) -> pa.Table:
    """Rows ``rows`` of ``orders`` as S1 holds them just before ``at_us``."""
    status, updated = orders.status_at(at_us)
    return pa.Table.from_arrays(
        [
            pa.array(orders.order_id[rows]),
            pa.array(orders.customer_id[rows]),
            pa.array(np.array(STATUS_NAMES)[status[rows]]),
            pa.array(np.array(CURRENCIES)[orders.currency[rows]]),
            timestamps(orders.order_us[rows]),
            timestamps(updated[rows]),
            decimal_from_units(orders.shipping_cents[rows], 2, 12),
            decimal_from_units(orders.discount_cents[rows], 2, 12),
        ],
        schema=ORDER_SCHEMA,
    )


def item_rows(orders: PlacedOrders, rows: np.ndarray, cfg: GeneratorConfig) -> pa.Table:
    """The lines of orders ``rows`` (sorted row indices)."""
    lines = orders.lines
    keep = np.isin(lines.order_row, rows)
    return pa.Table.from_arrays(
        [
            pa.array(orders.order_id[lines.order_row[keep]]),
            pa.array(lines.line_no[keep].astype(np.int32)),
            product_ids(lines.product_index[keep], cfg),
            pa.array(lines.quantity[keep].astype(np.int32)),
            decimal_from_units(lines.unit_cents[keep], 2, 12),
        ],
        schema=ITEM_SCHEMA,
    )


@dataclass(frozen=True)
class OrdersOfDay:
    """What day D writes to orders and order_items, and the sign-ups those rows reference."""

    orders: pa.Table
    items: pa.Table
    earlier_signups: np.ndarray


def orders_of_day(day: int, cfg: GeneratorConfig, *, cached: bool = True) -> OrdersOfDay:
    """Day D's new orders, the orders of D-7..D-1 whose status changed on D (their state
    at the end of D), and the lines of all of them; ``cached=False`` computes each placing
    day without the cache and holds one of them at a time."""
    end = day_start_us(day + 1)
    start = day_start_us(day)
    order_parts, item_parts, signups = [], [], []
    for back in range(0, LIFETIME_DAYS + 1):
        if day - back < 0:
            break
        orders = placed(day - back, cfg) if cached else placed.__wrapped__(day - back, cfg)
        if back == 0:
            rows = np.arange(len(orders.order_id))
        else:
            moved = ((orders.times >= start) & (orders.times < end)).any(axis=1)
            rows = np.flatnonzero(moved)
            ids = orders.customer_id[rows]
            signups.append(ids[creation_day_of(ids) >= 0])
        order_parts.append(order_rows(orders, rows, end))
        item_parts.append(item_rows(orders, rows, cfg))
        del orders
    return OrdersOfDay(
        orders=pa.concat_tables(order_parts).sort_by("order_id"),
        items=pa.concat_tables(item_parts).sort_by(
            [("order_id", "ascending"), ("line_no", "ascending")]
        ),
        earlier_signups=np.concatenate(signups) if signups else np.array([], dtype=np.int64),
    )
