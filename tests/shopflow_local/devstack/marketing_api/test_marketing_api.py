"""The marketing-API simulator, in process: auth, pagination, repeats, faults, admin, reloads."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient, Response

from shopflow_local.devstack.marketing_api import FaultConfig, build_app
from shopflow_local.devstack.marketing_api.faults import FaultError, FaultState, is_repeated
from shopflow_local.devstack.marketing_api.ratelimit import TokenBucket, retry_after_seconds
from shopflow_local.devstack.marketing_api.sample import write_day_file
from shopflow_local.devstack.marketing_api.store import InteractionStore

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAY = "2026-11-20"
WINDOW = {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z"}
NO_REPEATS = FaultConfig(repeat_rate=0.0)


def record(record_id: str, occurred_at: str, **extra: Any) -> dict[str, Any]:
    """One interaction as the generator writes it (``occurred_at`` with its own offset)."""
    return {
        "id": record_id,
        "email": f" {record_id.upper()}@Example.com ",
        "type": "email_open",
        "channel": "email",
        "campaign_id": "cmp-1",
        "occurred_at": occurred_at,
        "properties": {"subject": "Sale", "n": 1},
        **extra,
    }


def write_day(data_dir: Path, day: str, records: list[dict[str, Any]]) -> Path:
    return write_day_file(data_dir, date.fromisoformat(day), records)


def spread(day: str, count: int, *, prefix: str = "r", offset_hours: int = -5) -> list[dict]:
    """``count`` records through a UTC day, written with a non-UTC offset, in shuffled order."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    zone = timezone(timedelta(hours=offset_hours))
    step = timedelta(seconds=86_400 // count)
    records = [
        record(f"{prefix}{i:05d}", (start + i * step).astimezone(zone).isoformat())
        for i in range(count)
    ]
    return records[1::2] + records[0::2]


async def fetch(client: AsyncClient, params: dict[str, Any]) -> Response:
    """GET /v1/interactions with the token."""
    return await client.get("/v1/interactions", params=params, headers=AUTH)


async def fetch_ids(client: AsyncClient, params: dict[str, Any]) -> list[str]:
    """The ids on the first page of a query."""
    response = await fetch(client, params)
    assert response.status_code == 200, response.text
    return [rec["id"] for rec in response.json()["data"]]


async def walk(client: AsyncClient, params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Every page of a query, following next_cursor."""
    pages = []
    query = dict(params)
    for _ in range(10_000):
        response = await fetch(client, query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["data"])
        if body["next_cursor"] is None:
            return pages
        query["cursor"] = body["next_cursor"]
    raise AssertionError("the walk never ended")


def utc_key(rec: dict[str, Any]) -> tuple[datetime, str]:
    return datetime.fromisoformat(rec["occurred_at"]).astimezone(UTC), rec["id"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client_for(data_dir: Path, faults: FaultConfig | None = None, **options: Any) -> AsyncClient:
    """An HTTP client talking to a fresh app in process (no rate limit unless given)."""
    options.setdefault("rate_limit", None)
    app = build_app(data_dir, TOKEN, faults, **options)
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://marketing-api")


@pytest.fixture
async def client(data_dir: Path) -> AsyncIterator[AsyncClient]:
    async with client_for(data_dir, NO_REPEATS) as test_client:
        yield test_client


async def test_health_needs_no_token(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong-token", "wrong-scheme"],
)
async def test_data_and_admin_need_the_bearer_token(client: AsyncClient, headers: dict) -> None:
    for method, path in [
        ("GET", "/v1/interactions"),
        ("GET", "/_admin/faults"),
        ("PUT", "/_admin/faults"),
        ("GET", "/_admin/stats"),
        ("POST", "/_admin/reset"),
    ]:
        response = await client.request(method, path, params=WINDOW, headers=headers)
        assert response.status_code == 401, (method, path)
        assert "error" in response.json()
    assert (await fetch(client, WINDOW)).status_code == 200


async def test_records_have_the_contract_shape(client: AsyncClient, data_dir: Path) -> None:
    written = record("a1", "2026-11-20T10:15:00.123456-05:00", properties={"x": [1, "é"]})
    write_day(data_dir, DAY, [written])
    body = (await fetch(client, WINDOW)).json()
    assert body == {"data": [written], "next_cursor": None}


async def test_walk_returns_every_record_once_in_a_stable_order(
    client: AsyncClient, data_dir: Path
) -> None:
    first = spread(DAY, 40, prefix="a", offset_hours=9)
    # Ties on the instant are ordered by id, also across page boundaries.
    tied = [record(f"t{i}", "2026-11-21T05:00:00+05:00") for i in (3, 1, 2, 5, 4)]
    second = spread("2026-11-21", 30, prefix="b") + tied
    write_day(data_dir, DAY, first)
    write_day(data_dir, "2026-11-21", second)
    params = {"start": "2026-11-20T00:00:00Z", "end": "2026-11-22T00:00:00Z", "limit": 7}

    pages = await walk(client, params)
    served = [rec for page in pages for rec in page]

    assert all(1 <= len(page) <= 7 for page in pages)
    assert sorted(rec["id"] for rec in served) == sorted(r["id"] for r in first + second)
    assert [utc_key(rec) for rec in served] == sorted(utc_key(r) for r in first + second)
    assert [rec["id"] for rec in served if rec["id"].startswith("t")] == [
        "t1",
        "t2",
        "t3",
        "t4",
        "t5",
    ]
    assert await walk(client, params) == pages


async def test_default_limit_is_100(client: AsyncClient, data_dir: Path) -> None:
    write_day(data_dir, DAY, spread(DAY, 150))
    body = (await fetch(client, WINDOW)).json()
    assert len(body["data"]) == 100
    assert body["next_cursor"]


async def test_window_is_start_inclusive_end_exclusive_at_any_offset(
    client: AsyncClient, data_dir: Path
) -> None:
    write_day(
        data_dir,
        DAY,
        [
            record("before", "2026-11-20T04:59:59.999999-00:00"),
            record("at-start", "2026-11-20T00:00:00-05:00"),  # 05:00 UTC
            record("early", "2026-11-20T12:00:00+09:00"),  # 03:00 UTC
            record("late", "2026-11-20T09:59:59.999999+00:00"),
            record("at-end", "2026-11-20T11:00:00+01:00"),  # 10:00 UTC
        ],
    )

    async def ids(start: str, end: str) -> list[str]:
        return await fetch_ids(client, {"start": start, "end": end, "limit": 1000})

    assert await ids("2026-11-20T14:00:00+09:00", "2026-11-20T05:00:00-05:00") == [
        "at-start",
        "late",
    ]
    assert await ids("2026-11-20T05:00:00", "2026-11-20T10:00:00Z") == ["at-start", "late"]
    assert await ids("2026-11-20T04:59:59.999999Z", "2026-11-20T10:00:00.000001Z") == [
        "before",
        "at-start",
        "late",
        "at-end",
    ]
    assert await ids("2026-11-20", "2026-11-20T03:00:00.000001+00:00") == ["early"]


async def test_window_reaches_across_day_files_and_missing_days(
    client: AsyncClient, data_dir: Path
) -> None:
    write_day(data_dir, "2026-11-18", [record("d18", "2026-11-18T23:00:00Z")])
    write_day(data_dir, "2026-11-21", [record("d21", "2026-11-21T01:00:00Z")])
    params = {"start": "2026-11-18T12:00:00Z", "end": "2026-11-21T12:00:00Z", "limit": 1}
    assert [r["id"] for page in await walk(client, params) for r in page] == ["d18", "d21"]
    empty = (await fetch(client, WINDOW)).json()
    assert empty == {"data": [], "next_cursor": None}


async def test_records_outside_their_file_day_are_skipped(
    client: AsyncClient, data_dir: Path
) -> None:
    write_day(
        data_dir, DAY, [record("in", "2026-11-20T01:00:00Z"), record("out", "2026-11-21T01:00:00Z")]
    )
    params = {"start": "2026-11-19T00:00:00Z", "end": "2026-11-23T00:00:00Z"}
    assert await fetch_ids(client, params) == ["in"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"end": WINDOW["end"]}, "start"),
        ({"start": WINDOW["start"]}, "end"),
        ({**WINDOW, "start": "yesterday"}, "start"),
        ({**WINDOW, "start": "2026-11-20T00:00:00 05:00"}, "%2B"),
        ({"start": WINDOW["end"], "end": WINDOW["start"]}, "end"),
        ({**WINDOW, "end": WINDOW["start"]}, "end"),
        ({**WINDOW, "limit": 0}, "limit"),
        ({**WINDOW, "limit": 1001}, "limit"),
        ({**WINDOW, "limit": -1}, "limit"),
        ({**WINDOW, "limit": "ten"}, "limit"),
        ({**WINDOW, "limit": "1.5"}, "limit"),
        ({**WINDOW, "cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_bad_parameters_get_400(client: AsyncClient, params: dict, message: str) -> None:
    response = await fetch(client, params)
    assert response.status_code == 400
    assert message in response.json()["error"]


async def test_limit_bounds_are_accepted(client: AsyncClient, data_dir: Path) -> None:
    write_day(data_dir, DAY, spread(DAY, 3))
    for limit in (1, 1000):
        response = await fetch(client, {**WINDOW, "limit": limit})
        assert response.status_code == 200
        assert len(response.json()["data"]) == min(limit, 3)


async def test_cursor_of_another_query_gets_400(client: AsyncClient, data_dir: Path) -> None:
    write_day(data_dir, DAY, spread(DAY, 10))
    cursor = (await fetch(client, {**WINDOW, "limit": 2})).json()["next_cursor"]
    other = {**WINDOW, "start": "2026-11-20T01:00:00Z", "cursor": cursor}
    response = await fetch(client, other)
    assert response.status_code == 400
    assert "different start/end" in response.json()["error"]
    # The same instants written with another offset are the same query.
    same = {"start": "2026-11-19T19:00:00-05:00", "end": WINDOW["end"], "cursor": cursor}
    assert (await fetch(client, same)).status_code == 200


async def test_repeats_come_back_on_the_next_page_deterministically(data_dir: Path) -> None:
    records = spread(DAY, 400)
    write_day(data_dir, DAY, records)
    faults = FaultConfig(repeat_rate=0.25, seed=5)
    async with client_for(data_dir, faults) as client:
        pages = await walk(client, {**WINDOW, "limit": 9})
        stats = (await client.get("/_admin/stats", headers=AUTH)).json()
        again = await walk(client, {**WINDOW, "limit": 9})
        bigger_pages = await walk(client, {**WINDOW, "limit": 50})
    async with client_for(data_dir, FaultConfig(repeat_rate=0.25, seed=6)) as client:
        other_seed = await walk(client, {**WINDOW, "limit": 9})

    def repeated(walked: list[list[dict]]) -> set[str]:
        counts = Counter(rec["id"] for page in walked for rec in page)
        assert set(counts) == {r["id"] for r in records}
        assert set(counts.values()) <= {1, 2}
        return {record_id for record_id, n in counts.items() if n == 2}

    twice = repeated(pages)
    assert twice == {r["id"] for r in records if is_repeated(r["id"], seed=5, rate=0.25)}
    assert 60 <= len(twice) <= 140  # 25 % of 400
    assert all(len(page) <= 9 for page in pages)
    for record_id in twice:
        on = [k for k, page in enumerate(pages) if any(r["id"] == record_id for r in page)]
        assert len(on) == 2 and on[1] == on[0] + 1, f"{record_id} is on pages {on}"
    assert stats["repeated_records_served"] == len(twice)
    assert stats["records_served"] == 400 + len(twice)
    assert again == pages
    assert repeated(bigger_pages) == twice
    assert repeated(other_seed) != twice


async def test_a_repeat_on_the_last_page_gets_one_more_page(data_dir: Path) -> None:
    write_day(data_dir, DAY, spread(DAY, 4))
    async with client_for(data_dir, FaultConfig(repeat_rate=1.0)) as client:
        pages = await walk(client, {**WINDOW, "limit": 4})
    assert [len(page) for page in pages] == [4, 4]
    assert pages[0] == pages[1]


async def test_repeats_can_fill_a_page_and_the_walk_still_advances(data_dir: Path) -> None:
    write_day(data_dir, DAY, spread(DAY, 6))
    async with client_for(data_dir, FaultConfig(repeat_rate=1.0)) as client:
        pages = await walk(client, {**WINDOW, "limit": 2})
    ids = [[r["id"] for r in page] for page in pages]
    assert ids == [
        ["r00000", "r00001"],
        ["r00000", "r00001"],
        ["r00002", "r00003"],
        ["r00002", "r00003"],
        ["r00004", "r00005"],
        ["r00004", "r00005"],
    ]


async def statuses(client: AsyncClient, count: int) -> list[int]:
    return [(await fetch(client, WINDOW)).status_code for _ in range(count)]


async def test_error_rate_is_reproducible_from_the_seed(data_dir: Path) -> None:
    faults = FaultConfig(error_rate=0.5, error_codes=(500, 502, 503), seed=3)
    async with client_for(data_dir, faults) as client:
        first = await statuses(client, 40)
        await client.post("/_admin/reset", headers=AUTH)
        after_reset = await statuses(client, 40)
        await client.put("/_admin/faults", json={"seed": 4}, headers=AUTH)
        other_seed = await statuses(client, 40)
    async with client_for(data_dir, faults) as client:
        fresh_app = await statuses(client, 40)
    assert set(first) == {200, 500, 502, 503}
    assert 8 <= first.count(200) <= 32
    assert first == after_reset == fresh_app
    assert other_seed != first


async def test_error_rate_set_at_run_time(client: AsyncClient) -> None:
    settings = await client.put(
        "/_admin/faults", json={"error_rate": 1, "error_codes": [502]}, headers=AUTH
    )
    assert settings.status_code == 200
    assert settings.json()["error_codes"] == [502]
    response = await fetch(client, WINDOW)
    assert response.status_code == 502
    assert response.json() == {"error": "injected fault"}


async def test_fail_next_fails_exactly_n_requests(client: AsyncClient) -> None:
    await client.put("/_admin/faults", json={"fail_next": 2, "fail_code": 502}, headers=AUTH)
    assert (await client.get("/_admin/faults", headers=AUTH)).json()["fail_next"] == 2
    assert await statuses(client, 4) == [502, 502, 200, 200]
    assert (await client.get("/_admin/faults", headers=AUTH)).json()["fail_next"] == 0


async def test_throttle_next_sends_429_with_retry_after(client: AsyncClient) -> None:
    await client.put("/_admin/faults", json={"throttle_next": 2, "retry_after": 7}, headers=AUTH)
    responses = [await fetch(client, WINDOW) for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 200]
    assert [r.headers.get("retry-after") for r in responses] == ["7", "7", None]


async def test_always_fail_until_cleared(client: AsyncClient) -> None:
    await client.put("/_admin/faults", json={"always_fail": 503}, headers=AUTH)
    assert await statuses(client, 5) == [503] * 5
    await client.put("/_admin/faults", json={"always_fail": None}, headers=AUTH)
    assert await statuses(client, 1) == [200]


async def test_latency_is_added_through_the_sleeper(data_dir: Path) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with client_for(data_dir, FaultConfig(latency_ms=250), sleep=sleep) as client:
        assert await statuses(client, 2) == [200, 200]
        await client.get("/health")
    assert slept == [0.25, 0.25]


async def test_rate_limit_answers_429_with_retry_after(data_dir: Path) -> None:
    now = [100.0]
    options = {"rate_limit": 0.25, "burst": 2, "clock": lambda: now[0]}
    async with client_for(data_dir, NO_REPEATS, **options) as client:
        responses = [await fetch(client, WINDOW) for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 429]
        assert responses[2].headers["retry-after"] == "4"
        assert responses[2].json() == {"error": "rate limit exceeded"}
        assert (await client.get("/health")).status_code == 200
        now[0] += 4.0
        assert await statuses(client, 2) == [200, 429]


async def test_stats_count_data_requests_by_status_and_reset(
    client: AsyncClient, data_dir: Path
) -> None:
    write_day(data_dir, DAY, spread(DAY, 5))
    await fetch(client, WINDOW)
    await client.get("/v1/interactions", params=WINDOW)
    await fetch(client, {"start": "x"})
    await client.put("/_admin/faults", json={"fail_next": 1}, headers=AUTH)
    await fetch(client, WINDOW)
    stats = (await client.get("/_admin/stats", headers=AUTH)).json()
    assert stats == {
        "requests": 4,
        "requests_by_status": {"200": 1, "400": 1, "401": 1, "503": 1},
        "records_served": 5,
        "repeated_records_served": 0,
    }
    await client.put("/_admin/faults", json={"always_fail": 500, "latency_ms": 5}, headers=AUTH)
    reset = await client.post("/_admin/reset", headers=AUTH)
    assert reset.status_code == 200
    assert (await client.get("/_admin/stats", headers=AUTH)).json()["requests"] == 0
    assert (await client.get("/_admin/faults", headers=AUTH)).json() == NO_REPEATS.as_json()


async def test_faults_endpoint_shows_and_validates_settings(client: AsyncClient) -> None:
    assert (await client.get("/_admin/faults", headers=AUTH)).json() == {
        "error_rate": 0.0,
        "error_codes": [500, 502, 503],
        "latency_ms": 0,
        "repeat_rate": 0.0,
        "always_fail": None,
        "fail_next": 0,
        "fail_code": 503,
        "throttle_next": 0,
        "retry_after": 1,
        "seed": 0,
    }
    for bad in [
        {"error_rate": 1.5},
        {"error_codes": [200]},
        {"error_codes": []},
        {"always_fail": 42},
        {"fail_next": -1},
        {"retry_after": 0},
        {"latency_ms": "slow"},
        {"seed": True},
        {"colour": "red"},
    ]:
        response = await client.put("/_admin/faults", json=bad, headers=AUTH)
        assert response.status_code == 400, bad
        assert response.json()["error"]
    assert (await client.put("/_admin/faults", content=b"[1]", headers=AUTH)).status_code == 400
    assert (await client.put("/_admin/faults", content=b"{", headers=AUTH)).status_code == 400
    assert (await client.get("/_admin/faults", headers=AUTH)).json()["error_rate"] == 0.0


async def test_a_replaced_day_file_is_read_again(client: AsyncClient, data_dir: Path) -> None:
    path = write_day(data_dir, DAY, spread(DAY, 3))
    assert len((await fetch(client, WINDOW)).json()["data"]) == 3
    write_day(data_dir, DAY, spread(DAY, 5, prefix="new"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    data = (await fetch(client, WINDOW)).json()["data"]
    assert [r["id"][:3] for r in data] == ["new"] * 5
    path.unlink()
    assert (await fetch(client, WINDOW)).json()["data"] == []


async def test_a_broken_day_file_gets_500_with_the_reason(
    client: AsyncClient, data_dir: Path
) -> None:
    write_day(data_dir, DAY, [record("a", "2026-11-20T01:00:00Z", properties=[1, 2])])
    response = await fetch(client, WINDOW)
    assert response.status_code == 500
    assert "JSON objects" in response.json()["error"]


async def test_unknown_paths_answer_json_404(client: AsyncClient) -> None:
    response = await client.get("/v2/nothing", headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(2.0, 3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.take() == 0.0
    now[0] = 100.0
    assert [bucket.take() for _ in range(4)][-1] == pytest.approx(0.5)
    assert [retry_after_seconds(w) for w in (0.01, 1.0, 1.2)] == [1, 1, 2]


def test_fault_state_counts_down_scripted_faults_first() -> None:
    state = FaultState(FaultConfig(throttle_next=1, retry_after=9, fail_next=1, fail_code=500))
    first, second, third = (state.next_fault() for _ in range(3))
    assert first is not None and (first.status, first.retry_after) == (429, 9)
    assert second is not None and (second.status, second.retry_after) == (500, None)
    assert third is None


def test_fault_config_rejects_nonsense() -> None:
    with pytest.raises(FaultError, match="repeat_rate"):
        FaultConfig(repeat_rate=-0.1)
    with pytest.raises(FaultError, match="unknown"):
        FaultConfig().updated({"nope": 1})


def test_repeat_choice_depends_on_seed_and_id_only() -> None:
    ids = [f"id-{i}" for i in range(2000)]
    picked = [i for i in ids if is_repeated(i, seed=1, rate=0.1)]
    assert 140 <= len(picked) <= 260
    assert picked == [i for i in ids if is_repeated(i, seed=1, rate=0.1)]
    assert picked != [i for i in ids if is_repeated(i, seed=2, rate=0.1)]
    assert not any(is_repeated(i, seed=1, rate=0.0) for i in ids)
    assert all(is_repeated(i, seed=1, rate=1.0) for i in ids)


@pytest.mark.parametrize(("max_bytes", "kept"), [(10**9, 3), (1, 1)])
def test_store_keeps_days_within_its_byte_budget(tmp_path: Path, max_bytes: int, kept: int) -> None:
    days = ["2026-11-20", "2026-11-21", "2026-11-22"]
    for day in days:
        write_day(tmp_path, day, spread(day, 20))
    store = InteractionStore(tmp_path, max_cached_bytes=max_bytes)
    for day in days:
        data = store.day(date.fromisoformat(day))
        assert data is not None and len(data) == 20 and data.nbytes > 0
    assert store.cached_days() == [date.fromisoformat(d) for d in days][-kept:]
