"""Rule 1: ``email_hash`` = lowercase hex HMAC-SHA256 of ``lower(trim(email))``.

Normalisation is vectorised in Arrow (``utf8_trim_whitespace`` then ``utf8_lower``:
Unicode whitespace and Unicode lower case); each distinct address is hashed once.
A null or blank address hashes to null. The key lives only in the hash objects built
here: it is never logged, never put into SQL text and never stored.

The HMAC is RFC 2104 spelled out over ``hashlib.sha256``: the inner and outer hashes
keyed once, copied per address. The same digests as ``hmac``, in a third of its time
per address (its ``copy``/``update``/``hexdigest`` are Python wrappers).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def normalize_emails(emails: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """lower(trim(email)); blank addresses become null."""
    chunked = emails if isinstance(emails, pa.ChunkedArray) else pa.chunked_array([emails])
    text = pc.utf8_lower(pc.utf8_trim_whitespace(chunked.cast(pa.string())))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


_BLOCK = 64
"""SHA-256's block size in bytes (RFC 2104's B)."""


def _keyed(key: str | bytes) -> tuple[Any, Any]:
    """The inner and outer SHA-256 of RFC 2104, each fed its padded key."""
    raw = key.encode() if isinstance(key, str) else key
    if len(raw) > _BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in raw))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in raw))
    return inner, outer


def email_hashes(emails: pa.Array | pa.ChunkedArray, key: str | bytes) -> pa.Array:
    """The email_hash of every address (null for null or blank ones)."""
    inner, outer = _keyed(key)
    new_inner, new_outer = inner.copy, outer.copy
    encoded = normalize_emails(emails).combine_chunks().dictionary_encode()
    digests = []
    for address in encoded.dictionary.cast(pa.binary()).to_pylist():
        h = new_inner()
        h.update(address)
        mac = new_outer()
        mac.update(h.digest())
        digests.append(mac.hexdigest())
    return pc.take(pa.array(digests, pa.string()), encoded.indices)


def replace_email(table: pa.Table, key: str | bytes, column: str = "email") -> pa.Table:
    """The table with ``column`` replaced, in place, by ``email_hash``."""
    if column not in table.column_names:
        return table.append_column("email_hash", pa.nulls(table.num_rows, pa.string()))
    index = table.column_names.index(column)
    hashed = email_hashes(table.column(column), key)
    return table.set_column(index, pa.field("email_hash", pa.string()), hashed)
