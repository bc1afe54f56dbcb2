"""Derive scenarios on every dialect: DuckDB files (unit) and Postgres databases (integration).

Each warehouse of a scenario is fresh and empty: a new DuckDB file, or a throwaway
Postgres database dropped afterwards (tests/shopflow/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable

import derive_scenarios as sc
import pytest


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], warehouse: sc.Make) -> None:
    scenario(warehouse)
