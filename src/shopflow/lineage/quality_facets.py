"""Check results of the common.sql check operators as OpenLineage data-quality facets.

A result naming a table becomes an assertion of the ``dataQualityAssertions`` facet
of that table's input dataset; a result without a table (a run check spans several
tables) becomes a test of the run's ``test`` facet. The same split the provider
makes when it can name a check's datasets itself (it cannot on DuckDB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import RunFacet, data_quality_assertions_dataset, test_run


def _matches(dataset: Dataset, table: str) -> bool:
    name, table = dataset.name.lower(), table.lower()
    return name == table or name.endswith(f".{table}")


def _assertion(result: Any) -> data_quality_assertions_dataset.Assertion:
    return data_quality_assertions_dataset.Assertion(
        assertion=result.check_type,
        success=bool(result.success),
        column=result.column,
        severity=result.severity,
        name=result.name,
        description=result.description,
        expected=result.expected,
        actual=result.actual,
        content=result.content,
        contentType="sql" if result.content else None,
    )


def _test(result: Any) -> test_run.TestExecution:
    return test_run.TestExecution(
        name=result.name,
        status="pass" if result.success else "fail",
        severity=result.severity,
        type=result.check_type,
        description=result.description,
        expected=result.expected,
        actual=result.actual,
        content=result.content,
        contentType="sql" if result.content else None,
    )


def attach_check_results(inputs: Sequence[Dataset], results: Sequence[Any]) -> dict[str, RunFacet]:
    """Attach results to the inputs they name (in place); the rest as the run's ``test`` facet."""
    unmatched = []
    for result in results:
        target = next((d for d in inputs if result.table and _matches(d, result.table)), None)
        if target is None:
            unmatched.append(result)
            continue
        facets: dict[str, Any] = dict(target.facets or {})
        existing = facets.get("dataQualityAssertions")
        assertions = [*(existing.assertions if existing else []), _assertion(result)]
        facets["dataQualityAssertions"] = (
            data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(assertions=assertions)
        )
        target.facets = facets
    if not unmatched:
        return {}
    return {"test": test_run.TestRunFacet(tests=[_test(r) for r in unmatched])}
