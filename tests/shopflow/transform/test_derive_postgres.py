"""Derive scenarios on Postgres: each warehouse is a throwaway database, dropped afterwards."""

from __future__ import annotations

from collections.abc import Callable

import derive_scenarios as sc
import pytest

from shopflow.warehouse.base import Warehouse
from shopflow.warehouse.postgres import PostgresWarehouse

pytestmark = pytest.mark.integration


@pytest.fixture
def make(databases: Callable[[], str]) -> Callable[[], Warehouse]:
    """A fresh PostgresWarehouse per call, each in its own throwaway database."""
    return lambda: PostgresWarehouse(databases())


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], make: sc.Make) -> None:
    scenario(make)
