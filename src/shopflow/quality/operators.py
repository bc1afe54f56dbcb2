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
  paramstyle: ``$name`` for DuckDB, ``%s`` for psycopg and redshift_connector.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
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
    RunCheck,
    column_check_name,
)
from shopflow.warehouse.params import to_format

FAILURE_PREFIX = "shopflow quality check(s) failed:"


def build_quality_checks(conn_id: str = CONN_WAREHOUSE) -> list[BaseOperator]:
    """Every check as an operator, created in the current DAG / task group context.

    One ``<table>_column_checks`` and one ``<table>_table_checks`` task per table with such checks,
    one task per run check named after it. The tasks are independent of each other.
    """
    common: dict[str, Any] = {"conn_id": conn_id, "retry_on_failure": False}
    operators: list[BaseOperator] = []
    for declared in TABLE_CHECKS:
        if declared.columns:
            operators.append(
                ColumnCheckOperator(
                    task_id=f"{declared.table}_column_checks",
                    table=declared.qualified,
                    column_mapping=copy.deepcopy(declared.columns),
                    accept_none=False,
                    **common,
                )
            )
        if declared.statements:
            operators.append(
                TableCheckOperator(
                    task_id=f"{declared.table}_table_checks",
                    table=declared.qualified,
                    checks=copy.deepcopy(declared.statements),
                    accept_none=False,
                    **common,
                )
            )
    operators += [RunCheckOperator(check=check, **common) for check in RUN_CHECKS]
    return operators


def _prefer_read_only(operator: Any) -> None:
    """Open a DuckDB warehouse read-only (set before the operator's hook is first built)."""
    if operator.conn_id and BaseHook.get_connection(operator.conn_id).conn_type == "duckdb":
        operator.hook_params = {**operator.hook_params, "read_only": True}


def _failure(names: Iterable[str], message: str) -> str:
    return f"{FAILURE_PREFIX} {', '.join(names)}\n{message}"


class ColumnCheckOperator(SQLColumnCheckOperator):
    """``SQLColumnCheckOperator`` naming failed checks ``<table>.<column>.<check>``."""

    def execute(self, context: Context) -> None:
        _prefer_read_only(self)
        super().execute(context)

    def _get_match(self, check_values: Any, record: Any, tolerance: Any = None) -> bool:
        if record is None and not self.accept_none:
            return False
        return bool(super()._get_match(check_values, record, tolerance))

    def _raise_exception(self, exception_string: str) -> NoReturn:
        table = self.table.rsplit(".", 1)[-1]
        failed = [
            column_check_name(table, column, check)
            for column, checks in self.column_mapping.items()
            for check, values in checks.items()
            if not values.get("success", False)
        ]
        super()._raise_exception(_failure(failed, exception_string))


class TableCheckOperator(SQLTableCheckOperator):
    """``SQLTableCheckOperator`` naming failed checks by their keys."""

    def execute(self, context: Context) -> None:
        _prefer_read_only(self)
        super().execute(context)

    def _raise_exception(self, exception_string: str) -> NoReturn:
        failed = [name for name, values in self.checks.items() if not values.get("success")]
        super()._raise_exception(_failure(failed, exception_string))


class RunCheckOperator(SQLCheckOperator):
    """``SQLCheckOperator`` for a :class:`~shopflow.quality.checks.RunCheck` of this run.

    After the check passes, a check with ``warning_parameters`` is evaluated again
    with them, and a falsy row is logged as a warning: the task still succeeds.
    """

    template_fields = (*SQLCheckOperator.template_fields, "parameters")

    def __init__(self, *, check: RunCheck, **kwargs: Any) -> None:
        kwargs.setdefault("task_id", check.name)
        kwargs.setdefault("doc_md", check.description)
        super().__init__(sql=check.sql, parameters=check.bind("{{ run_id }}"), **kwargs)
        self.check_name = check.name
        self.warning_parameters = dict(check.warning_parameters or {})

    def execute(self, context: Context) -> None:
        _prefer_read_only(self)
        sql, values = self.sql, dict(self.parameters or {})
        self.sql, self.parameters = self._for_hook(sql, values)
        super().execute(context)
        if self.warning_parameters:
            row = self.get_db_hook().get_first(
                *self._for_hook(sql, {**values, **self.warning_parameters})
            )
            if not row or not all(row):
                self.log.warning(
                    "quality warning %s (run %s): %s", self.check_name, values.get(RUN_ID), row
                )

    def _for_hook(self, sql: str, values: Mapping[str, Any]) -> tuple[str, Any]:
        """``$name`` placeholders as the hook's driver expects them."""
        if self.get_db_hook().placeholder == "%s":
            return to_format(sql, values)
        return sql, dict(values)

    def _raise_exception(self, exception_string: str) -> NoReturn:
        super()._raise_exception(_failure([self.check_name], exception_string))
