"""Seconds per stage per day as the warehouse's history grows: N consecutive business dates.

On the stack that ``shopflow devstack up`` started in ``$SHOPFLOW_HOME`` (embedded:
DuckDB warehouse; services: Postgres), each day D of ``--start`` .. ``--start + --days - 1``
is generated into the sources right before it runs (``generate_days`` in a child
process), then run through ``shopflow_local.in_process.run_day_in_process`` (the DAG's
task functions: four extracts, transform, load, checks) in another fresh child.
Generating day by day keeps the sources as they were on D: a day generated later
rewrites the status updates of D's orders with its own ``updated_at``, so D's extract
would miss them (see README, "history.py").

Writes ``<out>.json`` (per day: seconds per stage, the load's seconds per phase and per
statement, the checks' seconds, rows, failed checks, peak RSS, load average) and
``<out>.png`` (seconds per stage per day), and prints day 2 against day N for the load
and the checks. Start from an empty warehouse and empty sources (a fresh
``$SHOPFLOW_HOME``; for the services stack, empty databases ``shop`` and ``shopflow``).

    .venv/bin/shopflow devstack up --stack embedded --no-airflow
    .venv/bin/python bench/history.py --stack embedded --scale 0.25 --days 30 \
        --out bench/history-duckdb
    .venv/bin/python bench/history.py --replot bench/history-duckdb
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from shopflow.errors import ShopflowError
from shopflow_local.devstack import stack
from shopflow_local.devstack.connections import airflow_environment
from shopflow_local.devstack.seeding import generate_days
from shopflow_local.home import shopflow_home
from shopflow_local.in_process import STAGES, QualityCheckFailed, run_day_in_process

CHART_STAGES = ("extract", *STAGES[len(STAGES) - 3 :])
"""Stages drawn: the four extracts summed, transform, load, checks."""


def _loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


@contextmanager
def _recorded(target: Any, name: str, wrap: Callable[[Any], Any]) -> Iterator[None]:
    """``target.name`` replaced by ``wrap(original)`` for the block (instrumentation only)."""
    original = getattr(target, name)
    setattr(target, name, wrap(original))
    try:
        yield
    finally:
        setattr(target, name, original)


def child_run(day: date, run_id: str, out: Path) -> int:
    """One day in this fresh process: stage seconds, plus load steps and checks timed."""
    from shopflow.quality import evaluate
    from shopflow.tasks import load as load_task
    from shopflow.warehouse import base

    info = stack.read_state(shopflow_home())
    if info is None:
        raise ShopflowError("no stack state in $SHOPFLOW_HOME")
    env = {**airflow_environment(info), "SHOPFLOW_HOME": str(shopflow_home())}
    steps: list[dict[str, Any]] = []
    checks: dict[str, float] = {}
    loaded: dict[str, Any] = {}

    def record(original: Callable[..., None]) -> Callable[..., None]:
        def recording(result: Any, step: Any, count: int, seconds: float) -> None:
            steps.append({"phase": step.phase.value, "purpose": step.purpose, "s": seconds})
            original(result, step, count, seconds)

        return recording

    def timed_check(original: Callable[..., Any]) -> Callable[..., Any]:
        def timing(warehouse: Any, sql: str, values: Any, names: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(warehouse, sql, values, names)
            finally:
                key = names[0] if len(names) == 1 else f"{names[0].split('.')[0]} ({len(names)})"
                checks[key] = checks.get(key, 0.0) + time.perf_counter() - started

        return timing

    def keep_result(original: Callable[..., Any]) -> Callable[..., Any]:
        def keeping(*args: Any, **kwargs: Any) -> Any:
            loaded.update(original(*args, **kwargs))
            return loaded

        return keeping

    with (
        _recorded(base, "_record", record),
        _recorded(evaluate, "_rows", timed_check),
        _recorded(load_task, "load", keep_result),
    ):
        try:
            result = run_day_in_process(day, run_id=run_id, env=env)
            failed: list[str] = []
        except QualityCheckFailed as exc:
            result, failed = exc.timings, [c.name for c in exc.timings.failed_checks]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    warned = [c.name for c in result.checks if c.status == "warn"]
    record_ = {
        **{k: v for k, v in result.to_dict().items() if k not in ("checks", "extracts")},
        "failed": failed,
        "warned": warned,
        "failed_detail": {c.name: c.detail for c in result.checks if not c.passed},
        "load_phases": loaded.get("seconds", {}),
        "load_steps": [s for s in steps if s["phase"] in ("merge", "derive")],
        "check_seconds": checks,
        "rss_mb": rss_mb,
    }
    out.write_text(json.dumps(record_))
    return 0


def child_generate(day: date, scale: float, seed: int) -> int:
    """Generate day into the stack's sources (its own process: the generator's memory goes)."""
    info = stack.require_up(shopflow_home())
    generate_days(info, day, 1, scale=scale, seed=seed, progress=False)
    return 0


def _child(argv: list[str], log: Path) -> None:
    with open(log, "ab") as handle:
        done = subprocess.run(
            [sys.executable, __file__, *argv], stdout=handle, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ShopflowError(f"{argv[0]} failed (exit {done.returncode}); {log}:\n{tail}")


def run_history(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Generate and run each day in order; the per-day records (also written as we go)."""
    days: list[dict[str, Any]] = []
    for n in range(args.days):
        day = args.start + timedelta(days=n)
        log = work / f"{day}.log"
        started = time.perf_counter()
        if not args.no_generate:
            gen = ["--child-generate", "--date", day.isoformat()]
            _child([*gen, "--scale", str(args.scale), "--seed", str(args.seed)], log)
        generated = time.perf_counter() - started
        out = work / f"{day}.json"
        run_id = f"history__{day}__{uuid.uuid4().hex[:8]}"
        before = _loadavg()
        _child(
            ["--child-run", "--date", day.isoformat(), "--run-id", run_id, "--out", str(out)], log
        )
        record = json.loads(out.read_text())
        record.update(generate_seconds=generated, loadavg_before=before, loadavg_after=_loadavg())
        days.append(record)
        secs = record["seconds"]
        failed = f", FAILED {','.join(record['failed'])}" if record["failed"] else ""
        print(f"# day {n + 1} {day}: total {sum(secs.values()):.1f}s, load {secs['load']:.2f}s, "
              f"checks {secs['checks']:.2f}s (generated in {generated:.1f}s; "
              f"loadavg {record['loadavg_after']}){failed}", flush=True)  # fmt: skip
        _write(args, days)
    return days


def _write(args: argparse.Namespace, days: list[dict[str, Any]]) -> None:
    meta = {"stack": args.stack, "scale": args.scale, "seed": args.seed, "label": args.label,
            "cores": os.cpu_count()}  # fmt: skip
    Path(f"{args.out}.json").write_text(json.dumps({**meta, "days": days}, indent=1))


def stage_seconds(record: dict[str, Any]) -> dict[str, float]:
    """Seconds per chart stage of one day (the extracts summed)."""
    secs = record["seconds"]
    extract = sum(v for k, v in secs.items() if k.startswith("extract_"))
    return {"extract": extract, **{s: secs[s] for s in CHART_STAGES[1:]}}


def plot(data: dict[str, Any], png: Path) -> None:
    """Seconds per stage per day, one line per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = data["days"]
    x = list(range(1, len(days) + 1))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for stage in CHART_STAGES:
        ax.plot(x, [stage_seconds(d)[stage] for d in days], marker=".", label=stage)
    ax.set_xlabel("day (business dates in order, history grows)")
    ax.set_ylabel("seconds")
    label = data.get("label") or ""
    ax.set_title(f"{data['stack']} stack, SF {data['scale']}: seconds per stage per day {label}")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def summary(data: dict[str, Any]) -> list[str]:
    """Day 2 against day N for load and checks, and the mean per stage."""
    days = data["days"]
    lines = [f"# {data['stack']}, SF {data['scale']}, {len(days)} days"]
    if len(days) < 2:
        return lines
    first, last = stage_seconds(days[1]), stage_seconds(days[-1])
    for stage in CHART_STAGES:
        ratio = last[stage] / first[stage] if first[stage] else float("nan")
        mean = sum(stage_seconds(d)[stage] for d in days) / len(days)
        lines.append(f"{stage:<10} day 2 {first[stage]:7.2f}s  day {len(days)} {last[stage]:7.2f}s"
                     f"  ratio {ratio:5.2f}  mean {mean:6.2f}s")  # fmt: skip
    # One noisy day should not decide: medians of three days. From day 8 on the 7-day
    # windows are full (status updates of 7 days of orders, the row counts' trailing
    # mean), so days 9-11 against the last three isolate what grows with the history.
    for first_day in (2, 9):
        if len(days) < first_day + 5:
            continue
        early, late = days[first_day - 1 : first_day + 2], days[-3:]
        for stage in ("load", "checks"):
            a = statistics.median(stage_seconds(d)[stage] for d in early)
            b = statistics.median(stage_seconds(d)[stage] for d in late)
            lines.append(
                f"{stage:<10} median days {first_day}-{first_day + 2} {a:7.2f}s  "
                f"last 3 {b:7.2f}s  ratio {b / a:5.2f}"
            )
    failing = [(i + 1, d["failed"]) for i, d in enumerate(days) if d["failed"]]
    lines.append(f"days with failed checks: {failing or 'none'}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", choices=("embedded", "services"), default="embedded")
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="bench/history", help="path stem of .json and .png")
    parser.add_argument("--label", default="", help="chart title suffix, e.g. before/after")
    parser.add_argument("--no-generate", action="store_true", help="the days are generated")
    parser.add_argument("--replot", metavar="STEM", help="redraw STEM.png from STEM.json")
    parser.add_argument("--child-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--date", type=date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_run:
        return child_run(args.date, args.run_id, Path(args.out))
    if args.child_generate:
        return child_generate(args.date, args.scale, args.seed)
    if args.replot:
        data = json.loads(Path(f"{args.replot}.json").read_text())
        plot(data, Path(f"{args.replot}.png"))
        print("\n".join(summary(data)))
        return 0
    try:
        info = stack.require_up(shopflow_home())
        if info["stack"] != args.stack:
            raise ShopflowError(f"the stack up in {info['home']} is {info['stack']!r}, "
                                f"not {args.stack!r}")  # fmt: skip
        work = shopflow_home() / "bench" / "history"
        work.mkdir(parents=True, exist_ok=True)
        print(f"# {args.stack} stack, SF {args.scale}, {args.days} days from {args.start}; "
              f"warehouse {info['warehouse_url']}; loadavg {_loadavg()}", flush=True)  # fmt: skip
        run_history(args, work)
    except ShopflowError as exc:
        print(f"history: error: {exc}", file=sys.stderr)
        return 1
    data = json.loads(Path(f"{args.out}.json").read_text())
    plot(data, Path(f"{args.out}.png"))
    print("\n".join(summary(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
