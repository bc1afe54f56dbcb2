"""bench/compare.py's pure pieces: the figures table, and the no-op DAG's shape."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from dags.conftest import local_airflow  # noqa: F401  # the fixture, for the DagBag tests

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from _common import Row, format_table, ratio, spread  # noqa: E402


def test_spread_is_median_min_max() -> None:
    assert spread([3.0, 1.0, 2.0, 10.0]) == (2.5, 1.0, 10.0)
    with pytest.raises(ValueError, match="no values"):
        spread([])


def test_ratio_to_the_floor() -> None:
    assert ratio(30.0, 10.0) == "3.0x"
    assert ratio(5.0, None) == "-"


def test_table_shows_each_contender_against_the_floor_median() -> None:
    rows = [
        Row("a", "floor", [2.0, 4.0, 3.0], [100.0, 120.0, 110.0]),
        Row("b", "in-process", [9.0, 6.0, 7.5], [500.0, 520.0, 510.0]),
        Row("e", "no-op DAG", [], []),
    ]
    lines = format_table(rows)
    assert lines[0].split()[:3] == ["contender", "median", "s"]
    assert lines[1].split() == ["a", "floor", "3.00", "2.00-4.00", "110", "1.0x"]
    assert lines[2].split() == ["b", "in-process", "7.50", "6.00-9.00", "510", "2.5x"]
    assert "(not run)" in lines[3]


def test_table_without_a_floor_has_no_ratios() -> None:
    lines = format_table([Row("b", "in-process", [1.0], [1.0])])
    assert lines[1].split()[-1] == "-"


def _shape(dag: Any) -> dict[str, tuple[str, ...]]:
    return {t.task_id: tuple(sorted(t.downstream_task_ids)) for t in dag.tasks}


def test_noop_dag_has_the_real_dags_shape(local_airflow: dict[str, str]) -> None:  # noqa: F811
    from airflow.dag_processing.dagbag import DagBag

    real = DagBag(dag_folder=str(ROOT / "dags" / "shop_daily_etl.py"))
    noop = DagBag(dag_folder=str(ROOT / "bench" / "dags"))
    assert noop.import_errors == {}
    real_dag, noop_dag = real.dags["shop_daily_etl"], noop.dags["shop_daily_etl_noop"]
    assert _shape(noop_dag) == _shape(real_dag)
    assert len([t for t in noop_dag.task_ids if t.startswith("quality.")]) == 18
    assert noop_dag.task_dict["report"].trigger_rule == real_dag.task_dict["report"].trigger_rule
