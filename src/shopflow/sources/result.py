"""What one source extract reports: counts for ``load_audit`` and the manifest it wrote."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from shopflow.errors import PermanentError

COUNT_FIELDS = ("rows_in", "rows_loaded", "rows_duplicate", "rows_quarantined")


class ReconciliationError(PermanentError):
    """An extract's counts do not add up (data contract, rule 9)."""


@dataclass(frozen=True)
class ExtractResult:
    """Summary of one extract; small and JSON-able, it travels through XCom.

    ``rows_in`` counts every record read; it must equal loaded + duplicate + quarantined.
    ``tables`` maps each staged table to its row count.
    """

    source: str
    business_date: date
    manifest_uri: str
    rows_in: int
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int
    bytes_in: int
    seconds: float
    tables: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = {name: getattr(self, name) for name in COUNT_FIELDS}
        if any(value < 0 for value in counts.values()):
            raise ReconciliationError(f"{self.source}: negative count in {counts}")
        accounted = self.rows_loaded + self.rows_duplicate + self.rows_quarantined
        if self.rows_in != accounted:
            raise ReconciliationError(
                f"{self.source} on {self.business_date}: rows_in {self.rows_in} != loaded "
                f"{self.rows_loaded} + duplicate {self.rows_duplicate} + quarantined "
                f"{self.rows_quarantined}"
            )

    def counts(self) -> dict[str, int]:
        """The four reconciliation counts."""
        return {name: int(getattr(self, name)) for name in COUNT_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (the date as ISO text), for XCom."""
        data = asdict(self)
        data["business_date"] = self.business_date.isoformat()
        data["seconds"] = round(self.seconds, 3)
        data["tables"] = dict(self.tables)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractResult:
        """Inverse of ``to_dict``."""
        values = dict(data)
        values["business_date"] = date.fromisoformat(str(values["business_date"]))
        return cls(**values)

    def summary(self) -> str:
        """One log line, no secrets."""
        return (
            f"{self.source} {self.business_date}: in={self.rows_in} loaded={self.rows_loaded} "
            f"duplicate={self.rows_duplicate} quarantined={self.rows_quarantined} "
            f"bytes={self.bytes_in} seconds={self.seconds:.2f} tables={self.tables} "
            f"-> {self.manifest_uri}"
        )
