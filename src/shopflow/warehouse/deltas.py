"""A load's deltas, read on demand: an Arrow table in memory, or Parquet files scanned lazily.

``load_day`` takes, per table, a ``pa.Table`` or a :class:`ParquetDelta` (local Parquet
files, such as a day's staged deltas). Each becomes a :class:`Delta`: its row count, its
rows as record batches conformed to tables.py, and, when every file already holds
exactly the table's Arrow schema, the files themselves, for a dialect that scans
Parquet natively (DuckDB). A table is conformed whole, up front. Files are checked up
front from their footers (columns, types, rows) and then batch by batch as the load
reads them (lossless casts, no nulls in non-null columns), so a bad row of a file fails
inside the load's transaction, which rolls back: nothing is left partial.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import pyarrow as pa
import pyarrow.parquet as pq

from shopflow.warehouse.arrow import arrow_schema, conform
from shopflow.warehouse.errors import DeltaError
from shopflow.warehouse.tables import TableSpec

BATCH_ROWS = 131_072
"""Rows per record batch read from a file or cut from a table (a staged row group)."""


@dataclass(frozen=True)
class ParquetDelta:
    """A delta given as local Parquet files, read by the load one batch at a time."""

    paths: tuple[Path, ...]

    @classmethod
    def of(cls, paths: Sequence[Path | str]) -> ParquetDelta:
        """From any sequence of paths."""
        return cls(tuple(Path(p) for p in paths))


class Delta:
    """One table's rows for a load: count, conformed batches, and natively scannable files."""

    def __init__(
        self,
        spec: TableSpec,
        num_rows: int,
        *,
        table: pa.Table | None = None,
        paths: tuple[Path, ...] = (),
        exact: bool = False,
    ) -> None:
        self.spec = spec
        self.num_rows = num_rows
        self.schema = arrow_schema(spec)
        self._table = table
        self._paths = paths
        self.files: tuple[Path, ...] = paths if exact else ()
        """The Parquet files, when they hold exactly ``schema`` (no cast, no null check due)."""

    @classmethod
    def from_table(cls, spec: TableSpec, table: pa.Table) -> Delta:
        """An in-memory table, conformed now (DeltaError when it does not fit)."""
        conformed = conform(spec, table)
        return cls(spec, conformed.num_rows, table=conformed)

    @classmethod
    def from_parquet(cls, spec: TableSpec, given: ParquetDelta) -> Delta:
        """Files checked from their footers now; their rows are read and conformed later."""
        want = arrow_schema(spec)
        rows, exact = 0, True
        for path in given.paths:
            try:
                with pq.ParquetFile(path) as file:
                    schema, rows = file.schema_arrow, rows + file.metadata.num_rows
            except (OSError, pa.ArrowInvalid) as exc:
                raise DeltaError(f"delta for {spec.name}: cannot read {path.name}: {exc}") from exc
            conform(spec, schema.empty_table())  # the columns, and casts that can never work
            exact = exact and schema.equals(want, check_metadata=False)
        return cls(spec, rows, paths=given.paths, exact=exact)

    @property
    def in_memory(self) -> pa.Table | None:
        """The conformed table, when the delta was given as one."""
        return self._table

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every row, as conformed batches of at most BATCH_ROWS rows."""
        if self._table is not None:
            yield from self._table.to_batches(max_chunksize=BATCH_ROWS)
            return
        for path in self._paths:
            with pq.ParquetFile(path) as file:
                for batch in file.iter_batches(batch_size=BATCH_ROWS):
                    yield from conform(self.spec, pa.Table.from_batches([batch])).to_batches()

    def reader(self) -> pa.RecordBatchReader:
        """``batches()`` as a one-pass Arrow stream of ``schema``."""
        return pa.RecordBatchReader.from_batches(self.schema, self.batches())


DeltaInput: TypeAlias = "pa.Table | ParquetDelta | Delta"
"""A table's delta as ``load_day`` takes it: in memory, or Parquet files read lazily."""


def as_delta(spec: TableSpec, given: DeltaInput) -> Delta:
    """What ``load_day`` was given for one table, as a Delta."""
    if isinstance(given, Delta):
        if given.spec.name != spec.name:
            raise DeltaError(f"a delta of {given.spec.name} was given for {spec.name}")
        return given
    if isinstance(given, ParquetDelta):
        return Delta.from_parquet(spec, given)
    if isinstance(given, pa.Table):
        return Delta.from_table(spec, given)
    raise DeltaError(f"delta for {spec.name}: expected a pyarrow Table or ParquetDelta")
