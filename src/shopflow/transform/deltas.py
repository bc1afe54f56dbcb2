"""``Deltas``: what one day's transform hands to ``Warehouse.load_day``."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from shopflow.warehouse.results import AuditRow

DELTA_SOURCES: dict[str, str | None] = {
    "dim_customer": "sales",
    "dim_product": "products",
    "fct_order_line": "sales",
    "fct_interaction": "interactions",
    "fct_click_event": "clickstream",
    "quarantine": None,
}
"""Delta table -> the source it comes from (None: every source)."""

_MART_NAMES = {"quarantine": "fct_quarantine"}
DELTA_MODELS: dict[str, str] = {name: _MART_NAMES.get(name, name) for name in DELTA_SOURCES}
"""Delta table -> the mart model (``models/marts/``) that produces it.

Marts carry a ``dim_``/``fct_`` prefix; the warehouse table ``quarantine`` has none, so its
model is ``fct_quarantine``. Every other delta has its table's name.
"""


@dataclass(frozen=True)
class Deltas:
    """One Arrow table per delta (exactly the warehouse columns) and the audit rows."""

    dim_customer: pa.Table
    dim_product: pa.Table
    fct_order_line: pa.Table
    fct_interaction: pa.Table
    fct_click_event: pa.Table
    quarantine: pa.Table
    audit: list[AuditRow] = field(default_factory=list)
    sources: tuple[str, ...] = ()
    """The sources that were staged; deltas of the others are left out of ``tables()``."""

    def tables(self) -> dict[str, pa.Table]:
        """Delta name -> table, for ``Warehouse.load_day``.

        A source that was not staged contributes no delta: an empty ``dim_product``
        would otherwise mark the whole catalog inactive (snapshot upkeep).
        """
        return {
            name: getattr(self, name)
            for name, source in DELTA_SOURCES.items()
            if source is None or source in self.sources
        }

    def rows(self) -> dict[str, int]:
        """Row count of every delta."""
        return {name: getattr(self, name).num_rows for name in DELTA_SOURCES}
