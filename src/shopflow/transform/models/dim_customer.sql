-- dim_customer delta: the day's customers, hashed email only (rule 1).
with

customers as (
    select * from stg_customers
    where reject_reason is null and not is_duplicate
),

final as (
    select
        customer_id,
        email_hash,
        country,
        created_at,
        updated_at
    from customers
)

select * from final
