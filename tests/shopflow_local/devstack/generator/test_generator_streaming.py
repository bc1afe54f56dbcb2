"""The streamed clickstream (pieces of hours, gzip fed piece by piece) and the uncached
orders and session streams give exactly the data of the in-memory paths."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from shopflow_local.devstack.generator import GeneratorConfig, clickstream, generate_day, orders
from shopflow_local.devstack.generator.config import day_index
from shopflow_local.devstack.generator.writers.clickstream_s3 import (
    gzip_lines,
    gzip_packer,
    pack_lines,
)

pytestmark = pytest.mark.unit

CFG = GeneratorConfig(seed=7, scale=0.01)
DAY = date(2025, 1, 9)


def test_hour_pieces_are_the_collector_lines_of_each_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = generate_day(DAY, CFG).click_lines
    monkeypatch.setattr(clickstream, "SLICE_EVENTS", 97)
    pieces = list(clickstream.hour_slices(day_index(DAY), CFG, keep_streams=False))
    hours = [hour for hour, _ in pieces]
    assert hours == sorted(hours)
    assert len(pieces) > len(set(hours))
    file_hour = lines.column("file_hour").to_numpy()
    for hour in set(hours):
        streamed = [line for h, piece in pieces if h == hour for line in piece.to_pylist()]
        expected = lines.column("line").filter(pa.array(file_hour == hour)).to_pylist()
        assert streamed == expected, hour


def test_gzip_fed_piece_by_piece_gives_the_same_bytes() -> None:
    lines = generate_day(DAY, CFG).click_lines.column("line")
    packer = gzip_packer()
    out: list[bytes] = []
    for start in range(0, len(lines), 113):
        out += pack_lines(packer, lines.slice(start, 113))
    assert b"".join([*out, packer.flush()]) == gzip_lines(lines)


def test_uncached_orders_and_sessions_are_the_cached_ones() -> None:
    index = day_index(DAY)
    cached = orders.orders_of_day(index, CFG)
    uncached = orders.orders_of_day(index, CFG, cached=False)
    assert cached.orders.equals(uncached.orders)
    assert cached.items.equals(uncached.items)
    a = clickstream.events_under_day(index, CFG)
    b = clickstream.events_under_day(index, CFG, cached=False)
    for key, value in a.events.items():
        assert np.array_equal(value, b.events[key]), key
