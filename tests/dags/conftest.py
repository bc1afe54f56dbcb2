"""Fixtures of the DAG tests: the local Airflow configuration of a throwaway home."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shopflow_local.airflow_runtime.home import airflow_env


@pytest.fixture(scope="module")
def local_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """airflow_env() of a throwaway SHOPFLOW_HOME (in effect unless Airflow is imported already)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_HOME", str(tmp_path_factory.mktemp("shopflow-home")))
        env = airflow_env()
        for name, value in env.items():
            patch.setenv(name, value)
        yield env
