"""Derive scenarios on Postgres: each warehouse is a throwaway database, dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import derive_scenarios as sc
import psycopg
import pytest

from shopflow.warehouse.base import Warehouse
from shopflow.warehouse.postgres import PostgresWarehouse

pytestmark = pytest.mark.integration


@pytest.fixture
def make(postgres_port: int) -> Iterator[Callable[[], Warehouse]]:
    admin_url = f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres"
    created: list[str] = []

    def new() -> Warehouse:
        name = f"shopflow_test_{secrets.token_hex(6)}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"create database {name}")
        created.append(name)
        return PostgresWarehouse(f"postgresql://postgres@127.0.0.1:{postgres_port}/{name}")

    yield new
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in created:
            admin.execute(f"drop database if exists {name} with (force)")


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], make: sc.Make) -> None:
    scenario(make)
