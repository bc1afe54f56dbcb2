"""Business date D of a run: which UTC day a DAG run processes.

Rule (ADR 0003): an explicit ``business_date`` param wins; otherwise D is the
UTC date of ``logical_date - 1 day``. The scheduled run at D+1 01:00 UTC, a
manual trigger (the last complete UTC day before it) and a backfill run (whose
logical date is a cron tick) all follow from that one rule. The data interval
is never used: Airflow 3's cron schedule (CronTriggerTimetable) makes it zero
length, so ``data_interval_start == data_interval_end == logical_date``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shopflow.errors import ShopflowError

PARAM = "business_date"
RUN_HOUR_UTC = 1

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(text: str) -> date:
    """A YYYY-MM-DD string as a date; ShopflowError otherwise."""
    candidate = text.strip() if isinstance(text, str) else ""
    if _ISO_DATE.fullmatch(candidate):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            pass
    raise ShopflowError(f"invalid date {text!r}: expected YYYY-MM-DD, for example 2025-03-01")


def as_date(value: date | str) -> date:
    """A date, or its ISO text (what a task receives through XCom or a template)."""
    return value if isinstance(value, date) else parse_date(value)


def as_utc(moment: datetime) -> datetime:
    """moment in UTC; a naive datetime is taken to be UTC already (Airflow's default)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def business_date(logical_date: datetime | None, params: Mapping[str, Any] | None) -> date:
    """D for a run: ``params["business_date"]`` if given, else the UTC date before logical_date."""
    explicit = (params or {}).get(PARAM)
    if isinstance(explicit, str) and not explicit.strip():
        explicit = None  # the trigger form sends "" for an empty field
    if explicit is not None:
        if isinstance(explicit, datetime):
            raise ShopflowError(f"invalid {PARAM} {explicit!r}: expected a date, not a datetime")
        if isinstance(explicit, date):
            return explicit
        if isinstance(explicit, str):
            return parse_date(explicit)
        raise ShopflowError(f"invalid {PARAM} {explicit!r}: expected a YYYY-MM-DD string")
    if logical_date is None:
        raise ShopflowError(
            f"cannot tell the business date: the run has no logical date and no {PARAM} "
            "param; trigger it with business_date=YYYY-MM-DD"
        )
    return (as_utc(logical_date) - timedelta(days=1)).date()


def business_date_from_context(context: Mapping[str, Any]) -> date:
    """D from an Airflow task context; a run without logical date falls back to run_after."""
    logical_date = context.get("logical_date")
    if logical_date is None:
        dag_run = context.get("dag_run")
        logical_date = getattr(dag_run, "run_after", None)
    return business_date(logical_date, context.get("params"))


def scheduled_logical_date(day: date) -> datetime:
    """The logical date of the scheduled run that processes day: D+1 01:00 UTC."""
    return datetime.combine(day + timedelta(days=1), time(RUN_HOUR_UTC), tzinfo=UTC)
