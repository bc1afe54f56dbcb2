"""Alerts for the person on call: one e-mail per failed run, a run over its time budget included.

A failing task records its one-line error and tries in XCom (``record_task_failure``,
the tasks' ``on_failure_callback``: it runs once, when no retry is left), the report
task publishes its summary in XCom, and the DAG's ``on_failure_callback``
(``alert_run_failed``, run once per failed run by the DAG processor) gathers both
into a single message sent through the ``smtp_default`` connection. A run that
outlives the DAG's ``dagrun_timeout`` (its time budget) is failed by the scheduler,
its unfinished tasks skipped, and alerts the same way (reason ``timed_out``).
The e-mail names the failing run's DAG (``shop_daily_etl`` or ``shop_warehouse_audit``);
only the daily DAG's runs have a business date and a run report.
Nothing here reads a secret: the messages hold task ids, error lines, counts and
check details.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shopflow.names import (
    CONN_SMTP,
    DAG_ID,
    DEFAULT_ALERT_EMAILS,
    DEFAULT_ALERT_FROM,
    VAR_ALERT_EMAILS,
    VAR_ALERT_FROM,
)

log = logging.getLogger(__name__)

ERROR_XCOM_KEY = "shopflow_error"
REPORT_XCOM_KEY = "shopflow_report"
REPORT_TASK = "report"
MAX_ERROR_CHARS = 300
TIMED_OUT = "timed_out"
"""The reason Airflow gives a DAG callback when the run outlived its ``dagrun_timeout``."""


@dataclass(frozen=True)
class FailedTask:
    """A task that failed for good: its id, its error's first line and how many tries it had."""

    task_id: str
    error: str
    tries: int | None


@dataclass(frozen=True)
class Alert:
    """One e-mail: subject, plain text and the same as HTML."""

    subject: str
    text: str
    html: str


def one_line(exc: BaseException | str | None) -> str:
    """``Type: first line of the message``, cut to a few hundred characters."""
    if exc is None:
        return "no error recorded (see the task's log)"
    if isinstance(exc, str):
        text = exc
    else:
        message = (str(exc).strip().splitlines() or [""])[0]
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def run_url(base_url: str, run_id: str, dag_id: str = DAG_ID) -> str:
    """The run's page in the Airflow UI."""
    from urllib.parse import quote

    return f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}"


def compose_failure_alert(
    *,
    run_id: str,
    business_date: date | str | None,
    failed: Sequence[FailedTask],
    not_run: Sequence[str],
    report: Mapping[str, Any] | None,
    url: str,
    reason: str | None = None,
    stopped: Sequence[str] = (),
    budget: timedelta | None = None,
    dag_id: str = DAG_ID,
) -> Alert:
    """The failed run's e-mail: failed tasks with errors and tries, the report's summary, a link.

    A run that timed out (``reason == "timed_out"``) says so, with its budget and the
    tasks the timeout stopped. Only a run of ``DAG_ID`` has a business date and a report:
    for another DAG (the audit) neither is mentioned unless given.
    """
    day = business_date.isoformat() if isinstance(business_date, date) else business_date
    daily = dag_id == DAG_ID
    on_day = f" for business date {day or 'unknown'}" if daily or day else ""
    named = [t.task_id for t in failed if t.task_id != REPORT_TASK] or [t.task_id for t in failed]
    tasks = ", ".join(short_task_id(t) for t in named)
    if reason == TIMED_OUT:
        over = f"over its time budget of {_duration(budget)}" if budget else "over its time budget"
        subject = f"[shopflow] {dag_id} timed out{on_day}: {over}"
        head = f"The run {run_id} of {dag_id}{on_day} ran {over}."
    else:
        subject = f"[shopflow] {dag_id} failed{on_day}: " + (tasks or (reason or "no task failed"))
        head = f"The run {run_id} of {dag_id}{on_day} failed."
    lines = [head, ""]
    lines.append("Failed tasks:")
    lines += [f"  - {t.task_id} ({_tries(t.tries)}): {t.error}" for t in failed] or [
        f"  (none recorded; Airflow says: {reason or 'the run failed'})"
    ]
    if stopped:
        lines += ["", f"Stopped unfinished by the time budget: {grouped(stopped)}"]
    if not_run:
        lines += ["", f"Not run because of them: {grouped(not_run)}"]
    if daily or report:
        lines += ["", *report_summary_lines(report)]
    lines += ["", f"Open the run: {url}"]
    text = "\n".join(lines)
    return Alert(subject=subject, text=text, html=_html(text, url))


def report_summary_lines(report: Mapping[str, Any] | None) -> list[str]:
    """Rows in / loaded / duplicate / quarantined per source, then the failed checks."""
    if not report:
        return ["No run report: the report task did not finish."]
    lines = ["Rows per source (in / loaded / duplicate / quarantined):"]
    lines += [
        f"  {row['source']:<13} {row['rows_in']:>10,} {row['rows_loaded']:>10,}"
        f" {row['rows_duplicate']:>8,} {row['rows_quarantined']:>8,}"
        for row in report.get("audit", [])
    ] or ["  (no rows: the transform did not finish)"]
    failed = [c for c in report.get("checks", []) if c.get("status") == "fail"]
    if failed:
        lines += ["", "Failed checks:"]
        lines += [f"  - {c['name']}: {c.get('detail', '')}" for c in failed]
    unfinished = report.get("unfinished", [])
    if unfinished:
        lines += ["", f"Unfinished steps: {', '.join(unfinished)}"]
    if report.get("report_uri"):
        lines += ["", f"Full report: {report['report_uri']}"]
    return lines


def grouped(task_ids: Sequence[str], most: int = 3) -> str:
    """Task ids in order, a group of more than ``most`` shown as ``group.* (N tasks)``."""
    groups: dict[str, list[str]] = {}
    for task_id in task_ids:
        groups.setdefault(task_id.split(".", 1)[0] if "." in task_id else task_id, []).append(
            task_id
        )
    parts = []
    for group, members in groups.items():
        if len(members) > most:
            parts.append(f"{group}.* ({len(members)} tasks)")
        else:
            parts.extend(members)
    return ", ".join(parts)


def short_task_id(task_id: str) -> str:
    """``extract.extract_sales`` -> ``extract_sales``; ``quality.x`` -> ``x``."""
    return task_id.rsplit(".", 1)[-1]


def _duration(budget: timedelta) -> str:
    seconds = round(budget.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds / 60
    return f"{minutes / 60:g} h" if minutes % 60 == 0 else f"{minutes:g} min"


def _tries(tries: int | None) -> str:
    if tries is None:
        return "tries unknown"
    return "1 try" if tries == 1 else f"{tries} tries"


def _html(text: str, url: str) -> str:
    link = html.escape(url, quote=True)
    return (
        f'<pre style="font-family: monospace">{html.escape(text)}</pre>'
        f'<p><a href="{link}">Open the run in Airflow</a></p>'
    )


# -- callbacks (Airflow imported inside) -----------------------------------------------------


def record_task_failure(context: Mapping[str, Any]) -> None:
    """Task ``on_failure_callback``: keep the error's one line and the tries for the run alert."""
    ti = context["ti"]
    error: BaseException | None = context.get("exception")
    if error is not None and type(error).__name__ == "AirflowFailException" and error.__cause__:
        error = error.__cause__  # shopflow.tasks.failures: the permanent error itself
    record = {"error": one_line(error), "tries": ti.try_number}
    try:
        ti.xcom_push(key=ERROR_XCOM_KEY, value=record)
    except Exception:  # the alert still goes out, without this task's error line
        log.exception("could not record the failure of %s", ti.task_id)


def alert_run_failed(context: Mapping[str, Any]) -> None:
    """DAG ``on_failure_callback``: one e-mail for the whole failed run."""
    run_id = str(context["run_id"])
    reason = context.get("reason")
    dag_id = failed_dag_id(context)
    try:
        failed, states, report = _gather(dag_id, run_id)
    except Exception:  # dag.test() runs DAG callbacks where task states cannot be read
        log.warning("task states of %s unavailable; alerting with the last task only", run_id)
        ti = context.get("ti")
        failed = [FailedTask(ti.task_id, one_line(None), ti.try_number)] if ti else []
        states, report = {}, None
    not_run = sorted(t for t, state in states.items() if state == "upstream_failed")
    stopped = sorted(t for t, s in states.items() if s == "skipped") if reason == TIMED_OUT else []
    day = (report or {}).get("business_date")
    if not day and dag_id == DAG_ID:  # only the daily DAG's runs have a business date
        day = _business_date(context)
    alert = compose_failure_alert(
        run_id=run_id,
        business_date=day,
        failed=failed,
        not_run=not_run,
        report=report,
        url=run_url(_base_url(), run_id, dag_id),
        reason=reason,
        stopped=stopped,
        budget=getattr(context.get("dag"), "dagrun_timeout", None),
        dag_id=dag_id,
    )
    send_alert(alert)


def failed_dag_id(context: Mapping[str, Any]) -> str:
    """The id of the callback's DAG (from ``dag`` or ``dag_run``); ``DAG_ID`` if neither says."""
    for key in ("dag", "dag_run"):
        dag_id = getattr(context.get(key), "dag_id", None)
        if dag_id:
            return str(dag_id)
    return DAG_ID


def _gather(
    dag_id: str, run_id: str
) -> tuple[list[FailedTask], dict[str, Any], dict[str, Any] | None]:
    """The run's failed tasks with their recorded errors, every task's state, the report."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    from airflow.sdk.execution_time.xcom import XCom

    states: dict[str, Any] = RuntimeTaskInstance.get_task_states(
        dag_id=dag_id, run_ids=[run_id]
    ).get(run_id, {})

    def pulled(task_id: str, key: str) -> Any:
        return XCom.get_one(key=key, dag_id=dag_id, task_id=task_id, run_id=run_id)

    failed = []
    for task_id in sorted(t for t, state in states.items() if state == "failed"):
        record = pulled(task_id, ERROR_XCOM_KEY) or {}
        failed.append(FailedTask(task_id, one_line(record.get("error")), record.get("tries")))
    return failed, states, pulled(REPORT_TASK, REPORT_XCOM_KEY)


def send_alert(alert: Alert) -> None:
    """Send through ``smtp_default`` to the Variable ``shopflow_alert_emails`` (comma separated)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook
    from airflow.sdk import Variable

    to = [
        a.strip()
        for a in str(_variable(Variable, VAR_ALERT_EMAILS, DEFAULT_ALERT_EMAILS)).split(",")
    ]
    sender = str(_variable(Variable, VAR_ALERT_FROM, DEFAULT_ALERT_FROM))
    with SmtpHook(smtp_conn_id=CONN_SMTP) as hook:
        hook.send_email_smtp(
            to=[a for a in to if a],
            subject=alert.subject,
            html_content=alert.html,
            from_email=sender,
        )
    log.info("alert sent: %s", alert.subject)


def _variable(variable: Any, key: str, default: str) -> Any:
    try:
        return variable.get(key, default=default)
    except Exception:  # no variable backend reachable: the documented default
        return default


def _base_url() -> str:
    from airflow.configuration import conf

    return str(conf.get("api", "base_url", fallback="") or "http://localhost:8080")


def _business_date(context: Mapping[str, Any]) -> date | None:
    from shopflow.dates import business_date_from_context

    try:
        return business_date_from_context(context)
    except Exception:  # a DAG callback may come without the run's full context
        return None
