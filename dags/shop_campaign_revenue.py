"""
# shop_campaign_revenue

Revenue by campaign for one business date D, exported as JSON to staging
(`exports/campaign_revenue/dt=D/campaign_revenue.json`).

**Schedule.** On the asset alias `shopflow_warehouse_ready`: a healthy run of
`shop_daily_etl` (every step and check passed) emits one asset event per warehouse
table it changed, each with `business_date`, `run_id`, `table` and `rows_merged`
in its extra. This DAG reads D from those events, never from the clock; a run
whose checks failed emits nothing, so nothing runs here. See `docs/lineage.md`.

**Failures.** The export retries twice (30 s, then 60 s); it reads and replaces
only D's rows and file, so re-running a date is safe.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import dag, task

from shopflow.dag_defaults import task_defaults
from shopflow.lineage.assets import WAREHOUSE_READY
from shopflow.marts.campaign_revenue import DAG_ID


@dag(
    dag_id=DAG_ID,
    doc_md=__doc__,
    schedule=WAREHOUSE_READY,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["shopflow", "mart", "downstream"],
    default_args=task_defaults(),
)
def shop_campaign_revenue() -> None:
    @task
    def campaign_revenue(**context: Any) -> list[dict[str, Any]]:
        """Export D's revenue by campaign, D from the triggering asset events."""
        from shopflow.marts.campaign_revenue import export_for_events

        return export_for_events(list(context["triggering_asset_events"][WAREHOUSE_READY]))

    campaign_revenue()


shop_campaign_revenue()
