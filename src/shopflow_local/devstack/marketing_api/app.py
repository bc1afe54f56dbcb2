"""The HTTP application: routes, bearer auth, rate limiting, fault injection, stats."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopflow_local.devstack.marketing_api import jsonio
from shopflow_local.devstack.marketing_api.faults import (
    FaultConfig,
    FaultError,
    FaultState,
    is_repeated,
)
from shopflow_local.devstack.marketing_api.pages import build_page
from shopflow_local.devstack.marketing_api.query import QueryError, parse_query
from shopflow_local.devstack.marketing_api.ratelimit import TokenBucket, retry_after_seconds
from shopflow_local.devstack.marketing_api.store import InteractionStore, StoreError

log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT = 200.0
DEFAULT_BURST = 400

Sleeper = Callable[[float], Awaitable[None]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response."""
    return Response(jsonio.encode(body), status, headers, media_type="application/json")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The API's error shape: ``{"error": message}``."""
    return json_response({"error": message}, status, headers)


class Stats:
    """Counts of data requests by status and of records served."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to zero."""
        self.by_status: Counter[int] = Counter()
        self.records = 0
        self.repeated = 0

    def as_json(self) -> dict[str, Any]:
        """The counts as a JSON-ready dict."""
        return {
            "requests": sum(self.by_status.values()),
            "requests_by_status": {str(code): n for code, n in sorted(self.by_status.items())},
            "records_served": self.records,
            "repeated_records_served": self.repeated,
        }


class MarketingApi:
    """The simulator's state and request handlers."""

    def __init__(
        self,
        store: InteractionStore,
        token: str,
        faults: FaultConfig,
        bucket: TokenBucket | None,
        sleep: Sleeper,
    ) -> None:
        if not token:
            raise ValueError("token must not be empty")
        self.store = store
        self._token = token.encode()
        self.startup_faults = faults
        self.faults = FaultState(faults)
        self.bucket = bucket
        self.sleep = sleep
        self.stats = Stats()

    def authorized(self, request: Request) -> bool:
        """Whether the request carries ``Authorization: Bearer <token>``."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self._token
        )

    async def interactions(self, request: Request) -> Response:
        """``GET /v1/interactions``, counted in the stats."""
        response = await self._interactions(request)
        self.stats.by_status[response.status_code] += 1
        return response

    async def _interactions(self, request: Request) -> Response:
        if not self.authorized(request):
            return _unauthorized()
        if self.bucket is not None:
            wait = self.bucket.take()
            if wait > 0:
                return _throttled(retry_after_seconds(wait), "rate limit exceeded")
        injected = self.faults.next_fault()
        config = self.faults.config
        if config.latency_ms:
            await self.sleep(config.latency_ms / 1000)
        if injected is not None:
            if injected.retry_after is not None:
                return _throttled(injected.retry_after, "rate limit exceeded (injected)")
            return error(injected.status, "injected fault")
        try:
            query = parse_query(request.query_params)
            repeat = functools.partial(is_repeated, seed=config.seed, rate=config.repeat_rate)
            page = await run_in_threadpool(build_page, self.store, query, repeat)
        except QueryError as exc:
            return error(400, str(exc))
        except StoreError as exc:
            log.error("%s", exc)
            return error(500, str(exc))
        self.stats.records += page.records
        self.stats.repeated += page.repeated
        return Response(page.body, media_type="application/json")

    async def get_faults(self, request: Request) -> Response:
        """``GET /_admin/faults``: the live settings (scripted counts as they stand)."""
        if not self.authorized(request):
            return _unauthorized()
        return json_response(self.faults.config.as_json())

    async def put_faults(self, request: Request) -> Response:
        """``PUT /_admin/faults``: replace the given settings; restarts the random sequence."""
        if not self.authorized(request):
            return _unauthorized()
        try:
            changes = jsonio.decode(await request.body())
        except jsonio.DecodeError:
            return error(400, "body: expected a JSON object")
        if not isinstance(changes, dict):
            return error(400, "body: expected a JSON object")
        try:
            self.faults.configure(self.faults.config.updated(changes))
        except (FaultError, TypeError) as exc:
            return error(400, str(exc))
        return json_response(self.faults.config.as_json())

    async def get_stats(self, request: Request) -> Response:
        """``GET /_admin/stats``."""
        if not self.authorized(request):
            return _unauthorized()
        return json_response(self.stats.as_json())

    async def reset(self, request: Request) -> Response:
        """``POST /_admin/reset``: zero the stats, restore start-up faults, refill the bucket."""
        if not self.authorized(request):
            return _unauthorized()
        self.stats.reset()
        self.faults.configure(self.startup_faults)
        if self.bucket is not None:
            self.bucket.refill()
        return json_response({"status": "reset", "faults": self.startup_faults.as_json()})


async def health(request: Request) -> Response:
    """``GET /health``: no auth."""
    return json_response({"status": "ok"})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.detail, dict(exc.headers or {}))


def _unauthorized() -> Response:
    return error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})


def _throttled(seconds: int, message: str) -> Response:
    return error(429, message, {"Retry-After": str(seconds)})


def build_app(
    data_dir: Path,
    token: str,
    faults: FaultConfig | None = None,
    *,
    rate_limit: float | None = DEFAULT_RATE_LIMIT,
    burst: int = DEFAULT_BURST,
    clock: Callable[[], float] = time.monotonic,
    sleep: Sleeper = asyncio.sleep,
    max_cached_days: int = 8,
) -> Starlette:
    """The marketing API over ``data_dir/interactions``; ``rate_limit=None`` turns limiting off.

    ``clock`` (seconds, monotonic) drives the rate limiter and ``sleep`` the injected latency,
    so tests can replace both.
    """
    bucket = TokenBucket(rate_limit, burst, clock=clock) if rate_limit else None
    api = MarketingApi(
        InteractionStore(data_dir, max_cached_days=max_cached_days),
        token,
        faults or FaultConfig(),
        bucket,
        sleep,
    )
    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/interactions", api.interactions, methods=["GET"]),
            Route("/_admin/faults", api.get_faults, methods=["GET"]),
            Route("/_admin/faults", api.put_faults, methods=["PUT"]),
            Route("/_admin/stats", api.get_stats, methods=["GET"]),
            Route("/_admin/reset", api.reset, methods=["POST"]),
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.api = api
    return app
