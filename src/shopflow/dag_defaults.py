"""The ``default_args`` every shopflow DAG gives its tasks: an owner, retries with
exponential backoff, and the failure record that the run's one alert reads
(``shopflow.alerts``).

``SHOPFLOW_RETRY_DELAY_SECONDS``, read when a DAG file is parsed, sets the first
retry's wait (default 30 s), so that tests can watch a retry happen.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from shopflow.alerts import record_task_failure

RETRY_DELAY = timedelta(seconds=float(os.environ.get("SHOPFLOW_RETRY_DELAY_SECONDS", "30")))
MAX_RETRY_DELAY = timedelta(minutes=10)


def task_defaults() -> dict[str, Any]:
    """``default_args``: two retries, waiting 30 s, then 60 s (doubling, at most 10 minutes)."""
    return {
        "owner": "data-eng",
        "retries": 2,
        # Airflow 3.3 takes a multiplier (True is read as 2.0): 30 s, 60 s, ... capped.
        "retry_exponential_backoff": 2.0,
        "retry_delay": RETRY_DELAY,
        "max_retry_delay": MAX_RETRY_DELAY,
        # Records the error for the run's alert; no e-mail per task or per try.
        "on_failure_callback": record_task_failure,
    }
