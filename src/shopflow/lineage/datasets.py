"""What each task of the shopflow DAGs reads and writes, as OpenLineage dataset names.

Resolved when the OpenLineage listener asks (at a task's start and end, in the task's
own process) from the run's business date and the connections' locating fields:
the sales tables, the marketing API endpoint, the DynamoDB table, the S3
clickstream prefix, the staging partitions and documents, the warehouse tables.
The quality checks' inputs come from their operators (``tables_of_check``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, NamedTuple

from shopflow.lineage import naming
from shopflow.lineage.naming import DatasetName
from shopflow.marts.campaign_revenue import DAG_ID as CAMPAIGN_REVENUE_DAG_ID
from shopflow.names import CONN_API, CONN_SALES, CONN_WAREHOUSE, DAG_ID, SOURCES

DELTAS = "transformed"
"""The staging partition of the transform's deltas (``shopflow.tasks.transform``)."""


class TaskLineage(NamedTuple):
    """A task's inputs and outputs."""

    inputs: list[DatasetName]
    outputs: list[DatasetName]


@dataclass
class RunSide:
    """The run's business date and id, connections fetched once and only when needed."""

    business_date: date
    run_id: str
    _cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> RunSide:
        """From an Airflow task context."""
        from shopflow.dates import business_date_from_context

        return cls(business_date_from_context(context), str(context["run_id"]))

    def connection(self, conn_id: str) -> Any:
        """The Airflow connection (only its locating fields are read)."""
        if conn_id not in self._cache:
            from shopflow.tasks.connections import get_connection

            self._cache[conn_id] = get_connection(conn_id)
        return self._cache[conn_id]

    @cached_property
    def staging_uri(self) -> str:
        """The staging area's URI (a directory or ``s3://bucket/prefix``)."""
        from shopflow.tasks.connections import resolve_staging_uri

        return resolve_staging_uri()

    @cached_property
    def aws(self) -> Any:
        """``shop_aws`` as settings (region, endpoints, bucket, table)."""
        from shopflow.tasks.connections import resolve_aws

        return resolve_aws()

    def partition(self, source: str) -> DatasetName:
        """The staging partition ``raw/<source>/dt=D``."""
        return naming.staging_partition(self.staging_uri, source, self.business_date)

    def warehouse(self, qualified: str) -> DatasetName:
        """A warehouse table."""
        return naming.warehouse_table(self.connection(CONN_WAREHOUSE), qualified)

    def all_warehouse_tables(self) -> list[DatasetName]:
        """Every warehouse table."""
        from shopflow.warehouse.tables import TABLES

        return [self.warehouse(spec.qualified) for spec in TABLES.values()]


def _sales(run: RunSide) -> TaskLineage:
    from shopflow.sources.sales import TABLES

    conn = run.connection(CONN_SALES)
    return TaskLineage(naming.sales_tables(conn, tuple(TABLES)), [run.partition("sales")])


def _interactions(run: RunSide) -> TaskLineage:
    from shopflow.sources.interactions import PATH
    from shopflow.tasks.connections import api_settings

    base_url = api_settings(run.connection(CONN_API)).base_url
    return TaskLineage([naming.api_endpoint(base_url, PATH)], [run.partition("interactions")])


def _products(run: RunSide) -> TaskLineage:
    aws = run.aws
    table = naming.dynamodb_table(aws.region, aws.dynamodb_endpoint, aws.products_table)
    return TaskLineage([table], [run.partition("products")])


def _clickstream(run: RunSide) -> TaskLineage:
    from shopflow.sources.clickstream import day_prefix

    prefix = naming.s3_object(run.aws.require_bucket(), day_prefix(run.business_date))
    return TaskLineage([prefix], [run.partition("clickstream")])


def _transform(run: RunSide) -> TaskLineage:
    return TaskLineage([run.partition(s) for s in SOURCES], [run.partition(DELTAS)])


def _load(run: RunSide) -> TaskLineage:
    return TaskLineage([run.partition(DELTAS)], run.all_warehouse_tables())


def _report(run: RunSide) -> TaskLineage:
    from shopflow.run_report import page_key, report_key

    keys = (report_key(run.business_date, run.run_id), page_key(run.business_date, run.run_id))
    documents = [naming.staging_location(run.staging_uri, key) for key in keys]
    return TaskLineage(run.all_warehouse_tables(), documents)


def _campaign_revenue(run: RunSide) -> TaskLineage:
    from shopflow.marts.campaign_revenue import SOURCE_TABLE, export_key

    document = naming.staging_location(run.staging_uri, export_key(run.business_date))
    return TaskLineage([run.warehouse(SOURCE_TABLE)], [document])


TASKS: dict[tuple[str, str], Callable[[RunSide], TaskLineage]] = {
    (DAG_ID, "extract.extract_sales"): _sales,
    (DAG_ID, "extract.extract_interactions"): _interactions,
    (DAG_ID, "extract.extract_products"): _products,
    (DAG_ID, "extract.extract_clickstream"): _clickstream,
    (DAG_ID, "transform"): _transform,
    (DAG_ID, "load"): _load,
    (DAG_ID, "report"): _report,
    (CAMPAIGN_REVENUE_DAG_ID, "campaign_revenue"): _campaign_revenue,
}
"""(dag id, task id) -> its lineage."""


def describes(dag_id: str, task_id: str) -> bool:
    """Whether this module knows the task's lineage."""
    return (dag_id, task_id) in TASKS


def task_lineage(dag_id: str, task_id: str, run: RunSide) -> TaskLineage:
    """The lineage of a task this module describes."""
    return TASKS[dag_id, task_id](run)


_QUALIFIED = re.compile(r"\banalytics\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)


def tables_of_check(operator: Any) -> list[str]:
    """``schema.table`` of every warehouse table a check operator reads (its table, its SQL)."""
    from shopflow.warehouse.tables import SCHEMA, TABLES

    texts = [str(getattr(operator, "table", "") or ""), str(getattr(operator, "sql", "") or "")]
    found = {m.group(1).lower() for text in texts for m in _QUALIFIED.finditer(text)}
    return [f"{SCHEMA}.{name}" for name in sorted(found) if name in TABLES]
