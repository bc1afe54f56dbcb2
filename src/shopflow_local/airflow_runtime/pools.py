"""The pipeline's pools in the local Airflow, created or updated through its REST API.

A task in a pool that does not exist is never queued: the Airflow 3.3 scheduler
logs "Tasks using non-existent pool '<name>' will not be scheduled" and leaves it
``scheduled`` (``jobs/scheduler_job_runner.py``,
``_executable_task_instances_to_queued``). So every local stack creates them once
its API server answers (``processes.start_airflow``); a run triggered before that
waits and goes on once they exist. ``dag.test()`` (``run --in-process``) needs
none: its loop runs each scheduled task itself, and the task-run checks leave the
pool out (``RUNNING_DEPS - REQUEUEABLE_DEPS`` in ``models/taskinstance.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import quote

from shopflow.pools import POOLS, PoolSpec
from shopflow_local.airflow_runtime.rest_client import AirflowClient


class _Api(Protocol):
    def request(
        self, method: str, path: str, *, json: Any = None, missing_ok: bool = False
    ) -> Any: ...


def _matches(current: dict[str, Any], pool: PoolSpec) -> bool:
    return all(current.get(key) == value for key, value in pool.fields().items())


def sync_pools(api: _Api, pools: Iterable[PoolSpec] = POOLS) -> dict[str, str]:
    """Create each missing pool, update one whose fields differ; name -> what was done.

    What was done: ``created``, ``updated`` or ``unchanged``. Running it again changes nothing.
    """
    done: dict[str, str] = {}
    for pool in pools:
        path = f"/pools/{quote(pool.name, safe='')}"
        current = api.request("GET", path, missing_ok=True)
        if current is None:
            api.request("POST", "/pools", json={"name": pool.name, **pool.fields()})
            done[pool.name] = "created"
        elif not _matches(current, pool):
            # The API validates a patch as a whole pool: its name goes in the body too.
            api.request("PATCH", path, json={"pool": pool.name, **pool.fields()})
            done[pool.name] = "updated"
        else:
            done[pool.name] = "unchanged"
    return done


def ensure_pools(base_url: str, pools: Iterable[PoolSpec] = POOLS) -> dict[str, str]:
    """``sync_pools`` on the Airflow at base_url (``http://127.0.0.1:PORT``)."""
    with AirflowClient(base_url) as client:
        return sync_pools(client, pools)
