"""A run over its time budget is stopped and sends one alert that says so.

The DAG is parsed with a 5 s budget (``SHOPFLOW_RUN_BUDGET_MINUTES``, its
``dagrun_timeout``) on its own local Airflow, and the marketing API answers
slowly, so the run cannot finish in time.
"""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow_stack import local_airflow

from shopflow_local.airflow_runtime.rest_client import AirflowClient
from shopflow_local.dag_runs import connect

pytestmark = pytest.mark.e2e

DAY = date(2025, 1, 2)
RUN_ID = "e2e_over_budget"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_RUN_BUDGET_MINUTES", str(5 / 60))  # read when the DAG is parsed
        with local_airflow(tmp_path_factory, DAY, 1) as info:
            yield info


def _alerts(mailbox: Path) -> list[str]:
    texts = []
    for path in sorted(mailbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        parts = [p.get_payload(decode=True) for p in message.walk()]
        body = "\n".join(p.decode(errors="replace") for p in parts if isinstance(p, bytes))
        texts.append(f"{message['Subject']}\n{body}")
    return [text for text in texts if RUN_ID in text]


def _api_faults(info: dict[str, Any], method: str, path: str, body: Any = None) -> None:
    headers = {"Authorization": f"Bearer {info['api_token']}"}
    httpx.request(method, f"{info['api_url']}{path}", json=body, headers=headers).raise_for_status()


def test_a_run_over_its_budget_is_stopped_and_alerts_once(airflow: dict[str, Any]) -> None:
    _api_faults(airflow, "PUT", "/_admin/faults", {"latency_ms": 3000})
    with connect(airflow, write=lambda line: None) as client:
        client.trigger(RUN_ID, {"business_date": DAY.isoformat()})
    with AirflowClient(airflow["airflow_url"]) as api:
        deadline = time.monotonic() + 240
        while (run := api.dag_run(RUN_ID))["state"] not in {"success", "failed"}:
            assert time.monotonic() < deadline, "the run neither finished nor timed out"
            time.sleep(2)
        states = {ti["task_id"]: ti["state"] for ti in api.task_instances(RUN_ID)}
    _api_faults(airflow, "POST", "/_admin/reset")
    assert run["state"] == "failed"
    assert "skipped" in states.values(), states  # the timeout stopped what had not finished
    mailbox = Path(airflow["mailbox"])
    deadline = time.monotonic() + 90
    while not _alerts(mailbox):
        assert time.monotonic() < deadline, "no alert for the timed-out run"
        time.sleep(1)
    time.sleep(5)
    (alert,) = _alerts(mailbox)
    assert f"shop_daily_etl timed out for business date {DAY}: over its time budget of" in alert
    assert "Stopped unfinished by the time budget:" in alert
    assert f"{airflow['airflow_url']}/dags/shop_daily_etl/runs/{RUN_ID}" in alert
