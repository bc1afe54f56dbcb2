"""Follow a DAG run live through the REST API: one line per change, then its outcome.

Each poll reads the run and its task instances. A task prints a line when it
starts, retries or ends; a task group of more than ``GROUP_LINE_ABOVE`` tasks
(the quality checks) prints one line when it starts and one when all of it has
ended. Queued and scheduled states print nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from shopflow.alerts import run_url
from shopflow.errors import ShopflowError
from shopflow_local.airflow_runtime.outcome import FINE_STATES, RunOutcome
from shopflow_local.airflow_runtime.rest_client import AirflowClient

Write = Callable[[str], None]

RUN_FINISHED = frozenset({"success", "failed"})
TASK_FINISHED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
QUIET = frozenset({"none", "scheduled", "queued"})
GROUP_LINE_ABOVE = 4
ERROR_CHARS = 240


def task_key(ti: dict[str, Any]) -> str:
    """A task instance's id, with ``[i]`` for a mapped one."""
    index = ti.get("map_index", -1)
    return ti["task_id"] + (f"[{index}]" if index is not None and index >= 0 else "")


def _state(ti: dict[str, Any]) -> str:
    return str(ti.get("state") or "none")


class Progress:
    """Task-instance snapshots in, the lines worth printing out."""

    def __init__(self) -> None:
        self._shown: dict[str, tuple[str, int]] = {}

    @staticmethod
    def _units(tis: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for ti in tis:
            group = ti["task_id"].split(".", 1)[0] if "." in ti["task_id"] else ""
            groups.setdefault(group, []).append(ti)
        units: dict[str, list[dict[str, Any]]] = {}
        for group, members in groups.items():
            if group and len(members) > GROUP_LINE_ABOVE:
                units[group] = members
            else:
                units.update({task_key(ti): [ti] for ti in members})
        return units

    @staticmethod
    def _task_line(ti: dict[str, Any]) -> tuple[str, int, str] | None:
        state, tries = _state(ti), int(ti.get("try_number") or 0)
        if state in QUIET:
            return None
        text = state
        if state == "running" and tries > 1:
            text = f"running (try {tries})"
        elif state == "up_for_retry":
            text = f"up_for_retry (try {tries} failed)"
        elif state in {"success", "failed"} and ti.get("duration") is not None:
            text = f"{state} {float(ti['duration']):.1f}s"
        return state, tries, text

    @staticmethod
    def _group_line(members: list[dict[str, Any]]) -> tuple[str, int, str] | None:
        states = [_state(ti) for ti in members]
        if all(s in QUIET for s in states):
            return None
        if not all(s in TASK_FINISHED for s in states):
            return "running", 0, f"running ({len(members)} tasks)"
        total = len(members)
        failed = [ti["task_id"].split(".", 1)[1] for ti in members if _state(ti) == "failed"]
        if failed:
            named = ", ".join(failed[:3]) + (", ..." if len(failed) > 3 else "")
            return "failed", 0, f"failed {len(failed)}/{total} ({named})"
        upstream = states.count("upstream_failed")
        if upstream:
            return "upstream_failed", 0, f"upstream_failed {upstream}/{total}"
        return "success", 0, f"success {sum(s in FINE_STATES for s in states)}/{total}"

    def update(self, tis: list[dict[str, Any]], elapsed: float) -> list[str]:
        """The lines for what changed since the last snapshot."""
        changes = []
        for unit, members in self._units(tis).items():
            line = self._group_line(members) if len(members) > 1 else self._task_line(members[0])
            if line is None or self._shown.get(unit) == line[:2]:
                continue
            self._shown[unit] = line[:2]
            text = f"  {elapsed:6.1f}s  {unit:<30} {line[2]}"
            changes.append((line[0] not in TASK_FINISHED, text))
        # what ended before what started, as it happened
        return [text for _, text in sorted(changes, key=lambda change: change[0])]


def error_line(entries: Iterable[dict[str, Any]]) -> str | None:
    """The error of a failed try from its structured log: the last exception, else error line."""
    entries = list(entries)
    for entry in reversed(entries):
        details = entry.get("error_detail")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            first = details[0]
            value = str(first.get("exc_value") or "").strip().splitlines()
            text = f"{first.get('exc_type', 'Error')}: {value[0] if value else ''}".rstrip(": ")
            return text[:ERROR_CHARS]
    for entry in reversed(entries):
        if str(entry.get("level", "")).lower() in {"error", "critical"} and entry.get("event"):
            lines = str(entry["event"]).strip().splitlines()
            if lines:
                return lines[0][:ERROR_CHARS]
    return None


def _task_error(client: AirflowClient, run_id: str, ti: dict[str, Any]) -> str:
    try:
        entries = client.task_log(run_id, ti["task_id"], int(ti.get("try_number") or 1),
                                  int(ti.get("map_index", -1)))  # fmt: skip
    except ShopflowError:
        entries = []
    found = error_line(entries)
    if found is None and ti.get("note"):
        found = " ".join(str(ti["note"]).split())[:ERROR_CHARS]
    return found or "no error in its log; open it in the UI"


def _seconds(run: dict[str, Any]) -> float | None:
    if run.get("duration") is not None:
        return float(run["duration"])
    if run.get("start_date") and run.get("end_date"):
        start, end = (datetime.fromisoformat(run[k]) for k in ("start_date", "end_date"))
        return (end - start).total_seconds()
    return None


def follow_run(
    client: AirflowClient,
    run_id: str,
    business_date: date,
    *,
    started: float,
    write: Write,
    alive: Callable[[], None] = lambda: None,
    poll: float = 1.0,
    timeout: float | None = None,
) -> RunOutcome:
    """Poll the run until it ends, printing changes; its outcome with the failed tasks' errors.

    started: ``time.monotonic()`` when the run was requested (elapsed times count
    from there); alive raises when the local Airflow died; timeout (seconds) ends
    the wait with a ShopflowError, the run itself goes on.
    """
    progress = Progress()
    said_queued = False
    while True:
        run = client.dag_run(run_id)
        tis = client.task_instances(run_id)
        elapsed = time.monotonic() - started
        for line in progress.update(tis, elapsed):
            write(line)
        state = str(run.get("state"))
        if state in RUN_FINISHED:
            break
        if state == "queued" and elapsed > 5 and not said_queued:
            write(f"  {elapsed:6.1f}s  run queued: waiting for another run of the DAG to end")
            said_queued = True
        if timeout is not None and elapsed > timeout:
            raise ShopflowError(
                f"run {run_id} did not end within {timeout:.0f}s; it goes on in Airflow: "
                f"{run_url(client.base_url, run_id)}"
            )
        alive()
        time.sleep(poll)
    tasks = {task_key(ti): _state(ti) for ti in sorted(tis, key=task_key)}
    errors = {task_key(ti): _task_error(client, run_id, ti) for ti in tis if _state(ti) == "failed"}
    return RunOutcome(
        business_date=business_date,
        run_id=run_id,
        state=state,
        tasks=tasks,
        seconds=time.monotonic() - started,
        url=run_url(client.base_url, run_id),
        errors=errors,
        run_seconds=_seconds(run),
    )
