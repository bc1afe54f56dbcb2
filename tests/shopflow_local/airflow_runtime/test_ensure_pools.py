"""sync_pools against a stand-in of the REST API: create, update, leave alone."""

from __future__ import annotations

from typing import Any

import pytest

from shopflow.pools import POOLS, PoolSpec
from shopflow_local.airflow_runtime.pools import sync_pools

pytestmark = pytest.mark.unit


class FakePoolsApi:
    """The pool routes of ``/api/v2`` over a dict, validating bodies as Airflow 3.3 does."""

    def __init__(self, existing: dict[str, dict[str, Any]] | None = None) -> None:
        self.pools = {name: dict(body) for name, body in (existing or {}).items()}
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str, path: str, *, json: Any = None, missing_ok: bool = False) -> Any:
        self.calls.append((method, path))
        name = path.removeprefix("/pools/")
        if method == "GET":
            found = self.pools.get(name)
            assert found is not None or missing_ok
            return None if found is None else {"name": name, **found, "occupied_slots": 0}
        if method == "POST":
            assert path == "/pools" and json["name"] not in self.pools  # else 409
            assert set(json) == {"name", "slots", "description", "include_deferred"}
            self.pools[json["name"]] = {k: v for k, v in json.items() if k != "name"}
            return json
        if method == "PATCH":
            # PoolPatchBody: the name travels as "pool" and must match the URL (else 400);
            # the whole pool is validated, so slots and include_deferred must be there.
            assert json["pool"] == name and {"slots", "include_deferred"} <= set(json)
            self.pools[name].update({k: v for k, v in json.items() if k != "pool"})
            return json
        raise AssertionError(f"unexpected {method} {path}")


def _expected() -> dict[str, dict[str, Any]]:
    return {pool.name: pool.fields() for pool in POOLS}


def test_missing_pools_are_created_then_left_alone() -> None:
    api = FakePoolsApi()
    assert sync_pools(api) == {pool.name: "created" for pool in POOLS}
    assert api.pools == _expected()
    api.calls.clear()
    assert sync_pools(api) == {pool.name: "unchanged" for pool in POOLS}
    assert {method for method, _ in api.calls} == {"GET"}


def test_a_pool_with_other_slots_or_description_is_updated() -> None:
    first, second = POOLS
    stale = {
        first.name: {**first.fields(), "slots": 10},
        second.name: {**second.fields(), "description": "old"},
    }
    api = FakePoolsApi(stale)
    assert sync_pools(api) == {first.name: "updated", second.name: "updated"}
    assert api.pools == _expected()


def test_pool_names_are_quoted_in_the_path() -> None:
    api = FakePoolsApi()
    sync_pools(api, [PoolSpec("a.b-c_d", 1, "x")])
    assert ("GET", "/pools/a.b-c_d") in api.calls
