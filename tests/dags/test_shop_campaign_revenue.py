"""The downstream DAG and the upstream's outlet: scheduled on the warehouse-ready alias."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shopflow.lineage.assets import WAREHOUSE_READY

pytestmark = pytest.mark.unit

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(local_airflow: dict[str, str]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_the_downstream_dag_is_scheduled_on_the_alias(dagbag: Any) -> None:
    dag = dagbag.dags["shop_campaign_revenue"]
    assert not dagbag.import_errors
    assert dag.timetable.asset_condition == WAREHOUSE_READY
    assert list(dag.task_dict) == ["campaign_revenue"]
    assert not dag.catchup and dag.max_active_runs == 1


def test_only_the_report_announces_the_warehouse(dagbag: Any) -> None:
    dag = dagbag.dags["shop_daily_etl"]
    with_outlets = {t.task_id: t.outlets for t in dag.tasks if t.outlets}
    assert with_outlets == {"report": [WAREHOUSE_READY]}


def test_the_local_airflow_turns_lineage_on(local_airflow: dict[str, str]) -> None:
    import json

    transport = json.loads(local_airflow["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport["type"] == "file"
    assert Path(transport["log_file_path"]).parent.is_dir()
    assert local_airflow["AIRFLOW__OPENLINEAGE__EXTRACTORS"] == (
        "shopflow.lineage.extractor.ShopflowExtractor"
    )
