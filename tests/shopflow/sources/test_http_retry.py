"""The retry policy: delays, Retry-After, which answers retry, and when it gives up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from shopflow.errors import ShopflowError
from shopflow.sources.http_retry import (
    RequestRejected,
    RetriesExhausted,
    RetryPolicy,
    send_with_retry,
)

pytestmark = pytest.mark.unit

NOW = datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC)
REQUEST = httpx.Request("GET", "http://api.test/v1/interactions")


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


def policy(**changes: object) -> RetryPolicy:
    """A deterministic policy: no jitter unless asked, a frozen clock."""
    values: dict[str, object] = {"jitter": 0.0, "rng": fixed(0.0), "clock": lambda: NOW}
    values.update(changes)
    return RetryPolicy(**values)  # type: ignore[arg-type]


def answer(status: int, headers: dict[str, str] | None = None, body: str = "") -> httpx.Response:
    return httpx.Response(status, headers=headers, text=body, request=REQUEST)


class Script:
    """A fake ``send``: answers (or raises) from a script, counting calls."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self._steps: Iterator[httpx.Response | Exception] = iter(steps)
        self.calls = 0

    def __call__(self) -> httpx.Response:
        self.calls += 1
        step = next(self._steps)
        if isinstance(step, Exception):
            raise step
        return step


def run(script: Script, retry: RetryPolicy) -> tuple[httpx.Response, list[float], int]:
    sleeps: list[float] = []
    response, record = send_with_retry(
        script, policy=retry, sleeper=sleeps.append, label="GET /v1/interactions", service="API"
    )
    assert record.sleeps == sleeps
    return response, sleeps, record.attempts


class TestBackoff:
    def test_grows_exponentially_from_base(self) -> None:
        retry = policy(base=0.5, factor=2)
        assert [retry.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]

    def test_is_capped_at_max_delay(self) -> None:
        retry = policy(base=1, factor=10, max_delay=60)
        assert [retry.backoff(n) for n in (1, 2, 3, 4)] == [1, 10, 60, 60]
        assert retry.backoff(10_000) == 60

    def test_jitter_takes_a_random_share_away(self) -> None:
        draws = iter([0.0, 0.5, 0.999])
        retry = policy(base=4, factor=1, jitter=0.5, rng=lambda: next(draws))
        assert retry.backoff(1) == 4.0
        assert retry.backoff(1) == 3.0
        assert retry.backoff(1) == pytest.approx(2.002)

    def test_full_jitter_spans_zero_to_ceiling(self) -> None:
        retry = policy(base=8, factor=1, jitter=1.0, rng=fixed(0.75))
        assert retry.backoff(1) == 2.0

    @pytest.mark.parametrize(
        "bad",
        [{"max_attempts": 0}, {"factor": 0.5}, {"jitter": 1.5}, {"base": -1}],
    )
    def test_rejects_nonsense(self, bad: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            policy(**bad)


class TestRetryAfter:
    @pytest.mark.parametrize(
        ("header", "seconds"),
        [
            ("7", 7.0),
            (" 0 ", 0.0),
            ("2.5", 2.5),
            ("600", 60.0),  # capped at max_delay
            ("Sun, 10 Mar 2024 12:00:30 GMT", 30.0),
            ("Sun, 10 Mar 2024 12:05:00 GMT", 60.0),  # capped
            ("Sun, 10 Mar 2024 11:00:00 GMT", 0.0),  # in the past: go now
        ],
    )
    def test_parses_seconds_and_http_dates(self, header: str, seconds: float) -> None:
        assert policy(max_delay=60).retry_after(header) == seconds

    @pytest.mark.parametrize("header", [None, "", "soon", "-5", "1e3"])
    def test_ignores_absent_or_invalid(self, header: str | None) -> None:
        assert policy().retry_after(header) is None

    def test_replaces_backoff_when_present(self) -> None:
        retry = policy(base=0.5)
        assert retry.delay(3, "7") == 7.0
        assert retry.delay(3, "garbage") == 2.0
        assert retry.delay(3, None) == 2.0


class TestStatuses:
    @pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
    def test_retryable(self, status: int) -> None:
        assert policy().retryable_status(status)

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
    def test_final(self, status: int) -> None:
        assert not policy().retryable_status(status)


class TestSendWithRetry:
    def test_success_first_time_never_sleeps(self) -> None:
        script = Script(answer(200))
        response, sleeps, attempts = run(script, policy())
        assert response.status_code == 200
        assert (sleeps, attempts, script.calls) == ([], 1, 1)

    def test_survives_transient_failures_with_backoff(self) -> None:
        script = Script(answer(503), answer(502), answer(500), answer(504), answer(200))
        response, sleeps, attempts = run(script, policy(base=0.5, factor=2))
        assert response.status_code == 200
        assert sleeps == [0.5, 1.0, 2.0, 4.0]
        assert attempts == 5

    def test_honours_retry_after_on_429(self) -> None:
        script = Script(answer(429, {"Retry-After": "7"}), answer(200))
        _, sleeps, attempts = run(script, policy())
        assert (sleeps, attempts) == ([7.0], 2)

    def test_retries_connect_errors_and_timeouts(self) -> None:
        script = Script(
            httpx.ConnectError("refused", request=REQUEST),
            httpx.ReadTimeout("slow", request=REQUEST),
            httpx.RemoteProtocolError("hung up", request=REQUEST),
            answer(200),
        )
        _, sleeps, attempts = run(script, policy(base=1, factor=3))
        assert (sleeps, attempts) == ([1, 3, 9], 4)

    def test_does_not_retry_other_transport_errors(self) -> None:
        script = Script(httpx.UnsupportedProtocol("ftp?", request=REQUEST), answer(200))
        with pytest.raises(httpx.UnsupportedProtocol):
            run(script, policy())
        assert script.calls == 1

    @pytest.mark.parametrize(
        ("status", "words"),
        [
            (401, "rejected the token (401)"),
            (403, "refused access (403)"),
            (404, "no such resource (404)"),
            (400, "rejected GET /v1/interactions (400): limit too big"),
        ],
    )
    def test_client_errors_fail_at_once(self, status: int, words: str) -> None:
        script = Script(answer(status, body="limit too big"), answer(200))
        sleeps: list[float] = []
        with pytest.raises(RequestRejected) as caught:
            send_with_retry(
                script,
                policy=policy(),
                sleeper=sleeps.append,
                label="GET /v1/interactions",
                service="API",
            )
        assert isinstance(caught.value, ShopflowError)
        assert words in str(caught.value)
        assert caught.value.status == status
        assert caught.value.log.attempts == 1
        assert script.calls == 1
        assert sleeps == []

    def test_gives_up_after_max_attempts_with_last_status(self) -> None:
        script = Script(*[answer(502)] * 3, answer(503), answer(200))
        sleeps: list[float] = []
        with pytest.raises(RetriesExhausted) as caught:
            send_with_retry(
                script,
                policy=policy(max_attempts=4, base=1, factor=2),
                sleeper=sleeps.append,
                label="GET /v1/interactions",
                service="API",
            )
        error = caught.value
        assert script.calls == 4
        assert sleeps == [1, 2, 4]
        assert error.status == 503
        assert error.log.outcomes == ["502", "502", "502", "503"]
        assert "after 4 attempts" in str(error) and "last: 503" in str(error)

    def test_exhaustion_by_timeouts_names_the_exception(self) -> None:
        script = Script(*[httpx.ConnectTimeout("x", request=REQUEST)] * 2)
        with pytest.raises(RetriesExhausted) as caught:
            run(script, policy(max_attempts=2))
        assert caught.value.status is None
        assert "last: ConnectTimeout" in str(caught.value)

    def test_single_attempt_policy_never_retries(self) -> None:
        script = Script(answer(503), answer(200))
        with pytest.raises(RetriesExhausted):
            run(script, policy(max_attempts=1))
        assert script.calls == 1
