"""Missing production settings fail with a message naming the setting, never a local fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopflow.errors import ShopflowError
from shopflow.names import CONN_SALES, VAR_STAGING_URI, VAR_TRANSFORM_MEMORY
from shopflow.tasks import connections
from shopflow.tasks.transform import memory_limit
from shopflow_local.in_process import airflow_environment_for

pytestmark = pytest.mark.unit

STAGING_ENV = f"AIRFLOW_VAR_{VAR_STAGING_URI.upper()}"


def test_an_unset_staging_variable_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STAGING_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with (
        airflow_environment_for({"SHOPFLOW_HOME": str(tmp_path / "home")}),
        pytest.raises(ShopflowError, match=f"{VAR_STAGING_URI} is not set") as caught,
    ):
        connections.resolve_staging()
    assert "devstack" not in str(caught.value)
    assert not (tmp_path / ".shopflow").exists() and not (tmp_path / "staging").exists()


def test_the_staging_variable_decides_where_staging_is(tmp_path: Path) -> None:
    root = tmp_path / "stage"
    env = {"SHOPFLOW_HOME": str(tmp_path / "home"), STAGING_ENV: str(root)}
    with airflow_environment_for(env):
        assert connections.resolve_staging().uri == str(root)


def test_a_missing_connection_names_it_and_not_the_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(f"AIRFLOW_CONN_{CONN_SALES.upper()}", raising=False)
    with (
        airflow_environment_for({"SHOPFLOW_HOME": str(tmp_path / "home")}),
        pytest.raises(ShopflowError, match=f"connection '{CONN_SALES}' is not defined") as caught,
    ):
        connections.resolve_sales_url()
    assert "devstack" not in str(caught.value) and "docs/operations.md" in str(caught.value)


MEMORY_ENV = f"AIRFLOW_VAR_{VAR_TRANSFORM_MEMORY.upper()}"


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("800MB", "800MB"), ("2 GiB", "2 GiB")]
)
def test_the_transform_memory_variable_is_a_size_or_unset(
    tmp_path: Path, value: str, expected: str | None
) -> None:
    with airflow_environment_for({"SHOPFLOW_HOME": str(tmp_path), MEMORY_ENV: value}):
        assert memory_limit() == expected


def test_a_transform_memory_variable_that_is_no_size_names_it(tmp_path: Path) -> None:
    with (
        airflow_environment_for({"SHOPFLOW_HOME": str(tmp_path), MEMORY_ENV: "1.5GB'; drop"}),
        pytest.raises(ShopflowError, match=VAR_TRANSFORM_MEMORY),
    ):
        memory_limit()
