"""The report task: stores the run report in staging, then fails an unhealthy run.

One business date staged by hand in a local staging directory, run through the
real transform and load task functions into a DuckDB warehouse file. The Airflow
connection and variables come from the environment (outside a task the Task SDK
reads ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*``: src/shopflow_local/in_process.py).
The check tasks' records are what ``evaluate`` finds, grouped per task as the
operators record them (tests/shopflow/quality/test_quality.py holds the two equal).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from shopflow.errors import ShopflowError
from shopflow.names import CONN_WAREHOUSE, SOURCES, VAR_HASH_KEY, VAR_STAGING_URI
from shopflow.quality.checks import check_names
from shopflow.quality.evaluate import check_tasks, run_checks
from shopflow.run_report import report_key
from shopflow.sources.clickstream import EVENTS_SCHEMA
from shopflow.sources.interactions import INTERACTIONS_SCHEMA
from shopflow.sources.products import PRODUCTS_SCHEMA
from shopflow.sources.result import ExtractResult
from shopflow.sources.sales import TABLES as SALES
from shopflow.staging import Staging
from shopflow.tasks.load import load
from shopflow.tasks.report import report
from shopflow.tasks.transform import transform
from shopflow.warehouse.factory import warehouse_from_connection
from shopflow_local.in_process import airflow_environment_for

pytestmark = pytest.mark.unit

D = date(2024, 5, 2)
RUN = "manual__2024-05-03T01:00:00+00:00"
CREATED = datetime(2024, 1, 1, tzinfo=UTC)
EMAIL = "ann@example.org"


def at(hour: int) -> datetime:
    return datetime(D.year, D.month, D.day, hour, tzinfo=UTC)


def customer() -> dict[str, Any]:
    return {"customer_id": 1, "email": EMAIL, "country": "DE", "created_at": CREATED,
            "updated_at": at(8)}  # fmt: skip


def order() -> dict[str, Any]:
    return {"order_id": 1, "customer_id": 1, "status": "paid", "currency": "USD",
            "order_ts": at(9), "updated_at": at(9), "shipping_amount": Decimal("0.00"),
            "discount_amount": Decimal("0.00")}  # fmt: skip


def item(line: int) -> dict[str, Any]:
    return {"order_id": 1, "line_no": line, "product_id": "p1", "quantity": line,
            "unit_price": Decimal("10.00")}  # fmt: skip


def touch() -> dict[str, Any]:
    return {"interaction_id": "i1", "email": EMAIL, "type": "email_click", "channel": "email",
            "campaign_id": "k1", "occurred_at_raw": at(7).isoformat(), "occurred_at": at(7),
            "properties": None}  # fmt: skip


def product() -> dict[str, Any]:
    return {"product_id": "p1", "sku": "sku-p1", "name": "one", "category": "toys",
            "brand": None, "price": Decimal("10.00"), "currency": "USD", "active": True,
            "updated_at": at(0), "attributes": None}  # fmt: skip


def event() -> dict[str, Any]:
    return {"event_id": "e1", "event_type": "page_view", "ts": at(8), "session_id": "s1",
            "customer_id": 1, "device": "mobile", "utm_campaign": None,
            "source_file": "f.json.gz", "source_line": 1}  # fmt: skip


def staged_rows() -> dict[str, dict[str, pa.Table]]:
    """Per source, its staged tables: one customer ordering two lines of a listed product."""

    def table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
        return pa.Table.from_pylist(rows, schema=schema)

    return {
        "sales": {
            "customers": table([customer()], SALES["customers"].schema),
            "orders": table([order()], SALES["orders"].schema),
            "order_items": table([item(1), item(2)], SALES["order_items"].schema),
            "fx_rates": table([], SALES["fx_rates"].schema),
        },
        "interactions": {"interactions": table([touch()], INTERACTIONS_SCHEMA)},
        "products": {"products": table([product()], PRODUCTS_SCHEMA)},
        "clickstream": {"events": table([event()], EVENTS_SCHEMA)},
    }


@dataclass
class Pipeline:
    """A staged day, its warehouse and the XCom values the DAG hands the report task."""

    staging_dir: Path
    warehouse_file: Path
    extracts: dict[str, Any]

    @property
    def staging(self) -> Staging:
        return Staging.from_uri(str(self.staging_dir))

    def transform_and_load(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The transform and load task functions on the staged day."""
        transformed = transform(D, RUN)
        return transformed, load(D, RUN, transformed)

    def recorded(self) -> dict[str, Any]:
        """What each check task records on the warehouse as it is now (0.25 s each)."""
        found = {
            r.name: r.to_dict()
            for r in run_checks(warehouse_from_connection(CONN_WAREHOUSE), run_id=RUN)
        }
        return {
            task: {"seconds": 0.25, "results": [found[name] for name in names]}
            for task, names in check_tasks().items()
        }

    def stored_report(self) -> dict[str, Any]:
        path = self.staging_dir / report_key(D, RUN)
        stored: dict[str, Any] = json.loads(path.read_text())
        return stored

    def execute(self, sql: str) -> None:
        """A write on the warehouse file, outside the pipeline (to plant a violation)."""
        with duckdb.connect(str(self.warehouse_file)) as conn:
            conn.execute(sql)


def stage_day(staging: Staging) -> dict[str, Any]:
    """Stage every source of D as its extract would; their extract summaries."""
    extracts = {}
    for source, tables in staged_rows().items():
        rows = sum(t.num_rows for t in tables.values())
        with staging.writer(source, D, run_id=RUN) as writer:
            for name, data in tables.items():
                writer.declare(name, data.schema)
                writer.write(name, data)
            writer.set_counts(rows_in=rows, rows_loaded=rows, rows_duplicate=0, rows_quarantined=0)
        extracts[source] = ExtractResult(
            source=source,
            business_date=D,
            manifest_uri=staging.manifest_uri(source, D),
            rows_in=rows,
            rows_loaded=rows,
            rows_duplicate=0,
            rows_quarantined=0,
            bytes_in=0,
            seconds=0.0,
            tables={name: t.num_rows for name, t in tables.items()},
        ).to_dict()
    return extracts


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    """D staged in a local staging directory; the connection and variables in the environment."""
    staging_dir, warehouse_file = tmp_path / "staging", tmp_path / "warehouse.duckdb"
    env = {
        "SHOPFLOW_HOME": str(tmp_path / "shopflow-home"),
        f"AIRFLOW_CONN_{CONN_WAREHOUSE.upper()}": json.dumps(
            {"conn_type": "duckdb", "host": str(warehouse_file)}
        ),
        f"AIRFLOW_VAR_{VAR_STAGING_URI.upper()}": str(staging_dir),
        f"AIRFLOW_VAR_{VAR_HASH_KEY.upper()}": "report-test-key",
    }
    with airflow_environment_for(env):
        staging = Staging.from_uri(str(staging_dir))
        yield Pipeline(staging_dir, warehouse_file, stage_day(staging))


def test_a_healthy_run_returns_the_report_uri_and_stores_the_report(pipeline: Pipeline) -> None:
    transformed, loaded = pipeline.transform_and_load()
    recorded = pipeline.recorded()
    result = report(
        D, RUN, extracts=pipeline.extracts, transformed=transformed, loaded=loaded,
        recorded=recorded,
    )  # fmt: skip
    key = report_key(D, RUN)
    assert key == "reports/dt=2024-05-02/manual__2024-05-03T01_00_00_00_00.json"
    assert result["report_uri"] == pipeline.staging.document_uri(key)
    assert result["checks"] == len(check_names())
    stored = pipeline.stored_report()
    assert (stored["business_date"], stored["run_id"]) == (D.isoformat(), RUN)
    assert stored["sources"] == pipeline.extracts
    assert set(stored["sources"]) == set(SOURCES)
    assert stored["audit"] == transformed["audit"]
    assert {row["source"] for row in stored["audit"]} == set(SOURCES)
    assert stored["deltas"] == transformed["deltas"]
    assert stored["deltas"]["fct_order_line"] == 2
    assert stored["load"] == loaded
    assert [c["name"] for c in stored["checks"]] == check_names()
    assert {c["status"] for c in stored["checks"]} == {"pass"}
    assert stored["checks_seconds"] == 0.25 * len(check_tasks())
    assert stored["unfinished"] == []
    assert result["warnings"] == []


def test_a_check_task_that_recorded_nothing_is_unfinished_and_its_checks_not_run(
    pipeline: Pipeline,
) -> None:
    transformed, loaded = pipeline.transform_and_load()
    recorded = {**pipeline.recorded(), "fct_order_line_column_checks": None}
    with pytest.raises(ShopflowError) as caught:
        report(D, RUN, extracts=pipeline.extracts, transformed=transformed, loaded=loaded,
               recorded=recorded)  # fmt: skip
    assert "unfinished steps [quality.fct_order_line_column_checks]" in str(caught.value)
    stored = pipeline.stored_report()
    assert stored["unfinished"] == ["quality.fct_order_line_column_checks"]
    assert [c["name"] for c in stored["checks"]] == check_names()
    not_run = [c for c in stored["checks"] if c["status"] != "pass"]
    assert [c["name"] for c in not_run] == check_tasks()["fct_order_line_column_checks"]
    assert {(c["status"], c["detail"]) for c in not_run} == {
        ("fail", "not run: quality.fct_order_line_column_checks recorded no result")
    }


def test_an_unfinished_extract_fails_the_run_and_the_report_is_stored(
    pipeline: Pipeline,
) -> None:
    transformed, loaded = pipeline.transform_and_load()
    extracts = {**pipeline.extracts, "interactions": None}
    with pytest.raises(ShopflowError) as caught:
        report(D, RUN, extracts=extracts, transformed=transformed, loaded=loaded,
               recorded=pipeline.recorded())  # fmt: skip
    message = str(caught.value)
    assert "unfinished steps [interactions], failed checks []" in message
    assert message.endswith(f"report at {pipeline.staging.document_uri(report_key(D, RUN))}")
    stored = pipeline.stored_report()
    assert stored["sources"] == extracts
    assert stored["unfinished"] == ["interactions"]
    assert [c["name"] for c in stored["checks"]] == check_names()


def test_unfinished_transform_and_load_fail_the_run_without_checks(pipeline: Pipeline) -> None:
    with pytest.raises(
        ShopflowError, match=r"unfinished steps \[transform, load, quality\], failed checks \[\]"
    ):
        report(D, RUN, extracts=pipeline.extracts, transformed=None, loaded=None)
    stored = pipeline.stored_report()
    assert stored["sources"] == pipeline.extracts
    assert stored["audit"] == [] and stored["deltas"] == {}
    assert stored["load"] is None and stored["checks"] == []
    assert stored["unfinished"] == ["transform", "load", "quality"]
    assert not pipeline.warehouse_file.exists()  # no load, so the checks never ran


def test_an_unfinished_load_fails_the_run_without_checks(pipeline: Pipeline) -> None:
    transformed = transform(D, RUN)
    with pytest.raises(
        ShopflowError, match=r"unfinished steps \[load, quality\], failed checks \[\]"
    ):
        report(D, RUN, extracts=pipeline.extracts, transformed=transformed, loaded=None)
    stored = pipeline.stored_report()
    assert stored["audit"] == transformed["audit"] and stored["deltas"] == transformed["deltas"]
    assert stored["load"] is None and stored["checks"] == []


def test_a_failed_check_fails_the_run_naming_it(pipeline: Pipeline) -> None:
    transformed, loaded = pipeline.transform_and_load()
    pipeline.execute(
        f"update analytics.load_audit set rows_in = rows_in + 1 where run_id = '{RUN}'"
        " and source = 'sales'"
    )
    with pytest.raises(
        ShopflowError, match=r"unfinished steps \[\], failed checks \[reconciliation\]"
    ):
        report(D, RUN, extracts=pipeline.extracts, transformed=transformed, loaded=loaded,
               recorded=pipeline.recorded())  # fmt: skip
    checks = {c["name"]: c for c in pipeline.stored_report()["checks"]}
    assert checks["reconciliation"]["status"] == "fail"
    assert [name for name, c in checks.items() if c["status"] == "fail"] == ["reconciliation"]
