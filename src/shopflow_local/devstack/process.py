"""Background processes with pid files and logs, and port probes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shopflow.errors import ShopflowError


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port nobody listens on right now (for tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Block until host:port accepts connections, or raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port, host):
            return
        time.sleep(0.05)
    raise ShopflowError(f"nothing answered on {host}:{port} after {timeout:.0f}s")


def read_pid(pid_file: Path) -> int | None:
    """The pid in pid_file if that process still runs, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    with contextlib.suppress(ChildProcessError):  # our own child that died: reap, not running
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return None
    return pid


def start_background(
    name: str,
    argv: Sequence[str],
    *,
    run_dir: Path,
    env: dict[str, str] | None = None,
    drop_inherited: Sequence[str] = (),
) -> int:
    """Start argv detached, its output in run_dir/<name>.log, its pid in run_dir/<name>.pid.

    The process inherits this one's environment, less the variables whose names
    start with a prefix in drop_inherited, with env on top.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_inherited))}
    log_path = run_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**inherited, **(env or {})},
            start_new_session=True,
        )
    (run_dir / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def python_module(module: str, *args: str) -> list[str]:
    """argv that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def stop_background(
    name: str, *, run_dir: Path, timeout: float = 10.0, descendants: bool = False
) -> bool:
    """Stop the process named in run_dir/<name>.pid (TERM, then KILL); True if one ran.

    The signals go to its process group. descendants: also KILL, at the end, every
    process below it that still runs in a group of its own (Airflow's task
    processes under a Celery worker).
    """
    pid_file = run_dir / f"{name}.pid"
    pid = read_pid(pid_file)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    below = _descendants(pid) if descendants else []
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        _reap(pid)
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    _kill_all(below)
    return True


def _descendants(pid: int) -> list[Any]:
    """psutil handles of every process below pid; empty when pid is gone."""
    import psutil

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _kill_all(processes: list[Any]) -> None:
    """SIGKILL those still running (psutil refuses a pid that was reused meanwhile)."""
    import psutil

    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
