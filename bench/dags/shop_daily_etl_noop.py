"""
# shop_daily_etl_noop

A do-nothing DAG of the same shape as `shop_daily_etl` (bench/compare.py, contender e):
the same task groups, task ids and dependencies, every task a no-op `@task`. What a
scheduler run of it costs is Airflow's own share of a real run: scheduling, one task
process per task, parsing, XCom, the execution API. It lives under `bench/dags/` and is
loaded only by the benchmark, as a second DAG bundle (see bench/README.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import dag, task, task_group

from shopflow.names import DAG_ID, SOURCES
from shopflow.quality.checks import RUN_CHECKS, TABLE_CHECKS

NOOP_DAG_ID = f"{DAG_ID}_noop"


def quality_task_ids() -> list[str]:
    """The ids of the real DAG's quality tasks, as ``build_quality_checks`` names them."""
    ids: list[str] = []
    for declared in TABLE_CHECKS:
        if declared.columns:
            ids.append(f"{declared.table}_column_checks")
        if declared.statements:
            ids.append(f"{declared.table}_table_checks")
    return ids + [check.name for check in RUN_CHECKS]


def _noop(task_id: str, **kwargs: Any) -> Any:
    """A task that does nothing and returns nothing."""

    @task(task_id=task_id, **kwargs)
    def noop(*_args: Any) -> None:
        return None

    return noop


@dag(
    dag_id=NOOP_DAG_ID,
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["shopflow", "bench"],
    default_args={"owner": "bench", "retries": 0},
)
def shop_daily_etl_noop() -> None:
    @task_group(group_id="extract")
    def extract() -> None:
        for source in SOURCES:
            _noop(f"extract_{source}")()

    @task_group(group_id="quality")
    def quality() -> None:
        for task_id in quality_task_ids():
            _noop(task_id)()

    staged = _noop("transform")()
    loaded = _noop("load")(staged)
    checks = quality()
    extracts = extract()
    finished = _noop("report", trigger_rule="all_done")()
    extracts >> staged
    loaded >> checks >> finished
    extracts >> finished


shop_daily_etl_noop()
