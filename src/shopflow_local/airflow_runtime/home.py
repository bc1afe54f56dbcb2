"""A local Airflow for shopflow: its home, its environment and its metadata database.

Everything is configured through ``AIRFLOW__*`` environment variables (Airflow
reads its config when ``airflow`` is first imported, so they must be set before
that: in the environment of a child process). ``AIRFLOW_HOME`` is
``$SHOPFLOW_HOME/airflow``, the metadata DB is SQLite in it (the Celery stack
overrides it with its Postgres database), the dags folder is the repository's
``dags/`` (override: ``$SHOPFLOW_DAGS_FOLDER``). Connections and variables
travel as ``AIRFLOW_CONN_<ID>`` (JSON) and ``AIRFLOW_VAR_<KEY>``: the Task SDK
looks in a backend configured under ``[secrets]`` first (none here; the Celery
stack's Secrets Manager), then in the environment, then in the metadata DB
(through the API server). This module does not import Airflow.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from shopflow.errors import ShopflowError
from shopflow.lineage.settings import local_openlineage_env
from shopflow_local.home import shopflow_home

DAGS_FOLDER_ENV = "SHOPFLOW_DAGS_FOLDER"
# Masked in task logs on top of Airflow's defaults (password, secret, token, ...).
SENSITIVE_NAMES = ("hash_key",)
SECRET_ENV_PREFIXES = ("AIRFLOW_CONN_", "AIRFLOW_VAR_")
"""Names of the environment variables that carry connections and variables."""
_SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CONN")
_REVISION = "select version_num from alembic_version"


def airflow_home() -> Path:
    """``$SHOPFLOW_HOME/airflow``, created on first use."""
    home = shopflow_home() / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    return home


def dags_folder() -> Path:
    """The repository's ``dags/`` beside ``src/``, or ``$SHOPFLOW_DAGS_FOLDER``."""
    override = os.environ.get(DAGS_FOLDER_ENV)
    folder = Path(override) if override else Path(__file__).resolve().parents[3] / "dags"
    if not folder.is_dir():
        raise ShopflowError(f"no dags folder at {folder}; set {DAGS_FOLDER_ENV} to the dags/ dir")
    return folder.resolve()


def metadata_db(home: Path | None = None) -> Path:
    """The SQLite file of the metadata database."""
    return (home or airflow_home()) / "airflow.db"


def conn_env_name(conn_id: str) -> str:
    """``AIRFLOW_CONN_<ID>`` for a connection id."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def var_env_name(key: str) -> str:
    """``AIRFLOW_VAR_<KEY>`` for a variable key."""
    return f"AIRFLOW_VAR_{key.upper()}"


def airflow_env(
    extra_env: Mapping[str, str] | None = None,
    *,
    connections: Mapping[str, Mapping[str, Any] | str] | None = None,
    variables: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment variables for a local Airflow run (merge them over ``os.environ``).

    connections: id -> Airflow connection JSON (a dict) or a URI/JSON string;
    variables: key -> value; extra_env is applied last (it may carry ready-made
    ``AIRFLOW_CONN_*``/``AIRFLOW_VAR_*`` values, e.g. from the stack manager).
    """
    home = airflow_home()
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{metadata_db(home)}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "True",
        "AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES": ",".join(SENSITIVE_NAMES),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        **local_openlineage_env(home),  # lineage events as files under the home
    }
    for conn_id, conn in (connections or {}).items():
        env[conn_env_name(conn_id)] = conn if isinstance(conn, str) else json.dumps(dict(conn))
    for key, value in (variables or {}).items():
        env[var_env_name(key)] = value
    env.update(extra_env or {})
    return env


def redacted(env: Mapping[str, str]) -> dict[str, str]:
    """env with connection, variable and secret-looking values replaced, for display."""

    def hidden(name: str) -> bool:
        upper = name.upper()
        return upper.startswith(SECRET_ENV_PREFIXES) or any(w in upper for w in _SECRET_WORDS)

    return {name: "***" if hidden(name) else value for name, value in env.items()}


def airflow_version() -> str:
    """The installed apache-airflow version, without importing Airflow."""
    return version("apache-airflow")


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrated_revision(url: str) -> str | None:
    """The Alembic revision in the metadata DB at url (SQLite or Postgres); None if none yet."""
    if url.startswith("sqlite:///"):
        return _sqlite_revision(Path(url.removeprefix("sqlite:///")))
    if url.startswith("postgresql"):
        return _postgres_revision("postgresql://" + url.split("://", 1)[1])  # no +driver
    raise ShopflowError(f"unsupported Airflow metadata database {url.split(':', 1)[0]}")


def _sqlite_revision(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            row = db.execute(_REVISION).fetchone()
    except sqlite3.Error:  # no alembic_version table yet
        return None
    return str(row[0]) if row else None


def _postgres_revision(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(_REVISION).fetchone()
    except psycopg.Error:  # no table yet, or no server (the migration then says so)
        return None
    return str(row[0]) if row else None


def _marker(home: Path, url: str) -> Path:
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return home / f".migrated-{airflow_version()}-{digest}"


def migrate_db(env: Mapping[str, str]) -> bool:
    """Run ``airflow db migrate`` once per Airflow version and metadata DB; True if it ran.

    env is the output of airflow_env() (plus, for the Celery stack, its Postgres
    URL in ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``). A marker file in the home,
    named after the Airflow version and the DB URL, holds the Alembic revision
    the migration left; the next call skips while the DB still holds that
    revision. So a dropped or recreated database, or another Airflow version,
    migrates again.
    """
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    marker = _marker(home, url)
    with _locked(home / ".migrate.lock"):
        revision = migrated_revision(url)
        if revision is not None and marker.exists() and marker.read_text().strip() == revision:
            return False
        log_path = home / "logs" / "db-migrate.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as log:
            result = subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            raise ShopflowError(
                f"airflow db migrate failed (exit {result.returncode}); see {log_path}"
            )
        for stale in home.glob(f".migrated-*-{marker.name.rsplit('-', 1)[1]}"):
            stale.unlink()
        marker.write_text(f"{migrated_revision(url) or ''}\n")
        return True
