"""Stage timings of one business date through the real pipeline, without a scheduler.

Runs ``shopflow_local.in_process.run_day_in_process`` (the DAG's task functions in
order: four extracts one after the other, transform, load, checks) ``--repeat``
times for the same day against the stack that ``shopflow devstack up`` started in
``$SHOPFLOW_HOME``, with the stack's own warehouse and staging. Each repetition
is a fresh child process, so its peak RSS (``ru_maxrss``) and its import costs
are its own. Prints the median seconds per stage, rows/s (rows read from the
sources; for transform, load and the total: all sources together) and peak RSS.

The first repetition into an empty ``dim_customer`` is a customers full refresh;
the later ones re-run the day (re-running leaves the same warehouse: data contract,
"The run").

    .venv/bin/shopflow devstack up [--stack services]
    .venv/bin/python bench/e2e_run.py --stack embedded --scale 0.1 --date 2025-01-01 --generate
    .venv/bin/python bench/e2e_run.py --stack embedded --scale 0.1 --date 2025-01-01 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from shopflow.errors import ShopflowError
from shopflow_local.devstack import stack
from shopflow_local.devstack.connections import airflow_environment
from shopflow_local.devstack.seeding import generate_days
from shopflow_local.home import shopflow_home
from shopflow_local.in_process import SOURCES, STAGES, QualityCheckFailed, run_day_in_process


def child(day: date, run_id: str, out: Path, full_refresh: bool) -> int:
    """One run in this (fresh) process; its timings and peak RSS written to out as JSON."""
    info = stack.read_state(shopflow_home())
    if info is None:
        raise ShopflowError("no stack state in $SHOPFLOW_HOME")
    env = {**airflow_environment(info), "SHOPFLOW_HOME": str(shopflow_home())}
    try:
        result = run_day_in_process(day, run_id=run_id, env=env, full_refresh=full_refresh)
        failed: list[str] = []
    except QualityCheckFailed as exc:
        result, failed = exc.timings, [c.name for c in exc.timings.failed_checks]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out.write_text(json.dumps({**result.to_dict(), "failed": failed, "rss_mb": rss_mb}))
    return 0


def run_once(day: date, n: int, full_refresh: bool, work: Path) -> dict[str, Any]:
    """A repetition in a child process; its log under work/."""
    run_id = f"bench__{day}__{n}__{uuid.uuid4().hex[:8]}"
    out, log = work / f"run-{n}.json", work / f"run-{n}.log"
    argv = [sys.executable, __file__, "--child", "--date", day.isoformat(), "--run-id", run_id]
    argv += ["--out", str(out)] + (["--full-refresh"] if full_refresh else [])
    with open(log, "wb") as handle:
        done = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ShopflowError(f"repetition {n} failed (exit {done.returncode}); {log}:\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def table(runs: list[dict[str, Any]]) -> list[str]:
    """Median/min/max seconds per stage, rows and rows/s; setup and peak RSS below."""
    rows = {s: int(statistics.median(r["rows"][s] for r in runs)) for s in SOURCES}
    total_rows = sum(rows.values())
    lines = [f"{'stage':<22} {'median s':>9} {'min s':>8} {'max s':>8} {'rows':>10} {'rows/s':>11}"]

    def line(name: str, values: list[float], count: int | None) -> str:
        med = statistics.median(values)
        rate = f"{count / med:>11,.0f}" if count is not None and med > 0 else f"{'':>11}"
        shown = f"{count:>10,}" if count is not None else f"{'':>10}"
        return f"{name:<22} {med:>9.3f} {min(values):>8.3f} {max(values):>8.3f} {shown} {rate}"

    for stage in STAGES:
        source = stage.removeprefix("extract_")
        count = rows.get(source, None if stage == "checks" else total_rows)
        lines.append(line(stage, [r["seconds"][stage] for r in runs], count))
    totals = [sum(r["seconds"].values()) for r in runs]
    lines.append(line("total", totals, total_rows))
    lines.append(line("(airflow.sdk import)", [r["setup_seconds"] for r in runs], None))
    rss = [r["rss_mb"] for r in runs]
    lines.append(f"peak RSS per run: median {statistics.median(rss):.0f} MB, max {max(rss):.0f} MB")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", choices=("embedded", "services"), default="embedded")
    parser.add_argument("--scale", type=float, default=0.1, help="SF (generated with --generate)")
    parser.add_argument("--date", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--generate", action="store_true", help="generate the day first")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full-refresh", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.date, args.run_id, args.out, args.full_refresh)
    try:
        info = stack.require_up(shopflow_home())
        if info["stack"] != args.stack:
            raise ShopflowError(
                f"the stack up in {info['home']} is {info['stack']!r}, not {args.stack!r}; "
                "`shopflow devstack down` and up again"
            )
        if args.generate:
            started = time.perf_counter()
            generate_days(info, args.date, 1, scale=args.scale, seed=args.seed, progress=False)
            print(f"# generated {args.date} at scale {args.scale} in "
                  f"{time.perf_counter() - started:.1f}s")  # fmt: skip
        work = shopflow_home() / "bench" / "e2e_run"
        work.mkdir(parents=True, exist_ok=True)
        print(f"# {args.stack} stack, scale {args.scale}, {args.date}, {args.repeat} runs, "
              f"{os.cpu_count()} cores; warehouse {info['warehouse_url']}", flush=True)  # fmt: skip
        runs = []
        for n in range(1, args.repeat + 1):
            runs.append(run_once(args.date, n, args.full_refresh, work))
            result = runs[-1]
            failed = f", FAILED checks: {', '.join(result['failed'])}" if result["failed"] else ""
            print(f"# run {n}: {sum(result['seconds'].values()):.2f}s, "
                  f"{result['rss_mb']:.0f} MB{failed}", flush=True)  # fmt: skip
    except ShopflowError as exc:
        print(f"e2e_run: error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(table(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
