"""Staging: Parquet files of one source and business date, committed by a manifest.

``area`` is the staging area (layout and guarantees in its docstring and
``docs/adr/0006-staging-manifests.md``), ``manifest`` what a committed partition
holds, ``backends`` where the files live (a local directory or S3), ``writer``
how one partition is written.
"""

from shopflow.staging.area import Staging
from shopflow.staging.manifest import MANIFEST, FileEntry, Manifest, StagingError, TableEntry
from shopflow.staging.writer import PartitionWriter

__all__ = [
    "MANIFEST",
    "FileEntry",
    "Manifest",
    "PartitionWriter",
    "Staging",
    "StagingError",
    "TableEntry",
]
