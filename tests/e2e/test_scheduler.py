"""The real scheduler: failures retried or not, one alert per failed run, re-running what failed.

A local Airflow (API server, scheduler with LocalExecutor, DAG processor,
triggerer) over an embedded stack on free ports, the DAG parsed with a 2 s first
retry wait (``SHOPFLOW_RETRY_DELAY_SECONDS``) so backoff is quick to watch. The
marketing API simulator is told to answer 401: `extract_interactions` fails for
good at once (a rejected request is not retried), one e-mail arrives; the fault
is lifted and the run's failed tasks are cleared through the REST API, as an
operator would in the UI, and only they run again. Then it answers 503 always:
the task runs 1 + 3 tries with growing gaps and the run sends one e-mail.
"""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
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


INTERACTIONS = "extract.extract_interactions"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An embedded stack holding DAY, with the local Airflow's four processes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_RETRY_DELAY_SECONDS", "2")  # read when the DAG is parsed
        with local_airflow(tmp_path_factory, DAY, 1) as info:
            yield info


def _mails(info: dict[str, Any], run_id: str) -> list[email.message.Message]:
    found = []
    for path in sorted(Path(info["mailbox"]).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        if run_id in _text(message):
            found.append(message)
    return found


def _text(message: email.message.Message) -> str:
    parts = [p.get_payload(decode=True) for p in message.walk()]
    body = "\n".join(p.decode(errors="replace") for p in parts if isinstance(p, bytes))
    return f"{message['Subject']}\n{body}"


def _one_alert(info: dict[str, Any], run_id: str, *, timeout: float = 90) -> str:
    """The run's alert: it arrives, and no second one follows."""
    deadline = time.monotonic() + timeout
    while not _mails(info, run_id):
        assert time.monotonic() < deadline, f"no alert for {run_id} after {timeout:.0f}s"
        time.sleep(1)
    time.sleep(10)  # a second e-mail (per task, per try) would have come by now
    (alert,) = _mails(info, run_id)
    return _text(alert)


def _tasks(info: dict[str, Any], run_id: str = RUN_ID) -> dict[str, dict[str, Any]]:
    url = f"{info['airflow_url']}/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances"
    body = httpx.get(url, params={"limit": 100}, timeout=30).json()
    return {t["task_id"]: t for t in body["task_instances"]}


def _wait_for_run(info: dict[str, Any], run_id: str = RUN_ID, *, timeout: float = 420) -> str:
    url = f"{info['airflow_url']}/api/v2/dags/{DAG}/dagRuns/{run_id}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = httpx.get(url, timeout=30).json().get("state")
        if state in FINISHED:
            return str(state)
        time.sleep(3)
    raise AssertionError(f"run {run_id} did not finish in {timeout:.0f}s")


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
    alert = _one_alert(airflow, RUN_ID)
    assert f"shop_daily_etl failed for business date {DAY}: extract_interactions" in alert
    assert f"{INTERACTIONS} (1 try): RequestRejected" in alert and "401" in alert
    assert f"{airflow['airflow_url']}/dags/{DAG}/runs/{RUN_ID}" in alert

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


def test_a_failing_api_is_retried_with_growing_gaps_and_alerts_once(
    airflow: dict[str, Any],
) -> None:
    run_id = "e2e_api_503"
    _api_admin(airflow, "PUT", "/_admin/faults", {"always_fail": 503})
    try:
        with connect(airflow, write=lambda line: None) as client:
            client.trigger(run_id, {"business_date": DAY.isoformat()})
        assert _wait_for_run(airflow, run_id) == "failed"
    finally:
        _api_admin(airflow, "POST", "/_admin/reset")
    assert _tasks(airflow, run_id)[INTERACTIONS]["try_number"] == 4  # 1 + 3 retries
    api = f"{airflow['airflow_url']}/api/v2/dags/{DAG}/dagRuns/{run_id}"
    url = f"{api}/taskInstances/{INTERACTIONS}/tries"
    tries = sorted(
        httpx.get(url, timeout=30).json()["task_instances"], key=lambda t: t["try_number"]
    )
    assert [t["try_number"] for t in tries] == [1, 2, 3, 4]
    assert [t["state"] for t in tries] == ["failed"] * 4  # each try's own end
    gaps = [
        (
            datetime.fromisoformat(b["start_date"]) - datetime.fromisoformat(a["end_date"])
        ).total_seconds()
        for a, b in pairwise(tries)
    ]
    assert all(later > earlier for earlier, later in pairwise(gaps)), gaps  # 2 s, 4 s, 8 s + jitter
    alert = _one_alert(airflow, run_id)
    assert f"shop_daily_etl failed for business date {DAY}: extract_interactions" in alert
    assert f"{INTERACTIONS} (4 tries): RetriesExhausted" in alert
    assert f"{airflow['airflow_url']}/dags/{DAG}/runs/{run_id}" in alert
