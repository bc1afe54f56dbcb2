"""Clickstream parsing without S3: line splitting, quarantine reasons, dedup, types."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from shopflow.sources.clickstream import (
    EVENTS_SCHEMA,
    ClickParser,
    Counts,
    Prefetch,
    batches,
    iter_blocks,
    ordered_blocks,
    split_lines,
)
from shopflow.sources.quarantine import QUARANTINE_SCHEMA, RAW_MAX_CHARS

pytestmark = pytest.mark.unit

FILE_A = "clickstream/dt=2025-03-04/hour=00/a.json.gz"
FILE_B = "clickstream/dt=2025-03-04/hour=01/b.json.gz"


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    base = {
        "event_id": event_id,
        "event_type": "page_view",
        "ts": "2025-03-04T10:00:00Z",
        "session_id": "s1",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def ndjson(*records: dict[str, Any] | str) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return ("\n".join(lines) + "\n").encode()


def parse(*files: tuple[str, bytes]) -> tuple[pa.Table, pa.Table, Counts]:
    events, quarantine = [], []
    with ClickParser() as parser:
        for name, data in files:
            good, bad = parser.parse(split_lines(data, 1), source_file=name)
            events.append(good)
            quarantine.append(bad)
        return pa.concat_tables(events), pa.concat_tables(quarantine), parser.counts


def test_split_lines_numbers_lines_and_strips_line_ends() -> None:
    table = split_lines(b"a\r\n\nccc\nlast", 10)
    assert table.column("line_no").to_pylist() == [10, 11, 12, 13]
    assert table.column("line").to_pylist() == ["a\r\n", "\n", "ccc\n", "last"]
    assert table.column("utf8_ok").to_pylist() == [True] * 4
    assert split_lines(b"one\n", 1).num_rows == 1
    assert split_lines(b"", 1).num_rows == 0


def test_split_lines_flags_invalid_utf8_only_on_its_line() -> None:
    table = split_lines(
        "ok \ufffd\nbad \xff\nfine é\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff"), 1
    )
    assert table.column("utf8_ok").to_pylist() == [True, False, True]
    assert table.column("line").to_pylist()[2] == "fine é\n"


def test_iter_blocks_cuts_at_line_ends_only() -> None:
    data = b"".join(f"line {i}\n".encode() for i in range(100)) + b"tail"
    blocks = list(iter_blocks(io.BytesIO(data), block_bytes=64))
    assert b"".join(blocks) == data
    assert all(block.endswith(b"\n") for block in blocks[:-1])
    assert len(blocks) > 5


def test_each_malformed_line_gets_its_reason() -> None:
    data = ndjson(
        event("e1"),
        "{not json",
        "[1, 2, 3]",
        event("e0") | {"event_id": None},
        event("e2", event_type=...),
        event("e3", ts=...),
        event("e4", session_id=...),
        event("e5", ts="yesterday at noon"),
        event("e6", event_type="teleport"),
        event("e7", ts=12345),
        "",
        event("e8") | {"event_id": ""},
    )
    events, quarantine, counts = parse((FILE_A, data))
    assert events.column("event_id").to_pylist() == ["e1"]
    assert quarantine.schema.equals(QUARANTINE_SCHEMA)
    reasons = {r["record_key"]: r["reason"] for r in quarantine.to_pylist()}
    assert reasons == {
        f"{FILE_A}:2": "not_json",
        f"{FILE_A}:3": "not_json",
        f"{FILE_A}:4": "missing_event_id",
        f"{FILE_A}:5": "missing_event_type",
        f"{FILE_A}:6": "missing_ts",
        f"{FILE_A}:7": "missing_session_id",
        f"{FILE_A}:8": "bad_ts",
        f"{FILE_A}:9": "unknown_event_type",
        f"{FILE_A}:10": "bad_ts",
        f"{FILE_A}:11": "not_json",
        f"{FILE_A}:12": "missing_event_id",
    }
    assert counts.rows_in == 12
    assert counts.rows_quarantined == 11


def test_duplicates_keep_the_first_by_file_then_line() -> None:
    a = ndjson(event("e1", device="first"), event("e2"), event("e1", device="second"))
    b = ndjson(event("e2", device="later"), event("e3"))
    events, quarantine, counts = parse((FILE_A, a), (FILE_B, b))
    got = [
        (r["event_id"], r["source_file"], r["source_line"], r["device"]) for r in events.to_pylist()
    ]
    assert got == [
        ("e1", FILE_A, 1, "first"),
        ("e2", FILE_A, 2, None),
        ("e3", FILE_B, 2, None),
    ]
    assert quarantine.num_rows == 0
    assert counts.rows_duplicate == 2
    assert counts.rows_loaded == events.num_rows == 3
    assert counts.rows_in == counts.rows_loaded + counts.rows_duplicate + counts.rows_quarantined


def test_fields_are_typed_and_extras_ignored() -> None:
    data = ndjson(
        event(
            "e1",
            event_type="purchase",
            ts="2025-03-04T23:30:00.250+02:00",
            customer_id=42,
            order_id="9000000001",
            product_id="P-1",
            anonymous_id="anon",
            page_url="/checkout",
            referrer=None,
            utm_source="news",
            utm_campaign="c-7",
            device="mobile",
            surprise={"nested": [1, 2]},
        ),
        event("e2", customer_id=None, order_id=3.5),
    )
    events, _, _ = parse((FILE_A, data))
    assert events.schema.equals(EVENTS_SCHEMA)
    first, second = events.to_pylist()
    assert first["ts"] == datetime(2025, 3, 4, 21, 30, 0, 250_000, tzinfo=UTC)
    assert first["customer_id"] == 42 and first["order_id"] == 9_000_000_001
    assert (first["product_id"], first["anonymous_id"], first["device"]) == (
        "P-1",
        "anon",
        "mobile",
    )
    assert first["referrer"] is None and first["utm_campaign"] == "c-7"
    assert second["customer_id"] is None and second["order_id"] is None
    assert "surprise" not in events.column_names


def test_raw_text_is_truncated_and_loses_its_line_break() -> None:
    long_line = "x" * (RAW_MAX_CHARS * 3)
    _, quarantine, _ = parse((FILE_A, ndjson(long_line, "short\r")))
    assert quarantine.column("raw").to_pylist() == ["x" * RAW_MAX_CHARS, "short"]


def test_parsing_a_gzip_stream_in_small_blocks_matches_one_block() -> None:
    records = [event(f"e{i % 40}", device=str(i)) for i in range(100)] + ["oops"] * 3
    data = ndjson(*records)
    whole, whole_q, whole_counts = parse((FILE_A, data))
    events, quarantine = [], []
    with ClickParser() as parser:
        line_no = 1
        with gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(data))) as stream:
            for block in iter_blocks(stream, block_bytes=256):
                lines = split_lines(block, line_no)
                good, bad = parser.parse(lines, source_file=FILE_A)
                events.append(good)
                quarantine.append(bad)
                line_no += lines.num_rows
        counts = parser.counts
    assert len(events) > 10
    assert pa.concat_tables(events).equals(whole)
    assert pa.concat_tables(quarantine).equals(whole_q)
    assert counts == whole_counts
    assert (whole.num_rows, whole_q.num_rows, counts.rows_duplicate) == (40, 3, 60)


def test_an_empty_block_changes_nothing() -> None:
    with ClickParser() as parser:
        events, quarantine = parser.parse(split_lines(b"", 1), source_file=FILE_A)
        assert events.schema.equals(EVENTS_SCHEMA) and events.num_rows == 0
        assert quarantine.num_rows == 0
        assert parser.counts.rows_in == 0


def test_prefetch_keeps_order_and_passes_errors_on() -> None:
    ahead = Prefetch(iter(range(50)), depth=3)
    assert list(ahead) == list(range(50))
    ahead.close()

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("object vanished")

    got = []
    failed = Prefetch(failing())
    with pytest.raises(ValueError, match="object vanished"):
        for item in failed:
            got.append(item)
    failed.close()
    assert got == [1]


def test_leaving_prefetch_early_stops_the_producer() -> None:
    produced = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    ahead = Prefetch(endless(), depth=2)
    for item in ahead:
        if item == 5:
            break
    ahead.close()
    assert len(produced) <= 5 + 1 + 2 + 1  # consumed, the one in hand, queue, one blocked


def test_a_batch_of_files_gives_what_parsing_file_by_file_gives() -> None:
    a = ndjson(event("e1", device="first"), "{broken", event("e2"), event("e1"))
    b = ndjson(event("e2", device="later"), event("e3", event_type="teleport"), event("e4"))
    c = ndjson(event("e4"), event("e5", ts=...))
    one_by_one = parse((FILE_A, a), (FILE_B, b), ("c.json.gz", c))
    with ClickParser() as parser:
        events, quarantine = parser.parse_batch(
            [
                (FILE_A, split_lines(a, 1)),
                (FILE_B, split_lines(b, 1)),
                ("c.json.gz", split_lines(c, 1)),
            ]
        )
        counts = parser.counts
    assert events.equals(one_by_one[0]) and quarantine.equals(one_by_one[1])
    assert counts == one_by_one[2]
    assert {r["record_key"]: r["reason"] for r in quarantine.to_pylist()} == {
        f"{FILE_A}:2": "not_json",
        f"{FILE_B}:2": "unknown_event_type",
        "c.json.gz:2": "missing_ts",
    }
    # one chunk per file, as file-by-file parsing wrote them (the Parquet bytes follow chunks)
    assert [b.num_rows for b in events.to_batches()] == [2, 1]
    assert [b.num_rows for b in quarantine.to_batches()] == [1, 1, 1]


def test_a_large_batch_keeps_file_and_line_order() -> None:
    files = [
        (f"f{i}.json.gz", ndjson(*(event(f"e{(i * 7 + j) % 900}") for j in range(5000))))
        for i in range(4)
    ]
    expected, _, expected_counts = parse(*files)
    with ClickParser() as parser:
        events, _ = parser.parse_batch([(name, split_lines(data, 1)) for name, data in files])
        assert parser.counts == expected_counts
    assert events.equals(expected)
    got = list(
        zip(
            events.column("source_file").to_pylist(),
            events.column("source_line").to_pylist(),
            strict=True,
        )
    )
    assert got == sorted(got)


def test_ordered_blocks_keeps_key_order_and_passes_errors_on() -> None:
    def read(key: str) -> Iterator[pa.Table]:
        for i in range(3):
            yield split_lines(f"{key}-{i}\n".encode(), i + 1)

    got = [(key, t.column("line").to_pylist()) for key, t in ordered_blocks(list("abcde"), read)]
    assert got == [(k, [f"{k}-{i}\n"]) for k in "abcde" for i in range(3)]

    def failing(key: str) -> Iterator[pa.Table]:
        if key == "c":
            raise ValueError("object vanished")
        yield split_lines(key.encode(), 1)

    seen = []
    with pytest.raises(ValueError, match="object vanished"):
        for key, _ in ordered_blocks(list("abcd"), failing, workers=3):
            seen.append(key)
    assert seen == ["a", "b"]


def test_batches_group_blocks_up_to_a_size() -> None:
    blocks = [(f"k{i}", split_lines(b"x" * 99 + b"\n", 1)) for i in range(5)]
    grouped = [[key for key, _ in batch] for batch in batches(iter(blocks), 250)]
    assert grouped == [["k0", "k1", "k2"], ["k3", "k4"]]
