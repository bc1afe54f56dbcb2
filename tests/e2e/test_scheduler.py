"""The real scheduler: a triggered run fails on the API, then only its failed tasks re-run.

A local Airflow (API server, scheduler with LocalExecutor, DAG processor,
triggerer) over an embedded stack on free ports. The marketing API simulator is
told to answer 401, so `extract_interactions` fails for good at once (a rejected
request is not retried); the fault is lifted and the run's failed tasks are
cleared through the REST API, as an operator would in the UI. The tasks that had
succeeded keep their first try.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from airflow_stack import local_airflow

from shopflow_local.dag_runs import connect

pytestmark = pytest.mark.e2e

DAY = date(2025, 1, 2)
RUN_ID = "e2e_rerun_failed"
DAG = "shop_daily_etl"
FINISHED = {"success", "failed"}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An embedded stack holding DAY, with the local Airflow's four processes."""
    with local_airflow(tmp_path_factory, DAY, 1) as info:
        yield info


def _tasks(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    url = f"{info['airflow_url']}/api/v2/dags/{DAG}/dagRuns/{RUN_ID}/taskInstances"
    body = httpx.get(url, params={"limit": 100}, timeout=30).json()
    return {t["task_id"]: t for t in body["task_instances"]}


def _wait_for_run(info: dict[str, Any], *, timeout: float = 420) -> str:
    url = f"{info['airflow_url']}/api/v2/dags/{DAG}/dagRuns/{RUN_ID}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = httpx.get(url, timeout=30).json().get("state")
        if state in FINISHED:
            return str(state)
        time.sleep(3)
    raise AssertionError(f"run {RUN_ID} did not finish in {timeout:.0f}s")


def _api_admin(info: dict[str, Any], method: str, path: str, body: Any = None) -> None:
    headers = {"Authorization": f"Bearer {info['api_token']}"}
    response = httpx.request(method, f"{info['api_url']}{path}", json=body, headers=headers)
    response.raise_for_status()


def test_scheduler_reruns_only_the_failed_tasks(airflow: dict[str, Any]) -> None:
    _api_admin(airflow, "PUT", "/_admin/faults", {"always_fail": 401})
    with connect(airflow, write=lambda line: None) as client:  # DAG registered and unpaused
        client.trigger(RUN_ID, {"business_date": DAY.isoformat()})

    assert _wait_for_run(airflow) == "failed"
    first = _tasks(airflow)
    assert first["extract.extract_interactions"]["state"] == "failed"
    assert first["extract.extract_interactions"]["try_number"] == 1  # 401: no retries
    assert first["extract.extract_sales"]["state"] == "success"
    assert first["transform"]["state"] == "upstream_failed"
    assert first["report"]["state"] == "failed"

    _api_admin(airflow, "POST", "/_admin/reset")
    clear = {"dag_run_id": RUN_ID, "only_failed": True, "include_downstream": True,
             "dry_run": False, "reset_dag_runs": True}  # fmt: skip
    url = f"{airflow['airflow_url']}/api/v2/dags/{DAG}/clearTaskInstances"
    httpx.post(url, json=clear, timeout=60).raise_for_status()

    assert _wait_for_run(airflow) == "success"
    second = _tasks(airflow)
    assert {t["state"] for t in second.values()} == {"success"}
    for task_id in ("extract.extract_sales", "extract.extract_products"):
        assert second[task_id]["try_number"] == first[task_id]["try_number"] == 1, task_id
    assert second["extract.extract_interactions"]["try_number"] == 2
    assert second["load"]["try_number"] == 1  # never ran before the clear
