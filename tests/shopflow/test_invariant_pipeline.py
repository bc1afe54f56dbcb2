"""The central invariant through the real extract -> transform -> load -> checks path.

One embedded stack (stand-ins on free ports, a throwaway SHOPFLOW_HOME) holds three
generated days. Warehouse A runs them in calendar order, warehouse B as
d3, d1, d2, d1, d2, d1 (d1 three times); both read the very same sources and
differ only in their warehouse connection and staging location. Every table must end equal.

``load_audit`` is compared as the set of (business_date, source, rows_in,
rows_loaded, rows_duplicate, rows_quarantined) for every source but sales, and as
the set of (business_date, source) for sales: run ids and clock times differ per
run by design, and the sales counts of a day include every customer when that
run was a customers full refresh (the first run into an empty ``dim_customer``:
d1 in A, d3 in B).
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from local_stack import embedded_stack
from shopflow.warehouse.base import Warehouse
from shopflow.warehouse.factory import warehouse_from_url
from shopflow.warehouse.tables import TABLES
from shopflow_local.devstack import aws_emulator
from shopflow_local.devstack.connections import airflow_environment
from shopflow_local.in_process import QualityCheckFailed, run_day_in_process
from warehouse_snapshot import snapshot

pytestmark = pytest.mark.integration

D1, D2, D3 = date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3)
SCALE, SEED = 0.005, 7

MakeUrl = Callable[[str], str]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An embedded stack holding D1..D3 at a small scale; taken down after the module."""
    with embedded_stack(tmp_path_factory, D1, 3, scale=SCALE, seed=SEED) as info:
        yield info


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeUrl]:
    """Makes URLs of fresh, empty warehouses of one dialect; Postgres ones are dropped after."""
    if request.param == "duckdb":
        yield lambda name: f"duckdb://{tmp_path / f'{name}.duckdb'}"
        return
    port: int = request.getfixturevalue("postgres_port")
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    created: list[str] = []

    def make(name: str) -> str:
        db = f"shopflow_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"create database {db}")
        created.append(db)
        return f"postgresql://postgres@127.0.0.1:{port}/{db}"

    try:
        yield make
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for db in created:
                conn.execute(f"drop database if exists {db} with (force)")


def target_env(info: dict[str, Any], url: str, staging: Path) -> dict[str, str]:
    """The stack's connections with their own warehouse and staging; sources shared."""
    env = airflow_environment({**info, "warehouse_url": url, "staging_uri": str(staging)})
    return {**env, "SHOPFLOW_HOME": info["home"]}


def run_days(info: dict[str, Any], url: str, staging: Path, days: list[date]) -> Warehouse:
    env = target_env(info, url, staging)
    for n, day in enumerate(days):
        run_day_in_process(day, run_id=f"{staging.name}-{n}-{day}", env=env)
    return warehouse_from_url(url)


def test_day_order_and_repeats_leave_the_same_warehouse(
    sources: dict[str, Any], warehouse_url: MakeUrl, tmp_path: Path
) -> None:
    a = run_days(sources, warehouse_url("a"), tmp_path / "staging-a", [D1, D2, D3])
    b = run_days(sources, warehouse_url("b"), tmp_path / "staging-b", [D3, D1, D2, D1, D2, D1])
    counts = {name: int(a.scalar(f"select count(*) from analytics.{name}")) for name in TABLES}
    assert all(counts.values()), f"empty tables make the comparison moot: {counts}"
    assert len(snapshot(a)["load_audit"]) == 3 * 3  # one count tuple per (day, source)
    assert snapshot(b) == snapshot(a)
    days = {r["d"] for r in a.query_arrow(
        "select distinct order_date as d from analytics.fct_order_line").to_pylist()}  # fmt: skip
    assert {D1, D2, D3} <= days


def test_dirt_beyond_the_threshold_fails_the_quarantine_check(
    sources: dict[str, Any], tmp_path: Path
) -> None:
    events = [{"event_id": f"bad-{i}", "event_type": "teleport", "ts": f"{D2}T23:00:00Z",
               "session_id": f"s-{i}"} for i in range(200)]  # fmt: skip
    lines = [json.dumps(e) for e in events] + ["{not json"] * 200
    body = gzip.compress(("\n".join(lines) + "\n").encode())
    key = f"clickstream/dt={D2}/hour=23/zz-injected-dirt.json.gz"
    s3 = aws_emulator.aws_client("s3", sources["aws_endpoint"])
    s3.put_object(Bucket=sources["bucket"], Key=key, Body=body)
    env = target_env(sources, f"duckdb://{tmp_path / 'dirty.duckdb'}", tmp_path / "staging")
    try:
        with pytest.raises(QualityCheckFailed, match="quarantine_share") as failed:
            run_day_in_process(D2, run_id="dirty", env=env)
    finally:
        s3.delete_object(Bucket=sources["bucket"], Key=key)
    timings = failed.value.timings
    assert [c.name for c in timings.failed_checks] == ["quarantine_share"]
    clicks = timings.extracts["clickstream"]
    assert clicks["rows_quarantined"] >= 400
    assert clicks["rows_quarantined"] > 0.01 * clicks["rows_in"]
