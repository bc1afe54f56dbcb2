"""Bridge from a running stack to the generator: its targets, and a summary of what was written."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any


def targets_of(info: dict[str, Any]) -> Any:
    """The generator's Targets for the stack described by info."""
    from shopflow_local.devstack.generator import Targets

    return Targets(
        sales_url=info["sales_url"],
        api_data_dir=Path(info["api_data_dir"]),
        aws_s3_endpoint=info["aws_endpoint"],
        aws_dynamodb_endpoint=info["dynamodb_endpoint"],
        bucket=info["bucket"],
        products_table=info["products_table"],
    )


def generate_days(
    info: dict[str, Any], start: date, days: int, *, scale: float, seed: int, progress: bool
) -> str:
    """Generate days [start, start + days) into the stack; a printable summary."""
    from shopflow_local.devstack.generator import GeneratorConfig, generate, prepare_targets

    cfg = GeneratorConfig(seed=seed, scale=scale)
    targets = targets_of(info)
    prepare_targets(targets, cfg)
    summary = generate(start, days, cfg, targets, progress=progress)
    return str(summary)
