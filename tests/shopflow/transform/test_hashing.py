"""The e-mail hash is HMAC-SHA256 whatever the key's length (RFC 2104 spelled out)."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pytest

from shopflow.transform.hashing import email_hashes

pytestmark = pytest.mark.unit

EMAILS = pa.array([" A@B.io ", "a@b.io", None, "  ", "Ünï@Cödé.de", "x@y.z"])


@pytest.mark.parametrize(
    "key", ["k", "shopflow-hash-key", "k" * 64, "k" * 65, "é" * 40, b"\x00\xff" * 50]
)
def test_email_hashes_match_the_hmac_module(key: str | bytes) -> None:
    raw = key.encode() if isinstance(key, str) else key
    normalised = [(e or "").strip().lower() for e in EMAILS.to_pylist()]
    expected = [
        hmac.new(raw, e.encode(), hashlib.sha256).hexdigest() if e else None for e in normalised
    ]
    assert email_hashes(EMAILS, key).to_pylist() == expected
