"""Audit rows through XCom: plain JSON types out of ``transform``, ``AuditRow`` back in ``load``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from shopflow.warehouse.results import AuditRow


def audit_to_xcom(rows: list[AuditRow]) -> list[dict[str, Any]]:
    """Audit rows as dicts, timestamps as ISO text."""
    return [
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(row).items()}
        for row in rows
    ]


def audit_from_xcom(rows: list[dict[str, Any]]) -> list[AuditRow]:
    """The inverse of ``audit_to_xcom``."""
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
