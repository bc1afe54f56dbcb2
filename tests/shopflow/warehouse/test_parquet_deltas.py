"""Deltas given as Parquet files (the load task's way): read lazily, loaded as tables are.

The scenario days of warehouse_scenarios.py are written to Parquet and loaded on each
dialect (DuckDB unit, Postgres integration; tests/shopflow/conftest.py): files in the
table's exact schema (DuckDB scans them in place), files that need conforming (another
column order, narrower integers: read and cast batch by batch), and a file whose bad
row is only found while loading, which must leave the warehouse as it was; Redshift's
statements and uploads are the same from files as from tables.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import warehouse_scenarios as sc

from shopflow.warehouse.arrow import arrow_schema
from shopflow.warehouse.base import LoadContext, LoadResult, Warehouse, WarehouseError, stage_inputs
from shopflow.warehouse.deltas import BATCH_ROWS, Delta, ParquetDelta, as_delta
from shopflow.warehouse.errors import DeltaError
from shopflow.warehouse.redshift import RedshiftWarehouse
from shopflow.warehouse.tables import DIM_CUSTOMER, DIM_PRODUCT

Reshape = Callable[[pa.Table], pa.Table]
ARN = "arn:aws:iam::123456789012:role/shopflow-loader"
PREFIX = "s3://shop-staging/warehouse"


def exact(table: pa.Table) -> pa.Table:
    return table


def loosened(table: pa.Table) -> pa.Table:
    """Columns reversed, bigints as int32, every field nullable: it needs conforming."""
    fields = [
        pa.field(f.name, pa.int32() if f.type == pa.int64() else f.type, nullable=True)
        for f in reversed(table.schema)
    ]
    return table.select([f.name for f in fields]).cast(pa.schema(fields))


def as_files(day: sc.Day, folder: Path, reshape: Reshape, *, split: int = 1) -> sc.Day:
    """day with every delta written as `split` Parquet files, reshaped."""
    deltas: dict[str, Any] = {}
    for name, table in day.deltas.items():
        paths = []
        step = max(1, -(-table.num_rows // split))
        for i, start in enumerate(range(0, max(table.num_rows, 1), step)):
            path = folder / f"{day.business_date}-{name}-{i}.parquet"
            pq.write_table(reshape(table.slice(start, step)), path)
            paths.append(path)
        deltas[name] = ParquetDelta.of(paths)
    return replace(day, deltas=deltas)


def counts(report: Any) -> dict[str, tuple[int, ...]]:
    return {
        name: (t.staged, t.inserted, t.updated, t.deactivated, t.deleted)
        for name, t in report.tables.items()
    }


@pytest.mark.parametrize("reshape", [exact, loosened], ids=["exact", "conformed"])
def test_parquet_deltas_load_as_tables_do(
    warehouse: sc.Make, tmp_path: Path, reshape: Reshape
) -> None:
    from_tables, from_files = warehouse(), warehouse()
    for day in (sc.day_one(), sc.day_two()):
        files = as_files(day, tmp_path, reshape, split=2)
        assert counts(files.load(from_files)) == counts(day.load(from_tables))
    assert sc.checksums(from_files) == sc.checksums(from_tables)


def test_a_bad_row_found_while_loading_rolls_the_load_back(
    warehouse: sc.Make, tmp_path: Path
) -> None:
    wh: Warehouse = warehouse()
    sc.day_one().load(wh)
    before = sc.checksums(wh)
    broken = as_files(sc.day_two(), tmp_path, loosened)
    clicks = sc.day_two().deltas["fct_click_event"]
    nulled = loosened(clicks).set_column(
        loosened(clicks).schema.get_field_index("event_id"),
        "event_id",
        pa.nulls(clicks.num_rows, pa.string()),
    )
    pq.write_table(nulled, broken.deltas["fct_click_event"].paths[0])
    with pytest.raises(WarehouseError, match="delta_fct_click_event") as caught:
        broken.load(wh)
    assert "null(s) in event_id" in str(caught.value.__cause__)
    assert sc.checksums(wh) == before
    sc.day_two().load(wh)  # usable afterwards
    assert sc.checksums(wh) != before


# -- the Delta itself (no database) ---------------------------------------------------------


def customers(rows: int) -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array(range(rows), pa.int64()),
            "email_hash": [f"h{i}" for i in range(rows)],
            "country": pa.nulls(rows, pa.string()),
            "created_at": pa.array([sc.ts(sc.D1, 1)] * rows, pa.timestamp("us")),
            "updated_at": pa.array([sc.ts(sc.D1, 2)] * rows, pa.timestamp("us")),
        }
    ).cast(arrow_schema(DIM_CUSTOMER))


@pytest.mark.unit
def test_exact_files_are_offered_for_scanning_and_counted_from_their_footers(
    tmp_path: Path,
) -> None:
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    pq.write_table(customers(3), paths[0])
    pq.write_table(customers(4), paths[1])
    delta = as_delta(DIM_CUSTOMER, ParquetDelta.of(paths))
    assert delta.files == tuple(paths) and delta.num_rows == 7 and delta.in_memory is None
    assert pa.Table.from_batches(list(delta.batches())).num_rows == 7


@pytest.mark.unit
def test_files_that_need_conforming_are_streamed_in_bounded_batches(tmp_path: Path) -> None:
    path = tmp_path / "wide.parquet"
    pq.write_table(loosened(customers(BATCH_ROWS + 5)), path, row_group_size=BATCH_ROWS + 5)
    delta = Delta.from_parquet(DIM_CUSTOMER, ParquetDelta.of([path]))
    assert delta.files == ()  # not scanned in place: it must be cast
    sizes = [b.num_rows for b in delta.batches()]
    assert max(sizes) <= BATCH_ROWS and sum(sizes) == BATCH_ROWS + 5
    assert delta.reader().read_all().equals(customers(BATCH_ROWS + 5))


@pytest.mark.unit
def test_files_are_refused_up_front_when_no_row_could_fit(tmp_path: Path) -> None:
    missing, floats = tmp_path / "missing.parquet", tmp_path / "floats.parquet"
    pq.write_table(customers(1).drop(["country"]), missing)
    with pytest.raises(DeltaError, match="missing columns \\['country'\\]"):
        as_delta(DIM_CUSTOMER, ParquetDelta.of([missing]))
    schema = arrow_schema(DIM_PRODUCT)
    products = pa.table({f.name: pa.nulls(1, f.type) for f in schema})
    price = schema.get_field_index("price")
    pq.write_table(products.set_column(price, "price", pa.array([1.5])), floats)
    with pytest.raises(DeltaError, match="price is double; decimals must not be floats"):
        as_delta(DIM_PRODUCT, ParquetDelta.of([floats]))
    with pytest.raises(DeltaError, match="cannot read"):
        as_delta(DIM_CUSTOMER, ParquetDelta.of([tmp_path / "absent.parquet"]))


@pytest.mark.unit
def test_a_table_delta_is_conformed_up_front() -> None:
    with pytest.raises(DeltaError, match="null\\(s\\) in customer_id"):
        as_delta(DIM_CUSTOMER, loosened(customers(1)).set_column(4, "customer_id", pa.nulls(1)))
    delta = as_delta(DIM_CUSTOMER, loosened(customers(2)))
    assert delta.in_memory is not None and delta.in_memory.equals(customers(2))
    assert delta.files == ()


@pytest.mark.unit
def test_redshift_statements_and_uploads_are_the_same_from_files(tmp_path: Path) -> None:
    bucket: dict[str, bytes] = {}
    redshift = RedshiftWarehouse(
        lambda: None, iam_role_arn=ARN, staging_prefix=PREFIX, upload=bucket.__setitem__
    )
    day = sc.day_one()
    files = as_files(day, tmp_path, loosened, split=2)
    args: dict[str, Any] = {"business_date": day.business_date, "run_id": day.run_id}
    from_tables = redshift.statements_for_load(day.deltas, audit=day.audit, **args)
    assert redshift.statements_for_load(files.deltas, audit=day.audit, **args) == from_tables
    staged = stage_inputs(files.deltas, day.audit, **args)
    redshift._before_load(staged, LoadContext(**args), LoadResult("redshift", **args))
    clicks = bucket[redshift.staging_uri("fct_click_event", LoadContext(**args))]
    assert pq.read_table(io.BytesIO(clicks)).equals(day.deltas["fct_click_event"])
