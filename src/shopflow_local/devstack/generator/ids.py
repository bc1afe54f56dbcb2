"""Id blocks and vectorised formatting of ids, uuids and timestamps into Arrow strings.

Every entity created on day index i takes its id from a block reserved for i, so
days never collide and a day's ids do not depend on other days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.errors import ShopflowError

US_PER_SECOND = 1_000_000
US_PER_HOUR = 3_600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR

NEW_CUSTOMER_BASE = 1_000_000_000
"""Base customers have ids 1..N0 < this; customers created on day i start at base + i*block."""
NEW_CUSTOMER_BLOCK = 10_000_000
ORDER_BLOCK = 100_000_000
"""Orders placed on day i have ids (i+1)*ORDER_BLOCK + 1 ... ."""


IntOrArray = TypeVar("IntOrArray", int, np.ndarray)


def new_customer_id_start(day: IntOrArray) -> IntOrArray:
    """First id of the customers created on day index ``day``."""
    return NEW_CUSTOMER_BASE + day * NEW_CUSTOMER_BLOCK


def creation_day_of(customer_ids: np.ndarray) -> np.ndarray:
    """Day index on which each customer was created; -1 for base customers."""
    day = (customer_ids - NEW_CUSTOMER_BASE) // NEW_CUSTOMER_BLOCK
    return np.where(customer_ids < NEW_CUSTOMER_BASE, -1, day)


def order_ids(day: int, count: int) -> np.ndarray:
    """Ids of the ``count`` orders placed on day index ``day``."""
    if count >= ORDER_BLOCK:
        raise ShopflowError(f"{count} orders in a day exceed the id block of {ORDER_BLOCK}")
    return (day + 1) * ORDER_BLOCK + 1 + np.arange(count, dtype=np.int64)


def check_block(count: int, block: int, what: str) -> None:
    """Refuse a day whose entities would overflow their id block."""
    if count >= block:
        raise ShopflowError(f"{count} {what} in a day exceed the id block of {block}")


def epoch_us(day: date) -> int:
    """Microseconds since 1970-01-01 at the start of day (UTC)."""
    return (day.toordinal() - date(1970, 1, 1).toordinal()) * US_PER_DAY


def as_datetime(us: int) -> datetime:
    """A naive UTC datetime from microseconds since 1970."""
    return datetime(1970, 1, 1) + timedelta(microseconds=int(us))


def strings_from_matrix(chars: np.ndarray) -> pa.StringArray:
    """Rows of an (n, w) uint8 ASCII matrix as an Arrow string array, without a Python loop."""
    n, width = chars.shape
    offsets = np.arange(n + 1, dtype=np.int32) * width
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as an (n, width) uint8 matrix."""
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = np.asarray(values).astype(np.int64)
    for pos in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        out[:, pos] = digit
    out += ord("0")
    return out


def text_matrix(n: int, *parts: str | tuple[np.ndarray, int]) -> np.ndarray:
    """An (n, w) uint8 matrix of fixed text pieces and zero-padded (values, width) numbers."""
    pieces = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(np.broadcast_to(np.frombuffer(part.encode(), np.uint8), (n, len(part))))
        else:
            pieces.append(digits(*part))
    return np.concatenate(pieces, axis=1) if pieces else np.empty((n, 0), np.uint8)


def padded(prefix: str, values: np.ndarray, width: int) -> pa.StringArray:
    """Strings ``prefix`` + zero-padded values, e.g. P000123."""
    values = np.asarray(values)
    if len(values) and int(values.max()) >= 10**width:
        raise ShopflowError(f"value {int(values.max())} does not fit {width} digits")
    return strings_from_matrix(text_matrix(len(values), prefix, (values, width)))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_PAIRS = np.ascontiguousarray(
    np.stack([_HEX[np.arange(256) >> 4], _HEX[np.arange(256) & 0x0F]], axis=1)
).view(np.uint16)[:, 0]
"""The two hex characters of every byte value, as one uint16 (memory order)."""
_UUID_GROUPS = ((0, 8), (9, 13), (14, 18), (19, 23), (24, 36))


def uuid_strings(hi: np.ndarray, lo: np.ndarray) -> pa.StringArray:
    """Version-4-shaped uuid strings from two uint64 arrays of random bits."""
    n = len(hi)
    raw = np.empty((n, 16), dtype=np.uint8)
    raw[:, :8] = hi.astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, 8:] = lo.astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.take(_HEX_PAIRS, raw).view(np.uint8)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    done = 0
    for start, stop in _UUID_GROUPS:
        chars[:, start:stop] = hexed[:, done : done + stop - start]
        done += stop - start
    return strings_from_matrix(chars)


def timestamps(us: np.ndarray, tz: str | None = None) -> pa.TimestampArray:
    """Microseconds since 1970 as an Arrow timestamp[us] array (naive UTC unless tz)."""
    return pa.array(np.asarray(us, dtype=np.int64), pa.int64()).cast(pa.timestamp("us", tz=tz))


def timestamp_matrix(us: np.ndarray, sep: str = "T", decimals: int = 6) -> np.ndarray:
    """'YYYY-MM-DD<sep>HH:MM:SS[.fff...]' of µs instants as an (n, w) uint8 matrix."""
    us = np.asarray(us, dtype=np.int64)
    days = us // US_PER_DAY
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    clock = us - days * US_PER_DAY
    parts: list[str | tuple[np.ndarray, int]] = [
        (year, 4), "-", (month, 2), "-", (day, 2), sep,
        (clock // US_PER_HOUR, 2), ":", (clock // 60_000_000 % 60, 2), ":",
        (clock // US_PER_SECOND % 60, 2),
    ]  # fmt: skip
    if decimals:
        parts += [".", (clock % US_PER_SECOND // 10 ** (6 - decimals), decimals)]
    return text_matrix(len(us), *parts)


def iso_utc(us: np.ndarray, decimals: int = 6) -> pa.StringArray:
    """ISO-8601 UTC strings ending in Z: fixed width, so they sort as instants."""
    return strings_from_matrix(text_matrix_join(timestamp_matrix(us, "T", decimals), "Z"))


def text_matrix_join(matrix: np.ndarray, suffix: str) -> np.ndarray:
    """matrix with a fixed suffix appended to every row."""
    return np.concatenate([matrix, text_matrix(len(matrix), suffix)], axis=1)


def sql_datetime(us: np.ndarray) -> pa.StringArray:
    """'YYYY-MM-DD HH:MM:SS.ffffff' strings, as DATETIME(6) literals and in SQLite."""
    return strings_from_matrix(timestamp_matrix(us, " ", 6))


def decimal_from_units(units: np.ndarray, scale: int, precision: int) -> pa.Array:
    """Exact decimal128(precision, scale) values from integer counts of 10^-scale."""
    whole = pa.array(np.asarray(units, dtype=np.int64), pa.int64()).cast(pa.decimal128(19, 0))
    step = pa.scalar(Decimal(1).scaleb(-scale), pa.decimal128(scale + 1, scale))
    return pc.multiply(whole, step).cast(pa.decimal128(precision, scale))
