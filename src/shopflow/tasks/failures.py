"""How a task's failure reaches Airflow: permanent errors fail at once, the rest retry."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from shopflow.errors import PermanentError

P = ParamSpec("P")
R = TypeVar("R")


def fail_fast(step: Callable[P, R]) -> Callable[P, R]:
    """step, with a ``PermanentError`` turned into ``AirflowFailException``.

    Airflow fails the task without its remaining retries; the message stays the
    error's own one line. Other errors propagate unchanged and are retried.
    """

    @functools.wraps(step)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return step(*args, **kwargs)
        except PermanentError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc

    return run
