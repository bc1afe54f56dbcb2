"""Independent random streams and stateless hashes: the only sources of randomness.

A stream is keyed by (seed, day index, stream id, extra keys) and never by what was
drawn before, so any day (or hour) can be regenerated alone. Per-entity attributes
that must agree across days (a customer's name, a product's list price) come from
``hash_u64``/``hash_unit`` of the entity's id instead of a stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

import numpy as np
from numpy.random import PCG64, Generator, SeedSequence


class Stream(IntEnum):
    """Stream ids; append new ones, never renumber (that would change every data set)."""

    NEW_CUSTOMERS = 1
    CUSTOMER_UPDATES = 2
    ORDERS = 3
    ORDER_LINES = 4
    FX = 5
    INTERACTIONS = 6
    BROWSE_SESSIONS = 7
    PURCHASE_SESSIONS = 8
    CLICK_DIRT = 9
    EVENT_IDS = 10


class Salt(IntEnum):
    """Salts of the per-entity hashes; append new ones, never renumber."""

    CUSTOMER = 101
    EMAIL_DIRT = 102
    PRODUCT = 103
    PRODUCT_CHANGE = 104
    FX = 105
    FX_MISSING = 106
    PURCHASE_TRACKED = 107
    DEVICE_ID = 108


def rng(seed: int, day: int, stream: Stream, *keys: int) -> Generator:
    """The random generator of one stream of one day."""
    return Generator(PCG64(SeedSequence([seed, day, int(stream), *keys])))


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrap-around is intended)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def hash_u64(seed: int, salt: Salt, *keys: np.ndarray | int) -> np.ndarray:
    """A 64-bit hash of (seed, salt, keys...), elementwise over broadcast int arrays."""
    arrays = [np.asarray(k).astype(np.int64).view(np.uint64) for k in keys]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    start = (seed ^ (int(salt) * 0x9E3779B97F4A7C15)) & 0xFFFFFFFFFFFFFFFF
    h = np.full(shape or (1,), start, np.uint64)
    h = _mix(h)
    for a in arrays:
        h = _mix(h ^ (np.broadcast_to(a, h.shape) + _GOLDEN))
    return h.reshape(shape) if shape else h


def hash_unit(seed: int, salt: Salt, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform floats in [0, 1) from ``hash_u64``."""
    return (hash_u64(seed, salt, *keys) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def hash_choice(
    seed: int, salt: Salt, keys: tuple[np.ndarray | int, ...], weights: np.ndarray
) -> np.ndarray:
    """Indices into weights (normalised), drawn by hash of keys."""
    cdf = np.cumsum(weights / np.sum(weights))
    idx = np.searchsorted(cdf, hash_unit(seed, salt, *keys), side="right")
    return np.minimum(idx, len(weights) - 1)


def choice(gen: Generator, weights: np.ndarray | Sequence[float], size: int) -> np.ndarray:
    """Weighted indices drawn from a stream (faster than Generator.choice with p)."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    return np.minimum(np.searchsorted(cdf, gen.random(size), side="right"), len(w) - 1)
