"""One business date through the DAG's task functions, in this process, timed per stage.

Not a replacement for Airflow: no retries, no XCom, no alerts, no run report, and
the four extracts run one after the other rather than in parallel. It exists for
the invariant tests (tests/shopflow/test_invariant_pipeline.py) and the stage
benchmark (bench/e2e_run.py), which need the real extract -> transform -> load ->
checks path without the cost and noise of a scheduler. ``shopflow run`` is the
way to run the pipeline.

Connections and variables outside a task (checked on Airflow 3.3.2): the task glue
calls ``airflow.sdk`` ``Connection.get`` / ``Variable.get``. With no supervisor
(``task_runner.SUPERVISOR_COMMS`` unset) and no ``_AIRFLOW_PROCESS_CONTEXT=server``,
the SDK's ``ensure_secrets_backend_loaded`` asks a backend configured under
``[secrets]`` first, when there is one, then the environment-variables backend,
so ``AIRFLOW_CONN_<ID>`` (JSON or URI) and ``AIRFLOW_VAR_<KEY>`` are enough: no
metadata database, no API server, no ``airflow db migrate``. The environment is
read at every call (the secrets cache, ``[secrets] use_cache``, is off by
default), so switching connections between calls works. A missing connection raises
``AirflowNotFoundException``, a missing variable ``AirflowRuntimeError``
(``VARIABLE_NOT_FOUND``) unless a default is given. Nothing else is required,
but importing Airflow without ``AIRFLOW_HOME`` creates ``~/airflow/logs``, so the
defaults of ``shopflow_local.airflow_runtime.home.airflow_env()`` are applied
under ``env``. Airflow reads its configuration once, at first import, so a
process that imported Airflow earlier keeps that configuration (connections
and variables are not configuration: they still follow the environment).
Importing ``airflow.sdk`` takes about 2 s; it happens before the clock starts
and is reported as ``setup_seconds``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shopflow.errors import ShopflowError
from shopflow.names import SOURCES
from shopflow.quality.evaluate import CheckResult

STAGES = (*(f"extract_{s}" for s in SOURCES), "transform", "load", "checks")
"""The keys of ``StageTimings.seconds``, in run order."""


@dataclass(frozen=True)
class StageTimings:
    """What one in-process run took: seconds per stage, rows per source, the checks."""

    business_date: date
    run_id: str
    seconds: dict[str, float]
    rows: dict[str, int]
    checks: tuple[CheckResult, ...] = ()
    extracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    setup_seconds: float = 0.0

    @property
    def total_seconds(self) -> float:
        """Sum of the stages (setup excluded)."""
        return sum(self.seconds.values())

    @property
    def failed_checks(self) -> list[CheckResult]:
        """Checks that fail the run (not passed, error severity)."""
        return [c for c in self.checks if c.fails_run]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (for the benchmark's child processes)."""
        return {
            "business_date": self.business_date.isoformat(),
            "run_id": self.run_id,
            "seconds": dict(self.seconds),
            "rows": dict(self.rows),
            "checks": [c.to_dict() for c in self.checks],
            "extracts": self.extracts,
            "setup_seconds": self.setup_seconds,
        }


class QualityCheckFailed(ShopflowError):
    """A check at error severity failed; ``timings`` holds the finished run."""

    def __init__(self, timings: StageTimings) -> None:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in timings.failed_checks)
        super().__init__(f"run {timings.run_id} of {timings.business_date} failed checks: {failed}")
        self.timings = timings


@contextmanager
def applied_environment(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` updated with env for the block, restored exactly after (not thread-safe)."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def airflow_environment_for(env: Mapping[str, str]) -> Iterator[None]:
    """env applied over the local Airflow defaults (``airflow_env()``: AIRFLOW_HOME, ...)."""
    from shopflow_local.airflow_runtime.home import airflow_env

    with applied_environment(env):  # SHOPFLOW_HOME in env decides where AIRFLOW_HOME is
        defaults = {k: v for k, v in airflow_env().items() if k not in env}
        with applied_environment(defaults):
            yield


def _timed(seconds: dict[str, float], stage: str, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    try:
        return step()
    finally:
        seconds[stage] = time.perf_counter() - started


def run_day_in_process(
    day: date, *, run_id: str, env: Mapping[str, str], full_refresh: bool = False
) -> StageTimings:
    """Extract the four sources of day, transform, load and check, as the DAG's tasks do.

    env (``AIRFLOW_CONN_*``/``AIRFLOW_VAR_*``, e.g. ``airflow_environment(info)``) is
    applied to ``os.environ`` for the call. Raises QualityCheckFailed (a ShopflowError)
    when a check at error severity fails; any stage's own error propagates unchanged.
    """
    from shopflow.names import CONN_WAREHOUSE
    from shopflow.quality.evaluate import run_checks
    from shopflow.tasks import extract, load, transform

    seconds: dict[str, float] = {}
    with airflow_environment_for(env):
        started = time.perf_counter()
        import airflow.sdk  # noqa: F401  # the SDK's import cost is not a stage's

        setup = time.perf_counter() - started
        runs: dict[str, Callable[[], dict[str, Any]]] = {
            "sales": lambda: extract.extract_sales(day, full_refresh=full_refresh, run_id=run_id),
            "interactions": lambda: extract.extract_interactions(day, run_id=run_id),
            "products": lambda: extract.extract_products(day, run_id=run_id),
            "clickstream": lambda: extract.extract_clickstream(day, run_id=run_id),
        }
        extracts = {name: _timed(seconds, f"extract_{name}", run) for name, run in runs.items()}
        transformed = _timed(seconds, "transform", lambda: transform.transform(day, run_id))
        _timed(seconds, "load", lambda: load.load(day, run_id, transformed))

        def checks() -> list[CheckResult]:
            from shopflow.warehouse.factory import warehouse_from_connection

            return run_checks(warehouse_from_connection(CONN_WAREHOUSE), run_id=run_id)

        results = _timed(seconds, "checks", checks)
    timings = StageTimings(
        business_date=day,
        run_id=run_id,
        seconds=seconds,
        rows={name: int(summary["rows_in"]) for name, summary in extracts.items()},
        checks=tuple(results),
        extracts=extracts,
        setup_seconds=setup,
    )
    if timings.failed_checks:
        raise QualityCheckFailed(timings)
    return timings
