"""Production stands alone: nothing in ``shopflow`` or ``dags/`` imports the local stack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = [ROOT / "src" / "shopflow", ROOT / "dags"]
LOCAL_PACKAGE = "shopflow_local"


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` in the file names, anywhere in it."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def production_files() -> list[Path]:
    return sorted(p for folder in PRODUCTION for p in folder.rglob("*.py"))


def test_the_walk_sees_the_production_modules() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in production_files()}
    assert {"dags/shop_daily_etl.py", "src/shopflow/tasks/extract.py"} <= files
    assert len(files) > 40


def test_the_walk_finds_imports_at_any_depth(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from shopflow_local.devstack import stack\n    import shopflow_local.cli\n"
    )
    assert imported_modules(probe) == {"shopflow_local.devstack", "shopflow_local.cli"}


def test_no_production_module_imports_the_local_stack() -> None:
    offenders = {
        path.relative_to(ROOT).as_posix(): sorted(
            m for m in imported_modules(path) if m.split(".")[0] == LOCAL_PACKAGE
        )
        for path in production_files()
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_production_errors_do_not_send_users_to_the_local_stack() -> None:
    mentions = [
        path.relative_to(ROOT).as_posix()
        for path in production_files()
        if "devstack" in path.read_text() or "SHOPFLOW_HOME" in path.read_text()
    ]
    assert mentions == []
