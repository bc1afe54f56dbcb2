"""Load task glue: the staged deltas of D into the warehouse in one transaction, then derive.

The deltas are not read into memory: each is handed to the warehouse as its verified
staged Parquet files (S3 objects are first copied into the task's scratch folder),
which the warehouse scans or streams batch by batch. An in-process warehouse
(DuckDB) runs the load within the Variable ``shopflow_load_memory_limit`` and spills
into that scratch folder beyond it.
"""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from shopflow.dates import as_date
from shopflow.names import CONN_WAREHOUSE, VAR_LOAD_MEMORY
from shopflow.tasks import connections
from shopflow.tasks.audit_xcom import audit_from_xcom
from shopflow.tasks.failures import fail_fast
from shopflow.tasks.transform import DELTAS_SOURCE

log = logging.getLogger(__name__)

MEMORY_LIMIT = "1.5GB"
"""The load's DuckDB budget when the Variable is unset."""


def memory_limit() -> str:
    """The Variable shopflow_load_memory_limit (a size such as ``1.5GB``), else MEMORY_LIMIT."""
    return connections.size_variable(VAR_LOAD_MEMORY) or MEMORY_LIMIT


@fail_fast
def load(business_date: date | str, run_id: str, transformed: dict[str, Any]) -> dict[str, Any]:
    """Merge the staged deltas of D into the warehouse in one transaction, then derive."""
    from shopflow.transform.build import derive_statements
    from shopflow.warehouse.deltas import ParquetDelta
    from shopflow.warehouse.factory import warehouse_from_connection

    day = as_date(business_date)
    budget = memory_limit()
    staging = connections.resolve_staging()
    manifest = staging.read_manifest(DELTAS_SOURCE, day)
    with tempfile.TemporaryDirectory(prefix="shopflow-load-") as folder:
        scratch = Path(folder)
        deltas = {
            name: ParquetDelta.of(
                staging.local_paths(DELTAS_SOURCE, day, name, cache_dir=scratch / "cache")
            )
            for name in manifest.tables
        }
        warehouse = warehouse_from_connection(CONN_WAREHOUSE).within(
            memory_limit=budget, scratch=scratch / "spill"
        )
        result = warehouse.load_day(
            deltas,
            business_date=day,
            run_id=run_id,
            audit=audit_from_xcom(transformed["audit"]),
            derive=derive_statements(),
        ).to_dict()
    log.info("load %s: %s", day, json.dumps(result.get("seconds", {})))
    return result


def customers_table_empty() -> bool:
    """True when ``dim_customer`` holds no row (or does not exist yet): a full refresh is due."""
    from shopflow.warehouse.factory import warehouse_from_connection

    warehouse = warehouse_from_connection(CONN_WAREHOUSE)
    warehouse.ensure_schema()
    return int(warehouse.scalar("select count(*) from analytics.dim_customer")) == 0
