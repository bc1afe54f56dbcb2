"""What a load takes besides deltas (audit rows) and what it gives back (its result)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class AuditRow:
    """One source's counts for ``load_audit``; ``run_id`` and ``business_date`` come from the load.

    Timestamps are UTC: naive values are taken as UTC, aware ones are converted.
    """

    source: str
    rows_in: int
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int
    started_at: datetime
    finished_at: datetime


@dataclass
class TableLoad:
    """Row counts of one table's merge: ``staged`` delta rows, then what changed."""

    table: str
    staged: int = 0
    inserted: int = 0
    updated: int = 0
    deactivated: int = 0
    deleted: int = 0
    seconds: float = 0.0


@dataclass
class LoadResult:
    """The outcome of one ``load_day``: counts per merged table, seconds per phase."""

    dialect: str
    business_date: date
    run_id: str
    tables: dict[str, TableLoad] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add_seconds(self, phase: str, seconds: float) -> None:
        """Accumulate time spent in a phase (ensure, stage, lock, merge, derive, commit...)."""
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for XCom and logs."""
        return {
            "dialect": self.dialect,
            "business_date": self.business_date.isoformat(),
            "run_id": self.run_id,
            "tables": {
                name: {**asdict(t), "seconds": round(t.seconds, 3)}
                for name, t in self.tables.items()
            },
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }
