"""What load_day accepts: deltas conformed to tables.py, audit rows, one placeholder style."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from shopflow.warehouse.arrow import arrow_schema, audit_table, conform
from shopflow.warehouse.base import AuditRow, stage_inputs
from shopflow.warehouse.errors import DeltaError, WarehouseError
from shopflow.warehouse.params import to_format
from shopflow.warehouse.tables import DIM_CUSTOMER, DIM_PRODUCT

pytestmark = pytest.mark.unit


def customers(**overrides: object) -> pa.Table:
    data: dict[str, object] = {
        "updated_at": [datetime(2024, 3, 1, 12)],
        "customer_id": [7],
        "email_hash": ["h"],
        "country": [None],
        "created_at": [datetime(2024, 1, 1)],
    }
    data.update(overrides)
    return pa.table(data)


def test_conform_orders_and_types_columns() -> None:
    out = conform(DIM_CUSTOMER, customers())
    assert out.schema == arrow_schema(DIM_CUSTOMER)
    assert out.column_names == DIM_CUSTOMER.column_names


def test_conform_converts_aware_timestamps_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    aware = pa.array([datetime(2024, 3, 1, 14, tzinfo=plus2)], pa.timestamp("us", tz="+02:00"))
    out = conform(DIM_CUSTOMER, customers(updated_at=aware))
    assert out.column("updated_at").to_pylist() == [datetime(2024, 3, 1, 12)]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"extra": [1]}, "unexpected columns \\['extra'\\]"),
        ({"customer_id": [None]}, "null\\(s\\) in customer_id"),
        ({"customer_id": ["seven"]}, "customer_id"),
    ],
)
def test_conform_refuses_bad_deltas(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(DeltaError, match=message):
        conform(DIM_CUSTOMER, customers(**overrides))


def test_conform_refuses_missing_columns() -> None:
    with pytest.raises(DeltaError, match="missing columns \\['country'\\]"):
        conform(DIM_CUSTOMER, customers().drop(["country"]))


def product_row(price: pa.Array) -> pa.Table:
    base = arrow_schema(DIM_PRODUCT).empty_table().to_pydict()
    cols = {name: pa.array([None], arrow_schema(DIM_PRODUCT).field(name).type) for name in base}
    cols["product_id"] = pa.array(["p"])
    cols["active"] = pa.array([True])
    cols["price"] = price
    return pa.table(cols)


def test_money_never_passes_through_floats() -> None:
    with pytest.raises(DeltaError, match="must not be floats"):
        conform(DIM_PRODUCT, product_row(pa.array([0.1])))
    exact = conform(DIM_PRODUCT, product_row(pa.array([Decimal("0.1")], pa.decimal128(10, 1))))
    assert exact.column("price").to_pylist() == [Decimal("0.10")]
    with pytest.raises(DeltaError, match="price"):
        conform(DIM_PRODUCT, product_row(pa.array([Decimal("0.125")])))  # would round


def test_audit_rows_take_run_and_day_from_the_load() -> None:
    row = AuditRow(
        "sales", 3, 2, 1, 0, datetime(2024, 3, 2, 1, tzinfo=UTC), datetime(2024, 3, 2, 2)
    )
    out = audit_table([row], run_id="r1", business_date=date(2024, 3, 1))
    assert out.to_pylist()[0]["run_id"] == "r1"
    assert out.to_pylist()[0]["business_date"] == date(2024, 3, 1)
    assert out.to_pylist()[0]["started_at"] == datetime(2024, 3, 2, 1)
    with pytest.raises(DeltaError, match="twice"):
        audit_table([row, row], run_id="r1", business_date=date(2024, 3, 1))


def test_stage_inputs_refuses_unknown_tables_and_audit_as_delta() -> None:
    with pytest.raises(DeltaError, match="no warehouse table"):
        stage_inputs({"orders": customers()}, [], run_id="r", business_date=date(2024, 3, 1))
    with pytest.raises(DeltaError, match="audit="):
        stage_inputs({"load_audit": customers()}, [], run_id="r", business_date=date(2024, 3, 1))


def test_placeholders_become_format_style() -> None:
    sql, values = to_format(
        "select '?', \"$x\" from t where a = ? and b like 'x%' -- ?\nand c = ?", [1, 2]
    )
    assert sql == "select '?', \"$x\" from t where a = %s and b like 'x%%' -- ?\nand c = %s"
    assert values == [1, 2]
    sql, values = to_format("select $a::int, $b, $a", {"a": 1, "b": "x"})
    assert (sql, values) == ("select %s::int, %s, %s", [1, "x", 1])
    assert to_format("select 'x%'", ()) == ("select 'x%'", None)


@pytest.mark.parametrize(
    ("sql", "params"),
    [("select ?", [1, 2]), ("select ?, ?", [1]), ("select $a", [1]), ("select ?", {"a": 1})],
)
def test_placeholders_must_match_parameters(sql: str, params: object) -> None:
    with pytest.raises(ValueError):
        to_format(sql, params)  # type: ignore[arg-type]


def test_errors_name_the_purpose_not_the_values() -> None:
    class Diag:
        message_primary = "duplicate key value violates unique constraint"

    class DriverError(Exception):
        diag = Diag()

    err = WarehouseError.during(
        "inserting new dim_customer rows", "postgres", DriverError("DETAIL: Key (customer_id)=(7)")
    )
    assert str(err) == (
        "postgres warehouse failed while inserting new dim_customer rows: "
        "DriverError: duplicate key value violates unique constraint"
    )
