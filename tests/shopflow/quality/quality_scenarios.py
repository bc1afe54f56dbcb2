"""Quality-check scenarios every dialect must show; the dialect test modules run them.

A scenario takes a :class:`World`: a fresh warehouse plus ``execute``, which runs a
write statement on the same database (to plant one violation after a clean load).
The clean state: day D with 250 order lines (one order cancelled, one refunded, one
older order refunded on D), 198 click events (plus one duplicate and one
quarantined line in the audit), 20 interactions, a session, 10 products, and
customer_daily rebuilt by a small derive of its own (orders and revenue only).
A large day has 2,000 order lines: there the share, not the minimum, decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from shopflow.quality.checks import RUN_SCOPES, WHOLE_TABLE_CHECKS, check_names
from shopflow.quality.evaluate import CheckResult, failures, run_checks, table_results
from shopflow.warehouse.arrow import arrow_schema
from shopflow.warehouse.base import AuditRow, Warehouse
from shopflow.warehouse.names import column_list
from shopflow.warehouse.tables import CUSTOMER_DAILY, FCT_SESSION, TABLES


@dataclass
class World:
    """A warehouse and a way to write to its database directly."""

    warehouse: Warehouse
    execute: Callable[[str], None]


Make = Callable[[], World]

D = date(2024, 3, 8)
OLD_ORDER_DATE = D - timedelta(days=2)
LINES, CLICKS, INTERACTIONS = 250, 198, 20
LARGE_LINES = 6_000
ORPHAN_MINIMUM = 25
ORPHANS_OVER_LIMIT = ORPHAN_MINIMUM + 1
"""Orphans of D that fail the clean day's 250 lines: over 0.5 % and over the minimum 25."""
PRICE, FX = Decimal("2.50"), Decimal("1.10000000")
CANCELLED_ORDER, REFUNDED_ORDER = 3, 7
OLD_ORDER = 999_999

SESSION_COLUMNS = column_list(FCT_SESSION.column_names)
DAILY_COLUMNS = column_list(CUSTOMER_DAILY.column_names)
# customer_daily from all stored order lines of the dates the load brings lines for.
DERIVE = (
    "delete from analytics.fct_session\n"
    "where session_id in (select session_id from delta_fct_session)",
    f"insert into analytics.fct_session ({SESSION_COLUMNS})\n"
    f"select {SESSION_COLUMNS} from delta_fct_session",
    "delete from analytics.customer_daily\n"
    "where activity_date in (select order_date from delta_fct_order_line)",
    f"""insert into analytics.customer_daily ({DAILY_COLUMNS})
select
    order_date, customer_id,
    count(distinct case when status <> 'cancelled' then order_id end),
    sum(case when status <> 'cancelled' then quantity else 0 end),
    sum(case when status not in ('cancelled', 'refunded') then line_revenue_usd else 0 end),
    0, 0, 0, 0, 0, 0, 0,
    count(distinct case when status <> 'cancelled' then order_id end) > 0,
    null
from analytics.fct_order_line
where order_date in (select order_date from delta_fct_order_line)
group by order_date, customer_id
having count(distinct case when status <> 'cancelled' then order_id end) > 0""",
)


def run_id(day: date) -> str:
    return f"scheduled__{day + timedelta(days=1)}T01:00:00+00:00"


RUN = run_id(D)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=arrow_schema(TABLES[name]))


def _line(order: int, line_no: int, day: date, updated: date, status: str, n: int) -> dict:
    quantity = 1 + n % 3
    return {
        "order_id": order,
        "line_no": line_no,
        "order_date": day,
        "order_ts": at(day, 9),
        "customer_id": 1 + order % 5,
        "product_id": f"p{n % 10}",
        "status": status,
        "quantity": quantity,
        "unit_price": PRICE,
        "currency": "EUR",
        "fx_rate": FX,
        "line_revenue_usd": (quantity * PRICE * FX).quantize(Decimal("0.01")),
        "updated_at": at(updated, 12),
    }


def order_lines(day: date, count: int) -> list[dict]:
    """``count`` lines of orders placed on ``day``, 5 per order; orders 3 and 7 not paid."""
    base = (day - date(2024, 1, 1)).days * 10_000
    statuses = {CANCELLED_ORDER: "cancelled", REFUNDED_ORDER: "refunded"}
    return [
        _line(base + n // 5, n % 5 + 1, day, day, statuses.get(n // 5, "placed"), n)
        for n in range(count)
    ]


def _click(eid: str, day: date) -> dict:
    return {
        "event_id": eid,
        "event_ts": at(day, 8),
        "event_date": day,
        "event_type": "page_view",
        "session_id": f"s-{day}",
        "customer_id": 1,
        "product_id": None,
        "order_id": None,
        "device": "mobile",
        "utm_source": None,
        "utm_campaign": None,
    }


def _interaction(iid: str, day: date) -> dict:
    return {
        "interaction_id": iid,
        "email_hash": f"hash-{iid}",
        "customer_id": None,
        "occurred_at": at(day, 12),
        "interaction_date": day,
        "type": "email_open",
        "channel": "email",
        "campaign_id": "c1",
    }


def _session(day: date, events: int) -> dict:
    return {
        "session_id": f"s-{day}",
        "session_date": day,
        "customer_id": 1,
        "started_at": at(day, 8),
        "ended_at": at(day, 9),
        "events": events,
        "page_views": events,
        "product_views": 0,
        "add_to_carts": 0,
        "checkouts": 0,
        "purchases": 0,
        "device": "mobile",
        "utm_campaign": None,
    }


def _customer(cid: int, day: date) -> dict:
    return {
        "customer_id": cid,
        "email_hash": f"h{cid}",
        "country": "DE",
        "created_at": at(date(2024, 1, 1), 0),
        "updated_at": at(day, 10),
    }


def _product(pid: str, day: date) -> dict:
    return {
        "product_id": pid,
        "sku": f"sku-{pid}",
        "name": f"product {pid}",
        "category": "toys",
        "brand": None,
        "price": PRICE,
        "currency": "EUR",
        "active": True,
        "updated_at": at(day, 5),
    }


def _audit(source: str, day: date, loaded: int, duplicate: int = 0, quarantined: int = 0):
    finished = at(day + timedelta(days=1), 1)
    return AuditRow(
        source, loaded + duplicate + quarantined, loaded, duplicate, quarantined, finished, finished
    )


def load(wh: Warehouse, day: date, *, lines: int = LINES, old_order: bool = False) -> None:
    """One day's load: ``lines`` order lines, the usual clicks, interactions and audit."""
    line_rows = order_lines(day, lines)
    if old_order:  # an order of an earlier day, refunded on this day: touches its date
        line_rows.append(_line(OLD_ORDER, 1, OLD_ORDER_DATE, day, "refunded", 1))
    clicks = [_click(f"e-{day}-{n}", day) for n in range(CLICKS)]
    quarantined = {
        "source": "clickstream",
        "business_date": day,
        "record_key": f"clickstream/{day}/1",
        "raw": "{not json",
        "reason": "malformed_json",
        "run_id": run_id(day),
    }
    wh.load_day(
        {
            "dim_customer": _table("dim_customer", [_customer(c, day) for c in range(1, 6)]),
            "dim_product": _table("dim_product", [_product(f"p{n}", day) for n in range(10)]),
            "fct_order_line": _table("fct_order_line", line_rows),
            "fct_click_event": _table("fct_click_event", clicks),
            "fct_interaction": _table(
                "fct_interaction",
                [_interaction(f"i-{day}-{n}", day) for n in range(INTERACTIONS)],
            ),
            "fct_session": _table("fct_session", [_session(day, CLICKS)]),
            "quarantine": _table("quarantine", [quarantined]),
        },
        business_date=day,
        run_id=run_id(day),
        audit=[
            _audit("sales", day, len(line_rows) + 5),
            _audit("products", day, 10),
            _audit("clickstream", day, CLICKS, duplicate=1, quarantined=1),
            _audit("interactions", day, INTERACTIONS),
        ],
        derive=DERIVE,
    )


def clean(make: Make, *, lines: int = LINES) -> World:
    """A fresh warehouse holding day D (and an older order refunded on D)."""
    world = make()
    load(world.warehouse, D, lines=lines, old_order=True)
    return world


def with_history(make: Make, days: int, lines: int) -> World:
    """``days`` processed days before D with ``lines`` order lines each, then D."""
    world = make()
    for back in range(days, 0, -1):
        load(world.warehouse, D - timedelta(days=back), lines=lines)
    load(world.warehouse, D, old_order=True)
    return world


def failed(results: Iterable[CheckResult]) -> set[str]:
    return {r.name for r in failures(list(results))}


def assert_only_failure(world: World, name: str) -> list[CheckResult]:
    results = run_checks(world.warehouse, run_id=RUN)
    assert failed(results) == {name}, [r for r in results if not r.passed]
    (result,) = [r for r in results if r.name == name]
    assert result.severity == "error" and result.status == "fail"
    return results


def assert_all_pass(world: World) -> list[CheckResult]:
    results = run_checks(world.warehouse, run_id=RUN)
    assert [r for r in results if not r.passed] == []
    return results


def copy_without_keys(world: World, table: str) -> None:
    """Replace ``table`` by a copy without its primary key, so that a duplicate can go in."""
    for sql in (
        f"create table analytics.{table}_copy as select * from analytics.{table}",
        f"drop table analytics.{table}",
        f"alter table analytics.{table}_copy rename to {table}",
    ):
        world.execute(sql)


# -- scenarios -------------------------------------------------------------------------------


def clean_state_passes_every_check(make: Make) -> None:
    results = assert_all_pass(clean(make))
    assert [r.name for r in results] == check_names()
    details = {r.name: r.detail for r in results}
    assert details["customer_daily_revenue"].startswith("2 date(s) checked, 0 ")  # D, refund's
    assert details["orphan_order_lines"] == (
        f"order lines of {D}: 0 of 250 have no dim_product row (allowed 25: 0.5 % or at least 25)"
    )
    assert details["quarantine_share"] == (
        "4 source(s) audited, 0 over the limit (1 % or at least 10); "
        "nearest: clickstream quarantined 1 of 200, allowed 10"
    )


def duplicate_key_fails_unique_check(make: Make) -> None:
    world = clean(make)
    copy_without_keys(world, "fct_click_event")  # the primary key would refuse the duplicate
    world.execute(
        "insert into analytics.fct_click_event\n"
        f"select * from analytics.fct_click_event where event_id = 'e-{D}-0'"
    )
    assert_only_failure(world, "fct_click_event.event_id.unique_check")


def negative_quantity_fails_quantity_min(make: Make) -> None:
    world = clean(make)
    world.execute("update analytics.fct_order_line set quantity = -1 where line_no = 2")
    results = assert_only_failure(world, "fct_order_line.quantity.min")
    (result,) = [r for r in results if r.name == "fct_order_line.quantity.min"]
    # The operator's query unions every column's result, so the type is the widest one.
    assert re.fullmatch(r"min\(quantity\) = -1(\.0+)?, expected > 0", result.detail), result.detail


def missing_fx_rate_fails(make: Make) -> None:
    world = clean(make)
    world.execute(
        f"update analytics.fct_order_line set fx_rate = null where order_id = {OLD_ORDER}"
    )
    assert_only_failure(world, "order_line_has_fx_rate")


def plant_orphans(world: World, lines: int) -> None:
    """The first ``lines`` order lines of D get a product_id that dim_product lacks."""
    first_order = (D - date(2024, 1, 1)).days * 10_000
    world.execute(
        "update analytics.fct_order_line set product_id = 'gone'\n"
        f"where order_date = date '{D}'\n"
        f"and (order_id - {first_order}) * 5 + line_no <= {lines}"
    )


def orphan_detail(world: World) -> str:
    results = run_checks(world.warehouse, run_id=RUN)
    return next(r.detail for r in results if r.name == "orphan_order_lines")


def orphans_over_the_minimum_on_a_small_day_fail(make: Make) -> None:
    world = clean(make)
    plant_orphans(world, ORPHANS_OVER_LIMIT)  # 26 of 250: 10.4 %, and more than 25
    results = assert_only_failure(world, "orphan_order_lines")
    detail = next(r.detail for r in results if r.name == "orphan_order_lines")
    assert detail == (
        f"order lines of {D}: 26 of 250 have no dim_product row (allowed 25: 0.5 % or at least 25)"
    )


def orphans_at_the_minimum_pass(make: Make) -> None:
    world = clean(make)
    plant_orphans(world, ORPHAN_MINIMUM)  # 25 of 250: 10 %, over the share, within the minimum
    assert_all_pass(world)
    assert orphan_detail(world).startswith(f"order lines of {D}: 25 of 250 have no ")


def orphans_at_half_a_percent_of_a_large_day_pass(make: Make) -> None:
    world = clean(make, lines=LARGE_LINES)
    plant_orphans(world, 30)  # 30 of 6,000: exactly 0.5 %, over the minimum
    assert_all_pass(world)
    assert orphan_detail(world) == (
        f"order lines of {D}: 30 of 6000 have no dim_product row (allowed 30: 0.5 % or at least 25)"
    )


def orphans_just_over_half_a_percent_of_a_large_day_fail(make: Make) -> None:
    world = clean(make, lines=LARGE_LINES)
    plant_orphans(world, 31)  # 31 of 6,000: 0.52 %
    results = assert_only_failure(world, "orphan_order_lines")
    detail = next(r.detail for r in results if r.name == "orphan_order_lines")
    assert detail.startswith(f"order lines of {D}: 31 of 6000 have no dim_product row (allowed 30:")


def set_quarantined(world: World, quarantined: int, *, rows_in: int | None = None) -> None:
    """The clickstream audit row of the run says ``quarantined`` of ``rows_in`` (rule 9 kept)."""
    total = "rows_in" if rows_in is None else str(rows_in)
    world.execute(
        "update analytics.load_audit\n"
        f"set rows_in = {total}, rows_quarantined = {quarantined},\n"
        f"rows_loaded = {total} - rows_duplicate - {quarantined}\n"
        f"where run_id = '{RUN}' and source = 'clickstream'"
    )


def quarantine_detail(world: World) -> str:
    results = run_checks(world.warehouse, run_id=RUN)
    return next(r.detail for r in results if r.name == "quarantine_share")


def quarantine_over_the_minimum_on_a_small_day_fails(make: Make) -> None:
    world = clean(make)
    set_quarantined(world, 11)  # 11 of 200: 5.5 %, and more than 10
    results = assert_only_failure(world, "quarantine_share")
    detail = next(r.detail for r in results if r.name == "quarantine_share")
    assert detail == (
        "4 source(s) audited, 1 over the limit (1 % or at least 10); "
        "nearest: clickstream quarantined 11 of 200, allowed 10"
    )


def quarantine_at_the_minimum_passes(make: Make) -> None:
    world = clean(make)
    set_quarantined(world, 10)  # 10 of 200: 5 %, over the share but within the minimum
    assert_all_pass(world)
    assert quarantine_detail(world).endswith(
        "nearest: clickstream quarantined 10 of 200, allowed 10"
    )


def quarantine_at_one_percent_of_a_large_source_passes(make: Make) -> None:
    world = clean(make)
    set_quarantined(world, 50, rows_in=5_000)  # exactly 1 %, over the minimum
    assert_all_pass(world)
    assert quarantine_detail(world) == (
        "4 source(s) audited, 0 over the limit (1 % or at least 10); "
        "nearest: clickstream quarantined 50 of 5000, allowed 50"
    )


def quarantine_just_over_one_percent_of_a_large_source_fails(make: Make) -> None:
    world = clean(make)
    set_quarantined(world, 51, rows_in=5_000)  # 1.02 %
    results = assert_only_failure(world, "quarantine_share")
    detail = next(r.detail for r in results if r.name == "quarantine_share")
    assert detail.endswith(
        "1 over the limit (1 % or at least 10); "
        "nearest: clickstream quarantined 51 of 5000, allowed 50"
    )


def revenue_mismatch_fails(make: Make) -> None:
    # The run's day, and an older date the run touched (the order refunded on D).
    for day, customer in ((D, 1), (OLD_ORDER_DATE, 1 + OLD_ORDER % 5)):
        world = clean(make)
        world.execute(
            "update analytics.customer_daily set revenue_usd = revenue_usd + 0.01\n"
            f"where activity_date = date '{day}' and customer_id = {customer}"
        )
        results = assert_only_failure(world, "customer_daily_revenue")
        detail = next(r.detail for r in results if r.name == "customer_daily_revenue")
        assert detail.endswith(f"first on {day}")


def broken_reconciliation_fails(make: Make) -> None:
    world = clean(make)
    world.execute(
        f"update analytics.load_audit set rows_in = rows_in + 1 where run_id = '{RUN}'"
        " and source = 'sales'"
    )
    assert_only_failure(world, "reconciliation")


def run_without_audit_rows_fails_its_run_checks(make: Make) -> None:
    world = clean(make)
    results = run_checks(world.warehouse, run_id="manual__never-ran")
    run_checks_failed = {
        "orphan_order_lines",
        "quarantine_share",
        "customer_daily_revenue",
        "reconciliation",
        "row_count_order_lines",
        "row_count_click_events",
        "row_count_interactions",
    }
    # A run scope without rows: the null counts and minimums are NULL, which fails.
    empty_scopes_failed = {
        "fct_order_line.order_id.null_check",
        "fct_order_line.line_no.null_check",
        "fct_order_line.quantity.min",
        "fct_order_line.unit_price.min",
        "fct_order_line.line_revenue_usd.min",
        "fct_order_line.fx_rate.min",
        "fct_interaction.interaction_id.null_check",
        "fct_click_event.event_id.null_check",
        "fct_session.session_id.null_check",
        "customer_daily.activity_date.null_check",
        "customer_daily.customer_id.null_check",
    }
    assert {name.split(".")[0] for name in empty_scopes_failed} == set(RUN_SCOPES)
    assert failed(results) == run_checks_failed | empty_scopes_failed


AUDIT_ONLY_FAILURES = {"fct_click_event.event_id.unique_check", "fct_order_line.quantity.min"}
"""What :func:`plant_before_the_run_scope` breaks."""


def plant_before_the_run_scope(world: World) -> None:
    """A duplicate click event and a negative quantity, both dated 3 days before D."""
    old = D - timedelta(days=3)
    copy_without_keys(world, "fct_click_event")
    world.execute(
        "insert into analytics.fct_click_event\n"
        f"select * from analytics.fct_click_event where event_id = 'e-{old}-0'"
    )
    world.execute(
        "update analytics.fct_order_line set quantity = -1\n"
        f"where order_date = date '{old}' and line_no = 2"
    )


def violations_before_the_run_scope_fail_only_the_audit(make: Make) -> None:
    world = with_history(make, days=3, lines=LINES)
    plant_before_the_run_scope(world)
    assert_all_pass(world)  # D's run reads D's rows (and D - 1's clicks)
    assert failed(table_results(world.warehouse, WHOLE_TABLE_CHECKS)) == AUDIT_ONLY_FAILURES


def row_count_4x_with_7_earlier_days_fails(make: Make) -> None:
    world = with_history(make, days=7, lines=LINES // 4)
    results = assert_only_failure(world, "row_count_order_lines")
    detail = next(r.detail for r in results if r.name == "row_count_order_lines")
    assert f"rows of {D}: 250; " in detail and "over 7 earlier day(s)" in detail


def row_count_steady_with_7_earlier_days_passes(make: Make) -> None:
    assert_all_pass(with_history(make, days=7, lines=LINES))


def row_count_4x_with_3_earlier_days_warns(make: Make) -> None:
    world = with_history(make, days=3, lines=LINES // 4)
    results = run_checks(world.warehouse, run_id=RUN)
    assert failed(results) == set()
    not_passed = [r for r in results if not r.passed]
    assert [(r.name, r.severity, r.status) for r in not_passed] == [
        ("row_count_order_lines", "warning", "warn")
    ]
    assert "over 3 earlier day(s)" in not_passed[0].detail


SCENARIOS: list[Callable[[Make], None]] = [
    clean_state_passes_every_check,
    duplicate_key_fails_unique_check,
    negative_quantity_fails_quantity_min,
    missing_fx_rate_fails,
    orphans_over_the_minimum_on_a_small_day_fail,
    orphans_at_the_minimum_pass,
    orphans_at_half_a_percent_of_a_large_day_pass,
    orphans_just_over_half_a_percent_of_a_large_day_fail,
    quarantine_over_the_minimum_on_a_small_day_fails,
    quarantine_at_the_minimum_passes,
    quarantine_at_one_percent_of_a_large_source_passes,
    quarantine_just_over_one_percent_of_a_large_source_fails,
    revenue_mismatch_fails,
    broken_reconciliation_fails,
    run_without_audit_rows_fails_its_run_checks,
    violations_before_the_run_scope_fail_only_the_audit,
    row_count_4x_with_7_earlier_days_fails,
    row_count_steady_with_7_earlier_days_passes,
    row_count_4x_with_3_earlier_days_warns,
]
