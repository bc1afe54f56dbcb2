"""The ready events of a healthy run: changed tables only, extras, the downstream's dates."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import Asset, AssetAlias

from shopflow.errors import ShopflowError
from shopflow.lineage import assets

pytestmark = pytest.mark.unit

DAY = date(2025, 1, 2)
LOADED = {
    "tables": {
        "fct_order_line": {"staged": 5, "inserted": 3, "updated": 2},
        "dim_product": {"staged": 4, "inserted": 0, "updated": 0, "deactivated": 1},
        "fct_interaction": {"staged": 7, "inserted": 0},  # all already there: unchanged
        "load_audit": {"staged": 4, "inserted": 4},
    }
}


class Accessor:
    def __init__(self) -> None:
        self.added: list[tuple[Asset, dict[str, Any]]] = []

    def add(self, asset: Asset, extra: dict[str, Any]) -> None:
        self.added.append((asset, extra))


def test_changed_tables_are_the_merged_ones_that_changed_and_the_rebuilt_ones() -> None:
    assert assets.changed_tables(LOADED) == {
        "analytics.customer_daily": None,
        "analytics.dim_product": 1,
        "analytics.fct_order_line": 5,
        "analytics.fct_session": None,
        "analytics.load_audit": 4,
    }


def test_announce_ready_adds_one_event_per_changed_table(monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = SimpleNamespace(conn_type="postgres", host="pg", port=5432, schema="dwh",
                                login="u", password="pw-secret", extra_dejson={})  # fmt: skip
    monkeypatch.setattr("shopflow.tasks.connections.get_connection", lambda conn_id: warehouse)
    accessor = Accessor()
    events = {assets.WAREHOUSE_READY: accessor}

    announced = assets.announce_ready(events, DAY, "run-1", LOADED)

    assert [a.name for a in announced] == [
        f"shop_warehouse.{t}" for t in assets.changed_tables(LOADED)
    ]
    asset, extra = accessor.added[2]
    assert asset.uri == "postgres://pg:5432/dwh/analytics/fct_order_line"
    assert extra == {"business_date": "2025-01-02", "run_id": "run-1", "rebuilt": False,
                     "table": "analytics.fct_order_line", "rows_merged": 5}  # fmt: skip
    assert all("pw-secret" not in repr(pair) for pair in accessor.added)


def test_without_a_load_result_nothing_is_announced() -> None:
    with pytest.raises(ShopflowError, match="no load result"):
        assets.announce_ready({}, DAY, "run-1", None)


def test_the_alias_is_what_the_dags_use() -> None:
    assert AssetAlias(name="shopflow_warehouse_ready", group="shopflow") == assets.WAREHOUSE_READY


def event(extra: dict[str, Any]) -> Any:
    return SimpleNamespace(extra=extra)


def test_business_dates_come_from_the_events() -> None:
    same_day = [event({"business_date": "2025-01-02"}), event({"business_date": "2025-01-02"})]
    assert assets.business_dates_of(same_day) == [DAY]
    two = [event({"business_date": "2025-01-03"}), *same_day]
    assert assets.business_dates_of(two) == [DAY, date(2025, 1, 3)]
    with pytest.raises(ShopflowError, match="no business date"):
        assets.business_dates_of([event({})])
