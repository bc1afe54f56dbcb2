"""S2 marketing interactions of one day, in the Parquet layout the API simulator serves.

Most records belong to base customers; sign-ups of the day get a welcome email
after they sign up; a small share comes from emails unknown to S1 at that date:
mostly leads that never buy, some people who sign up within the next week (so the
pipeline can resolve them later). The simulator adds the repeated-records dirt.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow_local.devstack.generator import customers
from shopflow_local.devstack.generator.catalog import product_ids
from shopflow_local.devstack.generator.config import EPOCH, GeneratorConfig, day_of_index
from shopflow_local.devstack.generator.ids import (
    padded,
    strings_from_matrix,
    timestamp_matrix,
    timestamps,
)
from shopflow_local.devstack.generator.orders import day_start_us, times_in_day
from shopflow_local.devstack.generator.streams import Stream, choice, rng
from shopflow_local.devstack.generator.vocabulary import CATEGORIES, SHOP_URL

TYPES = ("email_sent", "email_open", "email_click", "sms_sent", "sms_click", "push_open",
         "unsubscribe")  # fmt: skip
TYPE_WEIGHTS = [0.40, 0.22, 0.07, 0.12, 0.03, 0.14, 0.02]
CHANNELS = ("email", "sms", "push")
TYPE_CHANNEL = np.array([0, 0, 0, 1, 1, 2, 0])
"""Channel index of each type; unsubscribes come by sms for a fifth of them."""
OFFSETS_MIN = np.array([-480, -420, -300, -240, -180, 0, 0, 60, 120, 330, 540, 600])
OFFSET_TEXT = ("-08:00", "-07:00", "-05:00", "-04:00", "-03:00", "Z", "+00:00", "+01:00",
               "+02:00", "+05:30", "+09:00", "+10:00")  # fmt: skip
OFFSET_WEIGHTS = [10, 6, 16, 6, 2, 12, 4, 20, 10, 5, 6, 3]
LEAD_ID_BASE = 9_000_000_000_000_000
"""Leads get emails of ids no customer can have."""
CAMPAIGNS_PER_WEEK = 4
WELCOME_CAMPAIGN = "cmp-welcome"

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("email", pa.string()),
        ("type", pa.string()),
        ("channel", pa.string()),
        ("campaign_id", pa.string()),
        ("occurred_at", pa.string()),
        ("occurred_at_utc", pa.timestamp("us", tz="UTC")),
        ("properties", pa.string()),
    ]
)


def campaigns(day: int) -> list[str]:
    """Campaigns running on a day: those launched this ISO week and the week before."""
    names = []
    for back in (0, 7):
        year, week, _ = (EPOCH + timedelta(days=day - back)).isocalendar()
        names += [f"cmp-{year}w{week:02d}-{k}" for k in range(1, CAMPAIGNS_PER_WEEK + 1)]
    return names


def interactions_of_day(day: int, cfg: GeneratorConfig) -> pa.Table:
    """The interactions that occurred on day index ``day``, sorted by (instant, id)."""
    gen = rng(cfg.seed, day, Stream.INTERACTIONS)
    count = int(gen.poisson(cfg.volumes.interactions))
    end = day_start_us(day + 1)
    signups = customers.new_customer_ids(day, cfg)
    welcome_us = customers.created_us(signups, cfg) + gen.integers(60, 600, len(signups)) * 10**6
    signups, welcome_us = signups[welcome_us < end][:count], welcome_us[welcome_us < end][:count]
    rest = count - len(signups)
    unknown = gen.random(rest) < cfg.dirt.api_unknown_email_rate
    ids = 1 + (cfg.volumes.base_customers * gen.random(rest) ** 1.2).astype(np.int64)
    ids = np.where(unknown, _unknown_ids(gen, day, cfg, rest), ids)
    ids = np.concatenate([ids, signups])
    occurred = np.concatenate([times_in_day(gen, day, rest), welcome_us]) // 1000 * 1000
    kind = np.concatenate([choice(gen, TYPE_WEIGHTS, rest), np.zeros(len(signups), np.int64)])
    order = np.lexsort((ids, occurred))
    ids, occurred, kind = ids[order], occurred[order], kind[order]
    is_welcome = order >= rest
    channel = np.where((kind == 6) & (gen.random(count) < 0.2), 1, TYPE_CHANNEL[kind])
    names = campaigns(day)
    campaign = pc.take(pa.array(names), pa.array(gen.integers(0, len(names), count)))
    campaign = pc.if_else(pa.array(is_welcome), WELCOME_CAMPAIGN, campaign)
    emails = customers.canonical_emails(ids, cfg.seed)
    odd = gen.random(count) < cfg.dirt.api_odd_email_rate
    emails = customers.spoil_emails(emails, odd, gen.integers(0, 5, count))
    offset = choice(gen, OFFSET_WEIGHTS, count)
    return pa.Table.from_arrays(
        [
            padded(f"ix-{day_of_index(day):%Y%m%d}-", np.arange(count), 9),
            emails,
            pc.take(pa.array(TYPES), pa.array(kind)),
            pc.take(pa.array(CHANNELS), pa.array(channel)),
            campaign,
            _local_iso(occurred, offset),
            timestamps(occurred, tz="UTC"),
            _properties(gen, kind, cfg),
        ],
        schema=SCHEMA,
    )


def _unknown_ids(gen: np.random.Generator, day: int, cfg: GeneratorConfig, n: int) -> np.ndarray:
    """Ids behind unknown emails: leads, or people who sign up 1-7 days later."""
    leads = LEAD_ID_BASE + (gen.random(n) * max(1.0, cfg.volumes.base_customers / 4)).astype(
        np.int64
    )
    ahead = gen.integers(1, 8, n)
    sizes = np.array([customers.new_customer_count(day + k, cfg) for k in range(8)])
    future = customers.new_customer_id_start(day + ahead) + (gen.random(n) * sizes[ahead]).astype(
        np.int64
    )
    soon = (gen.random(n) < 0.2) & (sizes[ahead] > 0)
    return np.where(soon, future, leads)


def _local_iso(utc_us: np.ndarray, offset: np.ndarray) -> pa.Array:
    """ISO-8601 strings of the instants in local time with the offset written out."""
    local = utc_us + OFFSETS_MIN[offset] * 60_000_000
    text = strings_from_matrix(timestamp_matrix(local, "T", 3))
    return pc.binary_join_element_wise(text, pc.take(pa.array(OFFSET_TEXT), pa.array(offset)), "")


def _properties(gen: np.random.Generator, kind: np.ndarray, cfg: GeneratorConfig) -> pa.Array:
    """A small JSON object per record, its keys depending on the type."""
    count = len(kind)
    join = pc.binary_join_element_wise
    variant = pc.take(pa.array(["A", "B"]), pa.array(gen.integers(0, 2, count)))
    product = pc.binary_join_element_wise(
        f"{SHOP_URL}/p/", product_ids(gen.integers(0, cfg.volumes.products, count), cfg), ""
    )
    category = pc.take(pa.array(CATEGORIES), pa.array(gen.integers(0, len(CATEGORIES), count)))
    os_name = pc.take(pa.array(["ios", "android"]), pa.array(gen.integers(0, 2, count)))
    segments = pa.array(gen.integers(1, 3, count)).cast(pa.string())
    reason = pc.take(
        pa.array(["too_frequent", "not_relevant", "never_signed_up", "other"]),
        pa.array(gen.integers(0, 4, count)),
    )
    per_type = [
        join('{"subject_variant":"', variant, '","template":"newsletter"}', ""),
        join('{"subject_variant":"', variant, '","client":"webmail"}', ""),
        join('{"url":"', product, '","subject_variant":"', variant, '"}', ""),
        join('{"segments":', segments, "}", ""),
        join('{"url":"', SHOP_URL, "/c/", category, '"}', ""),
        join('{"os":"', os_name, '","app_version":"5.', segments, '.0"}', ""),
        join('{"reason":"', reason, '"}', ""),
    ]
    return pc.choose(pa.array(kind).cast(pa.int8()), *per_type)
