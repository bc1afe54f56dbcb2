"""Warehouse behaviours every dialect must show; test_warehouse.py runs them on each.

Each scenario takes ``make``: a function returning a fresh, empty warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from shopflow.warehouse.arrow import arrow_schema
from shopflow.warehouse.base import AuditRow, LoadResult, Warehouse, WarehouseError
from shopflow.warehouse.names import column_list
from shopflow.warehouse.tables import FCT_SESSION, TABLES

Make = Callable[[], Warehouse]
D1, D2 = date(2024, 3, 1), date(2024, 3, 2)
SESSION_COLUMNS = column_list(FCT_SESSION.column_names)
# Portable derive statements: fct_session is rebuilt from the staged delta_fct_session.
DERIVE = (
    "-- rebuild touched sessions\n"
    "delete from analytics.fct_session\n"
    "where session_id in (select session_id from delta_fct_session)",
    f"insert into analytics.fct_session ({SESSION_COLUMNS})\n"
    f"select {SESSION_COLUMNS} from delta_fct_session",
)


def ts(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=arrow_schema(TABLES[name]))


def customer(cid: int, updated: datetime, email_hash: str, country: str | None = "DE") -> dict:
    return {
        "customer_id": cid,
        "email_hash": email_hash,
        "country": country,
        "created_at": datetime(2024, 1, 1),
        "updated_at": updated,
    }


def product(pid: str, price: str, updated: datetime, *, brand: str | None = "acme") -> dict:
    return {
        "product_id": pid,
        "sku": f"sku-{pid}",
        "name": f"product {pid}",
        "category": "toys",
        "brand": brand,
        "price": Decimal(price),
        "currency": "EUR",
        "active": True,
        "updated_at": updated,
    }


def order_line(order: int, line: int, updated: datetime, status: str, revenue: str) -> dict:
    return {
        "order_id": order,
        "line_no": line,
        "order_date": D1,
        "order_ts": ts(D1, 9),
        "customer_id": 1,
        "product_id": "p1",
        "status": status,
        "quantity": 1,
        "unit_price": Decimal(revenue),
        "currency": "USD",
        "fx_rate": Decimal("1.00000000"),
        "line_revenue_usd": Decimal(revenue),
        "updated_at": updated,
    }


def interaction(iid: str, day: date, customer_id: int | None = None) -> dict:
    return {
        "interaction_id": iid,
        "email_hash": f"hash-{iid}",
        "customer_id": customer_id,
        "occurred_at": ts(day, 12),
        "interaction_date": day,
        "type": "email_open",
        "channel": "email",
        "campaign_id": "c1",
    }


def click(eid: str, day: date, event_type: str = "page_view") -> dict:
    return {
        "event_id": eid,
        "event_ts": ts(day, 8),
        "event_date": day,
        "event_type": event_type,
        "session_id": f"s-{day.day}",
        "customer_id": 1,
        "product_id": None,
        "order_id": None,
        "device": "mobile",
        "utm_source": "",
        "utm_campaign": None,
    }


def session(sid: str, day: date, events: int) -> dict:
    return {
        "session_id": sid,
        "session_date": day,
        "customer_id": 1,
        "started_at": ts(day, 8),
        "ended_at": ts(day, 9),
        "events": events,
        "page_views": events,
        "product_views": 0,
        "add_to_carts": 0,
        "checkouts": 0,
        "purchases": 0,
        "device": "mobile",
        "utm_campaign": None,
    }


def quarantine(source: str, day: date, key: str, run_id: str) -> dict:
    return {
        "source": source,
        "business_date": day,
        "record_key": key,
        "raw": "{not json",
        "reason": "malformed JSON",
        "run_id": run_id,
    }


def audit(source: str, rows_in: int, day: date) -> AuditRow:
    return AuditRow(source, rows_in, rows_in, 0, 0, ts(day + (D2 - D1), 1), ts(day + (D2 - D1), 2))


@dataclass
class Day:
    """One load_day call."""

    business_date: date
    run_id: str
    deltas: dict[str, pa.Table]
    audit: list[AuditRow]
    derive: tuple[str, ...] = DERIVE

    def load(self, wh: Warehouse) -> LoadResult:
        return wh.load_day(
            self.deltas,
            business_date=self.business_date,
            run_id=self.run_id,
            audit=self.audit,
            derive=self.derive,
        )


def day_one() -> Day:
    run = "scheduled__2024-03-02T01:00:00+00:00"
    return Day(
        D1,
        run,
        {
            "dim_customer": table(
                "dim_customer",
                [customer(1, ts(D1, 10), "h1-a"), customer(2, ts(D1, 11), "h2-a")],
            ),
            "dim_product": table(
                "dim_product",
                [product("p1", "10.00", ts(D1, 5)), product("p2", "5.50", ts(D1, 5))],
            ),
            "fct_order_line": table(
                "fct_order_line",
                [
                    order_line(1, 1, ts(D1, 10), "placed", "0.10"),
                    order_line(1, 2, ts(D1, 10), "placed", "0.20"),
                ],
            ),
            "fct_interaction": table(
                "fct_interaction", [interaction("i1", D1), interaction("i2", D1)]
            ),
            "fct_click_event": table("fct_click_event", [click("e1", D1), click("e2", D1)]),
            "fct_session": table("fct_session", [session("s-1", D1, 2)]),
            "quarantine": table(
                "quarantine",
                [
                    quarantine("clickstream", D1, "k1", run),
                    quarantine("clickstream", D1, "k2", run),
                ],
            ),
        },
        [audit("sales", 4, D1), audit("clickstream", 4, D1), audit("products", 2, D1)],
    )


def day_two() -> Day:
    run = "scheduled__2024-03-03T01:00:00+00:00"
    return Day(
        D2,
        run,
        {
            "dim_customer": table(
                "dim_customer",
                [
                    customer(1, ts(D2, 9), "h1-b", None),  # newer than day one
                    customer(2, ts(D1, 8), "h2-old"),  # older than day one: loses
                    customer(3, ts(D2, 10), "h3-a"),
                ],
            ),
            "dim_product": table(
                "dim_product",
                [product("p2", "6.00", ts(D2, 5)), product("p3", "1.25", ts(D2, 6))],
            ),
            "fct_order_line": table(
                "fct_order_line",
                [
                    order_line(1, 1, ts(D2, 8), "shipped", "0.10"),
                    order_line(2, 1, ts(D2, 9), "placed", "7.35"),
                ],
            ),
            "fct_interaction": table(
                "fct_interaction", [interaction("i2", D1), interaction("i3", D2, customer_id=3)]
            ),
            "fct_click_event": table(
                "fct_click_event", [click("e2", D1), click("e3", D2, "add_to_cart")]
            ),
            "fct_session": table("fct_session", [session("s-1", D1, 3), session("s-2", D2, 1)]),
            "quarantine": table("quarantine", [quarantine("clickstream", D2, "k9", run)]),
        },
        [audit("sales", 4, D2), audit("clickstream", 3, D2), audit("products", 2, D2)],
    )


def checksums(wh: Warehouse) -> dict[str, str]:
    return {name: wh.checksum(name) for name in TABLES}


def rows(wh: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    result = wh.query_arrow(sql)
    return list(
        zip(*(result.column(i).to_pylist() for i in range(result.num_columns)), strict=True)
    )


# -- scenarios -----------------------------------------------------------------------------


def ensure_schema_is_idempotent(make: Make) -> None:
    wh = make()
    wh.ensure_schema()
    day_one().load(wh)
    before = checksums(wh)
    wh.ensure_schema()
    assert checksums(wh) == before
    assert wh.scalar("select count(*) from analytics.dim_customer") == 2


def upsert_newest_is_order_independent(make: Make) -> None:
    forward, backward = make(), make()
    for d in (day_one(), day_two()):
        d.load(forward)
    for d in (day_two(), day_one()):
        d.load(backward)
    for name in ("dim_customer", "fct_order_line", "fct_interaction", "fct_click_event"):
        assert forward.checksum(name) == backward.checksum(name), name
    got = rows(forward, "select customer_id, email_hash, country from analytics.dim_customer")
    assert sorted(got) == [(1, "h1-b", None), (2, "h2-a", "DE"), (3, "h3-a", "DE")]
    status = forward.scalar(
        "select status from analytics.fct_order_line where order_id = ? and line_no = ?", [1, 1]
    )
    assert status == "shipped"


def upsert_newest_counts_and_ties(make: Make) -> None:
    wh = make()
    day_one().load(wh)
    report = day_two().load(wh)
    assert (report.tables["dim_customer"].inserted, report.tables["dim_customer"].updated) == (1, 1)
    again = day_two().load(wh)  # same key, same updated_at: the delta's row is kept
    assert (again.tables["dim_customer"].inserted, again.tables["dim_customer"].updated) == (0, 2)
    assert wh.scalar("select count(*) from analytics.dim_customer") == 3


def snapshot_deactivates_missing(make: Make) -> None:
    wh = make()
    day_one().load(wh)
    report = day_two().load(wh)
    load = report.tables["dim_product"]
    assert (load.inserted, load.updated, load.deactivated) == (1, 1, 1)
    got = rows(wh, "select product_id, price, active, updated_at from analytics.dim_product")
    assert sorted(got) == [
        ("p1", Decimal("10.00"), False, ts(D2, 6)),  # as of the snapshot that missed it
        ("p2", Decimal("6.00"), True, ts(D2, 5)),
        ("p3", Decimal("1.25"), True, ts(D2, 6)),
    ]
    empty = Day(D2, "r-empty", {"dim_product": table("dim_product", [])}, [], ())
    assert empty.load(wh).tables["dim_product"].deactivated == 0
    revived = [product("p1", "10.00", ts(D2, 23))]
    back = Day(D2, "r-back", {"dim_product": table("dim_product", revived)}, [], ())
    back_report = back.load(wh).tables["dim_product"]
    assert (back_report.updated, back_report.deactivated) == (1, 2)
    assert wh.scalar("select active from analytics.dim_product where product_id = 'p1'") is True


def snapshot_ignores_an_older_snapshot(make: Make) -> None:
    """Re-running an older day reverts no price and deactivates no newer product."""
    wh = make()
    day_one().load(wh)
    day_two().load(wh)
    before = wh.checksum("dim_product")
    report = day_one().load(wh).tables["dim_product"]
    assert (report.inserted, report.updated, report.deactivated) == (0, 0, 0)
    assert wh.checksum("dim_product") == before


def insert_new_ignores_known_keys(make: Make) -> None:
    wh = make()
    day_one().load(wh)
    changed = Day(
        D2,
        "r-changed",
        {
            "fct_click_event": table(
                "fct_click_event", [click("e1", D2, "purchase"), click("e4", D2)]
            )
        },
        [],
        (),
    )
    report = changed.load(wh)
    assert report.tables["fct_click_event"].inserted == 1
    assert wh.scalar("select event_type from analytics.fct_click_event where event_id = 'e1'") == (
        "page_view"
    )
    assert wh.scalar("select count(*) from analytics.fct_click_event") == 3
    assert wh.scalar("select utm_source from analytics.fct_click_event where event_id = 'e1'") == ""


def quarantine_replaced_per_partition(make: Make) -> None:
    wh = make()
    one = day_one()
    one.deltas["quarantine"] = table(
        "quarantine",
        [
            quarantine("clickstream", D1, "k1", one.run_id),
            quarantine("clickstream", D1, "k2", one.run_id),
            quarantine("sales", D1, "o-9", one.run_id),
        ],
    )
    one.load(wh)
    day_two().load(wh)
    count = "select count(*) from analytics.quarantine where source = ? and business_date = ?"
    assert wh.scalar(count, ["clickstream", D1]) == 2
    rerun = Day(
        D1,
        "rerun",
        {"quarantine": table("quarantine", [quarantine("clickstream", D1, "k2", "rerun")])},
        [audit("clickstream", 4, D1), audit("sales", 4, D1)],
        (),
    )
    report = rerun.load(wh)
    assert report.tables["quarantine"].deleted == 3
    assert rows(
        wh, "select source, record_key, run_id from analytics.quarantine order by 1, 2"
    ) == [
        ("clickstream", "k2", "rerun"),
        ("clickstream", "k9", day_two().run_id),
    ]
    cleared = Day(D1, "cleared", {}, [audit("clickstream", 4, D1)], ())  # no quarantine delta
    cleared.load(wh)
    assert wh.scalar(count, ["clickstream", D1]) == 0
    assert wh.scalar(count, ["clickstream", D2]) == 1


def audit_upserted_per_run_and_source(make: Make) -> None:
    wh = make()
    first = Day(D1, "run-a", {}, [audit("sales", 5, D1), audit("clickstream", 7, D1)], ())
    first.load(wh)
    rewrite = Day(D1, "run-a", {}, [audit("sales", 6, D1)], ())
    report = rewrite.load(wh)
    assert (report.tables["load_audit"].inserted, report.tables["load_audit"].updated) == (0, 1)
    Day(D1, "run-b", {}, [audit("sales", 5, D1)], ()).load(wh)
    got = rows(wh, "select run_id, source, rows_in from analytics.load_audit order by 1, 2")
    assert got == [("run-a", "clickstream", 7), ("run-a", "sales", 6), ("run-b", "sales", 5)]
    started = wh.scalar("select started_at from analytics.load_audit where run_id = 'run-b'")
    assert started == ts(D2, 1)
    assert wh.scalar("select business_date from analytics.load_audit where run_id = 'run-b'") == D1


def failing_derive_rolls_back_everything(make: Make) -> None:
    wh = make()
    day_one().load(wh)
    before = checksums(wh)
    broken = day_two()
    broken.derive = (*DERIVE, "-- step that breaks\ninsert into analytics.no_such_table values (1)")
    with pytest.raises(WarehouseError) as caught:
        broken.load(wh)
    assert "derive statement 3 of 3 (step that breaks)" in str(caught.value)
    assert checksums(wh) == before
    day_two().load(wh)  # the warehouse is usable afterwards
    assert checksums(wh) != before


def a_repeated_delta_key_rolls_back(make: Make) -> None:
    """A delta holding a key twice fails the load in every dialect (a primary key, or
    DuckDB's key check), and nothing of the load stays."""
    wh = make()
    day_one().load(wh)
    before = checksums(wh)
    twice = day_two()
    clicks = [click("e4", D2), click("e5", D2), click("e4", D2, "purchase")]
    twice.deltas["fct_click_event"] = table("fct_click_event", clicks)
    with pytest.raises(WarehouseError, match="fct_click_event"):
        twice.load(wh)
    assert checksums(wh) == before
    day_two().load(wh)  # usable afterwards
    assert checksums(wh) != before


def derive_sees_staged_deltas(make: Make) -> None:
    wh = make()
    day_one().load(wh)
    day_two().load(wh)
    got = rows(wh, "select session_id, events from analytics.fct_session order by 1")
    assert got == [("s-1", 3), ("s-2", 1)]


def checksum_ignores_order_sees_content(make: Make) -> None:
    a, b, c = make(), make(), make()
    lines = [
        order_line(1, 1, ts(D1, 1), "placed", "1.00"),
        order_line(1, 2, ts(D1, 1), "placed", "2.00"),
        order_line(2, 1, ts(D1, 1), "placed", "3.00"),
    ]
    swapped = [*lines[:2], order_line(2, 1, ts(D1, 1), "placed", "3.01")]
    for wh, data in ((a, lines), (b, list(reversed(lines))), (c, swapped)):
        Day(D1, "r", {"fct_order_line": table("fct_order_line", data)}, [], ()).load(wh)
    assert a.checksum("fct_order_line") == b.checksum("fct_order_line")
    assert a.checksum("fct_order_line") != c.checksum("fct_order_line")
    assert a.checksum("fct_order_line", exclude=["unit_price", "line_revenue_usd"]) == c.checksum(
        "fct_order_line", exclude=["unit_price", "line_revenue_usd"]
    )
    assert a.checksum("customer_daily") == c.checksum("customer_daily")  # both empty


def decimals_are_exact(make: Make) -> None:
    wh = make()
    day_one().load(wh)  # two lines of 0.10 and 0.20
    total = wh.scalar("select sum(line_revenue_usd) from analytics.fct_order_line")
    assert total == Decimal("0.30")
    assert str(total) == "0.30"
    big = Day(
        D1,
        "big",
        {"dim_product": table("dim_product", [product("max", "9999999999999999.99", ts(D1, 1))])},
        [],
        (),
    )
    big.load(wh)
    result = wh.query_arrow(
        "select price from analytics.dim_product where product_id = $pid", {"pid": "max"}
    )
    assert pa.types.is_decimal(result.schema.field("price").type)
    assert result.column("price").to_pylist() == [Decimal("9999999999999999.99")]


def report_counts_and_phases(make: Make) -> None:
    wh = make()
    report = day_one().load(wh)
    assert {"stage", "merge", "derive", "commit", "total"} <= set(report.seconds)
    assert report.tables["fct_click_event"].staged == 2
    assert report.tables["fct_click_event"].inserted == 2
    assert "fct_session" not in report.tables  # REBUILD tables are derive's business
    assert report.to_dict()["business_date"] == "2024-03-01"


def queries_are_read_only(make: Make) -> None:
    wh = make()
    day_one().load(wh)
    with pytest.raises(WarehouseError, match="running a query"):
        wh.query_arrow("delete from analytics.dim_customer")
    with pytest.raises(WarehouseError, match="running a query"):
        wh.scalar("delete from analytics.dim_customer where customer_id = ?", [1])
    assert wh.scalar("select count(*) from analytics.dim_customer") == 2


SCENARIOS: list[Callable[[Make], None]] = [
    ensure_schema_is_idempotent,
    upsert_newest_is_order_independent,
    upsert_newest_counts_and_ties,
    snapshot_deactivates_missing,
    snapshot_ignores_an_older_snapshot,
    insert_new_ignores_known_keys,
    quarantine_replaced_per_partition,
    audit_upserted_per_run_and_source,
    failing_derive_rolls_back_everything,
    derive_sees_staged_deltas,
    a_repeated_delta_key_rolls_back,
    checksum_ignores_order_sees_content,
    decimals_are_exact,
    report_counts_and_phases,
    queries_are_read_only,
]
