"""`shopflow demo`: the local stack up, recent days generated, the pipeline run, a summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from shopflow.devstack import stack
from shopflow.devstack.config import StackConfig
from shopflow.devstack.seeding import generate_days, targets_of


def recent_days(days: int, today: date | None = None) -> list[date]:
    """The `days` complete UTC days before today, oldest first."""
    today = today or datetime.now(UTC).date()
    return [today - timedelta(days=offset) for offset in range(days, 0, -1)]


def inventory_table(inventory: dict[str, dict[str, int]]) -> Table:
    """What each source holds, as a rich table."""
    table = Table(title="What the sources hold")
    table.add_column("source")
    table.add_column("item")
    table.add_column("count", justify="right")
    for source, counts in inventory.items():
        for item, count in counts.items():
            table.add_row(source, item, f"{count:,}")
    return table


def run_demo(cfg: StackConfig, *, days: int, scale: float, seed: int, progress: bool) -> int:
    """Bring the stack up, generate recent days and show what the sources hold."""
    from shopflow.devstack.generator import inventory

    console = Console()
    info: dict[str, Any] = stack.up(cfg)
    console.print(f"[bold]{cfg.stack}[/] stack up, state in {cfg.home}")
    window = recent_days(days)
    console.print(f"generating {window[0]} .. {window[-1]} at scale {scale} (seed {seed})")
    console.print(generate_days(info, window[0], days, scale=scale, seed=seed, progress=progress))
    console.print(inventory_table(inventory(targets_of(info))))
    return 0
