"""Settings of a local stack: which stack, ports, names and the documented local secrets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from shopflow.errors import ShopflowError

STACKS = ("embedded", "services")

# Local-demo secrets. They protect nothing but throwaway local data and are
# documented in the README; production values come from Airflow connections
# and variables, never from code.
LOCAL_API_TOKEN = "shopflow-local-token"  # noqa: S105
LOCAL_HASH_KEY = "shopflow-local-hash-key"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ShopflowError(f"{name} must be a port number, got {raw!r}") from None


@dataclass(frozen=True)
class Ports:
    """TCP ports of the stand-ins; each can be overridden by flag or environment."""

    api: int = field(default_factory=lambda: _env_int("SHOPFLOW_API_PORT", 18080))
    s3: int = field(default_factory=lambda: _env_int("SHOPFLOW_S3_PORT", 18081))
    dynamodb: int = field(default_factory=lambda: _env_int("SHOPFLOW_DYNAMODB_PORT", 18082))
    smtp: int = field(default_factory=lambda: _env_int("SHOPFLOW_SMTP_PORT", 18025))
    airflow: int = field(default_factory=lambda: _env_int("SHOPFLOW_AIRFLOW_PORT", 18090))
    mysql: int = field(default_factory=lambda: _env_int("SHOPFLOW_MYSQL_PORT", 3306))
    postgres: int = field(default_factory=lambda: _env_int("SHOPFLOW_POSTGRES_PORT", 5432))

    def validate(self) -> None:
        """Reject ports outside 1..65535 and stand-ins sharing a port."""
        own = {"api": self.api, "s3": self.s3, "dynamodb": self.dynamodb, "smtp": self.smtp,
               "airflow": self.airflow}  # fmt: skip
        for name, port in {**own, "mysql": self.mysql, "postgres": self.postgres}.items():
            if not 0 < port < 65536:
                raise ShopflowError(f"--{name}-port must be within 1..65535, got {port}")
        if len(set(own.values())) != len(own):
            raise ShopflowError(f"the stand-ins need distinct ports, got {own}")


@dataclass(frozen=True)
class StackConfig:
    """Everything `devstack up` needs to know."""

    home: Path
    stack: str = "embedded"
    ports: Ports = field(default_factory=Ports)
    bucket: str = "shopflow-local"
    products_table: str = "products"
    api_token: str = LOCAL_API_TOKEN
    hash_key: str = LOCAL_HASH_KEY
    mysql_database: str = "shop"
    postgres_database: str = "shopflow"

    def __post_init__(self) -> None:
        if self.stack not in STACKS:
            raise ShopflowError(f"unknown stack {self.stack!r}; choose one of {', '.join(STACKS)}")
        self.ports.validate()

    @property
    def run_dir(self) -> Path:
        """Pid files and logs of the background processes."""
        return self.home / "run"

    @property
    def api_data_dir(self) -> Path:
        """Where the generator writes what the marketing API serves."""
        return self.home / "marketing"

    @property
    def mailbox(self) -> Path:
        """Where the SMTP sink stores messages."""
        return self.home / "mailbox"

    @property
    def sales_url(self) -> str:
        """connectorx-style URL of the sales database."""
        if self.stack == "embedded":
            return f"sqlite://{self.home / 'sales.sqlite'}"
        return f"mysql://root@127.0.0.1:{self.ports.mysql}/{self.mysql_database}"

    @property
    def warehouse_url(self) -> str:
        """URL of the warehouse: a DuckDB file or the local Postgres."""
        if self.stack == "embedded":
            return f"duckdb://{self.home / 'warehouse.duckdb'}"
        return f"postgresql://postgres@127.0.0.1:{self.ports.postgres}/{self.postgres_database}"

    @property
    def staging_uri(self) -> str:
        """Staging: a local directory (embedded) or the bucket (services)."""
        if self.stack == "embedded":
            return str(self.home / "staging")
        return f"s3://{self.bucket}/staging"
