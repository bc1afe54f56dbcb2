"""A small client of the local Airflow's public REST API (``/api/v2``).

Authentication: the local Airflow runs the simple auth manager in all-admins
mode (``[core] simple_auth_manager_all_admins``), whose ``GET /auth/token``
hands out a JWT without credentials (``api_fastapi/auth/managers/simple/routes/
login.py``). Every failure becomes a one-line ShopflowError.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from shopflow.alerts import run_url as run_url  # the one UI link, re-exported for callers
from shopflow.errors import ShopflowError
from shopflow.names import DAG_ID

TIMEOUT = 30.0
_BUSY = (503,)  # SQLite "database is locked" on a backfill: try again
_RETRIES = 5


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if isinstance(detail, list):  # a validation error: [{"msg": ...}, ...]
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return " ".join(str(detail).split())[:300]


class AirflowClient:
    """The REST API of one Airflow at base_url (``http://127.0.0.1:PORT``)."""

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.base_url}/api/v2", timeout=timeout)
        self._token: str | None = None

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _authenticate(self) -> None:
        try:
            response = httpx.get(f"{self.base_url}/auth/token", timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise ShopflowError(
                f"the Airflow API at {self.base_url} does not answer ({exc})"
            ) from None
        if response.status_code >= 400:
            raise ShopflowError(
                f"cannot get a token from {self.base_url}/auth/token ({response.status_code} "
                f"{_detail(response)}); the local Airflow needs simple_auth_manager_all_admins"
            )
        self._token = str(response.json()["access_token"])
        self._http.headers["Authorization"] = f"Bearer {self._token}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        accept: str = "application/json",
        missing_ok: bool = False,
    ) -> Any:
        """The JSON answer of ``method /api/v2<path>``; None for a 404 when missing_ok."""
        if self._token is None:
            self._authenticate()
        for attempt in range(_RETRIES):
            try:
                response = self._http.request(
                    method, path, json=json, params=params, headers={"Accept": accept}
                )
            except httpx.HTTPError as exc:
                raise ShopflowError(
                    f"the Airflow API at {self.base_url} does not answer ({exc})"
                ) from None
            if response.status_code == 401 and attempt == 0:
                self._authenticate()  # an expired token
                continue
            if response.status_code in _BUSY and attempt < _RETRIES - 1:
                time.sleep(1.0 + attempt)
                continue
            break
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise ShopflowError(
                f"Airflow API {method} {path}: {response.status_code} {_detail(response)}"
            )
        return response.json() if response.content else None

    # DAG
    def dag(self) -> dict[str, Any] | None:
        """The DAG as the API describes it, or None while it is not parsed yet."""
        found = self.request("GET", f"/dags/{DAG_ID}", missing_ok=True)
        return None if found is None else dict(found)

    def import_errors(self) -> list[dict[str, Any]]:
        """The DAG processor's current import errors."""
        body = self.request("GET", "/importErrors", params={"limit": 100})
        return list(body.get("import_errors", []))

    def set_paused(self, paused: bool) -> bool:
        """Pause or unpause the DAG; True if that changed it."""
        dag = self.dag()
        if dag is None or bool(dag.get("is_paused")) == paused:
            return False
        self.request("PATCH", f"/dags/{DAG_ID}", json={"is_paused": paused})
        return True

    def unpause(self) -> bool:
        """Unpause the DAG; True if it was paused."""
        return self.set_paused(False)

    # DAG runs
    def trigger(
        self, run_id: str, conf: dict[str, Any], *, note: str | None = None
    ) -> dict[str, Any]:
        """A manual run without logical date (the DAG reads D from ``conf``)."""
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf, "note": note}
        return dict(self.request("POST", f"/dags/{DAG_ID}/dagRuns", json=body))

    def dag_run(self, run_id: str) -> dict[str, Any]:
        """One DAG run."""
        return dict(self.request("GET", f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}"))

    def dag_runs(self, **params: Any) -> list[dict[str, Any]]:
        """DAG runs matching the list endpoint's filters (e.g. logical_date_gte)."""
        body = self.request("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100, **params})
        return list(body["dag_runs"])

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run."""
        path = f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return list(self.request("GET", path, params={"limit": 1000})["task_instances"])

    def task_log(
        self, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> list[dict[str, Any]]:
        """A try's log as structured entries (``event``, ``level``, ``error_detail``, ...)."""
        path = (
            f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{quote(task_id, safe='')}/logs/{try_number}"
        )
        params = {"full_content": True, "map_index": map_index}
        body = self.request("GET", path, params=params)
        return [e if isinstance(e, dict) else {"event": str(e)} for e in body.get("content", [])]

    # Backfills
    def _backfill_body(
        self, start: datetime, end: datetime, reprocess: str, max_active_runs: int
    ) -> dict[str, Any]:
        return {
            "dag_id": DAG_ID,
            "from_date": start.isoformat(),
            "to_date": end.isoformat(),
            "reprocess_behavior": reprocess,
            "max_active_runs": max_active_runs,
            "run_backwards": False,
        }

    def backfill_dry_run(self, start: datetime, end: datetime, reprocess: str) -> list[datetime]:
        """The logical dates a backfill from start to end (inclusive) would run."""
        body = self._backfill_body(start, end, reprocess, 1)
        answer = self.request("POST", "/backfills/dry_run", json=body)
        return [datetime.fromisoformat(b["logical_date"]) for b in answer["backfills"]]

    def create_backfill(
        self, start: datetime, end: datetime, reprocess: str, *, max_active_runs: int = 1
    ) -> dict[str, Any]:
        """Create a backfill; the scheduler runs its DAG runs."""
        body = self._backfill_body(start, end, reprocess, max_active_runs)
        return dict(self.request("POST", "/backfills", json=body))

    def backfill(self, backfill_id: int) -> dict[str, Any]:
        """One backfill (``completed_at`` is set once all its runs ended)."""
        return dict(self.request("GET", f"/backfills/{backfill_id}"))
