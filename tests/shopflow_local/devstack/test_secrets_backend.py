"""Connections and variables seeded into the emulator's Secrets Manager, read back by Airflow.

A real moto server; the provider's real ``SecretsManagerBackend``, built exactly as
``backend_env()`` configures it (the class and the JSON kwargs), and through the
SDK's own configuration, which is what every Airflow process does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Connection, Variable
from airflow.sdk.configuration import clear_secrets_backends_cache, get_custom_secret_backend
from airflow.sdk.definitions.connection import Connection as SdkConnection
from airflow.sdk.module_loading import import_string

from shopflow.names import CONN_API, CONN_AWS, VAR_HASH_KEY, VAR_STAGING_URI
from shopflow_local.devstack import aws_emulator, secrets_backend
from shopflow_local.devstack.process import free_port
from shopflow_local.in_process import airflow_environment_for

pytestmark = pytest.mark.integration

API = {
    "conn_type": "http",
    "host": "127.0.0.1",
    "port": 18081,
    "schema": "http",
    "password": "tok-secret-1",
}
AWS = {
    "conn_type": "aws",
    "login": "test",
    "password": "test",
    "extra": {"region_name": "us-east-1", "bucket": "shopflow-local"},
}
ENV = {
    f"AIRFLOW_CONN_{CONN_API.upper()}": json.dumps(API),
    f"AIRFLOW_CONN_{CONN_AWS.upper()}": json.dumps(AWS),
    f"AIRFLOW_VAR_{VAR_HASH_KEY.upper()}": "hash-key-1",
    f"AIRFLOW_VAR_{VAR_STAGING_URI.upper()}": "s3://shopflow-local/staging",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
}
API_SECRET = f"shopflow/connections/{CONN_API}"
HASH_SECRET = f"shopflow/variables/{VAR_HASH_KEY}"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    run_dir = tmp_path_factory.mktemp("secrets")
    try:
        yield aws_emulator.start_s3(free_port(), run_dir)  # one moto server, every service
    finally:
        aws_emulator.stop_all(run_dir)


def configured_backend(endpoint: str) -> Any:
    """The backend class and kwargs of backend_env(), instantiated as Airflow does."""
    env = secrets_backend.backend_env(endpoint)
    backend = import_string(env["AIRFLOW__SECRETS__BACKEND"])(
        **json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"])
    )
    backend._set_connection_class(SdkConnection)
    return backend


def test_seeded_secrets_read_back_through_the_backend(endpoint: str) -> None:
    names = secrets_backend.seed(endpoint, ENV)
    assert names == sorted(
        [
            API_SECRET,
            f"shopflow/connections/{CONN_AWS}",
            HASH_SECRET,
            f"shopflow/variables/{VAR_STAGING_URI}",
        ]
    )
    assert not any(value in " ".join(names) for value in ("tok-secret-1", "hash-key-1"))
    backend = configured_backend(endpoint)
    api = backend.get_connection(CONN_API)
    assert (api.conn_type, api.host, api.port, api.schema, api.password) == (
        "http",
        "127.0.0.1",
        18081,
        "http",
        "tok-secret-1",
    )
    aws = backend.get_connection(CONN_AWS)
    assert (aws.login, aws.password, aws.extra_dejson) == ("test", "test", AWS["extra"])
    assert backend.get_variable(VAR_HASH_KEY) == "hash-key-1"


def test_seeding_again_stores_the_new_value(endpoint: str) -> None:
    secrets_backend.seed(endpoint, ENV)
    rotated = {f"AIRFLOW_VAR_{VAR_HASH_KEY.upper()}": "hash-key-2"}
    assert secrets_backend.seed(endpoint, rotated) == [HASH_SECRET]
    assert configured_backend(endpoint).get_variable(VAR_HASH_KEY) == "hash-key-2"


def test_a_deleted_secret_is_no_longer_found_and_can_be_seeded_again(endpoint: str) -> None:
    secrets_backend.seed(endpoint, ENV)
    assert secrets_backend.delete(endpoint, API_SECRET) is True
    assert secrets_backend.delete(endpoint, API_SECRET) is False
    backend = configured_backend(endpoint)
    assert backend.get_connection(CONN_API) is None
    assert backend.get_conn_value(CONN_API) is None
    secrets_backend.seed(endpoint, ENV)
    assert configured_backend(endpoint).get_connection(CONN_API).password == "tok-secret-1"


def test_a_secret_scheduled_for_deletion_is_restored_by_seeding(endpoint: str) -> None:
    secrets_backend.seed(endpoint, ENV)
    client = aws_emulator.aws_client("secretsmanager", endpoint)
    client.delete_secret(SecretId=HASH_SECRET, RecoveryWindowInDays=7)
    assert configured_backend(endpoint).get_variable(VAR_HASH_KEY) is None
    secrets_backend.seed(endpoint, ENV)
    assert configured_backend(endpoint).get_variable(VAR_HASH_KEY) == "hash-key-1"


@pytest.fixture
def sdk_configured(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """This process's Task SDK configured by backend_env(), without AIRFLOW_CONN_*/VAR_*."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    clear_secrets_backends_cache()
    try:
        with airflow_environment_for(
            {"SHOPFLOW_HOME": str(tmp_path), **secrets_backend.backend_env(endpoint)}
        ):
            yield
    finally:
        clear_secrets_backends_cache()  # no later test may keep this backend


def test_the_task_sdk_resolves_through_the_configured_backend(
    endpoint: str, sdk_configured: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = get_custom_secret_backend(worker_mode=True)  # [workers] falls back to [secrets]
    assert type(backend).__name__ == "SecretsManagerBackend"
    secrets_backend.seed(endpoint, ENV)
    monkeypatch.setenv(f"AIRFLOW_VAR_{VAR_HASH_KEY.upper()}", "from-the-environment")
    assert Connection.get(CONN_API).password == "tok-secret-1"
    assert Variable.get(VAR_HASH_KEY) == "hash-key-1"  # the backend before the environment


def test_a_removed_api_secret_fails_the_extract_at_once_naming_it(
    endpoint: str, sdk_configured: None
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from shopflow.tasks import extract

    secrets_backend.seed(endpoint, ENV)
    secrets_backend.delete(endpoint, API_SECRET)
    with pytest.raises(AirflowFailException) as caught:
        extract.extract_interactions("2026-11-22")
    assert str(caught.value).startswith(
        f"Airflow connection '{CONN_API}' is not defined: looked up secret '{API_SECRET}' "
        f"in SecretsManagerBackend, then AIRFLOW_CONN_{CONN_API.upper()}"
    )
    assert "tok-secret-1" not in str(caught.value)
