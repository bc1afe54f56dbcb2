"""Reading a day's staging into the transform, and the transform's determinism."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from shopflow.sources.clickstream import EVENTS_SCHEMA
from shopflow.sources.interactions import INTERACTIONS_SCHEMA
from shopflow.sources.products import PRODUCTS_SCHEMA
from shopflow.sources.quarantine import QUARANTINE_SCHEMA
from shopflow.sources.sales import TABLES as SALES
from shopflow.staging import Staging, StagingError
from shopflow.transform.build import transform_day
from shopflow.transform.inputs import (
    INPUTS,
    TS,
    StagedDay,
    StagedSource,
    StagedTable,
    conform,
)

pytestmark = pytest.mark.unit

DAY = date(2024, 6, 1)


def test_conform_fills_drops_and_normalises_timestamps() -> None:
    paris = timezone(timedelta(hours=2))
    staged = pa.table(
        {
            "b": pa.array([datetime(2024, 6, 1, 2, 0, tzinfo=paris)], pa.timestamp("us", "+02:00")),
            "extra": ["x"],
        }
    )
    out = conform(staged, {"a": pa.int64(), "b": TS, "c": None})
    assert out.column_names == ["a", "b", "c"]
    assert out.column("a").type == pa.int64() and out.column("a").null_count == 1
    assert out.column("b").type == TS
    assert out.column("b").to_pylist() == [datetime(2024, 6, 1, 0, 0)]  # UTC wall time
    assert conform(None, {"a": pa.int32()}).num_rows == 0


def test_conform_refuses_lossy_casts() -> None:
    with pytest.raises(pa.ArrowInvalid):
        conform(pa.table({"q": pa.array([2**40], pa.int64())}), {"q": pa.int32()})


def test_extract_counts_default_to_row_counts() -> None:
    source = StagedSource(
        {"events": pa.table({"x": [1, 2, 3]}), "quarantine": pa.table({"x": [1]})}
    )
    assert source.extract_counts() == {
        "rows_in": 4, "rows_loaded": 3, "rows_duplicate": 0, "rows_quarantined": 1,
    }  # fmt: skip


def test_from_staging_reads_every_manifest_table_and_its_counts(tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    customers = pa.Table.from_pylist(
        [{"customer_id": 1, "email": "a@b.c", "country": "FR",
          "created_at": datetime(2024, 1, 1, tzinfo=UTC),
          "updated_at": datetime(2024, 6, 1, 5, tzinfo=UTC)}],
        schema=SALES["customers"].schema,
    )  # fmt: skip
    with staging.writer("sales", DAY, run_id="r") as writer:
        writer.write("customers", customers)
        writer.set_counts(rows_in=1, rows_loaded=1, rows_duplicate=0, rows_quarantined=0)
    day = StagedDay.from_staging(staging, DAY, sources=("sales",))
    staged = day.sources["sales"].tables["customers"]
    assert isinstance(staged, StagedTable) and staged.read().equals(customers)
    assert day.sources["sales"].extract_counts()["rows_in"] == 1
    deltas = transform_day(day, business_date=DAY, run_id="r", hash_key="k")
    assert deltas.dim_customer.column("customer_id").to_pylist() == [1]
    with pytest.raises(StagingError, match="no committed staging partition"):
        StagedDay.from_staging(staging, DAY, sources=("sales", "products"))


def test_chunks_read_a_staged_table_row_group_by_row_group(tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    at = datetime(2024, 6, 1, tzinfo=UTC)
    orders = pa.Table.from_pylist(
        [{"order_id": n, "customer_id": n, "status": "paid", "currency": "USD", "order_ts": at,
          "updated_at": at, "shipping_amount": Decimal(n), "discount_amount": Decimal(0)}
         for n in range(10)],
        schema=SALES["orders"].schema,
    )  # fmt: skip
    with staging.writer("sales", DAY, run_id="r", rows_per_row_group=4) as writer:
        writer.write("orders", orders)
    day = StagedDay.from_staging(staging, DAY, sources=("sales",))
    chunks = list(day.chunks("sales", "orders", tmp_path / "cache"))
    assert [c.num_rows for c in chunks] == [4, 4, 2]
    assert pa.concat_tables(chunks).equals(day.table("sales", "orders"))
    (missing,) = day.chunks("sales", "customers", tmp_path / "cache")
    assert missing.num_rows == 0
    assert missing.column_names == list(INPUTS[("sales", "customers")])


def test_transform_is_deterministic() -> None:
    at = datetime(2024, 6, 1, 9, tzinfo=UTC)
    interactions = pa.Table.from_pylist(
        [{"interaction_id": f"i{n}", "email": f"u{n % 3}@x.io", "type": "email_open",
          "channel": "email", "campaign_id": "c", "occurred_at_raw": "",
          "occurred_at": at + timedelta(minutes=n)} for n in range(50)],
        schema=INTERACTIONS_SCHEMA,
    )  # fmt: skip
    orders = pa.Table.from_pylist(
        [{"order_id": n, "customer_id": n, "status": "paid", "currency": "USD", "order_ts": at,
          "updated_at": at, "shipping_amount": Decimal(0), "discount_amount": Decimal(0)}
         for n in range(20)],
        schema=SALES["orders"].schema,
    )  # fmt: skip
    items = pa.Table.from_pylist(
        [{"order_id": n, "line_no": 1, "product_id": "p", "quantity": 1,
          "unit_price": Decimal("1.25")} for n in range(20)],
        schema=SALES["order_items"].schema,
    )  # fmt: skip
    day = StagedDay(
        {
            "interactions": StagedSource({"interactions": interactions}),
            "sales": StagedSource({"orders": orders, "order_items": items}),
        }
    )
    first = transform_day(day, business_date=DAY, run_id="r", hash_key="k")
    second = transform_day(day, business_date=DAY, run_id="r", hash_key="k")
    for name, table in first.tables().items():
        assert table.equals(second.tables()[name]), name
    assert first.fct_interaction.num_rows == 50 and first.fct_order_line.num_rows == 20
    counts = [(a.source, a.rows_in, a.rows_loaded) for a in first.audit]
    assert counts == [(a.source, a.rows_in, a.rows_loaded) for a in second.audit]


def _day_in_memory() -> StagedDay:
    """A small day of every source, with duplicates, rejects and extract quarantine."""
    at = datetime(2024, 6, 1, 8, tzinfo=UTC)
    events = pa.Table.from_pylist(
        [{"event_id": f"e{n % 7}", "event_type": "page_view" if n % 5 else "teleport",
          "ts": at + timedelta(seconds=n // 7), "session_id": f"s{n % 3}", "customer_id": n,
          "device": "mobile", "utm_source": "" if n % 2 else "mail",
          "source_file": f"f{n % 2}.json.gz", "source_line": n} for n in range(30)],
        schema=EVENTS_SCHEMA,
    )  # fmt: skip
    products = pa.Table.from_pylist(
        [{"product_id": f"p{n % 4}", "sku": f"s{n}", "name": "n", "category": "c",
          "price": Decimal("9.9950") + n, "currency": "eur", "active": n % 3 > 0,
          "updated_at": at + timedelta(hours=n), "attributes": '{"a": 1}'} for n in range(8)],
        schema=PRODUCTS_SCHEMA,
    )  # fmt: skip
    customers = pa.Table.from_pylist(
        [{"customer_id": n % 4, "email": f" U{n}@X.io " if n != 3 else None, "country": "fr",
          "created_at": at, "updated_at": at + timedelta(minutes=n)} for n in range(6)],
        schema=SALES["customers"].schema,
    )  # fmt: skip
    orders = pa.Table.from_pylist(
        [{"order_id": n, "customer_id": n, "status": "paid" if n % 4 else "lost",
          "currency": "USD", "order_ts": at, "updated_at": at,
          "shipping_amount": Decimal(0), "discount_amount": Decimal(0)} for n in range(6)],
        schema=SALES["orders"].schema,
    )  # fmt: skip
    items = pa.Table.from_pylist(
        [{"order_id": n % 8, "line_no": 1, "product_id": "p1", "quantity": 2,
          "unit_price": Decimal("1.25")} for n in range(9)],
        schema=SALES["order_items"].schema,
    )  # fmt: skip
    quarantine = pa.Table.from_pylist(
        [{"record_key": "f0:9", "raw": "{bad a@b.io", "reason": "not_json"}],
        schema=QUARANTINE_SCHEMA,
    )
    return StagedDay(
        {
            "sales": StagedSource({"customers": customers, "orders": orders, "order_items": items}),
            "products": StagedSource({"products": products}),
            "clickstream": StagedSource({"events": events, "quarantine": quarantine}),
        }
    )


def test_staged_files_transform_like_the_same_tables_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_memory = _day_in_memory()
    staging = Staging.from_uri(str(tmp_path / "staging"))
    for source, staged in in_memory.sources.items():
        with staging.writer(source, DAY, run_id="r", rows_per_row_group=4) as writer:
            for name, table in staged.tables.items():
                assert isinstance(table, pa.Table)
                writer.write(name, table)
    on_disk = StagedDay.from_staging(staging, DAY, sources=tuple(in_memory.sources))
    assert on_disk.scan("clickstream", "events", tmp_path / "cache") is not None
    assert on_disk.scan("sales", "customers", tmp_path / "cache") is not None
    expected = transform_day(in_memory, business_date=DAY, run_id="r", hash_key="k")
    copied: list[tuple[str, str]] = []
    chunks = StagedDay.chunks

    def spy(self: StagedDay, source: str, name: str, cache_dir: Path) -> Iterator[pa.Table]:
        copied.append((source, name))
        return chunks(self, source, name, cache_dir)

    monkeypatch.setattr(StagedDay, "chunks", spy)
    got = transform_day(on_disk, business_date=DAY, run_id="r", hash_key="k")
    files = {(source, name) for source, s in on_disk.sources.items() for name in s.tables}
    assert files & set(copied) == {("sales", "customers")}  # the emails are hashed in Python
    for name, table in expected.tables().items():
        assert table.num_rows, name
        assert got.tables()[name].equals(table), name
    assert expected.fct_click_event.num_rows < 7 and expected.quarantine.num_rows > 1
    duplicates = [(a.source, a.rows_duplicate, a.rows_quarantined) for a in expected.audit]
    assert duplicates == [(a.source, a.rows_duplicate, a.rows_quarantined) for a in got.audit]


def test_scan_leaves_casts_to_conform(tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    at = datetime(2024, 6, 1, 8, tzinfo=UTC)
    orders = pa.table(
        {
            "order_id": pa.array([1, 2], pa.int32()),  # conform casts it to int64
            "customer_id": [1, 2],
            "status": ["paid", "paid"],
            "currency": ["USD", "USD"],
            "order_ts": pa.array([at, at], pa.timestamp("ns", "UTC")),
        }
    )
    items = pa.table({"order_id": [1, 2], "line_no": pa.array([1, 1], pa.int32())})
    with staging.writer("sales", DAY, run_id="r") as writer:
        writer.write("orders", orders)
        writer.write("order_items", items)
    day = StagedDay.from_staging(staging, DAY, sources=("sales",))
    assert day.scan("sales", "orders", tmp_path / "cache") is None
    assert day.scan("sales", "fx_rates", tmp_path / "cache") is None  # not staged
    scan = day.scan("sales", "order_items", tmp_path / "cache")
    assert scan is not None and "cast(null as integer)" in " ".join(scan.select)
    assert scan.conformed.names == list(INPUTS[("sales", "order_items")])
    in_memory = StagedDay({"sales": StagedSource({"orders": orders, "order_items": items})})
    expected = transform_day(in_memory, business_date=DAY, run_id="r", hash_key="k")
    got = transform_day(day, business_date=DAY, run_id="r", hash_key="k")
    for name, table in expected.tables().items():
        assert got.tables()[name].equals(table), name
