"""S3 product catalog: a base catalog before EPOCH and about 1 % of products changed a day.

Every attribute is a hash of (seed, product index[, day]); the catalog never grows,
so ids past its size are "unknown products" that order lines may still reference.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow_local.devstack.generator import vocabulary as vocab
from shopflow_local.devstack.generator.config import EPOCH, GeneratorConfig
from shopflow_local.devstack.generator.fx import LEVEL
from shopflow_local.devstack.generator.ids import (
    US_PER_DAY,
    decimal_from_units,
    epoch_us,
    iso_utc,
    padded,
)
from shopflow_local.devstack.generator.streams import Salt, hash_choice, hash_u64, hash_unit

CATALOG_CURRENCIES = vocab.CURRENCIES[:3]
"""USD, EUR and GBP: their indices in vocabulary.CURRENCIES are their own."""
CATALOG_CURRENCY_WEIGHTS = np.array([0.8, 0.12, 0.08])
BASE_UPDATED_FROM = date(2024, 1, 1)

SCHEMA = pa.schema(
    [
        ("product_id", pa.string()),
        ("sku", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("brand", pa.string()),
        ("price", pa.decimal128(12, 2)),
        ("currency", pa.string()),
        ("active", pa.bool_()),
        ("updated_at", pa.string()),
        ("attributes", pa.string()),
    ]
)
"""``attributes`` holds a JSON object (a DynamoDB M); null means the attribute is absent."""


def id_width(cfg: GeneratorConfig) -> int:
    """Digits of product ids: six, or more when twice the catalog needs them."""
    return max(6, len(str(2 * cfg.volumes.products)))


def product_ids(index: np.ndarray, cfg: GeneratorConfig) -> pa.Array:
    """'P000123' for index 122; indices >= the catalog size are unknown products."""
    return padded("P", np.asarray(index, dtype=np.int64) + 1, id_width(cfg))


def list_price_usd_cents(index: np.ndarray, seed: int) -> np.ndarray:
    """A product's list price in US cents, ending in .99, log-normal around $30."""
    z = np.sqrt(-2 * np.log1p(-hash_unit(seed, Salt.PRODUCT, index, 1))) * np.cos(
        2 * np.pi * hash_unit(seed, Salt.PRODUCT, index, 2)
    )
    dollars = np.exp(3.3 + 0.85 * z)
    return np.maximum(1, np.floor(dollars)).astype(np.int64) * 100 - 1


def items(index: np.ndarray, cfg: GeneratorConfig, day: int | None) -> pa.Table:
    """Catalog rows of the given products: the base version (day None) or as changed on day."""
    index = np.asarray(index, dtype=np.int64)
    seed = cfg.seed
    category = (hash_u64(seed, Salt.PRODUCT, index, 3) % len(vocab.CATEGORIES)).astype(np.int64)
    noun = (hash_u64(seed, Salt.PRODUCT, index, 4) % 6).astype(np.int64)
    adjective = (hash_u64(seed, Salt.PRODUCT, index, 5) % len(vocab.ADJECTIVES)).astype(np.int64)
    nouns = np.array(vocab.CATEGORY_NOUNS, dtype=object)[category, noun].astype(str)
    name = pc.binary_join_element_wise(
        pc.take(pa.array(vocab.ADJECTIVES), pa.array(adjective)), pa.array(nouns), " "
    )
    sku_head = pc.utf8_upper(
        pc.utf8_slice_codeunits(pc.take(pa.array(vocab.CATEGORIES), pa.array(category)), 0, 3)
    )
    ids = product_ids(index, cfg)
    sku = pc.binary_join_element_wise(sku_head, pc.utf8_slice_codeunits(ids, 1), "-")
    has_brand = hash_unit(seed, Salt.PRODUCT, index, 6) >= 0.15
    brand_idx = (hash_u64(seed, Salt.PRODUCT, index, 7) % len(vocab.BRANDS)).astype(np.int64)
    brand = pc.if_else(
        pa.array(has_brand), pc.take(pa.array(vocab.BRANDS), pa.array(brand_idx)), None
    )
    currency = hash_choice(seed, Salt.PRODUCT, (index, 8), CATALOG_CURRENCY_WEIGHTS)
    active = hash_unit(seed, Salt.PRODUCT, index, 9) >= 0.05
    usd = list_price_usd_cents(index, seed).astype(np.float64)
    if day is None:
        updated = epoch_us(BASE_UPDATED_FROM) + (
            hash_unit(seed, Salt.PRODUCT, index, 10)
            * (epoch_us(EPOCH) - epoch_us(BASE_UPDATED_FROM))
        ).astype(np.int64)
    else:
        usd *= 0.8 + 0.4 * hash_unit(seed, Salt.PRODUCT_CHANGE, index, day, 1)
        flip = hash_unit(seed, Salt.PRODUCT_CHANGE, index, day, 2) < 0.1
        active = active ^ flip
        frac = hash_unit(seed, Salt.PRODUCT_CHANGE, index, day, 3)
        updated = epoch_us(EPOCH) + day * US_PER_DAY + (frac * US_PER_DAY).astype(np.int64)
    local = usd / LEVEL[currency]
    price_cents = np.maximum(1, np.round(local / 100)).astype(np.int64) * 100 - 1
    return pa.Table.from_arrays(
        [
            ids,
            sku,
            name,
            pc.take(pa.array(vocab.CATEGORIES), pa.array(category)),
            brand,
            decimal_from_units(price_cents, 2, 12),
            pc.take(pa.array(CATALOG_CURRENCIES), pa.array(currency)),
            pa.array(active),
            iso_utc(updated),
            attributes_json(index, category, seed),
        ],
        schema=SCHEMA,
    )


def attributes_json(index: np.ndarray, category: np.ndarray, seed: int) -> pa.Array:
    """A free-form JSON object for 70 % of products (null otherwise): color, maybe size,
    weight and a rating."""
    join = pc.binary_join_element_wise
    color = pc.take(
        pa.array(vocab.COLORS),
        pa.array((hash_u64(seed, Salt.PRODUCT, index, 11) % len(vocab.COLORS)).astype(np.int64)),
    )
    size = pc.take(
        pa.array(vocab.SIZES),
        pa.array((hash_u64(seed, Salt.PRODUCT, index, 12) % len(vocab.SIZES)).astype(np.int64)),
    )
    sized = pa.array(category <= 1)
    weight = pa.array(50 + (hash_u64(seed, Salt.PRODUCT, index, 13) % 2950).astype(np.int64))
    rating = pa.array(np.round(1 + 4 * hash_unit(seed, Salt.PRODUCT, index, 14), 1)).cast(
        pa.string()
    )
    size_part = pc.if_else(sized, join('"size":"', size, '",', ""), "")
    text = join(
        '{"color":"',
        color,
        '",',
        size_part,
        '"weight_g":',
        weight.cast(pa.string()),
        ',"rating":',
        rating,
        "}",
        "",
    )
    present = pa.array(hash_unit(seed, Salt.PRODUCT, index, 15) < 0.7)
    return pc.if_else(present, text, None)


def base_catalog(cfg: GeneratorConfig) -> pa.Table:
    """Every product as it stood at EPOCH."""
    return items(np.arange(cfg.volumes.products, dtype=np.int64), cfg, None)


def changed_index(day: int, cfg: GeneratorConfig) -> np.ndarray:
    """Indices of the products that change on day index ``day`` (about 1 %)."""
    index = np.arange(cfg.volumes.products, dtype=np.int64)
    rate = cfg.volumes.product_change_rate
    return index[hash_unit(cfg.seed, Salt.PRODUCT_CHANGE, index, day, 0) < rate]


def changed_products(day: int, cfg: GeneratorConfig) -> pa.Table:
    """The new versions of the products that change on day index ``day``."""
    return items(changed_index(day, cfg), cfg, day)
