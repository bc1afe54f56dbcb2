"""Every dirt rate of the data contract shows up at its configured rate, and only where intended."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pyarrow.compute as pc
import pytest

from shopflow_local.devstack.generator import (
    Dirt,
    GeneratorConfig,
    customers,
    fx,
    generate_day,
    orders,
)
from shopflow_local.devstack.generator.catalog import product_ids
from shopflow_local.devstack.generator.clickstream import MALFORMED_KINDS
from shopflow_local.devstack.generator.config import day_index

pytestmark = pytest.mark.unit

CFG = GeneratorConfig(seed=11, scale=0.2)
DAY = date(2025, 1, 5)


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return generate_day(DAY, CFG)


def within(value: float, expected: float, tolerance: float) -> None:
    assert abs(value - expected) <= tolerance * expected, (value, expected)


def test_duplicate_events_share_id_and_content(data) -> None:  # type: ignore[no-untyped-def]
    lines = data.click_lines["line"]
    counts = pc.value_counts(lines)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    within(len(repeated) / data.click_events.num_rows, 0.005, 0.2)
    flagged = pc.sum(data.click_events["duplicate_file_hour"].is_valid()).as_py()
    assert len(repeated) == flagged
    sample = json.loads(repeated.field("values")[0].as_py())
    copies = pc.sum(pc.match_substring(lines, sample["event_id"])).as_py()
    assert copies == 2


def test_malformed_lines_cover_every_kind(data) -> None:  # type: ignore[no-untyped-def]
    events = data.click_events
    malformed = events.filter(events["malformed"].is_valid())
    within(malformed.num_rows / data.click_lines.num_rows, 0.001, 0.35)
    assert set(malformed["malformed"].to_pylist()) == set(MALFORMED_KINDS)
    broken = 0
    for line in data.click_lines["line"].to_pylist():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            broken += 1
            continue
        fields = ("event_id", "event_type", "ts", "session_id")
        missing = any(f not in record for f in fields)
        if missing or record["event_type"] == "video_play" or record["ts"].startswith("2025-02-30"):
            broken += 1
    assert broken == malformed.num_rows


def test_late_events_are_filed_up_to_3_hours_later(data) -> None:  # type: ignore[no-untyped-def]
    events = data.click_events
    ts = [datetime.fromisoformat(t) for t in events["ts"].to_pylist()]
    start = datetime.fromisoformat(f"{DAY}T00:00:00+00:00")
    event_hour = np.array([int((t - start).total_seconds() // 3600) for t in ts])
    lag = events["file_hour"].to_numpy().astype(int) - event_hour
    assert lag.min() >= 0 and lag.max() <= 3
    within(np.mean(lag > 0), 0.01, 0.2)
    assert (event_hour < 0).any(), "some events of D-1 sit under dt=D"


def test_extra_fields_appear_sometimes(data) -> None:  # type: ignore[no-untyped-def]
    extras = data.click_events["extra_field"].is_valid()
    within(pc.mean(extras.cast("int8")).as_py(), 0.02, 0.2)


def test_unknown_products_in_order_lines() -> None:
    placed = orders.placed(day_index(DAY), GeneratorConfig(seed=11, scale=1.0))
    unknown = placed.lines.product_index >= 20_000
    within(unknown.mean(), 0.002, 0.25)


def test_api_emails_odd_and_unknown(data) -> None:  # type: ignore[no-untyped-def]
    emails = data.interactions["email"]
    clean = pc.utf8_lower(pc.utf8_trim_whitespace(emails))
    within(pc.mean(pc.not_equal(emails, clean).cast("int8")).as_py(), 0.05, 0.1)
    known_ids = np.concatenate(
        [np.arange(1, CFG.volumes.base_customers + 1)]
        + [customers.new_customer_ids(d, CFG) for d in range(day_index(DAY) + 1)]
    )
    known = customers.canonical_emails(known_ids, CFG.seed)
    unknown = pc.invert(pc.is_in(clean, value_set=known))
    within(pc.mean(unknown.cast("int8")).as_py(), 0.005, 0.25)


def test_source_emails_odd_case_or_blanks() -> None:
    emails = customers.base_customers(CFG)["email"]
    odd = pc.not_equal(emails, pc.utf8_lower(pc.utf8_trim_whitespace(emails)))
    within(pc.mean(odd.cast("int8")).as_py(), 0.05, 0.1)


def test_dirt_can_be_switched_off() -> None:
    clean = GeneratorConfig(
        seed=11,
        scale=0.05,
        dirt=Dirt(
            malformed_click_rate=0,
            duplicate_click_rate=0,
            late_click_rate=0,
            unknown_product_rate=0,
            api_odd_email_rate=0,
            api_unknown_email_rate=0,
            source_email_odd_rate=0,
        ),
    )
    day = generate_day(DAY, clean)
    assert pc.count_distinct(day.click_lines["line"]).as_py() == day.click_lines.num_rows
    assert pc.sum(day.click_events["malformed"].is_valid()).as_py() == 0
    assert pc.all(pc.equal(day.interactions["email"], pc.utf8_lower(day.interactions["email"])))
    known = product_ids(np.arange(clean.volumes.products), clean)
    assert pc.all(pc.is_in(day.order_items["product_id"], value_set=known)).as_py()


def test_missing_fx_rates_knob() -> None:
    cfg = GeneratorConfig(scale=0.01, dirt=Dirt(missing_fx_rate=1.0))
    rows = fx.fx_rows(3, cfg)
    assert rows["currency"].to_pylist() == ["USD"]
    with pytest.raises(Exception, match=r"within 0\.\.1"):
        Dirt(late_click_rate=1.5)
