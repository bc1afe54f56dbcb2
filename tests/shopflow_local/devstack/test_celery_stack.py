"""The Celery stack's settings, broker choice, state and shutdown order (no process started)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shopflow.errors import ShopflowError
from shopflow.names import QUEUE_HEAVY
from shopflow_local.cli import _stack_config, build_parser
from shopflow_local.devstack import redis_broker, stack
from shopflow_local.devstack.config import Ports, StackConfig

pytestmark = pytest.mark.unit


def _celery(home: Path, **overrides: Any) -> StackConfig:
    return StackConfig(home=home, stack="services", executor="celery", **overrides)


# -- config ------------------------------------------------------------------------------------


def test_the_celery_stack_refuses_local_staging_and_a_duckdb_file(tmp_path: Path) -> None:
    with pytest.raises(ShopflowError, match="not shared between workers") as err:
        StackConfig(home=tmp_path, stack="embedded", executor="celery")
    assert "--stack services" in str(err.value)
    assert StackConfig(home=tmp_path, stack="embedded").executor == "local"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"executor": "kubernetes"}, "unknown executor 'kubernetes'"),
        ({"redis_db": 16}, "0..15"),
        ({"ports": Ports(api=18080, own_redis=18080)}, "distinct ports"),
    ],
)
def test_wrong_celery_settings_are_refused(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ShopflowError, match=message):
        StackConfig(home=tmp_path, stack="services", **{"executor": "celery", **overrides})


def test_the_metadata_db_is_its_own_postgres_database(tmp_path: Path) -> None:
    cfg = _celery(tmp_path, ports=Ports(postgres=5433), airflow_database="af")
    assert cfg.airflow_db_url == "postgresql+psycopg://postgres@127.0.0.1:5433/af"
    assert StackConfig(home=tmp_path, stack="services").airflow_db_url is None


def test_two_workers_with_their_own_names_hosts_logs_and_both_queues(tmp_path: Path) -> None:
    workers = _celery(tmp_path).celery_workers
    assert [w["name"] for w in workers] == ["worker-1", "worker-2"]
    assert [w["process"] for w in workers] == ["airflow-worker-1", "airflow-worker-2"]
    for key in ("hostname", "log_dir"):
        assert len({w[key] for w in workers}) == 2, key
    for worker in workers:
        assert worker["queues"] == ["default", QUEUE_HEAVY]
        assert worker["concurrency"] == 2
        assert worker["hostname"].startswith(f"{worker['name']}@")
        assert Path(worker["log_dir"]).is_relative_to(tmp_path)
    assert StackConfig(home=tmp_path, stack="services").celery_workers == []


def test_the_cli_passes_the_executor_and_the_redis_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    argv = ["devstack", "up", "--stack", "services", "--executor", "celery"]
    args = build_parser().parse_args([*argv, "--redis-port", "6380", "--own-redis-port", "6390"])
    cfg = _stack_config(args)
    assert (cfg.executor, cfg.ports.redis, cfg.ports.own_redis) == ("celery", 6380, 6390)
    assert build_parser().parse_args(["devstack", "up"]).executor == "local"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["devstack", "up", "--executor", "dask"])


# -- the broker --------------------------------------------------------------------------------


class _Broker:
    """Stand-ins for the probes and process calls of redis_broker."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, open_ports: set[int], which: bool):
        self.open_ports = open_ports
        self.started: list[list[str]] = []
        monkeypatch.setattr(redis_broker, "port_open", lambda port, host="": port in open_ports)
        monkeypatch.setattr(redis_broker, "ping", lambda port: True)
        monkeypatch.setattr(redis_broker, "read_pid", lambda path: None)
        monkeypatch.setattr(redis_broker.shutil, "which", lambda name: "/x" if which else None)
        monkeypatch.setattr(redis_broker, "start_background", self._start)
        monkeypatch.setattr(redis_broker, "wait_for_port", lambda port, timeout: None)

    def _start(self, name: str, argv: list[str], *, run_dir: Path) -> int:
        self.started.append(argv)
        return 1


def test_the_machine_s_redis_is_the_broker_when_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _Broker(monkeypatch, open_ports={6379}, which=True)
    url, own = redis_broker.ensure_broker(_celery(tmp_path, redis_db=7))
    assert (url, own) == ("redis://127.0.0.1:6379/7", None)
    assert fake.started == []


def test_without_redis_the_stack_starts_its_own_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _Broker(monkeypatch, open_ports=set(), which=True)
    cfg = _celery(tmp_path, ports=Ports(own_redis=19999), redis_db=3)
    assert redis_broker.ensure_broker(cfg) == ("redis://127.0.0.1:19999/3", 19999)
    (argv,) = fake.started
    assert argv[:3] == ["redis-server", "--port", "19999"]
    assert argv[argv.index("--save") + 1] == "" and argv[argv.index("--appendonly") + 1] == "no"


def test_without_redis_or_redis_server_the_error_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Broker(monkeypatch, open_ports=set(), which=False)
    with pytest.raises(ShopflowError, match=r"needs Redis.*redis-server is not on PATH"):
        redis_broker.ensure_broker(_celery(tmp_path))


# -- state, status, shutdown -------------------------------------------------------------------


def test_the_description_records_executor_metadata_db_and_workers(tmp_path: Path) -> None:
    info = stack.describe(_celery(tmp_path))
    assert info["executor"] == "celery"
    assert info["airflow_db_url"].endswith("/shopflow_airflow")
    assert [w["name"] for w in info["workers"]] == ["worker-1", "worker-2"]
    local = stack.describe(StackConfig(home=tmp_path))
    assert (local["executor"], local["airflow_db_url"], local["workers"]) == ("local", None, [])


def test_up_refuses_another_executor_while_airflow_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / stack.STATE_FILE).write_text('{"stack": "services", "executor": "local"}')
    monkeypatch.setattr(stack, "airflow_running", lambda home: True)
    with pytest.raises(ShopflowError, match=r"runs the local executor.*devstack down"):
        stack.up(_celery(tmp_path))


def test_status_lists_each_worker_and_the_machine_s_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = stack.describe(_celery(tmp_path))
    info["broker_url"] = "redis://127.0.0.1:6379/5"
    info["ports"]["airflow"] = 18090
    (tmp_path / stack.STATE_FILE).write_text(json.dumps(info))
    alive = {"airflow-worker-2": 42}
    monkeypatch.setattr(stack, "read_pid", lambda path: alive.get(path.stem))
    monkeypatch.setattr(stack, "port_open", lambda port: True)
    monkeypatch.setattr(stack.databases, "reachable", lambda info: True)
    status = stack.status(tmp_path)
    assert [(w["name"], w["pid"], w["healthy"]) for w in status["workers"]] == [
        ("worker-1", None, False),
        ("worker-2", 42, True),
    ]
    assert status["components"]["broker"] == {"pid": None, "port": 6379, "healthy": True}
    assert status["up"] is False  # worker-1 (and the rest) are not running


def test_down_stops_the_scheduler_first_and_the_workers_with_their_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("airflow-worker-1", "airflow-worker-2", "airflow-scheduler", "redis"):
        (run_dir / f"{name}.pid").write_text("1")
    calls: list[tuple[str, bool]] = []

    def stop(name: str, *, run_dir: Path, timeout: float = 10.0, descendants: bool = False) -> bool:
        calls.append((name, descendants))
        return (run_dir / f"{name}.pid").exists()

    monkeypatch.setattr(stack, "stop_background", stop)
    monkeypatch.setattr(redis_broker, "stop_background", stop)
    monkeypatch.setattr(stack.aws_emulator, "stop_all", lambda run_dir: [])
    stopped = stack.down(tmp_path)
    names = [name for name, _ in calls]
    assert names[0] == "airflow-scheduler"
    assert names.index("airflow-worker-2") < names.index("airflow") < names.index("api")
    assert names[-1] == "redis"
    assert {n for n, descendants in calls if descendants} == {
        "airflow-worker-1",
        "airflow-worker-2",
    }
    assert stopped == ["airflow-scheduler", "airflow-worker-1", "airflow-worker-2", "redis"]
