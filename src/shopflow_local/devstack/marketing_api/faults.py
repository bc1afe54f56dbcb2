"""Injected faults: random and scripted errors, throttling, latency and repeated records."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

DEFAULT_ERROR_CODES = (500, 502, 503)
MAX_LATENCY_MS = 60_000


class FaultError(ValueError):
    """A fault setting that makes no sense; the message names the field."""


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_code(field: str, code: object) -> None:
    if not _is_int(code) or not 400 <= code <= 599:
        raise FaultError(f"{field}: expected an HTTP error code 400..599, got {code!r}")


def _check_count(field: str, value: object, minimum: int = 0) -> None:
    if not _is_int(value) or value < minimum:
        raise FaultError(f"{field}: expected an integer >= {minimum}, got {value!r}")


def _check_rate(field: str, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise FaultError(f"{field}: expected a number in 0..1, got {value!r}")


@dataclass(frozen=True)
class FaultConfig:
    """What the simulator does wrong; the defaults are the contract's at-least-once delivery."""

    error_rate: float = 0.0
    error_codes: tuple[int, ...] = DEFAULT_ERROR_CODES
    latency_ms: int = 0
    repeat_rate: float = 0.002
    always_fail: int | None = None
    fail_next: int = 0
    fail_code: int = 503
    throttle_next: int = 0
    retry_after: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        _check_rate("error_rate", self.error_rate)
        _check_rate("repeat_rate", self.repeat_rate)
        if not isinstance(self.error_codes, tuple) or not self.error_codes:
            raise FaultError("error_codes: expected a non-empty list of HTTP error codes")
        for code in self.error_codes:
            _check_code("error_codes", code)
        _check_count("latency_ms", self.latency_ms)
        if self.latency_ms > MAX_LATENCY_MS:
            raise FaultError(f"latency_ms: at most {MAX_LATENCY_MS}")
        if self.always_fail is not None:
            _check_code("always_fail", self.always_fail)
        _check_count("fail_next", self.fail_next)
        _check_code("fail_code", self.fail_code)
        _check_count("throttle_next", self.throttle_next)
        _check_count("retry_after", self.retry_after, minimum=1)
        _check_count("seed", self.seed)

    def updated(self, changes: Mapping[str, Any]) -> FaultConfig:
        """A copy with the fields in ``changes`` replaced (e.g. a JSON body), validated."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise FaultError(f"unknown fault setting(s): {', '.join(unknown)}")
        values = dict(changes)
        if "error_codes" in values:
            codes = values["error_codes"]
            if not isinstance(codes, list | tuple):
                raise FaultError("error_codes: expected a list of HTTP error codes")
            values["error_codes"] = tuple(codes)
        return dataclasses.replace(self, **values)

    def as_json(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        values = dataclasses.asdict(self)
        values["error_codes"] = list(self.error_codes)
        return values


@dataclass(frozen=True)
class Injected:
    """A fault to answer with instead of data."""

    status: int
    retry_after: int | None = None


class FaultState:
    """The live fault settings: counts down scripted faults, draws random ones from the seed."""

    def __init__(self, config: FaultConfig) -> None:
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        """Replace the settings and restart the random sequence from the seed."""
        self.config = config
        self._rng = random.Random(config.seed)

    def next_fault(self) -> Injected | None:
        """The fault for the next data request, or None to serve it."""
        config = self.config
        if config.throttle_next > 0:
            self.config = dataclasses.replace(config, throttle_next=config.throttle_next - 1)
            return Injected(429, retry_after=config.retry_after)
        if config.always_fail is not None:
            return Injected(config.always_fail)
        if config.fail_next > 0:
            self.config = dataclasses.replace(config, fail_next=config.fail_next - 1)
            return Injected(config.fail_code)
        if config.error_rate > 0 and self._rng.random() < config.error_rate:
            return Injected(self._rng.choice(config.error_codes))
        return None


def is_repeated(record_id: str, *, seed: int, rate: float) -> bool:
    """Whether a record is served twice: a stable hash of (seed, id) falls below ``rate``."""
    if rate <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}:{record_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < rate * 2**64
