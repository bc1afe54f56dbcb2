"""Following a DAG run through the REST API: the lines printed, the errors, the outcome."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import pytest

from shopflow.errors import ShopflowError
from shopflow_local.airflow_runtime.follow import Progress, error_line, follow_run

pytestmark = pytest.mark.unit


def _ti(task_id: str, state: str | None, **extra: object) -> dict[str, object]:
    return {"task_id": task_id, "map_index": -1, "state": state, "try_number": 1, **extra}


def test_following_a_run_prints_one_line_per_change() -> None:
    progress = Progress()
    checks = [f"quality.check_{i}" for i in range(6)]
    assert progress.update([_ti("extract.a", "queued"), *[_ti(c, None) for c in checks]], 0) == []
    lines = progress.update([_ti("extract.a", "running"), *[_ti(c, None) for c in checks]], 1)
    assert len(lines) == 1 and "extract.a" in lines[0] and lines[0].endswith("running")
    assert progress.update([_ti("extract.a", "running"), *[_ti(c, None) for c in checks]], 2) == []
    done = _ti("extract.a", "success", duration=2.5)
    running = [_ti(c, "running" if i < 2 else "queued") for i, c in enumerate(checks)]
    lines = progress.update([done, *running], 3)
    assert [line.split()[1:] for line in lines] == [
        ["extract.a", "success", "2.5s"],
        ["quality", "running", "(6", "tasks)"],
    ]
    assert progress.update([done, *[_ti(c, "running") for c in checks]], 4) == []
    ended = [_ti(c, "failed" if i == 3 else "success") for i, c in enumerate(checks)]
    (line,) = progress.update([done, *ended], 5)
    assert line.split()[1:] == ["quality", "failed", "1/6", "(check_3)"]
    retry = _ti("extract.a", "up_for_retry")
    (line,) = progress.update([retry, *ended], 6)
    assert line.endswith("up_for_retry (try 1 failed)")


def test_the_error_of_a_failed_try_is_its_exception_in_one_line() -> None:
    log: list[dict[str, Any]] = [
        {"event": "starting", "level": "info"},
        {
            "event": "Task failed with exception",
            "level": "error",
            "error_detail": [
                {"exc_type": "AirflowFailException", "exc_value": "rejected (401)\nmore"},
                {"exc_type": "RequestRejected", "exc_value": "the cause"},
            ],
        },
        {"event": "callback done", "level": "info"},
    ]
    assert error_line(log) == "AirflowFailException: rejected (401)"
    assert error_line([{"event": "no DAG\nat all", "level": "error"}]) == "no DAG"
    assert error_line([{"event": "fine", "level": "info"}]) is None


class FakeClient:
    """The REST calls follow_run makes, answered from a script of (run state, task instances)."""

    base_url = "http://127.0.0.1:18090"

    def __init__(self, polls: list[tuple[str, list[dict[str, Any]]]], log: list[Any]) -> None:
        self._polls = polls
        self._log = log
        self._at = -1
        self.logs_read: list[tuple[str, str, int, int]] = []

    def dag_run(self, run_id: str) -> dict[str, Any]:
        self._at = min(self._at + 1, len(self._polls) - 1)
        state = self._polls[self._at][0]
        ended = {"duration": 7.25} if state in {"success", "failed"} else {}
        return {"dag_run_id": run_id, "state": state, **ended}

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        return self._polls[self._at][1]

    def task_log(
        self, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> list[Any]:
        self.logs_read.append((run_id, task_id, try_number, map_index))
        return self._log


RUN_ID = "manual__2026-11-29T01:00:00+00:00"
QUOTED_URL = (
    "http://127.0.0.1:18090/dags/shop_daily_etl/runs/manual__2026-11-29T01%3A00%3A00%2B00%3A00"
)


def test_a_followed_run_ends_with_its_outcome_errors_and_quoted_ui_link() -> None:
    detail = [{"exc_type": "ShopflowError", "exc_value": "the API said 401"}]
    failure = [{"event": "boom", "level": "error", "error_detail": detail}]
    client = FakeClient(
        [
            ("queued", [_ti("extract_sales", "queued")]),
            ("running", [_ti("extract_sales", "running")]),
            (
                "failed",
                [
                    _ti("extract_sales", "failed", try_number=3, duration=1.5),
                    _ti("load", "upstream_failed"),
                ],
            ),
        ],
        failure,
    )
    lines: list[str] = []
    outcome = follow_run(
        client,  # type: ignore[arg-type]
        RUN_ID,
        date(2026, 11, 28),
        started=time.monotonic(),
        write=lines.append,
        poll=0,
    )
    assert [line.split()[1:] for line in lines] == [
        ["extract_sales", "running"],
        ["extract_sales", "failed", "1.5s"],
        ["load", "upstream_failed"],
    ]
    assert outcome.state == "failed" and not outcome.ok
    assert outcome.tasks == {"extract_sales": "failed", "load": "upstream_failed"}
    assert outcome.errors == {"extract_sales": "ShopflowError: the API said 401"}
    assert client.logs_read == [(RUN_ID, "extract_sales", 3, -1)]
    assert outcome.run_seconds == 7.25
    assert outcome.url == QUOTED_URL


def test_a_run_past_the_timeout_names_its_ui_link() -> None:
    client = FakeClient([("running", [_ti("extract_sales", "running")])], [])
    with pytest.raises(ShopflowError, match="did not end within 0s") as raised:
        follow_run(
            client,  # type: ignore[arg-type]
            RUN_ID,
            date(2026, 11, 28),
            started=time.monotonic(),
            write=lambda line: None,
            poll=0,
            timeout=0,
        )
    assert str(raised.value).endswith(QUOTED_URL)
