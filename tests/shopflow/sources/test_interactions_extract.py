"""The marketing-API extract against the real simulator, run as a background process.

The fixture writes its own day files; expected counts come from those files, never from
the extract. The retry sleeper is a fake that records its waits, so no test waits.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from shopflow.errors import ShopflowError
from shopflow.sources.http_retry import RequestLog, RequestRejected, RetriesExhausted, RetryPolicy
from shopflow.sources.interactions import (
    INTERACTIONS_SCHEMA,
    classify,
    day_windows,
    extract_interactions,
    page_batch,
)
from shopflow.sources.result import ExtractResult
from shopflow.staging import Staging
from shopflow_local.devstack.generator.interactions import SCHEMA as API_DAY_FILE_SCHEMA
from shopflow_local.devstack.marketing_api.sample import day_file
from shopflow_local.devstack.process import (
    free_port,
    python_module,
    start_background,
    stop_background,
    wait_for_port,
)

DAY = date(2024, 3, 10)
TOKEN = "test-token-7f3a9c"
RECORDS_PER_DAY = 2_500
LIMIT = 100  # small pages: a day takes many requests and every window several pages
START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
TYPES = ("email_sent", "email_open", "email_click", "sms_sent", "sms_click", "push_open")
OFFSETS = (0, 60, -300, 330, 540, -480, 345, 14 * 60, -12 * 60)  # minutes


# -- fixture day files ------------------------------------------------------------------


@dataclass
class Fixture:
    """What the day files hold, for independent expectations."""

    data_dir: Path
    rows: list[dict[str, Any]] = field(default_factory=list)

    def of_day(self, day: date) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["occurred_at_utc"].date() == day]


def as_offset(moment: datetime, minutes: int, *, fraction: bool = True) -> str:
    """``moment`` written in another UTC offset, ISO-8601 (``Z`` for zero)."""
    local = moment.astimezone(timezone(timedelta(minutes=minutes)))
    text = local.isoformat(timespec="microseconds" if fraction else "seconds")
    return text.replace("+00:00", "Z")


def record(
    rid: str,
    moment: datetime,
    minutes: int,
    rng: random.Random,
    occurred_at: str | None = None,
    *,
    fraction: bool | None = None,
) -> dict[str, Any]:
    """One API record at ``moment``, its text in offset ``minutes``, µs shown or not."""
    if fraction is None:
        fraction = rng.random() < 0.5
    if not fraction:
        moment = moment.replace(microsecond=0)
    kind = rng.choice(TYPES)
    email = f"user{rng.randrange(10_000)}@example.com"
    if rng.random() < 0.05:
        email = f"  {email.upper()} "
    return {
        "id": rid,
        "email": email,
        "type": kind,
        "channel": kind.split("_")[0],
        "campaign_id": f"cmp-{rng.randrange(40):03d}",
        "occurred_at": occurred_at or as_offset(moment, minutes, fraction=fraction),
        "occurred_at_utc": moment,
        "properties": json.dumps({"n": rng.randrange(100), "tag": rng.choice("abc")}),
    }


# Records placed around the day's edges, written in offsets that put their local date
# on the other side of midnight: (id, instant, offset minutes, belongs to DAY).
EDGE_CASES = [
    ("edge-first-instant", START, -240, True),  # 2024-03-09T20:00-04:00
    ("edge-late-in-day", START + timedelta(hours=23, minutes=30), 120, True),  # next date local
    ("edge-last-us", START + timedelta(days=1, microseconds=-1), 330, True),
    ("edge-prev-day", START - timedelta(microseconds=1), 330, False),  # local date is DAY
    ("edge-next-day", START + timedelta(days=1), -300, False),  # local date is DAY
]
# Records of DAY whose occurred_at text the extract must quarantine.
BAD_TIMES = {
    "bad-garbage": ("not a timestamp", "bad_occurred_at"),
    "bad-no-offset": ("2024-03-10T10:00:00", "bad_occurred_at"),
    "bad-date-only": ("2024-03-10", "bad_occurred_at"),
    "bad-month": ("2024-13-10T10:00:00Z", "bad_occurred_at"),
    "bad-other-day": ("2024-03-12T10:00:00Z", "outside_day"),
}


def build_fixture(data_dir: Path, per_day: int = RECORDS_PER_DAY, seed: int = 7) -> Fixture:
    """Day files for DAY-1 .. DAY+1 with edge and bad records; returns what they hold."""
    rng = random.Random(seed)
    fixture = Fixture(data_dir)
    for offset in (-1, 0, 1):
        day_start = START + timedelta(days=offset)
        for i in range(per_day):
            moment = day_start + timedelta(microseconds=rng.randrange(86_400_000_000))
            rid = f"i-{day_start:%Y%m%d}-{i:06d}"
            fixture.rows.append(record(rid, moment, rng.choice(OFFSETS), rng))
    # two records at the same instant: the tie is broken by id
    same = START + timedelta(hours=12)
    fixture.rows += [record(rid, same, 0, rng) for rid in ("tie-b", "tie-a")]
    for rid, moment, minutes, _ in EDGE_CASES:
        fixture.rows.append(record(rid, moment, minutes, rng, fraction=True))
    for n, (rid, (text, _)) in enumerate(BAD_TIMES.items()):
        fixture.rows.append(record(rid, START + timedelta(hours=n + 1), 0, rng, text))
    write_day_files(data_dir, fixture.rows)
    return fixture


def write_day_files(data_dir: Path, rows: list[dict[str, Any]]) -> None:
    """One generator-format day file per UTC day (rows unsorted, occurred_at as given)."""
    for day in sorted({r["occurred_at_utc"].date() for r in rows}):
        part = [r for r in rows if r["occurred_at_utc"].date() == day]
        path = day_file(data_dir, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(part, schema=API_DAY_FILE_SCHEMA), path)


# -- the simulator ----------------------------------------------------------------------


@dataclass
class Simulator:
    """A running simulator and an admin client for it."""

    base_url: str
    admin: httpx.Client
    fixture: Fixture

    def faults(self, **changes: Any) -> None:
        self.admin.put("/_admin/faults", json=changes).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = self.admin.get("/_admin/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """The simulator on a free port over the fixture files; no repeats unless a test asks."""
    root = tmp_path_factory.mktemp("marketing-api")
    fixture = build_fixture(root / "data")
    port = free_port()
    run_dir = root / "run"
    argv = python_module(
        "shopflow_local.devstack.marketing_api",
        *("--port", str(port), "--data-dir", str(fixture.data_dir)),
        *("--repeat-rate", "0", "--rate-limit", "0", "--log-level", "warning"),
    )
    # the token goes through the environment, not argv (argv is visible in ps)
    start_background(
        "marketing-api", argv, run_dir=run_dir, env={"SHOPFLOW_MARKETING_API_TOKEN": TOKEN}
    )
    try:
        try:
            wait_for_port(port, timeout=30)
        except ShopflowError:
            log = (run_dir / "marketing-api.log").read_text(errors="replace")
            pytest.fail(f"the simulator did not start:\n{log[-3000:]}")
        base_url = f"http://127.0.0.1:{port}"
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as admin:
            yield Simulator(base_url, admin, fixture)
    finally:
        stop_background("marketing-api", run_dir=run_dir)


@pytest.fixture
def api(simulator: Simulator) -> Simulator:
    """The simulator with zeroed stats and its start-up faults."""
    simulator.admin.post("/_admin/reset").raise_for_status()
    return simulator


@pytest.fixture
def staging(tmp_path: Path) -> Staging:
    return Staging.from_uri(str(tmp_path / "staging"))


class Recorder:
    """A fake sleeper and a request observer in one."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.requests: list[RequestLog] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def observe(self, log: RequestLog) -> None:
        self.requests.append(log)


def extract(api: Simulator, staging: Staging, recorder: Recorder, **kwargs: Any) -> ExtractResult:
    options: dict[str, Any] = {
        "base_url": api.base_url,
        "token": TOKEN,
        "staging": staging,
        "limit": LIMIT,
        "policy": RetryPolicy(rng=lambda: 0.0),
        "sleeper": recorder.sleep,
        "on_request": recorder.observe,
    }
    options.update(kwargs)
    return extract_interactions(DAY, **options)


def staged(staging: Staging, table: str = "interactions") -> pa.Table:
    return staging.read_table("interactions", DAY, table)


# -- the tests against the simulator ----------------------------------------------------


@pytest.mark.integration
def test_stages_every_record_of_the_day(api: Simulator, staging: Staging) -> None:
    recorder = Recorder()
    result = extract(api, staging, recorder)

    day_rows = api.fixture.of_day(DAY)
    good = [r for r in day_rows if r["id"] not in BAD_TIMES]
    assert result.rows_in == len(day_rows) == api.stats()["records_served"]
    assert result.rows_loaded == len(good)
    assert (result.rows_duplicate, result.rows_quarantined) == (0, len(BAD_TIMES))
    assert result.tables == {"interactions": len(good), "quarantine": len(BAD_TIMES)}
    assert result.bytes_in > 0
    assert result.manifest_uri == staging.manifest_uri("interactions", DAY)
    assert staging.read_manifest("interactions", DAY).counts == result.counts()

    table = staged(staging)
    assert table.schema.equals(INTERACTIONS_SCHEMA)
    expected = {r["id"]: r for r in good}
    assert sorted(table["interaction_id"].to_pylist()) == sorted(expected)
    for row in table.to_pylist():
        source = expected[row["interaction_id"]]
        assert row["occurred_at"] == source["occurred_at_utc"]
        assert row["occurred_at_raw"] == source["occurred_at"]
        assert row["email"] == source["email"]  # as received, blanks and case kept
        assert (row["type"], row["channel"], row["campaign_id"]) == (
            source["type"],
            source["channel"],
            source["campaign_id"],
        )
        assert json.loads(row["properties"]) == json.loads(source["properties"])
    keys = list(
        zip(table["occurred_at"].to_pylist(), table["interaction_id"].to_pylist(), strict=True)
    )
    assert keys == sorted(keys)
    # many pages per window, each a request that succeeded first time
    assert len(recorder.requests) > 8 * 2
    assert all(r.attempts == 1 for r in recorder.requests)
    assert recorder.sleeps == []


@pytest.mark.integration
def test_records_near_midnight_land_in_their_utc_day(api: Simulator, staging: Staging) -> None:
    extract(api, staging, Recorder())
    ids = set(staged(staging)["interaction_id"].to_pylist())
    for rid, _, _, inside in EDGE_CASES:
        assert (rid in ids) is inside, rid
    table = staged(staging)
    first = table.slice(0, 1).to_pylist()[0]
    last = table.slice(table.num_rows - 1, 1).to_pylist()[0]
    assert (first["interaction_id"], first["occurred_at"]) == ("edge-first-instant", START)
    assert first["occurred_at_raw"].startswith("2024-03-09T20:00:00")
    assert first["occurred_at_raw"].endswith("-04:00")
    assert last["interaction_id"] == "edge-last-us"
    ties = [i for i in table["interaction_id"].to_pylist() if i.startswith("tie-")]
    assert ties == ["tie-a", "tie-b"]


@pytest.mark.integration
def test_unparseable_times_are_quarantined_without_the_email(
    api: Simulator, staging: Staging
) -> None:
    extract(api, staging, Recorder())
    quarantine = staged(staging, "quarantine")
    reasons = dict(
        zip(quarantine["record_key"].to_pylist(), quarantine["reason"].to_pylist(), strict=True)
    )
    assert reasons == {rid: reason for rid, (_, reason) in BAD_TIMES.items()}
    by_id = {r["id"]: r for r in api.fixture.rows}
    emails = {rid: r["email"].strip().lower() for rid, r in by_id.items()}
    for row in quarantine.to_pylist():
        raw = json.loads(row["raw"])
        assert raw["id"] == row["record_key"]
        assert raw["occurred_at"] == BAD_TIMES[row["record_key"]][0]
        assert raw["properties"] == json.loads(by_id[row["record_key"]]["properties"])
        assert "email" not in raw
        assert emails[row["record_key"]] not in row["raw"].lower()


@pytest.mark.integration
def test_a_second_extract_stages_identical_parquet(api: Simulator, staging: Staging) -> None:
    first = extract(api, staging, Recorder())
    manifest1 = staging.read_manifest("interactions", DAY)
    table1 = staged(staging)
    # another slicing and concurrency must not change the result either
    second = extract(api, staging, Recorder(), slices=5, concurrency=2)
    manifest2 = staging.read_manifest("interactions", DAY)
    assert first.counts() == second.counts()
    assert staged(staging).equals(table1)
    files1 = {name: [(f.key, f.sha256) for f in t.files] for name, t in manifest1.tables.items()}
    files2 = {name: [(f.key, f.sha256) for f in t.files] for name, t in manifest2.tables.items()}
    assert files1 == files2


@pytest.mark.integration
def test_repeated_records_are_counted_as_duplicates(api: Simulator, staging: Staging) -> None:
    clean = extract(api, staging, Recorder())
    clean_table = staged(staging)
    api.admin.post("/_admin/reset").raise_for_status()
    api.faults(repeat_rate=0.05, seed=3)

    result = extract(api, staging, Recorder())
    stats = api.stats()
    assert stats["repeated_records_served"] > 50
    assert result.rows_duplicate == stats["repeated_records_served"]
    assert result.rows_in == stats["records_served"] == clean.rows_in + result.rows_duplicate
    assert result.rows_loaded == clean.rows_loaded
    assert staged(staging).equals(clean_table)


@pytest.mark.integration
def test_survives_throttling_honouring_retry_after(api: Simulator, staging: Staging) -> None:
    api.faults(throttle_next=1, retry_after=7)
    recorder = Recorder()
    result = extract(api, staging, recorder)
    assert recorder.sleeps == [7.0]
    assert api.stats()["requests_by_status"]["429"] == 1
    throttled = [r for r in recorder.requests if r.attempts > 1]
    assert [r.outcomes for r in throttled] == [["429", "200"]]
    assert result.rows_loaded == len(api.fixture.of_day(DAY)) - len(BAD_TIMES)


@pytest.mark.integration
def test_survives_two_503s_with_three_attempts(api: Simulator, staging: Staging) -> None:
    api.faults(fail_next=2, fail_code=503)
    recorder = Recorder()
    result = extract(api, staging, recorder, concurrency=1)
    retried = [r for r in recorder.requests if r.attempts > 1]
    assert len(retried) == 1
    assert retried[0].attempts == 3
    assert retried[0].outcomes == ["503", "503", "200"]
    assert recorder.sleeps == [0.5, 1.0]  # base 0.5, factor 2, no jitter
    by_status = api.stats()["requests_by_status"]
    assert by_status["503"] == 2
    assert by_status["200"] == len(recorder.requests)
    assert result.rows_loaded == len(api.fixture.of_day(DAY)) - len(BAD_TIMES)


@pytest.mark.integration
def test_wrong_token_fails_fast_with_one_request(
    api: Simulator, staging: Staging, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-token-0b1d"
    with pytest.raises(RequestRejected, match=r"rejected the token \(401\)") as caught:
        extract(api, staging, recorder, token=wrong)
    assert caught.value.status == 401
    assert api.stats()["requests"] == 1
    assert api.stats()["requests_by_status"] == {"401": 1}
    assert recorder.sleeps == []
    assert not staging.has_partition("interactions", DAY)
    for text in (str(caught.value), repr(caught.value.log), caplog.text):
        assert wrong not in text


@pytest.mark.integration
def test_always_failing_server_exhausts_retries(
    api: Simulator, staging: Staging, caplog: pytest.LogCaptureFixture
) -> None:
    api.faults(always_fail=502)
    recorder = Recorder()
    caplog.set_level(logging.DEBUG)
    policy = RetryPolicy(max_attempts=4, rng=lambda: 0.0)
    with pytest.raises(RetriesExhausted) as caught:
        extract(api, staging, recorder, policy=policy)
    assert caught.value.status == 502
    assert "after 4 attempts" in str(caught.value)
    assert api.stats()["requests_by_status"] == {"502": 4}  # no fan-out to other windows
    assert recorder.sleeps == [0.5, 1.0, 2.0]
    assert not staging.has_partition("interactions", DAY)
    assert TOKEN not in caplog.text and TOKEN not in str(caught.value)


class RevokingTransport(httpx.BaseTransport):
    """The real network, until the server seems to revoke the token after ``allowed`` requests."""

    def __init__(self, allowed: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.allowed = allowed
        self.calls = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.calls += 1
            revoked = self.calls > self.allowed
        if revoked:
            return httpx.Response(403, json={"error": "revoked"}, request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.integration
def test_a_window_failing_midway_stops_the_others_and_keeps_the_last_commit(
    api: Simulator, staging: Staging
) -> None:
    good = extract(api, staging, Recorder())
    before = staging.read_manifest("interactions", DAY)
    full_walk = api.stats()["requests"]
    api.admin.post("/_admin/reset").raise_for_status()

    transport = RevokingTransport(allowed=5)
    with pytest.raises(RequestRejected, match=r"refused access \(403\)"):
        extract(api, staging, Recorder(), transport=transport, concurrency=4)
    # requests in flight when the first 403 came may finish; none start after it
    assert transport.calls <= transport.allowed + 4
    assert api.stats()["requests"] == transport.allowed < full_walk
    after = staging.read_manifest("interactions", DAY)
    assert after.tables == before.tables
    assert after.tables["interactions"].rows == good.rows_loaded


# -- the pure steps, no server ------------------------------------------------------------


@pytest.mark.unit
def test_day_windows_cover_the_day_exactly() -> None:
    windows = day_windows(DAY, 7)
    assert windows[0][0] == START
    assert windows[-1][1] == START + timedelta(days=1)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    lengths = {end - start for start, end in windows}
    assert max(lengths) - min(lengths) <= timedelta(microseconds=1)
    assert day_windows(DAY, 1) == [(START, START + timedelta(days=1))]
    with pytest.raises(ValueError):
        day_windows(DAY, 0)


@pytest.mark.unit
def test_classify_accounts_for_every_record() -> None:
    def rec(rid: Any, at: Any, **extra: Any) -> dict[str, Any]:
        return {
            "id": rid,
            "email": "A@x.io ",
            "type": "email_open",
            "channel": "email",
            "campaign_id": "c1",
            "occurred_at": at,
            "properties": {"b": 1, "a": [2]},
            **extra,
        }

    page1 = [
        rec("b", "2024-03-10T05:00:00+05:30"),  # 2024-03-09T23:30Z: outside the day
        rec("a", "2024-03-10T01:00:00-01:00"),  # 02:00Z
        rec(None, "2024-03-10T01:00:00Z"),
        rec("  ", "2024-03-10T01:00:00Z"),
        "not an object",
    ]
    page2 = [
        rec("a", "2024-03-10T01:00:00-01:00"),  # repeated
        rec("c", "2024-03-10T00:00:00.5Z"),
        rec(7, "2024-03-10T03:00:00+00:00"),  # a numeric id is kept as text
        rec("d", 1710000000),  # not a string
    ]
    pages = pa.Table.from_batches([page_batch(page1), page_batch(page2)])
    result = classify(pages, START, START + timedelta(days=1))
    assert result.counts == {
        "rows_in": 9,
        "rows_loaded": 3,
        "rows_duplicate": 1,
        "rows_quarantined": 5,
    }
    table = result.interactions
    assert table["interaction_id"].to_pylist() == ["c", "a", "7"]
    assert table["occurred_at"].to_pylist()[1] == START + timedelta(hours=2)
    assert table["properties"].to_pylist()[0] == '{"a":[2],"b":1}'
    assert table["email"].to_pylist()[0] == "A@x.io "
    reasons = sorted(
        zip(
            result.quarantine["record_key"].to_pylist(),
            result.quarantine["reason"].to_pylist(),
            strict=True,
        )
    )
    assert reasons == [
        ("", "missing_id"),
        ("", "missing_id"),
        ("  ", "missing_id"),
        ("b", "outside_day"),
        ("d", "bad_occurred_at"),
    ]


@pytest.mark.unit
def test_classify_of_nothing_is_empty_but_typed() -> None:
    result = classify(pa.Table.from_batches([page_batch([])]), START, START + timedelta(days=1))
    assert result.counts == dict.fromkeys(
        ("rows_in", "rows_loaded", "rows_duplicate", "rows_quarantined"), 0
    )
    assert result.interactions.schema.equals(INTERACTIONS_SCHEMA)
    assert pc.sum(pc.is_null(result.interactions["occurred_at"])).as_py() in (0, None)
