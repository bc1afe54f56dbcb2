"""The manifest of a staged partition: what it holds, checked by every reader."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from shopflow.errors import ShopflowError

MANIFEST = "_manifest.json"
FORMAT_VERSION = 1
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class StagingError(ShopflowError):
    """A staged partition is missing, incomplete or corrupt."""


@dataclass(frozen=True)
class FileEntry:
    """One Parquet file of a table: key relative to the partition, rows, bytes, SHA-256."""

    key: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class TableEntry:
    """A staged table: its Arrow schema (as text) and its files in order."""

    rows: int
    schema: list[dict[str, Any]]
    files: list[FileEntry]


@dataclass(frozen=True)
class Manifest:
    """What a committed partition holds; the only thing readers trust."""

    source: str
    business_date: date
    run_id: str | None
    committed_at: str
    tables: dict[str, TableEntry]
    counts: dict[str, int] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        """Stable JSON text (sorted keys)."""
        data = asdict(self)
        data["business_date"] = self.business_date.isoformat()
        return json.dumps(data, sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest; raise StagingError when it is not one."""
        try:
            data = json.loads(text)
            if data["format_version"] != FORMAT_VERSION:
                raise StagingError(f"unsupported manifest version {data['format_version']}")
            tables = {
                name: TableEntry(
                    rows=int(entry["rows"]),
                    schema=list(entry["schema"]),
                    files=[FileEntry(**f) for f in entry["files"]],
                )
                for name, entry in data["tables"].items()
            }
            return cls(
                source=data["source"],
                business_date=date.fromisoformat(data["business_date"]),
                run_id=data["run_id"],
                committed_at=data["committed_at"],
                tables=tables,
                counts={k: int(v) for k, v in data["counts"].items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StagingError(f"unreadable manifest: {exc}") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise StagingError(f"invalid {kind} name {name!r}: use lower-case letters, digits, _")


def schema_description(schema: pa.Schema) -> list[dict[str, Any]]:
    """A JSON-able description of an Arrow schema."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
