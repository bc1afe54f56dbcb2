"""The Celery stack's Airflow: settings of every process and the two Celery workers.

``shopflow devstack up --stack services --executor celery`` runs the same API
server, scheduler, DAG processor and triggerer as the LocalExecutor stack, with:

- ``CeleryExecutor``; the broker is Redis (devstack.redis_broker), the results
  go to the metadata DB (``db+postgresql+psycopg://``), which is its own
  database on the local Postgres (``StackConfig.airflow_database``);
- two workers, ``airflow celery worker`` as separate processes
  (``airflow-worker-1``, ``-2``), each with its Celery host name, its task-try
  host name (``[core] hostname_callable``, worker_identity), its log folder, two
  task slots and both queues (``default`` and the heavy one);
- task logs in the stack's bucket under ``airflow-logs/`` (remote logging
  through ``shop_aws``): the workers run no log server (``--skip-serve-logs``,
  its fixed port would collide), so the API server reads finished tasks' logs
  from S3;
- no ``AIRFLOW_CONN_*``/``AIRFLOW_VAR_*`` in any Airflow process: connections
  and variables come from the AWS emulator's Secrets Manager
  (devstack.secrets_backend), configured under ``[secrets]``.
"""

from __future__ import annotations

from typing import Any

from shopflow.names import CONN_AWS
from shopflow_local.airflow_runtime.preloaded import COMMAND
from shopflow_local.airflow_runtime.worker_identity import CALLABLE, WORKER_HOSTNAME_ENV

REMOTE_LOG_PREFIX = "airflow-logs"
VISIBILITY_TIMEOUT = 24 * 3600
"""Seconds before Redis hands an unacknowledged task to another worker (Airflow's default,
set explicitly): longer than the run's time budget, so a slow task is never run twice."""
WORKER = (*COMMAND, "celery", "worker")
"""``airflow celery worker``, preloaded: its prefork pool and every task process are
forked from it, the task modules already imported."""


def is_celery(info: dict[str, Any]) -> bool:
    """True for a stack started with ``--executor celery``."""
    return info.get("executor", "local") == "celery"


def celery_settings(info: dict[str, Any]) -> dict[str, str]:
    """``AIRFLOW__*`` settings shared by every Airflow process of the Celery stack."""
    from shopflow_local.devstack import secrets_backend

    db = str(info["airflow_db_url"])
    concurrency = max((int(w["concurrency"]) for w in info["workers"]), default=1)
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(concurrency * len(info["workers"])),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": CALLABLE,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
        "AIRFLOW__CELERY__BROKER_URL": str(info["broker_url"]),
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{db}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"s3://{info['bucket']}/{REMOTE_LOG_PREFIX}",
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": CONN_AWS,
        **secrets_backend.backend_env(str(info["aws_endpoint"])),
    }


def worker_env(worker: dict[str, Any]) -> dict[str, str]:
    """What one worker adds: its task-try host name and its own log folder."""
    return {
        WORKER_HOSTNAME_ENV: str(worker["hostname"]),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(worker["log_dir"]),
    }


def worker_arguments(worker: dict[str, Any]) -> list[str]:
    """Python arguments of one worker: its Celery host name, queues and task slots."""
    return [
        *WORKER,
        "--celery-hostname", str(worker["hostname"]),
        "--queues", ",".join(worker["queues"]),
        "--concurrency", str(worker["concurrency"]),
        "--skip-serve-logs",
    ]  # fmt: skip
