-- Sales order items: a line is quarantined when it lacks a required field or when its
-- order is quarantined or was not staged with it.
with

staged as (
    select * from raw_sales_order_items
),

orders as (
    select
        order_id,
        reject_reason
    from stg_orders
    where not is_duplicate
),

ranked as (
    select
        staged.order_id,
        staged.line_no,
        staged.product_id,
        staged.quantity,
        staged.unit_price,
        orders.order_id is not null as order_staged,
        orders.reject_reason as order_reject_reason,
        row_number() over (
            partition by staged.order_id, staged.line_no
            order by staged.product_id, staged.quantity, staged.unit_price
        ) as key_rank
    from staged
    left join orders on staged.order_id = orders.order_id
),

final as (
    select
        order_id,
        line_no,
        product_id,
        quantity,
        unit_price,
        'sales' as source,
        'order_items/' || coalesce(cast(order_id as varchar), '')
        || '/' || coalesce(cast(line_no as varchar), '') as record_key,
        order_id is not null and line_no is not null and key_rank > 1 as is_duplicate,
        case
            when order_id is null then 'missing_order_id'
            when line_no is null then 'missing_line_no'
            when quantity is null then 'missing_quantity'
            when unit_price is null then 'missing_unit_price'
            when not order_staged then 'order_not_staged'
            when order_reject_reason is not null then 'order_' || order_reject_reason
        end as reject_reason
    from ranked
)

select * from final
