"""The transform (DuckDB, in memory): rules 1, 2, 3, 4 and 9 on small hand-made inputs."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlglot

from shopflow.sources.clickstream import EVENTS_SCHEMA
from shopflow.sources.interactions import INTERACTIONS_SCHEMA
from shopflow.sources.products import PRODUCTS_SCHEMA
from shopflow.sources.quarantine import QUARANTINE_SCHEMA
from shopflow.sources.result import ReconciliationError
from shopflow.sources.sales import TABLES as SALES
from shopflow.transform import build
from shopflow.transform.build import (
    LAYERS,
    TransformError,
    derive_statements,
    models,
    split_statements,
    transform_day,
)
from shopflow.transform.deltas import DELTA_MODELS, Deltas
from shopflow.transform.hashing import email_hashes
from shopflow.transform.inputs import StagedDay, StagedSource
from shopflow.warehouse.arrow import arrow_schema
from shopflow.warehouse.tables import TABLES

pytestmark = pytest.mark.unit

KEY = "unit-test-key"
DAY = date(2024, 3, 10)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def hmac_hex(text: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def tbl(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def customer(cid: int, email: str | None, updated: str = "2024-03-10T08:00") -> dict[str, Any]:
    return {
        "customer_id": cid,
        "email": email,
        "country": "de",
        "created_at": utc("2024-01-01T00:00"),
        "updated_at": utc(updated),
    }


def order(
    oid: int, cid: int, at: str, *, status: str = "paid", currency: str = "USD", updated: str = ""
) -> dict[str, Any]:
    return {
        "order_id": oid,
        "customer_id": cid,
        "status": status,
        "currency": currency,
        "order_ts": utc(at),
        "updated_at": utc(updated or at),
        "shipping_amount": Decimal("0.00"),
        "discount_amount": Decimal("0.00"),
    }


def item(oid: int, line: int, qty: int, price: str, product: str = "p1") -> dict[str, Any]:
    return {
        "order_id": oid,
        "line_no": line,
        "product_id": product,
        "quantity": qty,
        "unit_price": Decimal(price),
    }


def rate(day: date, currency: str, value: str) -> dict[str, Any]:
    return {"rate_date": day, "currency": currency, "usd_per_unit": Decimal(value)}


def interaction(
    iid: str, email: str | None, kind: str, at: datetime, channel: str = "email"
) -> dict[str, Any]:
    return {
        "interaction_id": iid,
        "email": email,
        "type": kind,
        "channel": channel,
        "campaign_id": "c1",
        "occurred_at_raw": at.isoformat(),
        "occurred_at": at,
        "properties": "{}",
    }


def event(eid: str, session: str, at: str, kind: str = "page_view") -> dict[str, Any]:
    return {
        "event_id": eid,
        "event_type": kind,
        "ts": utc(at),
        "session_id": session,
        "customer_id": None,
        "device": "mobile",
        "source_file": "f.json.gz",
        "source_line": 1,
    }


def sales(
    customers: list[dict[str, Any]] | None = None,
    orders: list[dict[str, Any]] | None = None,
    items: list[dict[str, Any]] | None = None,
    fx: list[dict[str, Any]] | None = None,
) -> StagedSource:
    return StagedSource(
        {
            "customers": tbl(customers or [], SALES["customers"].schema),
            "orders": tbl(orders or [], SALES["orders"].schema),
            "order_items": tbl(items or [], SALES["order_items"].schema),
            "fx_rates": tbl(fx or [], SALES["fx_rates"].schema),
        }
    )


def run(**sources: StagedSource) -> Deltas:
    return transform_day(StagedDay(sources), business_date=DAY, run_id="run-1", hash_key=KEY)


def lines_fx(fx: list[dict[str, Any]], currency: str = "EUR") -> dict[str, Any]:
    """fx_rate and revenue of a single line (qty 1 x 10.00) ordered on DAY."""
    deltas = run(
        sales=sales(
            orders=[order(1, 1, "2024-03-10T12:00", currency=currency)],
            items=[item(1, 1, 1, "10.00")],
            fx=fx,
        )
    )
    (line,) = deltas.fct_order_line.to_pylist()
    return line


# -- rule 1: email hashing ----------------------------------------------------------


def test_email_hash_is_hmac_sha256_of_lower_trimmed_email() -> None:
    expected = hmac_hex("alice@example.com")
    got = email_hashes(
        pa.array([" Alice@Example.COM\t", "alice@example.com", "ALICE@EXAMPLE.COM "]), KEY
    )
    assert got.to_pylist() == [expected] * 3
    assert expected == expected.lower() and len(expected) == 64
    assert email_hashes(pa.array(["alice@example.com"]), "other-key")[0].as_py() != expected


def test_customers_and_interactions_share_the_hash_and_no_email_leaves() -> None:
    at = utc("2024-03-10T09:00")
    deltas = run(
        sales=sales(customers=[customer(1, "  Bob@Shop.Example ")]),
        interactions=StagedSource(
            {"interactions": tbl([interaction("i1", "bob@shop.example", "email_open", at)],
                                 INTERACTIONS_SCHEMA)}
        ),
    )  # fmt: skip
    expected = hmac_hex("bob@shop.example")
    assert deltas.dim_customer.column("email_hash").to_pylist() == [expected]
    assert deltas.fct_interaction.column("email_hash").to_pylist() == [expected]
    for name, table in deltas.tables().items():
        assert "email" not in table.column_names, name
        for value in table.to_pylist():
            assert "shop.example" not in str(value), name


def test_blank_email_is_quarantined_not_loaded() -> None:
    deltas = run(
        sales=sales(customers=[customer(1, "   "), customer(2, None), customer(3, "a@b.c")])
    )
    assert deltas.dim_customer.column("customer_id").to_pylist() == [3]
    quarantined = deltas.quarantine.to_pylist()
    assert [(q["record_key"], q["reason"]) for q in quarantined] == [
        ("customers/1", "missing_email"),
        ("customers/2", "missing_email"),
    ]
    assert all(q["source"] == "sales" and q["business_date"] == DAY for q in quarantined)
    assert all(q["run_id"] == "run-1" for q in quarantined)


def test_empty_hash_key_is_refused() -> None:
    with pytest.raises(TransformError, match="hash key"):
        transform_day(StagedDay({}), business_date=DAY, run_id="r", hash_key="")


# -- rule 2: fx and revenue ---------------------------------------------------------


def test_fx_rate_of_the_order_date() -> None:
    line = lines_fx([rate(DAY, "EUR", "1.10000000"), rate(DAY - timedelta(days=1), "EUR", "2")])
    assert line["fx_rate"] == Decimal("1.10000000")
    assert line["line_revenue_usd"] == Decimal("11.00")
    assert line["order_date"] == DAY


def test_fx_falls_back_to_latest_earlier_rate_within_7_days() -> None:
    line = lines_fx(
        [rate(DAY - timedelta(days=3), "EUR", "1.2"), rate(DAY - timedelta(days=5), "EUR", "9")]
    )
    assert line["fx_rate"] == Decimal("1.2")
    assert lines_fx([rate(DAY - timedelta(days=7), "EUR", "1.3")])["fx_rate"] == Decimal("1.3")


def test_fx_older_than_7_days_gives_null_rate_and_revenue() -> None:
    line = lines_fx([rate(DAY - timedelta(days=8), "EUR", "1.2"), rate(DAY, "GBP", "1.3")])
    assert line["fx_rate"] is None
    assert line["line_revenue_usd"] is None


def test_fx_ignores_later_rates_and_usd_defaults_to_one() -> None:
    assert lines_fx([rate(DAY + timedelta(days=1), "EUR", "1.2")])["fx_rate"] is None
    usd = lines_fx([], currency="USD")
    assert usd["fx_rate"] == Decimal(1) and usd["line_revenue_usd"] == Decimal("10.00")


@pytest.mark.parametrize(
    ("qty", "price", "fx", "revenue"),
    [
        (3, "0.05", "0.50000000", "0.08"),  # 0.075: half away from zero
        (1, "0.01", "0.50000000", "0.01"),  # 0.005
        (1, "0.01", "0.49999999", "0.00"),  # 0.0049999999
        (1, "10.00", "0.33333333", "3.33"),
        (7, "99999.99", "1.23456789", "864197.44"),  # 864197.4365802477
        (3000, "9999999.99", "150.12345678", "4503703698896.30"),  # no float would hold it
    ],
)
def test_revenue_is_rounded_exactly(qty: int, price: str, fx: str, revenue: str) -> None:
    deltas = run(
        sales=sales(
            orders=[order(1, 1, "2024-03-10T12:00", currency="EUR")],
            items=[item(1, 1, qty, price)],
            fx=[rate(DAY, "EUR", fx)],
        )
    )
    exact = (qty * Decimal(price) * Decimal(fx)).quantize(Decimal("0.01"), "ROUND_HALF_UP")
    assert exact == Decimal(revenue)
    assert deltas.fct_order_line.column("line_revenue_usd").to_pylist() == [Decimal(revenue)]


def test_revenue_out_of_range_fails_loudly() -> None:
    with pytest.raises(TransformError, match="int_order_lines"):
        run(
            sales=sales(
                orders=[order(1, 1, "2024-03-10T12:00", currency="EUR")],
                items=[item(1, 1, 30000, "9999999999.99")],
                fx=[rate(DAY, "EUR", "150.12345678")],
            )
        )


def test_order_line_takes_status_and_updated_at_from_its_order() -> None:
    deltas = run(
        sales=sales(
            orders=[
                order(1, 7, "2024-03-02T23:30", status=" Shipped ", updated="2024-03-10T05:00")
            ],
            items=[item(1, 1, 2, "3.00"), item(1, 2, 1, "4.00", product="p-unknown")],
        )
    )
    lines = deltas.fct_order_line.to_pylist()
    assert [(x["line_no"], x["status"], x["customer_id"]) for x in lines] == [
        (1, "shipped", 7),
        (2, "shipped", 7),
    ]
    assert {x["updated_at"] for x in lines} == {datetime(2024, 3, 10, 5, 0)}
    assert {x["order_date"] for x in lines} == {date(2024, 3, 2)}
    assert lines[1]["product_id"] == "p-unknown"  # unknown products are kept (quality check)


def test_orders_that_cannot_be_loaded_take_their_lines_to_quarantine() -> None:
    deltas = run(
        sales=sales(
            orders=[
                order(1, 1, "2024-03-10T01:00", status="lost"),
                order(2, 1, "2024-03-10T02:00"),
            ],
            items=[item(1, 1, 1, "1.00"), item(2, 1, 1, "1.00"), item(3, 1, 1, "1.00")],
        )
    )
    assert deltas.fct_order_line.column("order_id").to_pylist() == [2]
    assert [(q["record_key"], q["reason"]) for q in deltas.quarantine.to_pylist()] == [
        ("order_items/1/1", "order_unknown_status"),
        ("order_items/3/1", "order_not_staged"),
        ("orders/1", "unknown_status"),
    ]
    (audit,) = deltas.audit
    assert (audit.rows_in, audit.rows_loaded, audit.rows_quarantined) == (5, 2, 3)


# -- rule 3 and 4: interactions and clickstream -------------------------------------


def test_interactions_are_unresolved_and_dated_in_utc() -> None:
    late_evening = datetime(2024, 3, 10, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    deltas = run(
        interactions=StagedSource(
            {"interactions": tbl([interaction("i1", "x@y.z", "email_click", late_evening)],
                                 INTERACTIONS_SCHEMA)}
        )
    )  # fmt: skip
    (row,) = deltas.fct_interaction.to_pylist()
    assert row["customer_id"] is None
    assert row["occurred_at"] == datetime(2024, 3, 11, 1, 30)
    assert row["interaction_date"] == date(2024, 3, 11)


def test_unknown_interaction_types_and_channels_are_quarantined() -> None:
    at = utc("2024-03-10T10:00")
    rows = [
        interaction("i1", "a@b.c", "email_open", at),
        interaction("i2", "a@b.c", "fax_sent", at),
        interaction("i3", "a@b.c", "email_click", at, channel="pigeon"),
        interaction("i4", "", "sms_click", at, channel="sms"),
    ]
    counts = {"rows_in": 6, "rows_loaded": 4, "rows_duplicate": 1, "rows_quarantined": 1}
    extract_quarantine = tbl(
        [{"record_key": "i9", "raw": '{"id": "i9", "note": "mail me at a.b@c.de"}', "reason": "x"}],
        QUARANTINE_SCHEMA,
    )
    deltas = run(
        interactions=StagedSource(
            {"interactions": tbl(rows, INTERACTIONS_SCHEMA), "quarantine": extract_quarantine},
            counts,
        )
    )
    assert deltas.fct_interaction.column("interaction_id").to_pylist() == ["i1"]
    reasons = {q["record_key"]: q["reason"] for q in deltas.quarantine.to_pylist()}
    assert reasons == {
        "interactions/i2": "unknown_type",
        "interactions/i3": "unknown_channel",
        "interactions/i4": "missing_email",
        "i9": "x",
    }
    raw = {q["record_key"]: q["raw"] for q in deltas.quarantine.to_pylist()}
    assert "a.b@c.de" not in raw["i9"] and "<email>" in raw["i9"]
    assert hmac_hex("a@b.c") in raw["interactions/i2"] and "a@b.c" not in raw["interactions/i2"]
    (audit,) = deltas.audit
    assert (audit.source, audit.rows_in, audit.rows_loaded) == ("interactions", 6, 1)
    assert (audit.rows_duplicate, audit.rows_quarantined) == (1, 4)


def test_click_events_pass_through_with_their_own_customer() -> None:
    rows = [event("e2", "s1", "2024-03-09T23:59:59"), event("e1", "s1", "2024-03-10T00:00")]
    rows[1]["customer_id"] = 17
    dup = event("e1", "s1", "2024-03-10T00:00")
    bad = event("e3", "s1", "2024-03-10T00:01", kind="teleport")
    quarantine = tbl([{"record_key": "f:9", "raw": "{not json", "reason": "not_json"}],
                     QUARANTINE_SCHEMA)  # fmt: skip
    deltas = run(
        clickstream=StagedSource(
            {"events": tbl([*rows, dup, bad], EVENTS_SCHEMA), "quarantine": quarantine},
            {"rows_in": 6, "rows_loaded": 4, "rows_duplicate": 1, "rows_quarantined": 1},
        )
    )
    got = deltas.fct_click_event.to_pylist()
    assert [(e["event_id"], e["event_date"], e["customer_id"]) for e in got] == [
        ("e1", date(2024, 3, 10), 17),
        ("e2", date(2024, 3, 9), None),
    ]
    assert {(q["record_key"], q["reason"]) for q in deltas.quarantine.to_pylist()} == {
        ("f:9", "not_json"),
        ("events/e3", "unknown_event_type"),
    }
    (audit,) = deltas.audit
    assert (audit.rows_in, audit.rows_loaded, audit.rows_duplicate, audit.rows_quarantined) == (
        6,
        2,
        2,
        2,
    )


def test_products_snapshot_prices_to_cents() -> None:
    rows = [
        {"product_id": "p1", "sku": "s", "name": "n", "category": "c", "brand": None,
         "price": Decimal("9.9950"), "currency": "eur", "active": True,
         "updated_at": utc("2024-03-01T10:00"), "attributes": '{"a": 1}'},
    ]  # fmt: skip
    deltas = run(products=StagedSource({"products": tbl(rows, PRODUCTS_SCHEMA)}))
    (product,) = deltas.dim_product.to_pylist()
    assert product["price"] == Decimal("10.00") and product["currency"] == "EUR"
    assert product["updated_at"] == datetime(2024, 3, 1, 10, 0)


# -- rule 9 and the deltas' shape ---------------------------------------------------


def test_audit_adds_transform_drops_to_extract_counts() -> None:
    deltas = run(
        sales=StagedSource(
            {
                "customers": tbl(
                    [customer(1, None), customer(2, "a@b.c")], SALES["customers"].schema
                )
            },
            {"rows_in": 2, "rows_loaded": 2, "rows_duplicate": 0, "rows_quarantined": 0},
        )
    )
    (audit,) = deltas.audit
    assert (audit.rows_in, audit.rows_loaded, audit.rows_duplicate, audit.rows_quarantined) == (
        2,
        1,
        0,
        1,
    )


def test_counts_that_do_not_reconcile_fail() -> None:
    with pytest.raises(ReconciliationError):
        run(
            sales=StagedSource(
                {"customers": tbl([customer(1, None)], SALES["customers"].schema)},
                {"rows_in": 1, "rows_loaded": 0, "rows_duplicate": 0, "rows_quarantined": 1},
            )
        )


def test_deltas_have_exactly_the_warehouse_columns_and_skip_unstaged_sources() -> None:
    deltas = run(sales=sales(customers=[customer(1, "a@b.c")]))
    for name, table in deltas.tables().items():
        assert table.schema.equals(arrow_schema(TABLES[name])), name
    assert set(deltas.tables()) == {"dim_customer", "fct_order_line", "quarantine"}
    assert [a.source for a in deltas.audit] == ["sales"]
    assert deltas.dim_product.num_rows == 0


# -- the SQL files ------------------------------------------------------------------


def test_models_run_after_the_models_they_read() -> None:
    seen: set[str] = set()
    names = [m.name for m in models()]
    for model in models():
        assert model.depends_on <= seen, model.name
        seen.add(model.name)
    assert {"dim_customer", "dim_product", "fct_order_line", "fct_quarantine"} <= set(names)
    assert len(names) == len(set(names))


def test_models_sit_in_their_layer_and_the_deltas_are_mart_views() -> None:
    found = {m.name: m for m in models()}
    assert {m.layer for m in found.values()} == set(LAYERS) == {"staging", "intermediate", "marts"}
    rank = list(LAYERS).index
    for model in found.values():
        assert model.name.startswith(LAYERS[model.layer]), model.name
        assert all(rank(found[d].layer) <= rank(model.layer) for d in model.depends_on)
    assert DELTA_MODELS["quarantine"] == "fct_quarantine"
    for table, name in DELTA_MODELS.items():
        assert found[name].layer == "marts" and found[name].view, table
    for model in found.values():
        marked = "-- materialized: view" in model.sql.splitlines()
        assert model.view == (marked or model.name in DELTA_MODELS.values()), model.name
    assert not any(m.view for m in found.values() if m.layer == "staging")


@pytest.fixture
def model_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the package's models/ that model discovery reads instead."""
    package = Path(build.__file__).parent
    shutil.copytree(package / "models", tmp_path / "models")
    monkeypatch.setattr(build, "_folder", lambda *parts: tmp_path.joinpath(*parts))
    return tmp_path / "models"


def test_model_discovery_reads_the_layer_folders(model_tree: Path) -> None:
    (model_tree / "intermediate" / "int_extra.sql").write_text(
        "-- materialized: view\nselect * from stg_orders\n"
    )
    found = {m.name: m for m in build.models.__wrapped__()}
    assert set(found) == {m.name for m in models()} | {"int_extra"}
    assert found["int_extra"].view and found["int_extra"].depends_on == {"stg_orders"}


@pytest.mark.parametrize(
    ("path", "sql", "message"),
    [
        ("stg_loose.sql", "select 1 as x", "belongs in a layer folder"),
        ("macros/stg_m.sql", "select 1 as x", "not a layer folder"),
        ("staging/int_early.sql", "select 1 as x", "name must start stg_"),
        ("marts/int_late.sql", "select 1 as x", "name must start dim_ or fct_"),
        ("marts/stg_orders.sql", "select 1 as x", "is in models/staging/ and models/marts/"),
        ("staging/stg_ahead.sql", "select * from int_rejects", "reads later models"),
        ("marts/fct_quarantine.sql", None, "delta quarantine: no mart model"),
    ],
)
def test_model_discovery_refuses_misplaced_models(
    model_tree: Path, path: str, sql: str | None, message: str
) -> None:
    target = model_tree / path
    if sql is None:
        target.unlink()
    else:
        target.parent.mkdir(exist_ok=True)
        target.write_text(sql + "\n")
    with pytest.raises(TransformError, match=message):
        build.models.__wrapped__()


def test_rejects_keep_the_staged_record_and_drops_count_per_source() -> None:
    deltas = run(
        sales=sales(
            customers=[customer(1, "a@b.c"), customer(1, "a@b.c", "2024-03-10T07:00")],
            orders=[
                order(5, 1, "2024-03-10T01:00", updated="2024-03-10T02:00"),
                order(5, 1, "2024-03-10T01:00"),
            ],
            items=[item(5, 1, 1, "1.00"), item(9, 1, 2, "3.50", product="p7")],
        )
    )
    (reject,) = deltas.quarantine.to_pylist()
    assert (reject["source"], reject["record_key"]) == ("sales", "order_items/9/1")
    assert json.loads(reject["raw"]) == {
        "order_id": 9, "line_no": 1, "product_id": "p7", "quantity": 2, "unit_price": 3.5,
    }  # fmt: skip
    (audit,) = deltas.audit
    assert (audit.rows_in, audit.rows_loaded, audit.rows_duplicate, audit.rows_quarantined) == (
        6,
        3,
        2,
        1,
    )


def test_derive_statements_are_portable() -> None:
    statements = derive_statements()
    assert statements[0].startswith("drop table if exists tmp_")
    assert statements[-1].startswith("drop table if exists tmp_")
    for sql in statements:
        assert "--" not in sql and ";" not in sql
        lowered = sql.lower()
        for construct in (" filter (", "::", " qualify ", "ilike", "nulls last", "asof"):
            assert construct not in lowered, (construct, sql[:60])
        for dialect in ("postgres", "redshift", "duckdb"):
            sqlglot.parse_one(sql, read=dialect)
    assert KEY not in " ".join(statements)


def test_split_statements_respects_quotes_and_comments() -> None:
    text = "select 'a;b' as x; -- note; here\n/* c; */ select \"c;d\" from t;\n\n;"
    assert split_statements(text) == ["select 'a;b' as x", 'select "c;d" from t']
