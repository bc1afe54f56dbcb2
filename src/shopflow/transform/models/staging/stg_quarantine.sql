-- Records the extracts already quarantined, by source; anything shaped like an email
-- address in their raw text is masked (rule 1, defence in depth).
with

sales as (
    select
        'sales' as source,
        record_key,
        raw,
        reason
    from raw_sales_quarantine
),

interactions as (
    select
        'interactions' as source,
        record_key,
        raw,
        reason
    from raw_interactions_quarantine
),

products as (
    select
        'products' as source,
        record_key,
        raw,
        reason
    from raw_products_quarantine
),

clickstream as (
    select
        'clickstream' as source,
        record_key,
        raw,
        reason
    from raw_clickstream_quarantine
),

unioned as (
    select * from sales
    union all
    select * from interactions
    union all
    select * from products
    union all
    select * from clickstream
),

final as (
    select
        source,
        coalesce(record_key, '') as record_key,
        regexp_replace(
            raw, '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+', '<email>', 'g'
        ) as raw,
        coalesce(reason, 'unknown') as reason
    from unioned
)

select * from final
