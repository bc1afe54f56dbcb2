-- Sales orders: typed and normalised, with a quarantine reason for orders whose lines
-- could not be loaded (a missing required field or an unknown status).
with

staged as (
    select * from raw_sales_orders
),

ranked as (
    select
        order_id,
        customer_id,
        lower(trim(status)) as status,
        upper(trim(currency)) as currency,
        order_ts,
        updated_at,
        row_number() over (
            partition by order_id order by updated_at desc nulls last
        ) as key_rank
    from staged
),

final as (
    select
        order_id,
        customer_id,
        status,
        currency,
        order_ts,
        updated_at,
        'sales' as source,
        'orders/' || coalesce(cast(order_id as varchar), '') as record_key,
        order_id is not null and key_rank > 1 as is_duplicate,
        case
            when order_id is null then 'missing_order_id'
            when customer_id is null then 'missing_customer_id'
            when order_ts is null then 'missing_order_ts'
            when updated_at is null then 'missing_updated_at'
            when currency is null or currency = '' then 'missing_currency'
            when status is null or status = '' then 'missing_status'
            when
                status not in ('placed', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')
                then 'unknown_status'
        end as reject_reason
    from ranked
)

select * from final
