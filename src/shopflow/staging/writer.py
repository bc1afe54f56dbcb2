"""Writing one partition: tables cut into Parquet files, committed by the staging area."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from shopflow.staging.manifest import (
    FileEntry,
    Manifest,
    StagingError,
    TableEntry,
    check_name,
    schema_description,
    sha256_file,
)

if TYPE_CHECKING:
    from shopflow.staging.area import Staging

ROWS_PER_FILE = 1_000_000
ROWS_PER_ROW_GROUP = 131_072


class TableSink:
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
        sha = sha256_file(self._path)
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
        self._sinks: dict[str, TableSink] = {}
        self.counts: dict[str, int] = {}
        self.manifest: Manifest | None = None

    def declare(self, table: str, schema: pa.Schema) -> None:
        """Make sure `table` is staged with `schema`, even when no rows come."""
        check_name("table", table)
        sink = self._sinks.get(table)
        if sink is None:
            self._sinks[table] = TableSink(
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
