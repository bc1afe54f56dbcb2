"""Fixed SQL text of the warehouse layer, one file per statement group."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def fixed_sql(name: str) -> str:
    """The text of ``sql/<name>.sql`` without comment lines or a final semicolon."""
    text = files(__name__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";")
