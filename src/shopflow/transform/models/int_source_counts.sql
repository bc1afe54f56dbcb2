-- What the transform drops, per source: later copies of a key (rows_duplicate) and the
-- records it quarantines (rows_quarantined). Added to the extract's counts for rule 9.
with

customers as (
    select
        'sales' as source,
        count(*) filter (where is_duplicate) as duplicates
    from stg_customers
),

orders as (
    select
        'sales' as source,
        count(*) filter (where is_duplicate) as duplicates
    from stg_orders
),

order_items as (
    select
        'sales' as source,
        count(*) filter (where is_duplicate) as duplicates
    from stg_order_items
),

fx_rates as (
    select
        'sales' as source,
        count(*) filter (where is_duplicate) as duplicates
    from stg_fx_rates
),

interactions as (
    select
        'interactions' as source,
        count(*) filter (where is_duplicate) as duplicates
    from stg_interactions
),

products as (
    select
        'products' as source,
        count(*) filter (where is_duplicate) as duplicates
    from stg_products
),

events as (
    select
        'clickstream' as source,
        count(*) filter (where is_duplicate) as duplicates
    from stg_events
),

duplicates as (
    select * from customers
    union all
    select * from orders
    union all
    select * from order_items
    union all
    select * from fx_rates
    union all
    select * from interactions
    union all
    select * from products
    union all
    select * from events
),

quarantined as (
    select
        source,
        count(*) as quarantined
    from int_rejects
    group by source
),

final as (
    select
        duplicates.source,
        sum(duplicates.duplicates) as rows_duplicate,
        coalesce(max(quarantined.quarantined), 0) as rows_quarantined
    from duplicates
    left join quarantined on duplicates.source = quarantined.source
    group by duplicates.source
)

select * from final
