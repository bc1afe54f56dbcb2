-- dim_product delta: the full catalog snapshot of the day.
with

products as (
    select * from stg_products
    where reject_reason is null and not is_duplicate
),

final as (
    select
        product_id,
        sku,
        name,
        category,
        brand,
        price,
        currency,
        active,
        updated_at
    from products
)

select * from final
