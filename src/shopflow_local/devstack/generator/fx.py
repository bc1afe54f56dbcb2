"""S1 fx_rates: USD per unit of each currency per day, a smooth walk plus daily noise.

A rate is a pure function of (seed, currency, day): a few slow sine waves with
seeded phases around a realistic level, and a small hashed daily wobble.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow_local.devstack.generator.config import GeneratorConfig, day_of_index
from shopflow_local.devstack.generator.ids import decimal_from_units
from shopflow_local.devstack.generator.streams import Salt, hash_unit
from shopflow_local.devstack.generator.vocabulary import CURRENCIES

LEVEL = np.array([1.0, 1.085, 1.27, 0.0066, 0.73, 0.655])
"""Typical USD per unit of CURRENCIES."""
SWING = np.array([0.0, 0.04, 0.035, 0.06, 0.03, 0.05])
"""Relative amplitude of the slow moves."""
SCALE = 8
"""fx rates carry 8 decimals (DECIMAL(18,8))."""

SCHEMA = pa.schema(
    [
        ("rate_date", pa.date32()),
        ("currency", pa.string()),
        ("usd_per_unit", pa.decimal128(18, SCALE)),
    ]
)


def rate_units(day: int, seed: int) -> np.ndarray:
    """USD per unit of each currency on day index ``day``, in units of 1e-8 (USD is 1)."""
    cur = np.arange(len(CURRENCIES))
    phase = 2 * np.pi * hash_unit(seed, Salt.FX, cur, 1)
    slow = np.sin(2 * np.pi * day / 365.0 + phase) + 0.5 * np.sin(2 * np.pi * day / 61.0 + phase)
    noise = hash_unit(seed, Salt.FX, cur, day) - 0.5
    rate = LEVEL * (1.0 + SWING * slow / 1.5 + 0.004 * noise * (SWING > 0))
    return np.round(rate * 10**SCALE).astype(np.int64)


def rates(day: int, seed: int) -> np.ndarray:
    """USD per unit as floats, exactly the stored 8-decimal values."""
    return rate_units(day, seed) / 10**SCALE


def fx_rows(day: int, cfg: GeneratorConfig) -> pa.Table:
    """The rows of day index ``day``; non-USD rows go missing at the configured rate."""
    cur = np.arange(len(CURRENCIES))
    keep = (cur == 0) | (hash_unit(cfg.seed, Salt.FX_MISSING, cur, day) >= cfg.dirt.missing_fx_rate)
    rate_date: date = day_of_index(day)
    return pa.Table.from_arrays(
        [
            pa.array([rate_date] * int(keep.sum()), pa.date32()),
            pa.array(np.array(CURRENCIES)[keep]),
            decimal_from_units(rate_units(day, cfg.seed)[keep], SCALE, 18),
        ],
        schema=SCHEMA,
    )


FX_HISTORY_DAYS = 14
"""Non-USD rates of this many earlier days go with every day: orders of the previous
7 days change status on D and need rates up to 7 days before their own date."""


def fx_rows_with_history(day: int, cfg: GeneratorConfig) -> pa.Table:
    """Day ``day``'s rows plus the non-USD rows of the FX_HISTORY_DAYS before it.

    Rates are a pure function of the day, so writing them again changes nothing;
    the USD row stays the marker of a generated day (the pipeline takes USD as 1).
    """
    earlier = [fx_rows(d, cfg) for d in range(max(0, day - FX_HISTORY_DAYS), day)]
    earlier = [t.filter(pc.not_equal(t.column("currency"), "USD")) for t in earlier]
    return pa.concat_tables([*earlier, fx_rows(day, cfg)])
