"""The contract's quality checks, declared as data next to the tables they guard.

Three kinds, each in the format of the common.sql operator that runs it:

- **column checks** (``SQLColumnCheckOperator`` ``column_mapping``), per table: every
  key column ``null_check`` equal to 0, a single-column key also ``unique_check``
  equal to 0 (both derived from ``tables.py``), and the value ranges of
  ``VALUE_CHECKS``. Named ``<table>.<column>.<check>``.
- **table checks** (``SQLTableCheckOperator`` ``checks``): aggregate statements, so
  an empty table gives one row too. A composite key is unique when
  ``count(*) = count(distinct k1 || '|' || k2)`` (non-text parts cast to varchar;
  text parts are left uncast, Redshift's bare varchar would be 256 characters).
  Named by their key.
- **run checks** (``SQLCheckOperator``): ``sql/<name>.sql``, a query returning one
  row ``(passed, detail)`` whose values must all be truthy (``detail`` is never
  empty). They take the run id and find the business date in the run's
  ``load_audit`` rows, so no date has to be passed around.

Column and table checks of the tables that grow by the day read only the rows a run
writes (:class:`RunScope`, the operators' ``partition_clause``), so their cost follows
the day, not the history; the audit (``WHOLE_TABLE_CHECKS``, DAG
``shop_warehouse_audit``) runs the same checks over whole tables. Keys stay unique
across scopes because the load keeps them so: primary keys on Postgres, each delta's
keys checked unique and merged against the whole table on DuckDB (ADR 0010).

Run checks bind their values. The files write placeholders ``:name`` (sqlfluff and
sqlglot read them); :func:`dollar_style` turns them into the warehouse layer's
``$name``, which DuckDB takes natively and ``warehouse.params.to_format`` turns
into ``%s`` for psycopg and redshift_connector. The share thresholds
(:class:`ShareLimit`) are bound that way too: no limit is written in SQL text.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

from shopflow.warehouse.tables import TABLES, TableSpec

ColumnMapping = dict[str, dict[str, dict[str, Any]]]
"""``{column: {check: {comparison: value}}}``, as SQLColumnCheckOperator takes it."""
StatementChecks = dict[str, dict[str, str]]
"""``{name: {"check_statement": sql}}``, as SQLTableCheckOperator takes it."""

RUN_ID = "run_id"
COMPARISONS = frozenset({"equal_to", "greater_than", "geq_to", "less_than", "leq_to"})
KEY_SEPARATOR = "'|'"

VALUE_CHECKS: dict[str, ColumnMapping] = {
    "fct_order_line": {
        "quantity": {"min": {"greater_than": 0}},
        "unit_price": {"min": {"geq_to": 0}},
        "line_revenue_usd": {"min": {"geq_to": 0}},
        "fx_rate": {"min": {"greater_than": 0}},
    },
}
"""Value ranges per table and column (CONTRACT, "Quality checks")."""

STATEMENT_CHECKS: dict[str, StatementChecks] = {
    "fct_order_line": {
        "order_line_has_fx_rate": {"check_statement": "count(*) = count(fx_rate)"},
    },
}
"""Table checks besides composite-key uniqueness."""


@dataclass(frozen=True)
class RunScope:
    """The rows of a table that a run's column and table checks read.

    ``column`` on the run's business date D, or at most ``days_before`` dates earlier; D is
    the run's in ``load_audit`` (``:run_id``, bound). ``column`` may be a timestamp: the
    range is [D - days_before, D + 1 day).
    """

    column: str
    days_before: int = 0

    def __post_init__(self) -> None:
        if self.days_before < 0:
            raise ValueError(f"not a run scope: {self}")

    @property
    def clause(self) -> str:
        """The ``partition_clause``: fixed SQL text, ``:run_id`` the one placeholder."""
        bound = (
            "(select cast(max(audit.business_date) {sign} interval '{days} day' as date)"
            f" from {TABLES['load_audit'].qualified} as audit where audit.run_id = :{RUN_ID})"
        )
        first = bound.format(sign="-", days=self.days_before)
        after = bound.format(sign="+", days=1)
        return f"{self.column} >= {first} and {self.column} < {after}"


RUN_SCOPES: dict[str, RunScope] = {
    "fct_order_line": RunScope("updated_at"),  # the lines of the orders updated on D
    "fct_interaction": RunScope("interaction_date"),  # other dates are quarantined
    "fct_click_event": RunScope("event_date", 1),  # late events of D - 1 arrive under dt=D
    "fct_session": RunScope("session_date", 1),  # the sessions of those events
    "customer_daily": RunScope("activity_date", 1),  # D, and D - 1 of the late events
}
"""The tables a run's checks read in part (CONTRACT: their rows accrue by the day); the
dimensions, ``quarantine`` and ``load_audit`` stay whole (small, or checked per run)."""


@dataclass(frozen=True)
class TableChecks:
    """The column and table checks of one warehouse table, over its run scope or whole."""

    table: str
    columns: ColumnMapping
    statements: StatementChecks
    scope: RunScope | None = None

    @property
    def partition_clause(self) -> str | None:
        """The scope's clause with ``$run_id``, as the operators and ``evaluate`` send it."""
        return dollar_style(self.scope.clause) if self.scope else None

    @property
    def qualified(self) -> str:
        """``analytics.<table>``, as the operators take it."""
        return TABLES[self.table].qualified

    def column_check_names(self) -> list[str]:
        """``<table>.<column>.<check>`` for every column check."""
        return [
            column_check_name(self.table, column, check)
            for column, checks in self.columns.items()
            for check in checks
        ]


@dataclass(frozen=True)
class ShareLimit:
    """At most ``basis_points`` / 10 000 of a total, and never fewer than ``at_least`` allowed.

    A count passes when ``count <= allowed(total)``. The share's allowance is rounded
    down, which changes nothing for whole counts: ``count <= share * total`` holds
    exactly when ``count <= floor(share * total)``.
    """

    basis_points: int
    at_least: int

    def __post_init__(self) -> None:
        if not 0 < self.basis_points <= 10_000 or self.at_least < 0:
            raise ValueError(f"not a share limit: {self}")

    @property
    def label(self) -> str:
        """The share as a percentage, e.g. ``0.5 %``."""
        return f"{self.basis_points / 100:g} %"

    def allowed(self, total: int) -> int:
        """The most records of ``total`` that pass: ``max(at_least, floor(share * total))``."""
        return max(self.at_least, total * self.basis_points // 10_000)

    def parameters(self) -> dict[str, int | str]:
        """The values the check's SQL binds (``:limit_*``)."""
        return {
            "limit_basis_points": self.basis_points,
            "limit_at_least": self.at_least,
            "limit_label": self.label,
        }

    def __str__(self) -> str:
        return f"at most {self.label}, and never fewer than {self.at_least} allowed"


@dataclass(frozen=True)
class RunCheck:
    """A custom check: ``sql/<name>.sql`` bound to one run.

    ``parameters`` are bound besides ``run_id`` (and the ``share_limit``'s). With
    ``warning_parameters`` the check is evaluated a second time with those values
    (after passing), and a falsy row there is a warning that never fails the run.
    """

    name: str
    description: str
    parameters: Mapping[str, int] = field(default_factory=dict)
    warning_parameters: Mapping[str, int] | None = None
    counted: tuple[str, str] | None = None
    """For the ``row_count`` template: (table, date column) it counts."""
    share_limit: ShareLimit | None = None
    """For a share check: its threshold, bound as ``:limit_*``."""

    @property
    def text(self) -> str:
        """The query with ``:name`` placeholders (a template filled in for its table)."""
        if self.counted is None:
            return check_sql(self.name)
        table, column = self.counted
        if column not in TABLES[table].column_names:
            raise ValueError(f"{table} has no column {column!r}")
        text = re.sub(r"\bcounted_table\b", table, check_sql("row_count"))
        return re.sub(r"\bcounted_date\b", column, text)

    @property
    def sql(self) -> str:
        """The query with ``$name`` placeholders."""
        return dollar_style(self.text)

    def bind(self, run_id: str, *, warning: bool = False) -> dict[str, Any]:
        """The values of the query's placeholders, for the check or its warning evaluation."""
        extra = self.warning_parameters if warning else self.parameters
        limit = self.share_limit.parameters() if self.share_limit else {}
        return {RUN_ID: run_id, **limit, **(extra or {})}


HISTORY = {"min_history_days": 7}
WARN_ALWAYS = {"min_history_days": 0}

ORPHAN_LIMIT = ShareLimit(basis_points=50, at_least=25)
"""Order lines of D without a dim_product row: 0.5 %, never fewer than 25 allowed (the data
contract's floor is 5; 25 keeps a clean day's false alarms below 1 in 10 000: ADR 0007)."""
QUARANTINE_LIMIT = ShareLimit(basis_points=100, at_least=10)
"""Quarantined records of a source's rows_in: 1 %, never fewer than 10 allowed (data contract)."""

RUN_CHECKS: tuple[RunCheck, ...] = (
    RunCheck(
        "orphan_order_lines",
        f"Order lines placed on D whose product_id is not in dim_product: {ORPHAN_LIMIT}.",
        share_limit=ORPHAN_LIMIT,
    ),
    RunCheck(
        "quarantine_share",
        f"Quarantined records of each source of the run, of its rows_in: {QUARANTINE_LIMIT}.",
        share_limit=QUARANTINE_LIMIT,
    ),
    RunCheck(
        "customer_daily_revenue",
        "customer_daily.revenue_usd of every date the run touched equals its order lines.",
    ),
    RunCheck(
        "reconciliation",
        "Rule 9 for every source of the run: rows_in = loaded + duplicate + quarantined.",
    ),
    RunCheck(
        "row_count_order_lines",
        "Order lines of D within a factor of 3 of the trailing 7-day mean.",
        HISTORY,
        WARN_ALWAYS,
        counted=("fct_order_line", "order_date"),
    ),
    RunCheck(
        "row_count_click_events",
        "Click events of D within a factor of 3 of the trailing 7-day mean.",
        HISTORY,
        WARN_ALWAYS,
        counted=("fct_click_event", "event_date"),
    ),
    RunCheck(
        "row_count_interactions",
        "Interactions of D within a factor of 3 of the trailing 7-day mean.",
        HISTORY,
        WARN_ALWAYS,
        counted=("fct_interaction", "interaction_date"),
    ),
)


def column_check_name(table: str, column: str, check: str) -> str:
    """The stable name of one column check."""
    return f"{table}.{column}.{check}"


def key_unique_statement(spec: TableSpec) -> str:
    """``count(*) = count(distinct <key parts joined by '|'>)`` for a composite key."""
    types = {c.name: c.type for c in spec.columns}
    parts = [c if types[c] == "text" else f"cast({c} as varchar)" for c in spec.key]
    return f"count(*) = count(distinct {f' || {KEY_SEPARATOR} || '.join(parts)})"


def table_checks(spec: TableSpec, *, scoped: bool = True) -> TableChecks:
    """Key checks derived from ``spec.key``, plus the table's declared extras; ``scoped``:
    over the rows of the run (``RUN_SCOPES``), else over the whole table."""
    columns: ColumnMapping = {c: {"null_check": {"equal_to": 0}} for c in spec.key}
    statements: StatementChecks = {}
    if len(spec.key) == 1:
        columns[spec.key[0]]["unique_check"] = {"equal_to": 0}
    elif spec.key:
        statements[f"{spec.name}_key_unique"] = {"check_statement": key_unique_statement(spec)}
    for column, checks in VALUE_CHECKS.get(spec.name, {}).items():
        columns.setdefault(column, {}).update(copy.deepcopy(checks))
    statements.update(copy.deepcopy(STATEMENT_CHECKS.get(spec.name, {})))
    scope = RUN_SCOPES.get(spec.name) if scoped else None
    return TableChecks(spec.name, columns, statements, scope)


def _declared(*, scoped: bool) -> tuple[TableChecks, ...]:
    return tuple(
        checks
        for checks in (table_checks(spec, scoped=scoped) for spec in TABLES.values())
        if checks.columns or checks.statements
    )


TABLE_CHECKS: tuple[TableChecks, ...] = _declared(scoped=True)
"""The column and table checks of a run of ``shop_daily_etl``."""
WHOLE_TABLE_CHECKS: tuple[TableChecks, ...] = _declared(scoped=False)
"""The same checks over whole tables: the audit's."""


def check_names() -> list[str]:
    """Every check's name, in declaration order (column, table, then run checks)."""
    names: list[str] = []
    for declared in TABLE_CHECKS:
        names += declared.column_check_names()
        names += list(declared.statements)
    return names + [check.name for check in RUN_CHECKS]


# -- SQL text of the run checks --------------------------------------------------------------

# Quoted strings, quoted identifiers and comments are copied unchanged; outside them a
# ``:name`` (not ``::``) is a placeholder.
_TOKEN = re.compile(
    r"""(?P<skip>'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/)"""
    r"""|(?<!:):(?P<name>[A-Za-z_]\w*)""",
    re.DOTALL,
)


@cache
def check_sql(name: str) -> str:
    """The text of ``sql/<name>.sql``, with its ``:name`` placeholders."""
    text = files("shopflow.quality").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    return text.strip()


def placeholders(sql: str) -> set[str]:
    """Names of the ``:name`` placeholders of ``sql``."""
    return {m["name"] for m in _TOKEN.finditer(sql) if m["name"]}


def dollar_style(sql: str) -> str:
    """``sql`` with every ``:name`` placeholder written ``$name``."""
    return _TOKEN.sub(lambda m: m["skip"] or f"${m['name']}", sql)
