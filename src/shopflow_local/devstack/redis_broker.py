"""The Celery stack's broker: the machine's Redis, or a ``redis-server`` the stack starts itself.

The machine's server (127.0.0.1:6379, ``--redis-port``) is used when it answers.
Otherwise, when ``redis-server`` is on PATH, the stack runs its own on
``--own-redis-port`` as the component ``redis`` (pid file and log under
``$SHOPFLOW_HOME/run``), in memory only. The broker lives in its own database
number (``SHOPFLOW_REDIS_DB``) of whichever server it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from shopflow.errors import ShopflowError
from shopflow_local.devstack.config import StackConfig
from shopflow_local.devstack.process import (
    port_open,
    read_pid,
    start_background,
    stop_background,
    wait_for_port,
)

NAME = "redis"
"""The stack's own redis-server: its process name (pid file, log) and its port's name."""
HOST = "127.0.0.1"


def broker_url(port: int, db: int) -> str:
    """The Celery broker URL of database db on the Redis at 127.0.0.1:port."""
    return f"redis://{HOST}:{port}/{db}"


def server_argv(port: int) -> list[str]:
    """``redis-server`` on port, bound to 127.0.0.1, nothing written to disk."""
    return ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]


def ping(port: int, timeout: float = 2.0) -> bool:
    """True when a Redis server answers PING on 127.0.0.1:port."""
    import redis

    client = redis.Redis(
        host=HOST, port=port, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def own_server_running(run_dir: Path, port: int) -> bool:
    """True when the stack's own redis-server runs and listens."""
    return read_pid(run_dir / f"{NAME}.pid") is not None and port_open(port)


def ensure_broker(cfg: StackConfig) -> tuple[str, int | None]:
    """The broker URL, and the own server's port when the stack runs one (None: the machine's)."""
    own = cfg.ports.own_redis
    if own_server_running(cfg.run_dir, own):
        return broker_url(own, cfg.redis_db), own
    if port_open(cfg.ports.redis, HOST):
        if not ping(cfg.ports.redis):
            raise ShopflowError(
                f"127.0.0.1:{cfg.ports.redis} does not answer as Redis; point --redis-port at "
                "a Redis server for the Celery broker"
            )
        return broker_url(cfg.ports.redis, cfg.redis_db), None
    if shutil.which("redis-server") is None:
        raise ShopflowError(
            f"the Celery stack needs Redis: nothing answers on 127.0.0.1:{cfg.ports.redis} "
            "and redis-server is not on PATH; start Redis, point --redis-port at one, "
            "or install redis-server"
        )
    if port_open(own, HOST):
        raise ShopflowError(
            f"port {own} for the stack's own Redis is in use by another program; "
            "choose another with --own-redis-port"
        )
    start_background(NAME, server_argv(own), run_dir=cfg.run_dir)
    try:
        wait_for_port(own, timeout=30)
    except ShopflowError:
        stop_background(NAME, run_dir=cfg.run_dir)
        log = cfg.run_dir / f"{NAME}.log"
        raise ShopflowError(f"redis-server did not start on port {own}; see {log}") from None
    return broker_url(own, cfg.redis_db), own


def stop(run_dir: Path) -> bool:
    """Stop the stack's own redis-server; True if it ran."""
    return stop_background(NAME, run_dir=run_dir)
