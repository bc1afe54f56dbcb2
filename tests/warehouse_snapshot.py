"""What two runs must leave equal in a warehouse: table checksums, load_audit as sets.

Run-specific columns (``run_id``, ``started_at``, ``finished_at``) are left out.
``load_audit`` is compared as the set of (business_date, source, counts) for every
source but sales, and the set of business dates for sales: the first run into an
empty ``dim_customer`` extracts every customer, a later run of the same day only
that day's. ``import warehouse_snapshot`` works from any test (tests/ is on sys.path).
"""

from __future__ import annotations

from typing import Any

from shopflow.warehouse.base import Warehouse
from shopflow.warehouse.tables import TABLES

VOLATILE = ("run_id", "started_at", "finished_at")
AUDIT = "business_date, source, rows_in, rows_loaded, rows_duplicate, rows_quarantined"


def snapshot(wh: Warehouse) -> dict[str, Any]:
    """Checksums of every table without run-specific columns; load_audit as sets."""
    out: dict[str, Any] = {
        name: wh.checksum(name, exclude=[c for c in VOLATILE if c in spec.column_names])
        for name, spec in TABLES.items()
        if name != "load_audit"
    }
    audit = wh.query_arrow(f"select {AUDIT} from analytics.load_audit").to_pylist()
    out["load_audit"] = sorted({tuple(r.values()) for r in audit if r["source"] != "sales"})
    out["load_audit_sales"] = sorted({r["business_date"] for r in audit if r["source"] == "sales"})
    return out
