"""S1 customers: a base population, new customers per day, and profile updates per day.

A customer's profile (names, email, home country, created_at) is a pure function of
its id, so any day can write any customer's creation row without the day it was
created. Day D's rows carry ``updated_at`` in D, except creation rows re-written for
customers that D's order updates reference (their own, older ``updated_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow_local.devstack.generator import vocabulary as vocab
from shopflow_local.devstack.generator.config import EPOCH, GeneratorConfig
from shopflow_local.devstack.generator.ids import (
    NEW_CUSTOMER_BLOCK,
    US_PER_DAY,
    check_block,
    creation_day_of,
    epoch_us,
    new_customer_id_start,
    timestamps,
)
from shopflow_local.devstack.generator.streams import (
    Salt,
    Stream,
    hash_choice,
    hash_u64,
    hash_unit,
    rng,
)

BASE_START = date(2019, 1, 1)
"""Base customers were created between this day and EPOCH."""
UPDATE_LOOKBACK_DAYS = 30
"""Profile updates of day D also reach customers created in the 30 days before D."""

SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("email", pa.string()),
        ("full_name", pa.string()),
        ("country", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("updated_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class Profile:
    """Attributes of customers that never depend on the day: index arrays into vocabulary."""

    ids: np.ndarray
    first: np.ndarray
    last: np.ndarray
    country: np.ndarray
    created_us: np.ndarray


def profiles(ids: np.ndarray, cfg: GeneratorConfig) -> Profile:
    """The day-independent profile of each customer id."""
    ids = np.asarray(ids, dtype=np.int64)
    seed = cfg.seed
    first = (hash_u64(seed, Salt.CUSTOMER, ids, 1) % len(vocab.FIRST_NAMES)).astype(np.int64)
    last = (hash_u64(seed, Salt.CUSTOMER, ids, 2) % len(vocab.LAST_NAMES)).astype(np.int64)
    country = hash_choice(seed, Salt.CUSTOMER, (ids, 3), vocab.COUNTRY_WEIGHTS)
    return Profile(ids, first, last, country, created_us(ids, cfg))


def created_us(ids: np.ndarray, cfg: GeneratorConfig) -> np.ndarray:
    """created_at of each customer: base ones spread over BASE_START..EPOCH in id order."""
    frac = _unit(cfg.seed, ids, 4)
    day = creation_day_of(ids)
    n0 = cfg.volumes.base_customers
    span = epoch_us(EPOCH) - epoch_us(BASE_START)
    rank = np.where(day < 0, ids - 1, 0) + frac
    base = epoch_us(BASE_START) + (rank * (span / n0)).astype(np.int64)
    new = epoch_us(EPOCH) + day * US_PER_DAY + (frac * US_PER_DAY).astype(np.int64)
    return np.where(day < 0, base, new)


def canonical_emails(ids: np.ndarray, seed: int) -> pa.Array:
    """Lower-case emails, unique because the local part ends with the customer id."""
    ids = np.asarray(ids, dtype=np.int64)
    first_idx = hash_u64(seed, Salt.CUSTOMER, ids, 1) % len(vocab.FIRST_NAMES)
    last_idx = hash_u64(seed, Salt.CUSTOMER, ids, 2) % len(vocab.LAST_NAMES)
    first = pc.take(pa.array(vocab.FIRST_EMAIL), pa.array(first_idx.astype(np.int64)))
    last = pc.take(pa.array(vocab.LAST_EMAIL), pa.array(last_idx.astype(np.int64)))
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    number = pa.array(ids).cast(pa.string())
    join = pc.binary_join_element_wise
    variants = [
        join(first, ".", last, number, ""),
        join(first, number, ""),
        join(initial, last, number, ""),
        join(first, "_", last, number, ""),
        join(last, ".", first, number, ""),
    ]
    pattern = pa.array(hash_u64(seed, Salt.CUSTOMER, ids, 5) % len(variants)).cast(pa.int8())
    local = pc.choose(pattern, *variants)
    domain_idx = hash_choice(seed, Salt.CUSTOMER, (ids, 6), vocab.EMAIL_DOMAIN_WEIGHTS)
    domain = pc.take(pa.array(vocab.EMAIL_DOMAINS), pa.array(domain_idx))
    return join(local, domain, "@")


def spoil_emails(emails: pa.Array, odd: np.ndarray, kind: np.ndarray) -> pa.Array:
    """emails with those where ``odd`` replaced by ``odd_emails`` of their kind."""
    if not odd.any():
        return emails
    mask = pa.array(odd)
    return pc.replace_with_mask(emails, mask, odd_emails(emails.filter(mask), kind[odd]))


def odd_emails(emails: pa.Array, kind: np.ndarray) -> pa.Array:
    """Emails spoilt the way people type them: kind 0 title case, 1 upper, 2 leading
    blank, 3 trailing blanks, 4 capitalised with blanks around."""
    join = pc.binary_join_element_wise
    variants = [
        pc.utf8_title(emails),
        pc.utf8_upper(emails),
        join(" ", emails, ""),
        join(emails, "  ", ""),
        join(" ", pc.utf8_capitalize(emails), " ", ""),
    ]
    return pc.choose(pa.array(kind % len(variants)).cast(pa.int8()), *variants)


def stored_emails(p: Profile, cfg: GeneratorConfig) -> pa.Array:
    """Emails as S1 stores them: a fixed share per customer with odd case or blanks."""
    emails = canonical_emails(p.ids, cfg.seed)
    odd = _unit(cfg.seed, p.ids, 7, salt=Salt.EMAIL_DIRT) < cfg.dirt.source_email_odd_rate
    kind = (hash_u64(cfg.seed, Salt.EMAIL_DIRT, p.ids, 8) % 5).astype(np.int64)
    return spoil_emails(emails, odd, kind)


def full_names(first: np.ndarray, last: np.ndarray) -> pa.Array:
    """'First Last' from vocabulary indices."""
    return pc.binary_join_element_wise(
        pc.take(pa.array(vocab.FIRST_NAMES), pa.array(first)),
        pc.take(pa.array(vocab.LAST_NAMES), pa.array(last)),
        " ",
    )


def rows(
    p: Profile,
    cfg: GeneratorConfig,
    updated_us: np.ndarray,
    last: np.ndarray | None = None,
    country: np.ndarray | None = None,
) -> pa.Table:
    """Customer rows; last name and country default to the profile's."""
    countries = pa.array(vocab.COUNTRIES)
    return pa.Table.from_arrays(
        [
            pa.array(p.ids),
            stored_emails(p, cfg),
            full_names(p.first, p.last if last is None else last),
            pc.take(countries, pa.array(p.country if country is None else country)),
            timestamps(p.created_us),
            timestamps(updated_us),
        ],
        schema=SCHEMA,
    )


def base_customers(cfg: GeneratorConfig) -> pa.Table:
    """The population before EPOCH: ids 1..N0; a third was edited after creation."""
    ids = np.arange(1, cfg.volumes.base_customers + 1, dtype=np.int64)
    p = profiles(ids, cfg)
    edited = _unit(cfg.seed, ids, 9) < 0.3
    age = epoch_us(EPOCH) - p.created_us
    updated = p.created_us + np.where(edited, (_unit(cfg.seed, ids, 10) * age), 0).astype(np.int64)
    return rows(p, cfg, updated)


def new_customer_count(day: int, cfg: GeneratorConfig) -> int:
    """How many customers sign up on day index ``day``."""
    count = int(rng(cfg.seed, day, Stream.NEW_CUSTOMERS).poisson(cfg.volumes.new_customers))
    check_block(count, NEW_CUSTOMER_BLOCK, "new customers")
    return count


def new_customer_ids(day: int, cfg: GeneratorConfig) -> np.ndarray:
    """Ids of the customers created on day index ``day``."""
    return new_customer_id_start(day) + np.arange(new_customer_count(day, cfg), dtype=np.int64)


def creation_rows(ids: np.ndarray, cfg: GeneratorConfig) -> pa.Table:
    """Rows of customers as they were created (updated_at = created_at)."""
    p = profiles(ids, cfg)
    return rows(p, cfg, p.created_us)


def update_rows(day: int, cfg: GeneratorConfig) -> pa.Table:
    """Profile changes on day index ``day``: a move abroad, a new last name, or both."""
    gen = rng(cfg.seed, day, Stream.CUSTOMER_UPDATES)
    count = int(gen.poisson(cfg.volumes.customer_updates))
    ids = gen.integers(1, cfg.volumes.base_customers + 1, count, dtype=np.int64)
    recent = gen.random(count) < 0.1
    lookback = min(UPDATE_LOOKBACK_DAYS, day)
    if lookback and recent.any():
        back = gen.integers(1, lookback + 1, count)
        sizes = np.array([new_customer_count(day - k, cfg) for k in range(lookback + 1)])
        picked = (gen.random(count) * sizes[back]).astype(np.int64)
        recent_ids = new_customer_id_start(day - back) + picked
        ids = np.where(recent & (sizes[back] > 0), recent_ids, ids)
    ids, first = np.unique(ids, return_index=True)
    kind = gen.integers(0, 3, count)[first]
    new_country = hash_choice(cfg.seed, Salt.CUSTOMER, (ids, day, 11), vocab.COUNTRY_WEIGHTS)
    new_last = gen.integers(0, len(vocab.LAST_NAMES), count)[first]
    updated = epoch_us(EPOCH) + day * US_PER_DAY + gen.integers(0, US_PER_DAY, count)[first]
    p = profiles(ids, cfg)
    return rows(
        p,
        cfg,
        updated,
        last=np.where(kind >= 1, new_last, p.last),
        country=np.where(kind != 1, new_country, p.country),
    )


def customers_of_day(day: int, cfg: GeneratorConfig, referenced: np.ndarray) -> pa.Table:
    """Rows day ``day`` writes: its sign-ups, its updates, and creation rows of the
    earlier sign-ups that its order updates reference; the newest row per id."""
    table = pa.concat_tables(
        [
            creation_rows(new_customer_ids(day, cfg), cfg),
            update_rows(day, cfg),
            creation_rows(np.unique(referenced), cfg),
        ]
    )
    return newest_per_key(table, "customer_id")


def newest_per_key(table: pa.Table, key: str) -> pa.Table:
    """One row per key: the one with the greatest updated_at; sorted by key."""
    ordered = table.sort_by([(key, "ascending"), ("updated_at", "descending")])
    keys = ordered.column(key).to_numpy()
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return ordered.filter(pa.array(first))


def _unit(seed: int, ids: np.ndarray, key: int, salt: Salt = Salt.CUSTOMER) -> np.ndarray:
    return hash_unit(seed, salt, ids, key)
