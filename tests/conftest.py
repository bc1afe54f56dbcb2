"""Shared fixtures: the local services, found at their standard ports.

A test that needs MySQL/MariaDB or Postgres skips with the reason when the
server is absent, except in CI (``CI=true``), where a missing service fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from shopflow_local.devstack.process import port_open

MYSQL_PORT = int(os.environ.get("SHOPFLOW_MYSQL_PORT", "3306"))
POSTGRES_PORT = int(os.environ.get("SHOPFLOW_POSTGRES_PORT", "5432"))


def require_port(name: str, port: int) -> None:
    """Skip (or fail in CI) when nothing listens on 127.0.0.1:port."""
    if port_open(port):
        return
    message = f"{name} is not running on 127.0.0.1:{port}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message}; CI requires it")
    pytest.skip(f"{message}; start it to run this test")


@pytest.fixture
def mysql_port() -> int:
    """The MariaDB/MySQL port, after checking it answers."""
    require_port("MariaDB/MySQL", MYSQL_PORT)
    return MYSQL_PORT


@pytest.fixture
def postgres_port() -> int:
    """The Postgres port, after checking it answers."""
    require_port("PostgreSQL", POSTGRES_PORT)
    return POSTGRES_PORT


@pytest.fixture
def shopflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh SHOPFLOW_HOME for one test."""
    home = tmp_path / "shopflow-home"
    home.mkdir()
    monkeypatch.setenv("SHOPFLOW_HOME", str(home))
    yield home


@pytest.fixture
def databases(postgres_port: int) -> Iterator[Callable[[], str]]:
    """Make throwaway Postgres databases on demand (their URLs); drop them all afterwards."""
    admin = f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres"
    made: list[str] = []

    def new() -> str:
        name = f"shopflow_test_{secrets.token_hex(6)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        made.append(name)
        return f"postgresql://postgres@127.0.0.1:{postgres_port}/{name}"

    yield new
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in made:
            conn.execute(f'drop database if exists "{name}" with (force)')
