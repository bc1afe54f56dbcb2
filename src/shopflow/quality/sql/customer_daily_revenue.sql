-- customer_daily_revenue: for every date the run touched, customer_daily.revenue_usd of
-- each (date, customer) equals the summed line_revenue_usd of that customer's order lines
-- placed that date whose status is neither cancelled nor refunded (a missing row counts
-- as 0). Touched dates: the run's business date D and the order_date of every line whose
-- updated_at falls on D (status updates of older orders). A run without load_audit rows
-- fails.
with

run_day as (
    select max(business_date) as business_date
    from analytics.load_audit
    where run_id = :run_id
),

touched_dates as (
    select business_date as activity_date
    from run_day
    where business_date is not null
    union
    select order_line.order_date as activity_date
    from analytics.fct_order_line as order_line
    inner join run_day
        on
            -- a range, not cast(updated_at as date): an index or sort order on
            -- updated_at then finds D's updates without reading every line
            order_line.updated_at >= run_day.business_date
            and order_line.updated_at < cast(run_day.business_date + interval '1 day' as date)
),

amounts as (
    select
        daily.activity_date,
        daily.customer_id,
        daily.revenue_usd as daily_revenue,
        cast(0 as decimal(18, 2)) as line_revenue
    from analytics.customer_daily as daily
    inner join touched_dates on daily.activity_date = touched_dates.activity_date
    union all
    select
        order_line.order_date as activity_date,
        order_line.customer_id,
        cast(0 as decimal(18, 2)) as daily_revenue,
        order_line.line_revenue_usd as line_revenue
    from analytics.fct_order_line as order_line
    inner join touched_dates on order_line.order_date = touched_dates.activity_date
    where order_line.status not in ('cancelled', 'refunded')
),

compared as (
    select
        activity_date,
        customer_id,
        coalesce(sum(daily_revenue), 0) as daily_revenue,
        coalesce(sum(line_revenue), 0) as line_revenue
    from amounts
    group by activity_date, customer_id
),

mismatches as (
    select
        count(*) as mismatched,
        min(activity_date) as first_date
    from compared
    where daily_revenue <> line_revenue
),

dates as (
    select count(*) as dates_checked
    from touched_dates
)

select
    dates.dates_checked > 0 and mismatches.mismatched = 0 as passed,
    cast(dates.dates_checked as varchar) || ' date(s) checked, '
    || cast(mismatches.mismatched as varchar)
    || ' (date, customer) revenue mismatch(es) against the order lines'
    || coalesce(', first on ' || cast(mismatches.first_date as varchar), '') as detail
from dates
cross join mismatches
