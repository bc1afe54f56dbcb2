"""The Airflow pools of ``shop_daily_etl``: name, slots and description, defined once.

A pool caps how many task instances, of any run or DAG, use a shared resource at
once. Runs of the DAG are one at a time (``max_active_runs=1``), but a backfill
counts its runs apart from that limit and a cleared task runs beside the next day,
so without pools two or more extracts can hit the same source together.

- ``shopflow_sales_db`` (``extract_sales``): the sales database's connection cap.
  The pipeline's read-only user may hold ``SALES_DB_CONNECTIONS`` connections on
  the sales replica (grant it that much, MySQL ``max_user_connections``); one
  extract holds at most ``SALES_CONNECTIONS_PER_EXTRACT``: connectorx opens
  ``SALES_PARTITIONS`` connections per large table (1 on MySQL, 2 on SQLite,
  ``shopflow/tasks/extract.py``) and reads the tables one after the other.
  Slots = 4 // 2 = 2: today's run and one backfill day.
- ``shopflow_marketing_api`` (``extract_interactions``): the API's rate limit,
  ``MARKETING_API_RATE_LIMIT`` requests per second per token (the local
  simulator's default, ``DEFAULT_RATE_LIMIT`` with bursts of 400). One extract
  walks 8 windows with 4 threads: at SF 1 about 210 pages in 3.6-3.9 s on 2 shared
  cores (``bench/README.md``, compare.py), under ``REQUESTS_PER_SECOND_PER_EXTRACT``.
  Slots = 200 // 60 = 3. A faster worker asks more; the client honours 429 and
  ``Retry-After``, so going over costs waiting, not failures.

``python -m shopflow.pools > pools.json`` prints them in the format of
``airflow pools import pools.json``; the local stacks create them through the REST
API (``shopflow_local.airflow_runtime.pools``). Imports nothing but the standard
library and ``shopflow.names``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shopflow.names import POOL_MARKETING_API, POOL_SALES_DB

SALES_DB_CONNECTIONS = 4
"""Connections the pipeline may hold on the sales database at once."""
SALES_CONNECTIONS_PER_EXTRACT = 2
"""The most one ``extract_sales`` opens at a time (the largest ``SALES_PARTITIONS``)."""
MARKETING_API_RATE_LIMIT = 200.0
"""Requests per second the marketing API admits per token."""
REQUESTS_PER_SECOND_PER_EXTRACT = 60.0
"""What one ``extract_interactions`` asks at most (measured about 55 at SF 1)."""

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")


@dataclass(frozen=True)
class PoolSpec:
    """One Airflow pool as the REST API and ``airflow pools import`` describe it."""

    name: str
    slots: int
    description: str
    include_deferred: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"invalid pool name {self.name!r}")
        if self.slots < 1:
            raise ValueError(f"pool {self.name} needs at least one slot, got {self.slots}")

    def fields(self) -> dict[str, Any]:
        """slots, description and include_deferred (an entry of the import file)."""
        return {
            "slots": self.slots,
            "description": self.description,
            "include_deferred": self.include_deferred,
        }


POOLS = (
    PoolSpec(
        POOL_SALES_DB,
        SALES_DB_CONNECTIONS // SALES_CONNECTIONS_PER_EXTRACT,
        f"shopflow extract_sales: {SALES_DB_CONNECTIONS} sales DB connections, "
        f"up to {SALES_CONNECTIONS_PER_EXTRACT} per extract",
    ),
    PoolSpec(
        POOL_MARKETING_API,
        int(MARKETING_API_RATE_LIMIT // REQUESTS_PER_SECOND_PER_EXTRACT),
        f"shopflow extract_interactions: marketing API {MARKETING_API_RATE_LIMIT:g} req/s, "
        f"about {REQUESTS_PER_SECOND_PER_EXTRACT:g} per extract",
    ),
)
"""Every pool the DAG's tasks name."""


def pools_import_json(pools: tuple[PoolSpec, ...] = POOLS) -> str:
    """The pools as ``airflow pools import`` reads them: ``{name: {slots, description, ...}}``."""
    return json.dumps({p.name: p.fields() for p in pools}, indent=4, sort_keys=True)


def main() -> None:
    """Print the import file."""
    print(pools_import_json())


if __name__ == "__main__":
    main()
