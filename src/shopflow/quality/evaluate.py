"""The quality checks without Airflow: the same declarations and SQL, through the warehouse layer.

For tests and the CLI summary. Column and table checks run the very query the
common.sql operator would build (its templates are mirrored here, and a unit test
holds them equal to the installed provider's), and compare results as the
operator does with ``accept_none=False`` (a NULL result fails). Run checks run
``sql/<name>.sql`` with the same bound values as the DAG. Airflow is not imported:
the CLI must not load Airflow's configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shopflow.quality.checks import (
    RUN_CHECKS,
    RUN_ID,
    TABLE_CHECKS,
    RunCheck,
    TableChecks,
    column_check_name,
)
from shopflow.warehouse.errors import WarehouseError

if TYPE_CHECKING:  # the DAG file imports this module at parse time: no pyarrow there
    from shopflow.warehouse.base import Warehouse

ERROR, WARNING = "error", "warning"
QUALITY_GROUP = "quality"
"""The DAG's task group of the check tasks (task ids ``quality.<task>``)."""
RESULTS_XCOM_KEY = "check_results"
"""XCom key under which each check task records ``{"seconds": s, "results": [...]}``."""

# SQLColumnCheckOperator.sql_check_template / .column_checks, common-sql 2.4.0.
COLUMN_CHECK_TEMPLATE = """
        SELECT '{column}' AS col_name, '{check}' AS check_type, {column}_{check} AS check_result
        FROM (SELECT {check_statement} AS {column}_{check} FROM {table} {partition_clause}) AS sq
    """
COLUMN_CHECK_STATEMENTS = {
    "null_check": "SUM(CASE WHEN {column} IS NULL THEN 1 ELSE 0 END)",
    "distinct_check": "COUNT(DISTINCT({column}))",
    "unique_check": "COUNT({column}) - COUNT(DISTINCT({column}))",
    "min": "MIN({column})",
    "max": "MAX({column})",
}
# SQLTableCheckOperator.sql_check_template, common-sql 2.4.0.
TABLE_CHECK_TEMPLATE = """
    SELECT '{check_name}' AS check_name, MIN({check_name}) AS check_result
    FROM (SELECT CASE WHEN {check_statement} THEN 1 ELSE 0 END AS {check_name}
          FROM {table} {partition_clause}) AS sq
    """


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome. ``severity`` says what not passing means: an error fails the run."""

    name: str
    passed: bool
    severity: str
    detail: str

    @property
    def fails_run(self) -> bool:
        """Not passed, at error severity."""
        return not self.passed and self.severity == ERROR

    @property
    def status(self) -> str:
        """``pass``, ``warn`` or ``fail``."""
        if self.passed:
            return "pass"
        return "fail" if self.fails_run else "warn"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for XCom and the run report."""
        return {**asdict(self), "status": self.status}


def run_checks(warehouse: Warehouse, *, run_id: str) -> list[CheckResult]:
    """Every declared check against ``warehouse`` for the run ``run_id``, in declaration order."""
    results = table_results(warehouse, TABLE_CHECKS, run_id=run_id)
    for check in RUN_CHECKS:
        results.append(_run_check_result(warehouse, check, run_id))
    return results


def table_results(
    warehouse: Warehouse, declared: Sequence[TableChecks], *, run_id: str | None = None
) -> list[CheckResult]:
    """The column and table checks of ``declared``; a scoped one reads the rows of ``run_id``."""
    results: list[CheckResult] = []
    for table in declared:
        if table.scope is not None and run_id is None:
            raise ValueError(f"the checks of {table.table} are scoped to a run: give its run_id")
        values = {RUN_ID: run_id} if table.scope is not None else {}
        results += _column_results(warehouse, table, values)
        results += _table_results(warehouse, table, values)
    return results


def failures(results: Sequence[CheckResult]) -> list[CheckResult]:
    """The results that fail the run."""
    return [r for r in results if r.fails_run]


# -- one task per check group ----------------------------------------------------------------


def column_task_id(declared: TableChecks) -> str:
    """The check task (in the ``quality`` group) of a table's column checks."""
    return f"{declared.table}_column_checks"


def table_task_id(declared: TableChecks) -> str:
    """The check task (in the ``quality`` group) of a table's statement checks."""
    return f"{declared.table}_table_checks"


def check_tasks() -> dict[str, list[str]]:
    """Check task id (inside the ``quality`` group) -> the names of the checks it runs.

    In declaration order, the order of :func:`run_checks`: the DAG builds exactly these
    tasks, and the report expects a recorded result from each.
    """
    tasks: dict[str, list[str]] = {}
    for declared in TABLE_CHECKS:
        if declared.columns:
            tasks[column_task_id(declared)] = declared.column_check_names()
        if declared.statements:
            tasks[table_task_id(declared)] = list(declared.statements)
    return tasks | {check.name: [check.name] for check in RUN_CHECKS}


def not_run(names: Sequence[str], why: str) -> list[CheckResult]:
    """Failed results for checks that gave no value (``why``: the error or the missing task)."""
    return [CheckResult(name, False, ERROR, why) for name in names]


def column_result(
    table: str, column: str, check: str, expected: Mapping[str, Any], value: Any, passed: bool
) -> CheckResult:
    """One column check's result: ``<check>(<column>) = <value>, expected <comparison>``."""
    return CheckResult(
        column_check_name(table, column, check),
        passed,
        ERROR,
        f"{check}({column}) = {_shown(value)}, expected {_expectation(expected)}",
    )


def _shown(value: Any) -> str:
    """A check value as text; a decimal without its scale (``0E-8`` is ``0``), as drivers differ."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def table_result(table: str, name: str, statement: str, passed: bool) -> CheckResult:
    """One statement check's result: ``<statement> on <table>: true|false``."""
    return CheckResult(
        name, passed, ERROR, f"{statement} on {table}: {'true' if passed else 'false'}"
    )


def run_row_outcome(row: Sequence[Any] | None) -> tuple[bool, str]:
    """A run check's ``(passed, detail)`` row as (every value truthy, the detail)."""
    if not row:
        return False, "the check query returned no row"
    return all(row), str(row[-1])


def run_result(
    check: RunCheck, outcome: tuple[bool, str], warning: tuple[bool, str] | None = None
) -> CheckResult:
    """A run check's result from its outcome and, after passing, its warning outcome."""
    passed, detail = outcome
    if not passed or warning is None:
        return CheckResult(check.name, passed, ERROR, detail)
    warned, warn_detail = warning
    if warned:
        return CheckResult(check.name, True, ERROR, detail)
    return CheckResult(
        check.name, False, WARNING, f"{warn_detail} (too few earlier days to fail: a warning)"
    )


# -- the operators' queries ------------------------------------------------------------------


def where(declared: TableChecks) -> str:
    """The operators' ``WHERE <partition_clause>``, or nothing for a whole table."""
    clause = declared.partition_clause
    return f"WHERE {clause}" if clause else ""


def column_checks_sql(declared: TableChecks) -> str:
    """The query SQLColumnCheckOperator builds for the table's column checks."""
    per_column = (
        "UNION ALL".join(
            COLUMN_CHECK_TEMPLATE.format(
                check_statement=COLUMN_CHECK_STATEMENTS[check].format(column=column),
                check=check,
                table=declared.qualified,
                column=column,
                partition_clause=where(declared),
            )
            for check in checks
        )
        for column, checks in declared.columns.items()
    )
    union = "UNION ALL".join(per_column)
    return f"SELECT col_name, check_type, check_result FROM ({union}) AS check_columns"


def table_checks_sql(declared: TableChecks) -> str:
    """The query SQLTableCheckOperator builds for the table's statement checks."""
    union = "UNION ALL".join(
        TABLE_CHECK_TEMPLATE.format(
            check_statement=value["check_statement"],
            check_name=name,
            table=declared.qualified,
            partition_clause=where(declared),
        )
        for name, value in declared.statements.items()
    )
    return f"SELECT check_name, check_result FROM ({union}) AS check_table"


# -- evaluation ------------------------------------------------------------------------------


def _column_results(
    warehouse: Warehouse, declared: TableChecks, values: Mapping[str, Any]
) -> list[CheckResult]:
    if not declared.columns:
        return []
    names = declared.column_check_names()
    rows = _rows(warehouse, column_checks_sql(declared), values, names)
    if isinstance(rows, str):
        return not_run(names, rows)
    found = {(r["col_name"], r["check_type"]): r["check_result"] for r in rows}
    return [
        column_result(
            declared.table, column, check, expected, value, column_passes(expected, value)
        )
        for column, checks in declared.columns.items()
        for check, expected in checks.items()
        for value in [found.get((column, check))]
    ]


def _table_results(
    warehouse: Warehouse, declared: TableChecks, values: Mapping[str, Any]
) -> list[CheckResult]:
    if not declared.statements:
        return []
    names = list(declared.statements)
    rows = _rows(warehouse, table_checks_sql(declared), values, names)
    if isinstance(rows, str):
        return not_run(names, rows)
    found = {r["check_name"]: r["check_result"] for r in rows}
    return [
        table_result(declared.table, name, value["check_statement"], found.get(name) == 1)
        for name, value in declared.statements.items()
    ]


def _run_check_result(warehouse: Warehouse, check: RunCheck, run_id: str) -> CheckResult:
    outcome = _evaluate(warehouse, check, check.bind(run_id))
    if not outcome[0] or not check.warning_parameters:
        return run_result(check, outcome)
    return run_result(check, outcome, _evaluate(warehouse, check, check.bind(run_id, warning=True)))


def _evaluate(warehouse: Warehouse, check: RunCheck, values: Mapping[str, Any]) -> tuple[bool, str]:
    rows = _rows(warehouse, check.sql, values, [check.name])
    if isinstance(rows, str):
        return False, rows
    return run_row_outcome(list(rows[0].values()) if rows else None)


def _rows(
    warehouse: Warehouse, sql: str, values: Mapping[str, Any], names: Sequence[str]
) -> list[dict[str, Any]] | str:
    """The query's rows, or the error's text when it fails."""
    try:
        rows: list[dict[str, Any]] = warehouse.query_arrow(sql, dict(values)).to_pylist()
    except WarehouseError as exc:
        return f"could not run {', '.join(names)}: {exc}"
    return rows


_COMPARE: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "equal_to": ("=", lambda got, want: bool(got == want)),
    "greater_than": (">", lambda got, want: bool(got > want)),
    "geq_to": (">=", lambda got, want: bool(got >= want)),
    "less_than": ("<", lambda got, want: bool(got < want)),
    "leq_to": ("<=", lambda got, want: bool(got <= want)),
}


def column_passes(expected: Mapping[str, Any], value: Any) -> bool:
    """The operator's comparison without tolerance; NULL fails (``accept_none=False``)."""
    if value is None:
        return False
    return all(
        compare(value, expected[key]) for key, (_, compare) in _COMPARE.items() if key in expected
    )


def _expectation(expected: Mapping[str, Any]) -> str:
    return " and ".join(
        f"{op} {expected[key]}" for key, (op, _) in _COMPARE.items() if key in expected
    )
