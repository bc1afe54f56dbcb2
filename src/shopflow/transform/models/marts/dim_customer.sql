-- dim_customer delta: the day's customers, hashed email only (rule 1). The staging columns
-- without the helper ones; build.py reads exactly the warehouse columns.
with

customers as (
    select * from stg_customers
    where reject_reason is null and not is_duplicate
),

final as (
    select * exclude (source, record_key, is_duplicate, reject_reason)
    from customers
)

select * from final
