"""Airflow connections and variables, resolved at task run time into client settings.

``shop_sales`` (mysql or sqlite), ``marketing_api`` (http, password = bearer token),
``shop_aws`` (aws: login/password = key pair, extra ``region_name``, ``endpoint_url``,
``service_config.{s3,dynamodb}.endpoint_url``, ``bucket``, ``products_table``) and the
variables ``shopflow_staging_uri`` and ``shopflow_bucket``. The objects returned here
hold secrets: their ``repr`` hides them, and nothing in this module logs them.

A missing connection or required variable is a ``PermanentError`` (the task fails at
once) that names every place the Task SDK looked, in its order: a configured secrets
backend (e.g. ``secret 'shopflow/connections/marketing_api' in SecretsManagerBackend``),
then ``AIRFLOW_CONN_<ID>``/``AIRFLOW_VAR_<KEY>``, then the metadata DB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shopflow.aws import DEFAULT_REGION, boto3_client
from shopflow.errors import PermanentError, ShopflowError
from shopflow.names import CONN_API, CONN_AWS, CONN_SALES, VAR_BUCKET, VAR_STAGING_URI
from shopflow.staging import Staging
from shopflow.tasks.secret_lookup import DOCS, not_found

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


def get_connection(conn_id: str) -> Any:
    """The Airflow connection (Task SDK); a missing one is a ``PermanentError`` naming it."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        raise not_found("connection", conn_id) from None


def get_variable(key: str, default: str | None = None) -> str | None:
    """An Airflow variable, or default when it is not set."""
    from airflow.sdk import Variable

    value = Variable.get(key, default=default)
    return None if value is None else str(value)


_SIZE = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


def size_variable(key: str) -> str | None:
    """A variable holding a memory size such as ``1.5GB``; None when unset or empty.

    A value that is not a size is a ``PermanentError`` naming the variable.
    """
    value = (get_variable(key) or "").strip()
    if not value:
        return None
    if not _SIZE.match(value):
        raise PermanentError(
            f"Airflow Variable {key} must be a size such as 1.5GB or 800MB, got {value!r}"
        )
    return value


def require_variable(key: str, what: str) -> str:
    """A variable that must be set and not empty; else a ``PermanentError`` naming it."""
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType

    try:
        value = str(Variable.get(key))
    except AirflowRuntimeError as exc:
        if exc.error.error != ErrorType.VARIABLE_NOT_FOUND:
            raise
        raise not_found("variable", key, what) from None
    if not value:
        raise PermanentError(f"Airflow Variable {key} is empty: {what} ({DOCS})")
    return value


def _extra(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson
    return extra if isinstance(extra, dict) else {}


# -- sales ----------------------------------------------------------------------------


def sales_url(conn: Any) -> str:
    """connectorx URL of the sales database: ``extra.url``, else built from the fields."""
    extra = _extra(conn)
    if extra.get("url"):
        return str(extra["url"])
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        path = conn.host or conn.schema or ""
        if not path.startswith("/"):
            raise ShopflowError(f"{CONN_SALES}: sqlite needs an absolute path as host")
        return f"sqlite://{path}"
    if conn_type in {"mysql", "mariadb"}:
        if not conn.host or not conn.schema:
            raise ShopflowError(f"{CONN_SALES}: mysql needs host and schema (the database)")
        auth = quote(conn.login or "root", safe="")
        if conn.password:
            auth += ":" + quote(conn.password, safe="")
        return f"mysql://{auth}@{conn.host}:{conn.port or 3306}/{quote(conn.schema, safe='')}"
    raise ShopflowError(f"{CONN_SALES}: unsupported conn_type {conn.conn_type!r}: mysql or sqlite")


# -- marketing API --------------------------------------------------------------------


@dataclass(frozen=True)
class ApiSettings:
    """Base URL and bearer token of the marketing API."""

    base_url: str
    token: str = field(repr=False)


def api_settings(conn: Any) -> ApiSettings:
    """From an http connection: host, port, schema (http/https), password = token."""
    host = conn.host or ""
    if not host:
        raise ShopflowError(f"{CONN_API}: no host")
    if "://" in host:
        base = host.rstrip("/")
    else:
        scheme = conn.schema or "http"
        base = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    if not conn.password:
        raise ShopflowError(f"{CONN_API}: no token (the connection's password)")
    return ApiSettings(base_url=base, token=conn.password)


# -- AWS ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsSettings:
    """Region, per-service endpoints and credentials of ``shop_aws``; builds boto3 clients."""

    region: str
    s3_endpoint: str | None
    dynamodb_endpoint: str | None
    bucket: str | None
    products_table: str
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)

    def _client(self, service: str, endpoint: str | None, pool: int) -> Any:
        return boto3_client(
            service,
            endpoint_url=endpoint,
            region=self.region,
            access_key=self.access_key,
            secret_key=self.secret_key,
            pool=pool,
        )

    def s3(self) -> S3Client:
        """An S3 client (path-style when an endpoint is set)."""
        client: S3Client = self._client("s3", self.s3_endpoint, 16)
        return client

    def dynamodb(self, pool: int = 16) -> DynamoDBClient:
        """A DynamoDB client with `pool` connections (for parallel scans)."""
        client: DynamoDBClient = self._client("dynamodb", self.dynamodb_endpoint, pool)
        return client

    def require_bucket(self) -> str:
        """The clickstream bucket, or a clear error."""
        if not self.bucket:
            raise ShopflowError(
                f"no bucket: set extra.bucket on {CONN_AWS} or the variable {VAR_BUCKET}"
            )
        return self.bucket


def aws_settings(conn: Any, bucket_variable: str | None = None) -> AwsSettings:
    """From an aws connection; the bucket from ``extra.bucket`` or the given variable value."""
    extra = _extra(conn)
    services = extra.get("service_config") or {}
    default_endpoint = extra.get("endpoint_url") or None

    def endpoint(service: str) -> str | None:
        own = (services.get(service) or {}).get("endpoint_url")
        return str(own) if own else default_endpoint

    return AwsSettings(
        region=str(extra.get("region_name") or DEFAULT_REGION),
        s3_endpoint=endpoint("s3"),
        dynamodb_endpoint=endpoint("dynamodb"),
        bucket=str(extra.get("bucket") or bucket_variable or "") or None,
        products_table=str(extra.get("products_table") or "products"),
        access_key=conn.login or None,
        secret_key=conn.password or None,
    )


# -- resolved at run time ---------------------------------------------------------------


def resolve_sales_url() -> str:
    """The connectorx URL of ``shop_sales`` (it holds the password: never log it)."""
    return sales_url(get_connection(CONN_SALES))


def resolve_api() -> ApiSettings:
    """Settings of ``marketing_api``."""
    return api_settings(get_connection(CONN_API))


def resolve_aws() -> AwsSettings:
    """Settings of ``shop_aws``, the bucket falling back to the variable."""
    conn = get_connection(CONN_AWS)
    bucket = None if _extra(conn).get("bucket") else get_variable(VAR_BUCKET)
    return aws_settings(conn, bucket)


def resolve_staging_uri() -> str:
    """Variable ``shopflow_staging_uri``: an absolute directory or ``s3://bucket/prefix``."""
    return require_variable(
        VAR_STAGING_URI, "the staging area, an absolute directory or s3://bucket/prefix"
    )


def resolve_staging(aws: AwsSettings | None = None) -> Staging:
    """The staging area; an ``s3://`` one uses the ``shop_aws`` credentials and endpoint."""
    uri = resolve_staging_uri()
    if uri.startswith("s3://"):
        return Staging.from_uri(uri, s3=(aws or resolve_aws()).s3())
    return Staging.from_uri(uri)
