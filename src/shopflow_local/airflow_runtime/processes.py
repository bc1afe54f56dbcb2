"""The local Airflow over the metadata DB: API server (UI), scheduler, DAG processor, triggerer.

``shopflow devstack up`` (or the first command that needs Airflow) starts them
as background processes beside the stand-ins, with the stack's connections and
variables in their environment. The scheduler runs tasks with the
LocalExecutor; the API server serves the UI, the public REST API that
``shopflow run`` and ``shopflow backfill`` drive, and the Execution API the
tasks talk to. Local only: the simple auth manager lets everyone in as admin.

``[scheduler] use_job_schedule`` is off: the stack holds only the generated
days, and an unpaused DAG would otherwise start the run of its latest cron tick
(yesterday) at once. Runs come from ``shopflow run``/``backfill`` and the UI.
In Airflow 3.3 that switch also stops asset-triggered runs (the downstream
``shop_campaign_revenue``): ``SHOPFLOW_LOCAL_SCHEDULE=on`` when the stack starts
turns both on, cron ticks included (docs/lineage.md). The weekly
``shop_warehouse_audit`` starts paused, like every new DAG: unpause and trigger it
in the UI (docs/operations.md, "The weekly audit").

A stack started with ``--executor celery`` runs the CeleryExecutor instead, with
two Celery workers beside these four processes (celery_settings).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from shopflow.errors import ShopflowError
from shopflow_local.airflow_runtime import celery_settings
from shopflow_local.airflow_runtime.home import SECRET_ENV_PREFIXES, airflow_env, migrate_db
from shopflow_local.airflow_runtime.pools import ensure_pools
from shopflow_local.airflow_runtime.preloaded import COMMAND
from shopflow_local.devstack import stack
from shopflow_local.devstack.config import Ports, require_shared_staging
from shopflow_local.devstack.connections import airflow_environment
from shopflow_local.devstack.process import port_open, read_pid, start_background, wait_for_port

LOCAL_SCHEDULE_ENV = "SHOPFLOW_LOCAL_SCHEDULE"
NAME = "airflow"
"""The API server's process name (pid file, log) and its port's name in the stack state."""
AIRFLOW = ("-m", "airflow")
PRELOADED = COMMAND
"""``airflow`` with the task modules imported first (``preloaded.py``): the scheduler's
LocalExecutor forks every task process from it."""
DAEMONS = {
    "airflow-scheduler": (*PRELOADED, "scheduler", "--skip-serve-logs"),
    "airflow-dag-processor": (*AIRFLOW, "dag-processor"),
    "airflow-triggerer": (*AIRFLOW, "triggerer", "--skip-serve-logs"),
}
"""Process name -> Python arguments of its ``airflow`` subcommand, started beside the API server.

No log servers (``--skip-serve-logs``): the API server reads the task logs from
the shared log folder, and the log servers' fixed ports would collide between
two local stacks.
"""


def base_url(port: int) -> str:
    """The UI's address."""
    return f"http://127.0.0.1:{port}"


def local_settings(port: int) -> dict[str, str]:
    """Settings of the local Airflow processes (UI address, executor, execution API)."""
    return {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        # Links in task logs and alert e-mails (TaskInstance.log_url) point here.
        "AIRFLOW__API__BASE_URL": base_url(port),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # 8 task slots: the 18 short quality tasks run 8 at a time, not 4. A scheduler
        # loop with nothing to do sleeps 0.2 s, not 1 s, so a finished task's successors
        # start sooner (bench/README.md, compare.py: the no-op DAG 7.7 -> 4.2 s at SF 1).
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url(port)}/execution/",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(job_schedule_on()),
    }


def job_schedule_on() -> bool:
    """``SHOPFLOW_LOCAL_SCHEDULE=on``: the scheduler creates cron and asset-triggered runs."""
    raw = os.environ.get(LOCAL_SCHEDULE_ENV, "off").strip().lower()
    if raw not in {"on", "off"}:
        raise ShopflowError(f"{LOCAL_SCHEDULE_ENV} must be on or off, got {raw!r}")
    return raw == "on"


def airflow_port(info: dict[str, Any]) -> int:
    """The Airflow UI port of the stack: where it runs, else where `up` planned it."""
    port = info.get("ports", {}).get(NAME) or info.get("airflow_port") or Ports().airflow
    return int(port)


def process_env(info: dict[str, Any], port: int) -> dict[str, str]:
    """The environment of every local Airflow process of the stack.

    The Celery stack's carries no connection or variable (they are in its
    secrets backend); the LocalExecutor stack's carries all of them.
    """
    if celery_settings.is_celery(info):
        return {**airflow_env(), **local_settings(port), **celery_settings.celery_settings(info)}
    return {**airflow_env(airflow_environment(info)), **local_settings(port)}


def _dropped(info: dict[str, Any]) -> tuple[str, ...]:
    """Inherited variables an Airflow process must not get (the Celery stack's secrets)."""
    return SECRET_ENV_PREFIXES if celery_settings.is_celery(info) else ()


def process_names(info: dict[str, Any]) -> list[str]:
    """Every local Airflow process of the stack: API server, daemons, Celery workers."""
    return [NAME, *DAEMONS, *(w["process"] for w in info.get("workers", []))]


def start_airflow(info: dict[str, Any], port: int, *, timeout: float = 180.0) -> str:
    """Start whichever Airflow process is not running; record and return the UI address."""
    home = Path(info["home"])
    run_dir = home / "run"
    url = base_url(port)
    if celery_settings.is_celery(info):
        require_shared_staging("celery", str(info["staging_uri"]), str(info["warehouse_url"]))
    env = process_env(info, port)
    drop = _dropped(info)
    if read_pid(run_dir / f"{NAME}.pid") is None:
        if port_open(port):
            raise ShopflowError(
                f"port {port} for the Airflow UI is in use by another program; choose "
                "another with `shopflow devstack up --airflow-port N` (or `demo --airflow-port N`)"
            )
        migrate_db(env)
        argv = [sys.executable, *AIRFLOW, "api-server", "--port", str(port)]
        start_background(NAME, argv, run_dir=run_dir, env=env, drop_inherited=drop)
    for name, command in DAEMONS.items():
        if read_pid(run_dir / f"{name}.pid") is None:
            argv = [sys.executable, *command]
            start_background(name, argv, run_dir=run_dir, env=env, drop_inherited=drop)
    for worker in info.get("workers", []):
        if read_pid(run_dir / f"{worker['process']}.pid") is None:
            Path(worker["log_dir"]).mkdir(parents=True, exist_ok=True)
            argv = [sys.executable, *celery_settings.worker_arguments(worker)]
            worker_env = {**env, **celery_settings.worker_env(worker)}
            start_background(
                worker["process"], argv, run_dir=run_dir, env=worker_env, drop_inherited=drop
            )
    try:
        wait_for_port(port, timeout=timeout)
    except ShopflowError:
        raise ShopflowError(
            f"the Airflow UI did not start on port {port}; see {run_dir / (NAME + '.log')}"
        ) from None
    ensure_pools(url)  # a task in a missing pool is never scheduled (airflow_runtime/pools.py)
    stack.record_component(home, NAME, port, url_key="airflow_url", url=url)
    return url


def ensure_airflow(info: dict[str, Any]) -> str:
    """The UI address of the stack's Airflow, started first if any process is down."""
    run_dir = Path(info["home"]) / "run"
    port = airflow_port(info)
    names = process_names(info)
    if all(read_pid(run_dir / f"{name}.pid") for name in names) and port_open(port):
        return base_url(port)
    return start_airflow(info, port)


def check_running(home: Path) -> None:
    """Raise when a local Airflow process has died (a run would never progress).

    A Celery stack keeps going while one worker is alive: the other's tasks are
    retried there.
    """
    run_dir = home / "run"
    for name in (NAME, *DAEMONS):
        if read_pid(run_dir / f"{name}.pid") is None:
            label = "api-server" if name == NAME else name.removeprefix("airflow-")
            raise ShopflowError(
                f"the local Airflow's {label} is not running (see {run_dir / (name + '.log')}); "
                "`shopflow devstack up` restarts it"
            )
    workers = (stack.read_state(home) or {}).get("workers", [])
    if workers and not any(read_pid(run_dir / f"{w['process']}.pid") for w in workers):
        raise ShopflowError(
            f"no Celery worker of the local Airflow runs (see {run_dir}/airflow-worker-*.log); "
            "`shopflow devstack up --stack services --executor celery` restarts them"
        )
