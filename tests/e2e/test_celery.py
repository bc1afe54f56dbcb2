"""The DAG on the Celery stack: two workers, a worker's death, secrets from Secrets Manager.

One services stack for the whole module (celery_stack.py): MariaDB, Postgres,
the stand-ins, one generated day at SF 0.01, the CeleryExecutor with two workers
on the machine's Redis (or a redis-server the stack starts), the Airflow
metadata DB and the Celery results on Postgres, task logs in the bucket, and the
pipeline's connections and variables in the AWS emulator's Secrets Manager.

The reference is the same day run by ``dag.test()`` (``shopflow run
--in-process``'s path, dag_test.run_business_date) on the same sources into a
warehouse database of its own, before the Celery stack's Airflow starts. A
LocalExecutor services stack run of the day was measured at about 80 s on this
2-core machine (its SQLite migration, API server start and the run) plus its
shutdown, against about 40 s for ``dag.test()``; with the Celery stack's own
start and three runs the module would exceed its four-minute budget. Both
execute the DAG file's tasks with the same connections; neither shares anything
with the Celery workers but the sources.

Settings for the test stack, through the environment: the scheduler declares a
task instance dead after 15 s without a heartbeat (``[scheduler]
task_instance_heartbeat_timeout``, checked every second), the task supervisors
heartbeat every 2 s (``[workers] min_heartbeat_interval``), and a retry waits
1 s (``SHOPFLOW_RETRY_DELAY_SECONDS``).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from celery_stack import (
    CeleryStack,
    airflow_processes,
    celery_stack,
    create_postgres_database,
    environ_of,
    gone,
    kill_worker,
    load_lock_held,
    snapshot,
)

from shopflow.names import CONN_API, DAG_ID, QUEUE_HEAVY, SOURCES, extract_task_id
from shopflow_local.airflow_runtime.dag_test import run_business_date
from shopflow_local.airflow_runtime.home import airflow_env
from shopflow_local.airflow_runtime.rest_client import AirflowClient
from shopflow_local.airflow_runtime.worker_identity import WORKER_HOSTNAME_ENV
from shopflow_local.cli import main
from shopflow_local.dag_runs import wait_for_dag
from shopflow_local.devstack import secrets_backend
from shopflow_local.devstack.aws_emulator import aws_client
from shopflow_local.devstack.connections import airflow_environment

pytestmark = pytest.mark.e2e

DAY = date(2025, 1, 2)
STACK_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "1",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    "SHOPFLOW_RETRY_DELAY_SECONDS": "1",
}
RUN_TIMEOUT = 300.0
INTERACTIONS = extract_task_id("interactions")
EXTRACTS = [extract_task_id(source) for source in SOURCES]


def _reference(celery: CeleryStack) -> dict[str, Any]:
    """The day through dag.test() into a warehouse of its own; its checksums."""
    url = create_postgres_database(f"{celery.prefix}reference")
    bucket = celery.info["bucket"]
    info = {**celery.info, "warehouse_url": url, "staging_uri": f"s3://{bucket}/reference"}
    outcome = run_business_date(DAY, env=airflow_env(airflow_environment(info)))
    assert outcome.ok, outcome.summary()
    return snapshot(url)


@pytest.fixture(scope="module")
def celery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryStack]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in STACK_ENV.items():
            patch.setenv(name, value)
        with celery_stack(tmp_path_factory, DAY, 1, reference=_reference) as stack:
            yield stack


@pytest.fixture(scope="module")
def client(celery: CeleryStack) -> Iterator[AirflowClient]:
    with AirflowClient(celery.info["airflow_url"]) as api:
        wait_for_dag(api, celery.home)
        api.unpause()
        yield api


def _shopflow(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def _triggered_run_id(out: str) -> str:
    found = re.search(r"triggered (\S+)", out)
    assert found, out
    return found.group(1)


def _log_text(client: AirflowClient, run_id: str, task_id: str, try_number: int) -> str:
    entries = client.task_log(run_id, task_id, try_number)
    return "\n".join(f"{e.get('event', '')} {e.get('error_detail', '')}" for e in entries)


def _tries(client: AirflowClient, run_id: str, task_id: str) -> list[dict[str, Any]]:
    path = (
        f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
        f"{quote(task_id, safe='')}/tries"
    )
    return sorted(client.request("GET", path)["task_instances"], key=lambda t: t["try_number"])


def _task_instances(client: AirflowClient, run_id: str) -> dict[str, dict[str, Any]]:
    return {ti["task_id"]: ti for ti in client.task_instances(run_id)}


def _wait(what: str, check: Any, timeout: float = RUN_TIMEOUT) -> Any:
    """Poll check() until it returns something truthy; fail naming what after timeout."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f}s")
        time.sleep(0.3)
    return found


@pytest.fixture(scope="module")
def clean_run(celery: CeleryStack, client: AirflowClient) -> dict[str, Any]:
    """The day run once with ``shopflow run`` on the Celery stack: exit code, run id, checksums."""
    code = main(["run", "--date", DAY.isoformat()])
    runs = client.dag_runs()
    assert len(runs) == 1, [r["dag_run_id"] for r in runs]
    return {
        "code": code,
        "run_id": runs[0]["dag_run_id"],
        "snapshot": snapshot(celery.info["warehouse_url"]),
    }


def test_a_day_runs_on_both_workers(
    celery: CeleryStack, client: AirflowClient, clean_run: dict[str, Any]
) -> None:
    assert clean_run["code"] == 0
    tis = _task_instances(client, clean_run["run_id"])
    assert {ti["state"] for ti in tis.values()} == {"success"}
    hosts = Counter(ti["hostname"] for ti in tis.values())
    workers = {w["hostname"] for w in celery.info["workers"]}
    assert len(hosts) >= 2 and set(hosts) <= workers, hosts
    queues = {task: ti["queue"] for task, ti in tis.items()}
    assert queues.pop("transform") == queues.pop("load") == QUEUE_HEAVY
    assert set(queues.values()) == {"default"}


def test_the_warehouse_equals_the_reference_run(
    celery: CeleryStack, clean_run: dict[str, Any]
) -> None:
    assert clean_run["snapshot"] == celery.reference


def test_the_api_server_serves_finished_task_logs_from_the_bucket(
    celery: CeleryStack, client: AirflowClient, clean_run: dict[str, Any]
) -> None:
    run_id, bucket = clean_run["run_id"], celery.info["bucket"]
    text = _log_text(client, run_id, "load", 1)
    assert f"s3://{bucket}/airflow-logs/dag_id={DAG_ID}/run_id={run_id}/task_id=load/" in text
    assert f"load {DAY}:" in text
    s3 = aws_client("s3", celery.info["aws_endpoint"])
    prefix = f"airflow-logs/dag_id={DAG_ID}/run_id={run_id}/"
    tasks = {ti["task_id"] for ti in client.task_instances(run_id)}

    def uploaded() -> set[str]:  # the last tasks' uploads may trail the run's end
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        found = {obj["Key"].removeprefix(prefix).split("/")[0] for obj in listed}
        return {t.removeprefix("task_id=") for t in found} if len(found) == len(tasks) else set()

    assert _wait("every task's log is in the bucket", uploaded, timeout=30) == tasks


def test_status_lists_the_workers(celery: CeleryStack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _shopflow(capsys, "devstack", "status", "--json")
    assert code == 0, out
    info = json.loads(out)
    assert info["executor"] == "celery"
    workers = info["workers"]
    assert [w["name"] for w in workers] == ["worker-1", "worker-2"]
    assert len({w["hostname"] for w in workers}) == len({w["log_dir"] for w in workers}) == 2
    for worker in workers:
        assert worker["healthy"] and worker["pid"], worker
        assert worker["queues"] == ["default", QUEUE_HEAVY]
        assert Path(worker["log_dir"]).is_dir()


def test_no_airflow_process_holds_a_pipeline_secret_in_its_environment(
    celery: CeleryStack, clean_run: dict[str, Any]
) -> None:
    secrets = (celery.info["api_token"], celery.info["hash_key"])
    trees = airflow_processes(celery.home, celery.info)
    readable = {
        name: [env for pid in pids if (env := environ_of(pid))] for name, pids in trees.items()
    }
    for name, envs in readable.items():
        for env in envs:
            assert not [k for k in env if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))], name
            assert not [k for k, v in env.items() if any(s in v for s in secrets)], name
            assert env["AIRFLOW__SECRETS__BACKEND"].endswith("SecretsManagerBackend"), name
    # the API server retitles its only process; every other one shows what it started with
    assert all(readable[name] for name in trees if name != "airflow"), readable.keys()
    for worker in celery.info["workers"]:
        hostnames = {env[WORKER_HOSTNAME_ENV] for env in readable[worker["process"]]}
        assert hostnames == {worker["hostname"]}


def test_a_killed_worker_s_load_is_retried_on_the_survivor(
    celery: CeleryStack, client: AirflowClient, clean_run: dict[str, Any]
) -> None:
    run_id = f"celery_kill_{datetime.now(UTC):%Y%m%dT%H%M%S}"
    client.trigger(run_id, {"business_date": DAY.isoformat()})

    def extracted() -> bool:
        tis = _task_instances(client, run_id)
        return all(tis.get(t, {}).get("state") == "success" for t in EXTRACTS)

    _wait("the four extracts succeed", extracted)
    with load_lock_held(celery.info["warehouse_url"]) as release:  # load waits in its first step

        def load_running() -> dict[str, Any] | None:
            load = _task_instances(client, run_id)["load"]
            return load if load["state"] == "running" and load["hostname"] else None

        load = _wait("load runs", load_running)
        victim = next(w for w in celery.info["workers"] if w["hostname"] == load["hostname"])
        survivor = next(w for w in celery.info["workers"] if w is not victim)
        killed_at = datetime.now(UTC)
        assert gone(kill_worker(celery.home, victim))
        release()

    def finished() -> dict[str, Any] | None:
        run = client.dag_run(run_id)
        return run if run["state"] in {"success", "failed"} else None

    assert _wait("the run ends", finished)["state"] == "success"
    tries = [(t["try_number"], t["state"], t["hostname"]) for t in _tries(client, run_id, "load")]
    assert tries == [
        (1, "failed", victim["hostname"]),
        (2, "success", survivor["hostname"]),
    ]
    later = [
        ti for ti in client.task_instances(run_id)
        if ti["start_date"] and datetime.fromisoformat(ti["start_date"]) > killed_at
    ]  # fmt: skip
    assert later and {ti["hostname"] for ti in later} == {survivor["hostname"]}
    assert snapshot(celery.info["warehouse_url"]) == clean_run["snapshot"]

    status = celery.status()
    assert not next(w for w in status["workers"] if w["name"] == victim["name"])["healthy"]
    restarted = celery.restart()  # `devstack up` starts the missing worker again
    assert restarted["up"], restarted["components"]
    assert all(w["healthy"] for w in restarted["workers"])


def test_a_missing_api_token_secret_fails_the_api_extract_at_once(
    celery: CeleryStack,
    client: AirflowClient,
    clean_run: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint, token = celery.info["aws_endpoint"], celery.info["api_token"]
    name = secrets_backend.secret_name("connection", CONN_API)
    assert secrets_backend.delete(endpoint, name)
    try:
        code, out = _shopflow(capsys, "run", "--date", DAY.isoformat())
    finally:
        secrets_backend.seed(endpoint, airflow_environment(celery.info))
    assert code == 1, out
    run_id = _triggered_run_id(out)
    ti = _task_instances(client, run_id)[INTERACTIONS]
    assert (ti["state"], ti["try_number"]) == ("failed", 1)
    assert ti["max_tries"] >= 1  # it had retries left and used none
    failed = [line for line in out.splitlines() if f"failed {INTERACTIONS}:" in line]
    assert len(failed) == 1 and name in failed[0], out
    log = _log_text(client, run_id, INTERACTIONS, 1)
    assert name in log
    assert token not in out + log
