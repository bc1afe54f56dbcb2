"""Revenue by campaign for one business date: a JSON export in staging.

Reads ``analytics.customer_daily`` of D (``sql/campaign_revenue.sql``) and writes
``exports/campaign_revenue/dt=D/campaign_revenue.json``; re-running a date replaces
its export. The DAG ``shop_campaign_revenue`` runs it for the business date its
triggering asset event names.
"""

from __future__ import annotations

import json
from datetime import date
from importlib.resources import files
from typing import Any

DAG_ID = "shop_campaign_revenue"
SOURCE_TABLE = "analytics.customer_daily"
"""The warehouse table the export reads (its asset schedules the DAG)."""


def export_key(day: date) -> str:
    """The staging document key of D's export."""
    return f"exports/campaign_revenue/dt={day.isoformat()}/campaign_revenue.json"


def campaign_revenue_sql() -> str:
    """The query, its ``:business_date`` written ``$business_date`` (the warehouse style)."""
    from shopflow.quality.checks import dollar_style

    text = files(__package__ or __name__).joinpath("sql", "campaign_revenue.sql").read_text()
    return dollar_style(text)


def export_campaign_revenue(
    warehouse: Any, staging: Any, day: date, upstream_run_ids: list[str]
) -> dict[str, Any]:
    """Query D's revenue by campaign, store it in staging; returns a small summary."""
    rows = warehouse.query_arrow(
        campaign_revenue_sql(), {"business_date": day.isoformat()}
    ).to_pylist()
    body = {
        "business_date": day.isoformat(),
        "source_table": SOURCE_TABLE,
        "upstream_run_ids": sorted(upstream_run_ids),
        "campaigns": rows,
    }
    key = export_key(day)
    staging.put_document(key, json.dumps(body, indent=2, default=str).encode())
    return {
        "business_date": day.isoformat(),
        "export_uri": staging.document_uri(key),
        "campaigns": len(rows),
        "revenue_usd": str(sum((r["revenue_usd"] or 0) for r in rows)),
    }


def export_for_events(events: list[Any]) -> list[dict[str, Any]]:
    """Task glue: the export of every business date the triggering asset events name."""
    from shopflow.lineage.assets import business_dates_of
    from shopflow.names import CONN_WAREHOUSE
    from shopflow.tasks import connections
    from shopflow.warehouse.factory import warehouse_from_connection

    days = business_dates_of(events)
    run_ids = sorted({str((e.extra or {}).get("run_id") or "") for e in events} - {""})
    warehouse = warehouse_from_connection(CONN_WAREHOUSE)
    staging = connections.resolve_staging()
    return [export_campaign_revenue(warehouse, staging, day, run_ids) for day in days]
