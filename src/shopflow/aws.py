"""The one factory of boto3 clients: the pipeline's, the staging area's and the local emulators'."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

DEFAULT_REGION = "us-east-1"
_SESSION_LOCK = threading.Lock()
"""boto3 sessions are not thread-safe while they create clients (the clients are)."""


@cache
def _session() -> Any:
    """One boto3 session per process: it loads botocore's service models once, not per client."""
    import boto3

    return boto3.session.Session()


def boto3_client(
    service: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    pool: int = 16,
    connect_timeout: float = 60,
    read_timeout: float = 60,
) -> Any:
    """A client of service with standard retries; S3 path-style when an endpoint is given.

    Without a key pair the default credential chain applies (instance role, env, profile).
    """
    from botocore.config import Config

    config = Config(
        region_name=region or DEFAULT_REGION,
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=pool,
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    credentials: dict[str, str] = {}
    if access_key and secret_key:
        credentials = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
    with _SESSION_LOCK:
        return _session().client(
            service,
            endpoint_url=endpoint_url,
            config=config,
            **credentials,
        )
