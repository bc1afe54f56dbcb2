"""No check fails on a clean generated day: 60 consecutive days at SF 0.01, run as they come.

CONTRACT ("Quality checks"): share thresholds are statistical, a check must not fail
on a clean generated day at any scale factor from 0.01 up, whatever the date. The
smallest scale has the fewest order lines and records per day, so there the minimum
allowances decide. The days are the 60 ending on END (seed 42, fixed, so the test is
reproducible), each one as production sees it: generated into the sources of an
embedded stack, then extracted, transformed, loaded into the stack's DuckDB
warehouse and checked by the real pipeline (``run_day_in_process``), before the next
day is generated. Generating is a pure function of (config, date), so the next days
are computed in a worker process while the pipeline runs; only writing them into the
sources waits for the previous run. Every one of the 31 checks must pass each day.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest

from local_stack import embedded_stack
from shopflow.quality.checks import check_names
from shopflow.warehouse.factory import warehouse_from_url
from shopflow_local.devstack.connections import airflow_environment
from shopflow_local.devstack.generator import GeneratorConfig, generate_day, prepare_targets
from shopflow_local.devstack.generator.generate import write_day
from shopflow_local.devstack.seeding import targets_of
from shopflow_local.in_process import QualityCheckFailed, StageTimings, run_day_in_process

pytestmark = pytest.mark.integration

END, DAYS = date(2026, 11, 30), 60
CONFIG = GeneratorConfig(seed=42, scale=0.01)
DATES = [END - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]

ORPHANS = """
select count(*) from analytics.fct_order_line as line
left join analytics.dim_product as product on line.product_id = product.product_id
where product.product_id is null
"""


@pytest.fixture(scope="module")
def info(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An empty embedded stack (stand-ins on free ports, a throwaway SHOPFLOW_HOME)."""
    with embedded_stack(tmp_path_factory) as stack_info:
        yield stack_info


def run_clean_days(info: dict[str, Any]) -> list[StageTimings]:
    """Each date generated into the sources, then run through the pipeline, in order."""
    targets = targets_of(info)
    prepare_targets(targets, CONFIG)
    env = {**airflow_environment(info), "SHOPFLOW_HOME": info["home"]}
    runs = []
    spawn = multiprocessing.get_context("spawn")  # this process may hold threads: no fork
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        generated = [pool.submit(generate_day, day, CONFIG) for day in DATES]
        for day, data in zip(DATES, generated, strict=True):
            write_day(data.result(), targets)
            try:
                runs.append(run_day_in_process(day, run_id=f"clean__{day}", env=env))
            except QualityCheckFailed as failed:  # collect every day's failures
                runs.append(failed.timings)
    return runs


def test_no_check_fails_on_60_clean_days_at_the_smallest_scale(info: dict[str, Any]) -> None:
    runs = run_clean_days(info)

    assert [run.business_date for run in runs] == DATES
    for run in runs:  # every check ran, on a full day of every source
        assert [check.name for check in run.checks] == check_names(), run.business_date
        assert min(run.rows.values()) > 0, (run.business_date, run.rows)
    failed = [
        f"{run.business_date} {check.name}: {check.detail}"
        for run in runs
        for check in run.failed_checks
    ]
    assert failed == [], "\n".join(failed)

    # Not vacuous: the dirt both share checks tolerate was there, and was loaded.
    warehouse = warehouse_from_url(info["warehouse_url"])
    assert int(warehouse.scalar(ORPHANS)) > 0
    quarantined = warehouse.scalar("select sum(rows_quarantined) from analytics.load_audit")
    assert int(quarantined) > 0
