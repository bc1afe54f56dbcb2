"""A token bucket: ``rate`` requests per second on average, bursts of up to ``burst``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    """Admits a request while a token is left; tokens refill continuously at ``rate``."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def take(self) -> float:
        """Take a token: 0.0 when admitted, else the seconds until a token is available."""
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def refill(self) -> None:
        """Back to a full bucket."""
        self._tokens = float(self.burst)
        self._updated = self._clock()


def retry_after_seconds(wait: float) -> int:
    """The Retry-After header value for a wait: whole seconds, at least 1."""
    return max(1, math.ceil(wait))
