"""Report task glue: the per-run report, stored in staging; fails an unhealthy run."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from shopflow.dates import as_date
from shopflow.errors import ShopflowError
from shopflow.names import CONN_WAREHOUSE
from shopflow.run_report import page_key, report_key
from shopflow.run_report_page import report_page
from shopflow.tasks import connections

log = logging.getLogger(__name__)


def report(
    business_date: date | str,
    run_id: str,
    *,
    extracts: dict[str, Any],
    transformed: dict[str, Any] | None,
    loaded: dict[str, Any] | None,
    publish: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The per-run report: rows per source and table, duplicates, quarantine, checks, timings.

    Logged, and stored in staging as ``reports/dt=D/<run_id>.json``. The checks are
    evaluated again here (the same declarations the quality operators run) so their
    results are kept per run. Raises when a step did not finish or a check failed,
    so the run fails even though this task runs after failures. ``publish`` receives
    the summary first (the DAG pushes it to XCom for the run's alert), healthy or not.
    """
    from shopflow.quality.evaluate import run_checks
    from shopflow.warehouse.factory import warehouse_from_connection

    day = as_date(business_date)
    started = time.perf_counter()
    checks = (
        []
        if loaded is None
        else run_checks(warehouse_from_connection(CONN_WAREHOUSE), run_id=run_id)
    )
    checks_seconds = round(time.perf_counter() - started, 3)
    missing = [
        name
        for name, value in {**extracts, "transform": transformed, "load": loaded}.items()
        if value is None
    ]
    body = {
        "business_date": day.isoformat(),
        "run_id": run_id,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": extracts,
        "audit": (transformed or {}).get("audit", []),
        "deltas": (transformed or {}).get("deltas", {}),
        "transform_seconds": (transformed or {}).get("seconds"),
        "load": loaded,
        "checks_seconds": checks_seconds if loaded is not None else None,
        "checks": [c.to_dict() for c in checks],
        "unfinished": missing,
    }
    staging = connections.resolve_staging()
    key = report_key(day, run_id)
    staging.put_document(key, json.dumps(body, indent=2, default=str).encode())
    page = page_key(day, run_id)
    staging.put_document(page, report_page(body).encode())
    failed = [c.name for c in checks if c.fails_run]
    warned = [c.name for c in checks if c.status == "warn"]
    log.info(
        "report %s: %d checks, failed: %s, warnings: %s, unfinished steps: %s",
        day,
        len(checks),
        ", ".join(failed) or "none",
        ", ".join(warned) or "none",
        ", ".join(missing) or "none",
    )
    summary = {
        "business_date": day.isoformat(),
        "report_uri": staging.document_uri(key),
        "page_uri": staging.document_uri(page),
        "audit": body["audit"],
        "checks": [c.to_dict() for c in checks if c.status != "pass"],
        "unfinished": missing,
    }
    if publish is not None:
        publish(summary)
    if failed or missing:
        raise ShopflowError(
            f"run of {day} is not healthy: unfinished steps [{', '.join(missing)}], "
            f"failed checks [{', '.join(failed)}]; report at {staging.document_uri(key)}"
        )
    return {"report_uri": staging.document_uri(key), "checks": len(checks), "warnings": warned}
