"""boto3 clients of the emulators, made once per (service, endpoint): clients are
thread-safe and costly to create."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from shopflow_local.devstack.aws_emulator import aws_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


@lru_cache(maxsize=8)
def s3_client(endpoint: str) -> S3Client:
    """The shared S3 client of an endpoint."""
    return aws_client("s3", endpoint)


@lru_cache(maxsize=8)
def dynamodb_client(endpoint: str) -> DynamoDBClient:
    """The shared DynamoDB client of an endpoint."""
    return aws_client("dynamodb", endpoint)
