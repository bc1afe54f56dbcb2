"""The warehouse tables as Airflow assets, announced by a healthy run of ``shop_daily_etl``.

The report task (it succeeds only when every step and check passed) has the alias
``WAREHOUSE_READY`` as its outlet and, at run time, adds one asset event per table
the load changed. The assets' URIs come from the warehouse connection
(``naming.asset_uri``: ``postgres://host:5432/db/analytics/fct_order_line``...), so
the DAG file needs no connection when it is parsed; their names are stable across
environments: ``shop_warehouse.analytics.<table>``. A downstream DAG schedules on
the alias (``schedule=WAREHOUSE_READY``) and reads the business date from the
triggering events' extras (``business_dates_of``), never from the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from airflow.sdk import Asset, AssetAlias

from shopflow.errors import ShopflowError
from shopflow.names import CONN_WAREHOUSE

WAREHOUSE_READY = AssetAlias(name="shopflow_warehouse_ready", group="shopflow")
"""The alias a healthy run emits its changed tables' events through."""

CHANGES = ("inserted", "updated", "deactivated", "deleted")
"""The counts of a table's merge (``TableLoad``) that change rows."""


def asset_name(qualified: str, conn_id: str = CONN_WAREHOUSE) -> str:
    """The environment-independent asset name of ``schema.table``."""
    return f"{conn_id}.{qualified}"


def warehouse_asset(conn: Any, qualified: str, conn_id: str = CONN_WAREHOUSE) -> Asset:
    """The asset of one warehouse table, its URI from the connection (no secrets)."""
    from shopflow.lineage.naming import asset_uri, warehouse_table

    return Asset(
        name=asset_name(qualified, conn_id),
        uri=asset_uri(warehouse_table(conn, qualified)),
        group="shopflow",
    )


def rows_merged(counts: Mapping[str, Any]) -> int:
    """Rows a table's merge changed (inserted, updated, deactivated, deleted)."""
    return sum(int(counts.get(kind) or 0) for kind in CHANGES)


def changed_tables(loaded: Mapping[str, Any]) -> dict[str, int | None]:
    """``schema.table`` -> rows merged, for every table a load result changed.

    A merged table changed when its merge changed rows; a derived table (upkeep
    ``REBUILD``: ``fct_session``, ``customer_daily``) is rebuilt for the run's dates by
    every load and is not counted: ``None``.
    """
    from shopflow.warehouse.tables import TABLES, Upkeep

    merged = {name: rows_merged(counts) for name, counts in (loaded.get("tables") or {}).items()}
    changed: dict[str, int | None] = {}
    for name, spec in sorted(TABLES.items()):
        if spec.upkeep is Upkeep.REBUILD:
            changed[spec.qualified] = None
        elif merged.get(name):
            changed[spec.qualified] = merged[name]
    return changed


def ready_extra(business_date: date, run_id: str, table: str, merged: int | None) -> dict[str, Any]:
    """The extra of one table's asset event: what a downstream run needs to know."""
    return {
        "business_date": business_date.isoformat(),
        "run_id": run_id,
        "table": table,
        "rows_merged": merged,
        "rebuilt": merged is None,
    }


def announce_ready(
    outlet_events: Any,
    business_date: date,
    run_id: str,
    loaded: Mapping[str, Any] | None,
    conn_id: str = CONN_WAREHOUSE,
) -> list[Asset]:
    """Add one event per changed table to the ``WAREHOUSE_READY`` alias; returns the assets.

    Call it only once the run is healthy (the report task, after the report passed).
    """
    from shopflow.tasks.connections import get_connection

    if not loaded:
        raise ShopflowError("no load result: nothing to announce")
    conn = get_connection(conn_id)
    accessor = outlet_events[WAREHOUSE_READY]
    assets = []
    for table, merged in changed_tables(loaded).items():
        asset = warehouse_asset(conn, table, conn_id)
        accessor.add(asset, extra=ready_extra(business_date, run_id, table, merged))
        assets.append(asset)
    return assets


def business_dates_of(events: Iterable[Any]) -> list[date]:
    """The business dates a downstream run's triggering events name (their ``extra``), sorted.

    Usually one; events of several upstream runs collapsed into one downstream run
    name several, and the downstream processes each. None is an error.
    """
    dates = {str((e.extra or {}).get("business_date") or "") for e in events}
    dates.discard("")
    if not dates:
        raise ShopflowError("the triggering asset events name no business date")
    return sorted(date.fromisoformat(d) for d in dates)
