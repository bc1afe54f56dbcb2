"""An embedded stack with the local Airflow (API server, scheduler, DAG processor, triggerer).

Each e2e module that needs the real scheduler takes one for the whole module
(``local_airflow``): free ports, its own SHOPFLOW_HOME, the given days
generated at SF 0.01, everything stopped at the end of the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from local_stack import embedded_stack
from shopflow_local.airflow_runtime.processes import start_airflow
from shopflow_local.devstack import stack


@contextmanager
def local_airflow(
    factory: pytest.TempPathFactory, first_day: date, days: int
) -> Iterator[dict[str, Any]]:
    """The stack description (``airflow_url`` set) of a fresh stack holding the days."""
    with embedded_stack(factory, first_day, days) as info:
        start_airflow(info, info["airflow_port"])
        yield stack.require_up(Path(info["home"]))
