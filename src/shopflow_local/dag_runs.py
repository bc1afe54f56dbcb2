"""`shopflow run`, `backfill` and `report`: DAG runs on the local Airflow's scheduler.

A run is triggered through the REST API (``conf = {"business_date": D}``, no
logical date) and followed live; a backfill is Airflow's own (``POST
/api/v2/backfills``): one run per cron tick, each processing the day before
its tick, one at a time. ``--in-process`` runs a day through ``dag.test()``
instead (airflow_runtime.dag_test), without the scheduler. ``report`` prints a
stored run report of the stack's staging again.
"""

from __future__ import annotations

import json
import posixpath
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from shopflow.dates import scheduled_logical_date
from shopflow.errors import ShopflowError
from shopflow.names import DAG_ID
from shopflow.run_report import page_key, report_key, report_lines
from shopflow.staging.backends import Backend, LocalBackend, S3Backend
from shopflow_local.airflow_runtime import processes
from shopflow_local.airflow_runtime.dag_test import run_business_date
from shopflow_local.airflow_runtime.follow import follow_run
from shopflow_local.airflow_runtime.home import airflow_env
from shopflow_local.airflow_runtime.outcome import RunOutcome
from shopflow_local.airflow_runtime.rest_client import AirflowClient
from shopflow_local.devstack import stack
from shopflow_local.devstack.aws_emulator import aws_client
from shopflow_local.devstack.connections import airflow_environment
from shopflow_local.devstack.process import read_pid
from shopflow_local.home import shopflow_home

Write = Callable[[str], None]
REPROCESS = ("none", "failed", "completed")
DAG_READY_TIMEOUT = 180.0


def _print(line: str) -> None:
    print(line, flush=True)


def stack_airflow_env(info: dict[str, Any]) -> dict[str, str]:
    """The local Airflow environment with every connection and variable of the stack."""
    return airflow_env(airflow_environment(info))


def report_store(info: dict[str, Any]) -> Backend:
    """The stack's staging, where the report task stores its documents (a directory or S3)."""
    uri = str(info["staging_uri"])
    if uri.startswith("s3://"):
        parts = urlsplit(uri)
        return S3Backend(aws_client("s3", info["aws_endpoint"]), parts.netloc, parts.path)
    return LocalBackend(Path(uri))


def _load_report(store: Backend, key: str) -> dict[str, Any] | None:
    raw = store.get_bytes(key)
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ShopflowError(f"{store.uri(key)} is not a run report (not a JSON object)")
    return body


def read_report(info: dict[str, Any], day: date, run_id: str) -> dict[str, Any] | None:
    """The run report the DAG's last task stored in staging, or None."""
    return _load_report(report_store(info), report_key(day, run_id))


def _print_outcome(info: dict[str, Any], outcome: RunOutcome, write: Write) -> None:
    write(outcome.headline())
    for line in outcome.error_lines():
        write(line)
    report = read_report(info, outcome.business_date, outcome.run_id)
    if report is not None:
        for line in report_lines(report):
            write(line)
    if outcome.url:
        write(f"  UI: {outcome.url}")


# The local Airflow, ready for runs
def wait_for_dag(client: AirflowClient, home: Path, *, timeout: float = DAG_READY_TIMEOUT) -> None:
    """Block until the DAG processor has registered the DAG; its import error otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        dag = client.dag()
        broken = [
            e for e in client.import_errors()
            if dag is None or str(e.get("filename", "")).endswith(str(dag.get("relative_fileloc")))
        ]  # fmt: skip
        if broken:
            trace = str(broken[0].get("stack_trace", "")).strip().splitlines() or ["?"]
            raise ShopflowError(f"the DAG file {broken[0].get('filename')} fails: {trace[-1]}")
        if dag is not None:
            return
        if time.monotonic() > deadline:
            raise ShopflowError(
                f"the DAG processor did not register {DAG_ID} within {timeout:.0f}s; "
                f"see {home / 'run' / 'airflow-dag-processor.log'}"
            )
        processes.check_running(home)
        time.sleep(1.0)


def connect(info: dict[str, Any], write: Write = _print) -> AirflowClient:
    """A client of the stack's Airflow (started if needed), the DAG registered and unpaused."""
    home = Path(info["home"])
    client = AirflowClient(processes.ensure_airflow(info))
    try:
        wait_for_dag(client, home)
        if client.unpause():
            write(f"unpaused {DAG_ID}")
    except BaseException:
        client.close()
        raise
    return client


# shopflow run
def trigger_day(
    client: AirflowClient,
    info: dict[str, Any],
    day: date,
    *,
    full_refresh: bool = False,
    write: Write = _print,
    timeout: float | None = None,
) -> RunOutcome:
    """Trigger the run of one business date, follow it, print its outcome and report."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_id = f"shopflow_{day.isoformat()}_{stamp}"
    conf = {"business_date": day.isoformat(), "full_refresh": full_refresh}
    started = time.monotonic()
    client.trigger(run_id, conf, note=f"shopflow run --date {day.isoformat()}")
    write(f"{DAG_ID} {day.isoformat()}: triggered {run_id}")
    outcome = follow_run(
        client, run_id, day, started=started, write=write, timeout=timeout,
        alive=lambda: processes.check_running(Path(info["home"])),
    )  # fmt: skip
    _print_outcome(info, outcome, write)
    return outcome


def run_dates(
    days: Sequence[date],
    *,
    full_refresh: bool = False,
    write: Write = _print,
    timeout: float | None = None,
) -> list[RunOutcome]:
    """Run the DAG once per day through the scheduler, in order; stops at the first failure."""
    info = stack.require_up(shopflow_home())
    outcomes: list[RunOutcome] = []
    with connect(info, write) as client:
        for day in days:
            outcomes.append(
                trigger_day(
                    client, info, day, full_refresh=full_refresh, write=write, timeout=timeout
                )
            )
            if not outcomes[-1].ok:
                break
    return outcomes


@contextmanager
def scheduler_kept_out(info: dict[str, Any], write: Write = _print) -> Iterator[None]:
    """The DAG paused on the running local scheduler while ``dag.test()`` uses the same DB.

    Otherwise the scheduler would schedule the in-process run's tasks too (it
    sees every run of an unpaused DAG) and the two would fight over them.
    """
    home = Path(info["home"])
    if read_pid(home / "run" / f"{processes.NAME}.pid") is None:
        yield
        return
    with AirflowClient(processes.base_url(processes.airflow_port(info))) as client:
        active = client.dag_runs(state=["queued", "running"])
        if active:
            raise ShopflowError(
                f"run {active[0]['dag_run_id']} is active on the local scheduler; "
                "wait for it to end before an --in-process run"
            )
        paused = client.set_paused(True)
        if paused:
            write(f"paused {DAG_ID} on the local scheduler during the in-process run")
        try:
            yield
        finally:
            if paused:
                client.set_paused(False)


def run_dates_in_process(
    days: Sequence[date], *, full_refresh: bool = False, retries: int | None = None
) -> list[RunOutcome]:
    """Run the DAG once per day with ``dag.test()`` (no scheduler); stops at the first failure."""
    info = stack.require_up(shopflow_home())
    with scheduler_kept_out(info):
        return _in_process(info, days, full_refresh=full_refresh, retries=retries)


def _in_process(
    info: dict[str, Any], days: Sequence[date], *, full_refresh: bool, retries: int | None
) -> list[RunOutcome]:
    env = stack_airflow_env(info)
    outcomes = []
    for day in days:
        outcome = run_business_date(day, full_refresh=full_refresh, env=env, retries=retries)
        outcomes.append(outcome)
        text = outcome.summary()
        print(text if not outcome.ok else text.splitlines()[0], flush=True)
        report = read_report(info, day, outcome.run_id)
        if report is not None:
            print("\n".join(report_lines(report)), flush=True)
        if not outcome.ok:
            break
    return outcomes


def days_between(start: date, end: date) -> list[date]:
    """start .. end inclusive."""
    if end < start:
        raise ShopflowError(f"--end {end} is before --start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def all_ok(outcomes: Sequence[RunOutcome], expected: int) -> bool:
    """Every expected run happened and succeeded."""
    return len(outcomes) == expected and all(o.ok for o in outcomes)


def run_days(days: Sequence[date], *, full_refresh: bool = False, in_process: bool = False) -> int:
    """CLI entry: 0 when every run succeeded, 1 otherwise."""
    if in_process:
        outcomes = run_dates_in_process(days, full_refresh=full_refresh)
    else:
        outcomes = run_dates(days, full_refresh=full_refresh)
    return 0 if all_ok(outcomes, len(days)) else 1


# shopflow report
def _written_at(body: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(body["written_at"])).astimezone(UTC)
    except (KeyError, ValueError):
        return datetime.min.replace(tzinfo=UTC)  # unknown: older than any


def _reports_prefix(day: date) -> str:
    """``reports/dt=D/``: the folder of the date's reports, as report_key lays it out."""
    return posixpath.dirname(report_key(day, "run")) + "/"


def stored_reports(store: Backend, day: date) -> list[tuple[str, dict[str, Any]]]:
    """Every run report of day in staging (its key and body), the most recently written last."""
    prefix = _reports_prefix(day)
    found = []
    for key in store.list_keys(prefix):
        name = key[len(prefix) :]
        if "/" in name or name.startswith(".") or not name.endswith(".json"):
            continue  # not a report (a half-written one starts with .tmp-)
        body = _load_report(store, key)
        if body is not None:
            found.append((key, body))
    return sorted(found, key=lambda item: (_written_at(item[1]), item[0]))


def _chosen_report(
    store: Backend, day: date, run_id: str | None
) -> tuple[str, dict[str, Any], list[str]]:
    """The report asked for (key, body) and the run ids of the date's other reports."""
    reports = stored_reports(store, day)
    if run_id is None:
        if not reports:
            raise ShopflowError(
                f"no run report for {day} in {store.uri(_reports_prefix(day))}; "
                f"run `shopflow run --date {day}` first"
            )
        key, body = reports[-1]
    else:
        key = report_key(day, run_id)
        bodies = dict(reports)
        if key not in bodies:
            listed = ", ".join(str(b.get("run_id")) for _, b in reports) or "none"
            raise ShopflowError(
                f"no run report of run {run_id} for {day} at {store.uri(key)} "
                f"(reports of that date: {listed})"
            )
        body = bodies[key]
    others = [str(b.get("run_id")) for k, b in reversed(reports) if k != key]
    return key, body, others


def _local_page(store: Backend, day: date, key: str, home: Path) -> Path | None:
    """The HTML page beside the report at key as a local file (S3: copied into home), or None."""
    page = page_key(day, posixpath.basename(key).removesuffix(".json"))
    if isinstance(store, LocalBackend):
        path = store.path(page)
        return path if path.is_file() else None
    data = store.get_bytes(page)
    if data is None:
        return None
    path = home / page
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def show_report(day: date, run_id: str | None = None, *, write: Write = _print) -> int:
    """CLI entry: print the latest (or run_id's) run report of day and where its page is."""
    home = shopflow_home()
    info = stack.read_state(home)
    if info is None:
        raise ShopflowError(f"no stack was started in {home}; run `shopflow devstack up` first")
    store = report_store(info)
    try:
        key, body, others = _chosen_report(store, day, run_id)
        page = _local_page(store, day, key, home)
    except (BotoCoreError, ClientError) as exc:
        raise ShopflowError(
            f"cannot read the run reports in {info['staging_uri']} ({exc}); "
            "is the stack up? see `shopflow devstack status`"
        ) from None
    written = body.get("written_at", "at an unknown time")
    write(f"{DAG_ID} {day.isoformat()}: run {body.get('run_id')}, report written {written}")
    for line in report_lines(body):
        write(line)
    write(f"  report: {store.uri(key)}")
    write(f"  page:   {page if page is not None else 'none stored with this report'}")
    if others:
        write(f"  other runs of {day.isoformat()} (--run-id), latest first: {', '.join(others)}")
    return 0


# shopflow backfill
def business_date_of(logical_date: datetime) -> date:
    """The day a backfill (or scheduled) run processes: the UTC day before its cron tick."""
    return (logical_date.astimezone(UTC) - timedelta(days=1)).date()


def latest_backfill_date(now: datetime | None = None) -> date:
    """The last business date whose cron tick (D+1 01:00 UTC) has passed."""
    now = now or datetime.now(UTC)
    day = now.date() - timedelta(days=1)
    return day if scheduled_logical_date(day) < now else day - timedelta(days=1)


def first_business_date(client: AirflowClient) -> date | None:
    """The business date of the DAG's first cron tick (at or after its start_date)."""
    details = client.request("GET", f"/dags/{DAG_ID}/details")
    start = details.get("start_date")
    if not start:
        return None
    start_at = datetime.fromisoformat(start)
    day = start_at.astimezone(UTC).date() - timedelta(days=1)
    return day if scheduled_logical_date(day) >= start_at else day + timedelta(days=1)


def _backfill_run(client: AirflowClient, logical_date: datetime, timeout: float) -> str:
    """The run id of the DAG run at logical_date (the backfill creates or clears it)."""
    deadline = time.monotonic() + timeout
    stamp = logical_date.astimezone(UTC).isoformat()
    while True:
        runs = client.dag_runs(logical_date_gte=stamp, logical_date_lte=stamp)
        if runs:
            return str(runs[0]["dag_run_id"])
        if time.monotonic() > deadline:
            raise ShopflowError(f"the backfill made no run for the tick {stamp}")
        time.sleep(1.0)


def backfill(
    start: date,
    end: date,
    *,
    reprocess: str = "none",
    write: Write = _print,
    timeout: float | None = None,
) -> tuple[list[date], list[RunOutcome]]:
    """Backfill business dates start..end: the dates it runs and each run's outcome, in order.

    Business date D is the run of the cron tick D+1 01:00 UTC, so the backfill
    goes from ``scheduled_logical_date(start)`` to ``scheduled_logical_date(end)``,
    both inclusive. reprocess: which dates that already have a run (with that
    logical date) run again: ``none``, ``failed`` or ``completed`` (every one).
    """
    if reprocess not in REPROCESS:
        raise ShopflowError(f"--reprocess must be one of {', '.join(REPROCESS)}, got {reprocess!r}")
    days_between(start, end)
    latest = latest_backfill_date()
    if end > latest:
        raise ShopflowError(
            f"{end} is not over yet for the schedule: its run is due at "
            f"{scheduled_logical_date(end):%Y-%m-%d %H:%M} UTC; the latest date to backfill "
            f"is {latest}"
        )
    info = stack.require_up(shopflow_home())
    with connect(info, write) as client:
        first = first_business_date(client)
        if first is not None and start < first:
            raise ShopflowError(f"{start} is before the first business date of {DAG_ID}, {first}")
        ticks = (scheduled_logical_date(start), scheduled_logical_date(end))
        planned = client.backfill_dry_run(*ticks, reprocess)
        days = [business_date_of(tick) for tick in planned]
        if not days:
            write(
                f"backfill {start} .. {end}: nothing to run, every date has a run already "
                "(--reprocess failed or completed runs them again)"
            )
            return [], []
        listed = ", ".join(d.isoformat() for d in days)
        write(f"backfill {start} .. {end} (reprocess {reprocess}): {len(days)} run(s): {listed}")
        created = client.create_backfill(*ticks, reprocess, max_active_runs=1)
        write(f"  backfill {created['id']} created; one run at a time, oldest first")
        outcomes = []
        for tick, day in zip(planned, days, strict=True):
            started = time.monotonic()
            run_id = _backfill_run(client, tick, timeout=60.0)
            write(f"{DAG_ID} {day.isoformat()}: backfill run {run_id}")
            outcome = follow_run(
                client, run_id, day, started=started, write=write, timeout=timeout,
                alive=lambda: processes.check_running(Path(info["home"])),
            )  # fmt: skip
            _print_outcome(info, outcome, write)
            outcomes.append(outcome)
    failed = [o.business_date.isoformat() for o in outcomes if not o.ok]
    write(
        f"backfill {start} .. {end}: {len(outcomes) - len(failed)} of {len(outcomes)} run(s) "
        "succeeded" + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return days, outcomes


def backfill_days(start: date, end: date, *, reprocess: str = "none") -> int:
    """CLI entry: 0 when every backfill run succeeded (or none was needed), 1 otherwise."""
    days, outcomes = backfill(start, end, reprocess=reprocess)
    return 0 if all_ok(outcomes, len(days)) else 1
