"""
# shop_daily_etl

The daily e-commerce ETL of shopflow: four sources into one warehouse.

**Business date D.** The run at D+1 01:00 UTC processes the UTC day D. A manual
trigger processes the last complete UTC day, unless the `business_date` param
(YYYY-MM-DD) names D; a backfill run processes the day before its cron tick.
`full_refresh` re-extracts every customer instead of the day's changes.

**Tasks.**

| group | task | reads | runs in |
|---|---|---|---|
| extract | `extract_sales` | `shop_sales`: the day's four sales tables | pool `shopflow_sales_db` |
| extract | `extract_interactions` | `marketing_api`: interactions | pool `shopflow_marketing_api` |
| extract | `extract_products` | `shop_aws`: DynamoDB `products`, a full snapshot | default pool |
| extract | `extract_clickstream` | `shop_aws`: S3 `clickstream/dt=D/` | default pool |
| | `transform` | the staged day | queue `shopflow_heavy` |
| | `load` | the day's deltas, into `shop_warehouse` | queue `shopflow_heavy` |

The four extracts run in parallel and stage Parquet under `raw/<source>/dt=D/`;
each returns a small summary (manifest path, row counts) through XCom, never
data. `transform` turns the staged day into deltas of every warehouse table
(DuckDB SQL models); `load` merges them into `shop_warehouse` and rebuilds
`fct_session` and `customer_daily` for every affected date, in one transaction;
the `quality` group runs the data contract's checks with the common.sql check
operators, each task recording its checks' results in XCom; `report` collects
them (it does not run the checks again), stores the run report
(`reports/dt=D/<run_id>.json` in staging) and fails the run when any step or
check failed (a check task that recorded nothing is an unfinished step); a healthy report emits
one asset event per changed warehouse table through the alias
`shopflow_warehouse_ready` (business date, run id, rows merged; `docs/lineage.md`).

**Pools and queue.** The sales extract holds a slot of the pool `shopflow_sales_db`
(the sales database's connection cap), the API extract one of
`shopflow_marketing_api` (its rate limit): across runs and backfills, no more of
them run at once than the pool has slots (`shopflow/pools.py`). The pools must
exist, or those tasks are never scheduled. `transform` and `load`, the memory-hungry
steps, go to the Celery queue `shopflow_heavy`, for large workers; every other
task to the default queue. A task hands the next nothing but its XCom summary and
what it wrote to staging or the warehouse, so under a distributed executor staging
is S3 and the warehouse a server (`docs/deployment.md`).

**Re-running** day D any number of times is safe: every write is keyed on D.

**Failures.** Transient errors (timeouts, dropped connections, 429, 5xx) retry
twice with exponential backoff (30 s base, 10 min cap); the marketing API
extract retries three times. Permanent ones (a rejected request, an unreadable
object, a schema mismatch, a failed check) fail at once. A failed run sends one
e-mail (its failed tasks with their errors and tries, the report's summary, a
link to the run) through the `smtp_default` connection to the Variable
`shopflow_alert_emails` (comma separated), default `data-eng@example.com`; so
does a run stopped after 6 hours, its time budget (env
`SHOPFLOW_RUN_BUDGET_MINUTES` and `SHOPFLOW_RETRY_DELAY_SECONDS`, read at parse
time, change the budget and the first retry's wait).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from airflow.sdk import CronTriggerTimetable, Param, dag, task, task_group

from shopflow.alerts import REPORT_XCOM_KEY, alert_run_failed
from shopflow.dag_defaults import task_defaults
from shopflow.lineage.assets import WAREHOUSE_READY
from shopflow.names import (
    DAG_ID,
    POOL_MARKETING_API,
    POOL_SALES_DB,
    QUEUE_HEAVY,
    SOURCES,
    extract_task_id,
)
from shopflow.quality.evaluate import QUALITY_GROUP, RESULTS_XCOM_KEY, check_tasks

# Read at parse time from the environment (never from Variables): tests shorten them.
RUN_BUDGET = timedelta(minutes=float(os.environ.get("SHOPFLOW_RUN_BUDGET_MINUTES", "360")))
"""A run still going this long after it started is stopped, and alerts (ADR 0008)."""


class RunArgs(NamedTuple):
    """What a shopflow task needs to know about its run."""

    business_date: date
    full_refresh: bool
    run_id: str


def run_arguments(context: Any) -> RunArgs:
    """Business date D (shopflow.dates), the full_refresh param and the run id."""
    from shopflow.dates import business_date_from_context

    return RunArgs(
        business_date=business_date_from_context(context),
        full_refresh=bool(context["params"].get("full_refresh", False)),
        run_id=context["run_id"],
    )


@dag(
    dag_id=DAG_ID,
    doc_md=__doc__,
    schedule=CronTriggerTimetable("0 1 * * *", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    # Runs of different days merge into the same tables: one at a time.
    max_active_runs=1,
    dagrun_timeout=RUN_BUDGET,
    on_failure_callback=alert_run_failed,  # one e-mail per failed or timed-out run
    params={
        "business_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Business date",
            description="UTC day to process (YYYY-MM-DD); empty: the day before the run.",
        ),
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Extract every customer, not only the day's changes.",
        ),
    },
    tags=["shopflow", "etl", "daily"],
    default_args=task_defaults(),
)
def shop_daily_etl() -> None:
    @task_group(group_id="extract")
    def extract() -> None:
        """Stage the four sources of day D, in parallel."""

        @task(pool=POOL_SALES_DB)
        def extract_sales(**context: Any) -> dict[str, Any]:
            """Customers, orders, order items and fx rates of D from the sales database."""
            from shopflow.tasks.extract import extract_sales as run

            args = run_arguments(context)
            return run(
                business_date=args.business_date,
                full_refresh=args.full_refresh,
                run_id=args.run_id,
            )

        @task(retries=3, pool=POOL_MARKETING_API)
        def extract_interactions(**context: Any) -> dict[str, Any]:
            """Interactions of D from the marketing API (flaky vendor: one more retry)."""
            from shopflow.tasks.extract import extract_interactions as run

            args = run_arguments(context)
            return run(business_date=args.business_date, run_id=args.run_id)

        @task
        def extract_products(**context: Any) -> dict[str, Any]:
            """A full snapshot of the DynamoDB product catalog."""
            from shopflow.tasks.extract import extract_products as run

            args = run_arguments(context)
            return run(business_date=args.business_date, run_id=args.run_id)

        @task
        def extract_clickstream(**context: Any) -> dict[str, Any]:
            """Every clickstream file under dt=D in S3."""
            from shopflow.tasks.extract import extract_clickstream as run

            args = run_arguments(context)
            return run(business_date=args.business_date, run_id=args.run_id)

        extract_sales()
        extract_interactions()
        extract_products()
        extract_clickstream()

    @task(queue=QUEUE_HEAVY)
    def transform(**context: Any) -> dict[str, Any]:
        """Staging of D -> deltas of every warehouse table (DuckDB models), staged."""
        from shopflow.tasks.transform import transform as run

        args = run_arguments(context)
        return run(args.business_date, args.run_id)

    @task(queue=QUEUE_HEAVY)
    def load(transformed: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Merge the deltas and derive sessions and customer_daily, in one transaction."""
        from shopflow.tasks.load import load as run

        args = run_arguments(context)
        return run(args.business_date, args.run_id, transformed)

    @task_group(group_id=QUALITY_GROUP, default_args={"retries": 0})  # checks are deterministic
    def quality() -> None:
        """The contract's checks on shop_warehouse (common.sql check operators)."""
        from shopflow.quality.operators import build_quality_checks

        build_quality_checks()

    @task(trigger_rule="all_done", retries=0, outlets=[WAREHOUSE_READY])
    def report(**context: Any) -> dict[str, Any]:
        """Store the run report; fail when any earlier step or check failed."""
        from shopflow.tasks.report import report as run

        args = run_arguments(context)
        ti = context["ti"]
        extracts = {name: ti.xcom_pull(task_ids=extract_task_id(name)) for name in SOURCES}
        # What each check task recorded (their results; None when it did not run).
        recorded = {
            task: ti.xcom_pull(task_ids=f"{QUALITY_GROUP}.{task}", key=RESULTS_XCOM_KEY)
            for task in check_tasks()
        }
        result = run(
            args.business_date,
            args.run_id,
            extracts=extracts,
            transformed=ti.xcom_pull(task_ids="transform"),
            loaded=ti.xcom_pull(task_ids="load"),
            recorded=recorded,
            publish=lambda summary: ti.xcom_push(key=REPORT_XCOM_KEY, value=summary),
        )
        from shopflow.lineage.assets import announce_ready  # healthy: the tables are ready

        announce_ready(context["outlet_events"], args.business_date, args.run_id,
                       ti.xcom_pull(task_ids="load"))  # fmt: skip
        return result

    staged: Any = transform()  # an XComArg, resolved to the summary at run time
    loaded = load(staged)
    checks = quality()
    extracts = extract()
    finished = report()
    extracts >> staged
    loaded >> checks >> finished
    # `report` waits for every extract too: a failed one upstream-fails transform, load and
    # the checks at once, and the report must not run while the other extracts still do.
    extracts >> finished


shop_daily_etl()
