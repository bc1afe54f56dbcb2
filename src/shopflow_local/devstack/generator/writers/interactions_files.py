"""S2 writer: one Parquet file per day that the marketing-API simulator serves."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def day_file(api_data_dir: Path, day: date) -> Path:
    """api_data_dir/interactions/dt=D.parquet."""
    return api_data_dir / "interactions" / f"dt={day.isoformat()}.parquet"


def write_interactions(api_data_dir: Path, day: date, table: pa.Table) -> Path:
    """Replace day D's file atomically (temp file in the same folder, then rename)."""
    path = day_file(api_data_dir, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, temp, compression="zstd")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def interactions_inventory(api_data_dir: Path) -> dict[str, int]:
    """Day files and rows the simulator can serve (read from Parquet footers only)."""
    files = sorted((api_data_dir / "interactions").glob("dt=*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return {"files": len(files), "interactions": rows}
