"""Task glue after the extracts: transform, load, report.

Data moves through staging (Parquet committed by a manifest); XCom carries only
small summaries: manifest URIs, row counts, audit rows, timings.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from shopflow.dates import as_date
from shopflow.devstack.connections import CONN_WAREHOUSE, VAR_HASH_KEY
from shopflow.errors import ShopflowError
from shopflow.reports import report_key
from shopflow.tasks import connections

log = logging.getLogger(__name__)

DELTAS_SOURCE = "transformed"
"""Staging partition that holds one day's deltas between transform and load."""


def _audit_to_xcom(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(row).items()}
        for row in rows
    ]


def _audit_from_xcom(rows: list[dict[str, Any]]) -> list[Any]:
    from shopflow.warehouse.report import AuditRow

    return [
        AuditRow(
            **{
                **row,
                "started_at": datetime.fromisoformat(row["started_at"]),
                "finished_at": datetime.fromisoformat(row["finished_at"]),
            }
        )
        for row in rows
    ]


def hash_key() -> str:
    """The e-mail hash key from the Airflow Variable; never logged."""
    key = connections.get_variable(VAR_HASH_KEY)
    if not key:
        raise ShopflowError(f"Airflow Variable {VAR_HASH_KEY} is not set: the e-mail hash key")
    return key


def transform(business_date: date | str, run_id: str) -> dict[str, Any]:
    """Staging of D -> deltas of every warehouse table, staged for the load."""
    from shopflow.transform.inputs import StagedDay
    from shopflow.transform.runner import transform_day

    day = as_date(business_date)
    staging = connections.resolve_staging()
    deltas = transform_day(
        StagedDay.from_staging(staging, day), business_date=day, run_id=run_id, hash_key=hash_key()
    )
    tables = deltas.tables()
    with staging.writer(DELTAS_SOURCE, day, run_id=run_id) as writer:
        for name, table in tables.items():
            writer.declare(name, table.schema)
            writer.write(name, table)
    summary = {
        "business_date": day.isoformat(),
        "manifest_uri": staging.manifest_uri(DELTAS_SOURCE, day),
        "deltas": {name: t.num_rows for name, t in tables.items()},
        "audit": _audit_to_xcom(deltas.audit),
    }
    log.info("transform %s: %s", day, json.dumps(summary["deltas"]))
    return summary


def load(business_date: date | str, run_id: str, transformed: dict[str, Any]) -> dict[str, Any]:
    """Merge the staged deltas of D into the warehouse in one transaction, then derive."""
    from shopflow.transform.runner import derive_statements
    from shopflow.warehouse.factory import warehouse_from_connection

    day = as_date(business_date)
    staging = connections.resolve_staging()
    manifest = staging.read_manifest(DELTAS_SOURCE, day)
    deltas = {name: staging.read_table(DELTAS_SOURCE, day, name) for name in manifest.tables}
    warehouse = warehouse_from_connection(CONN_WAREHOUSE)
    report = warehouse.load_day(
        deltas,
        business_date=day,
        run_id=run_id,
        audit=_audit_from_xcom(transformed["audit"]),
        derive=derive_statements(),
    )
    result = report.to_dict()
    log.info("load %s: %s", day, json.dumps(result.get("seconds", {})))
    return result


def report(
    business_date: date | str,
    run_id: str,
    *,
    extracts: dict[str, Any],
    transformed: dict[str, Any] | None,
    loaded: dict[str, Any] | None,
) -> dict[str, Any]:
    """The per-run report: rows per source and table, duplicates, quarantine, checks, timings.

    Logged, and stored in staging as ``reports/dt=D/<run_id>.json``. The checks are
    evaluated again here (the same declarations the quality operators run) so their
    results are kept per run. Raises when a step did not finish or a check failed,
    so the run fails even though this task runs after failures.
    """
    from shopflow.quality.run_local import run_checks
    from shopflow.warehouse.factory import warehouse_from_connection

    day = as_date(business_date)
    checks = (
        []
        if loaded is None
        else run_checks(warehouse_from_connection(CONN_WAREHOUSE), run_id=run_id)
    )
    body = {
        "business_date": day.isoformat(),
        "run_id": run_id,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": extracts,
        "audit": (transformed or {}).get("audit", []),
        "deltas": (transformed or {}).get("deltas", {}),
        "load": loaded,
        "checks": [c.to_dict() for c in checks],
    }
    staging = connections.resolve_staging()
    key = report_key(day, run_id)
    staging.put_document(key, json.dumps(body, indent=2, default=str).encode())
    failed = [c.name for c in checks if c.fails_run]
    warned = [c.name for c in checks if c.status == "warn"]
    missing = [
        name
        for name, value in {**extracts, "transform": transformed, "load": loaded}.items()
        if value is None
    ]
    log.info(
        "report %s: %d checks, failed: %s, warnings: %s, unfinished steps: %s",
        day,
        len(checks),
        ", ".join(failed) or "none",
        ", ".join(warned) or "none",
        ", ".join(missing) or "none",
    )
    if failed or missing:
        raise ShopflowError(
            f"run of {day} is not healthy: unfinished steps [{', '.join(missing)}], "
            f"failed checks [{', '.join(failed)}]; report at {staging.document_uri(key)}"
        )
    return {"report_uri": staging.document_uri(key), "checks": len(checks), "warnings": warned}


def customers_table_empty() -> bool:
    """True when ``dim_customer`` holds no row (or does not exist yet): a full refresh is due."""
    from shopflow.warehouse.factory import warehouse_from_connection

    warehouse = warehouse_from_connection(CONN_WAREHOUSE)
    warehouse.ensure_schema()
    return int(warehouse.scalar("select count(*) from analytics.dim_customer")) == 0
