"""An embedded stack with the local Airflow (API server, scheduler, DAG processor, triggerer).

Each e2e module that needs the real scheduler takes one for the whole module
(``local_airflow``): free ports, its own SHOPFLOW_HOME, the given days
generated at SF 0.01, everything stopped at the end of the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest

from shopflow_local.airflow_runtime.processes import start_airflow
from shopflow_local.devstack import stack
from shopflow_local.devstack.config import Ports, StackConfig
from shopflow_local.devstack.process import free_port
from shopflow_local.devstack.seeding import generate_days
from shopflow_local.home import shopflow_home


@contextmanager
def local_airflow(
    factory: pytest.TempPathFactory, first_day: date, days: int
) -> Iterator[dict[str, Any]]:
    """The stack description (``airflow_url`` set) of a fresh stack holding the days."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_HOME", str(factory.mktemp("shopflow-home")))
        home = shopflow_home()
        ports = Ports(
            api=free_port(), s3=free_port(), dynamodb=free_port(), smtp=free_port(),
            airflow=free_port(),
        )  # fmt: skip
        try:
            info = stack.up(StackConfig(home=home, stack="embedded", ports=ports))
            generate_days(info, first_day, days, scale=0.01, seed=42, progress=False)
            start_airflow(info, ports.airflow)
            yield stack.require_up(home)
        finally:
            stack.down(home)
