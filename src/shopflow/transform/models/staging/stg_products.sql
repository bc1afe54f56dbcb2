-- Catalog snapshot: prices to cents (half away from zero), updated_at to naive UTC.
with

staged as (
    select * from raw_products_products
),

typed as (
    select
        product_id,
        sku,
        name,
        category,
        brand,
        price as price_raw,
        try_cast(price as decimal(18, 2)) as price,
        upper(trim(currency)) as currency,
        active,
        updated_at as updated_at_raw,
        cast(try_cast(updated_at as timestamptz) as timestamp) as updated_at
    from staged
),

ranked as (
    select
        *,
        row_number() over (
            partition by product_id order by updated_at desc nulls last, sku asc, price asc
        ) as key_rank
    from typed
),

final as (
    select
        * exclude (price_raw, updated_at_raw, key_rank),
        'products' as source,
        'products/' || coalesce(product_id, '') as record_key,
        product_id is not null and key_rank > 1 as is_duplicate,
        case
            when product_id is null or product_id = '' then 'missing_product_id'
            when active is null then 'missing_active'
            when price_raw is not null and price is null then 'bad_price'
            when updated_at_raw is not null and updated_at is null then 'bad_updated_at'
        end as reject_reason
    from ranked
)

select * from final
