"""The clickstream extract against the project's S3 emulator (moto server)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shopflow.sources.clickstream import extract_clickstream
from shopflow.staging import Staging
from shopflow_local.devstack import aws_emulator
from shopflow_local.devstack.process import free_port

pytestmark = pytest.mark.integration

D = date(2025, 3, 4)
BUCKET = "clicks-test"
TYPES = [
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout_start",
    "purchase",
]
KEY_A = "clickstream/dt=2025-03-04/hour=00/collector-1.json.gz"
KEY_B = "clickstream/dt=2025-03-04/hour=05/collector-1.json.gz"
KEY_C = "clickstream/dt=2025-03-04/hour=23/collector-2.json.gz"
KEY_BIG = "clickstream/dt=2025-03-04/hour=12/collector-1.json.gz"
BIG = 3000


def event(event_id: str, at: datetime, **extra: Any) -> dict[str, Any]:
    n = sum(map(ord, event_id))
    return {
        "event_id": event_id,
        "event_type": TYPES[n % len(TYPES)],
        "ts": at.isoformat().replace("+00:00", "Z"),
        "session_id": f"s-{n % 50}",
        "anonymous_id": f"a-{n % 70}",
        "customer_id": n if n % 3 else None,
        "product_id": f"P{n % 11}" if n % 2 else None,
        "order_id": None,
        "page_url": f"/p/{n % 13}",
        "referrer": None,
        "utm_source": "mail" if n % 4 == 0 else None,
        "utm_campaign": "spring" if n % 4 == 0 else None,
        "device": ["desktop", "mobile", "tablet"][n % 3],
    } | extra


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(D.year, D.month, D.day, tzinfo=UTC) + timedelta(hours=hour, minutes=minute)


def lines(*records: dict[str, Any] | str) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode()


FILES: dict[str, bytes] = {
    KEY_A: gzip.compress(
        lines(
            event("a1", at(0, 1)),
            event("a2", at(0, 2), surprise={"x": 1}),
            '{"event_id": "a3", "event_type": "page_view", "ts": "2025-03-04T00:03:00Z"',
            event("a1", at(0, 4), device="duplicate-in-file"),
            event("a5", at(0, 5), event_type="wormhole"),
            event("a6", at(0, 6), ts="04/03/2025 00:06"),
        )
    ),
    KEY_B: gzip.compress(
        lines(
            event("a2", at(5, 1), device="duplicate-across-files"),
            event("b2", at(2, 30)),  # late, but same day
            {"event_type": "page_view", "ts": "2025-03-04T05:03:00Z", "session_id": "s"},
            event("b4", at(5, 4)) | {"session_id": None},
        )
    ),
    # Two gzip members, and a late event of the previous day without a final newline.
    KEY_C: gzip.compress(lines(event("c1", at(23, 1))))
    + gzip.compress(json.dumps(event("c2", at(-2, 0))).encode()),
    KEY_BIG: gzip.compress(
        lines(*(event(f"big-{i}", at(12, i % 60)) for i in range(BIG)), "", "garbage")
    ),
    "clickstream/dt=2025-03-03/hour=23/collector-1.json.gz": gzip.compress(
        lines(event("other-day", at(-1)))
    ),
    "clickstream/dt=2025-03-05/hour=00/collector-1.json.gz": gzip.compress(
        lines(event("next-day", at(24)))
    ),
}
QUARANTINED = {
    f"{KEY_A}:3": "not_json",
    f"{KEY_A}:5": "unknown_event_type",
    f"{KEY_A}:6": "bad_ts",
    f"{KEY_B}:3": "missing_event_id",
    f"{KEY_B}:4": "missing_session_id",
    f"{KEY_BIG}:{BIG + 1}": "not_json",
    f"{KEY_BIG}:{BIG + 2}": "not_json",
}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    run_dir = tmp_path_factory.mktemp("aws-run")
    try:
        endpoint = aws_emulator.start_s3(free_port(), run_dir)
        aws_emulator.ensure_bucket(endpoint, BUCKET)
        s3 = aws_emulator.aws_client("s3", endpoint)
        for key, body in FILES.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        yield endpoint
    finally:
        aws_emulator.stop_all(run_dir)


def plain_reading(endpoint: str) -> tuple[int, set[str]]:
    """Lines under dt=D and the distinct ids of the good ones, the slow obvious way."""
    s3 = aws_emulator.aws_client("s3", endpoint)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"clickstream/dt={D}/")
    total, ids = 0, set()
    for obj in listed["Contents"]:
        text = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read())
        for number, line in enumerate(text.decode().splitlines(), start=1):
            total += 1
            if f"{obj['Key']}:{number}" not in QUARANTINED:
                ids.add(json.loads(line)["event_id"])
    return total, ids


def run(endpoint: str, staging: Staging, **kwargs: Any) -> Any:
    s3 = aws_emulator.aws_client("s3", endpoint)
    return extract_clickstream(D, s3=s3, bucket=BUCKET, staging=staging, **kwargs)


def test_counts_reconcile_with_the_objects(s3_endpoint: str, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    result = run(s3_endpoint, staging, block_bytes=64 << 10)
    total, ids = plain_reading(s3_endpoint)
    events = staging.read_table("clickstream", D, "events")

    assert result.rows_in == total
    assert result.rows_in == result.rows_loaded + result.rows_duplicate + result.rows_quarantined
    assert result.rows_quarantined == len(QUARANTINED)
    assert result.rows_duplicate == 2
    assert set(events.column("event_id").to_pylist()) == ids
    assert result.rows_loaded == events.num_rows == len(ids)
    assert "other-day" not in ids and "next-day" not in ids
    assert result.tables == {"events": len(ids), "quarantine": len(QUARANTINED)}
    assert staging.read_manifest("clickstream", D).counts["files"] == 4


def test_malformed_lines_land_in_quarantine_with_reasons(s3_endpoint: str, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    run(s3_endpoint, staging)
    quarantine = staging.read_table("clickstream", D, "quarantine").to_pylist()
    assert {r["record_key"]: r["reason"] for r in quarantine} == QUARANTINED
    raw = {r["record_key"]: r["raw"] for r in quarantine}
    assert raw[f"{KEY_A}:3"].startswith('{"event_id": "a3"')
    assert raw[f"{KEY_BIG}:{BIG + 2}"] == "garbage"


def test_first_copy_wins_and_fields_are_typed(s3_endpoint: str, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    run(s3_endpoint, staging)
    events = {r["event_id"]: r for r in staging.read_table("clickstream", D, "events").to_pylist()}
    assert (events["a1"]["source_file"], events["a1"]["source_line"]) == (KEY_A, 1)
    assert events["a1"]["device"] != "duplicate-in-file"
    assert events["a2"]["source_file"] == KEY_A
    assert events["c2"]["ts"] == datetime(2025, 3, 3, 22, 0, tzinfo=UTC)  # late, kept
    expected = event("big-7", at(12, 7))
    got = events["big-7"]
    assert got["ts"] == at(12, 7)
    assert got["customer_id"] == expected["customer_id"]
    assert got["session_id"] == expected["session_id"] and got["device"] == expected["device"]
    schema = staging.read_table("clickstream", D, "events").schema
    assert str(schema.field("ts").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("customer_id").type) == "int64"


def test_a_second_extract_is_identical_parquet(s3_endpoint: str, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    run(s3_endpoint, staging, block_bytes=1 << 20)
    first = staging.read_manifest("clickstream", D)
    run(s3_endpoint, staging, block_bytes=100_000)
    second = staging.read_manifest("clickstream", D)
    for name in ("events", "quarantine"):
        assert [f.sha256 for f in first.tables[name].files] == [
            f.sha256 for f in second.tables[name].files
        ]


def test_events_staged_on_s3(s3_endpoint: str, tmp_path: Path) -> None:
    s3 = Staging.from_uri(f"s3://{BUCKET}/staging", s3=aws_emulator.aws_client("s3", s3_endpoint))
    local = Staging.from_uri(str(tmp_path / "staging"))
    run(s3_endpoint, s3)
    run(s3_endpoint, local)
    for table in ("events", "quarantine"):
        assert s3.read_table("clickstream", D, table).equals(
            local.read_table("clickstream", D, table)
        )
    # staging under the same bucket must not be mistaken for clickstream input
    assert run(s3_endpoint, local).rows_in == plain_reading(s3_endpoint)[0]


def test_an_empty_day_stages_empty_tables(s3_endpoint: str, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    s3 = aws_emulator.aws_client("s3", s3_endpoint)
    result = extract_clickstream(date(2025, 1, 1), s3=s3, bucket=BUCKET, staging=staging)
    assert (result.rows_in, result.rows_loaded) == (0, 0)
    assert staging.read_table("clickstream", date(2025, 1, 1), "events").num_rows == 0


def test_task_glue_takes_the_bucket_from_the_variable(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shopflow.tasks import extract

    conn = {
        "conn_type": "aws",
        "login": "test",
        "password": "test",
        "extra": {"region_name": "us-east-1", "endpoint_url": s3_endpoint},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_AWS", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW_VAR_SHOPFLOW_BUCKET", BUCKET)
    monkeypatch.setenv("AIRFLOW_VAR_SHOPFLOW_STAGING_URI", str(tmp_path / "staging"))
    summary = extract.extract_clickstream(D.isoformat())
    total, ids = plain_reading(s3_endpoint)
    assert (summary["rows_in"], summary["rows_loaded"]) == (total, len(ids))
    assert summary["rows_quarantined"] == len(QUARANTINED)
