"""An embedded local stack for a test module: free ports, a throwaway SHOPFLOW_HOME, then down.

``import local_stack`` works from any test: ``tests/`` is on ``sys.path`` (its conftest).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shopflow_local.devstack import stack
from shopflow_local.devstack.config import Ports, StackConfig
from shopflow_local.devstack.process import free_port
from shopflow_local.devstack.seeding import generate_days
from shopflow_local.home import shopflow_home


@contextmanager
def embedded_stack(
    factory: pytest.TempPathFactory,
    first_day: date | None = None,
    days: int = 0,
    *,
    scale: float = 0.01,
    seed: int = 42,
    home: Path | None = None,
) -> Iterator[dict[str, Any]]:
    """The description of a fresh embedded stack, holding the given days when any.

    Its SHOPFLOW_HOME is a new temporary directory, or home when given.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_HOME", str(home or factory.mktemp("shopflow-home")))
        home = shopflow_home()
        ports = Ports(
            api=free_port(), s3=free_port(), dynamodb=free_port(), smtp=free_port(),
            airflow=free_port(),
        )  # fmt: skip
        try:
            info = stack.up(StackConfig(home=home, stack="embedded", ports=ports))
            if first_day is not None and days:
                generate_days(info, first_day, days, scale=scale, seed=seed, progress=False)
            yield info
        finally:
            stack.down(home)
