"""S4 clickstream: sessions and their events, filed by the hour the collector wrote them.

Browse sessions come from one stream per (day, hour); purchase sessions from one
stream per day, built backwards from the day's tracked orders (they end with a
``purchase`` event at the order's ``order_ts``). An event lands in the file of its
own hour, or 1-3 hours later when late; a session lasts at most 2 hours. So the
files of day D hold events of browse sessions started on D-1 from 18:00 and of the
purchase sessions of D-1, D and D+1: D's generation recomputes exactly those
streams and keeps the events whose file falls on D. Event ids, extra fields,
malformed lines and duplicates are then drawn from D's own streams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow_local.devstack.generator import vocabulary as vocab
from shopflow_local.devstack.generator.catalog import product_ids
from shopflow_local.devstack.generator.config import GeneratorConfig
from shopflow_local.devstack.generator.ids import (
    US_PER_HOUR,
    US_PER_SECOND,
    creation_day_of,
    iso_utc,
    uuid_strings,
)
from shopflow_local.devstack.generator.interactions import campaigns
from shopflow_local.devstack.generator.orders import (
    HOUR_WEIGHTS,
    PlacedOrders,
    day_start_us,
    placed,
)
from shopflow_local.devstack.generator.streams import Salt, Stream, choice, hash_u64, hash_unit, rng

Arrays = dict[str, np.ndarray]

EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "remove_from_cart",
               "checkout_start", "purchase")  # fmt: skip
PAGE_VIEW, PRODUCT_VIEW, ADD, REMOVE, CHECKOUT, PURCHASE = range(6)
BROWSE_TYPE_WEIGHTS = [0.34, 0.44, 0.12, 0.04, 0.06]
"""Weights of page_view .. checkout_start after a browse session's landing page view."""
HOME, CATEGORY, SEARCH, DEALS, PRODUCT, CART, CHECKOUT_PAGE, CONFIRMATION = range(8)
LANDING_WEIGHTS = [0.35, 0.3, 0.2, 0.15]
"""Weights of the home, category, search and deals pages for page views."""
EXTERNAL = 100
"""ref_kind EXTERNAL + k stands for vocabulary.REFERRERS[k]; -1 for no referrer."""
PAID_CAMPAIGNS = ("brand-search", "generic-search", "retargeting", "prospecting", "influencer")
TRACKED_ORDER_SHARE = 0.1
"""Share of orders placed on the web shop by a base customer, hence with a purchase session."""
PURCHASE_SESSION_EVENTS = 10.0
"""About the mean events of a purchase session (landing, browsing, 2 per line, checkout)."""
MAX_SESSION_US = 2 * US_PER_HOUR
MAX_LATE_HOURS = 3
EARLY_HOURS = 18
"""Browse sessions of D-1 starting at this hour or later can have events filed under D."""
MEAN_GAP_SECONDS = 40.0
EXTRA_FIELD_RATE = 0.02
EXTRA_FIELDS = ('"app_version":"5.3.1"', '"experiment":"exp-checkout-b"',
                '"geo":{"country":"DE","city":"Berlin"}', '"consent":true')  # fmt: skip
MALFORMED_KINDS = ("truncated", "no_event_id", "no_event_type", "no_ts", "no_session_id",
                   "bad_ts", "unknown_event_type")  # fmt: skip
CLICK_LINES_SQL = (Path(__file__).parents[1] / "sql" / "click_lines.sql").read_text()


@dataclass(frozen=True)
class Part:
    """Events of some sessions; ``events["session"]`` indexes the session arrays."""

    events: Arrays
    sessions: Arrays


def browse_session_rate(cfg: GeneratorConfig) -> float:
    """Browse sessions per day: all sessions less the purchase sessions."""
    v = cfg.volumes
    return max(0.0, v.sessions - TRACKED_ORDER_SHARE * v.orders)


def browse_event_mean(cfg: GeneratorConfig) -> float:
    """Mean events per browse session, so that a day has about the contract's events."""
    v = cfg.volumes
    purchase_events = TRACKED_ORDER_SHARE * v.orders * PURCHASE_SESSION_EVENTS
    return max(1.0, (v.click_events - purchase_events) / max(1.0, browse_session_rate(cfg)))


@lru_cache(maxsize=30)
def browse_part(day: int, hour: int, cfg: GeneratorConfig) -> Part:
    """The browse sessions that start in hour ``hour`` of day index ``day`` (cached)."""
    return _browse_part(day, hour, cfg)


def _browse_part(day: int, hour: int, cfg: GeneratorConfig) -> Part:
    gen = rng(cfg.seed, day, Stream.BROWSE_SESSIONS, hour)
    share = HOUR_WEIGHTS[hour] / HOUR_WEIGHTS.sum()
    n_s = int(gen.poisson(browse_session_rate(cfg) * share))
    start = day_start_us(day) + hour * US_PER_HOUR + gen.integers(0, US_PER_HOUR, n_s)
    n_ev = np.minimum(gen.geometric(1.0 / browse_event_mean(cfg), n_s), 80)
    session, pos, first = _skeleton(n_ev)
    kind = np.where(pos == 0, PAGE_VIEW, choice(gen, BROWSE_TYPE_WEIGHTS, len(session)))
    product = _popular_products(gen, len(session), cfg)
    kind, product = _funnel_rules(kind, product, first)
    login = np.where(gen.random(n_s) < 0.6, 0, gen.integers(0, n_ev + 1))
    customer = np.where(gen.random(n_s) < 0.3, _base_customers(gen, n_s, cfg), 0)
    order = np.zeros(len(session), np.int64)
    skeleton = {"session": session, "pos": pos, "kind": kind, "product": product, "order": order}
    return _finish(gen, day, cfg, skeleton, customer, login, start, at_end=False)


@lru_cache(maxsize=4)
def purchase_part(day: int, cfg: GeneratorConfig) -> Part:
    """The sessions behind day ``day``'s tracked orders, each ending at its order_ts (cached)."""
    return _purchase_part(day, cfg, placed(day, cfg))


def _purchase_part(day: int, cfg: GeneratorConfig, orders: PlacedOrders) -> Part:
    tracked = hash_unit(cfg.seed, Salt.PURCHASE_TRACKED, orders.order_id) < TRACKED_ORDER_SHARE
    rows = np.flatnonzero(tracked & (creation_day_of(orders.customer_id) < 0))
    gen = rng(cfg.seed, day, Stream.PURCHASE_SESSIONS)
    n_s = len(rows)
    per_order = np.bincount(orders.lines.order_row, minlength=len(orders.order_id))
    first_line = (np.cumsum(per_order) - per_order)[rows]
    n_lines = per_order[rows]
    pre = gen.integers(0, 5, n_s)
    n_ev = 1 + pre + 2 * n_lines + 2
    session, pos, _ = _skeleton(n_ev)
    total = len(session)
    cart_pos = pos - 1 - pre[session]
    in_cart = (cart_pos >= 0) & (cart_pos < 2 * n_lines[session])
    line = first_line[session] + np.clip(cart_pos, 0, None) // 2
    line = np.minimum(line, max(0, len(orders.lines.product_index) - 1))
    kind = np.select(
        [pos == 0, cart_pos < 0, in_cart & (cart_pos % 2 == 0), in_cart, pos == n_ev[session] - 2],
        [PAGE_VIEW, gen.integers(0, 2, total), PRODUCT_VIEW, ADD, CHECKOUT],
        PURCHASE,
    )
    lines_product = orders.lines.product_index[line] if total else line
    product = np.where(in_cart, lines_product, _popular_products(gen, total, cfg))
    order = np.where(kind == PURCHASE, orders.order_id[rows][session], 0)
    login = np.where(gen.random(n_s) < 0.7, 0, n_ev - 2)
    skeleton = {"session": session, "pos": pos, "kind": kind, "product": product, "order": order}
    customer = orders.customer_id[rows]
    return _finish(gen, day, cfg, skeleton, customer, login, orders.order_us[rows], at_end=True)


def _skeleton(n_ev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event: its session, its position in it, and the index of its session's first event."""
    session = np.repeat(np.arange(len(n_ev)), n_ev)
    first = np.repeat(np.cumsum(n_ev) - n_ev, n_ev)
    return session, np.arange(len(session)) - first, first


def _popular_products(gen: np.random.Generator, n: int, cfg: GeneratorConfig) -> np.ndarray:
    return (cfg.volumes.products * gen.random(n) ** 2).astype(np.int64)


def _base_customers(gen: np.random.Generator, n: int, cfg: GeneratorConfig) -> np.ndarray:
    return 1 + (cfg.volumes.base_customers * gen.random(n) ** 1.5).astype(np.int64)


def _last_before(mask: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Per event, the index of the latest event so far in its session with mask, else -1."""
    idx = np.arange(len(mask))
    last = np.maximum.accumulate(np.where(mask, idx, -1)) if len(mask) else idx
    return np.where(last >= first, last, -1)


def _funnel_rules(
    kind: np.ndarray, product: np.ndarray, first: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Make sequences possible: carts follow a product view, removals and checkouts a cart."""
    viewed = _last_before(kind == PRODUCT_VIEW, first)
    kind = np.where((kind == ADD) & (viewed < 0), PRODUCT_VIEW, kind)
    viewed = _last_before(kind == PRODUCT_VIEW, first)
    product = np.where(kind == ADD, product[np.maximum(viewed, 0)], product)
    carted = _last_before(kind == ADD, first)
    kind = np.where(np.isin(kind, (REMOVE, CHECKOUT)) & (carted < 0), PAGE_VIEW, kind)
    product = np.where(kind == REMOVE, product[np.maximum(carted, 0)], product)
    return kind, product


def _finish(
    gen: np.random.Generator,
    day: int,
    cfg: GeneratorConfig,
    skeleton: Arrays,
    customer: np.ndarray,
    login: np.ndarray,
    anchor_us: np.ndarray,
    *,
    at_end: bool,
) -> Part:
    """Timestamps, identities, pages, referrers, utm and lateness of skeleton events;
    sessions start at ``anchor_us`` or, ``at_end``, finish there."""
    session, pos, kind = skeleton["session"], skeleton["pos"], skeleton["kind"]
    n_s, total = len(anchor_us), len(session)
    gaps = np.where(pos == 0, 0.0, gen.exponential(MEAN_GAP_SECONDS, total) + 0.1) * US_PER_SECOND
    span = np.bincount(session, gaps, n_s)
    offset = np.cumsum(gaps) - np.repeat(np.cumsum(span) - span, np.bincount(session, None, n_s))
    squeeze = np.minimum(1.0, MAX_SESSION_US / np.maximum(span, 1.0))
    offset = (offset * squeeze[session]).astype(np.int64)
    start = anchor_us - (span * squeeze).astype(np.int64) if at_end else anchor_us
    ts = start[session] + offset
    device = choice(gen, vocab.DEVICE_WEIGHTS, n_s)
    anon_hi, anon_lo = gen.integers(0, 2**63, (2, n_s), dtype=np.int64).view(np.uint64)
    known = customer > 0
    anon_hi = np.where(known, hash_u64(cfg.seed, Salt.DEVICE_ID, customer, device, 1), anon_hi)
    anon_lo = np.where(known, hash_u64(cfg.seed, Salt.DEVICE_ID, customer, device, 2), anon_lo)
    has_utm = gen.random(n_s) < 0.4
    utm_source = np.where(has_utm, choice(gen, vocab.UTM_SOURCE_WEIGHTS, n_s), -1)
    utm_all = gen.random(n_s) < 0.5
    external = np.where(
        gen.random(n_s) < 0.5, EXTERNAL + gen.integers(0, len(vocab.REFERRERS), n_s), -1
    )
    referrer = np.where(utm_source >= 0, EXTERNAL + utm_source % len(vocab.REFERRERS), external)
    page_kind = np.select(
        [kind == PAGE_VIEW, kind == REMOVE, kind == CHECKOUT, kind == PURCHASE],
        [choice(gen, LANDING_WEIGHTS, total), CART, CHECKOUT_PAGE, CONFIRMATION],
        PRODUCT,
    )
    page_arg = np.select(
        [page_kind == CATEGORY, page_kind == SEARCH, page_kind == PRODUCT],
        [gen.integers(0, len(vocab.CATEGORIES), total),
         gen.integers(0, len(vocab.SEARCH_TERMS), total), skeleton["product"]],
        -1,
    )  # fmt: skip
    prev = np.maximum(np.arange(total) - 1, 0)
    late = gen.random(total) < cfg.dirt.late_click_rate
    file_hour = ts // US_PER_HOUR + np.where(late, gen.integers(1, MAX_LATE_HOURS + 1, total), 0)
    s_hi, s_lo = gen.integers(0, 2**63, (2, n_s), dtype=np.int64).view(np.uint64)
    shows_product = np.isin(kind, (PRODUCT_VIEW, ADD, REMOVE))
    events = {
        "session": session, "kind": kind.astype(np.int8), "ts": ts,
        "customer": np.where(pos >= login[session], customer[session], 0),
        "product": np.where(shows_product, skeleton["product"], -1),
        "order": skeleton["order"],
        "page_kind": page_kind.astype(np.int8), "page_arg": page_arg,
        "ref_kind": np.where(pos == 0, referrer[session], page_kind[prev]).astype(np.int16),
        "ref_arg": np.where(pos == 0, -1, page_arg[prev]),
        "utm": (utm_all[session] | (pos == 0)) & (utm_source[session] >= 0),
        "file_us": file_hour * US_PER_HOUR,
    }  # fmt: skip
    sessions = {
        "session_hi": s_hi, "session_lo": s_lo, "anon_hi": anon_hi, "anon_lo": anon_lo,
        "device": device.astype(np.int8), "utm_source": utm_source.astype(np.int8),
        "utm_campaign": _campaign_codes(gen, day, utm_source),
    }  # fmt: skip
    return Part(events, sessions)


def _campaign_codes(gen: np.random.Generator, day: int, source: np.ndarray) -> np.ndarray:
    """Newsletter sessions carry one of the day's email campaigns (code -1 - (1000 day + k),
    k into interactions.campaigns), paid ones a paid campaign (100 + k); -1 is none."""
    n = len(source)
    email = gen.integers(0, len(campaigns(day)), n) + 1000 * day
    paid = 100 + gen.integers(0, len(PAID_CAMPAIGNS), n)
    newsletter = vocab.UTM_SOURCES.index("newsletter")
    return np.where(source < 0, -1, np.where(source == newsletter, -1 - email, paid))


def parts_touching(day: int, cfg: GeneratorConfig, *, cached: bool = True) -> Iterator[Part]:
    """Every stream that can have events filed under day D (D-1's first, so that the
    cache still holds D's evening when D+1 comes next), one at a time; ``cached=False``
    computes them (and the orders behind purchase sessions) without the caches."""
    browse: Callable[[int, int, GeneratorConfig], Part] = browse_part
    purchase: Callable[[int, GeneratorConfig], Part] = purchase_part
    if not cached:
        browse = _browse_part

        def purchase(d: int, c: GeneratorConfig) -> Part:
            return _purchase_part(d, c, placed.__wrapped__(d, c))

    if day > 0:
        for hour in range(EARLY_HOURS, 24):
            yield browse(day - 1, hour, cfg)
        yield purchase(day - 1, cfg)
    for hour in range(24):
        yield browse(day, hour, cfg)
    yield purchase(day, cfg)
    yield purchase(day + 1, cfg)


NARROW = {"session": np.int32, "product": np.int32, "page_arg": np.int32, "ref_arg": np.int32}
"""Event columns kept narrower than the streams draw them (the values fit; they are
widened again wherever they are used), so the day's events take less memory."""


def events_under_day(day: int, cfg: GeneratorConfig, *, cached: bool = True) -> Part:
    """The events filed under dt=D, sorted by (file hour, ts), with the sessions they use;
    ``file_hour`` (0-23) replaces ``file_us``. Streams are filtered one at a time."""
    start = day_start_us(day)
    events: list[Arrays] = []
    sessions: list[Arrays] = []
    offset = 0
    for part in parts_touching(day, cfg, cached=cached):
        file_us = part.events["file_us"]
        keep = np.flatnonzero((file_us >= start) & (file_us < start + 24 * US_PER_HOUR))
        kept = {
            key: value[keep].astype(NARROW.get(key, value.dtype), copy=False)
            for key, value in part.events.items()
            if key != "file_us"
        }
        kept["session"] += offset
        kept["file_hour"] = ((file_us[keep] - start) // US_PER_HOUR).astype(np.int8)
        events.append(kept)
        sessions.append(part.sessions)
        offset += len(part.sessions["session_hi"])
        del part, file_us, keep, kept
    earliest = start - MAX_SESSION_US - (MAX_LATE_HOURS + 1) * US_PER_HOUR
    sort_key = np.concatenate([e["file_hour"] for e in events]).astype(np.int64) << 40 | (
        np.concatenate([e["ts"] for e in events]) - earliest
    )
    order = np.argsort(sort_key, kind="stable")
    del sort_key
    # one column at a time: the day's events are never held twice
    merged = {key: np.concatenate([e.pop(key) for e in events])[order] for key in list(events[0])}
    return Part(
        events=merged,
        sessions={key: np.concatenate([s[key] for s in sessions]) for key in sessions[0]},
    )


@dataclass(frozen=True)
class DayEvents:
    """The events filed under dt=D, with their ids and the collector's dirt, as numbers.

    Drawn for the whole day at once (so they do not depend on how the day is cut), while
    their strings are built a slice at a time (``event_table``). Dirt: ``extra`` indexes
    EXTRA_FIELDS, ``malformed`` MALFORMED_KINDS, ``copy_hour`` is the hour whose file
    holds a second copy; -1 for none.
    """

    part: Part
    event_hi: np.ndarray
    event_lo: np.ndarray
    file_hour: np.ndarray
    extra: np.ndarray
    malformed: np.ndarray
    copy_hour: np.ndarray

    def hour_bounds(self) -> np.ndarray:
        """Row ``bounds[h]`` where file hour h starts (events are sorted by file hour)."""
        return np.searchsorted(self.file_hour, np.arange(25), side="left")


def day_events(day: int, cfg: GeneratorConfig, *, cached: bool = True) -> DayEvents:
    """``events_under_day`` with the ids and dirt of every event drawn."""
    part = events_under_day(day, cfg, cached=cached)
    n = len(part.events["ts"])
    e_hi, e_lo = (
        rng(cfg.seed, day, Stream.EVENT_IDS)
        .integers(0, 2**63, (2, n), dtype=np.int64)
        .view(np.uint64)
    )
    file_hour = part.events["file_hour"]
    gen = rng(cfg.seed, day, Stream.CLICK_DIRT)
    extra = np.where(gen.random(n) < EXTRA_FIELD_RATE, gen.integers(0, len(EXTRA_FIELDS), n), -1)
    malformed = np.where(
        gen.random(n) < cfg.dirt.malformed_click_rate,
        gen.integers(0, len(MALFORMED_KINDS), n),
        -1,
    )
    duplicate = (gen.random(n) < cfg.dirt.duplicate_click_rate) & (malformed < 0)
    copy_hour = np.minimum(file_hour.astype(np.int64) + choice(gen, [0.5, 0.3, 0.2], n), 23)
    return DayEvents(
        part=part,
        event_hi=e_hi,
        event_lo=e_lo,
        file_hour=file_hour,
        extra=extra.astype(np.int8),
        malformed=malformed.astype(np.int8),
        copy_hour=np.where(duplicate, copy_hour, -1).astype(np.int8),
    )


def event_table(
    events: DayEvents, day: int, cfg: GeneratorConfig, rows: slice | None = None
) -> pa.Table:
    """Events ``rows`` (default all) as their JSON fields, plus file_hour and the dirt
    columns ``extra_field``, ``malformed`` (a MALFORMED_KINDS name) and
    ``duplicate_file_hour``, each null for most events; strings are built vectorised."""
    rows = rows or slice(None)
    ev = {key: value[rows] for key, value in events.part.events.items()}
    ss = events.part.sessions
    used, session = np.unique(ev["session"], return_inverse=True)
    session_idx = pa.array(session.ravel())
    with_utm = ev["utm"]
    utm_source = np.where(with_utm, ss["utm_source"][ev["session"]], -1)
    utm_campaign = np.where(with_utm, ss["utm_campaign"][ev["session"]], -1)
    product = ev["product"]
    copy_hour = events.copy_hour[rows]

    def per_session(hi: str, lo: str) -> pa.Array:
        return uuid_strings(ss[hi][used], ss[lo][used]).take(session_idx)

    return pa.table(
        {
            "event_id": uuid_strings(events.event_hi[rows], events.event_lo[rows]),
            "event_type": pc.take(pa.array(EVENT_TYPES), pa.array(ev["kind"])),
            "ts": iso_utc(ev["ts"], 3),
            "session_id": per_session("session_hi", "session_lo"),
            "anonymous_id": per_session("anon_hi", "anon_lo"),
            "customer_id": _nullable(ev["customer"], ev["customer"] > 0),
            "product_id": _product_ids(product, cfg),
            "order_id": _nullable(ev["order"], ev["order"] > 0),
            "page_url": _urls(ev["page_kind"], ev["page_arg"], cfg),
            "referrer": _urls(ev["ref_kind"], ev["ref_arg"], cfg),
            "utm_source": _take_or_null(vocab.UTM_SOURCES, utm_source),
            "utm_campaign": _campaign_names(utm_campaign),
            "device": pc.take(pa.array(vocab.DEVICES), pa.array(ss["device"][ev["session"]])),
            "file_hour": pa.array(events.file_hour[rows]),
            "extra_field": _take_or_null(EXTRA_FIELDS, events.extra[rows].astype(np.int64)),
            "malformed": _take_or_null(MALFORMED_KINDS, events.malformed[rows].astype(np.int64)),
            "duplicate_file_hour": pa.array(copy_hour, mask=copy_hour < 0),
        }
    )


def _nullable(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(values, pa.int64(), mask=~valid)


def _take_or_null(names: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pc.take(pa.array(names), pa.array(index, mask=index < 0))


def _product_ids(product: np.ndarray, cfg: GeneratorConfig) -> pa.Array:
    known = product >= 0
    ids = pa.nulls(len(product), pa.string())
    if not known.any():
        return ids
    return pc.replace_with_mask(ids, pa.array(known), product_ids(product[known], cfg))


def _static_pages() -> list[str]:
    """Every URL that is not a product page, in the order of ``_static_index``."""
    shop = vocab.SHOP_URL
    return [
        f"{shop}/", f"{shop}/deals", f"{shop}/cart", f"{shop}/checkout",
        f"{shop}/checkout/confirmation", *vocab.REFERRERS,
        *(f"{shop}/c/{c}" for c in vocab.CATEGORIES),
        *(f"{shop}/search?q={t}" for t in vocab.SEARCH_TERMS),
    ]  # fmt: skip


_N_FIXED = 5 + len(vocab.REFERRERS)
_STATIC_BASE = np.array([0, _N_FIXED, _N_FIXED + len(vocab.CATEGORIES), 1, -1, 2, 3, 4])
"""Index into ``_static_pages`` per page kind (HOME..CONFIRMATION); -1 for products."""


def _urls(kind: np.ndarray, arg: np.ndarray, cfg: GeneratorConfig) -> pa.Array:
    """Full URLs of page kinds and their arguments, or of EXTERNAL referrers; -1 is null."""
    index = _STATIC_BASE[np.clip(kind, 0, len(_STATIC_BASE) - 1)]
    index = np.where((kind == CATEGORY) | (kind == SEARCH), index + arg, index)
    index = np.where(kind >= EXTERNAL, 5 + kind.astype(np.int64) - EXTERNAL, index)
    index = np.where(kind < 0, -1, index)
    urls = pc.take(pa.array(_static_pages()), pa.array(index, mask=index < 0))
    is_product = kind == PRODUCT
    if not is_product.any():
        return urls
    products = pc.binary_join_element_wise(
        f"{vocab.SHOP_URL}/p/", product_ids(arg[is_product], cfg), ""
    )
    return pc.replace_with_mask(urls, pa.array(is_product), products)


def _campaign_names(codes: np.ndarray) -> pa.Array:
    """Campaign names of the codes made by ``_campaign_codes``; null for -1."""
    unique, inverse = np.unique(codes, return_inverse=True)
    names: list[str | None] = []
    for code in unique.tolist():
        if code == -1:
            names.append(None)
        elif code >= 100:
            names.append(PAID_CAMPAIGNS[code - 100])
        else:
            day, k = divmod(-1 - code, 1000)
            names.append(campaigns(day)[k])
    return pc.take(pa.array(names, pa.string()), pa.array(inverse.ravel()))


def event_lines(events: pa.Table) -> pa.ChunkedArray:
    """One collector line per ``event_table`` row, in order (DuckDB builds the JSON)."""
    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")
        con.register("events", events)
        return con.sql(CLICK_LINES_SQL).to_arrow_table().column("line")
    finally:
        con.close()


def _copies(lines: pa.ChunkedArray, copy_hour: np.ndarray) -> tuple[np.ndarray, pa.ChunkedArray]:
    """(hour, line) of the second copies of duplicated events, by hour, in event order."""
    copies = np.flatnonzero(copy_hour >= 0)
    order = np.argsort(copy_hour[copies], kind="stable")
    return copy_hour[copies][order], lines.take(pa.array(copies[order]))


def collector_lines(events: pa.Table) -> pa.Table:
    """(file_hour, line) of every line under dt=D, from ``event_table`` rows.

    A file's lines are the rows with its file_hour, in table order: first its own
    events by time, then the second copies of duplicated events.
    """
    lines = event_lines(events)
    copy_hour = events.column("duplicate_file_hour").fill_null(-1).to_numpy().astype(np.int8)
    copy_hours, copied = _copies(lines, copy_hour)
    return pa.table(
        {
            "file_hour": pa.chunked_array(
                [events.column("file_hour").combine_chunks(), pa.array(copy_hours)]
            ),
            "line": pa.chunked_array(lines.chunks + copied.chunks, pa.string()),
        }
    )


SLICE_EVENTS = 100_000
"""Events whose strings are built at a time (about 40 MB of JSON lines)."""


def hour_slices(
    day: int, cfg: GeneratorConfig, *, keep_streams: bool = True
) -> Iterator[tuple[int, pa.ChunkedArray]]:
    """(hour, lines) pieces of the hour files in file order (an hour's pieces come one
    after the other): the lines of ``collector_lines`` with the strings of at most
    SLICE_EVENTS events in memory at a time, besides the duplicate copies still to come.

    ``keep_streams=False`` computes the session streams without the caches (the next day
    recomputes the evening it shares: slower, but less memory).
    """
    events = day_events(day, cfg, cached=keep_streams)
    bounds = events.hour_bounds().tolist()
    later: dict[int, list[pa.Array]] = {}
    for hour in range(24):
        for low in range(bounds[hour], bounds[hour + 1], SLICE_EVENTS):
            rows = slice(low, min(low + SLICE_EVENTS, bounds[hour + 1]))
            lines = event_lines(event_table(events, day, cfg, rows))
            copy_hours, copied = _copies(lines, events.copy_hour[rows])
            for copy_hour in np.unique(copy_hours).tolist():
                picked = copied.filter(pa.array(copy_hours == copy_hour))
                later.setdefault(copy_hour, []).extend(picked.chunks)
            yield hour, lines
        copies = later.pop(hour, [])
        if copies:
            yield hour, pa.chunked_array(copies, pa.string())


def clickstream_of_day(day: int, cfg: GeneratorConfig) -> tuple[pa.Table, pa.Table]:
    """(lines, events): what the collector wrote under dt=D, and the events behind it."""
    events = event_table(day_events(day, cfg), day, cfg)
    return collector_lines(events), events
