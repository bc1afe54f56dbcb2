-- row_count (a template, one check per counted table): rows of
-- analytics.counted_table whose counted_date = D (the run's business date) lie
-- within a factor of 3 of the mean per earlier day, over the processed days
-- (business dates in load_audit) among D-7 .. D-1. counted_table and
-- counted_date are replaced by the check's declared table and date column. It
-- can fail only when at least :min_history_days such days exist (7 for the
-- check, 0 for the warning evaluation); with no earlier day it passes.
with

run_day as (
    select max(business_date) as business_date
    from analytics.load_audit
    where run_id = :run_id
),

history as (
    select distinct audited.business_date
    from analytics.load_audit as audited
    inner join run_day
        on
            audited.business_date >= cast(run_day.business_date - interval '7 days' as date)
            and audited.business_date < run_day.business_date
),

day_rows as (
    select count(*) as day_rows
    from analytics.counted_table as dated
    inner join run_day on dated.counted_date = run_day.business_date
),

-- The range is implied by history; it lets the scan use an index or the sort order.
history_rows as (
    select count(*) as history_rows
    from analytics.counted_table as dated
    inner join history on dated.counted_date = history.business_date
    where
        dated.counted_date
        >= (select cast(run_day.business_date - interval '7 days' as date) from run_day)
        and dated.counted_date < (select run_day.business_date from run_day)
),

history_days as (
    select count(*) as history_days
    from history
),

measured as (
    select
        run_day.business_date,
        day_rows.day_rows,
        history_rows.history_rows,
        history_days.history_days,
        history_days.history_days = 0
        or (
            day_rows.day_rows * history_days.history_days * 3 >= history_rows.history_rows
            and day_rows.day_rows * history_days.history_days <= history_rows.history_rows * 3
        ) as within_band
    from run_day
    cross join day_rows
    cross join history_rows
    cross join history_days
)

select
    business_date is not null
    and (history_days < cast(:min_history_days as integer) or within_band) as passed,
    'counted_table rows of '
    || coalesce(cast(business_date as varchar), 'an unknown day (no load_audit rows)')
    || ': ' || cast(day_rows as varchar) || '; ' || cast(history_rows as varchar)
    || ' over ' || cast(history_days as varchar) || ' earlier day(s) of 7'
    || case when within_band then ', within' else ', outside' end
    || ' a factor of 3 of their mean' as detail
from measured
