"""Fast JSON: msgspec when installed (Airflow depends on it), else the standard library."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def _std_encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


try:
    import msgspec

    encode: Callable[[Any], bytes] = msgspec.json.encode
    decode: Callable[[str | bytes], Any] = msgspec.json.decode
    DecodeError: type[Exception] = msgspec.DecodeError
except ImportError:  # pragma: no cover - msgspec ships with Airflow
    encode = _std_encode
    decode = json.loads
    DecodeError = ValueError
