"""What the Celery stack's Airflow processes get: settings, environment, command lines."""

from __future__ import annotations

import json
import socket
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

from shopflow.names import CONN_AWS
from shopflow_local.airflow_runtime import celery_settings, processes
from shopflow_local.airflow_runtime.worker_identity import CALLABLE, WORKER_HOSTNAME_ENV, hostname
from shopflow_local.devstack import stack
from shopflow_local.devstack.config import StackConfig

pytestmark = pytest.mark.unit


@pytest.fixture
def info(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A Celery stack's description, as `devstack up` records it."""
    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    described = stack.describe(StackConfig(home=tmp_path, stack="services", executor="celery"))
    described["broker_url"] = "redis://127.0.0.1:6379/5"
    return described


def test_every_process_runs_celery_on_postgres_with_logs_and_secrets_elsewhere(
    info: dict[str, Any],
) -> None:
    env = celery_settings.celery_settings(info)
    db = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert db == "postgresql+psycopg://postgres@127.0.0.1:5432/shopflow_airflow"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+{db}"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/5"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"  # two workers of two slots
    assert env["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "True"
    assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == "s3://shopflow-local/airflow-logs"
    assert env["AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID"] == CONN_AWS
    kwargs = json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"])
    assert env["AIRFLOW__SECRETS__BACKEND"].endswith("SecretsManagerBackend")
    assert kwargs["endpoint_url"] == info["aws_endpoint"]
    module, _, name = env["AIRFLOW__CORE__HOSTNAME_CALLABLE"].rpartition(".")
    assert getattr(import_module(module), name) is hostname


def test_the_celery_stack_s_processes_carry_no_connection_or_variable(
    info: dict[str, Any],
) -> None:
    env = processes.process_env(info, 18090)
    assert not [k for k in env if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]
    assert info["api_token"] not in json.dumps(env) and info["hash_key"] not in json.dumps(env)
    assert processes._dropped(info) == ("AIRFLOW_CONN_", "AIRFLOW_VAR_")
    local = {**info, "executor": "local", "workers": []}
    local_env = processes.process_env(local, 18090)
    assert local_env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "AIRFLOW_CONN_MARKETING_API" in local_env and processes._dropped(local) == ()


def test_each_worker_has_its_host_name_log_folder_queues_and_slots(info: dict[str, Any]) -> None:
    first, second = info["workers"]
    env = celery_settings.worker_env(first)
    assert env == {
        WORKER_HOSTNAME_ENV: first["hostname"],
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": first["log_dir"],
    }
    assert celery_settings.worker_env(second) != env
    argv = celery_settings.worker_arguments(first)
    assert argv[: len(celery_settings.WORKER)] == list(celery_settings.WORKER)
    assert argv[argv.index("--celery-hostname") + 1] == first["hostname"]
    assert argv[argv.index("--queues") + 1] == ",".join(first["queues"])
    assert argv[argv.index("--concurrency") + 1] == "2"
    assert "--skip-serve-logs" in argv
    assert processes.process_names(info)[-2:] == ["airflow-worker-1", "airflow-worker-2"]


def test_the_task_host_name_is_the_worker_s_else_the_machine_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda: "machine.example")
    monkeypatch.setenv(WORKER_HOSTNAME_ENV, "worker-1@machine")
    assert hostname() == "worker-1@machine"
    monkeypatch.setenv(WORKER_HOSTNAME_ENV, " ")
    assert hostname() == "machine.example"
    monkeypatch.delenv(WORKER_HOSTNAME_ENV)
    assert hostname() == "machine.example"
    assert CALLABLE == "shopflow_local.airflow_runtime.worker_identity.hostname"
