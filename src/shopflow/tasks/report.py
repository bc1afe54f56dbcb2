"""Report task glue: the per-run report, stored in staging; fails an unhealthy run."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from shopflow.dates import as_date
from shopflow.errors import ShopflowError
from shopflow.quality.evaluate import QUALITY_GROUP, CheckResult, check_tasks, not_run
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
    recorded: Mapping[str, Mapping[str, Any] | None] | None = None,
    publish: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The per-run report: rows per source and table, duplicates, quarantine, checks, timings.

    Logged, and stored in staging as ``reports/dt=D/<run_id>.json``. ``recorded`` maps
    each check task (``evaluate.check_tasks()``) to what it recorded in XCom (None:
    nothing, it did not run); the checks are not run again here. A check task without
    a record is an unfinished step and its checks fail as not run; when the load did not
    finish, no check is listed and ``quality`` is unfinished. Raises when a step did not
    finish or a check failed, so the run fails even though this task runs after
    failures. ``publish`` receives the summary first (the DAG pushes it to XCom for the
    run's alert), healthy or not.
    """
    day = as_date(business_date)
    missing = [
        name
        for name, value in {**extracts, "transform": transformed, "load": loaded}.items()
        if value is None
    ]
    checks: list[CheckResult] = []
    checks_seconds = None
    if loaded is None:
        missing.append(QUALITY_GROUP)
    else:
        checks, checks_seconds, not_recorded = collected_checks(recorded or {})
        missing += not_recorded
    body = {
        "business_date": day.isoformat(),
        "run_id": run_id,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": extracts,
        "audit": (transformed or {}).get("audit", []),
        "deltas": (transformed or {}).get("deltas", {}),
        "transform_seconds": (transformed or {}).get("seconds"),
        "load": loaded,
        "checks_seconds": checks_seconds,
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


def collected_checks(
    recorded: Mapping[str, Mapping[str, Any] | None],
) -> tuple[list[CheckResult], float, list[str]]:
    """The results every check task recorded, in declaration order.

    Returns (results, seconds the check tasks spent, ``quality.<task>`` of each check task
    that recorded nothing); a task without a record gives a failed "not run" result per
    check, so no check goes missing.
    """
    results: list[CheckResult] = []
    seconds = 0.0
    not_recorded: list[str] = []
    for task, names in check_tasks().items():
        record = recorded.get(task)
        if not record or not record.get("results"):
            task_id = f"{QUALITY_GROUP}.{task}"
            not_recorded.append(task_id)
            results += not_run(names, f"not run: {task_id} recorded no result")
            continue
        seconds += float(record.get("seconds") or 0.0)
        results += [CheckResult(**_fields(r)) for r in record["results"]]
    return results, round(seconds, 3), not_recorded


def _fields(result: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded result's CheckResult fields (``status`` is derived, not stored)."""
    return {name: result[name] for name in ("name", "passed", "severity", "detail")}
