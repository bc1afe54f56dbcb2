"""A production install: the package from the lock without the ``local`` extra runs the DAG's code.

Builds a throwaway virtual environment with uv (the pinned one under ``.tools/``,
or ``uv`` on PATH), installs the locked runtime dependencies without the extra and
without the dev group, installs the project itself, and there: the local stack's
dependencies are absent, every task module imports, and the DAG file parses into
the DAG with all its tasks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = ("moto", "aiosmtpd", "pymysql")
"""The extra's packages that nothing else needs (starlette, uvicorn and rich come with Airflow)."""
TASK_MODULES = (
    "shopflow.tasks.extract",
    "shopflow.tasks.transform",
    "shopflow.tasks.load",
    "shopflow.tasks.report",
    "shopflow.quality.operators",
    "shopflow.quality.evaluate",
    "shopflow.warehouse.factory",
    "shopflow.warehouse.duckdb",
    "shopflow.warehouse.postgres",
    "shopflow.warehouse.redshift",
    "shopflow.transform.build",
    "shopflow.sources.sales",
    "shopflow.sources.interactions",
    "shopflow.sources.products",
    "shopflow.sources.clickstream",
)

PROBE = """
import importlib, importlib.util, json, sys
absent = [m for m in {local_only!r} if importlib.util.find_spec(m) is not None]
for name in {modules!r}:
    importlib.import_module(name)
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={dags!r})
dag = bag.dags.get("shop_daily_etl")
print(json.dumps({{"present": absent, "errors": {{k: str(v) for k, v in bag.import_errors.items()}},
    "tasks": sorted(dag.task_ids) if dag else []}}))
"""


def find_uv() -> str:
    pinned = ROOT / ".tools" / "bin" / "uv"
    found = str(pinned) if pinned.is_file() else shutil.which("uv")
    if found:
        return found
    message = "uv is not installed (`make setup` puts it under .tools/)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message}; CI requires it")
    pytest.skip(message)


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{argv[:3]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def test_the_dag_and_every_task_module_import_without_the_local_extra(tmp_path: Path) -> None:
    uv = find_uv()
    requirements = tmp_path / "requirements.txt"
    run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "--no-hashes",
            "--format",
            "requirements-txt",
            "--output-file",
            str(requirements),
        ],
        cwd=ROOT,
    )
    pinned = requirements.read_text().lower()
    assert "apache-airflow==" in pinned
    assert not [m for m in LOCAL_ONLY if f"\n{m}==" in pinned], "the extra leaked into the export"
    venv = tmp_path / "venv"
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    run([uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements)])
    run([uv, "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(ROOT)])
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
    probe = PROBE.format(local_only=LOCAL_ONLY, modules=TASK_MODULES, dags=str(ROOT / "dags"))
    out = run([str(python), "-c", probe], env=env, cwd=tmp_path).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["present"] == [], "local-stack packages are installed in production"
    assert result["errors"] == {}
    assert "extract.extract_sales" in result["tasks"] and "report" in result["tasks"]
