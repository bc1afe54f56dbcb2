"""One page of a keyset-paginated walk, with the at-least-once repeats.

A page holds the records picked for repetition among the previous page's new records,
then new records up to the limit. The cursor remembers the key range of the previous
page's new records, so pages are computed without server state. When the last new
records include picked ones, one more page serves just those repeats: a client that
walks every page sees each picked record exactly twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shopflow_local.devstack.marketing_api import jsonio
from shopflow_local.devstack.marketing_api.query import MAX_LIMIT, Cursor, Query, QueryError
from shopflow_local.devstack.marketing_api.store import InteractionStore


@dataclass(frozen=True)
class Page:
    """A response body and what it holds."""

    body: bytes
    records: int
    repeated: int


def build_page(store: InteractionStore, query: Query, repeat: Callable[[str], bool]) -> Page:
    """The page for ``query``; ``repeat(id)`` says which records are served twice."""
    cursor = query.cursor
    repeats = []
    if cursor is not None:
        previous = store.select(
            query.start_us,
            query.end_us,
            after=cursor.previous,
            through=cursor.after,
            limit=MAX_LIMIT + 1,
        )
        if len(previous) > MAX_LIMIT:
            raise QueryError("cursor: not a cursor this API issued")
        repeats = previous.picked_json_parts(repeat)
    after = cursor.after if cursor else None
    wanted = query.limit - len(repeats)
    fresh = store.select(query.start_us, query.end_us, after=after, limit=wanted + 1)
    more = len(fresh) > wanted
    if more:
        fresh = fresh.head(wanted)
    last = fresh.last_key()
    next_cursor = None
    if last is not None and (more or any(repeat(record_id) for record_id in fresh.ids())):
        next_cursor = Cursor(query.start_us, query.end_us, last, after)
    elif last is None and more and after is not None:
        # Repeats filled the page: the next one starts where this one would have.
        next_cursor = Cursor(query.start_us, query.end_us, after, after)
    parts = repeats + fresh.json_parts()
    return Page(
        body=_envelope(parts, next_cursor), records=len(repeats) + len(fresh), repeated=len(repeats)
    )


def _envelope(parts: list[memoryview], cursor: Cursor | None) -> bytes:
    """``{"data": [...], "next_cursor": ...}`` from record JSON parts that end in commas."""
    if parts:
        parts[-1] = parts[-1][:-1]
    tail = jsonio.encode(cursor.encode() if cursor else None)
    return b"".join([b'{"data":[', *parts, b'],"next_cursor":', tail, b"}"])
