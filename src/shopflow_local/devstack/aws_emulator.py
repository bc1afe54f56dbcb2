"""Local AWS stand-ins: moto serves S3, dynalite serves DynamoDB (see docs/adr/0002).

Each emulator runs detached (it outlives the caller) under a name in ``run_dir``:
``s3`` and ``dynamodb``, with ``<name>.pid`` and ``<name>.log``. State is in memory.
"""

from __future__ import annotations

import http.client
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from shopflow.aws import boto3_client
from shopflow.errors import ShopflowError
from shopflow_local.devstack.aws import dynalite
from shopflow_local.devstack.process import (
    port_open,
    python_module,
    start_background,
    stop_background,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

HOST = "127.0.0.1"
S3_NAME = "s3"
DYNAMODB_NAME = "dynamodb"
NAMES = (S3_NAME, DYNAMODB_NAME)
DynamoDBEngine = Literal["dynalite", "moto"]

EMULATOR_KEY = "test"


def endpoint_url(port: int) -> str:
    """The HTTP endpoint of an emulator on this machine."""
    return f"http://{HOST}:{port}"


def start_s3(port: int, run_dir: Path, *, timeout: float = 60.0) -> str:
    """Start moto's server for S3 on port; return its endpoint URL."""
    argv = python_module("moto.server", "--host", HOST, "--port", str(port))
    return _start(S3_NAME, "S3 emulator (moto)", argv, port, run_dir, timeout)


def start_dynamodb(
    port: int,
    run_dir: Path,
    home: Path,
    *,
    engine: DynamoDBEngine = "dynalite",
    timeout: float = 60.0,
) -> str:
    """Start the DynamoDB emulator on port (dynalite, installed under home/node); return its URL."""
    if engine == "dynalite":
        _check_port_free(port, "DynamoDB emulator (dynalite)")
        cli = dynalite.ensure_installed(home / "node")
        argv = dynalite.command(cli, host=HOST, port=port)
    else:
        argv = python_module("moto.server", "--host", HOST, "--port", str(port))
    return _start(DYNAMODB_NAME, f"DynamoDB emulator ({engine})", argv, port, run_dir, timeout)


def stop_all(run_dir: Path) -> list[str]:
    """Stop the emulators recorded in run_dir; return the names of those that ran."""
    return [name for name in NAMES if stop_background(name, run_dir=run_dir)]


def healthy(endpoint: str, timeout: float = 5.0) -> bool:
    """True when an HTTP server answers at endpoint without a server error."""
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or parts.hostname is None:
        raise ShopflowError(f"not an http endpoint: {endpoint}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@overload
def aws_client(service: Literal["s3"], endpoint_url: str) -> S3Client: ...
@overload
def aws_client(service: Literal["dynamodb"], endpoint_url: str) -> DynamoDBClient: ...
@overload
def aws_client(service: str, endpoint_url: str) -> Any: ...
def aws_client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for an emulator: dummy credentials, us-east-1, standard retries."""
    return boto3_client(
        service,
        endpoint_url=endpoint_url,
        access_key=EMULATOR_KEY,
        secret_key=EMULATOR_KEY,
        connect_timeout=5,
        read_timeout=120,
    )


def ensure_bucket(s3_endpoint: str, bucket: str) -> None:
    """Create bucket unless it exists."""
    s3 = aws_client("s3", s3_endpoint)
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if _error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        if _error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise


def ensure_products_table(dynamodb_endpoint: str, table: str = "products") -> None:
    """Create the catalog table (hash key product_id S, on demand) unless it exists; wait ACTIVE."""
    ddb = aws_client("dynamodb", dynamodb_endpoint)
    try:
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "product_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "product_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if _error_code(exc) not in {"ResourceInUseException", "TableAlreadyExistsException"}:
            raise
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
    keys = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
    if keys != [{"AttributeName": "product_id", "KeyType": "HASH"}]:
        raise ShopflowError(f"table {table} exists with another key schema: {keys}")


def _start(name: str, label: str, argv: list[str], port: int, run_dir: Path, timeout: float) -> str:
    _check_port_free(port, label)
    pid = start_background(name, argv, run_dir=run_dir)
    deadline = time.monotonic() + timeout
    while not port_open(port, HOST):
        if _exited(pid) or time.monotonic() > deadline:
            stop_background(name, run_dir=run_dir)
            raise ShopflowError(f"{label} did not start on port {port}; see {run_dir / name}.log")
        time.sleep(0.05)
    return endpoint_url(port)


def _check_port_free(port: int, label: str) -> None:
    if port_open(port, HOST):
        raise ShopflowError(f"port {port} is already in use; cannot start the {label} there")


def _exited(pid: int) -> bool:
    """True when our child pid has ended (reaping it), or when no such process exists."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
