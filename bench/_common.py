"""Pieces the benchmark scripts share: child processes, peak RSS, the load average, tables.

Pure helpers (``spread``, ``ratio``, ``format_table``) are unit-tested in tests/bench/.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopflow.errors import ShopflowError

SCRATCH_SCHEMA_FLOOR = "bench_floor"
SCRATCH_SCHEMA_PEER = "bench_peer"
"""Postgres schemas (in the stack's warehouse database) the floor and the peer write into."""


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``/proc/loadavg`` has them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def require_stack_state() -> dict[str, Any]:
    """The stack state of ``$SHOPFLOW_HOME`` (in a child process of a benchmark)."""
    from shopflow_local.devstack import stack
    from shopflow_local.home import shopflow_home

    info = stack.read_state(shopflow_home())
    if info is None:
        raise ShopflowError("no stack state in $SHOPFLOW_HOME; run `shopflow devstack up`")
    return info


def write_json(out: Path, figures: dict[str, Any]) -> None:
    """figures plus this process's peak RSS (``rss_mb``) as JSON into out."""
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out.write_text(json.dumps({**figures, "rss_mb": rss_mb}))


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: wall seconds, its own peak RSS, what it wrote to --out."""

    wall: float
    rss_mb: float
    figures: dict[str, Any]


def run_child(
    argv: Sequence[str], out: Path, log: Path, env: dict[str, str] | None = None
) -> ChildRun:
    """Run argv (it writes JSON to out) to its end; ShopflowError with the log tail if it fails.

    Wall time from spawn to exit; peak RSS is the child's ``ru_maxrss`` (``os.wait4``).
    """
    out.unlink(missing_ok=True)
    with open(log, "wb") as handle:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ShopflowError(f"{argv[1]} failed (exit {proc.returncode}); {log}:\n{tail}")
    return ChildRun(wall, usage.ru_maxrss / 1024, json.loads(out.read_text()))


class PeakRss:
    """Samples the RSS of processes and their descendants in a thread, every ``interval`` s.

    ``peak_task_mb``: the largest single descendant of ``task_roots`` (for the scheduler:
    its task processes); ``peak_total_mb``: the largest sum over every root and descendant
    at one sample. Sampling misses spikes shorter than the interval.
    """

    def __init__(
        self, pids: Iterable[int], *, task_roots: Iterable[int] = (), interval: float = 0.1
    ) -> None:
        self._pids = list(pids)
        self._task_roots = set(task_roots)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.peak_task_mb = 0.0
        self.peak_total_mb = 0.0

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        def rss_mb(proc: psutil.Process) -> float:
            try:
                return float(proc.memory_info().rss) / 2**20
            except psutil.NoSuchProcess:
                return 0.0

        roots = []
        for pid in self._pids:
            try:
                roots.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
        while not self._stop.is_set():
            total = 0.0
            for root in roots:
                try:
                    children = root.children(recursive=True)
                except psutil.NoSuchProcess:
                    continue
                sizes = [rss_mb(child) for child in children]
                total += rss_mb(root) + sum(sizes)
                if root.pid in self._task_roots and sizes:
                    self.peak_task_mb = max(self.peak_task_mb, max(sizes))
            self.peak_total_mb = max(self.peak_total_mb, total)
            self._stop.wait(self._interval)


# -- pure: figures and the table ---------------------------------------------------------


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max) of values."""
    if not values:
        raise ValueError("no values")
    return statistics.median(values), min(values), max(values)


def ratio(value: float, base: float | None) -> str:
    """value / base as ``2.4x``; ``-`` without a base."""
    return f"{value / base:.1f}x" if base else "-"


@dataclass(frozen=True)
class Row:
    """One contender's line: label, wall seconds per round, peak RSS per round (MB)."""

    key: str
    label: str
    walls: Sequence[float]
    rss_mb: Sequence[float]


def format_table(rows: Sequence[Row], floor_key: str = "a") -> list[str]:
    """One line per contender: median, min-max wall s, median peak RSS, ratio to the floor."""
    base = next((spread(r.walls)[0] for r in rows if r.key == floor_key and r.walls), None)
    width = max([len(r.label) for r in rows] + [10])
    lines = [
        f"{'':<2} {'contender':<{width}} {'median s':>9} {'min-max s':>13} "
        f"{'peak RSS MB':>11} {'x floor':>8}"
    ]
    for r in rows:
        if not r.walls:
            lines.append(f"{r.key:<2} {r.label:<{width}} {'(not run)':>9}")
            continue
        med, lo, hi = spread(r.walls)
        rss = statistics.median(r.rss_mb) if r.rss_mb else 0.0
        lines.append(
            f"{r.key:<2} {r.label:<{width}} {med:>9.2f} {f'{lo:.2f}-{hi:.2f}':>13} "
            f"{rss:>11,.0f} {ratio(med, base):>8}"
        )
    return lines
