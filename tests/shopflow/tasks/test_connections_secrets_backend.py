"""With a secrets backend, a missing connection or variable fails at once, naming the secret.

The Task SDK's lookup chain is replaced by real backend instances whose Secrets
Manager calls answer from a dict (no socket): the messages name the secrets in
the SDK's order, never a value, and an unreachable backend stays retryable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend
from airflow.sdk.definitions.connection import Connection
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time import supervisor
from airflow.sdk.execution_time.secrets import ExecutionAPISecretsBackend
from airflow.secrets.environment_variables import EnvironmentVariablesBackend
from botocore.exceptions import EndpointConnectionError

from shopflow.errors import PermanentError, ShopflowError
from shopflow.names import CONN_API, CONN_SALES, VAR_HASH_KEY, VAR_STAGING_URI
from shopflow.tasks import connections, extract, secret_lookup
from shopflow_local.devstack import secrets_backend
from shopflow_local.in_process import airflow_environment_for

pytestmark = pytest.mark.unit

UNREACHABLE = "http://127.0.0.1:9"  # never contacted: the store below answers
KWARGS_ENV = "AIRFLOW__SECRETS__BACKEND_KWARGS"


class Store:
    """What the fake Secrets Manager holds, and the secret names it was asked for."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.asked: list[str] = []
        self.failure: Exception | None = None

    def value(self, secret_id: str, secrets_path: str) -> str | None:
        self.asked.append(secrets_path)
        if self.failure is not None:
            raise self.failure
        return self.secrets.get(secrets_path)


def backend_on(store: Store, **overrides: Any) -> SecretsManagerBackend:
    """A SecretsManagerBackend configured as the local stack does, reading store."""
    kwargs = {**json.loads(secrets_backend.backend_env(UNREACHABLE)[KWARGS_ENV]), **overrides}
    backend = SecretsManagerBackend(**kwargs)
    backend._set_connection_class(Connection)
    backend._get_secret_value = store.value  # type: ignore[method-assign]
    return backend


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def chain(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The worker's chain: the configured backend, the environment, the Execution API."""
    backends: list[Any] = [backend_on(store), EnvironmentVariablesBackend()]
    backends.append(ExecutionAPISecretsBackend())  # fails outside a task: the SDK skips it
    for backend in backends:
        backend._set_connection_class(Connection)
    monkeypatch.setattr(supervisor, "ensure_secrets_backend_loaded", lambda: backends)
    for name in (f"AIRFLOW_CONN_{CONN_API.upper()}", f"AIRFLOW_VAR_{VAR_STAGING_URI.upper()}"):
        monkeypatch.delenv(name, raising=False)
    with airflow_environment_for({"SHOPFLOW_HOME": str(tmp_path)}):
        yield backends


def test_a_missing_connection_fails_the_task_at_once_naming_its_secret(
    store: Store, chain: list[Any]
) -> None:
    with pytest.raises(AirflowFailException) as caught:
        extract.extract_interactions("2026-11-22")
    assert str(caught.value) == (
        "Airflow connection 'marketing_api' is not defined: looked up secret "
        "'shopflow/connections/marketing_api' in SecretsManagerBackend, then "
        "AIRFLOW_CONN_MARKETING_API, then the metadata DB (docs/operations.md)"
    )
    assert isinstance(caught.value.__cause__, PermanentError)
    assert store.asked[0] == "shopflow/connections/marketing_api"


def test_a_connection_in_the_backend_is_read_from_its_secret(
    store: Store, chain: list[Any]
) -> None:
    store.secrets["shopflow/connections/marketing_api"] = json.dumps(
        {"conn_type": "http", "host": "api.example.com", "schema": "https", "password": "tok-1"}
    )
    api = connections.resolve_api()
    assert (api.base_url, api.token) == ("https://api.example.com", "tok-1")


def test_a_secret_that_is_no_connection_is_permanent_and_its_value_stays_out(
    store: Store, chain: list[Any]
) -> None:
    store.secrets["shopflow/connections/marketing_api"] = '{"password": "tok-1", broken'
    with pytest.raises(PermanentError, match="is not a valid connection") as caught:
        connections.resolve_api()
    assert "shopflow/connections/marketing_api" in str(caught.value)
    assert "tok-1" not in str(caught.value) and "broken" not in str(caught.value)


def test_an_unreachable_backend_is_retried_not_failed_at_once(
    store: Store, chain: list[Any]
) -> None:
    store.failure = EndpointConnectionError(endpoint_url=UNREACHABLE)
    with pytest.raises(ShopflowError, match="EndpointConnectionError") as caught:
        extract.extract_interactions("2026-11-22")
    assert not isinstance(caught.value, PermanentError)
    assert "the task retries" in str(caught.value)


def test_a_missing_required_variable_names_its_secret(store: Store, chain: list[Any]) -> None:
    with pytest.raises(PermanentError) as caught:
        connections.resolve_staging_uri()
    message = str(caught.value)
    assert message.startswith(f"Airflow Variable {VAR_STAGING_URI} is not set (the staging area")
    assert message.endswith(
        f"looked up secret 'shopflow/variables/{VAR_STAGING_URI}' in SecretsManagerBackend, "
        f"then AIRFLOW_VAR_{VAR_STAGING_URI.upper()}, then the metadata DB (docs/operations.md)"
    )


def test_a_variable_from_the_backend_wins_over_the_environment(
    store: Store, chain: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.secrets[f"shopflow/variables/{VAR_STAGING_URI}"] = "s3://from-secrets/staging"
    monkeypatch.setenv(f"AIRFLOW_VAR_{VAR_STAGING_URI.upper()}", "/from/env")
    assert connections.resolve_staging_uri() == "s3://from-secrets/staging"


def test_an_empty_required_variable_is_permanent(store: Store, chain: list[Any]) -> None:
    store.secrets[f"shopflow/variables/{VAR_STAGING_URI}"] = ""  # the SDK returns it as is
    with pytest.raises(PermanentError, match=f"{VAR_STAGING_URI} is empty"):
        connections.resolve_staging_uri()


def test_a_backend_not_asked_for_an_id_is_left_out_of_the_message(store: Store) -> None:
    no_variables = backend_on(store, variables_prefix=None)
    only_api = backend_on(store, connections_lookup_pattern="^marketing_")
    assert secret_lookup.lookup_place(no_variables, "variable", VAR_HASH_KEY) is None
    assert secret_lookup.lookup_place(only_api, "connection", CONN_SALES) is None
    assert secret_lookup.lookup_place(only_api, "connection", CONN_API) == (
        "secret 'shopflow/connections/marketing_api' in SecretsManagerBackend"
    )


def test_without_a_backend_the_message_names_the_environment_and_the_metadata_db(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    backends = [EnvironmentVariablesBackend(), ExecutionAPISecretsBackend()]
    monkeypatch.setattr(supervisor, "ensure_secrets_backend_loaded", lambda: backends)
    error = secret_lookup.not_found("connection", CONN_SALES)
    assert isinstance(error, PermanentError)
    assert str(error) == (
        "Airflow connection 'shop_sales' is not defined: looked up AIRFLOW_CONN_SHOP_SALES, "
        "then the metadata DB (docs/operations.md)"
    )


# -- the local stack's secret names ---------------------------------------------------------


def test_env_names_map_to_the_secrets_the_backend_looks_up(store: Store) -> None:
    env = {
        f"AIRFLOW_CONN_{CONN_SALES.upper()}": '{"conn_type": "sqlite"}',
        f"AIRFLOW_VAR_{VAR_HASH_KEY.upper()}": "k",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PATH": "/bin",
    }
    assert secrets_backend.secrets_of(env) == {
        f"shopflow/connections/{CONN_SALES}": '{"conn_type": "sqlite"}',
        f"shopflow/variables/{VAR_HASH_KEY}": "k",
    }
    backend = backend_on(store)
    backend.get_conn_value(CONN_SALES)
    backend.get_variable(VAR_HASH_KEY)
    assert store.asked == [
        secrets_backend.secret_name("connection", CONN_SALES),
        secrets_backend.secret_name("variable", VAR_HASH_KEY),
    ]


@pytest.mark.parametrize("key", ["", "Shop_Sales", "a/b", "../x", "a b"])
def test_a_secret_name_needs_a_lower_case_id(key: str) -> None:
    with pytest.raises(ShopflowError, match="not a lower-case connection id"):
        secrets_backend.secret_name("connection", key)


def test_an_empty_value_is_refused_naming_the_variable_not_a_value() -> None:
    with pytest.raises(ShopflowError, match="AIRFLOW_VAR_SHOPFLOW_BUCKET is empty"):
        secrets_backend.secrets_of({"AIRFLOW_VAR_SHOPFLOW_BUCKET": ""})


def test_the_backend_settings_point_at_the_emulator_without_reading_config() -> None:
    env = secrets_backend.backend_env("http://127.0.0.1:19201")
    assert env["AIRFLOW__SECRETS__BACKEND"] == secrets_backend.BACKEND_CLASS
    kwargs = json.loads(env[KWARGS_ENV])
    assert kwargs["endpoint_url"] == "http://127.0.0.1:19201"
    assert kwargs["config_prefix"] is None
    backend = SecretsManagerBackend(**kwargs)
    assert (backend.connections_prefix, backend.variables_prefix) == (
        secrets_backend.CONNECTIONS_PREFIX,
        secrets_backend.VARIABLES_PREFIX,
    )
    assert backend.get_config("sql_alchemy_conn") is None  # asked nothing
