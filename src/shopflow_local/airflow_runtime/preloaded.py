"""The ``airflow`` command with the modules of shopflow's tasks imported first.

``python -m shopflow_local.airflow_runtime.preloaded scheduler ...`` is ``airflow
scheduler ...`` for the local stack. Checked on Airflow 3.3.2: the LocalExecutor
forks its workers from the scheduler process when it starts (``mp_start_method``
fork, Linux's default), and each worker's supervisor forks one process per task
try; that process parses the DAG file (``task_runner.parse``) and runs the task.
Every module imported before the fork is already there, so a task process no
longer imports the DAG file's dependencies, the common.sql operators, the DuckDB
hook and the providers' asset factories that the hook-lineage collector loads
on the first SQL statement (boto3 and the Amazon S3 hook among them): about 2-4 s
of CPU per task on a 2-core machine, times ~25 tasks a run.

Only modules are imported, no connection, thread or file is opened, so nothing
unsafe crosses the fork. A module that fails to import is logged and skipped:
the task then imports it itself, as without the preload.
"""

from __future__ import annotations

import importlib
import logging
import sys

log = logging.getLogger(__name__)

COMMAND = ("-m", "shopflow_local.airflow_runtime.preloaded")
"""Python arguments that run this module: ``airflow`` with the task modules preloaded."""

PRELOAD = (
    # the task process's own start: supervisor, task runner, DAG bag and bundles
    "airflow.sdk.execution_time.supervisor",
    "airflow.sdk.execution_time.task_runner",
    "airflow.dag_processing.dagbag",
    "airflow.dag_processing.bundles.manager",
    "airflow.dag_processing.bundles.local",
    # what the DAG file imports at parse time
    "shopflow.alerts",
    "shopflow.dates",
    "shopflow.quality.operators",
    "airflow.providers.common.sql.hooks.sql",
    "airflow.providers.duckdb.hooks.duckdb",
    "airflow.providers.postgres.hooks.postgres",
    # what the task callables import when they run
    "shopflow.tasks.extract",
    "shopflow.tasks.transform",
    "shopflow.tasks.load",
    "shopflow.tasks.report",
    "shopflow.lineage.assets",
    # the OpenLineage listener, when the local settings enable it (START/COMPLETE per task)
    "airflow.providers.openlineage.plugins.listener",
    "openlineage.client",
)
"""Imported in the scheduler before its executor forks the workers."""


def preload(modules: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import modules and warm the hook-lineage collector; the names that failed to import."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional provider must not stop the scheduler
            log.warning("preload: cannot import %s (%s); tasks import it themselves", name, exc)
            failed.append(name)
    try:
        from airflow.sdk.lineage import get_hook_lineage_collector

        # Cached per process; building it imports every provider's asset factories.
        get_hook_lineage_collector()
    except Exception as exc:
        log.warning("preload: hook lineage collector not built (%s)", exc)
    return failed


def main() -> None:
    """Preload, then run the ``airflow`` command line with this process's arguments."""
    preload()
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", *sys.argv[1:]]
    airflow_main()


if __name__ == "__main__":
    main()
