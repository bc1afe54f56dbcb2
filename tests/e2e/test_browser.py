"""A real browser shows a `shopflow run` in the Airflow UI: the run's page and a task's log.

One embedded stack with the real scheduler for the module; one business date is
run through ``shopflow_local.cli.main``. Debian's ``chromium`` then renders the
React UI headless (``--dump-dom`` and ``--screenshot``): no login step, since the
simple auth manager's all-admins middleware authenticates every request. The
assertions read the rendered DOM through the UI's ``data-testid`` attributes;
the screenshots are left in the test's tmp dir.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from airflow_stack import local_airflow

from shopflow.names import extract_task_id
from shopflow_local.airflow_runtime.rest_client import AirflowClient, run_url
from shopflow_local.cli import main

pytestmark = pytest.mark.e2e

DAY = date(2025, 1, 2)
TASK = extract_task_id("sales")
SUMMARY = f"extract sales {DAY}:"  # logged by shopflow.tasks.extract
WINDOW = (1400, 1000)
BUDGETS_MS = (10_000, 20_000, 40_000)
"""Virtual time for the app to render; a page not ready yet is loaded again with more."""
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass
class Node:
    """An element carrying a ``data-testid``, its text, and the test ids around it."""

    testid: str
    within: tuple[str, ...]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


class Page(HTMLParser):
    """The ``data-testid`` elements of a dumped DOM, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[Node] = []
        self._open: list[tuple[str, Node | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_TAGS:
            return
        testid = dict(attrs).get("data-testid")
        node = None
        if testid:
            within = tuple(n.testid for _, n in self._open if n is not None)
            node = Node(testid, within)
            self.nodes.append(node)
        self._open.append((tag, node))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for _, node in self._open:
            if node is not None:
                node.parts.append(data)

    def texts(self, testid: str, within: str | None = None) -> list[str]:
        return [
            n.text
            for n in self.nodes
            if n.testid == testid and (within is None or within in n.within)
        ]


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium; skip without it, except in CI."""
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed: apt-get install chromium"
        if _in_ci():
            pytest.fail(f"{message} (CI requires it)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def run(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The stack (its ``run_id`` added) after `shopflow run --date DAY` succeeded."""
    with local_airflow(tmp_path_factory, DAY, 1) as info:
        out = StringIO()
        with redirect_stdout(out):
            code = main(["run", "--date", DAY.isoformat()])
        assert code == 0, out.getvalue()
        found = re.search(r"triggered (\S+)", out.getvalue())
        assert found, out.getvalue()
        yield {**info, "run_id": found.group(1)}


def _render(chromium: str, url: str, shot: Path, ready: Callable[[Page], bool]) -> tuple[Page, str]:
    """The page's DOM (parsed, and raw) once ready() holds, or after the last budget."""
    for budget in BUDGETS_MS:
        shot.unlink(missing_ok=True)
        argv = [
            chromium, "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run",
            f"--user-data-dir={shot.parent / 'chromium-profile'}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--virtual-time-budget={budget}",
            f"--screenshot={shot}", "--dump-dom", url,
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        page = Page()
        page.feed(done.stdout)
        if ready(page):
            break
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot
    size = shot.read_bytes()[16:24]
    assert (int.from_bytes(size[:4]), int.from_bytes(size[4:])) == WINDOW
    return page, done.stdout


def _log_lines(page: Page) -> list[str]:
    """The log lines the log viewer rendered (it renders only the visible ones)."""
    return [n.text for n in page.nodes if n.testid.startswith("virtualized-item-")]


def test_the_run_page_shows_the_run_its_state_and_its_tasks(
    run: dict[str, Any], chromium: str, tmp_path: Path
) -> None:
    url = run_url(run["airflow_url"], run["run_id"])
    page, dom = _render(
        chromium, url, tmp_path / "run.png", lambda p: bool(p.texts("table-cell-state"))
    )
    header = page.texts("header-card")
    assert header and run["run_id"] in header[0], header
    assert page.texts("state-badge", within="header-card") == ["Success"]

    names = page.texts("table-cell-task_display_name")
    states = page.texts("table-cell-state")
    with AirflowClient(run["airflow_url"]) as client:
        task_ids = {ti["task_id"] for ti in client.task_instances(run["run_id"])}
    assert TASK in names and "transform" in names and "report" in names, names
    assert sorted(names) == sorted(task_ids)  # every task instance of the run, once
    assert states == ["Success"] * len(names)
    assert SUMMARY not in dom  # the log line below is the log's, not this page's


def test_a_task_log_page_shows_the_task_summary_line(
    run: dict[str, Any], chromium: str, tmp_path: Path
) -> None:
    url = f"{run_url(run['airflow_url'], run['run_id'])}/tasks/{TASK}"
    page, _ = _render(chromium, url, tmp_path / "log.png", lambda p: bool(_log_lines(p)))
    header = page.texts("header-card")
    assert header and TASK in header[0], header
    assert page.texts("state-badge", within="header-card") == ["Success"]
    lines = _log_lines(page)
    assert len([line for line in lines if SUMMARY in line]) == 1, lines
