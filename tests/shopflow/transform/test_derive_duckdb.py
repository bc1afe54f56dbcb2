"""Derive scenarios on DuckDB warehouse files: no service needed, so a unit test."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from pathlib import Path

import derive_scenarios as sc
import pytest

from shopflow.warehouse.base import Warehouse
from shopflow.warehouse.duckdb import DuckDBWarehouse

pytestmark = pytest.mark.unit


@pytest.fixture
def make(tmp_path: Path) -> Callable[[], Warehouse]:
    numbers = count()
    return lambda: DuckDBWarehouse(tmp_path / f"derive-{next(numbers)}.duckdb")


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], make: sc.Make) -> None:
    scenario(make)
