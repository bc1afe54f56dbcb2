-- Order lines with their order's fields and the fx rate of rule 2: the rate of the order
-- date, else the latest earlier one within 7 days (USD without a rate: 1); revenue in
-- exact decimals, rounded to cents half away from zero.
with

orders as (
    select * from stg_orders
    where reject_reason is null and not is_duplicate
),

items as (
    select * from stg_order_items
    where reject_reason is null and not is_duplicate
),

rates as (
    select * from stg_fx_rates
    where reject_reason is null and not is_duplicate
),

lines as (
    select
        items.order_id,
        items.line_no,
        cast(orders.order_ts as date) as order_date,
        orders.order_ts,
        orders.customer_id,
        items.product_id,
        orders.status,
        items.quantity,
        items.unit_price,
        orders.currency,
        orders.updated_at
    from items
    inner join orders on items.order_id = orders.order_id
),

needed as (
    select distinct
        order_date,
        currency
    from lines
),

candidates as (
    select
        needed.order_date,
        needed.currency,
        rates.usd_per_unit,
        row_number() over (
            partition by needed.order_date, needed.currency
            order by rates.rate_date desc
        ) as recency
    from needed
    inner join rates
        on
            needed.currency = rates.currency
            and needed.order_date >= rates.rate_date
            and needed.order_date - 7 <= rates.rate_date
),

chosen as (
    select
        needed.order_date,
        needed.currency,
        coalesce(
            candidates.usd_per_unit,
            case when needed.currency = 'USD' then cast(1 as decimal(18, 8)) end
        ) as fx_rate
    from needed
    left join candidates
        on
            needed.order_date = candidates.order_date
            and needed.currency = candidates.currency
            and candidates.recency = 1
),

final as (
    select
        lines.order_id,
        lines.line_no,
        lines.order_date,
        lines.order_ts,
        lines.customer_id,
        lines.product_id,
        lines.status,
        lines.quantity,
        lines.unit_price,
        lines.currency,
        chosen.fx_rate,
        cast(
            round(cast(lines.quantity as decimal(38, 0)) * lines.unit_price * chosen.fx_rate, 2)
            as decimal(18, 2)
        ) as line_revenue_usd,
        lines.updated_at
    from lines
    inner join chosen
        on
            lines.order_date = chosen.order_date
            and lines.currency = chosen.currency
)

select * from final
