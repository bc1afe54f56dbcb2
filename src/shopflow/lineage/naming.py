"""OpenLineage dataset names of the sources, the staging area and the warehouse.

Namespaces follow the OpenLineage naming conventions and what the Airflow providers
emit for the same systems: ``mysql://host:port`` + ``db.table``,
``postgres://host:port`` + ``db.schema.table``, ``redshift://cluster.region:port`` +
``db.schema.table``, ``s3://bucket`` + key, ``file`` + absolute path. Where the
conventions name nothing (DuckDB, SQLite, DynamoDB, an HTTP API) the namespace is
``duckdb://<file>`` (as the dbt integration writes it), ``sqlite://<file>``,
``dynamodb://<endpoint host>`` and ``<scheme>://host:port`` of the API.

Only connection fields that locate data are read (type, host, port, schema, a few
extras): never login, password, token or a URL's user part.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import PurePosixPath
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from shopflow.errors import ShopflowError

DEFAULT_PORTS = {"mysql": 3306, "postgres": 5432, "redshift": 5439}
_REDSHIFT_HOST = re.compile(
    r"^(?P<cluster>[^.]+)\.[^.]+\.(?P<region>[a-z0-9-]+)\.redshift(-serverless)?\.amazonaws\.com$"
)


class DatasetName(NamedTuple):
    """An OpenLineage dataset identity."""

    namespace: str
    name: str


def _extra(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson
    return extra if isinstance(extra, dict) else {}


def _authority(host: str, port: int | None) -> str:
    return f"{host}:{port}" if port else host


# -- S1 sales database ------------------------------------------------------------------


def sales_namespace(conn: Any) -> tuple[str, str]:
    """(namespace, name prefix) of the sales database: ``mysql://h:p`` + ``db.``, or SQLite."""
    conn_type = (conn.conn_type or "").lower()
    url = urlsplit(str(_extra(conn).get("url") or ""))
    if conn_type == "sqlite" or url.scheme == "sqlite":
        path = url.path if url.scheme == "sqlite" else (conn.host or conn.schema or "")
        if not path:
            raise ShopflowError("shop_sales: sqlite needs the database file as host")
        return f"sqlite://{path}", ""
    if conn_type in {"mysql", "mariadb"}:
        host = url.hostname or conn.host
        database = url.path.lstrip("/") if url.scheme else conn.schema
        if not host or not database:
            raise ShopflowError("shop_sales: mysql needs host and schema (the database)")
        port = url.port or conn.port or DEFAULT_PORTS["mysql"]
        return f"mysql://{_authority(host, port)}", f"{database}."
    raise ShopflowError(f"shop_sales: unsupported conn_type {conn.conn_type!r}: mysql or sqlite")


def sales_tables(conn: Any, tables: tuple[str, ...]) -> list[DatasetName]:
    """The sales tables as datasets."""
    namespace, prefix = sales_namespace(conn)
    return [DatasetName(namespace, f"{prefix}{table}") for table in tables]


# -- S2 marketing API -------------------------------------------------------------------


def api_endpoint(base_url: str, path: str) -> DatasetName:
    """An HTTP endpoint: namespace ``scheme://host:port``, name the path (no query, no user)."""
    parts = urlsplit(base_url)
    if not parts.hostname:
        raise ShopflowError(f"marketing_api: no host in {parts.scheme}://…")
    base_path = parts.path.rstrip("/")
    return DatasetName(
        f"{parts.scheme or 'https'}://{_authority(parts.hostname, parts.port)}",
        f"{base_path}{path}",
    )


# -- S3 catalog, S4 clickstream ------------------------------------------------------------


def dynamodb_table(region: str, endpoint: str | None, table: str) -> DatasetName:
    """A DynamoDB table: ``dynamodb://<endpoint host:port>`` (the AWS one by default)."""
    if endpoint:
        parts = urlsplit(endpoint)
        authority = _authority(parts.hostname or "", parts.port)
    else:
        authority = f"dynamodb.{region}.amazonaws.com"
    return DatasetName(f"dynamodb://{authority}", table)


def s3_object(bucket: str, key: str) -> DatasetName:
    """An S3 object or prefix: ``s3://bucket`` + key."""
    return DatasetName(f"s3://{bucket}", key.strip("/") or "/")


# -- staging ------------------------------------------------------------------------------


def staging_location(staging_uri: str, key: str) -> DatasetName:
    """A key under the staging area (``/dir``, ``file:///dir`` or ``s3://bucket/prefix``)."""
    parts = urlsplit(staging_uri)
    if parts.scheme == "s3":
        return s3_object(parts.netloc, f"{parts.path.strip('/')}/{key}")
    root = parts.path if parts.scheme == "file" else staging_uri
    return DatasetName("file", str(PurePosixPath(root) / key.strip("/")))


def staging_partition(staging_uri: str, source: str, day: date) -> DatasetName:
    """``raw/<source>/dt=D`` of the staging area (the layout of shopflow.staging)."""
    return staging_location(staging_uri, f"raw/{source}/dt={day.isoformat()}")


# -- warehouse ------------------------------------------------------------------------------


def _redshift_authority(host: str, port: int) -> str:
    """``cluster.region:port`` from an endpoint host (as the amazon provider does), else host."""
    match = _REDSHIFT_HOST.match(host)
    if match:
        return f"{match['cluster']}.{match['region']}:{port}"
    return f"{host}:{port}"


def warehouse_database(conn: Any) -> tuple[str, str]:
    """(namespace, database) of the warehouse connection (duckdb, postgres or redshift)."""
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "duckdb":
        path = conn.host or ""
        if not path:
            raise ShopflowError("shop_warehouse: duckdb needs the database file as host")
        return f"duckdb://{path}", PurePosixPath(path).stem  # DuckDB names a file's catalog so
    if conn_type in {"postgres", "redshift"}:
        if not conn.host or not conn.schema:
            raise ShopflowError(f"shop_warehouse: {conn_type} needs host and schema (the database)")
        port = int(conn.port or DEFAULT_PORTS[conn_type])
        if conn_type == "redshift":
            return f"redshift://{_redshift_authority(conn.host, port)}", conn.schema
        return f"postgres://{conn.host}:{port}", conn.schema
    raise ShopflowError(
        f"shop_warehouse: unsupported conn_type {conn.conn_type!r}: duckdb, postgres or redshift"
    )


def warehouse_table(conn: Any, qualified: str) -> DatasetName:
    """``schema.table`` of the warehouse as a dataset: ``<database>.<schema>.<table>``."""
    namespace, database = warehouse_database(conn)
    return DatasetName(namespace, f"{database}.{qualified}")


def asset_uri(dataset: DatasetName) -> str:
    """The Airflow asset URI of a warehouse table: namespace + ``/db/schema/table``.

    For Postgres and Redshift it is the form the providers' asset handlers accept
    and translate back into the same OpenLineage dataset.
    """
    return f"{dataset.namespace}/{dataset.name.replace('.', '/')}"
