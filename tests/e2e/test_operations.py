"""`shopflow run` and `shopflow backfill` on the real scheduler of the local Airflow.

One embedded stack (SF 0.01) with the API server, scheduler (LocalExecutor), DAG
processor and triggerer for the whole module; the stack creates the DAG's pools
(``airflow_runtime/pools.py``: a task in a missing pool is never scheduled). The commands go through
``shopflow_local.cli.main``, as a user types them; what they did is then read
back through Airflow's REST API.
"""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow_stack import local_airflow

from shopflow.dates import scheduled_logical_date
from shopflow.names import POOL_MARKETING_API, POOL_SALES_DB, QUEUE_HEAVY, SOURCES, extract_task_id
from shopflow.pools import POOLS
from shopflow_local.airflow_runtime.pools import ensure_pools
from shopflow_local.airflow_runtime.rest_client import AirflowClient, run_url
from shopflow_local.cli import main
from shopflow_local.dag_runs import read_report

pytestmark = pytest.mark.e2e

FIRST = date(2025, 1, 2)
RUN_DAY = date(2025, 1, 2)
BACKFILL = [date(2025, 1, 3), date(2025, 1, 4), date(2025, 1, 5)]
EXTRACTS = [extract_task_id(source) for source in SOURCES]
SUMMARY = {
    **{extract_task_id(s): f"extract {s} {{day}}:" for s in SOURCES},
    "transform": "transform {day}:",
    "load": "load {day}:",
    "report": "report {day}:",
}
"""Each pipeline task's own summary line in its log (shopflow.tasks.*)."""
POOLED = {
    extract_task_id("sales"): POOL_SALES_DB,
    extract_task_id("interactions"): POOL_MARKETING_API,
}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with local_airflow(tmp_path_factory, FIRST, 4) as info:
        yield info


@pytest.fixture(scope="module")
def client(airflow: dict[str, Any]) -> Iterator[AirflowClient]:
    with AirflowClient(airflow["airflow_url"]) as api:
        yield api


def _shopflow(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, float]:
    started = time.monotonic()
    code = main(list(argv))
    seconds = time.monotonic() - started
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err, seconds


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _triggered_run_id(out: str) -> str:
    found = re.search(r"triggered (\S+)", out)
    assert found, out
    return found.group(1)


def _admin(info: dict[str, Any], method: str, path: str, body: Any = None) -> None:
    headers = {"Authorization": f"Bearer {info['api_token']}"}
    httpx.request(method, f"{info['api_url']}{path}", json=body, headers=headers).raise_for_status()


def test_shopflow_run_is_a_real_scheduler_run(
    airflow: dict[str, Any], client: AirflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now(UTC)
    code, out, wall = _shopflow(capsys, "run", "--date", RUN_DAY.isoformat())
    after = datetime.now(UTC)
    assert code == 0, out
    run_id = _triggered_run_id(out)
    assert f"{RUN_DAY}: success" in out
    assert re.search(r"checks: \d+ passed", out)  # the run report
    assert f"UI: {run_url(airflow['airflow_url'], run_id)}" in out

    run = client.dag_run(run_id)
    assert run["state"] == "success"
    assert run["conf"]["business_date"] == RUN_DAY.isoformat()
    tis = {ti["task_id"]: ti for ti in client.task_instances(run_id)}
    assert {ti["state"] for ti in tis.values()} == {"success"}
    # the stack created the DAG's pools (else the pooled extracts never start); queues
    assert {t: ti["pool"] for t, ti in tis.items() if ti["pool"] != "default_pool"} == POOLED
    assert {t for t, ti in tis.items() if ti["queue"] == QUEUE_HEAVY} == {"transform", "load"}

    # the four extracts ran at the same time: one moment lies inside all four intervals
    starts = [_at(tis[t]["start_date"]) for t in EXTRACTS]
    ends = [_at(tis[t]["end_date"]) for t in EXTRACTS]
    assert max(starts) < min(ends), list(zip(EXTRACTS, starts, ends, strict=True))

    # the run's duration is its wall time: inside the command's window, spanning its tasks
    start, end = _at(run["start_date"]), _at(run["end_date"])
    assert before - timedelta(seconds=1) <= start < end <= after + timedelta(seconds=1)
    assert run["duration"] == pytest.approx((end - start).total_seconds(), abs=0.01)
    first_start = min(_at(ti["start_date"]) for ti in tis.values())
    last_end = max(_at(ti["end_date"]) for ti in tis.values())
    assert start <= first_start and last_end <= end
    assert run["duration"] - (last_end - first_start).total_seconds() < 10
    assert run["duration"] < wall

    # every task's log is served by the REST API; the pipeline tasks' carry their summary
    for task_id, ti in tis.items():
        log = client.task_log(run_id, task_id, ti["try_number"])
        text = "\n".join(str(entry.get("event", "")) for entry in log)
        assert text.strip(), task_id
        if task_id in SUMMARY:
            assert SUMMARY[task_id].format(day=RUN_DAY) in text, task_id


def test_a_failed_run_names_the_task_and_its_error(
    airflow: dict[str, Any], client: AirflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    mailbox = Path(airflow["mailbox"])
    seen = set(mailbox.glob("*.eml"))
    _admin(airflow, "PUT", "/_admin/faults", {"always_fail": 401})
    try:
        code, out, _ = _shopflow(capsys, "run", "--date", RUN_DAY.isoformat())
    finally:
        _admin(airflow, "POST", "/_admin/reset")
    assert code == 1, out
    run_id = _triggered_run_id(out)
    assert f"{RUN_DAY}: failed" in out
    failed = [line for line in out.splitlines() if line.startswith("  failed ")]
    interactions = [line for line in failed if extract_task_id("interactions") + ":" in line]
    assert len(interactions) == 1 and "401" in interactions[0], out
    assert not any(extract_task_id("sales") in line for line in failed)
    assert f"UI: {run_url(airflow['airflow_url'], run_id)}" in out
    assert client.dag_run(run_id)["state"] == "failed"

    # the alert's link points at this Airflow, not localhost:8080
    alert = _wait_for_mail(mailbox, seen, run_id)
    assert f"{airflow['airflow_url']}/dags/shop_daily_etl/runs/{run_id}" in alert
    assert "localhost:8080" not in alert


def _wait_for_mail(mailbox: Path, seen: set[Path], needle: str, timeout: float = 90) -> str:
    """The text of a new e-mail that mentions needle (alerts may come from a callback)."""
    deadline = time.monotonic() + timeout
    while True:
        for path in sorted(set(mailbox.glob("*.eml")) - seen):
            message = email.message_from_bytes(path.read_bytes())
            parts = [p.get_payload(decode=True) for p in message.walk()]
            text = "\n".join(p.decode(errors="replace") for p in parts if isinstance(p, bytes))
            if needle in text:
                return text
        if time.monotonic() > deadline:
            raise AssertionError(f"no new e-mail mentions {needle} after {timeout:.0f}s")
        time.sleep(1)


def _backfill_runs(client: AirflowClient) -> list[dict[str, Any]]:
    return sorted(client.dag_runs(run_type=["backfill"]), key=lambda r: r["logical_date"])


def test_backfill_runs_exactly_the_business_dates_in_order(
    airflow: dict[str, Any], client: AirflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["backfill", "--start", BACKFILL[0].isoformat(), "--end", BACKFILL[-1].isoformat()]
    code, out, _ = _shopflow(capsys, *argv)
    assert code == 0, out
    runs = _backfill_runs(client)
    ticks = [_at(r["logical_date"]) for r in runs]
    assert ticks == [scheduled_logical_date(day) for day in BACKFILL]
    assert [r["state"] for r in runs] == ["success"] * len(BACKFILL)
    for earlier, later in pairwise(runs):  # one at a time, oldest first
        assert _at(earlier["end_date"]) <= _at(later["start_date"])
    for day, run in zip(BACKFILL, runs, strict=True):
        assert run["conf"].get("business_date") is None  # D comes from the cron tick
        report = read_report(airflow, day, run["dag_run_id"])
        assert report is not None and report["business_date"] == day.isoformat(), day
        assert f"{day}: success" in out

    backfills = client.request("GET", "/backfills", params={"dag_id": "shop_daily_etl"})
    code, out, _ = _shopflow(capsys, *argv, "--reprocess", "none")
    assert code == 0, out
    assert "nothing to run" in out
    assert [r["dag_run_id"] for r in _backfill_runs(client)] == [r["dag_run_id"] for r in runs]
    after = client.request("GET", "/backfills", params={"dag_id": "shop_daily_etl"})
    assert after["total_entries"] == backfills["total_entries"] == 1


def test_ensure_pools_is_idempotent_and_repairs_a_drifted_pool(
    airflow: dict[str, Any], client: AirflowClient
) -> None:
    url = airflow["airflow_url"]
    assert ensure_pools(url) == {
        pool.name: "unchanged" for pool in POOLS
    }  # start_airflow made them
    sales = next(pool for pool in POOLS if pool.name == POOL_SALES_DB)
    drifted = {"pool": sales.name, **sales.fields(), "slots": sales.slots + 5}
    client.request("PATCH", f"/pools/{sales.name}", json=drifted)
    assert ensure_pools(url)[sales.name] == "updated"
    stored = {p["name"]: p for p in client.request("GET", "/pools")["pools"]}
    for pool in POOLS:
        assert {k: stored[pool.name][k] for k in pool.fields()} == pool.fields(), pool.name
