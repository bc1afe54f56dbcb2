"""Peak RSS of every process of a command and of the local stack, while the command runs.

    .venv/bin/python bench/process_peaks.py [--interval 0.2] -- .venv/bin/shopflow run --date D

Every ``--interval`` seconds it reads ``VmHWM`` (the kernel's own peak resident set
size of a process) from ``/proc`` for the command, its descendants, and every
process of the stack that ``shopflow devstack up`` started in ``$SHOPFLOW_HOME``
with their descendants (the scheduler's task processes among them). A process's
last reading before it exits is its peak, unless it grew in its last interval.
Prints one line per process (label, pid, peak MB, seconds seen), largest first, and
the command's exit status and wall time; exits with the command's status.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from shopflow_local.devstack import stack
from shopflow_local.devstack.process import read_pid
from shopflow_local.home import shopflow_home


@dataclass
class Seen:
    """One process as sampled: a label from its command line, its peak, how long seen."""

    label: str
    peak_kb: int = 0
    first: float = 0.0
    last: float = 0.0


def _hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _label(proc: psutil.Process) -> str:
    try:
        words = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"
    text = " ".join(words) or proc.name()
    if "task runner" in text or "supervisor" in text:
        return text[:110]  # Airflow's process titles name the dag, task and run
    return " ".join(Path(w).name if i == 0 else w for i, w in enumerate(words[:4]))[:110]


def _stack_pids() -> list[int]:
    """The pids in ``$SHOPFLOW_HOME/run/*.pid`` (every component the stack started)."""
    found = []
    for pid_file in sorted((shopflow_home() / "run").glob("*.pid")):
        pid = read_pid(pid_file)
        if pid is not None:
            found.append(pid)
    return found


_TI_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _task_names() -> dict[str, str]:
    """Task-instance id -> task id, for the latest runs of the stack's Airflow (if up)."""
    info = stack.read_state(shopflow_home())
    if not info or not info.get("airflow_url"):
        return {}
    from shopflow_local.airflow_runtime.rest_client import AirflowClient

    names = {}
    try:
        with AirflowClient(info["airflow_url"]) as client:
            for run in client.dag_runs(order_by="-start_date", limit=3):
                for ti in client.task_instances(run["dag_run_id"]):
                    names[ti["id"]] = f"task {ti['task_id']}"
    except Exception:  # labels only: the figures stand without them
        return {}
    return names


def _named(label: str, names: dict[str, str]) -> str:
    found = _TI_ID.search(label)
    return names.get(found.group(0), label) if found else label


def sample(roots: list[int], seen: dict[int, Seen], stop: threading.Event, every: float) -> None:
    """Until stop: the peak of every root and descendant, into seen (by pid)."""
    started = time.monotonic()
    while not stop.is_set():
        now = time.monotonic() - started
        procs: list[psutil.Process] = []
        for pid in roots:
            try:
                root = psutil.Process(pid)
                procs += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        for proc in procs:
            kb = _hwm_kb(proc.pid)
            if kb is None:
                continue
            entry = seen.get(proc.pid)
            if entry is None:
                entry = seen[proc.pid] = Seen(_label(proc), first=now)
            elif entry.label.endswith("python") or "fork" in entry.label:
                entry.label = _label(proc)  # a forked child takes its title after a while
            entry.peak_kb, entry.last = max(entry.peak_kb, kb), now
        stop.wait(every)


def main(argv: list[str] | None = None) -> int:
    """Run the command, sample, print the table; the command's exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    seen: dict[int, Seen] = {}
    stop = threading.Event()
    started = time.perf_counter()
    child = subprocess.Popen(command)
    thread = threading.Thread(
        target=sample, args=([child.pid, *_stack_pids()], seen, stop, args.interval), daemon=True
    )
    thread.start()
    status = child.wait()
    wall = time.perf_counter() - started
    stop.set()
    thread.join()
    names = _task_names()
    print(f"\n{'peak MB':>8} {'pid':>8} {'seen s':>7}  process")
    for pid, entry in sorted(seen.items(), key=lambda kv: -kv[1].peak_kb):
        if entry.peak_kb >= 50 * 1024:
            span, label = entry.last - entry.first, _named(entry.label, names)
            print(f"{entry.peak_kb / 1024:>8,.0f} {pid:>8} {span:>7.1f}  {label}")
    print(f"command exit {status}, wall {wall:.1f} s; processes under 50 MB not shown")
    return status


if __name__ == "__main__":
    sys.exit(main())
