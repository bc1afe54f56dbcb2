"""A services stack on the CeleryExecutor for an e2e module, and what its tests read back.

``celery_stack`` brings up the stand-ins of a services stack in a throwaway
SHOPFLOW_HOME (free ports, or the ``SHOPFLOW_*_PORT`` of the environment), on
fresh MariaDB and Postgres databases (``SHOPFLOW_TEST_DB_PREFIX``, default
``shopflow_test_``, then a random suffix) and its own Redis database number
(``SHOPFLOW_TEST_REDIS_DB``, default 12, emptied before and after), generates
the given days, runs the reference (a callback, before any Airflow process
starts), then starts the Celery stack's Airflow. At the end everything stops and
the databases are dropped.

``import celery_stack`` works from any test: ``tests/`` is on ``sys.path``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pymysql
import pytest
import redis

import warehouse_snapshot
from shopflow.warehouse.factory import warehouse_from_url
from shopflow.warehouse.sql import fixed_sql
from shopflow_local.airflow_runtime.processes import process_names, start_airflow
from shopflow_local.devstack import stack
from shopflow_local.devstack.config import Ports, StackConfig
from shopflow_local.devstack.process import free_port, port_open, read_pid
from shopflow_local.devstack.seeding import generate_days

MYSQL_PORT = int(os.environ.get("SHOPFLOW_MYSQL_PORT", "3306"))
POSTGRES_PORT = int(os.environ.get("SHOPFLOW_POSTGRES_PORT", "5432"))
REDIS_PORT = int(os.environ.get("SHOPFLOW_REDIS_PORT", "6379"))
REDIS_DB = int(os.environ.get("SHOPFLOW_TEST_REDIS_DB", "12"))
DB_PREFIX = os.environ.get("SHOPFLOW_TEST_DB_PREFIX", "shopflow_test_")
PORT_ENV = {
    "api": "SHOPFLOW_API_PORT", "s3": "SHOPFLOW_S3_PORT", "dynamodb": "SHOPFLOW_DYNAMODB_PORT",
    "smtp": "SHOPFLOW_SMTP_PORT", "airflow": "SHOPFLOW_AIRFLOW_PORT",
    "own_redis": "SHOPFLOW_OWN_REDIS_PORT",
}  # fmt: skip


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(message: str) -> None:
    if _in_ci():
        pytest.fail(f"{message}; CI requires it")
    pytest.skip(f"{message}; start it to run this test")


def require_services() -> None:
    """Skip (fail in CI) without MariaDB, Postgres, and Redis or a redis-server to start."""
    for name, port in (("MariaDB/MySQL", MYSQL_PORT), ("PostgreSQL", POSTGRES_PORT)):
        if not port_open(port):
            _missing(f"{name} is not running on 127.0.0.1:{port}")
    if not port_open(REDIS_PORT) and shutil.which("redis-server") is None:
        _missing(f"Redis is not running on 127.0.0.1:{REDIS_PORT} and redis-server is not on PATH")


def _ports() -> Ports:
    """The stand-ins' ports: each from its SHOPFLOW_*_PORT when set, else a free one."""
    return Ports(
        **{name: int(os.environ.get(env) or free_port()) for name, env in PORT_ENV.items()}
    )


def _flush_redis(cfg: StackConfig) -> None:
    if port_open(cfg.ports.redis):
        client = redis.Redis(host="127.0.0.1", port=cfg.ports.redis, db=cfg.redis_db)
        try:
            client.flushdb()
        finally:
            client.close()


def _drop_databases(cfg: StackConfig, postgres: list[str]) -> None:
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{cfg.ports.postgres}/postgres", autocommit=True
    ) as conn:
        for name in postgres:
            conn.execute(f'drop database if exists "{name}" with (force)')
    mysql = pymysql.connect(host="127.0.0.1", port=cfg.ports.mysql, user="root", password="")
    try:
        with mysql.cursor() as cur:
            cur.execute(f"drop database if exists `{cfg.mysql_database}`")
    finally:
        mysql.close()


def create_postgres_database(name: str) -> str:
    """A new database on the local Postgres; its URL."""
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{POSTGRES_PORT}/postgres", autocommit=True
    ) as conn:
        conn.execute(f'create database "{name}"')
    return f"postgresql://postgres@127.0.0.1:{POSTGRES_PORT}/{name}"


@dataclass
class CeleryStack:
    """The running stack: its config, its description, and the names of its databases."""

    cfg: StackConfig
    info: dict[str, Any]
    prefix: str
    reference: dict[str, Any] = field(default_factory=dict)
    """What the reference callback returned (e.g. checksums of a LocalExecutor-free run)."""

    @property
    def home(self) -> Path:
        return self.cfg.home

    def status(self) -> dict[str, Any]:
        return stack.status(self.home)

    def restart(self) -> dict[str, Any]:
        """What ``shopflow devstack up --stack services --executor celery`` does again."""
        info = stack.up(self.cfg)
        start_airflow(info, self.cfg.ports.airflow)
        return self.status()


@contextmanager
def celery_stack(
    factory: pytest.TempPathFactory,
    first_day: date,
    days: int,
    *,
    scale: float = 0.01,
    seed: int = 42,
    reference: Callable[[CeleryStack], dict[str, Any]] | None = None,
) -> Iterator[CeleryStack]:
    """A Celery services stack holding the days; reference runs before Airflow starts."""
    require_services()
    prefix = f"{DB_PREFIX}celery_{secrets.token_hex(4)}_"
    made = [f"{prefix}warehouse", f"{prefix}airflow"]
    with pytest.MonkeyPatch.context() as patch:
        home = factory.mktemp("shopflow-celery-home")
        patch.setenv("SHOPFLOW_HOME", str(home))
        cfg = StackConfig(
            home=home, stack="services", ports=_ports(), executor="celery",
            mysql_database=f"{prefix}shop", postgres_database=made[0],
            airflow_database=made[1], redis_db=REDIS_DB,
        )  # fmt: skip
        try:
            _flush_redis(cfg)
            info = stack.up(cfg)
            generate_days(info, first_day, days, scale=scale, seed=seed, progress=False)
            celery = CeleryStack(cfg, info, prefix)
            if reference is not None:
                celery.reference = reference(celery)
            start_airflow(info, cfg.ports.airflow)
            celery.info = stack.require_up(home)
            yield celery
        finally:
            stack.down(home)
            _flush_redis(cfg)
            _drop_databases(cfg, [*made, f"{prefix}reference"])


# -- what the tests read back --------------------------------------------------------------


def snapshot(url: str) -> dict[str, Any]:
    """The warehouse at url as two equal runs must leave it (tests/warehouse_snapshot.py)."""
    return warehouse_snapshot.snapshot(warehouse_from_url(url))


def airflow_processes(home: Path, info: dict[str, Any]) -> dict[str, list[int]]:
    """Every live process of the stack's Airflow: recorded name -> its pid and those below it."""
    found: dict[str, list[int]] = {}
    for name in process_names(info):
        pid = read_pid(home / "run" / f"{name}.pid")
        if pid is not None:
            found[name] = [pid]
            with suppress(psutil.Error):
                found[name] += [p.pid for p in psutil.Process(pid).children(recursive=True)]
    return found


def environ_of(pid: int) -> dict[str, str]:
    """The environment a process started with (``/proc/<pid>/environ``).

    Empty for a process that changed its title (setproctitle: the API server, the
    Celery worker and its pool processes, task processes): that overwrites the
    memory ``/proc/<pid>/environ`` shows. A process forked before keeps it.
    """
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def kill_worker(home: Path, worker: dict[str, Any]) -> list[psutil.Process]:
    """SIGKILL a worker as if its machine died: its process group and the task processes
    below it, which the Task SDK puts in process groups of their own. Returns them."""
    pid = read_pid(home / "run" / f"{worker['process']}.pid")
    assert pid is not None, f"{worker['name']} is not running"
    top = psutil.Process(pid)
    processes = [top, *top.children(recursive=True)]
    os.killpg(pid, signal.SIGKILL)
    for proc in processes[1:]:
        with suppress(psutil.Error):
            proc.kill()
    return processes


def gone(processes: list[psutil.Process], timeout: float = 10.0) -> bool:
    """True once none of processes runs (a zombie counts as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for proc in processes:
            with suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
        if not alive:
            return True
        time.sleep(0.2)
    return False


@contextmanager
def load_lock_held(warehouse_url: str) -> Iterator[Callable[[], None]]:
    """Hold the warehouse's load lock, the load's own statement in an open transaction (a
    load then waits at its first step, while it runs); yields the release."""
    conn = psycopg.connect(warehouse_url)
    conn.execute(fixed_sql("postgres_load_lock"))  # psycopg opened a transaction
    try:
        yield conn.rollback
    finally:
        conn.rollback()
        conn.close()
