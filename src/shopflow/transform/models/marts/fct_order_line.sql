-- fct_order_line delta: the lines of every order updated on the day (rule 2).
with

lines as (
    select * from int_order_lines
),

final as (
    select
        order_id,
        line_no,
        order_date,
        order_ts,
        customer_id,
        product_id,
        status,
        quantity,
        unit_price,
        currency,
        fx_rate,
        line_revenue_usd,
        updated_at
    from lines
)

select * from final
