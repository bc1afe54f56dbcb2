"""The quality checks as common.sql check operators, for the DAG's ``quality`` task group.

Thin subclasses of ``SQLColumnCheckOperator``, ``SQLTableCheckOperator`` and
``SQLCheckOperator`` that add only what the stock operators lack here:

- the failure message starts with the names of the failed checks (``checks.py``);
- a check failure fails the task without retries (``retry_on_failure=False``): the
  data will not change on retry; connection errors still retry;
- on a DuckDB connection the hook opens the file read-only, so the checks of one
  run can run in parallel processes (DuckDB lets many readers, or one writer, open
  a file) and cannot write;
- a column check whose statement gives NULL (an empty table) fails instead of
  raising ``TypeError`` (``accept_none=False``);
- run checks template ``parameters`` (``{{ run_id }}``) and bind them in the hook's
  paramstyle: ``$name`` for DuckDB, ``%s`` for psycopg and redshift_connector; so do
  column and table checks scoped to the run's rows (``partition_clause`` reading
  ``$run_id``, ``checks.RunScope``): the stock ``execute`` sends no parameters, so the
  hook's ``get_records`` is given them for the call;
- every task records its checks' results (``shopflow.quality.evaluate.CheckResult``
  dicts) in XCom under ``RESULTS_XCOM_KEY``, also when a check fails or the query
  raises (recorded before raising): the report task reads them instead of running
  the checks again.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import BaseHook, BaseOperator, Context

from shopflow.names import CONN_WAREHOUSE
from shopflow.quality.checks import (
    RUN_CHECKS,
    RUN_ID,
    TABLE_CHECKS,
    WHOLE_TABLE_CHECKS,
    RunCheck,
    TableChecks,
    column_check_name,
)
from shopflow.quality.evaluate import (
    RESULTS_XCOM_KEY,
    CheckResult,
    column_result,
    column_task_id,
    not_run,
    run_result,
    run_row_outcome,
    table_result,
    table_task_id,
)
from shopflow.warehouse.params import to_format

FAILURE_PREFIX = "shopflow quality check(s) failed:"


def build_quality_checks(
    conn_id: str = CONN_WAREHOUSE, *, whole_tables: bool = False
) -> list[BaseOperator]:
    """Every check as an operator, created in the current DAG / task group context.

    One ``<table>_column_checks`` and one ``<table>_table_checks`` task per table with such checks,
    one task per run check named after it. The tasks are independent of each other.
    ``whole_tables`` (the audit): the column and table checks over whole tables, no run checks.
    """
    common: dict[str, Any] = {"conn_id": conn_id, "retry_on_failure": False}
    operators: list[BaseOperator] = []
    for declared in WHOLE_TABLE_CHECKS if whole_tables else TABLE_CHECKS:
        scoped = _scoped(declared)
        if declared.columns:
            operators.append(
                ColumnCheckOperator(
                    task_id=column_task_id(declared),
                    table=declared.qualified,
                    column_mapping=copy.deepcopy(declared.columns),
                    accept_none=False,
                    **scoped,
                    **common,
                )
            )
        if declared.statements:
            operators.append(
                TableCheckOperator(
                    task_id=table_task_id(declared),
                    table=declared.qualified,
                    checks=copy.deepcopy(declared.statements),
                    accept_none=False,
                    **scoped,
                    **common,
                )
            )
    if not whole_tables:
        operators += [RunCheckOperator(check=check, **common) for check in RUN_CHECKS]
    return operators


def _scoped(declared: TableChecks) -> dict[str, Any]:
    """The partition clause of a table's run scope and the run id it binds, templated."""
    if declared.scope is None:
        return {}
    return {
        "partition_clause": declared.partition_clause,
        "scope_parameters": {RUN_ID: "{{ run_id }}"},
    }


def _for_hook(hook: Any, sql: str, values: Mapping[str, Any]) -> tuple[str, Any]:
    """``$name`` placeholders as the hook's driver expects them."""
    if hook.placeholder == "%s":
        return to_format(sql, values)
    return sql, dict(values)


def _prefer_read_only(operator: Any) -> None:
    """Open a DuckDB warehouse read-only (set before the operator's hook is first built)."""
    if operator.conn_id and BaseHook.get_connection(operator.conn_id).conn_type == "duckdb":
        operator.hook_params = {**operator.hook_params, "read_only": True}


def _failure(names: Iterable[str], message: str) -> str:
    return f"{FAILURE_PREFIX} {', '.join(names)}\n{message}"


class _RecordsResults(BaseOperator):
    """Runs the stock ``execute`` read-only and records the results in XCom, even on failure."""

    def execute(self, context: Context) -> None:
        _prefer_read_only(self)
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            self.run_checks(context)
        except Exception as exc:
            error = exc
            raise
        finally:
            record = {
                "seconds": round(time.perf_counter() - started, 3),
                "results": [r.to_dict() for r in self.results(error)],
            }
            context["ti"].xcom_push(key=RESULTS_XCOM_KEY, value=record)

    def run_checks(self, context: Context) -> None:
        """The stock operator's ``execute``."""
        super().execute(context)

    def results(self, error: BaseException | None) -> list[CheckResult]:
        """One result per check of the task; a check without a value fails with ``error``."""
        raise NotImplementedError


class _ScopedToRun(_RecordsResults):
    """A column or table check whose ``partition_clause`` may read ``$run_id``.

    ``scope_parameters`` (templated) are bound for the stock ``execute``'s one query,
    which itself passes none: the hook's ``get_records`` is given them for the call.
    """

    def __init__(self, *, scope_parameters: Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.scope_parameters = dict(scope_parameters or {})

    def run_checks(self, context: Context) -> None:
        if not self.scope_parameters:
            super().run_checks(context)
            return
        check: Any = self  # a common.sql check operator (the subclasses' other base)
        hook = check.get_db_hook()
        check.sql, values = _for_hook(hook, check.sql, self.scope_parameters)
        hook.get_records = functools.partial(hook.get_records, parameters=values)
        try:
            super().run_checks(context)
        finally:
            del hook.get_records  # the class's method again


def _could_not_run(names: Sequence[str], error: BaseException | None) -> list[CheckResult]:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    return not_run(names, f"could not run {', '.join(names)}: {first_line}")


class ColumnCheckOperator(_ScopedToRun, SQLColumnCheckOperator):
    """``SQLColumnCheckOperator`` naming failed checks ``<table>.<column>.<check>``."""

    template_fields = (*SQLColumnCheckOperator.template_fields, "scope_parameters")

    def _get_match(self, check_values: Any, record: Any, tolerance: Any = None) -> bool:
        if record is None and not self.accept_none:
            return False
        return bool(super()._get_match(check_values, record, tolerance))

    def results(self, error: BaseException | None) -> list[CheckResult]:
        table = self.table.rsplit(".", 1)[-1]
        results: list[CheckResult] = []
        for column, checks in self.column_mapping.items():
            for check, values in checks.items():
                if "success" in values:
                    results.append(
                        column_result(
                            table, column, check, values, values.get("result"), values["success"]
                        )
                    )
                else:
                    results += _could_not_run([column_check_name(table, column, check)], error)
        return results

    def _raise_exception(self, exception_string: str) -> NoReturn:
        table = self.table.rsplit(".", 1)[-1]
        failed = [
            column_check_name(table, column, check)
            for column, checks in self.column_mapping.items()
            for check, values in checks.items()
            if not values.get("success", False)
        ]
        super()._raise_exception(_failure(failed, exception_string))


class TableCheckOperator(_ScopedToRun, SQLTableCheckOperator):
    """``SQLTableCheckOperator`` naming failed checks by their keys."""

    template_fields = (*SQLTableCheckOperator.template_fields, "scope_parameters")

    def results(self, error: BaseException | None) -> list[CheckResult]:
        table = self.table.rsplit(".", 1)[-1]
        results: list[CheckResult] = []
        for name, values in self.checks.items():
            if "success" in values:
                passed = values["success"] is True
                results.append(table_result(table, name, values["check_statement"], passed))
            else:
                results += _could_not_run([name], error)
        return results

    def _raise_exception(self, exception_string: str) -> NoReturn:
        failed = [name for name, values in self.checks.items() if not values.get("success")]
        super()._raise_exception(_failure(failed, exception_string))


class RunCheckOperator(_RecordsResults, SQLCheckOperator):
    """``SQLCheckOperator`` for a :class:`~shopflow.quality.checks.RunCheck` of this run.

    After the check passes, a check with ``warning_parameters`` is evaluated again
    with them, and a falsy row is logged and recorded as a warning: the task still succeeds.
    """

    template_fields = (*SQLCheckOperator.template_fields, "parameters")

    def __init__(self, *, check: RunCheck, **kwargs: Any) -> None:
        kwargs.setdefault("task_id", check.name)
        kwargs.setdefault("doc_md", check.description)
        super().__init__(sql=check.sql, parameters=check.bind("{{ run_id }}"), **kwargs)
        self.check = check
        self.check_name = check.name
        self.warning_parameters = dict(check.warning_parameters or {})
        self._row: Any = None
        self._warning_row: Any = None
        self._evaluated = False

    def run_checks(self, context: Context) -> None:
        sql, values = self.sql, dict(self.parameters or {})
        hook = self.get_db_hook()
        self.sql, self.parameters = _for_hook(hook, sql, values)
        super().run_checks(context)
        if self.warning_parameters:
            self._warning_row = hook.get_first(
                *_for_hook(hook, sql, {**values, **self.warning_parameters})
            )
            if not self._warning_row or not all(self._warning_row):
                self.log.warning(
                    "quality warning %s (run %s): %s",
                    self.check_name,
                    values.get(RUN_ID),
                    self._warning_row,
                )

    def _build_check_results(self, records: Any) -> Any:
        """The stock hook before the pass/fail decision: keep the row for the result."""
        self._row, self._evaluated = records, True
        return super()._build_check_results(records)

    def results(self, error: BaseException | None) -> list[CheckResult]:
        if not self._evaluated:
            return _could_not_run([self.check_name], error)
        outcome = run_row_outcome(self._row)
        if not outcome[0] or not self.warning_parameters:
            return [run_result(self.check, outcome)]
        if error is not None and self._warning_row is None:  # the warning query raised
            return _could_not_run([self.check_name], error)
        return [run_result(self.check, outcome, run_row_outcome(self._warning_row))]

    def _raise_exception(self, exception_string: str) -> NoReturn:
        super()._raise_exception(_failure([self.check_name], exception_string))
