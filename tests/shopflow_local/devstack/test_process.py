"""Background processes: the environment they inherit, and stopping them with what they started."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from shopflow_local.devstack.process import read_pid, start_background, stop_background

pytestmark = pytest.mark.integration

SPAWN_GROUPED_CHILD = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         start_new_session=True)  # its own group, as Airflow's task processes
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(60)
"""


def _wait_for(path: Path) -> str:
    deadline = time.monotonic() + 20
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.05)
    return path.read_text()


def test_a_process_does_not_inherit_the_dropped_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_SALES", "mysql://secret")
    monkeypatch.setenv("SHOPFLOW_KEPT", "kept")
    out = tmp_path / "env.txt"
    code = (
        "import os, sys; open(sys.argv[1], 'w').write("
        "os.environ.get('AIRFLOW_CONN_SHOP_SALES', '-') + ' ' + os.environ['SHOPFLOW_KEPT'] "
        "+ ' ' + os.environ['GIVEN'])"
    )
    start_background(
        "envprobe", [sys.executable, "-c", code, str(out)], run_dir=tmp_path,
        env={"GIVEN": "given"}, drop_inherited=("AIRFLOW_CONN_",),
    )  # fmt: skip
    assert _wait_for(out) == "- kept given"


def test_stopping_with_descendants_ends_the_children_in_their_own_groups(tmp_path: Path) -> None:
    child_file = tmp_path / "child.pid"
    argv = [sys.executable, "-c", SPAWN_GROUPED_CHILD, str(child_file)]
    start_background("parent", argv, run_dir=tmp_path)
    child = psutil.Process(int(_wait_for(child_file)))
    assert stop_background("parent", run_dir=tmp_path, descendants=True)
    child.wait(timeout=10)  # raises TimeoutExpired while it still runs
    assert read_pid(tmp_path / "parent.pid") is None
