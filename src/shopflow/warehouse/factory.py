"""The one switch between warehouses: an Airflow connection's type, or a URL (CLI, tests)."""

from __future__ import annotations

from urllib.parse import urlsplit

from shopflow.errors import ShopflowError
from shopflow.names import CONN_WAREHOUSE
from shopflow.warehouse.base import Warehouse


def warehouse_from_connection(conn_id: str = CONN_WAREHOUSE) -> Warehouse:
    """The warehouse behind an Airflow connection of type duckdb, postgres or redshift.

    A connection that is not defined fails at once, naming where it was looked for.
    """
    from shopflow.tasks.connections import get_connection

    conn_type = get_connection(conn_id).conn_type
    if conn_type == "duckdb":
        from shopflow.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse.from_airflow(conn_id)
    if conn_type == "postgres":
        from shopflow.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse.from_airflow(conn_id)
    if conn_type == "redshift":
        from shopflow.warehouse.redshift import RedshiftWarehouse

        return RedshiftWarehouse.from_airflow(conn_id)
    raise ShopflowError(
        f"connection {conn_id!r} has type {conn_type!r}; the warehouse needs duckdb, "
        "postgres or redshift"
    )


def warehouse_from_url(url: str) -> Warehouse:
    """``duckdb:///path/file.duckdb`` or ``postgresql://user@host:port/db``."""
    scheme = urlsplit(url).scheme
    if scheme == "duckdb":
        from shopflow.warehouse.duckdb import DuckDBWarehouse

        path = urlsplit(url).path
        if not path:
            raise ShopflowError("a duckdb warehouse URL needs a file: duckdb:///path/file.duckdb")
        return DuckDBWarehouse(path)
    if scheme in ("postgresql", "postgres"):
        from shopflow.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(url)
    raise ShopflowError(
        f"unsupported warehouse URL scheme {scheme!r}: use duckdb:///path/file.duckdb or "
        "postgresql://user@host:port/db (Redshift needs an Airflow connection)"
    )
