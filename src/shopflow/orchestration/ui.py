"""The Airflow web UI (``airflow api-server``) over the local metadata DB, as a background process.

Runs made with ``shopflow run`` (``dag.test()``) are stored in that DB, so the UI
shows their task states, logs and the DAG's documentation. Local only: the simple
auth manager lets everyone in as admin.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from shopflow.devstack import stack
from shopflow.devstack.connections import airflow_environment
from shopflow.devstack.process import port_open, read_pid, start_background, wait_for_port
from shopflow.errors import ShopflowError
from shopflow.orchestration.airflow_home import airflow_env, migrate_db

NAME = "airflow"
LOCAL_UI_SETTINGS = {
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    "AIRFLOW__API__HOST": "127.0.0.1",
}


def start_ui(info: dict[str, Any], port: int, *, timeout: float = 180.0) -> str:
    """Start the API server (idempotent) and record its address in the stack state."""
    home = Path(info["home"])
    run_dir = home / "run"
    url = f"http://127.0.0.1:{port}"
    if read_pid(run_dir / f"{NAME}.pid") is None:
        if port_open(port):
            raise ShopflowError(
                f"port {port} for the Airflow UI is in use by another program; "
                "choose another with --airflow-port"
            )
        env = {**airflow_env(airflow_environment(info)), **LOCAL_UI_SETTINGS}
        migrate_db(env)
        argv = [sys.executable, "-m", "airflow", "api-server", "--port", str(port)]
        start_background(NAME, argv, run_dir=run_dir, env=env)
    try:
        wait_for_port(port, timeout=timeout)
    except ShopflowError:
        raise ShopflowError(
            f"the Airflow UI did not start on port {port}; see {run_dir / (NAME + '.log')}"
        ) from None
    stack.record_component(home, NAME, port, url_key="airflow_url", url=url)
    return url
