-- orphan_order_lines: of the order lines placed on the run's business date D
-- (order_date = D, D from the run's load_audit rows), those whose product_id has no
-- dim_product row (a null product_id counts as missing) number at most
-- max(:limit_at_least, floor(order lines * :limit_basis_points / 10000)).
-- A day without order lines passes; a run without load_audit rows fails.
with

limits as (
    select
        cast(:limit_basis_points as integer) as basis_points,
        cast(:limit_at_least as integer) as at_least,
        cast(:limit_label as varchar) as share_label
),

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
),

measured as (
    select
        run_day.business_date,
        day_lines.order_lines,
        day_lines.orphans,
        limits.share_label,
        limits.at_least,
        greatest(
            limits.at_least,
            cast(floor(day_lines.order_lines * limits.basis_points / 10000.0) as bigint)
        ) as allowed
    from run_day
    cross join day_lines
    cross join limits
)

select
    business_date is not null and orphans <= allowed as passed,
    'order lines of '
    || coalesce(cast(business_date as varchar), 'an unknown day (no load_audit rows)')
    || ': ' || cast(orphans as varchar) || ' of ' || cast(order_lines as varchar)
    || ' have no dim_product row (allowed ' || cast(allowed as varchar) || ': '
    || share_label || ' or at least ' || cast(at_least as varchar) || ')' as detail
from measured
