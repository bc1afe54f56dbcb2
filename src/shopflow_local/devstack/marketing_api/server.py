"""The command line: ``python -m shopflow_local.devstack.marketing_api --data-dir D --token T``."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from shopflow_local.devstack.marketing_api.app import DEFAULT_BURST, DEFAULT_RATE_LIMIT, build_app
from shopflow_local.devstack.marketing_api.faults import FaultConfig, FaultError

PROG = "python -m shopflow_local.devstack.marketing_api"
TOKEN_ENV = "SHOPFLOW_MARKETING_API_TOKEN"  # noqa: S105 - the variable's name


def _codes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected codes like 500,503, got {text!r}") from exc


def parser() -> argparse.ArgumentParser:
    """The argument parser."""
    defaults = FaultConfig()
    p = argparse.ArgumentParser(prog=PROG, description="The local marketing-API simulator.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--data-dir", type=Path, required=True, help="holds interactions/dt=*.parquet")
    p.add_argument("--token", default=os.environ.get(TOKEN_ENV), help=f"default: ${TOKEN_ENV}")
    p.add_argument("--rate-limit", type=float, default=DEFAULT_RATE_LIMIT, help="req/s; 0: off")
    p.add_argument("--burst", type=int, default=DEFAULT_BURST)
    p.add_argument("--error-rate", type=float, default=defaults.error_rate)
    p.add_argument("--error-codes", type=_codes, default=defaults.error_codes)
    p.add_argument("--latency-ms", type=int, default=defaults.latency_ms)
    p.add_argument("--repeat-rate", type=float, default=defaults.repeat_rate)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; OSError when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until interrupted; a one-line error and exit code 2 on bad set-up."""
    args = parser().parse_args(argv)
    if not args.token:
        print(f"{PROG}: a token is needed (--token or ${TOKEN_ENV})", file=sys.stderr)
        return 2
    if args.burst < 1 or args.rate_limit < 0:
        print(f"{PROG}: --rate-limit must be >= 0 and --burst >= 1", file=sys.stderr)
        return 2
    try:
        faults = FaultConfig(
            error_rate=args.error_rate,
            error_codes=args.error_codes,
            latency_ms=args.latency_ms,
            repeat_rate=args.repeat_rate,
            seed=args.seed,
        )
    except FaultError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"{PROG}: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(message)s")
    if not (args.data_dir / "interactions").is_dir():
        logging.warning("%s/interactions does not exist yet: no records", args.data_dir)
    app = build_app(
        args.data_dir, args.token, faults, rate_limit=args.rate_limit or None, burst=args.burst
    )
    config = uvicorn.Config(app, log_level=args.log_level, server_header=False)
    logging.info("marketing API on http://%s:%d", args.host, args.port)
    with sock:
        uvicorn.Server(config).run(sockets=[sock])
    return 0
