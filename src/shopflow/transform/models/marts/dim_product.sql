-- dim_product delta: the full catalog snapshot of the day. The staging columns without the
-- helper ones; build.py reads exactly the warehouse columns.
with

products as (
    select * from stg_products
    where reject_reason is null and not is_duplicate
),

final as (
    select * exclude (source, record_key, is_duplicate, reject_reason)
    from products
)

select * from final
