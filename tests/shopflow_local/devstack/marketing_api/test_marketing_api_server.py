"""The marketing-API simulator as a real background server, driven over TCP with httpx."""

from __future__ import annotations

import os
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

import shopflow
from shopflow.errors import ShopflowError
from shopflow_local.devstack.marketing_api.sample import write_day_file
from shopflow_local.devstack.process import (
    free_port,
    python_module,
    start_background,
    stop_background,
    wait_for_port,
)

pytestmark = pytest.mark.integration

MODULE = "shopflow_local.devstack.marketing_api"
SRC = Path(shopflow.__file__).resolve().parents[1]
TOKEN = "integration-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAYS = {date(2026, 11, 20): 1500, date(2026, 11, 21): 1200}
ZONES = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))]
WINDOW = {"start": "2026-11-20T00:00:00+00:00", "end": "2026-11-22T00:00:00+00:00"}


@dataclass
class Server:
    url: str
    log: Path


def _env() -> dict[str, str]:
    paths = [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}


def _records(day: date, count: int) -> list[dict[str, Any]]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    step = timedelta(seconds=86_400 / count)
    return [
        {
            "id": f"{day:%Y%m%d}-{i:05d}",
            "email": f" Lead{i}@Example.COM",
            "type": "email_click",
            "channel": "email",
            "campaign_id": f"cmp-{i % 7}",
            "occurred_at": (start + i * step).astimezone(ZONES[i % 3]).isoformat(),
            "properties": {"link": f"https://shop.example/p/{i}"},
        }
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("marketing-data")
    for day, count in DAYS.items():
        write_day_file(root, day, _records(day, count))
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("marketing-run")


@contextmanager
def _running(name: str, run_dir: Path, data_dir: Path, *flags: str) -> Iterator[Server]:
    port = free_port()
    argv = python_module(
        MODULE, "--port", str(port), "--data-dir", str(data_dir), "--token", TOKEN, *flags
    )
    start_background(name, argv, run_dir=run_dir, env=_env())
    log = run_dir / f"{name}.log"
    try:
        wait_for_port(port, timeout=60)
    except ShopflowError:
        stop_background(name, run_dir=run_dir)
        pytest.fail(f"{name} did not start:\n{log.read_text()}")
    try:
        yield Server(f"http://127.0.0.1:{port}", log)
    finally:
        stop_background(name, run_dir=run_dir)


@pytest.fixture(scope="module")
def server(run_dir: Path, data_dir: Path) -> Iterator[Server]:
    with _running("marketing-api", run_dir, data_dir, "--repeat-rate", "0.01", "--seed", "7") as up:
        yield up


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
        http.post("/_admin/reset").raise_for_status()
        yield http


def test_health_answers_without_a_token(server: Server) -> None:
    response = httpx.get(f"{server.url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_wrong_or_missing_token_gets_401(server: Server) -> None:
    url = f"{server.url}/v1/interactions"
    assert httpx.get(url, params=WINDOW, timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(url, params=WINDOW, headers=wrong, timeout=10).status_code == 401


def test_a_full_walk_sees_every_record_and_the_repeats(client: httpx.Client) -> None:
    counts: Counter[str] = Counter()
    params: dict[str, Any] = {**WINDOW, "limit": 1000}
    pages = 0
    while True:
        response = client.get("/v1/interactions", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= 1000
        counts.update(rec["id"] for rec in body["data"])
        pages += 1
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    repeated = sum(n - 1 for n in counts.values())
    stats = client.get("/_admin/stats").json()

    assert len(counts) == sum(DAYS.values())
    assert max(counts.values()) <= 2
    assert 0 < repeated < 100  # 1 % of 2,700
    assert stats["repeated_records_served"] == repeated
    assert stats["requests_by_status"] == {"200": pages}


def test_injected_5xx_then_recovery(client: httpx.Client) -> None:
    client.put("/_admin/faults", json={"fail_next": 2, "fail_code": 502}).raise_for_status()
    codes = [client.get("/v1/interactions", params=WINDOW).status_code for _ in range(3)]
    assert codes == [502, 502, 200]


def test_throttled_requests_get_429_with_retry_after(client: httpx.Client) -> None:
    client.put("/_admin/faults", json={"throttle_next": 1, "retry_after": 3}).raise_for_status()
    throttled = client.get("/v1/interactions", params=WINDOW)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "3"
    assert client.get("/v1/interactions", params=WINDOW).status_code == 200


def test_startup_flags_set_faults_and_the_rate_limit(run_dir: Path, data_dir: Path) -> None:
    flags = ("--rate-limit", "0.01", "--burst", "1", "--error-rate", "1", "--error-codes", "502")
    with _running("marketing-api-strict", run_dir, data_dir, *flags) as server:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
            first = http.get("/v1/interactions", params=WINDOW)
            second = http.get("/v1/interactions", params=WINDOW)
        assert first.status_code == 502
        assert second.status_code == 429
        assert int(second.headers["retry-after"]) >= 90  # a token takes 100 s to come back


def test_the_token_never_reaches_the_log(server: Server, client: httpx.Client) -> None:
    client.get("/v1/interactions", params=WINDOW)
    log = server.log.read_text()
    assert "GET /v1/interactions" in log
    assert TOKEN not in log


def test_a_port_in_use_is_a_one_line_error(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = python_module(
            MODULE, "--port", str(port), "--data-dir", str(data_dir), "--token", TOKEN
        )
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env={**os.environ, **_env()}
        )
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
