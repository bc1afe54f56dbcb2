"""One business date five ways: floor, shopflow in-process and on the scheduler, peer, no-op DAG.

Contenders (``--contenders``, default all, run in this order within every round):

a. floor (bench/floor.py): the plainest fast read of each source + one bulk write;
b. shopflow in-process: the DAG's task functions (bench/e2e_run.py's child);
c. shopflow through the stack's local Airflow scheduler: trigger to terminal state;
d. peer (bench/peers/pandas_el.py): a plain pandas extract-and-load script;
e. a do-nothing DAG of the real DAG's shape (bench/dags/) on the same scheduler.

a, b and d run as fresh child processes (wall from spawn to exit, peak RSS the child's
``ru_maxrss``); for c and e the RSS is sampled (psutil, every 0.1 s): the largest task
process under the scheduler, and in the JSON the largest sum over all Airflow processes.
The floor and the peer write into scratch targets, never the pipeline's tables. b and c
must leave the same warehouse (table checksums, load audit counts) or the script fails.
An untimed in-process run first makes every timed run a re-run of the day (no customers
full refresh). For c and e the stack's Airflow is restarted with bench/dags/ as a second
DAG bundle and, at the end, restarted without it and the no-op DAG deleted.

    .venv/bin/shopflow devstack up --no-airflow
    .venv/bin/python bench/compare.py --scale 0.1 --date 2025-01-01 --generate --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from _common import (
    SCRATCH_SCHEMA_FLOOR,
    SCRATCH_SCHEMA_PEER,
    ChildRun,
    PeakRss,
    Row,
    format_table,
    load_average,
    run_child,
    spread,
)
from shopflow.errors import ShopflowError
from shopflow.names import DAG_ID
from shopflow.warehouse.factory import warehouse_from_url
from shopflow.warehouse.tables import TABLES
from shopflow_local import dag_runs
from shopflow_local.airflow_runtime import processes
from shopflow_local.airflow_runtime.rest_client import AirflowClient
from shopflow_local.devstack import stack
from shopflow_local.devstack.aws_emulator import EMULATOR_KEY
from shopflow_local.devstack.config import StackConfig
from shopflow_local.devstack.process import read_pid, stop_background
from shopflow_local.devstack.seeding import generate_days
from shopflow_local.home import shopflow_home

BENCH = Path(__file__).resolve().parent
NOOP_DAGS = BENCH / "dags"
NOOP_DAG_ID = f"{DAG_ID}_noop"
CONTENDERS = {
    "a": "floor: raw read + 1 bulk write",
    "b": "shopflow in-process (task functions)",
    "c": "shopflow on the local scheduler",
    "d": "peer: pandas extract-and-load",
    "e": "no-op DAG on the local scheduler",
}
BUNDLES_ENV = "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
VOLATILE = ("run_id", "started_at", "finished_at")
AUDIT = "source, business_date, rows_in, rows_loaded, rows_duplicate, rows_quarantined"
TERMINAL = ("success", "failed")
RUN_TIMEOUT = 1800.0


def say(line: str) -> None:
    print(line, flush=True)


# -- the warehouse after a run -----------------------------------------------------------


def warehouse_snapshot(url: str, run_id: str) -> dict[str, Any]:
    """Checksums of every table without run-specific columns, and the run's load-audit counts."""
    wh = warehouse_from_url(url)
    out: dict[str, Any] = {
        name: wh.checksum(name, exclude=[c for c in VOLATILE if c in spec.column_names])
        for name, spec in TABLES.items()
        if name != "load_audit"
    }
    audit = wh.query_arrow(
        f"select {AUDIT} from analytics.load_audit where run_id = ?", (run_id,)
    ).to_pylist()
    out["load_audit"] = sorted(tuple(str(v) for v in r.values()) for r in audit)
    return out


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Names of the tables whose snapshots differ."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


# -- scratch targets of the floor and the peer -------------------------------------------


def reset_scratch(info: dict[str, Any], work: Path, name: str, schema: str) -> str:
    """A fresh, empty target for a contender: a new DuckDB file, or a new Postgres schema."""
    url = str(info["warehouse_url"])
    if url.startswith("duckdb://"):
        path = work / f"{name}.duckdb"
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
        return f"duckdb://{path}"
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'drop schema if exists "{schema}" cascade')
        conn.execute(f'create schema "{schema}"')
    return url


# -- the local scheduler, with the no-op DAG as a second bundle ------------------------


def bundle_config() -> str:
    """The default dags-folder bundle plus bench/dags/."""
    return json.dumps(
        [
            {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {}},
            {
                "name": "shopflow-bench",
                "classpath": LOCAL_BUNDLE,
                "kwargs": {"path": str(NOOP_DAGS), "refresh_interval": 3600},
            },
        ]
    )


def _airflow_pids(home: Path) -> dict[str, int]:
    run_dir = home / "run"
    names = (processes.NAME, *processes.DAEMONS)
    return {n: pid for n in names if (pid := read_pid(run_dir / f"{n}.pid")) is not None}


def _restart_airflow(info: dict[str, Any], bundles: str | None) -> None:
    home = Path(info["home"])
    for name in _airflow_pids(home):
        stop_background(name, run_dir=home / "run", timeout=30.0)
    if bundles is None:
        os.environ.pop(BUNDLES_ENV, None)
    else:
        os.environ[BUNDLES_ENV] = bundles  # the Airflow processes inherit os.environ
    processes.ensure_airflow(info)


def _wait_for_noop_dag(client: AirflowClient, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        found = client.request("GET", f"/dags/{NOOP_DAG_ID}", missing_ok=True)
        if found is not None and not found.get("is_stale"):
            if found.get("is_paused"):
                client.request("PATCH", f"/dags/{NOOP_DAG_ID}", json={"is_paused": False})
            return
        broken = [e for e in client.import_errors() if "noop" in str(e.get("filename"))]
        if broken:
            raise ShopflowError(f"{broken[0]['filename']} fails: {broken[0].get('stack_trace')}")
        if time.monotonic() > deadline:
            raise ShopflowError(f"the DAG processor did not register {NOOP_DAG_ID}")
        time.sleep(1.0)


@contextmanager
def scheduler(info: dict[str, Any], *, noop: bool) -> Iterator[AirflowClient]:
    """A client of the stack's Airflow, both DAGs registered and unpaused (noop: the no-op one).

    Airflow is (re)started with bench/dags/ as a second bundle for the block; after it,
    restarted without, and the no-op DAG deleted from the metadata database.
    """
    if noop:
        say("# (re)starting the local Airflow with bench/dags/ as a second DAG bundle")
        _restart_airflow(info, bundle_config())
    try:
        with dag_runs.connect(info, lambda line: say(f"# {line}")) as client:
            if noop:
                _wait_for_noop_dag(client)
            yield client
    finally:
        if noop:
            say("# restarting the local Airflow without the bench bundle")
            _restart_airflow(info, None)
            with dag_runs.connect(info, lambda line: None) as client:
                client.request("DELETE", f"/dags/{NOOP_DAG_ID}", missing_ok=True)


def _poll_state(client: AirflowClient, path: str, attempts: int = 5) -> str | None:
    """The run's state; None while the API does not answer in time (a loaded machine)."""
    for attempt in range(attempts):
        try:
            return str(client.request("GET", path)["state"])
        except ShopflowError:
            if attempt == attempts - 1:
                raise
            time.sleep(1.0)
    return None


def scheduler_run(
    client: AirflowClient, info: dict[str, Any], dag_id: str, day: date
) -> dict[str, Any]:
    """Trigger dag_id for day, wait for its end; wall s, sampled RSS, task durations."""
    home = Path(info["home"])
    pids = _airflow_pids(home)
    run_id = f"bench_{day.isoformat()}_{uuid.uuid4().hex[:8]}"
    path = f"/dags/{dag_id}/dagRuns"
    body = {
        "dag_run_id": run_id,
        "logical_date": None,
        "note": "bench/compare.py",
        "conf": {"business_date": day.isoformat(), "full_refresh": False},
    }
    with PeakRss(pids.values(), task_roots=[pids["airflow-scheduler"]]) as rss:
        started = time.perf_counter()
        client.request("POST", path, json=body)
        while True:
            state = _poll_state(client, f"{path}/{quote(run_id, safe='')}")
            wall = time.perf_counter() - started
            if state in TERMINAL:
                break
            if wall > RUN_TIMEOUT:
                raise ShopflowError(f"{dag_id} run {run_id} not done after {RUN_TIMEOUT:.0f} s")
            processes.check_running(home)
            time.sleep(0.2)
    tis = client.request(
        "GET", f"{path}/{quote(run_id, safe='')}/taskInstances", params={"limit": 1000}
    )["task_instances"]
    if state != "success":
        failed = [t["task_id"] for t in tis if t.get("state") not in ("success", "skipped")]
        raise ShopflowError(f"{dag_id} run {run_id} ended {state}; not successful: {failed}")
    return {
        "run_id": run_id,
        "wall": wall,
        "rss_mb": rss.peak_task_mb,
        "rss_total_mb": rss.peak_total_mb,
        "tasks": {t["task_id"]: t.get("duration") for t in tis},
    }


# -- the contenders ----------------------------------------------------------------------


class Bench:
    """The contenders of one day on one stack; every run's figures in ``runs``."""

    def __init__(self, info: dict[str, Any], day: date, work: Path) -> None:
        self.info, self.day, self.work = info, day, work
        self.client: AirflowClient | None = None
        self.runs: dict[str, list[dict[str, Any]]] = {k: [] for k in CONTENDERS}
        self.snapshots: dict[str, list[dict[str, Any]]] = {"b": [], "c": []}
        self._n = 0

    def _child(self, argv: list[str], env: dict[str, str] | None = None) -> ChildRun:
        self._n += 1
        out, log = self.work / f"run-{self._n}.json", self.work / f"run-{self._n}.log"
        return run_child([sys.executable, *argv, "--out", str(out)], out, log, env)

    def floor(self) -> dict[str, Any]:
        target = reset_scratch(self.info, self.work, "floor", SCRATCH_SCHEMA_FLOOR)
        done = self._child(
            [
                str(BENCH / "floor.py"),
                "--date",
                self.day.isoformat(),
                "--scratch",
                target.removeprefix("duckdb://"),
            ]
        )
        return {**done.figures, "wall": done.wall, "rss_mb": done.rss_mb}

    def in_process(self) -> dict[str, Any]:
        run_id = f"bench__{self.day}__{uuid.uuid4().hex[:8]}"
        done = self._child(
            [
                str(BENCH / "e2e_run.py"),
                "--child",
                "--date",
                self.day.isoformat(),
                "--run-id",
                run_id,
            ]
        )
        if done.figures.get("failed"):
            raise ShopflowError(f"in-process run {run_id} failed checks {done.figures['failed']}")
        snap = warehouse_snapshot(self.info["warehouse_url"], run_id)
        self.snapshots["b"].append(snap)
        keep = ("seconds", "rows", "setup_seconds", "run_id")
        return {**{k: done.figures[k] for k in keep}, "wall": done.wall, "rss_mb": done.rss_mb}

    def _scheduled(self, dag_id: str) -> dict[str, Any]:
        if self.client is None:
            raise ShopflowError("no scheduler client")
        return scheduler_run(self.client, self.info, dag_id, self.day)

    def on_scheduler(self) -> dict[str, Any]:
        result = self._scheduled(DAG_ID)
        self.snapshots["c"].append(warehouse_snapshot(self.info["warehouse_url"], result["run_id"]))
        return result

    def noop(self) -> dict[str, Any]:
        return self._scheduled(NOOP_DAG_ID)

    def peer(self) -> dict[str, Any]:
        info = self.info
        target = reset_scratch(info, self.work, "peer", SCRATCH_SCHEMA_PEER)
        argv = [
            str(BENCH / "peers" / "pandas_el.py"),
            "--date",
            self.day.isoformat(),
            "--sales-url",
            info["sales_url"],
            "--api-url",
            info["api_url"],
            "--dynamodb-endpoint",
            info["dynamodb_endpoint"],
            "--products-table",
            info["products_table"],
            "--s3-endpoint",
            info["aws_endpoint"],
            "--bucket",
            info["bucket"],
            "--warehouse-url",
            target,
            "--schema",
            SCRATCH_SCHEMA_PEER,
        ]
        env = {
            "MARKETING_API_TOKEN": str(info["api_token"]),
            "AWS_ACCESS_KEY_ID": EMULATOR_KEY,
            "AWS_SECRET_ACCESS_KEY": EMULATOR_KEY,
        }
        done = self._child(argv, env=env)
        return {**done.figures, "wall": done.wall, "rss_mb": done.rss_mb}

    def run(self, key: str) -> dict[str, Any]:
        runners: dict[str, Callable[[], dict[str, Any]]] = {
            "a": self.floor,
            "b": self.in_process,
            "c": self.on_scheduler,
            "d": self.peer,
            "e": self.noop,
        }
        result = runners[key]()
        result["load_average"] = load_average()
        self.runs[key].append(result)
        return result


def check_same_warehouse(snapshots: dict[str, list[dict[str, Any]]]) -> str:
    """'checksums equal' when every b and c run left the same warehouse; raises otherwise."""
    b, c = snapshots["b"], snapshots["c"]
    if not b or not c:
        return "checksums not compared (needs contenders b and c)"
    first = b[0]
    for name, snaps in (("b", b), ("c", c)):
        for n, snap in enumerate(snaps, start=1):
            diff = differences(first, snap)
            if diff:
                raise ShopflowError(f"run {n} of {name} left a different warehouse: {diff}")
    return f"checksums equal ({len(b)} b and {len(c)} c runs, {len(first)} tables)"


# -- the report --------------------------------------------------------------------------


def detail_lines(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Median seconds of each contender's parts: read/write, stages, tasks."""
    lines = []
    for key in ("a", "d", "b"):
        if runs[key]:
            parts = runs[key][0]["seconds"]
            shown = ", ".join(
                f"{p} {statistics.median(r['seconds'][p] for r in runs[key]):.2f}" for p in parts
            )
            lines.append(f"{key}: {shown}")
            if key == "a":
                reads = [sum(v for p, v in r["seconds"].items() if p != "write") for r in runs[key]]
                writes = [r["seconds"]["write"] for r in runs[key]]
                lines.append(
                    f"a: read total {statistics.median(reads):.2f}, write "
                    f"{statistics.median(writes):.2f}, rows {runs[key][0]['rows']}"
                )
    for key in ("c", "e"):
        if runs[key]:
            tasks = runs[key][0]["tasks"]
            med = {
                t: statistics.median(float(r["tasks"][t] or 0) for r in runs[key]) for t in tasks
            }
            quality = sum(v for t, v in med.items() if t.startswith("quality."))
            extract = [v for t, v in med.items() if t.startswith("extract.")]
            lines.append(
                f"{key}: task seconds (median): extracts {' / '.join(f'{v:.1f}' for v in extract)}"
                f", transform {med.get('transform', 0):.1f}, load {med.get('load', 0):.1f}, "
                f"quality sum {quality:.1f} ({sum(t.startswith('quality.') for t in med)} tasks), "
                f"report {med.get('report', 0):.1f}; sum of all {sum(med.values()):.1f}"
            )
    return lines


def rows_of(runs: dict[str, list[dict[str, Any]]], keys: str) -> list[Row]:
    return [
        Row(k, CONTENDERS[k], [r["wall"] for r in runs[k]], [r["rss_mb"] for r in runs[k]])
        for k in keys
    ]


def parse_contenders(text: str) -> str:
    keys = "".join(text.replace(",", "").split())
    unknown = set(keys) - set(CONTENDERS)
    if unknown or not keys:
        raise argparse.ArgumentTypeError(f"pick from {''.join(CONTENDERS)}, e.g. 'a,b,d'")
    return "".join(k for k in CONTENDERS if k in keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", choices=("embedded", "services"), default="embedded")
    parser.add_argument("--scale", type=float, default=1.0, help="SF (generated with --generate)")
    parser.add_argument(
        "--date", type=date.fromisoformat, default=date(2025, 1, 1), metavar="YYYY-MM-DD"
    )
    parser.add_argument("--generate", action="store_true", help="(re)generate the day first")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--contenders", type=parse_contenders, default="abcde", help="subset of abcde, e.g. 'a,b,d'"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write every figure here")
    args = parser.parse_args()
    try:
        return compare(args)
    except ShopflowError as exc:
        print(f"compare: error: {exc}", file=sys.stderr)
        return 1


def compare(args: argparse.Namespace) -> int:
    home = shopflow_home()
    if not stack.status(home)["up"]:  # a fresh clone: bring the stack up first
        say(f"# starting the {args.stack} stack in {home}")
        stack.up(StackConfig(home=home, stack=args.stack))
    info = stack.require_up(home)
    if info["stack"] != args.stack:
        raise ShopflowError(
            f"the stack up in {info['home']} is {info['stack']!r}, not {args.stack!r}"
        )
    if args.generate:
        started = time.perf_counter()
        generate_days(info, args.date, 1, scale=args.scale, seed=args.seed, progress=False)
        say(
            f"# generated {args.date} at scale {args.scale} in {time.perf_counter() - started:.1f}s"
        )
    work = shopflow_home() / "bench" / "compare"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    keys = args.contenders
    bench = Bench(info, args.date, work)
    start_load = load_average()
    say(
        f"# {args.stack} stack, scale {args.scale} (label unless --generate), {args.date}, "
        f"{args.rounds} rounds of {keys}, {os.cpu_count()} cores; load average {start_load}"
    )
    say("# warm-up: one untimed in-process run (so no timed run is a customers full refresh)")
    warm = bench.in_process()
    bench.snapshots["b"].clear()
    if not sum(warm["rows"].values()):
        raise ShopflowError(f"the sources hold no rows for {args.date}; add --generate")
    with ExitStack() as stack_of_airflow:
        if set(keys) & {"c", "e"}:
            bench.client = stack_of_airflow.enter_context(scheduler(info, noop="e" in keys))
        for n in range(1, args.rounds + 1):
            for key in keys:
                result = bench.run(key)
                say(
                    f"# round {n} {key}: {result['wall']:.2f} s, {result['rss_mb']:.0f} MB, "
                    f"load {result['load_average']}"
                )
    verdict = check_same_warehouse(bench.snapshots)
    end_load = load_average()
    lines = [
        *format_table(rows_of(bench.runs, keys)),
        *detail_lines(bench.runs),
        verdict,
        f"load average: start {start_load}, end {end_load}",
    ]
    say("\n".join(lines))
    if args.json:
        figures = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "runs": bench.runs,
            "load_average": {"start": start_load, "end": end_load},
            "verdict": verdict,
            "medians": {k: spread([r["wall"] for r in bench.runs[k]]) for k in keys},
        }
        args.json.write_text(json.dumps(figures, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
