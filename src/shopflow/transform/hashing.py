"""Rule 1: ``email_hash`` = lowercase hex HMAC-SHA256 of ``lower(trim(email))``.

Normalisation is vectorised in Arrow (``utf8_trim_whitespace`` then ``utf8_lower``:
Unicode whitespace and Unicode lower case); each distinct address is hashed once.
A null or blank address hashes to null. The key lives only in the HMAC object built
here: it is never logged, never put into SQL text and never stored.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc


def normalize_emails(emails: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """lower(trim(email)); blank addresses become null."""
    chunked = emails if isinstance(emails, pa.ChunkedArray) else pa.chunked_array([emails])
    text = pc.utf8_lower(pc.utf8_trim_whitespace(chunked.cast(pa.string())))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def email_hashes(emails: pa.Array | pa.ChunkedArray, key: str | bytes) -> pa.Array:
    """The email_hash of every address (null for null or blank ones)."""
    mac = hmac.new(key.encode() if isinstance(key, str) else key, digestmod=hashlib.sha256)
    encoded = normalize_emails(emails).combine_chunks().dictionary_encode()
    digests = []
    for address in encoded.dictionary.to_pylist():
        h = mac.copy()
        h.update(address.encode())
        digests.append(h.hexdigest())
    return pc.take(pa.array(digests, pa.string()), encoded.indices)


def replace_email(table: pa.Table, key: str | bytes, column: str = "email") -> pa.Table:
    """The table with ``column`` replaced, in place, by ``email_hash``."""
    if column not in table.column_names:
        return table.append_column("email_hash", pa.nulls(table.num_rows, pa.string()))
    index = table.column_names.index(column)
    hashed = email_hashes(table.column(column), key)
    return table.set_column(index, pa.field("email_hash", pa.string()), hashed)
