"""Airflow connections and variables for a local stack, as ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*``.

The same DAG runs on the embedded stack, the services stack and production:
only these connections differ. Production sets them in its secrets backend.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shopflow.names import (
    CONN_API,
    CONN_AWS,
    CONN_SALES,
    CONN_SMTP,
    CONN_WAREHOUSE,
    DEFAULT_ALERT_EMAILS,
    VAR_ALERT_EMAILS,
    VAR_BUCKET,
    VAR_HASH_KEY,
    VAR_STAGING_URI,
)


def _sales(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"conn_type": "sqlite", "host": parts.path, "extra": {"url": url}}
    return {
        "conn_type": "mysql",
        "host": parts.hostname,
        "port": parts.port or 3306,
        "login": parts.username or "root",
        "password": parts.password or "",
        "schema": parts.path.lstrip("/"),
    }


def warehouse_connection(url: str) -> dict[str, Any]:
    """The Airflow connection (JSON form) of ``duckdb:///file`` or ``postgresql://...``."""
    parts = urlsplit(url)
    if parts.scheme == "duckdb":
        return {"conn_type": "duckdb", "host": parts.path}
    return {
        "conn_type": "postgres",
        "host": parts.hostname,
        "port": parts.port or 5432,
        "login": parts.username or "postgres",
        "password": parts.password or "",
        "schema": parts.path.lstrip("/"),
    }


def airflow_environment(info: dict[str, Any]) -> dict[str, str]:
    """Environment variables that give Airflow every connection and variable of the stack."""
    api = urlsplit(info["api_url"])
    aws_extra = {
        "region_name": "us-east-1",
        "endpoint_url": info["aws_endpoint"],
        "service_config": {
            "s3": {"endpoint_url": info["aws_endpoint"]},
            "dynamodb": {"endpoint_url": info["dynamodb_endpoint"]},
        },
        "bucket": info["bucket"],
        "products_table": info["products_table"],
    }
    smtp = urlsplit(info["smtp_url"])
    conns: dict[str, dict[str, Any]] = {
        CONN_SALES: _sales(info["sales_url"]),
        CONN_API: {
            "conn_type": "http",
            "host": api.hostname,
            "port": api.port,
            "schema": api.scheme,
            "password": info["api_token"],
        },
        CONN_AWS: {"conn_type": "aws", "login": "test", "password": "test", "extra": aws_extra},
        CONN_WAREHOUSE: warehouse_connection(info["warehouse_url"]),
        CONN_SMTP: {
            "conn_type": "smtp",
            "host": smtp.hostname,
            "port": smtp.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "shopflow@localhost"},
        },
    }
    env = {f"AIRFLOW_CONN_{cid.upper()}": json.dumps(conn) for cid, conn in conns.items()}
    env[f"AIRFLOW_VAR_{VAR_HASH_KEY.upper()}"] = info["hash_key"]
    env[f"AIRFLOW_VAR_{VAR_STAGING_URI.upper()}"] = info["staging_uri"]
    env[f"AIRFLOW_VAR_{VAR_BUCKET.upper()}"] = info["bucket"]
    env[f"AIRFLOW_VAR_{VAR_ALERT_EMAILS.upper()}"] = DEFAULT_ALERT_EMAILS
    return env


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """Write env as a shell-sourceable file readable by its owner only."""
    lines = [f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items())]
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")
