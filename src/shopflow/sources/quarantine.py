"""The ``quarantine`` table every source stages for records it could not accept."""

from __future__ import annotations

import pyarrow as pa

RAW_MAX_CHARS = 1000
"""A quarantined record's ``raw`` text is cut to this many characters."""

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("record_key", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
    ]
)
"""``record_key`` locates the record in its source (e.g. ``file:line``); ``reason`` is a code."""
