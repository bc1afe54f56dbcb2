"""
# shop_warehouse_audit

The weekly audit of `shop_warehouse`: the data contract's column and table checks
over whole tables.

**Why.** The checks of `shop_daily_etl` read only the rows of their run in the tables
that grow by the day (`fct_order_line`, `fct_interaction`, `fct_click_event`,
`fct_session`, `customer_daily`), so their cost follows the day, not the history. A
row outside every run's scope (written by hand, by a migration, or before a check
existed) is never checked again. Once a week the audit checks every row: keys
non-null and unique (composite keys too), and the value ranges of `fct_order_line`
(quantity, prices, fx rate). The run checks (reconciliation, shares, row counts)
belong to one run and are not repeated here.

**Schedule.** Sundays at 03:00 UTC (`0 3 * * 0`), after the daily 01:00 run; no
catchup, one run at a time. Nothing waits for it.

**Tasks.** The `quality` group: one `<table>_column_checks` and one
`<table>_table_checks` task per table with such checks, the common.sql check
operators of the daily DAG built from `shopflow.quality.checks.WHOLE_TABLE_CHECKS`,
without a `partition_clause`. They only read `shop_warehouse` (a DuckDB file
read-only) and, like the daily checks, run in the default pool.

**Failures.** A failed check fails its task at once, naming the check (checks are
deterministic: `retry_on_failure=False`); the task log holds its query. A connection
error, or a DuckDB file still locked by a load, is retried twice (30 s, then 60 s).
A run still going after 2 hours is stopped. A failed run sends one e-mail (the
failed tasks with their errors, a link to the run) through the `smtp_default`
connection to the Variable `shopflow_alert_emails`, as the daily DAG does. What to
do then: `docs/operations.md`, "The weekly audit". The audit writes nothing:
re-running it is safe.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronTriggerTimetable, dag, task_group

from shopflow.alerts import alert_run_failed
from shopflow.dag_defaults import task_defaults
from shopflow.names import AUDIT_DAG_ID
from shopflow.quality.evaluate import QUALITY_GROUP


@dag(
    dag_id=AUDIT_DAG_ID,
    doc_md=__doc__,
    schedule=CronTriggerTimetable("0 3 * * 0", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    on_failure_callback=alert_run_failed,  # one e-mail per failed run
    tags=["shopflow", "quality", "audit"],
    default_args=task_defaults(),
)
def shop_warehouse_audit() -> None:
    @task_group(group_id=QUALITY_GROUP)  # a failed check is not retried, a lock is
    def quality() -> None:
        """The contract's column and table checks over whole tables of shop_warehouse."""
        from shopflow.quality.operators import build_quality_checks

        build_quality_checks(whole_tables=True)

    quality()


shop_warehouse_audit()
