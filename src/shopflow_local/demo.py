"""`shopflow demo`: stack up, recent days generated, the scheduler running the DAG, a summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from shopflow.names import DAG_ID
from shopflow_local.devstack import stack
from shopflow_local.devstack.config import StackConfig
from shopflow_local.devstack.seeding import generate_days, targets_of

SUMMARY_TABLES = (
    "dim_customer",
    "dim_product",
    "fct_order_line",
    "fct_interaction",
    "fct_click_event",
    "fct_session",
    "customer_daily",
    "quarantine",
    "load_audit",
)


def recent_days(days: int, today: date | None = None) -> list[date]:
    """The `days` complete UTC days before today, oldest first."""
    today = today or datetime.now(UTC).date()
    return [today - timedelta(days=offset) for offset in range(days, 0, -1)]


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
    return table


def inventory_table(inventory: dict[str, dict[str, int]]) -> Table:
    """What each source holds, as a rich table."""
    rows = [
        [source, item, count]
        for source, counts in inventory.items()
        for item, count in counts.items()
    ]
    return _table("What the sources hold", ["source", "item", "count"], rows)


def audit_table(info: dict[str, Any], days: list[date]) -> Table:
    """Rows in / loaded / duplicate / quarantined per source of the latest run of each day."""
    from shopflow.warehouse.factory import warehouse_from_url

    warehouse = warehouse_from_url(info["warehouse_url"])
    audit = warehouse.query_arrow(
        "select business_date, source, rows_in, rows_loaded, rows_duplicate, rows_quarantined"
        " from analytics.load_audit a"
        " where finished_at = (select max(finished_at) from analytics.load_audit b"
        "   where b.business_date = a.business_date and b.source = a.source)"
        " order by business_date, source"
    ).to_pylist()
    rows = [[str(r["business_date"]), r["source"], r["rows_in"], r["rows_loaded"],
             r["rows_duplicate"], r["rows_quarantined"]]
            for r in audit if r["business_date"] in days]  # fmt: skip
    return _table(
        "Load audit (latest run per day)",
        ["date", "source", "in", "loaded", "duplicate", "quarantined"],
        rows,
    )


def warehouse_table(info: dict[str, Any]) -> Table:
    """Row count of every warehouse table."""
    from shopflow.warehouse.factory import warehouse_from_url

    warehouse = warehouse_from_url(info["warehouse_url"])
    rows = [
        [name, int(warehouse.scalar(f"select count(*) from analytics.{name}"))]
        for name in SUMMARY_TABLES
    ]
    table = _table("Warehouse tables", ["table", "rows"], rows)
    table.caption = info["warehouse_url"]
    return table


def run_demo(cfg: StackConfig, *, days: int, scale: float, seed: int, progress: bool) -> int:
    """Stack up, recent days generated, a scheduler run for each, a summary and the UI address."""
    from shopflow_local.airflow_runtime.processes import start_airflow
    from shopflow_local.dag_runs import run_dates
    from shopflow_local.devstack.generator import inventory

    console = Console()
    info: dict[str, Any] = stack.up(cfg)
    console.print(f"[bold]{cfg.stack}[/] stack up, state in {cfg.home}")
    window = recent_days(days)
    console.print(f"generating {window[0]} .. {window[-1]} at scale {scale} (seed {seed})")
    console.print(generate_days(info, window[0], days, scale=scale, seed=seed, progress=progress))
    console.print(inventory_table(inventory(targets_of(info))))
    console.print("starting Airflow (API server, scheduler, DAG processor, triggerer) ...")
    url = start_airflow(info, cfg.ports.airflow)
    console.print(f"running {DAG_ID} for each day on the scheduler ({url}) ...")
    outcomes = run_dates(window)
    ok = len(outcomes) == len(window) and all(o.ok for o in outcomes)
    console.print(audit_table(info, window))
    console.print(warehouse_table(info))
    console.print(f"Airflow UI: [bold]{url}[/] (DAG {DAG_ID}; local admin, no login)")
    console.print(f"Stop everything with: shopflow devstack down   (state in {cfg.home})")
    if not ok:
        failed = [o for o in outcomes if not o.ok]
        console.print(f"[red]the run of {failed[0].business_date} failed[/]: {failed[0].url}")
    return 0 if ok else 1
