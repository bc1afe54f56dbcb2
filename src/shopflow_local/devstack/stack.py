"""`shopflow devstack up|down|status`: the local stand-ins as background processes.

Each stand-in runs detached with a pid file and a log under ``$SHOPFLOW_HOME/run``.
``up`` is idempotent: a component already running is left alone. What ``up``
started is described in ``$SHOPFLOW_HOME/stack.json``; ``status`` reads it back
and checks every component's health.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shopflow.errors import ShopflowError
from shopflow_local.devstack import aws_emulator, databases, redis_broker
from shopflow_local.devstack.config import WORKER_PREFIX, StackConfig
from shopflow_local.devstack.connections import airflow_environment, write_env_file
from shopflow_local.devstack.process import (
    port_open,
    python_module,
    read_pid,
    start_background,
    stop_background,
    wait_for_port,
)

STATE_FILE = "stack.json"
ENV_FILE = "airflow-connections.env"
COMPONENTS = ("api", "s3", "dynamodb", "smtp")
AIRFLOW_UI = "airflow"
AIRFLOW_DAEMONS = ("airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
"""The local Airflow (airflow_runtime.processes): its API server, then its portless daemons."""


@dataclass(frozen=True)
class Component:
    """One stand-in process: its name, port and how to start it."""

    name: str
    port: int
    flag: str
    start: Callable[[], None]


def _components(cfg: StackConfig) -> list[Component]:
    run_dir = cfg.run_dir

    def start_api() -> None:
        argv = python_module(
            "shopflow_local.devstack.marketing_api",
            "--host", "127.0.0.1",
            "--port", str(cfg.ports.api),
            "--data-dir", str(cfg.api_data_dir),
        )  # fmt: skip
        start_background(
            "api", argv, run_dir=run_dir, env={"SHOPFLOW_MARKETING_API_TOKEN": cfg.api_token}
        )

    def start_smtp() -> None:
        argv = python_module(
            "shopflow_local.devstack.smtp_sink",
            "--host", "127.0.0.1",
            "--port", str(cfg.ports.smtp),
            "--mailbox", str(cfg.mailbox),
        )  # fmt: skip
        start_background("smtp", argv, run_dir=run_dir)

    return [
        Component("api", cfg.ports.api, "--api-port", start_api),
        Component("s3", cfg.ports.s3, "--s3-port", lambda: _start_s3(cfg)),
        Component("dynamodb", cfg.ports.dynamodb, "--dynamodb-port", lambda: _start_ddb(cfg)),
        Component("smtp", cfg.ports.smtp, "--smtp-port", start_smtp),
    ]


def _start_s3(cfg: StackConfig) -> None:
    aws_emulator.start_s3(cfg.ports.s3, cfg.run_dir)


def _start_ddb(cfg: StackConfig) -> None:
    aws_emulator.start_dynamodb(cfg.ports.dynamodb, cfg.run_dir, cfg.home)


def describe(cfg: StackConfig) -> dict[str, Any]:
    """The stack's public description: what `status --json` prints."""
    return {
        "stack": cfg.stack,
        "home": str(cfg.home),
        "sales_url": cfg.sales_url,
        "api_url": f"http://127.0.0.1:{cfg.ports.api}",
        "api_token": cfg.api_token,
        "aws_endpoint": f"http://127.0.0.1:{cfg.ports.s3}",
        "dynamodb_endpoint": f"http://127.0.0.1:{cfg.ports.dynamodb}",
        "bucket": cfg.bucket,
        "products_table": cfg.products_table,
        "warehouse_url": cfg.warehouse_url,
        "staging_uri": cfg.staging_uri,
        "smtp_url": f"smtp://127.0.0.1:{cfg.ports.smtp}",
        "mailbox": str(cfg.mailbox),
        "api_data_dir": str(cfg.api_data_dir),
        "hash_key": cfg.hash_key,
        "airflow_url": None,
        "airflow_port": cfg.ports.airflow,
        "ports": {c.name: c.port for c in _components(cfg)},
        "executor": cfg.executor,
        "airflow_db_url": cfg.airflow_db_url,
        "broker_url": None,
        "workers": cfg.celery_workers,
        "secrets": None,
    }


def _ensure_running(component: Component, run_dir: Path) -> None:
    pid = read_pid(run_dir / f"{component.name}.pid")
    if pid is not None and port_open(component.port):
        return
    if pid is not None:
        stop_background(component.name, run_dir=run_dir)
    if port_open(component.port):
        raise ShopflowError(
            f"port {component.port} for {component.name} is in use by another program; "
            f"choose another with {component.flag}"
        )
    component.start()
    try:
        wait_for_port(component.port, timeout=60)
    except ShopflowError:
        log = run_dir / f"{component.name}.log"
        raise ShopflowError(
            f"{component.name} did not start on port {component.port}; see {log}"
        ) from None


def up(cfg: StackConfig) -> dict[str, Any]:
    """Start every stand-in not yet running, prepare databases, bucket and table.

    The Celery stack also gets its broker (redis_broker) and its connections and
    variables stored as secrets in the AWS emulator's Secrets Manager
    (devstack.secrets_backend), where its Airflow processes read them.
    """
    current = read_state(cfg.home)
    if current is not None and current["stack"] != cfg.stack and any_running(cfg.home):
        raise ShopflowError(
            f"a {current['stack']} stack is up in {cfg.home}; run `shopflow devstack down` first"
        )
    executor = (current or {}).get("executor", "local")
    if current is not None and executor != cfg.executor and airflow_running(cfg.home):
        raise ShopflowError(
            f"the local Airflow in {cfg.home} runs the {executor} executor; "
            "run `shopflow devstack down` first"
        )
    for path in (cfg.run_dir, cfg.api_data_dir, cfg.mailbox):
        path.mkdir(parents=True, exist_ok=True)
    databases.prepare(cfg)
    for component in _components(cfg):
        _ensure_running(component, cfg.run_dir)
    info = describe(cfg)
    if current is not None and read_pid(cfg.run_dir / f"{AIRFLOW_UI}.pid") is not None:
        info["airflow_url"] = current.get("airflow_url")
        info["airflow_port"] = current["ports"].get(AIRFLOW_UI, cfg.ports.airflow)
        info["ports"][AIRFLOW_UI] = info["airflow_port"]
    if cfg.executor == "celery":
        info["broker_url"], own_redis = redis_broker.ensure_broker(cfg)
        if own_redis is not None:
            info["ports"][redis_broker.NAME] = own_redis
    aws_emulator.ensure_bucket(info["aws_endpoint"], cfg.bucket)
    aws_emulator.ensure_products_table(info["dynamodb_endpoint"], cfg.products_table)
    if cfg.executor == "celery":
        info["secrets"] = _seed_secrets(info)
    state_path = cfg.home / STATE_FILE
    state_path.touch(mode=0o600, exist_ok=True)
    state_path.write_text(json.dumps(info, indent=2) + "\n")
    write_env_file(cfg.home / ENV_FILE, airflow_environment(info))
    return info


def _seed_secrets(info: dict[str, Any]) -> list[str]:
    """Store the stack's connections and variables in the emulator's Secrets Manager."""
    from shopflow_local.devstack import secrets_backend

    return sorted(secrets_backend.seed(info["aws_endpoint"], airflow_environment(info)))


def record_component(home: Path, name: str, port: int, *, url_key: str, url: str) -> None:
    """Add a component started after `up` (e.g. the Airflow UI) to the stack state."""
    info = read_state(home)
    if info is None:
        raise ShopflowError("the local stack is not up; run `shopflow devstack up` first")
    info["ports"][name] = port
    info[url_key] = url
    (home / STATE_FILE).write_text(json.dumps(info, indent=2) + "\n")


def worker_processes(run_dir: Path) -> list[str]:
    """Process names of the Celery workers that have a pid file in run_dir."""
    return sorted(path.stem for path in run_dir.glob(f"{WORKER_PREFIX}*.pid"))


def down(home: Path) -> list[str]:
    """Stop every stand-in of the stack in home; returns the names that were running.

    The scheduler first (it ends its running tasks), then the DAG processor, the
    triggerer, the Celery workers with their task processes, the API server, the
    stand-ins and last the stack's own Redis.
    """
    run_dir = home / "run"
    stopped = [name for name in AIRFLOW_DAEMONS if stop_background(name, run_dir=run_dir)]
    stopped += [
        name
        for name in worker_processes(run_dir)
        if stop_background(name, run_dir=run_dir, timeout=20.0, descendants=True)
    ]
    rest = (AIRFLOW_UI, *COMPONENTS)
    stopped += [name for name in rest if stop_background(name, run_dir=run_dir)]
    stopped += aws_emulator.stop_all(run_dir)
    if redis_broker.stop(run_dir):
        stopped.append(redis_broker.NAME)
    return sorted(set(stopped))


def read_state(home: Path) -> dict[str, Any] | None:
    """What the last `up` wrote, or None."""
    try:
        return dict(json.loads((home / STATE_FILE).read_text()))
    except (OSError, ValueError):
        return None


def any_running(home: Path) -> bool:
    """True when a stand-in of home still has a live process."""
    return any(read_pid(home / "run" / f"{name}.pid") for name in COMPONENTS)


def airflow_running(home: Path) -> bool:
    """True when a process of the local Airflow of home (workers included) is alive."""
    run_dir = home / "run"
    names = (AIRFLOW_UI, *AIRFLOW_DAEMONS, *worker_processes(run_dir))
    return any(read_pid(run_dir / f"{name}.pid") for name in names)


def status(home: Path) -> dict[str, Any]:
    """The stack description plus each component's health; ``up`` is False when any is down."""
    info = read_state(home)
    if info is None:
        return {"up": False, "home": str(home), "reason": "no stack was started here"}
    health = {}
    for name, port in info["ports"].items():
        pid = read_pid(home / "run" / f"{name}.pid")
        health[name] = {"pid": pid, "port": port, "healthy": pid is not None and port_open(port)}
    if AIRFLOW_UI in info["ports"]:
        for name in AIRFLOW_DAEMONS:
            pid = read_pid(home / "run" / f"{name}.pid")
            health[name] = {"pid": pid, "port": None, "healthy": pid is not None}
        for worker in info.get("workers", []):
            pid = read_pid(home / "run" / f"{worker['process']}.pid")
            worker.update(pid=pid, healthy=pid is not None)
            health[worker["process"]] = {"pid": pid, "port": None, "healthy": pid is not None}
    broker = info.get("broker_url")
    if broker and redis_broker.NAME not in info["ports"]:  # the machine's Redis
        port = urlsplit(broker).port
        health["broker"] = {"pid": None, "port": port, "healthy": bool(port and port_open(port))}
    info["components"] = health
    info["up"] = all(c["healthy"] for c in health.values()) and databases.reachable(info)
    return info


def require_up(home: Path) -> dict[str, Any]:
    """The stack description, or a clear error when the stack is not up."""
    info = status(home)
    if not info["up"]:
        down_parts = [n for n, c in info.get("components", {}).items() if not c["healthy"]]
        detail = f" ({', '.join(down_parts)} not running)" if down_parts else ""
        raise ShopflowError(f"the local stack is not up{detail}; run `shopflow devstack up` first")
    return info
