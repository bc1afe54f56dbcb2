"""Settings of a local stack: which stack, ports, names and the documented local secrets."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopflow.errors import ShopflowError
from shopflow.names import QUEUE_HEAVY

STACKS = ("embedded", "services")
EXECUTORS = ("local", "celery")
"""Airflow's executor on the local stack: LocalExecutor, or CeleryExecutor with two workers."""
CELERY_WORKERS = 2
WORKER_CONCURRENCY = 2
"""Task slots per Celery worker (two workers of two on a 2-core machine)."""
WORKER_PREFIX = "airflow-worker-"
"""Process names of the Celery stack's workers (``airflow-worker-1``, ...)."""
DEFAULT_QUEUE = "default"
"""Airflow's ``[operators] default_queue``: every task not routed elsewhere."""

# Local-demo secrets. They protect nothing but throwaway local data and are
# documented in the README; production values come from Airflow connections
# and variables, never from code.
LOCAL_API_TOKEN = "shopflow-local-token"  # noqa: S105
LOCAL_HASH_KEY = "shopflow-local-hash-key"


def _env_int(name: str, default: int, what: str = "a port number") -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ShopflowError(f"{name} must be {what}, got {raw!r}") from None


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
    redis: int = field(default_factory=lambda: _env_int("SHOPFLOW_REDIS_PORT", 6379))
    """The machine's Redis, the Celery broker when it answers."""
    own_redis: int = field(default_factory=lambda: _env_int("SHOPFLOW_OWN_REDIS_PORT", 18079))
    """Where the stack starts its own ``redis-server`` when the machine's is absent."""

    def validate(self) -> None:
        """Reject ports outside 1..65535 and stand-ins sharing a port."""
        own = {"api": self.api, "s3": self.s3, "dynamodb": self.dynamodb, "smtp": self.smtp,
               "airflow": self.airflow, "own-redis": self.own_redis}  # fmt: skip
        servers = {"mysql": self.mysql, "postgres": self.postgres, "redis": self.redis}
        for name, port in {**own, **servers}.items():
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
    executor: str = "local"
    airflow_database: str = "shopflow_airflow"
    """The Celery stack's Airflow metadata database on the local Postgres."""
    redis_db: int = field(default_factory=lambda: _env_int("SHOPFLOW_REDIS_DB", 5, "a number"))
    """The Celery broker's Redis database number."""

    def __post_init__(self) -> None:
        if self.stack not in STACKS:
            raise ShopflowError(f"unknown stack {self.stack!r}; choose one of {', '.join(STACKS)}")
        if self.executor not in EXECUTORS:
            raise ShopflowError(
                f"unknown executor {self.executor!r}; choose one of {', '.join(EXECUTORS)}"
            )
        if not 0 <= self.redis_db <= 15:
            raise ShopflowError(f"the Redis database number must be in 0..15, got {self.redis_db}")
        self.ports.validate()
        require_shared_staging(self.executor, self.staging_uri, self.warehouse_url)

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

    @property
    def airflow_db_url(self) -> str | None:
        """SQLAlchemy URL of the Celery stack's metadata DB (psycopg 3); None: SQLite."""
        if self.executor != "celery":
            return None
        port, database = self.ports.postgres, self.airflow_database
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"

    @property
    def celery_workers(self) -> list[dict[str, Any]]:
        """The Celery stack's workers: name, process name, host name, queues, log directory."""
        if self.executor != "celery":
            return []
        host = socket.gethostname()
        return [
            {
                "name": f"worker-{n}",
                "process": f"{WORKER_PREFIX}{n}",
                "hostname": f"worker-{n}@{host}",
                "queues": [DEFAULT_QUEUE, QUEUE_HEAVY],
                "concurrency": WORKER_CONCURRENCY,
                "log_dir": str(self.home / "airflow" / "worker-logs" / f"worker-{n}"),
            }
            for n in range(1, CELERY_WORKERS + 1)
        ]


def require_shared_staging(executor: str, staging_uri: str, warehouse_url: str) -> None:
    """Refuse Celery with a local staging directory or a DuckDB file: workers do not share them."""
    if executor != "celery":
        return
    if not staging_uri.startswith("s3://") or warehouse_url.startswith("duckdb:"):
        raise ShopflowError(
            "the Celery executor needs staging and a warehouse that every worker reaches: "
            f"staging {staging_uri} and the warehouse {warehouse_url} are local files that "
            "are not shared between workers; use --stack services (S3 staging, Postgres)"
        )
