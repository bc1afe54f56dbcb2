"""Deterministic, vectorised data of the four sources (see run.py for the design)."""

from shopflow_local.devstack.generator.config import EPOCH, Dirt, GeneratorConfig
from shopflow_local.devstack.generator.day import DayData, generate_day
from shopflow_local.devstack.generator.generate import (
    DaySummary,
    GenerateSummary,
    generate,
    prepare_targets,
)
from shopflow_local.devstack.generator.inventory import inventory
from shopflow_local.devstack.generator.targets import Targets

__all__ = [
    "EPOCH",
    "DayData",
    "DaySummary",
    "Dirt",
    "GenerateSummary",
    "GeneratorConfig",
    "Targets",
    "generate",
    "generate_day",
    "inventory",
    "prepare_targets",
]
