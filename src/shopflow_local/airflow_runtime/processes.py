"""A local Airflow over the metadata DB: API server (web UI), scheduler, DAG processor.

Runs made with ``shopflow run`` (``dag.test()``) are stored in that DB, so the UI
shows their task states, logs and the DAG's documentation. The scheduler
(LocalExecutor) and the DAG processor make the UI's actions real: unpause the
DAG to let it run daily at 01:00 UTC, clear a run's failed tasks to re-run only
those. The DAG starts paused. Local only: the simple auth manager lets everyone
in as admin.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from shopflow.errors import ShopflowError
from shopflow_local.airflow_runtime.home import airflow_env, migrate_db
from shopflow_local.devstack import stack
from shopflow_local.devstack.connections import airflow_environment
from shopflow_local.devstack.process import port_open, read_pid, start_background, wait_for_port

NAME = "airflow"
DAEMONS = {"airflow-scheduler": "scheduler", "airflow-dag-processor": "dag-processor"}
"""Process name -> ``airflow`` subcommand, started beside the API server."""


def local_settings(port: int) -> dict[str, str]:
    """Settings of the local Airflow processes (UI port, executor, execution API)."""
    return {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }


def start_ui(info: dict[str, Any], port: int, *, timeout: float = 180.0) -> str:
    """Start the API server, scheduler and DAG processor (idempotent); record the UI address."""
    home = Path(info["home"])
    run_dir = home / "run"
    url = f"http://127.0.0.1:{port}"
    env = {**airflow_env(airflow_environment(info)), **local_settings(port)}
    if read_pid(run_dir / f"{NAME}.pid") is None:
        if port_open(port):
            raise ShopflowError(
                f"port {port} for the Airflow UI is in use by another program; "
                "choose another with --airflow-port"
            )
        migrate_db(env)
        argv = [sys.executable, "-m", "airflow", "api-server", "--port", str(port)]
        start_background(NAME, argv, run_dir=run_dir, env=env)
    for name, command in DAEMONS.items():
        if read_pid(run_dir / f"{name}.pid") is None:
            argv = [sys.executable, "-m", "airflow", command]
            start_background(name, argv, run_dir=run_dir, env=env)
    try:
        wait_for_port(port, timeout=timeout)
    except ShopflowError:
        raise ShopflowError(
            f"the Airflow UI did not start on port {port}; see {run_dir / (NAME + '.log')}"
        ) from None
    stack.record_component(home, NAME, port, url_key="airflow_url", url=url)
    return url
