"""Load task glue: the staged deltas of D into the warehouse in one transaction, then derive."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from shopflow.dates import as_date
from shopflow.names import CONN_WAREHOUSE
from shopflow.tasks import connections
from shopflow.tasks.audit_xcom import audit_from_xcom
from shopflow.tasks.failures import fail_fast
from shopflow.tasks.transform import DELTAS_SOURCE

log = logging.getLogger(__name__)


@fail_fast
def load(business_date: date | str, run_id: str, transformed: dict[str, Any]) -> dict[str, Any]:
    """Merge the staged deltas of D into the warehouse in one transaction, then derive."""
    from shopflow.transform.build import derive_statements
    from shopflow.warehouse.factory import warehouse_from_connection

    day = as_date(business_date)
    staging = connections.resolve_staging()
    manifest = staging.read_manifest(DELTAS_SOURCE, day)
    deltas = {name: staging.read_table(DELTAS_SOURCE, day, name) for name in manifest.tables}
    warehouse = warehouse_from_connection(CONN_WAREHOUSE)
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
