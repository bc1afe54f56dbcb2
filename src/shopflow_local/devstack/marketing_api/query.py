"""The query string of ``GET /v1/interactions``: a time window, a page size, a cursor."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

from shopflow_local.devstack.marketing_api import jsonio
from shopflow_local.devstack.marketing_api.store import Key

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_DIGITS = re.compile(r"^[0-9]{1,7}$")
_CURSOR_VERSION = 1


class QueryError(ValueError):
    """A bad parameter; the message is the API's error text."""


@dataclass(frozen=True)
class Cursor:
    """Where a walk stands: the last key served and the key before the previous page."""

    start_us: int
    end_us: int
    after: Key
    previous: Key | None

    def encode(self) -> str:
        """The opaque string handed to the client."""
        prev_us, prev_id = self.previous if self.previous else (None, None)
        payload = [_CURSOR_VERSION, self.start_us, self.end_us, *self.after, prev_us, prev_id]
        return base64.urlsafe_b64encode(jsonio.encode(payload)).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor string, or raise QueryError."""
        invalid = QueryError("cursor: not a cursor this API issued")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            version, start, end, after_us, after_id, prev_us, prev_id = jsonio.decode(raw)
        except (binascii.Error, jsonio.DecodeError, ValueError, TypeError) as exc:
            raise invalid from exc
        if version != _CURSOR_VERSION or not (
            _is_int(start) and _is_int(end) and _is_int(after_us) and isinstance(after_id, str)
        ):
            raise invalid
        previous: Key | None = None
        if _is_int(prev_us) and isinstance(prev_id, str):
            previous = (prev_us, prev_id)
        elif prev_us is not None or prev_id is not None:
            raise invalid
        return cls(start, end, (after_us, after_id), previous)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Query:
    """A validated request: [start, end) in µs since the epoch, the page size, the cursor."""

    start_us: int
    end_us: int
    limit: int
    cursor: Cursor | None


def parse_instant(name: str, text: str) -> int:
    """An ISO-8601 timestamp (any offset; naive means UTC) as µs since the epoch."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        hint = " (url-encode '+' as %2B)" if " " in text else ""
        raise QueryError(f"{name}: not an ISO-8601 timestamp: {text!r}{hint}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_US


def parse_query(params: Mapping[str, str]) -> Query:
    """Validate the query parameters, or raise QueryError."""
    for name in ("start", "end"):
        if not params.get(name):
            raise QueryError(f"{name}: required (an ISO-8601 timestamp)")
    start_us = parse_instant("start", params["start"])
    end_us = parse_instant("end", params["end"])
    if end_us <= start_us:
        raise QueryError("end: must be after start")
    limit_text = params.get("limit", str(DEFAULT_LIMIT))
    limit = int(limit_text) if _DIGITS.match(limit_text) else 0
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit: expected an integer 1..{MAX_LIMIT}, got {limit_text!r}")
    cursor = None
    if params.get("cursor"):
        cursor = Cursor.decode(params["cursor"])
        if (cursor.start_us, cursor.end_us) != (start_us, end_us):
            raise QueryError("cursor: issued for a different start/end")
    return Query(start_us, end_us, limit, cursor)
