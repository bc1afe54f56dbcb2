"""Parsing a DAG file imports none of the heavy modules: checked in a fresh interpreter.

A subprocess, so an integration test (tests/README.md); the in-process DAG checks
are in test_shop_daily_etl.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import shopflow

pytestmark = pytest.mark.integration

DAG_FILES = sorted((Path(__file__).resolve().parents[2] / "dags").glob("*.py"))
HEAVY_MODULES = (
    "shopflow.tasks",
    "shopflow.sources",
    # the dialect modules; the table declarations (pure dataclasses) are light
    "shopflow.warehouse.base",
    "shopflow.warehouse.duckdb",
    "shopflow.warehouse.postgres",
    "shopflow.warehouse.redshift",
    "shopflow.warehouse.factory",
    "shopflow.transform",
    "duckdb",
    "pyarrow",
    "pandas",
    "numpy",
    "boto3",
    "botocore",
    "connectorx",
    "pymysql",
    "psycopg",
    "airflow.providers.smtp.notifications",
)


def test_every_dag_file_is_probed() -> None:
    assert {"shop_daily_etl.py", "shop_warehouse_audit.py"} <= {p.name for p in DAG_FILES}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_parsing_the_dag_imports_nothing_heavy(
    local_airflow: dict[str, str], dag_file: Path
) -> None:
    # A fresh interpreter: other tests may already have imported these modules here.
    probe = (
        "import json, runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[2:])))))"
    )
    source_root = str(Path(shopflow.__file__).resolve().parents[1])
    env = {**os.environ, **local_airflow}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
    prefixes = [f"{name}." for name in HEAVY_MODULES] + list(HEAVY_MODULES)
    result = subprocess.run(
        [sys.executable, "-c", probe, str(dag_file), *prefixes],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = [m for m in json.loads(result.stdout.strip().splitlines()[-1]) if _is_heavy(m)]
    assert loaded == []


def _is_heavy(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in HEAVY_MODULES)
