"""Retries for idempotent HTTP requests: which answers to retry, how long to wait, when to stop.

The policy is pure (no clock, randomness or sleeping of its own: all three are injected),
and ``send_with_retry`` runs one logical request through it, recording every attempt.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from shopflow.errors import PermanentError, ShopflowError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Answers worth another try: throttling and transient server or gateway trouble."""

RETRY_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
"""Transport failures worth another try: timeouts, refused or broken connections."""

_DELTA_SECONDS = re.compile(r"\d+(\.\d+)?")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring ``Retry-After``.

    The wait before attempt n+1 is ``min(max_delay, base * factor**(n-1))``, less a random
    share of up to ``jitter`` of it (``jitter=0`` is deterministic, ``1`` is full jitter).
    A ``Retry-After`` header (seconds or an HTTP date) replaces the backoff, capped at
    ``max_delay``. ``rng`` returns a number in [0, 1); ``clock`` the current UTC time.
    """

    max_attempts: int = 6
    base: float = 0.5
    factor: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.5
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)
    clock: Callable[[], datetime] = field(default=_utc_now, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base < 0 or self.max_delay < 0:
            raise ValueError("base and max_delay must be >= 0")
        if self.factor < 1:
            raise ValueError("factor must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be in 0..1")

    def retryable_status(self, status: int) -> bool:
        """Whether an HTTP status deserves another attempt."""
        return status in RETRY_STATUSES

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), with jitter."""
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        exponent = min(attempt - 1, 1000)  # large attempts saturate at max_delay anyway
        try:
            ceiling = min(self.max_delay, self.base * self.factor**exponent)
        except OverflowError:
            ceiling = self.max_delay
        return ceiling * (1.0 - self.jitter * self.rng())

    def retry_after(self, header: str | None) -> float | None:
        """Seconds asked for by a ``Retry-After`` value, capped; None when absent or invalid."""
        if header is None:
            return None
        value = header.strip()
        if _DELTA_SECONDS.fullmatch(value):
            seconds = float(value)
        else:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:  # "-0000" means UTC too
                when = when.replace(tzinfo=UTC)
            seconds = (when - self.clock()).total_seconds()
        return min(self.max_delay, max(0.0, seconds))

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """The wait after failed attempt ``attempt``: the server's wish if any, else backoff."""
        asked = self.retry_after(retry_after)
        return asked if asked is not None else self.backoff(attempt)


@dataclass
class RequestLog:
    """What happened to one logical request: an outcome per attempt, the waits between."""

    label: str
    outcomes: list[str] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        """How many times the request was sent."""
        return len(self.outcomes)


class HttpRequestError(ShopflowError):
    """A request that failed for good; ``log`` tells its attempts, ``status`` the last answer."""

    def __init__(self, message: str, *, status: int | None, log: RequestLog) -> None:
        super().__init__(message)
        self.status = status
        self.log = log


class RequestRejected(HttpRequestError, PermanentError):
    """The server refused the request itself (4xx); retrying cannot help."""


class RetriesExhausted(HttpRequestError):
    """Every attempt met a retryable failure."""


def rejection_message(service: str, status: int, label: str, body: str = "") -> str:
    """A one-line, secret-free explanation of a non-retryable answer."""
    if status == 401:
        return f"{service} rejected the token (401); check the connection's credentials"
    if status == 403:
        return f"{service} refused access (403); the token lacks permission for {label}"
    if status == 404:
        return f"{service} has no such resource (404): {label}"
    detail = f": {body.strip()[:200]}" if status == 400 and body.strip() else ""
    return f"{service} rejected {label} ({status}){detail}"


def send_with_retry(
    send: Callable[[], httpx.Response],
    *,
    policy: RetryPolicy,
    sleeper: Callable[[float], None],
    label: str,
    service: str = "HTTP server",
) -> tuple[httpx.Response, RequestLog]:
    """Call ``send`` until it answers 2xx, retrying per ``policy``; raise when it cannot.

    ``label`` names the request in logs and errors (never put secrets in it).
    """
    record = RequestLog(label)
    for attempt in range(1, policy.max_attempts + 1):
        retry_after: str | None = None
        try:
            response = send()
        except RETRY_EXCEPTIONS as exc:
            status: int | None = None
            outcome = type(exc).__name__
        else:
            status = response.status_code
            outcome = str(status)
            if response.is_success:
                record.outcomes.append(outcome)
                return response, record
            if not policy.retryable_status(status):
                record.outcomes.append(outcome)
                body = response.text if status == 400 else ""
                raise RequestRejected(
                    rejection_message(service, status, label, body), status=status, log=record
                )
            retry_after = response.headers.get("Retry-After")
        record.outcomes.append(outcome)
        if attempt == policy.max_attempts:
            raise RetriesExhausted(
                f"{service} still failing after {attempt} attempts for {label} "
                f"(last: {outcome}); outcomes {', '.join(record.outcomes)}",
                status=status,
                log=record,
            )
        wait = policy.delay(attempt, retry_after)
        log.warning(
            "%s answered %s for %s; attempt %d of %d in %.2fs",
            service,
            outcome,
            label,
            attempt + 1,
            policy.max_attempts,
            wait,
        )
        record.sleeps.append(wait)
        sleeper(wait)
    raise AssertionError("unreachable")  # pragma: no cover
