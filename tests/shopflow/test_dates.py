"""Business date D of a run (ADR 0003)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from shopflow.dates import (
    business_date,
    business_date_from_context,
    parse_date,
    scheduled_logical_date,
)
from shopflow.errors import ShopflowError

pytestmark = pytest.mark.unit

CET = timezone(timedelta(hours=1))


def test_scheduled_run_processes_the_day_before() -> None:
    # CronTriggerTimetable: the run at D+1 01:00 has a zero-length data interval there.
    tick = datetime(2025, 3, 2, 1, 0, tzinfo=UTC)
    assert business_date(tick, None) == date(2025, 3, 1)
    assert business_date(tick, {"business_date": None, "full_refresh": False}) == date(2025, 3, 1)


def test_explicit_business_date_wins_over_logical_date() -> None:
    tick = datetime(2025, 3, 2, 1, 0, tzinfo=UTC)
    assert business_date(tick, {"business_date": "2025-01-15"}) == date(2025, 1, 15)
    assert business_date(None, {"business_date": " 2025-01-15 "}) == date(2025, 1, 15)
    assert business_date(tick, {"business_date": date(2024, 12, 31)}) == date(2024, 12, 31)


def test_manual_trigger_without_date_processes_last_complete_utc_day() -> None:
    assert business_date(datetime(2025, 3, 2, 15, 42, tzinfo=UTC), {}) == date(2025, 3, 1)
    assert business_date(datetime(2025, 3, 2, 0, 0, tzinfo=UTC), {}) == date(2025, 3, 1)
    assert business_date(datetime(2025, 3, 2, 23, 59, 59, tzinfo=UTC), {}) == date(2025, 3, 1)


def test_empty_business_date_from_trigger_form_counts_as_absent() -> None:
    tick = datetime(2025, 3, 2, 1, 0, tzinfo=UTC)
    assert business_date(tick, {"business_date": ""}) == date(2025, 3, 1)
    assert business_date(tick, {"business_date": "   "}) == date(2025, 3, 1)


def test_backfill_ticks_each_process_the_day_before() -> None:
    ticks = [datetime(2025, 2, 27, 1, tzinfo=UTC) + timedelta(days=n) for n in range(4)]
    # 2025 is not a leap year: the tick on 1 March processes 28 February.
    assert [business_date(t, {}) for t in ticks] == [
        date(2025, 2, 26),
        date(2025, 2, 27),
        date(2025, 2, 28),
        date(2025, 3, 1),
    ]


def test_naive_logical_date_is_taken_as_utc() -> None:
    assert business_date(datetime(2025, 3, 2, 1, 0), None) == date(2025, 3, 1)
    assert business_date(datetime(2025, 3, 2, 0, 30), None) == date(2025, 3, 1)


def test_aware_non_utc_logical_date_is_converted_to_utc_first() -> None:
    # 00:30 in UTC+1 on 2 March is 23:30 UTC on 1 March: the day before is 28 February.
    assert business_date(datetime(2025, 3, 2, 0, 30, tzinfo=CET), None) == date(2025, 2, 28)
    assert business_date(datetime(2025, 3, 2, 2, 0, tzinfo=CET), None) == date(2025, 3, 1)


def test_scheduled_logical_date_is_the_inverse() -> None:
    for day in (date(2024, 12, 31), date(2025, 2, 28), date(2025, 12, 31)):
        tick = scheduled_logical_date(day)
        assert tick.tzinfo is UTC
        assert (tick.hour, tick.minute) == (1, 0)
        assert tick.date() == day + timedelta(days=1)
        assert business_date(tick, None) == day


@pytest.mark.parametrize(
    "text", ["2025-3-1", "01/03/2025", "2025-02-30", "2025-13-01", "20250301", "", "yesterday"]
)
def test_parse_date_rejects_bad_input_with_one_line(text: str) -> None:
    with pytest.raises(ShopflowError) as err:
        parse_date(text)
    message = str(err.value)
    assert "YYYY-MM-DD" in message
    assert repr(text) in message
    assert "\n" not in message


def test_parse_date_accepts_iso_date() -> None:
    assert parse_date("2025-02-28") == date(2025, 2, 28)
    assert parse_date("2024-02-29") == date(2024, 2, 29)


@pytest.mark.parametrize("bad", ["2025-02-30", "tomorrow", 20250301])
def test_bad_business_date_param_is_a_shopflow_error(bad: object) -> None:
    tick = datetime(2025, 3, 2, 1, 0, tzinfo=UTC)
    with pytest.raises(ShopflowError, match=r"business_date|YYYY-MM-DD"):
        business_date(tick, {"business_date": bad})


def test_datetime_as_business_date_param_is_rejected() -> None:
    with pytest.raises(ShopflowError, match="not a datetime"):
        business_date(None, {"business_date": datetime(2025, 3, 1, tzinfo=UTC)})


def test_no_logical_date_and_no_param_is_a_clear_error() -> None:
    with pytest.raises(ShopflowError, match="business_date=YYYY-MM-DD"):
        business_date(None, None)


def test_from_context_uses_logical_date_then_run_after() -> None:
    context = {
        "logical_date": datetime(2025, 3, 2, 1, tzinfo=UTC),
        "params": {"business_date": None},
        "dag_run": SimpleNamespace(run_after=datetime(2025, 5, 5, 1, tzinfo=UTC)),
    }
    assert business_date_from_context(context) == date(2025, 3, 1)
    # Airflow 3 allows manual runs without a logical date: fall back to run_after.
    context["logical_date"] = None
    assert business_date_from_context(context) == date(2025, 5, 4)
    context["params"] = {"business_date": "2025-01-02"}
    assert business_date_from_context(context) == date(2025, 1, 2)
