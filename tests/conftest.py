"""Shared fixtures and the tier rule (tests/README.md).

Tiers: ``unit`` uses no socket and no subprocess (files in temp directories and
in-process DuckDB are fine); ``integration`` talks to real servers, emulators or
subprocesses; ``e2e`` is a real Airflow run. Every test carries exactly one tier
marker (checked at collection), and a unit test that opens a socket or starts a
process fails, naming the rule.

A test that needs MySQL/MariaDB or Postgres skips with the reason when the
server is absent, except in CI (``CI=true``), where a missing service fails.
"""

from __future__ import annotations

import importlib
import os
import secrets
import socket
import subprocess
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest

from shopflow_local.devstack.process import port_open

MYSQL_PORT = int(os.environ.get("SHOPFLOW_MYSQL_PORT", "3306"))
POSTGRES_PORT = int(os.environ.get("SHOPFLOW_POSTGRES_PORT", "5432"))

TIERS = ("unit", "integration", "e2e")
LONGEST_FIRST = (
    "tests/shopflow/quality/test_clean_days.py",
    "tests/e2e/test_scheduler.py",
    "tests/e2e/test_celery.py",
    "tests/e2e/test_lineage.py",
    "tests/e2e/test_operations.py",
)
"""The longest modules (minutes each), collected first: ``make test`` runs the modules on
two workers (pytest-xdist, ``--dist loadfile``), and starting the long ones first keeps
one of them from finishing alone at the end."""
UNIT_RULE = (
    "the unit tier uses no socket and no subprocess (tests/README.md): "
    "mark this test integration, or keep it pure"
)
SOCKET_METHODS = ("connect", "connect_ex", "bind")
IMPORT_TIME_PROBES = ("croniter", "urllib3")
"""Libraries that probe the machine once per process, when first imported: croniter
(Airflow's cron timetables) runs ``file -b <python>`` (``platform.architecture()``),
urllib3 binds a socket to ``::1`` to learn whether IPv6 works. Imported here, before
any test, so those probes are not charged to whichever unit test imports them first
and the guard does not depend on the order tests run in."""
for _module in IMPORT_TIME_PROBES:
    importlib.import_module(_module)


def in_ci() -> bool:
    """True when ``CI`` is set to a true value: a missing service fails instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_port(name: str, port: int) -> None:
    """Skip (or fail in CI) when nothing listens on 127.0.0.1:port."""
    if port_open(port):
        return
    message = f"{name} is not running on 127.0.0.1:{port}"
    if in_ci():
        pytest.fail(f"{message}; CI requires it")
    pytest.skip(f"{message}; start it to run this test")


# -- the tier rule -----------------------------------------------------------------------------


class UnitTierViolation(RuntimeError):
    """A unit test (or a fixture it uses) opened a socket or started a process."""


CALL_FAILED = pytest.StashKey[bool]()


def tiers_of(item: pytest.Item) -> set[str]:
    """The tier markers on a test (from the function, its class, module or parameters)."""
    return {mark.name for mark in item.iter_markers() if mark.name in TIERS}


@pytest.hookimpl(tryfirst=True)  # before -m deselects: every collected test is checked
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail the collection when a test carries no tier marker, or more than one."""
    wrong = [
        f"  {item.nodeid}: {', '.join(sorted(found)) or 'none'}"
        for item in items
        if len(found := tiers_of(item)) != 1
    ]
    if wrong:
        raise pytest.UsageError(
            f"every test needs exactly one tier marker of {', '.join(TIERS)} "
            f"(tests/README.md); {len(wrong)} test(s) have none or several:\n" + "\n".join(wrong)
        )
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in LONGEST_FIRST)  # stable


@contextmanager
def no_sockets_or_subprocesses(where: str) -> Iterator[list[str]]:
    """Make socket connect/connect_ex/bind, ``subprocess.Popen`` and ``os.system`` raise.

    Yields the list of refused calls, so a caller can fail even when the code under
    test caught the error.
    """
    refused: list[str] = []

    def refusal(what: str) -> UnitTierViolation:
        refused.append(what)
        return UnitTierViolation(f"{where} called {what}: {UNIT_RULE}")

    def refuse(what: str) -> Callable[..., NoReturn]:
        def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
            raise refusal(what)

        return _refuse

    class RefusedPopen(subprocess.Popen):  # a class still, for isinstance and subclassing
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise refusal("subprocess.Popen")

    with pytest.MonkeyPatch.context() as patch:
        for method in SOCKET_METHODS:
            patch.setattr(socket.socket, method, refuse(f"socket.socket.{method}"))
        patch.setattr(subprocess, "Popen", RefusedPopen)
        patch.setattr(os, "system", refuse("os.system"))
        yield refused


def _fail_if_refused(where: str, refused: list[str]) -> None:
    if refused:
        pytest.fail(f"{where} called {', '.join(sorted(set(refused)))}: {UNIT_RULE}")


@pytest.fixture(autouse=True)
def unit_tier_is_pure(request: pytest.FixtureRequest) -> Iterator[None]:
    """For tests marked unit: no socket, no subprocess, during the test and its fixtures.

    Function-scoped fixtures are covered here (this autouse fixture is set up
    first); wider ones by :func:`pytest_fixture_setup` below.
    """
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    where = f"unit test {request.node.nodeid}"
    with no_sockets_or_subprocesses(where) as refused:
        yield
    if not request.node.stash.get(CALL_FAILED, False):  # else the error was reported already
        _fail_if_refused(where, refused)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any]:
    """Remember whether the test itself failed (read by :func:`unit_tier_is_pure`)."""
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Generator[None]:
    """Module- and class-scoped fixtures of unit-marked modules and classes are pure too."""
    node = request.node
    if fixturedef.scope == "function" or node.get_closest_marker("unit") is None:
        return (yield)
    where = f"fixture {fixturedef.argname} of unit {node.nodeid}"
    with no_sockets_or_subprocesses(where) as refused:
        result = yield
    _fail_if_refused(where, refused)
    return result


# -- the services ------------------------------------------------------------------------------


@pytest.fixture
def mysql_port() -> int:
    """The MariaDB/MySQL port, after checking it answers."""
    require_port("MariaDB/MySQL", MYSQL_PORT)
    return MYSQL_PORT


@pytest.fixture
def postgres_port() -> int:
    """The Postgres port, after checking it answers."""
    require_port("PostgreSQL", POSTGRES_PORT)
    return POSTGRES_PORT


@pytest.fixture
def shopflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh SHOPFLOW_HOME for one test."""
    home = tmp_path / "shopflow-home"
    home.mkdir()
    monkeypatch.setenv("SHOPFLOW_HOME", str(home))
    yield home


@pytest.fixture
def databases(postgres_port: int) -> Iterator[Callable[[], str]]:
    """Make throwaway Postgres databases on demand (their URLs); drop them all afterwards."""
    admin = f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres"
    made: list[str] = []

    def new() -> str:
        name = f"shopflow_test_{secrets.token_hex(6)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        made.append(name)
        return f"postgresql://postgres@127.0.0.1:{postgres_port}/{name}"

    yield new
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in made:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def declared_quality_tasks() -> set[str]:
    """The task ids build_quality_checks must give the declarations of shopflow.quality.checks.

    ``<table>_column_checks`` / ``<table>_table_checks`` per table with such checks, and
    one task per run check, named after it (derived here, not by the code under test).
    """
    from shopflow.quality.checks import RUN_CHECKS, TABLE_CHECKS

    return (
        {f"{t.table}_column_checks" for t in TABLE_CHECKS if t.columns}
        | {f"{t.table}_table_checks" for t in TABLE_CHECKS if t.statements}
        | {check.name for check in RUN_CHECKS}
    )
