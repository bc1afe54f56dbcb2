"""Staging on a local directory: manifest commit, atomic replace, checksums, keys."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from shopflow.staging import MANIFEST, Staging, StagingError

pytestmark = pytest.mark.unit

DAY = date(2025, 3, 4)


def rows(n: int, offset: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(offset, offset + n), pa.int64()),
            "name": pa.array([f"row-{i}" for i in range(offset, offset + n)]),
        }
    )


def stage(staging: Staging, table: pa.Table, **kwargs: int) -> None:
    with staging.writer("demo", DAY, run_id="r1", **kwargs) as writer:
        writer.write("items", table)
        writer.set_counts(rows_in=table.num_rows)


def partition_files(root: Path) -> set[str]:
    base = root / "raw" / "demo" / f"dt={DAY}"
    return {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}


@pytest.fixture
def staging(tmp_path: Path) -> Staging:
    return Staging.from_uri(str(tmp_path / "staging"))


def test_round_trip_writes_manifest_with_counts_and_checksums(
    staging: Staging, tmp_path: Path
) -> None:
    stage(staging, rows(10))
    manifest = staging.read_manifest("demo", DAY)
    entry = manifest.tables["items"]
    assert entry.rows == 10
    assert [f["name"] for f in entry.schema] == ["id", "name"]
    assert manifest.counts == {"rows_in": 10}
    assert manifest.run_id == "r1"
    assert staging.read_table("demo", DAY, "items").equals(rows(10))
    (file,) = entry.files
    assert file.key.startswith("items/part-00000-") and file.key.endswith(".parquet")
    assert len(file.sha256) == 64
    on_disk = json.loads((tmp_path / "staging/raw/demo/dt=2025-03-04" / MANIFEST).read_text())
    assert on_disk["tables"]["items"]["files"][0]["sha256"] == file.sha256


def test_file_uri_is_accepted_and_relative_paths_are_not(tmp_path: Path) -> None:
    staging = Staging.from_uri((tmp_path / "s").as_uri())
    stage(staging, rows(1))
    assert staging.has_partition("demo", DAY)
    with pytest.raises(StagingError):
        Staging.from_uri("relative/dir")


def test_keys_are_deterministic_whatever_the_batching(staging: Staging, tmp_path: Path) -> None:
    stage(staging, rows(1000), rows_per_file=300, rows_per_row_group=100)
    first = staging.read_manifest("demo", DAY).tables["items"].files
    with staging.writer("demo", DAY, rows_per_file=300, rows_per_row_group=100) as writer:
        for batch in rows(1000).to_batches(max_chunksize=37):
            writer.write("items", batch)
    second = staging.read_manifest("demo", DAY).tables["items"].files
    assert [f.key for f in first] == [f.key for f in second]
    assert [f.sha256 for f in first] == [f.sha256 for f in second]
    assert [f.rows for f in first] == [300, 300, 300, 100]
    assert staging.read_table("demo", DAY, "items").equals(rows(1000))


def test_an_empty_declared_table_is_staged_with_its_schema(staging: Staging) -> None:
    schema = pa.schema([("amount", pa.decimal128(12, 2))])
    with staging.writer("demo", DAY) as writer:
        writer.declare("nothing", schema)
    table = staging.read_table("demo", DAY, "nothing")
    assert table.num_rows == 0
    assert table.schema.equals(schema)


def test_failed_attempt_leaves_the_committed_partition_intact(
    staging: Staging, tmp_path: Path
) -> None:
    stage(staging, rows(5))
    before = partition_files(tmp_path / "staging")
    with pytest.raises(RuntimeError), staging.writer("demo", DAY) as writer:
        writer.write("items", rows(7, offset=100))
        raise RuntimeError("source died")
    assert partition_files(tmp_path / "staging") == before
    assert staging.read_table("demo", DAY, "items").equals(rows(5))


def test_crash_before_manifest_keeps_old_data_and_next_commit_removes_stale_files(
    staging: Staging, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage(staging, rows(5))
    old_keys = {f.key for f in staging.read_manifest("demo", DAY).tables["items"].files}

    def crash(key: str, data: bytes) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(staging._backend, "put_bytes_atomic", crash)
        with pytest.raises(OSError):
            stage(staging, rows(7, offset=100))
    # The new parts landed next to the old ones, but the old manifest still rules.
    assert len(partition_files(tmp_path / "staging")) > len(old_keys) + 1
    assert staging.read_table("demo", DAY, "items").equals(rows(5))

    stage(staging, rows(3, offset=200))
    new_keys = {f.key for f in staging.read_manifest("demo", DAY).tables["items"].files}
    assert new_keys.isdisjoint(old_keys)
    assert partition_files(tmp_path / "staging") == new_keys | {MANIFEST}
    assert staging.read_table("demo", DAY, "items").equals(rows(3, offset=200))


def test_a_table_dropped_by_a_rerun_disappears(staging: Staging, tmp_path: Path) -> None:
    with staging.writer("demo", DAY) as writer:
        writer.write("items", rows(2))
        writer.write("extra", rows(2))
    stage(staging, rows(2))
    assert set(staging.read_manifest("demo", DAY).tables) == {"items"}
    assert not any(p.startswith("extra/") for p in partition_files(tmp_path / "staging"))
    with pytest.raises(StagingError, match="not staged"):
        staging.read_table("demo", DAY, "extra")


def test_partition_without_manifest_is_not_read(staging: Staging, tmp_path: Path) -> None:
    part = tmp_path / "staging/raw/demo/dt=2025-03-04/items"
    part.mkdir(parents=True)
    (part / "part-00000.parquet").write_bytes(b"half written")
    assert not staging.has_partition("demo", DAY)
    with pytest.raises(StagingError, match="no committed staging partition"):
        staging.read_table("demo", DAY, "items")


def test_checksum_mismatch_is_detected(staging: Staging, tmp_path: Path) -> None:
    stage(staging, rows(50))
    (entry,) = staging.read_manifest("demo", DAY).tables["items"].files
    path = tmp_path / "staging/raw/demo/dt=2025-03-04" / entry.key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StagingError, match="checksum mismatch"):
        staging.read_table("demo", DAY, "items")
    with pytest.raises(StagingError, match="checksum mismatch"):
        staging.local_paths("demo", DAY, "items")


def test_a_manifest_of_another_partition_is_rejected(staging: Staging, tmp_path: Path) -> None:
    stage(staging, rows(1))
    src = tmp_path / "staging/raw/demo/dt=2025-03-04"
    dst = tmp_path / "staging/raw/demo/dt=2025-03-05"
    dst.mkdir(parents=True)
    (dst / MANIFEST).write_bytes((src / MANIFEST).read_bytes())
    with pytest.raises(StagingError, match="another partition"):
        staging.read_manifest("demo", date(2025, 3, 5))


def test_local_paths_are_the_verified_manifest_files(staging: Staging) -> None:
    stage(staging, rows(20), rows_per_file=8)
    paths = staging.local_paths("demo", DAY, "items")
    assert [p.name[:10] for p in paths] == ["part-00000", "part-00001", "part-00002"]
    assert all(p.is_file() for p in paths)


def test_schema_drift_inside_one_write_is_refused(staging: Staging) -> None:
    with pytest.raises(StagingError, match="do not fit"), staging.writer("demo", DAY) as writer:
        writer.write("items", rows(2))
        writer.write("items", pa.table({"id": ["x"], "name": ["y"]}))
    assert not staging.has_partition("demo", DAY)


@pytest.mark.parametrize("name", ["Bad", "a/b", "../x", ""])
def test_names_are_validated(staging: Staging, name: str) -> None:
    with pytest.raises(StagingError):
        staging.partition_prefix(name, DAY)
    with pytest.raises(StagingError), staging.writer("demo", DAY) as writer:
        writer.write(name, rows(1))


def test_documents_are_written_whole_and_keys_are_checked(staging: Staging, tmp_path: Path) -> None:
    staging.put_document("reports/dt=2025-03-04/manual__1.json", b'{"ok": true}')
    staging.put_document("reports/dt=2025-03-04/manual__1.json", b'{"ok": false}')
    assert staging.get_document("reports/dt=2025-03-04/manual__1.json") == b'{"ok": false}'
    uri = staging.document_uri("reports/dt=2025-03-04/manual__1.json")
    assert uri == str(tmp_path / "staging/reports/dt=2025-03-04/manual__1.json")
    assert [p.name for p in (tmp_path / "staging/reports/dt=2025-03-04").iterdir()] == [
        "manual__1.json"
    ]
    assert staging.get_document("reports/none.json") is None
    for bad in ["", "/abs.json", "../up.json", "a//b", "raw/sales/x.json", "a/b c"]:
        with pytest.raises(StagingError):
            staging.put_document(bad, b"x")
