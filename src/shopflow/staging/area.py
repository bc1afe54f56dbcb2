"""Staging: Parquet files of one source and business date, committed by a manifest.

Layout under the staging root (a local directory or ``s3://bucket/prefix``; URIs of
local files are plain absolute paths)::

    raw/<source>/dt=YYYY-MM-DD/<table>/part-00000-<sha256[:16]>.parquet
    raw/<source>/dt=YYYY-MM-DD/_manifest.json        written last

Object keys are deterministic: the part number and the first 16 hex digits of the
file's SHA-256, so the same rows give the same keys on every run and no uuid is
ever needed. Because a re-run with different rows writes under different keys, the
files of the committed attempt stay intact until the new manifest replaces the old
one in a single atomic step (``os.replace`` locally, one PUT on S3). Stale files of
earlier or crashed attempts are deleted only after that.

Readers go through the manifest only: a partition without one is not there, files
the manifest does not list are ignored, and every file is checked against its
SHA-256 and row count before use. One writer per (source, date) at a time.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from shopflow.staging.backends import Backend, LocalBackend, S3Backend
from shopflow.staging.manifest import (
    MANIFEST,
    FileEntry,
    Manifest,
    StagingError,
    TableEntry,
    check_name,
    sha256_file,
)
from shopflow.staging.writer import ROWS_PER_FILE, ROWS_PER_ROW_GROUP, PartitionWriter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_DOC_PART = re.compile(r"^[A-Za-z0-9._=+-]{1,200}$")


class Staging:
    """A staging area: write partitions through ``writer``; read them via the manifest."""

    def __init__(self, backend: Backend, display: str) -> None:
        self._backend = backend
        self.uri = display

    @classmethod
    def from_uri(cls, uri: str, *, s3: S3Client | None = None) -> Staging:
        """``/path``, ``file:///path`` or ``s3://bucket/prefix`` (with the S3 client to use)."""
        parts = urlsplit(uri)
        if parts.scheme == "s3":
            if not parts.netloc:
                raise StagingError(f"staging URI {uri!r} names no bucket")
            if s3 is None:
                raise StagingError(f"staging URI {uri!r} is on S3: it needs an S3 client")
            prefix = parts.path.strip("/")
            return cls(S3Backend(s3, parts.netloc, prefix), f"s3://{parts.netloc}/{prefix}")
        if parts.scheme == "file":
            path = Path(parts.path)
        elif parts.scheme == "":
            path = Path(uri)
        else:
            raise StagingError(f"unsupported staging URI scheme {parts.scheme!r} in {uri!r}")
        if not path.is_absolute():
            raise StagingError(f"staging path must be absolute, got {uri!r}")
        return cls(LocalBackend(path), str(path))

    # keys
    @staticmethod
    def partition_prefix(source: str, day: date) -> str:
        """``raw/<source>/dt=YYYY-MM-DD/``."""
        check_name("source", source)
        return f"raw/{source}/dt={day.isoformat()}/"

    def manifest_uri(self, source: str, day: date) -> str:
        """Where the manifest of (source, day) lives."""
        return self._backend.uri(self.partition_prefix(source, day) + MANIFEST)

    def file_uri(self, source: str, day: date, entry: FileEntry) -> str:
        """Full URI of a file named in a manifest."""
        return self._backend.uri(self.partition_prefix(source, day) + entry.key)

    # writing
    @contextmanager
    def writer(
        self,
        source: str,
        day: date,
        *,
        run_id: str | None = None,
        rows_per_file: int = ROWS_PER_FILE,
        rows_per_row_group: int = ROWS_PER_ROW_GROUP,
    ) -> Iterator[PartitionWriter]:
        """Stage tables of (source, day); commit the manifest when the block succeeds."""
        prefix = self.partition_prefix(source, day)
        spool = self._backend.spool_dir(prefix)
        writer = PartitionWriter(
            self, source, day, run_id, spool, rows_per_file, rows_per_row_group
        )
        try:
            yield writer
            writer._commit()
        finally:
            writer._close_all()
            shutil.rmtree(spool, ignore_errors=True)

    def _publish(self, manifest: Manifest, files: dict[str, Path]) -> None:
        prefix = self.partition_prefix(manifest.source, manifest.business_date)
        for key, path in files.items():
            self._backend.put_file(prefix + key, path)
        self._backend.put_bytes_atomic(prefix + MANIFEST, manifest.to_json().encode())
        keep = {prefix + MANIFEST} | {prefix + key for key in files}
        stale = [k for k in self._backend.list_keys(prefix) if k not in keep]
        self._backend.delete_keys(stale)

    # small documents (run reports and the like), outside the raw/ partitions
    def put_document(self, key: str, data: bytes) -> None:
        """Write a small document at key (relative to the root) in one atomic step."""
        self._backend.put_bytes_atomic(_document_key(key), data)

    def get_document(self, key: str) -> bytes | None:
        """A document written by ``put_document``, or None."""
        return self._backend.get_bytes(_document_key(key))

    def document_uri(self, key: str) -> str:
        """Where the document at key lives."""
        return self._backend.uri(_document_key(key))

    # reading
    def has_partition(self, source: str, day: date) -> bool:
        """True when (source, day) has a committed manifest."""
        return self._backend.get_bytes(self.partition_prefix(source, day) + MANIFEST) is not None

    def read_manifest(self, source: str, day: date) -> Manifest:
        """The committed manifest of (source, day); StagingError when there is none."""
        raw = self._backend.get_bytes(self.partition_prefix(source, day) + MANIFEST)
        if raw is None:
            raise StagingError(
                f"no committed staging partition for {source} on {day}; run its extract first"
            )
        manifest = Manifest.from_json(raw.decode())
        if manifest.source != source or manifest.business_date != day:
            raise StagingError(
                f"manifest at {self.manifest_uri(source, day)} names another partition"
            )
        return manifest

    def read_table(
        self, source: str, day: date, table: str, *, columns: list[str] | None = None
    ) -> pa.Table:
        """One staged table, every file verified against its checksum and row count."""
        manifest = self.read_manifest(source, day)
        entry = _table_entry(manifest, table)
        parts = [
            pq.read_table(io.BytesIO(self._verified_bytes(source, day, f)), columns=columns)
            for f in entry.files
        ]
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]

    def local_paths(
        self, source: str, day: date, table: str, *, cache_dir: Path | None = None
    ) -> list[Path]:
        """Verified local Parquet paths of a table (for DuckDB); S3 files go to cache_dir."""
        manifest = self.read_manifest(source, day)
        entry = _table_entry(manifest, table)
        prefix = self.partition_prefix(source, day)
        paths: list[Path] = []
        for f in entry.files:
            if isinstance(self._backend, LocalBackend):
                path = self._backend.path(prefix + f.key)
                _verify(self.file_uri(source, day, f), f, sha256_file(path), path.stat().st_size)
            else:
                if cache_dir is None:
                    raise StagingError("reading S3 staging as local files needs a cache_dir")
                path = cache_dir / prefix / f.key
                if not (path.is_file() and sha256_file(path) == f.sha256):
                    data = self._verified_bytes(source, day, f)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
            paths.append(path)
        return paths

    def _verified_bytes(self, source: str, day: date, entry: FileEntry) -> bytes:
        uri = self.file_uri(source, day, entry)
        data = self._backend.get_bytes(self.partition_prefix(source, day) + entry.key)
        if data is None:
            raise StagingError(f"{uri} is listed in the manifest but missing")
        _verify(uri, entry, hashlib.sha256(data).hexdigest(), len(data))
        rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
        if rows != entry.rows:
            raise StagingError(f"{uri} holds {rows} rows, the manifest says {entry.rows}")
        return data


def _table_entry(manifest: Manifest, table: str) -> TableEntry:
    try:
        return manifest.tables[table]
    except KeyError:
        raise StagingError(
            f"table {table!r} is not staged for {manifest.source} on {manifest.business_date}"
        ) from None


def _verify(uri: str, entry: FileEntry, sha256: str, size: int) -> None:
    if sha256 != entry.sha256 or size != entry.bytes:
        raise StagingError(f"checksum mismatch for {uri}; re-run the extract of that day")


def _document_key(key: str) -> str:
    parts = key.split("/")
    if (
        not key
        or parts[0] == "raw"
        or any(p in {"", ".", ".."} or not _DOC_PART.match(p) for p in parts)
    ):
        raise StagingError(f"invalid document key {key!r}: relative, outside raw/, no ..")
    return key
