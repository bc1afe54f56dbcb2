"""Write interaction day files in the layout the server reads, for tests and demos.

The data generator writes the real ones; this writes a few hand-made records the same
way: ``<data_dir>/interactions/dt=YYYY-MM-DD.parquet``, replaced atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

STRING_COLUMNS = ("id", "email", "type", "channel", "campaign_id", "occurred_at")


def day_file(data_dir: Path, day: date) -> Path:
    """Where the records of a UTC day live."""
    return Path(data_dir) / "interactions" / f"dt={day.isoformat()}.parquet"


def write_day_file(data_dir: Path, day: date, records: Sequence[Mapping[str, Any]]) -> Path:
    """Write records (API shape: ``occurred_at`` an ISO string, ``properties`` a dict)."""
    columns: dict[str, pa.Array] = {
        name: pa.array([r.get(name) for r in records], pa.string()) for name in STRING_COLUMNS
    }
    columns["occurred_at_utc"] = pa.array(
        [datetime.fromisoformat(r["occurred_at"]).astimezone(UTC) for r in records],
        pa.timestamp("us", tz="UTC"),
    )
    columns["properties"] = pa.array(
        [json.dumps(r.get("properties", {})) for r in records], pa.string()
    )
    path = day_file(data_dir, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.table(columns), scratch)
    os.replace(scratch, path)
    return path
