"""The stack's own redis-server when the machine has no Redis: started, answering, stopped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shopflow_local.devstack import redis_broker
from shopflow_local.devstack.config import Ports, StackConfig
from shopflow_local.devstack.process import free_port, port_open

pytestmark = pytest.mark.integration


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_without_redis_the_stack_runs_its_own_and_down_stops_it(tmp_path: Path) -> None:
    absent, own = free_port(), free_port()
    cfg = StackConfig(
        home=tmp_path, stack="services", executor="celery",
        ports=Ports(redis=absent, own_redis=own), redis_db=3,
    )  # fmt: skip
    try:
        assert redis_broker.ensure_broker(cfg) == (f"redis://127.0.0.1:{own}/3", own)
        assert redis_broker.ping(own)
        assert redis_broker.ensure_broker(cfg) == (f"redis://127.0.0.1:{own}/3", own)  # reused
        assert not list(tmp_path.rglob("*.rdb")) and not list(tmp_path.rglob("*.aof"))
    finally:
        assert redis_broker.stop(cfg.run_dir)
    assert not port_open(own)
