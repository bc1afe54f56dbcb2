"""Marketing API (data contract, S2) to staging: every interaction of UTC day D.

The day is cut into ``slices`` equal [start, end) windows, walked concurrently by a
thread pool sharing one ``httpx.Client``; each window follows ``next_cursor`` to its end.
Threads, not asyncio: the task runs synchronously inside an Airflow worker, the injected
transport and sleeper are the synchronous kinds, and the per-page work (JSON decoding,
Arrow building) holds the GIL either way, so an event loop would buy nothing but a
second code path. The first page is fetched alone before fanning out, so a rejected token
or a dead server costs exactly one request (or one retried request), never one per slice.

Each page becomes an Arrow batch as it arrives. Once all pages are in, DuckDB parses
``occurred_at`` (any offset) to UTC, drops repeated ids (``rows_duplicate``) and sends
records without an id or with an unparseable or out-of-day ``occurred_at`` to
``quarantine``. Staged rows are sorted by (occurred_at, interaction_id); quarantined
rows keep their record minus the email (raw emails never reach the warehouse).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import httpx
import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow.errors import ShopflowError
from shopflow.sources.http_retry import RequestLog, RetryPolicy, send_with_retry
from shopflow.sources.quarantine import QUARANTINE_SCHEMA, RAW_MAX_CHARS
from shopflow.sources.result import ExtractResult
from shopflow.staging import Staging

log = logging.getLogger(__name__)

SOURCE = "interactions"
TABLE = "interactions"
SERVICE = "marketing API"
PATH = "/v1/interactions"
MAX_LIMIT = 1000
TIMEOUT = httpx.Timeout(60.0, connect=10.0)

UTC_TS = pa.timestamp("us", tz="UTC")
INTERACTIONS_SCHEMA = pa.schema(
    [
        pa.field("interaction_id", pa.string(), nullable=False),
        pa.field("email", pa.string()),
        pa.field("type", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("campaign_id", pa.string()),
        pa.field("occurred_at_raw", pa.string()),
        pa.field("occurred_at", UTC_TS, nullable=False),
        pa.field("properties", pa.string()),
    ]
)
"""The staged ``interactions`` table; ``properties`` is canonical JSON text (sorted keys)."""

PAGE_SCHEMA = pa.schema(
    [
        pa.field("interaction_id", pa.string()),
        pa.field("email", pa.string()),
        pa.field("type", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("campaign_id", pa.string()),
        pa.field("occurred_at_raw", pa.string()),
        pa.field("properties", pa.string()),
    ]
)
"""One page as received, every field as text; ``occurred_at`` is parsed later, in bulk."""

_FIELDS = (
    ("interaction_id", "id"),
    ("email", "email"),
    ("type", "type"),
    ("channel", "channel"),
    ("campaign_id", "campaign_id"),
    ("occurred_at_raw", "occurred_at"),
)
ISO_WITH_OFFSET = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)"
"""An ISO-8601 date-time that names its UTC offset; anything else is quarantined."""


# -- pure: windows, page conversion, classification ---------------------------------


def day_windows(business_date: date, slices: int) -> list[tuple[datetime, datetime]]:
    """UTC day D cut into ``slices`` contiguous [start, end) windows of equal length (±1 µs)."""
    if slices < 1:
        raise ValueError("slices must be >= 1")
    start = datetime(business_date.year, business_date.month, business_date.day, tzinfo=UTC)
    day_us = 86_400_000_000
    bounds = [start + timedelta(microseconds=day_us * i // slices) for i in range(slices + 1)]
    return list(itertools.pairwise(bounds))


def iso_z(moment: datetime) -> str:
    """An aware datetime as ISO-8601 UTC with a ``Z`` (no ``+`` to escape in a URL)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


_SORTED_JSON = msgspec.json.Encoder(order="sorted")


def canonical_json(value: Any) -> str:
    """Compact JSON text with sorted keys: the same value always gives the same text."""
    return _SORTED_JSON.encode(value).decode()


def _text_column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # a number or an object where text belongs
        return pa.array(
            [v if v is None or isinstance(v, str) else canonical_json(v) for v in values],
            pa.string(),
        )


def page_batch(records: Sequence[Any]) -> pa.RecordBatch:
    """The records of one page as an Arrow batch (PAGE_SCHEMA); non-text values as JSON."""
    rows = [record if isinstance(record, dict) else {} for record in records]
    arrays = [_text_column([row.get(key) for row in rows]) for _, key in _FIELDS]
    properties = [
        None if (value := row.get("properties")) is None else _SORTED_JSON.encode(value).decode()
        for row in rows
    ]
    arrays.append(pa.array(properties, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=PAGE_SCHEMA)


@dataclass(frozen=True)
class Classified:
    """The records of a day, split: staged rows, quarantined rows and counts."""

    interactions: pa.Table
    quarantine: pa.Table
    rows_in: int
    rows_duplicate: int

    @property
    def counts(self) -> dict[str, int]:
        """The four reconciliation counts (data contract, rule 9)."""
        return {
            "rows_in": self.rows_in,
            "rows_loaded": self.interactions.num_rows,
            "rows_duplicate": self.rows_duplicate,
            "rows_quarantined": self.quarantine.num_rows,
        }


_CLASSIFY_SQL = f"""
with parsed as (
    select
        *,
        case
            when regexp_full_match(occurred_at_raw, '{ISO_WITH_OFFSET}')
            then try_cast(occurred_at_raw as timestamptz)
        end as occurred_at
    from pages
)
select
    _ord,
    occurred_at,
    case
        when interaction_id is null or trim(interaction_id) = '' then 'missing_id'
        when row_number() over (partition by interaction_id order by _ord) > 1 then 'duplicate'
        when occurred_at is null then 'bad_occurred_at'
        when occurred_at < $start or occurred_at >= $end then 'outside_day'
    end as fate
from parsed
order by _ord
"""


def classify(pages: pa.Table, start: datetime, end: datetime) -> Classified:
    """Parse, deduplicate (first arrival wins) and sort the records received for [start, end).

    ``pages`` has PAGE_SCHEMA in arrival order.
    """
    ordinal = pa.array(np.arange(pages.num_rows, dtype=np.int64))
    keys = pa.table(
        {
            "interaction_id": pages["interaction_id"],
            "occurred_at_raw": pages["occurred_at_raw"],
            "_ord": ordinal,
        }
    )
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.register("pages", keys)
        # a narrow verdict per record, in arrival order: the text columns never leave Arrow
        verdict = con.sql(_CLASSIFY_SQL, params={"start": start, "end": end}).to_arrow_table()
    table = pages.append_column("occurred_at", verdict["occurred_at"]).append_column(
        "fate", verdict["fate"]
    )
    fate = table["fate"]
    # sort the keys of the good rows, then copy the wide rows once, in their final order
    good = pc.indices_nonzero(pc.is_null(fate))
    order = pc.sort_indices(
        table.select(["occurred_at", "interaction_id"]).take(good),
        sort_keys=[("occurred_at", "ascending"), ("interaction_id", "ascending")],
    )
    rows = table.take(pc.take(good, order))
    interactions = pa.Table.from_arrays(
        [rows[f.name].cast(f.type) for f in INTERACTIONS_SCHEMA], schema=INTERACTIONS_SCHEMA
    )
    duplicates = pc.sum(pc.equal(fate, "duplicate").cast(pa.int64())).as_py() or 0
    bad = table.filter(pc.fill_null(pc.not_equal(fate, "duplicate"), False))
    return Classified(
        interactions=interactions,
        quarantine=quarantine_table(bad),
        rows_in=pages.num_rows,
        rows_duplicate=int(duplicates),
    )


def quarantine_table(bad: pa.Table) -> pa.Table:
    """QUARANTINE_SCHEMA rows for classified records; ``raw`` leaves the email out."""
    rows = []
    for record in bad.to_pylist():
        raw: dict[str, Any] = {key: record[name] for name, key in _FIELDS if key != "email"}
        props = record["properties"]
        raw["properties"] = None if props is None else msgspec.Raw(props.encode())
        rows.append(
            {
                "record_key": record["interaction_id"] or "",
                "raw": canonical_json(raw)[:RAW_MAX_CHARS],
                "reason": record["fate"],
            }
        )
    rows.sort(key=lambda r: (r["record_key"], r["reason"], r["raw"]))
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


# -- I/O: the API client ------------------------------------------------------------


class ExtractCancelled(ShopflowError):
    """Another window failed; this one stopped early."""


@dataclass
class Page:
    """One page as received."""

    records: list[Any]
    next_cursor: str | None
    size: int


@dataclass
class WindowResult:
    """What one window's walk produced."""

    batches: list[pa.RecordBatch] = field(default_factory=list)
    pages: int = 0
    bytes_in: int = 0


class MarketingApiClient:
    """``GET /v1/interactions`` with bearer auth and retries; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        policy: RetryPolicy,
        sleeper: Callable[[float], None],
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 4,
        on_request: Callable[[RequestLog], None] | None = None,
    ) -> None:
        if not token:
            raise ShopflowError(f"{SERVICE}: no token configured")
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=TIMEOUT,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )
        self._policy = policy
        self._sleeper = sleeper
        self._on_request = on_request

    def __enter__(self) -> MarketingApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def page(
        self,
        start: datetime,
        end: datetime,
        limit: int,
        cursor: str | None,
        label: str,
        stop: threading.Event | None = None,
    ) -> Page:
        """One page of [start, end), retried per the policy; raises ShopflowError for good.

        When ``stop`` is set, no further attempt is made (ExtractCancelled).
        """
        params = {"start": iso_z(start), "end": iso_z(end), "limit": str(limit)}
        if cursor is not None:
            params["cursor"] = cursor

        def send() -> httpx.Response:
            if stop is not None and stop.is_set():
                raise ExtractCancelled(f"{label}: stopped because another window failed")
            return self._client.get(PATH, params=params)

        response, record = send_with_retry(
            send,
            policy=self._policy,
            sleeper=self._sleeper,
            label=label,
            service=SERVICE,
        )
        if self._on_request is not None:
            self._on_request(record)
        try:
            body = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise ShopflowError(
                f"{SERVICE} answered {label} with a body that is not JSON"
            ) from None
        if not isinstance(body, dict):
            body = {}
        data, next_cursor = body.get("data"), body.get("next_cursor")
        if not isinstance(data, list) or not (next_cursor is None or isinstance(next_cursor, str)):
            raise ShopflowError(f"{SERVICE} answered {label} without a data list and a next_cursor")
        return Page(data, next_cursor or None, len(response.content))

    def walk(
        self,
        start: datetime,
        end: datetime,
        limit: int,
        *,
        name: str,
        cursor: str | None = None,
        stop: threading.Event | None = None,
        first_page: int = 1,
    ) -> Iterator[Page]:
        """Every page of [start, end) from ``cursor`` (page number ``first_page``) on.

        Stops early when ``stop`` is set; a cursor seen before fails the walk.
        """
        seen: set[str] = set()
        number = first_page - 1
        while True:
            number += 1
            label = f"GET {PATH} {name} page {number}"
            page = self.page(start, end, limit, cursor, label, stop)
            yield page
            if page.next_cursor is None:
                return
            if page.next_cursor == cursor or page.next_cursor in seen:
                raise ShopflowError(f"{SERVICE} repeated a cursor at {label}; the walk would loop")
            seen.add(page.next_cursor)
            cursor = page.next_cursor


def _walk_window(
    client: MarketingApiClient,
    window: tuple[datetime, datetime],
    limit: int,
    name: str,
    stop: threading.Event,
    first: Page | None = None,
) -> WindowResult:
    """All pages of one window as Arrow batches; ``first`` is its page 1 if already fetched.

    A failure sets ``stop`` at once, so no window starts another request after it.
    """
    try:
        return _walk(client, window, limit, name, stop, first)
    except BaseException:
        stop.set()
        raise


def _walk(
    client: MarketingApiClient,
    window: tuple[datetime, datetime],
    limit: int,
    name: str,
    stop: threading.Event,
    first: Page | None,
) -> WindowResult:
    result = WindowResult()

    def take(page: Page) -> None:
        result.batches.append(page_batch(page.records))
        result.pages += 1
        result.bytes_in += page.size

    cursor = None
    if first is not None:
        take(first)
        if first.next_cursor is None:
            return result
        cursor = first.next_cursor
    pages = client.walk(
        *window, limit, name=name, cursor=cursor, stop=stop, first_page=result.pages + 1
    )
    for page in pages:
        take(page)
    return result


def fetch_day(
    client: MarketingApiClient,
    windows: Sequence[tuple[datetime, datetime]],
    *,
    limit: int,
    concurrency: int,
) -> tuple[pa.Table, int, int]:
    """Every record of the windows in window and page order; also bytes and pages read.

    Window 0's first page goes alone, so a fatal answer stops the extract after one request.
    """
    names = [f"window {i + 1}/{len(windows)}" for i in range(len(windows))]
    first = client.page(*windows[0], limit, None, f"GET {PATH} {names[0]} page 1")
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="interactions") as pool:
        futures: list[Future[WindowResult]] = [
            pool.submit(_walk_window, client, window, limit, name, stop, first if i == 0 else None)
            for i, (window, name) in enumerate(zip(windows, names, strict=True))
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        errors = [e for f in futures if f in done and (e := f.exception()) is not None]
        if errors:
            stop.set()
            for future in futures:
                future.cancel()
            real = [e for e in errors if not isinstance(e, ExtractCancelled)]
            raise (real or errors)[0]
        results = [future.result() for future in futures]
    batches = [batch for result in results for batch in result.batches]
    table = pa.Table.from_batches(batches, schema=PAGE_SCHEMA)
    return table, sum(r.bytes_in for r in results), sum(r.pages for r in results)


# -- the entry point ------------------------------------------------------------------


def extract_interactions(
    business_date: date,
    *,
    base_url: str,
    token: str,
    staging: Staging,
    slices: int = 8,
    limit: int = 1000,
    concurrency: int = 4,
    policy: RetryPolicy | None = None,
    sleeper: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
    run_id: str | None = None,
    on_request: Callable[[RequestLog], None] | None = None,
) -> ExtractResult:
    """Stage every interaction of UTC day ``business_date``: tables interactions, quarantine.

    ``on_request`` sees every logical request's attempts (for tests and metrics); the token
    goes into the Authorization header only, never into logs, errors or the result.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    started = time.perf_counter()
    windows = day_windows(business_date, slices)
    with MarketingApiClient(
        base_url,
        token,
        policy=policy or RetryPolicy(),
        sleeper=sleeper,
        transport=transport,
        max_connections=concurrency,
        on_request=on_request,
    ) as client:
        pages, bytes_in, page_count = fetch_day(
            client, windows, limit=limit, concurrency=concurrency
        )
    classified = classify(pages, windows[0][0], windows[-1][1])
    del pages
    counts = classified.counts
    with staging.writer(SOURCE, business_date, run_id=run_id) as writer:
        writer.declare(TABLE, INTERACTIONS_SCHEMA)
        writer.declare("quarantine", QUARANTINE_SCHEMA)
        writer.write(TABLE, classified.interactions)
        writer.write("quarantine", classified.quarantine)
        writer.set_counts(**counts)
    result = ExtractResult(
        source=SOURCE,
        business_date=business_date,
        manifest_uri=writer.manifest_uri,
        bytes_in=bytes_in,
        seconds=time.perf_counter() - started,
        tables={
            TABLE: classified.interactions.num_rows,
            "quarantine": classified.quarantine.num_rows,
        },
        **counts,
    )
    log.info("%s (%d pages)", result.summary(), page_count)
    return result
