"""The database servers of the services stack: reachability and the databases shopflow uses."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from shopflow.errors import ShopflowError
from shopflow_local.devstack.config import StackConfig
from shopflow_local.devstack.process import port_open


def _require(name: str, port: int, flag: str) -> None:
    if not port_open(port):
        raise ShopflowError(
            f"{name} is not running on 127.0.0.1:{port}; start it or point {flag} at it"
        )


def create_mysql_database(port: int, database: str) -> None:
    """CREATE DATABASE IF NOT EXISTS on the local MariaDB/MySQL as root."""
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(f"create database if not exists `{_identifier(database)}`")
    finally:
        conn.close()


def create_postgres_database(port: int, database: str) -> None:
    """Create the database on the local Postgres as user postgres, if missing."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ShopflowError(f"invalid database name {name!r}: letters, digits and _ only")
    return name


def prepare(cfg: StackConfig) -> None:
    """Make the sales, warehouse and (Celery stack) Airflow metadata databases exist."""
    if cfg.stack != "services":
        return
    _require("MariaDB/MySQL", cfg.ports.mysql, "--mysql-port")
    _require("PostgreSQL", cfg.ports.postgres, "--postgres-port")
    create_mysql_database(cfg.ports.mysql, cfg.mysql_database)
    create_postgres_database(cfg.ports.postgres, _identifier(cfg.postgres_database))
    if cfg.airflow_db_url is not None:
        create_postgres_database(cfg.ports.postgres, _identifier(cfg.airflow_database))


def reachable(info: dict[str, Any]) -> bool:
    """True when the stack's database servers answer (always True for embedded files)."""
    if info["stack"] != "services":
        return True
    urls = [info["sales_url"], info["warehouse_url"], info.get("airflow_db_url")]
    ports = [urlsplit(url).port for url in urls if url]
    return all(port is not None and port_open(port) for port in ports)
