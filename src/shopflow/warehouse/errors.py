"""Errors of the warehouse layer: a failed statement, or a delta that does not fit its table."""

from __future__ import annotations

from shopflow.errors import PermanentError, ShopflowError


class WarehouseError(ShopflowError):
    """A warehouse statement failed; the message names what it was doing, never its values."""

    @classmethod
    def during(cls, purpose: str, dialect: str, exc: BaseException) -> WarehouseError:
        """An error for a failed step: purpose, error class and the driver's first line."""
        return cls(f"{dialect} warehouse failed while {purpose}: {_summary(exc)}")


def _summary(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)  # psycopg: the primary message holds no row values
    primary = getattr(diag, "message_primary", None)
    text = primary or (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text[:300]}"


class DeltaError(PermanentError):
    """A delta handed to ``load_day`` does not match its table's declaration."""
