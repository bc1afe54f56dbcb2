"""Transform task glue: the staged day -> deltas of every warehouse table, staged for the load.

Data moves through staging (Parquet committed by a manifest); XCom carries only
small summaries: the manifest URI, rows per delta, the audit rows.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date
from typing import Any

from shopflow.dates import as_date
from shopflow.names import VAR_HASH_KEY, VAR_TRANSFORM_MEMORY
from shopflow.tasks import connections
from shopflow.tasks.audit_xcom import audit_to_xcom
from shopflow.tasks.failures import fail_fast

log = logging.getLogger(__name__)

DELTAS_SOURCE = "transformed"
"""Staging partition that holds one day's deltas between transform and load."""


def hash_key() -> str:
    """The e-mail hash key from the Airflow Variable; never logged."""
    return connections.require_variable(VAR_HASH_KEY, "the e-mail hash key")


def memory_limit() -> str | None:
    """The Variable shopflow_transform_memory_limit (e.g. ``1.5GB``), None when unset."""
    return connections.size_variable(VAR_TRANSFORM_MEMORY)


@fail_fast
def transform(business_date: date | str, run_id: str) -> dict[str, Any]:
    """Staging of D -> deltas of every warehouse table, staged for the load."""
    from shopflow.transform.build import MEMORY_LIMIT, transform_day_into
    from shopflow.transform.inputs import StagedDay

    day = as_date(business_date)
    started = time.perf_counter()
    staging = connections.resolve_staging()
    inputs = StagedDay.from_staging(staging, day)
    with staging.writer(DELTAS_SOURCE, day, run_id=run_id) as writer:
        rows, audit = transform_day_into(
            inputs,
            writer,
            business_date=day,
            run_id=run_id,
            hash_key=hash_key(),
            memory_limit=memory_limit() or MEMORY_LIMIT,
        )
    summary = {
        "business_date": day.isoformat(),
        "manifest_uri": staging.manifest_uri(DELTAS_SOURCE, day),
        "deltas": rows,
        "audit": audit_to_xcom(audit),
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("transform %s: %s", day, json.dumps(summary["deltas"]))
    return summary
