"""The OpenLineage extractor of the shopflow tasks: every START, COMPLETE and FAIL names its data.

Registered with ``[openlineage] extractors = shopflow.lineage.extractor.ShopflowExtractor``
(the local Airflow sets it; production sets it beside its transport). It covers the
TaskFlow tasks (``@task``: ``_PythonDecoratedOperator``) and the quality check
operators. For a task of another DAG it gives what the provider gives without it
(the Python extractor's source code facet, then hook lineage and manual inlets and
outlets). Lineage never fails a task: the provider logs what an extractor raises.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.openlineage.extractors.base import BaseExtractor, OperatorLineage
from airflow.providers.openlineage.extractors.python import PythonExtractor
from openlineage.client.event_v2 import Dataset

from shopflow.lineage.datasets import RunSide, describes, tables_of_check, task_lineage
from shopflow.lineage.naming import DatasetName
from shopflow.lineage.quality_facets import attach_check_results

TASKFLOW_OPERATOR = "_PythonDecoratedOperator"
CHECK_OPERATORS = ("ColumnCheckOperator", "TableCheckOperator", "RunCheckOperator")
"""Class names of ``shopflow.quality.operators`` (tests keep the two in step)."""


def _datasets(names: list[DatasetName]) -> list[Dataset]:
    return [Dataset(namespace=n.namespace, name=n.name) for n in dict.fromkeys(names)]


class ShopflowExtractor(BaseExtractor):
    """Inputs and outputs of the shopflow tasks from ``shopflow.lineage.datasets``."""

    @classmethod
    def get_operator_classnames(cls) -> list[str]:
        return [TASKFLOW_OPERATOR, *CHECK_OPERATORS]

    def _execute_extraction(self) -> OperatorLineage | None:
        from airflow.sdk import get_current_context

        return self._lineage(get_current_context())

    def extract_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        return self._lineage(task_instance.get_template_context())

    def extract_on_failure(self, task_instance: Any) -> OperatorLineage | None:
        return self.extract_on_complete(task_instance)

    def _lineage(self, context: Any) -> OperatorLineage | None:
        operator = self.operator
        if operator.task_type in CHECK_OPERATORS:
            return self._check_lineage(RunSide.from_context(context))
        if not describes(operator.dag_id, operator.task_id):
            return self._not_ours()
        found = task_lineage(operator.dag_id, operator.task_id, RunSide.from_context(context))
        return OperatorLineage(inputs=_datasets(found.inputs), outputs=_datasets(found.outputs))

    def _check_lineage(self, run: RunSide) -> OperatorLineage:
        inputs = _datasets([run.warehouse(t) for t in tables_of_check(self.operator)])
        results = list(getattr(self.operator, "check_results", None) or [])
        run_facets = attach_check_results(inputs, results)
        return OperatorLineage(inputs=inputs, run_facets=run_facets)

    def _not_ours(self) -> OperatorLineage | None:
        """What the provider's Python extractor gives (then hook lineage, inlets, outlets)."""
        python = PythonExtractor(self.operator)
        python.source_code_enabled = self.source_code_enabled
        return python.extract()
