"""Connections and variables in AWS Secrets Manager, served locally by the AWS emulator.

Airflow reads them through the Amazon provider's ``SecretsManagerBackend``: connection
``<id>`` is the secret ``shopflow/connections/<id>`` (Airflow's connection JSON, or a
URI), variable ``<key>`` the secret ``shopflow/variables/<key>`` (the plain value). Ids
and keys are lower case, as the DAG uses them: ``AIRFLOW_CONN_SHOP_SALES`` becomes
``shopflow/connections/shop_sales``. ``backend_env`` configures ``[secrets] backend``;
the Task SDK's worker processes (tasks, the DAG processor's callbacks) fall back to it
when ``[workers] secrets_backend`` is unset, the API server and the scheduler read it
directly. The emulator's key pair ``test``/``test`` guards nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from shopflow.aws import DEFAULT_REGION
from shopflow.errors import ShopflowError
from shopflow_local.devstack.aws_emulator import EMULATOR_KEY, aws_client

BACKEND_CLASS = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
CONNECTIONS_PREFIX = "shopflow/connections"
VARIABLES_PREFIX = "shopflow/variables"
SEPARATOR = "/"
"""The backend's ``sep`` (its default): secret name = prefix + sep + id."""

Kind = Literal["connection", "variable"]
_PREFIXES: dict[Kind, str] = {"connection": CONNECTIONS_PREFIX, "variable": VARIABLES_PREFIX}
_ENV_PREFIXES: dict[str, Kind] = {"AIRFLOW_CONN_": "connection", "AIRFLOW_VAR_": "variable"}
_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def secret_name(kind: Kind, key: str) -> str:
    """The secret that holds connection id / variable key ``key``."""
    if kind not in _PREFIXES:
        raise ShopflowError(f"unknown secret kind {kind!r}: connection or variable")
    if not _KEY.fullmatch(key):
        raise ShopflowError(f"not a lower-case {kind} id: {key!r} (letters, digits, _ . -)")
    return f"{_PREFIXES[kind]}{SEPARATOR}{key}"


def backend_kwargs(aws_endpoint: str) -> dict[str, Any]:
    """``SecretsManagerBackend`` arguments: the prefixes, and boto3 settings for the emulator."""
    return {
        "connections_prefix": CONNECTIONS_PREFIX,
        "variables_prefix": VARIABLES_PREFIX,
        "config_prefix": None,  # Airflow's own configuration is not read from Secrets Manager
        "sep": SEPARATOR,
        "endpoint_url": aws_endpoint,
        "region_name": DEFAULT_REGION,
        "aws_access_key_id": EMULATOR_KEY,
        "aws_secret_access_key": EMULATOR_KEY,
    }


def backend_env(aws_endpoint: str) -> dict[str, str]:
    """Airflow settings that make every process resolve through Secrets Manager at aws_endpoint.

    Set in the environment of the API server, scheduler, DAG processor, triggerer and
    workers. Lookup order then: this backend, ``AIRFLOW_CONN_*``/``AIRFLOW_VAR_*``, the
    metadata DB.
    """
    return {
        "AIRFLOW__SECRETS__BACKEND": BACKEND_CLASS,
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(backend_kwargs(aws_endpoint)),
    }


def secrets_of(env: Mapping[str, str]) -> dict[str, str]:
    """Secret name -> value for every ``AIRFLOW_CONN_<ID>`` and ``AIRFLOW_VAR_<KEY>`` of env."""
    found: dict[str, str] = {}
    for env_name, value in env.items():
        for env_prefix, kind in _ENV_PREFIXES.items():
            if env_name.startswith(env_prefix):
                name = secret_name(kind, env_name[len(env_prefix) :].lower())
                if not value:
                    raise ShopflowError(
                        f"{env_name} is empty: Secrets Manager stores no empty secret; unset it"
                    )
                found[name] = value
    return found


def seed(aws_endpoint: str, env: Mapping[str, str]) -> list[str]:
    """Store the connections and variables of env as secrets (create, or a new version).

    Idempotent; a secret scheduled for deletion is restored first. Returns the secret
    names, sorted (never the values).
    """
    client = aws_client("secretsmanager", aws_endpoint)
    secrets = secrets_of(env)
    for name in sorted(secrets):
        _put(client, name, secrets[name])
    return sorted(secrets)


def delete(aws_endpoint: str, name: str) -> bool:
    """Delete a secret at once (no recovery window); False when there was none."""
    client = aws_client("secretsmanager", aws_endpoint)
    try:
        client.describe_secret(SecretId=name)
    except client.exceptions.ResourceNotFoundException:
        return False
    client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    return True


def _put(client: Any, name: str, value: str) -> None:
    try:
        client.create_secret(Name=name, SecretString=value)
        return
    except client.exceptions.ResourceExistsException:
        pass
    if client.describe_secret(SecretId=name).get("DeletedDate"):
        client.restore_secret(SecretId=name)
    client.put_secret_value(SecretId=name, SecretString=value)
