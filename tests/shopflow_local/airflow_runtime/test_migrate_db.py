"""``airflow db migrate`` once per metadata DB and Airflow version (the command itself faked)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shopflow_local.airflow_runtime import home

pytestmark = pytest.mark.unit


class FakeMigrate:
    """Stands in for ``subprocess.run(airflow db migrate)``: writes a revision into SQLite."""

    def __init__(self, revision: str = "abc123") -> None:
        self.revision = revision
        self.urls: list[str] = []

    def __call__(self, argv: list[str], *, env: dict[str, str], **kwargs: Any) -> Any:
        assert argv[-2:] == ["db", "migrate"]
        url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        self.urls.append(url)
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            db.execute("create table if not exists alembic_version (version_num text)")
            db.execute("delete from alembic_version")
            db.execute("insert into alembic_version values (?)", (self.revision,))
        return subprocess.CompletedProcess(argv, 0)


def _env(airflow_home: Path, db: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
    }


def test_each_database_is_migrated_once_and_again_when_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeMigrate()
    monkeypatch.setattr(home.subprocess, "run", fake)
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    assert home.migrate_db(_env(tmp_path, first))
    assert not home.migrate_db(_env(tmp_path, first))
    assert home.migrate_db(_env(tmp_path, second))  # another DB URL: its own marker
    assert not home.migrate_db(_env(tmp_path, first))
    first.unlink()  # dropped: migrated again
    assert home.migrate_db(_env(tmp_path, first))
    fake.revision = "def456"
    with sqlite3.connect(second) as db:  # someone downgraded it: the marker no longer matches
        db.execute("update alembic_version set version_num = 'old'")
    assert home.migrate_db(_env(tmp_path, second))
    assert fake.urls == [f"sqlite:///{p}" for p in (first, second, first, second)]
    assert len(list(tmp_path.glob(".migrated-*"))) == 2


def test_the_revision_is_read_without_airflow(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert home.migrated_revision(f"sqlite:///{db}") is None
    assert not db.exists()  # looking does not create it
    with sqlite3.connect(db) as conn:
        conn.execute("create table other (x int)")
    assert home.migrated_revision(f"sqlite:///{db}") is None
    with pytest.raises(home.ShopflowError, match="unsupported"):
        home.migrated_revision("mysql://root@localhost/airflow")
