"""The pool definitions: sizes that follow from their reasons, and the import file."""

from __future__ import annotations

import json

import pytest

from shopflow import pools
from shopflow.names import POOL_MARKETING_API, POOL_SALES_DB
from shopflow.tasks import extract
from shopflow_local.devstack.marketing_api.app import DEFAULT_RATE_LIMIT

pytestmark = pytest.mark.unit


def _by_name() -> dict[str, pools.PoolSpec]:
    return {pool.name: pool for pool in pools.POOLS}


def test_one_pool_per_shared_source_with_the_documented_slots() -> None:
    found = _by_name()
    assert set(found) == {POOL_SALES_DB, POOL_MARKETING_API}
    assert found[POOL_SALES_DB].slots == 2
    assert found[POOL_MARKETING_API].slots == 3
    assert all(not pool.include_deferred for pool in found.values())


def test_sales_slots_stay_within_the_connection_budget() -> None:
    per_extract = max(extract.SALES_PARTITIONS.values())
    assert per_extract <= pools.SALES_CONNECTIONS_PER_EXTRACT
    assert _by_name()[POOL_SALES_DB].slots * per_extract <= pools.SALES_DB_CONNECTIONS


def test_api_slots_stay_under_the_rate_limit_the_simulator_enforces() -> None:
    assert pools.MARKETING_API_RATE_LIMIT == DEFAULT_RATE_LIMIT
    slots = _by_name()[POOL_MARKETING_API].slots
    assert slots * pools.REQUESTS_PER_SECOND_PER_EXTRACT <= pools.MARKETING_API_RATE_LIMIT
    assert extract.API_CONCURRENCY == 4  # the measured rate per extract is for 4 threads


def test_the_import_file_is_what_airflow_pools_import_reads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pools.main()
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(pools.pools_import_json())
    assert set(printed) == {POOL_SALES_DB, POOL_MARKETING_API}
    for name, entry in printed.items():
        # airflow/cli/commands/pool_command.py: a dict with "slots" and "description"
        assert set(entry) == {"slots", "description", "include_deferred"}, name
        assert entry["slots"] == _by_name()[name].slots
        assert entry["description"].startswith("shopflow ")


@pytest.mark.parametrize(
    ("name", "slots", "error"),
    [("bad name", 1, "invalid pool name"), ("", 1, "invalid pool name"), ("ok", 0, "at least one")],
)
def test_a_pool_needs_a_plain_name_and_a_slot(name: str, slots: int, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        pools.PoolSpec(name, slots, "x")
