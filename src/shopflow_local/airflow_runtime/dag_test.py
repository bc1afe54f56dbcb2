"""Run ``shop_daily_etl`` for one business date on the local Airflow, with ``dag.test()``.

Why a child process: Airflow reads its configuration (``AIRFLOW_HOME``, the
metadata DB) when it is first imported, so the run happens in
``python -m shopflow_local.airflow_runtime.dag_test --date D --in-process`` with the
environment of ``airflow_env()``; the caller never imports Airflow.

What ``DAG.test()`` does in Airflow 3.3.2 (source: ``airflow/sdk/definitions/dag.py``,
each point checked by running it):

- It needs a migrated metadata DB (DagRun, TaskInstance, serialized DAG rows):
  ``airflow db migrate`` first. On SQLite here that takes about 30 s, once.
- It runs without scheduler or executor: a loop in this process runs every ready
  task in turn through an in-process Execution API (a FastAPI app on an in-memory
  transport). Building that API costs about 8 s at the first task; a trivial
  task then takes about 0.1 s. Each call also parses the dags folder again and
  syncs it to the DB.
- It returns the DagRun and does not raise when a task fails: the task's
  exception is logged, its instance ends ``failed`` and the run ``failed``.
  We read the states back and exit non-zero.
- Retries are honoured: an ``up_for_retry`` task waits out its retry delay
  (exponential backoff included) in a 1 s sleep loop. ``--retries 0`` overrides
  every task's retries for a quick local failure.
- ``on_failure_callback`` (the SMTP notifier) runs in this process when a task
  fails for good.
- Re-running a date works: an existing DagRun with the same logical date is
  deleted first, and the new run_id is ``manual__<now>``, unique per attempt.
  Only the latest attempt of a date stays in the DB.
- A logical date before the DAG's ``start_date`` gives a run with no task
  instances that ends ``success`` having done nothing; we refuse such dates.
- The data interval of the run is empty (start == end == logical date): the
  cron schedule is a CronTriggerTimetable. The run conf is merged into
  ``params`` (defaults filled in).
- Connections and variables: the Task SDK looks up ``AIRFLOW_CONN_<ID>`` (JSON
  or URI) and ``AIRFLOW_VAR_<KEY>`` in the environment before asking the
  (in-process) Execution API, so the stack's env vars reach every task.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from shopflow.dates import parse_date, scheduled_logical_date
from shopflow.errors import ShopflowError
from shopflow.names import DAG_ID
from shopflow_local.airflow_runtime.home import airflow_env, migrate_db
from shopflow_local.airflow_runtime.outcome import FINE_STATES, RunOutcome

MODULE = "shopflow_local.airflow_runtime.dag_test"
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _source_root() -> str:
    """The directory that holds the ``shopflow`` package (for the child's PYTHONPATH)."""
    return str(Path(__file__).resolve().parents[2])


def _child_env(env: Mapping[str, str]) -> dict[str, str]:
    merged = {**os.environ, **env}
    paths = [_source_root(), *filter(None, merged.get("PYTHONPATH", "").split(os.pathsep))]
    merged["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return merged


def run_business_date(
    day: date,
    *,
    full_refresh: bool = False,
    env: Mapping[str, str],
    retries: int | None = None,
    timeout: float | None = None,
    log_path: Path | None = None,
) -> RunOutcome:
    """Run the DAG for day in a child process; the outcome lists every task's state.

    env: from ``airflow_env()`` (with the stack's connections). The metadata DB is
    migrated first if needed. retries overrides every task's retries (None: the
    DAG's own). The child's output goes to log_path (default: a file under
    ``$AIRFLOW_HOME/logs/runs/``). Raises ShopflowError when the run could not
    start (DAG import error, bad date, crash, timeout); a failed run is an outcome.
    """
    if "AIRFLOW_HOME" not in env:
        raise ShopflowError("run_business_date needs the environment from airflow_env()")
    migrate_db(env)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    log_path = log_path or Path(env["AIRFLOW_HOME"]) / "logs" / "runs" / f"{day}_{stamp}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shopflow-run-") as tmp:
        result_file = Path(tmp) / "result.json"
        argv = [sys.executable, "-m", MODULE, "--in-process", "--date", day.isoformat()]
        argv += ["--result-file", str(result_file)]
        argv += ["--full-refresh"] if full_refresh else []
        argv += ["--retries", str(retries)] if retries is not None else []
        started = time.monotonic()
        with open(log_path, "wb") as log:
            try:
                proc = subprocess.run(
                    argv,
                    env=_child_env(env),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ShopflowError(
                    f"the run of {day} did not finish within {timeout:.0f}s; see {log_path}"
                ) from None
        seconds = time.monotonic() - started
        result = json.loads(result_file.read_text()) if result_file.exists() else None
    if result is None:
        raise ShopflowError(
            f"the run of {day} crashed (exit {proc.returncode}) before reporting; see {log_path}"
        )
    if "error" in result:
        raise ShopflowError(f"{result['error']}; see {log_path}")
    return RunOutcome(
        business_date=day,
        run_id=result["run_id"],
        state=result["state"],
        tasks=dict(result["tasks"]),
        log_path=log_path,
        seconds=seconds,
    )


def _run_here(day: date, *, full_refresh: bool, retries: int | None) -> dict[str, Any]:
    """Run the DAG in this process (its environment already configures Airflow)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.log import configure_logging
    from airflow.utils.session import create_session

    folder = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    if not folder or "AIRFLOW_HOME" not in os.environ:
        raise ShopflowError("Airflow is not configured here: use run_business_date()")
    # The task logging of a worker, secrets masker included; the core's console logging
    # that dag.test() would otherwise use prints connection passwords in clear.
    configure_logging(colored_console_log=False)
    bag = DagBag(dag_folder=folder)
    dag = bag.dags.get(DAG_ID)
    if dag is None:
        errors = "; ".join(
            f"{path}: {err.strip().splitlines()[-1]}" for path, err in bag.import_errors.items()
        )
        raise ShopflowError(
            f"DAG {DAG_ID} not found in {folder}" + (f" ({errors})" if errors else "")
        )
    logical_date = scheduled_logical_date(day)
    if dag.start_date is not None and logical_date < dag.start_date:
        # Airflow would create a run without task instances and call it a success.
        first = dag.start_date.date() - timedelta(days=1)
        if scheduled_logical_date(first) < dag.start_date:
            first += timedelta(days=1)
        raise ShopflowError(f"{day} is before the first business date of {DAG_ID}, {first}")
    if retries is not None:
        for task in dag.tasks:
            task.retries = retries
    dag_run = dag.test(
        logical_date=logical_date,
        run_conf={"business_date": day.isoformat(), "full_refresh": full_refresh},
    )
    with create_session() as session:
        instances = dag_run.get_task_instances(session=session)
        tasks = {
            ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): _state(ti.state)
            for ti in sorted(instances, key=lambda ti: (ti.task_id, ti.map_index))
        }
    return {"run_id": dag_run.run_id, "state": _state(dag_run.state), "tasks": tasks}


def _state(state: object) -> str:
    """An Airflow state (enum, plain str or None) as its lower-case name."""
    return "none" if state is None else str(getattr(state, "value", state))


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shopflow_local.airflow_runtime.dag_test",
        description=f"Run {DAG_ID} for one business date on the local Airflow (dag.test).",
    )
    parser.add_argument("--date", required=True, type=parse_date, help="business date YYYY-MM-DD")
    parser.add_argument("--full-refresh", action="store_true", help="extract every customer")
    parser.add_argument("--retries", type=int, help="override every task's retries")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; without --in-process it prepares the environment and runs a child."""
    try:
        args = _parse_args(argv)
    except ShopflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not args.in_process:
        try:
            outcome = run_business_date(
                args.date, full_refresh=args.full_refresh, env=airflow_env(), retries=args.retries
            )
        except ShopflowError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        print(outcome.summary())
        return EXIT_OK if outcome.ok else EXIT_FAILED
    try:
        result = _run_here(args.date, full_refresh=args.full_refresh, retries=args.retries)
    except ShopflowError as exc:
        result = {"error": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        result = {"error": f"the run failed unexpectedly: {type(exc).__name__}: {first}"}
    if args.result_file is not None:
        args.result_file.write_text(json.dumps(result))
    if "error" in result:
        print(f"error: {result['error']}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(result, indent=2))
    fine = result["state"] == "success" and all(s in FINE_STATES for s in result["tasks"].values())
    return EXIT_OK if fine and result["tasks"] else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
