"""`shopflow run`: the DAG for business dates on the running local stack, via ``dag.test()``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from shopflow.run_report import report_key, report_lines
from shopflow_local.airflow_runtime.dag_test import RunOutcome, run_business_date
from shopflow_local.airflow_runtime.home import airflow_env
from shopflow_local.devstack import stack
from shopflow_local.devstack.aws_emulator import aws_client
from shopflow_local.devstack.connections import airflow_environment
from shopflow_local.home import shopflow_home


def stack_airflow_env(info: dict[str, Any]) -> dict[str, str]:
    """The local Airflow environment with every connection and variable of the stack."""
    return airflow_env(airflow_environment(info))


def run_dates(
    days: Sequence[date], *, full_refresh: bool = False, retries: int | None = None
) -> list[RunOutcome]:
    """Run the DAG once per day, in the given order; stops at the first failed run."""
    info = stack.require_up(shopflow_home())
    env = stack_airflow_env(info)
    outcomes = []
    for day in days:
        outcome = run_business_date(day, full_refresh=full_refresh, env=env, retries=retries)
        outcomes.append(outcome)
        text = outcome.summary()
        print(text if not outcome.ok else text.splitlines()[0], flush=True)
        report = read_report(info, day, outcome.run_id)
        if report is not None:
            print("\n".join(report_lines(report)), flush=True)
        if not outcome.ok:
            break
    return outcomes


def read_report(info: dict[str, Any], day: date, run_id: str) -> dict[str, Any] | None:
    """The run report the DAG's last task stored in staging, or None."""
    from shopflow.staging import Staging

    s3 = aws_client("s3", info["aws_endpoint"]) if info["staging_uri"].startswith("s3://") else None
    staging = Staging.from_uri(info["staging_uri"], s3=s3)
    raw = staging.get_document(report_key(day, run_id))
    return None if raw is None else dict(json.loads(raw))


def run_days(days: Sequence[date], *, full_refresh: bool = False) -> int:
    """CLI entry: 0 when every run succeeded, 1 otherwise."""
    outcomes = run_dates(days, full_refresh=full_refresh)
    return 0 if outcomes and all(o.ok for o in outcomes) and len(outcomes) == len(days) else 1
