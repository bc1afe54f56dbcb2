-- orphan_order_lines: of the order lines placed on the run's business date D
-- (order_date = D, D from the run's load_audit rows), at most 0.5 per cent have a
-- product_id without a dim_product row (a null product_id counts as missing).
-- A day without order lines passes; a run without load_audit rows fails.
with

run_day as (
    select max(business_date) as business_date
    from analytics.load_audit
    where run_id = :run_id
),

day_lines as (
    select
        count(*) as order_lines,
        coalesce(sum(case when product.product_id is null then 1 else 0 end), 0) as orphans
    from analytics.fct_order_line as order_line
    inner join run_day on order_line.order_date = run_day.business_date
    left join analytics.dim_product as product
        on order_line.product_id = product.product_id
)

select
    run_day.business_date is not null
    and day_lines.orphans * 1000 <= day_lines.order_lines * 5 as passed,
    'order lines of '
    || coalesce(cast(run_day.business_date as varchar), 'an unknown day (no load_audit rows)')
    || ': ' || cast(day_lines.orphans as varchar) || ' of '
    || cast(day_lines.order_lines as varchar)
    || ' have no dim_product row (limit 0.5 per cent)' as detail
from run_day
cross join day_lines
