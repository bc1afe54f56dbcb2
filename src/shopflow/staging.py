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
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from shopflow.errors import ShopflowError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MANIFEST = "_manifest.json"
FORMAT_VERSION = 1
ROWS_PER_FILE = 1_000_000
ROWS_PER_ROW_GROUP = 131_072
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DOC_PART = re.compile(r"^[A-Za-z0-9._=+-]{1,200}$")


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


# -- backends -----------------------------------------------------------------------


class _Backend(Protocol):
    def uri(self, key: str) -> str: ...
    def put_file(self, key: str, path: Path) -> None: ...
    def put_bytes_atomic(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes | None: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def delete_keys(self, keys: list[str]) -> None: ...
    def spool_dir(self, prefix: str) -> Path: ...


class _LocalBackend:
    """Keys are paths under a root directory; files move into place by rename."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def path(self, key: str) -> Path:
        return self.root / key

    def put_file(self, key: str, path: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)

    def put_bytes_atomic(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def list_keys(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix() for p in base.rglob("*") if not p.is_dir()
        )

    def delete_keys(self, keys: list[str]) -> None:
        parents: set[Path] = set()
        for key in keys:
            path = self.path(key)
            path.unlink(missing_ok=True)
            parents.add(path.parent)
        for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            _remove_empty_dirs(parent, stop=self.root)

    def spool_dir(self, prefix: str) -> Path:
        base = self.path(prefix)
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=base, prefix=".tmp-"))


def _remove_empty_dirs(path: Path, *, stop: Path) -> None:
    while path != stop and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
        path = path.parent


class _S3Backend:
    """Keys are objects under bucket/prefix; files are spooled locally, then uploaded."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._key(key))
        path.unlink()

    def put_bytes_atomic(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return response["Body"].read()

    def list_keys(self, prefix: str) -> list[str]:
        strip = len(self._key(""))
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk: list[Any] = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})

    def spool_dir(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix="shopflow-spool-"))


def s3_client(endpoint_url: str | None = None, region: str | None = None, **kwargs: Any) -> Any:
    """A boto3 S3 client; path-style addressing when an endpoint is given (emulators)."""
    import boto3
    from botocore.config import Config

    style: Any = "path" if endpoint_url else "auto"
    config = Config(
        region_name=region or "us-east-1",
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": style},
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config, **kwargs)


# -- the staging area ---------------------------------------------------------------


class Staging:
    """A staging area: write partitions through ``writer``; read them via the manifest."""

    def __init__(self, backend: _Backend, display: str) -> None:
        self._backend = backend
        self.uri = display

    @classmethod
    def from_uri(
        cls, uri: str, *, s3_endpoint: str | None = None, s3: S3Client | None = None
    ) -> Staging:
        """``/path``, ``file:///path`` or ``s3://bucket/prefix`` (with an endpoint or a client)."""
        parts = urlsplit(uri)
        if parts.scheme == "s3":
            if not parts.netloc:
                raise StagingError(f"staging URI {uri!r} names no bucket")
            client = s3 if s3 is not None else s3_client(s3_endpoint)
            prefix = parts.path.strip("/")
            return cls(_S3Backend(client, parts.netloc, prefix), f"s3://{parts.netloc}/{prefix}")
        if parts.scheme == "file":
            path = Path(parts.path)
        elif parts.scheme == "":
            path = Path(uri)
        else:
            raise StagingError(f"unsupported staging URI scheme {parts.scheme!r} in {uri!r}")
        if not path.is_absolute():
            raise StagingError(f"staging path must be absolute, got {uri!r}")
        return cls(_LocalBackend(path), str(path))

    # keys
    @staticmethod
    def partition_prefix(source: str, day: date) -> str:
        """``raw/<source>/dt=YYYY-MM-DD/``."""
        _check_name("source", source)
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
            if isinstance(self._backend, _LocalBackend):
                path = self._backend.path(prefix + f.key)
                _verify(self.file_uri(source, day, f), f, _sha256_file(path), path.stat().st_size)
            else:
                if cache_dir is None:
                    raise StagingError("reading S3 staging as local files needs a cache_dir")
                path = cache_dir / prefix / f.key
                if not (path.is_file() and _sha256_file(path) == f.sha256):
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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _document_key(key: str) -> str:
    parts = key.split("/")
    if (
        not key
        or parts[0] == "raw"
        or any(p in {"", ".", ".."} or not _DOC_PART.match(p) for p in parts)
    ):
        raise StagingError(f"invalid document key {key!r}: relative, outside raw/, no ..")
    return key


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise StagingError(f"invalid {kind} name {name!r}: use lower-case letters, digits, _")


def schema_description(schema: pa.Schema) -> list[dict[str, Any]]:
    """A JSON-able description of an Arrow schema."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


# -- the writer ---------------------------------------------------------------------


class _TableSink:
    """Rows of one table, cut into files of rows_per_file and row groups of fixed size."""

    def __init__(self, name: str, schema: pa.Schema, spool: Path, rows_per_file: int, rg: int):
        self.name = name
        self.schema = schema
        self.spool = spool
        self.rows_per_file = rows_per_file
        self.row_group = rg
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.rows = 0
        self.files: list[tuple[FileEntry, Path]] = []
        self._writer: pq.ParquetWriter | None = None
        self._path: Path | None = None
        self._file_rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        while self.pending_rows >= self.row_group:
            self._flush(self.row_group)

    def _flush(self, limit: int) -> None:
        """Write the first `limit` pending rows as one row group, within file bounds."""
        room = self.rows_per_file - self._file_rows
        n = min(limit, room, self.pending_rows)
        data = pa.Table.from_batches(self.pending, schema=self.schema)
        head, tail = data.slice(0, n), data.slice(n)
        self.pending = tail.to_batches()
        self.pending_rows -= n
        self._open().write_table(head, row_group_size=n)
        self._file_rows += n
        self.rows += n
        if self._file_rows >= self.rows_per_file:
            self._close_file()

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            self._path = self.spool / f"{self.name}-{len(self.files):05d}.parquet"
            self._writer = pq.ParquetWriter(
                self._path, self.schema, compression="zstd", write_statistics=True
            )
            self._file_rows = 0
        return self._writer

    def _close_file(self) -> None:
        if self._writer is None or self._path is None:
            return
        self._writer.close()
        sha = _sha256_file(self._path)
        key = f"{self.name}/part-{len(self.files):05d}-{sha[:16]}.parquet"
        entry = FileEntry(key, self._file_rows, self._path.stat().st_size, sha)
        self.files.append((entry, self._path))
        self._writer = None
        self._path = None
        self._file_rows = 0

    def finish(self) -> TableEntry:
        while self.pending_rows:
            self._flush(self.row_group)
        if not self.files and self._writer is None:
            self._open()  # an empty table still gets one file, which carries the schema
        self._close_file()
        return TableEntry(
            rows=self.rows,
            schema=schema_description(self.schema),
            files=[entry for entry, _ in self.files],
        )

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class PartitionWriter:
    """Collects the tables of one (source, day); committed by ``Staging.writer``."""

    def __init__(
        self,
        staging: Staging,
        source: str,
        day: date,
        run_id: str | None,
        spool: Path,
        rows_per_file: int,
        rows_per_row_group: int,
    ) -> None:
        if rows_per_file < 1 or rows_per_row_group < 1:
            raise ValueError("rows_per_file and rows_per_row_group must be positive")
        self._staging = staging
        self.source = source
        self.day = day
        self.run_id = run_id
        self._spool = spool
        self._rows_per_file = rows_per_file
        self._row_group = min(rows_per_row_group, rows_per_file)
        self._sinks: dict[str, _TableSink] = {}
        self.counts: dict[str, int] = {}
        self.manifest: Manifest | None = None

    def declare(self, table: str, schema: pa.Schema) -> None:
        """Make sure `table` is staged with `schema`, even when no rows come."""
        _check_name("table", table)
        sink = self._sinks.get(table)
        if sink is None:
            self._sinks[table] = _TableSink(
                table, schema, self._spool, self._rows_per_file, self._row_group
            )
        elif not sink.schema.equals(schema):
            raise StagingError(f"table {table!r} declared twice with different schemas")

    def write(self, table: str, data: pa.RecordBatch | pa.Table) -> None:
        """Append rows (a batch or a table) to `table`; the first write fixes its schema."""
        if table not in self._sinks:
            self.declare(table, data.schema)
        sink = self._sinks[table]
        if not data.schema.equals(sink.schema):
            try:
                data = data.cast(sink.schema)
            except (pa.ArrowInvalid, ValueError) as exc:
                raise StagingError(f"rows for {table!r} do not fit its schema: {exc}") from None
        batches: Iterable[pa.RecordBatch] = (
            data.to_batches() if isinstance(data, pa.Table) else [data]
        )
        for batch in batches:
            sink.add(batch)

    def write_batches(self, table: str, batches: Iterable[pa.RecordBatch]) -> None:
        """Append every batch of an iterable (e.g. a RecordBatchReader) to `table`."""
        for batch in batches:
            self.write(table, batch)

    def set_counts(self, **counts: int) -> None:
        """Extract counts recorded in the manifest (rows_in, rows_loaded, ...)."""
        self.counts.update({k: int(v) for k, v in counts.items()})

    def rows(self, table: str) -> int:
        """Rows written to `table` so far (flushed or pending)."""
        sink = self._sinks.get(table)
        return 0 if sink is None else sink.rows + sink.pending_rows

    @property
    def manifest_uri(self) -> str:
        """Where this partition's manifest goes."""
        return self._staging.manifest_uri(self.source, self.day)

    def _commit(self) -> None:
        tables = {name: sink.finish() for name, sink in sorted(self._sinks.items())}
        files = {entry.key: path for sink in self._sinks.values() for entry, path in sink.files}
        manifest = Manifest(
            source=self.source,
            business_date=self.day,
            run_id=self.run_id,
            committed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            tables=tables,
            counts=dict(sorted(self.counts.items())),
        )
        self._staging._publish(manifest, files)
        self.manifest = manifest

    def _close_all(self) -> None:
        for sink in self._sinks.values():
            sink.abort()
