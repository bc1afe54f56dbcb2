"""Generator settings: seed, scale factor, dirt rates, and the volumes they imply.

The volumes and dirt defaults are those of ``docs/data-contract.md`` ("Scale factors").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from shopflow.errors import ShopflowError

EPOCH = date(2025, 1, 1)
"""Day index 0. Base customers and the base catalog predate it; days before it have no data."""


@dataclass(frozen=True)
class Dirt:
    """Dirt rates; the defaults are the data contract's (missing fx rates: none by default)."""

    malformed_click_rate: float = 0.001
    duplicate_click_rate: float = 0.005
    late_click_rate: float = 0.01
    unknown_product_rate: float = 0.002
    api_odd_email_rate: float = 0.05
    api_unknown_email_rate: float = 0.005
    api_repeat_rate: float = 0.002
    """Applied by the marketing-API simulator when it serves pages, not by the generator."""
    missing_fx_rate: float = 0.0
    source_email_odd_rate: float = 0.05
    """Share of S1 customers whose stored email has mixed case or surrounding blanks."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ShopflowError(f"dirt rate {name} must be within 0..1, got {value}")


@dataclass(frozen=True)
class GeneratorConfig:
    """What the generated data depends on: the same config and date give the same data."""

    seed: int = 42
    scale: float = 1.0
    dirt: Dirt = field(default_factory=Dirt)

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**63:
            raise ShopflowError(f"seed must be within 0..2^63-1, got {self.seed}")
        if not 0 < self.scale <= 1000:
            raise ShopflowError(f"scale must be within (0, 1000], got {self.scale}")

    @property
    def volumes(self) -> Volumes:
        """The per-day volumes at this scale."""
        return Volumes.at(self.scale)


@dataclass(frozen=True)
class Volumes:
    """Mean rows per day at a scale factor (data contract, "Scale factors"); exact base sizes."""

    base_customers: int
    new_customers: float
    customer_updates: float
    orders: float
    products: int
    product_change_rate: float
    interactions: float
    click_events: float
    sessions: float

    @classmethod
    def at(cls, scale: float) -> Volumes:
        """Volumes that grow linearly with scale."""
        return cls(
            base_customers=max(1, round(200_000 * scale)),
            new_customers=1_000 * scale,
            customer_updates=500 * scale,
            orders=50_000 * scale,
            products=max(1, round(20_000 * scale)),
            product_change_rate=0.01,
            interactions=200_000 * scale,
            click_events=1_000_000 * scale,
            sessions=100_000 * scale,
        )


def day_index(day: date) -> int:
    """Days since EPOCH; the key of every random stream of that day."""
    index = (day - EPOCH).days
    if index < 0:
        raise ShopflowError(f"the generator starts at {EPOCH}; {day} is before it")
    return index


def day_of_index(index: int) -> date:
    """The date of a day index."""
    return date.fromordinal(EPOCH.toordinal() + index)
