"""How one run of the DAG for one business date ended (scheduler or ``dag.test()``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shopflow.names import DAG_ID

FINE_STATES = frozenset({"success", "skipped"})


@dataclass(frozen=True)
class RunOutcome:
    """The run's final state, every task's state and, when it failed, why."""

    business_date: date
    run_id: str
    state: str
    tasks: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    seconds: float = 0.0
    """Wall time seen by the caller, from trigger to the run's end."""
    url: str | None = None
    """The run's page in the Airflow UI (scheduler runs)."""
    errors: dict[str, str] = field(default_factory=dict)
    """Failed task id -> its one-line error."""
    run_seconds: float | None = None
    """The run's duration as Airflow records it (start to end)."""

    @property
    def ok(self) -> bool:
        """The run succeeded and every task ended success or skipped."""
        return (
            self.state == "success"
            and bool(self.tasks)
            and all(s in FINE_STATES for s in self.tasks.values())
        )

    @property
    def failed_tasks(self) -> list[str]:
        """Task ids whose state is not success or skipped."""
        return [task_id for task_id, s in self.tasks.items() if s not in FINE_STATES]

    def headline(self) -> str:
        """One line: the day, the state, how long it took."""
        airflow = f", {self.run_seconds:.1f}s in Airflow" if self.run_seconds is not None else ""
        return (
            f"{DAG_ID} {self.business_date.isoformat()}: {self.state} in {self.seconds:.1f}s"
            f"{airflow} (run {self.run_id})"
        )

    def error_lines(self) -> list[str]:
        """One line per failed task (not the ones skipped because of it), with its error."""
        lines = []
        for task_id, state in self.tasks.items():
            if state == "failed":
                lines.append(f"  failed {task_id}: {self.errors.get(task_id, 'see its log')}")
        return lines

    def summary(self) -> str:
        """A few human lines: the run, then one line per task."""
        lines = [
            f"{DAG_ID} {self.business_date.isoformat()}: {self.state} "
            f"({self.seconds:.1f}s, run_id {self.run_id})"
        ]
        lines += [f"  {state:<16} {task_id}" for task_id, state in self.tasks.items()]
        if not self.ok and self.log_path is not None:
            lines.append(f"  log: {self.log_path}")
        return "\n".join(lines)
