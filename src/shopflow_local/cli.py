"""The `shopflow` command: devstack, generate, run, backfill, report, demo.

Every failure a user can cause ends in one line on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any, NoReturn

from shopflow.errors import ShopflowError
from shopflow_local.home import shopflow_home

PORT_NAMES = (
    "api", "s3", "dynamodb", "smtp", "airflow", "mysql", "postgres", "redis", "own_redis",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _date(text: str) -> date:
    from shopflow.dates import parse_date

    try:
        return parse_date(text)
    except ShopflowError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a scale factor, got {text!r}") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"scale factor must be in (0, 100], got {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def _run_id(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a run id cannot be empty")
    return text


def _add_stack_options(parser: argparse.ArgumentParser) -> None:
    from shopflow_local.devstack.config import STACKS

    parser.add_argument("--stack", default="embedded", help=f"one of {', '.join(STACKS)}")
    for name in PORT_NAMES:
        parser.add_argument(f"--{name.replace('_', '-')}-port", type=_port, metavar="PORT")


def _add_generate_options(parser: argparse.ArgumentParser, *, days: int, scale: float) -> None:
    parser.add_argument("--days", type=_positive_int, default=days)
    parser.add_argument("--scale", type=_scale, default=scale, help="scale factor (SF)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from shopflow_local.devstack.config import EXECUTORS

    parser = _Parser(prog="shopflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    devstack = sub.add_parser("devstack", help="the local stack of stand-ins")
    dev_sub = devstack.add_subparsers(dest="action", required=True, parser_class=_Parser)
    up = dev_sub.add_parser("up", help="start the stand-ins (idempotent)")
    _add_stack_options(up)
    up.add_argument("--json", action="store_true")
    up.add_argument("--no-airflow", action="store_true", help="only the stand-ins, no Airflow")
    up.add_argument(
        "--executor", choices=EXECUTORS, default="local",
        help="Airflow's executor: local (default) or celery (two workers; needs --stack services)",
    )  # fmt: skip
    dev_sub.add_parser("down", help="stop the stand-ins")
    st = dev_sub.add_parser("status", help="describe the stack and check its health")
    st.add_argument("--json", action="store_true")

    gen = sub.add_parser("generate", help="fill the four sources with generated days")
    gen.add_argument("--start", type=_date, required=True, metavar="YYYY-MM-DD")
    _add_generate_options(gen, days=1, scale=1.0)

    run = sub.add_parser("run", help="trigger the DAG for business dates on the local Airflow")
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="one business date")
    which.add_argument("--start", type=_date, metavar="YYYY-MM-DD", help="first of a range")
    run.add_argument("--end", type=_date, metavar="YYYY-MM-DD", help="last of the range")
    run.add_argument("--full-refresh", action="store_true")
    run.add_argument(
        "--in-process", action="store_true", help="run with dag.test(), without the scheduler"
    )

    back = sub.add_parser("backfill", help="Airflow's backfill of business dates A..B")
    back.add_argument("--start", type=_date, required=True, metavar="YYYY-MM-DD")
    back.add_argument("--end", type=_date, required=True, metavar="YYYY-MM-DD")
    back.add_argument(
        "--reprocess", choices=("none", "failed", "completed"), default="none",
        help="re-run dates that have a run already: none (default), failed ones, or all",
    )  # fmt: skip

    rep = sub.add_parser("report", help="print a stored run report of a business date")
    rep.add_argument("--date", type=_date, required=True, metavar="YYYY-MM-DD")
    rep.add_argument("--run-id", type=_run_id, metavar="RUN_ID", help="default: the latest run")

    demo = sub.add_parser("demo", help="stack up, recent days generated, the pipeline run")
    _add_stack_options(demo)
    _add_generate_options(demo, days=3, scale=0.01)
    return parser


def _stack_config(args: argparse.Namespace) -> Any:
    from shopflow_local.devstack.config import Ports, StackConfig

    overrides = {
        name: getattr(args, f"{name}_port")
        for name in PORT_NAMES
        if getattr(args, f"{name}_port", None)
    }
    return StackConfig(
        home=shopflow_home(),
        stack=args.stack,
        ports=Ports(**overrides),
        executor=getattr(args, "executor", "local"),
    )


def _devstack(args: argparse.Namespace) -> int:
    from shopflow_local.devstack import stack

    home = shopflow_home()
    if args.action == "up":
        cfg = _stack_config(args)
        info = stack.up(cfg)
        if not args.no_airflow:
            from shopflow_local.airflow_runtime.processes import start_airflow

            info["airflow_url"] = start_airflow(info, cfg.ports.airflow)
        print(json.dumps(info, indent=2) if args.json else _describe_up(info))
        return 0
    if args.action == "down":
        stopped = stack.down(home)
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        return 0
    info = stack.status(home)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(_describe_status(info))
    return 0 if info["up"] else 3


def _describe_up(info: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{info['stack']} stack is up (state in {info['home']})",
            f"  sales      {info['sales_url']}",
            f"  api        {info['api_url']}",
            f"  s3         {info['aws_endpoint']}  bucket {info['bucket']}",
            f"  dynamodb   {info['dynamodb_endpoint']}  table {info['products_table']}",
            f"  smtp       {info['smtp_url']}  mailbox {info['mailbox']}",
            f"  warehouse  {info['warehouse_url']}",
            f"  airflow    {info.get('airflow_url') or 'not started (--no-airflow)'}",
            *_describe_celery(info),
        ]
    )


def _describe_celery(info: dict[str, Any]) -> list[str]:
    if info.get("executor", "local") != "celery":
        return []
    lines = [f"  executor   celery, broker {info['broker_url']}"]
    for worker in info.get("workers", []):
        state = "" if worker.get("healthy", True) else "  NOT RUNNING"
        lines.append(
            f"  {worker['name']:<10} {worker['hostname']}  queues {','.join(worker['queues'])}"
            f"  logs {worker['log_dir']}{state}"
        )
    return lines


def _describe_status(info: dict[str, Any]) -> str:
    if "components" not in info:
        return f"down: {info.get('reason', 'not started')}"
    lines = [f"{info['stack']} stack: {'up' if info['up'] else 'DOWN'}"]
    for name, comp in info["components"].items():
        state = "ok" if comp["healthy"] else "not running"
        port = comp["port"] if comp["port"] is not None else "-"
        lines.append(f"  {name:<21} port {port:<6} {state}")
    return "\n".join([*lines, *_describe_celery(info)])


def _generate(args: argparse.Namespace) -> int:
    from shopflow_local.devstack import stack
    from shopflow_local.devstack.seeding import generate_days

    info = stack.require_up(shopflow_home())
    summary = generate_days(
        info, args.start, args.days, scale=args.scale, seed=args.seed, progress=not args.no_progress
    )
    print(summary)
    return 0


def _run(args: argparse.Namespace) -> int:
    from shopflow_local.dag_runs import days_between, run_days

    if args.date is not None and args.end is not None:
        raise ShopflowError("--end goes with --start, not with --date")
    days = [args.date] if args.date else days_between(args.start, args.end or args.start)
    return run_days(days, full_refresh=args.full_refresh, in_process=args.in_process)


def _backfill(args: argparse.Namespace) -> int:
    from shopflow_local.dag_runs import backfill_days

    return backfill_days(args.start, args.end, reprocess=args.reprocess)


def _report(args: argparse.Namespace) -> int:
    from shopflow_local.dag_runs import show_report

    return show_report(args.date, args.run_id)


def _demo(args: argparse.Namespace) -> int:
    from shopflow_local.demo import run_demo

    return run_demo(
        _stack_config(args), days=args.days, scale=args.scale, seed=args.seed,
        progress=not args.no_progress,
    )  # fmt: skip


COMMANDS = {
    "devstack": _devstack,
    "generate": _generate,
    "run": _run,
    "backfill": _backfill,
    "report": _report,
    "demo": _demo,
}


def _unexpected(exc: Exception) -> int:
    """One line for the user; the traceback goes to ``$SHOPFLOW_HOME/run/cli-error.log``."""
    import traceback

    where = "the traceback could not be saved"
    try:
        log = shopflow_home() / "run" / "cli-error.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as handle:
            handle.write("".join(traceback.format_exception(exc)) + "\n")
        where = f"traceback in {log}"
    except OSError:
        pass
    message = " ".join(str(exc).split())[:300]
    print(f"shopflow: unexpected error: {type(exc).__name__}: {message} ({where})", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `shopflow` console script."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ShopflowError as exc:
        print(f"shopflow: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `shopflow devstack status --json | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        in_process = getattr(args, "in_process", False)
        runs = args.command in {"run", "backfill", "demo"} and not in_process
        note = " (a run already started goes on in Airflow: see its UI)" if runs else ""
        print(f"shopflow: interrupted{note}", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, never a traceback
        return _unexpected(exc)


if __name__ == "__main__":
    sys.exit(main())
