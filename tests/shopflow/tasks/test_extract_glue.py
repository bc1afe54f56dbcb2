"""The extract glue turns a request the API rejects (4xx) into a failure Airflow won't retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from shopflow.sources import interactions
from shopflow.sources.http_retry import RequestLog, RequestRejected, RetriesExhausted
from shopflow.tasks import connections, extract

pytestmark = pytest.mark.unit


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(
        connections, "resolve_api", lambda: connections.ApiSettings("http://api", "t0k3n")
    )
    monkeypatch.setattr(connections, "resolve_staging_uri", lambda: str(tmp_path))


def _raising(exc: Exception) -> Any:
    def fake(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fake


def test_a_rejected_request_fails_without_task_retries(
    api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    rejected = RequestRejected(
        "marketing API rejected the token (401)", status=401, log=RequestLog("p")
    )
    monkeypatch.setattr(interactions, "extract_interactions", _raising(rejected))
    with pytest.raises(AirflowFailException, match=r"rejected the token \(401\)"):
        extract.extract_interactions("2026-11-22")


def test_exhausted_retries_stay_retryable_for_airflow(
    api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    exhausted = RetriesExhausted(
        "still failing after 6 attempts (last: 503)", status=503, log=RequestLog("p")
    )
    monkeypatch.setattr(interactions, "extract_interactions", _raising(exhausted))
    with pytest.raises(RetriesExhausted):
        extract.extract_interactions("2026-11-22")
