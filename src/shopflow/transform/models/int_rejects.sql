-- Records the transform itself quarantines (the first copy of a key only; later copies
-- are duplicates). raw = the staged record as JSON without the helper columns; the email
-- is already replaced by its hash.
with

customers as (
    select
        'sales' as source,
        record_key,
        cast(
            json_merge_patch(
                to_json(stg_customers),
                '{"record_key": null, "is_duplicate": null, "reject_reason": null}'
            ) as varchar
        ) as raw,
        reject_reason as reason
    from stg_customers
    where reject_reason is not null and not is_duplicate
),

orders as (
    select
        'sales' as source,
        record_key,
        cast(
            json_merge_patch(
                to_json(stg_orders),
                '{"record_key": null, "is_duplicate": null, "reject_reason": null}'
            ) as varchar
        ) as raw,
        reject_reason as reason
    from stg_orders
    where reject_reason is not null and not is_duplicate
),

order_items as (
    select
        'sales' as source,
        record_key,
        cast(
            json_merge_patch(
                to_json(stg_order_items),
                '{"record_key": null, "is_duplicate": null, "reject_reason": null}'
            ) as varchar
        ) as raw,
        reject_reason as reason
    from stg_order_items
    where reject_reason is not null and not is_duplicate
),

fx_rates as (
    select
        'sales' as source,
        record_key,
        cast(
            json_merge_patch(
                to_json(stg_fx_rates),
                '{"record_key": null, "is_duplicate": null, "reject_reason": null}'
            ) as varchar
        ) as raw,
        reject_reason as reason
    from stg_fx_rates
    where reject_reason is not null and not is_duplicate
),

interactions as (
    select
        'interactions' as source,
        record_key,
        cast(
            json_merge_patch(
                to_json(stg_interactions),
                '{"record_key": null, "is_duplicate": null, "reject_reason": null}'
            ) as varchar
        ) as raw,
        reject_reason as reason
    from stg_interactions
    where reject_reason is not null and not is_duplicate
),

products as (
    select
        'products' as source,
        record_key,
        cast(
            json_merge_patch(
                to_json(stg_products),
                '{"record_key": null, "is_duplicate": null, "reject_reason": null}'
            ) as varchar
        ) as raw,
        reject_reason as reason
    from stg_products
    where reject_reason is not null and not is_duplicate
),

events as (
    select
        'clickstream' as source,
        record_key,
        cast(
            json_merge_patch(
                to_json(stg_events),
                '{"record_key": null, "is_duplicate": null, "reject_reason": null}'
            ) as varchar
        ) as raw,
        reject_reason as reason
    from stg_events
    where reject_reason is not null and not is_duplicate
),

final as (
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
)

select * from final
