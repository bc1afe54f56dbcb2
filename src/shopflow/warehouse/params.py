"""One placeholder style for every dialect: ``?`` positional, ``$name`` named.

DuckDB takes these natively; DBAPI drivers with the ``format`` paramstyle
(psycopg 3, redshift_connector) get ``%s`` and a list, from :func:`to_format`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# Quoted strings, quoted identifiers and comments are copied as they are; outside
# them, ``?`` and ``$name`` become ``%s``. Every ``%`` is doubled (the driver reads them).
_TOKEN = re.compile(
    r"""(?P<skip>'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/)"""
    r"""|(?P<positional>\?)|(?P<named>\$[A-Za-z_]\w*)|(?P<percent>%)""",
    re.DOTALL,
)


def to_format(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> tuple[str, list[Any] | None]:
    """``sql`` and its values for a ``format``-paramstyle driver; no values gives ``None``."""
    if not params:
        return sql, None
    positional = not isinstance(params, Mapping)
    values: list[Any] = []
    seq = iter(params) if positional else iter(())

    def swap(m: re.Match[str]) -> str:
        if m["skip"] is not None:
            return m["skip"].replace("%", "%%")
        if m["percent"]:
            return "%%"
        if m["positional"]:
            if not positional:
                raise ValueError("'?' placeholder with named parameters")
            try:
                values.append(next(seq))
            except StopIteration:
                raise ValueError("more '?' placeholders than parameters") from None
            return "%s"
        if positional:
            raise ValueError(f"{m['named']} placeholder with positional parameters")
        assert isinstance(params, Mapping)
        values.append(params[m["named"][1:]])
        return "%s"

    out = _TOKEN.sub(swap, sql)
    if positional and len(values) != len(params):
        raise ValueError(f"{len(params)} parameters for {len(values)} '?' placeholders")
    return out, values
